#!/bin/bash
# Guest script: btcpctl over the generic netlink family "btcp" (issue 5,
# items 5-6). The 4-node cluster (fe=1 be1=2 be2=3 be3=4, the key of
# qemu/cluster.sh) is configured with btcpctl alone, in each namespace;
# requests through the VIP reach the back-ends the rules name; save and
# restore round-trip byte for byte; bad input is refused with its reason
# and leaves the configuration alone; stats and flows (a multi-part dump)
# match /proc; the family is per namespace; concurrent edits lose nothing;
# unloading with commands in flight is clean, after which btcpctl says the
# module is not loaded.
#
# btcpctl runs from the host's build: cargo build --release -p btcpctl
# (target/release/btcpctl, or $BTCPCTL).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
lab=$root/qemu
# shellcheck source=SCRIPTDIR/../../qemu/topology.sh
source "$lab/topology.sh"
# shellcheck source=SCRIPTDIR/../../qemu/cluster.sh
source "$lab/cluster.sh"
# shellcheck source=SCRIPTDIR/checks.sh
source "$here/checks.sh"

bin=${BTCPCTL:-$root/target/release/btcpctl}
if [ ! -x "$bin" ]; then
  bad btcpctl-built "no $bin (cargo build --release -p btcpctl)"; summary btcpctl; exit 1
fi
servers=(be1 be2 "be3 --busybox")
tmp=$(mktemp -d)
# shellcheck disable=SC2086 # "NS [--busybox]"
cleanup() {
  local s
  [ -z "${hammer:-}" ] || kill "$hammer" 2>/dev/null
  for s in "${servers[@]}"; do "$lab/nginx.sh" stop $s; done
  ip netns del scratch 2>/dev/null
  topology_down
  rm -rf "$tmp"
}
trap cleanup EXIT

ctl() { local ns=$1; shift; ip netns exec "$ns" "$bin" "$@"; }
first() { echo "${1%%$'\n'*}"; }
vip=$LAB_VIP

topology_up || { bad topology "topology_up failed"; summary btcpctl; exit 1; }
ip netns add scratch
content=$("$lab/content.sh" fe "${LAB_BES[@]}") || { bad content "content.sh failed"; summary btcpctl; exit 1; }
# shellcheck disable=SC2086 # "NS [--busybox]"
for s in "${servers[@]}"; do "$lab/nginx.sh" start $s || bad "server-$s" "did not start"; done
declare -A want=()
while read -r sum path; do want[$path]=$sum; done <"$content/manifest.sha256"

# --- an unconfigured namespace: the empty configuration
empty=$'ctrl-port 7447\nrules default=0'
if [ "$(ctl scratch save)" = "$empty" ]; then ok empty-config
else bad empty-config "$(ctl scratch save 2>&1 | tr '\n' '|')"; fi

# --- the cluster, configured with btcpctl only
rules_fe="/small/=3,host:be3.example/whoami.txt=4,default=2"
for n in fe "${LAB_BES[@]}"; do
  errs=$(
    {
      ctl "$n" node add --local "${LAB_NODE_ID[$n]}" "$(ns_ip "$n")"
      for p in fe "${LAB_BES[@]}"; do
        [ "$p" = "$n" ] || ctl "$n" node add "${LAB_NODE_ID[$p]}" "$(ns_ip "$p")"
      done
      echo "$LAB_KEY" | ctl "$n" set key -
      ctl "$n" set handoff-ms 1000
      if [ "$n" = fe ]; then
        ctl "$n" service add "$vip:80"
        ctl "$n" rule add /small/ 3
        ctl "$n" rule add --host be3.example /whoami.txt 4
        ctl "$n" rule default 2
      fi
    } 2>&1
  )
  if [ -z "$errs" ]; then ok "configure-$n"; else bad "configure-$n" "$(tr '\n' '|' <<<"$errs")"; fi
done
# What cluster_config writes through /proc, in canonical form.
expect="node 1 $(ns_ip fe)
ctrl-port 7447
peer 2 $(ns_ip be1)
peer 3 $(ns_ip be2)
peer 4 $(ns_ip be3)
service $vip:80
rules $rules_fe
handoff-ms 1000
key $LAB_KEY"
got=$(ctl fe save)
if [ "$got" = "$expect" ] && [ "$(in_ns fe cat /proc/net/btcp/config)" = "$got" ]; then ok "fe-config-as-expected (= /proc)"
else bad fe-config-as-expected "save: $(tr '\n' '|' <<<"$got") proc: $(in_ns fe cat /proc/net/btcp/config | tr '\n' '|')"; fi
shown=$(ctl fe show)
if [[ "$shown" != *"$LAB_KEY"* ]] && [[ "$shown" == *"key (hidden"* ]]; then ok show-hides-key
else bad show-hides-key "$(tr '\n' '|' <<<"$shown")"; fi
# Every timeout in force, the ones left out at their defaults.
if [[ "$shown" == *"# timeouts in force: handshake-ms 30000 request-ms 10000 handoff-ms 1000 idle-ms 600000 linger-ms 60000"* ]]; then ok show-timeouts
else bad show-timeouts "$(tr '\n' '|' <<<"$shown")"; fi
err=$(ctl fe set idle-ms 0 2>&1) && bad timeout-out-of-range "accepted idle-ms 0" ||
  { [[ "$err" == *"timeout out of range"* ]] && ok "timeout-out-of-range ($err)" || bad timeout-out-of-range "$err"; }
lists="$(ctl fe service list)|$(ctl fe node list | tr '\n' ' ')|$(ctl fe rule list | tr '\n' ' ')"
if [ "$lists" = "$vip:80|1 10.99.0.1 local 2 10.99.0.11 3 10.99.0.12 4 10.99.0.13 |/small/ 3 host:be3.example/whoami.txt 4 default 2 " ]; then
  ok "lists ($lists)"
else bad lists "$lists"; fi

if cluster_wait_up; then ok ctrl-channel-up
else bad ctrl-channel-up "$(in_ns fe grep ctrl_ /proc/net/btcp/counters | tr '\n' '|')"; fi

# --- requests through the VIP go where the rules say
fetch() { # NAME WANT-SHA CURL-ARGS...
  local name=$1 sum=$2 got; shift 2
  got=$(in_ns client curl -sS --noproxy '*' --fail --max-time 60 "$@" 2>"$tmp/err" | sha256sum | cut -d' ' -f1)
  if [ "$got" = "$sum" ]; then ok "$name"; else bad "$name" "sha256 $got want $sum: $(cat "$tmp/err")"; fi
}
sha() { echo "$1" | sha256sum | cut -d' ' -f1; }
fetch default-to-be1 "$(sha be1)" "http://$vip/whoami.txt"
fetch small-to-be2 "${want[/small/1k.bin]}" "http://$vip/small/1k.bin"
if grep -q "GET /small/1k.bin" "$("$lab/nginx.sh" log be2)" && ! grep -q "GET /small/1k.bin" "$("$lab/nginx.sh" log be1)"; then
  ok served-by-be2
else bad served-by-be2 "/small/1k.bin not (only) in be2's log"; fi
fetch host-rule-to-be3 "$(sha be3)" -H "Host: be3.example" "http://$vip/whoami.txt"

# --- save | restore, here and into another namespace, byte for byte
ctl fe save >"$tmp/a"
if ctl fe save | ctl fe restore && ctl fe save >"$tmp/b" && cmp -s "$tmp/a" "$tmp/b"; then ok "save-restore-round-trip ($(wc -c <"$tmp/a") bytes)"
else bad save-restore-round-trip "$(diff "$tmp/a" "$tmp/b" | tr '\n' '|')"; fi
if ctl scratch restore "$tmp/a" && ctl scratch save >"$tmp/c" && cmp -s "$tmp/a" "$tmp/c"; then ok save-restore-other-netns
else bad save-restore-other-netns "$(diff "$tmp/a" "$tmp/c" | tr '\n' '|')"; fi
# scratch has no address for fe's node line: back to nothing at once.
ctl scratch restore - <<<"$empty"

# --- bad input: refused with its reason, exit status 1 (2 for a bad
# command line), the configuration unchanged
expect_fail() { # NAME NS RC MESSAGE ARGS...
  local name=$1 ns=$2 rc_want=$3 msg=$4 before out rc; shift 4
  before=$(ctl "$ns" save)
  out=$(ctl "$ns" "$@" 2>&1 </dev/null); rc=$?
  if [ "$rc" = "$rc_want" ] && [[ "$out" == *"$msg"* ]] && [ "$(ctl "$ns" save)" = "$before" ]; then
    ok "$name (rc $rc: $(first "$out"))"
  else bad "$name" "rc $rc want $rc_want, output: $(tr '\n' '|' <<<"$out"), config changed: $([ "$(ctl "$ns" save)" = "$before" ] && echo no || echo yes)"; fi
}
expect_fail unknown-node fe 1 "unknown node 9" rule add /img/ 9
expect_fail unknown-default fe 1 "unknown node 9" rule default 9
expect_fail malformed-address fe 1 'malformed address "10.99.0.300"' node add 5 10.99.0.300
expect_fail malformed-service fe 1 "malformed address in" service add 10.99.0:80
expect_fail bad-port fe 1 "port 1-65535" service add 10.99.0.100:0
expect_fail duplicate-service fe 1 "duplicate service $vip:80" service add "$vip:80"
expect_fail duplicate-node fe 1 "duplicate node 2" node add 2 10.99.0.50
expect_fail duplicate-address fe 1 "duplicate address 10.99.0.12: node 3" node add 7 10.99.0.12
expect_fail duplicate-rule fe 1 "duplicate rule /small/" rule add /small/ 4
expect_fail node-in-use fe 1 "node 3 is in use by rule(s) /small/=3" node del 3
expect_fail no-such-rule fe 1 "no rule /nope/" rule del /nope/
expect_fail bad-key fe 1 "bad key" set key /dev/null
expect_fail usage-missing-arg fe 2 "Usage:" node add 5
expect_fail usage-unknown-command fe 2 "unrecognized subcommand" frobnicate
printf 'node 1 10.99.0.1\npeer 2 10.99.0.300\n' >"$tmp/bad.cfg"
expect_fail restore-bad-line fe 1 "$tmp/bad.cfg: line 2: bad IPv4 address" restore "$tmp/bad.cfg"
# The same text judged by the kernel alone: the reason comes back in the
# netlink extended ack.
expect_fail restore-kernel-extack fe 1 "the kernel refused $tmp/bad.cfg: line 2: bad IPv4 address (Invalid argument)" \
  restore --no-local-check "$tmp/bad.cfg"
head -c 5000 /dev/zero | tr '\0' '#' >"$tmp/big.cfg"
expect_fail restore-too-big fe 1 "the most is 4096" restore "$tmp/big.cfg"
# /proc writes still log their reason.
if ! in_ns scratch sh -c "cat $tmp/bad.cfg > /proc/net/btcp/config" 2>/dev/null &&
   grep -q 'btcp: config: line 2: bad IPv4 address' <<<"$(dmesg)"; then ok proc-write-still-logs
else bad proc-write-still-logs "$(dmesg | tail -2 | tr '\n' '|')"; fi

# --- not root: the configuration (it holds the key) and the flow table
# (every client's address) need CAP_NET_ADMIN; counters are as public as
# their /proc file
cp "$bin" /tmp/btcpctl-nobody && chmod 755 /tmp/btcpctl-nobody
nobody() { ip netns exec fe setpriv --reuid=65534 --regid=65534 --clear-groups /tmp/btcpctl-nobody "$@"; }
out=$(nobody save 2>&1); rc=$?
if [ "$rc" = 1 ] && [[ "$out" == *"permission denied: this needs CAP_NET_ADMIN"* ]]; then ok "not-root-refused ($(first "$out"))"
else bad not-root-refused "rc $rc: $out"; fi
out=$(nobody service add 10.99.0.201:80 2>&1); rc=$?
if [ "$rc" = 1 ] && [[ "$out" == *"CAP_NET_ADMIN"* ]] && [ "$(ctl fe save)" = "$expect" ]; then ok not-root-cannot-edit
else bad not-root-cannot-edit "rc $rc: $out"; fi
if grep -q '^handoffs_remote ' <<<"$(nobody stats)"; then ok not-root-stats; else bad not-root-stats "no counters"; fi
out=$(nobody flows 2>&1); rc=$?
if [ "$rc" = 1 ] && [[ "$out" == *"CAP_NET_ADMIN"* ]] &&
   ! ip netns exec fe setpriv --reuid=65534 --regid=65534 --clear-groups cat /proc/net/btcp/flows >/dev/null 2>&1; then
  ok "not-root-no-flows ($(first "$out"))"
else bad not-root-no-flows "rc $rc: $(first "$out")"; fi

# --- stats: /proc/net/btcp/counters' text
# shellcheck disable=SC2016 # awk's $1
if [ "$(ctl fe stats | awk '{ print $1 }')" = "$(in_ns fe awk '{ print $1 }' /proc/net/btcp/counters)" ] &&
   [ "$(ctl fe stats | awk '$1 == "handoffs_remote" { print $2 }')" -ge 2 ]; then
  ok "stats ($(ctl fe stats | wc -l) lines, handoffs_remote $(ctl fe stats | awk '$1 == "handoffs_remote" { print $2 }'))"
else bad stats "$(ctl fe stats 2>&1 | head -5 | tr '\n' '|')"; fi

# --- flows: a dump, in chunks of whole lines. 800 keep-alive connections
# are held open (live flows, whatever the linger) while the table is
# dumped: more than one message's worth (a dump message is at most 32 KiB).
sha_1k=$(awk '$2 == "/small/1k.bin" { print $1 }' "$("$lab/content.sh" fe)/manifest.sha256")
in_ns client python3 "$here/keepalive_hold.py" --host "$vip" --path /small/1k.bin --sha "$sha_1k" \
  --count 800 --sources "$(ns_ip client)" --release "$tmp/release" --parallel 16 \
  --limit-secs 600 >"$tmp/hold" 2>&1 &
hold=$!
for _ in $(seq 1200); do grep -q '^ready' "$tmp/hold" && break; kill -0 $hold 2>/dev/null || break; sleep 0.5; done
ctl fe flows >"$tmp/flows"
in_ns fe cat /proc/net/btcp/flows >"$tmp/proc-flows"
touch "$tmp/release"; wait $hold
fe_n=$(awk '$1 == "fe_flows" { print $2 }' "$tmp/flows")
be_n=$(awk '$1 == "be_flows" { print $2 }' "$tmp/flows")
lines=$(wc -l <"$tmp/flows")
odd=$(tail -n +3 "$tmp/flows" | grep -cvE '^(fe|be) [0-9.]+:[0-9]+ -> [0-9.]+:[0-9]+ ')
proc_lines=$(wc -l <"$tmp/proc-flows")
if [ "${fe_n:-0}" -ge 700 ] && [ "$lines" = $((2 + fe_n + be_n)) ] && [ "$odd" = 0 ] &&
   [ "$(wc -c <"$tmp/flows")" -gt 32768 ] && [ $((proc_lines - lines)) -le 20 ] && [ $((lines - proc_lines)) -le 20 ]; then
  ok "flows-dump ($lines lines, $(wc -c <"$tmp/flows") bytes; /proc $proc_lines lines)"
else bad flows-dump "fe_flows ${fe_n:-?} be_flows ${be_n:-?} lines $lines odd $odd bytes $(wc -c <"$tmp/flows") proc $proc_lines; held: $(tr '\n' ' ' <"$tmp/hold")"; fi
out=$(ctl be1 flows | head -2 | tr '\n' ' ')
if [[ "$out" == "fe_flows 0 live 0 "*" be_flows "* ]]; then ok "flows-small ($out)"; else bad flows-small "$out"; fi
# A restored text without a timeout means its default again.
ctl fe set idle-ms 300000
saved=$(ctl fe save)
grep -v '^idle-ms ' <<<"$saved" | ctl fe restore -
if [[ "$saved" == *"idle-ms 300000"* ]] && [[ "$(ctl fe show)" == *" idle-ms 600000 "* ]]; then ok restore-means-default
else bad restore-means-default "$(ctl fe show | tail -1)"; fi

# --- per namespace: a change in one is not seen in another
ctl scratch restore - <<<"$empty"
ctl scratch service add 10.99.0.200:80
if [ "$(ctl scratch service list)" = "10.99.0.200:80" ] && [ "$(ctl fe service list)" = "$vip:80" ] &&
   [ "$(ctl client save)" = "$empty" ] && [ "$(in_ns scratch grep service /proc/net/btcp/config)" = "service 10.99.0.200:80" ]; then
  ok per-namespace
else bad per-namespace "scratch: $(ctl scratch service list | tr '\n' ' ') fe: $(ctl fe service list | tr '\n' ' ') client: $(ctl client save | tr '\n' '|')"; fi

# --- concurrent edits: each applies only to the configuration it read,
# else it is redone, so none is lost
ctl scratch restore - <<<"$empty"
(for i in 1 2 3 4 5 6 7 8; do ctl scratch service add "10.99.1.$i:80" || echo "service $i failed"; done) >"$tmp/c1" 2>&1 &
c1=$!
(for i in 1 2 3 4 5 6 7 8; do ctl scratch node add $((10 + i)) "10.99.2.$i" || echo "node $i failed"; done) >"$tmp/c2" 2>&1 &
c2=$!
wait "$c1" "$c2"
ns_=$(ctl scratch service list | wc -l); nn=$(ctl scratch node list | wc -l)
if [ "$ns_" = 8 ] && [ "$nn" = 8 ] && [ ! -s "$tmp/c1" ] && [ ! -s "$tmp/c2" ]; then ok "concurrent-edits (8 services, 8 nodes)"
else bad concurrent-edits "$ns_ services, $nn nodes: $(cat "$tmp/c1" "$tmp/c2" | tr '\n' '|')"; fi

# --- unload while commands run, then: not loaded; load again: empty
(while :; do ctl fe stats; ctl fe flows; ctl scratch save; done >/dev/null 2>&1) &
hammer=$!
sleep 2
unloaded=0
for _ in $(seq "$(by_load 30 150)"); do rmmod btcp 2>/dev/null && { unloaded=1; break; }; sleep 0.2; done
kill "$hammer" 2>/dev/null; wait "$hammer" 2>/dev/null; hammer=""
if [ "$unloaded" = 1 ]; then ok unload-with-commands-running; else bad unload-with-commands-running "rmmod kept failing"; fi
out=$(ctl fe show 2>&1); rc=$?
if [ "$rc" = 1 ] && [[ "$out" == *"btcp module is not loaded"* ]]; then ok "not-loaded ($out)"
else bad not-loaded "rc $rc: $out"; fi
ko=$(lab_module btcp.ko)
if [ -n "$ko" ] && insmod "$ko"; then
  if [ "$(ctl fe save)" = "$empty" ]; then ok reloaded-empty; else bad reloaded-empty "$(ctl fe save 2>&1 | tr '\n' '|')"; fi
else bad reload "insmod '$ko' failed"; fi
summary btcpctl
