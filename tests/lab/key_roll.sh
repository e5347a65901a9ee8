#!/bin/bash
# Guest script: rolling the cluster key under load (`key-next`,
# rust/btcp-core/src/keyroll.rs). Every node gets key-next K2, a few
# tenths of a second apart, while wrk sends Connection: close requests through the VIP,
# each one a remote handoff to be1: no request fails, no control frame is
# refused and no link is redialled. Then a node that goes back to K1 alone
# is refused by the others (the old key no longer opens anything), and
# `key K2` brings it back. key-overlap is 10 s here (60 s by default):
# this test is about that setting.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lab=$(cd "$here/../../qemu" && pwd)
# shellcheck source=SCRIPTDIR/../../qemu/topology.sh
source "$lab/topology.sh"
# shellcheck source=SCRIPTDIR/../../qemu/cluster.sh
source "$lab/cluster.sh"
# shellcheck source=SCRIPTDIR/checks.sh
source "$here/checks.sh"
tmp=$(mktemp -d)
cleanup() { "$lab/nginx.sh" stop be1; topology_down; }
trap cleanup EXIT

up_with_be1 key_roll
vip=$LAB_VIP
nodes=(fe "${LAB_BES[@]}")
k2=$(printf '%064x' 0x5eed)
ctl() { local n=$1; shift; in_ns "$n" "$LAB_BTCPCTL" "$@"; }
sum() { local k=$1 n t=0; for n in "${nodes[@]}"; do t=$((t + $(counter "$n" "$k"))); done; echo "$t"; }
roll_states() { local n; for n in "${nodes[@]}"; do counter "$n" ctrl_key_roll; done | sort | uniq -c | tr -s ' \n' ' '; }
fetch() { # NAME: /small/64k.bin through the VIP, byte-exact
  local got
  got=$(in_ns client curl -sS --noproxy '*' --fail --max-time 20 "http://$vip/small/64k.bin" 2>"$tmp/err" | sha256sum | cut -d' ' -f1)
  if [ "$got" = "${want[/small/64k.bin]}" ]; then ok "$1"; else bad "$1" "sha256 $got: $(cat "$tmp/err")"; fi
}

if cluster_config "default=2" "key-overlap 10" && cluster_wait_up; then ok cluster-up
else bad cluster-up "$(in_ns fe grep ctrl_ /proc/net/btcp/counters | tr '\n' '|')"; summary key_roll; exit 1; fi
fetch before-the-roll
dials0=$(sum ctrl_dials) rej0=$(sum ctrl_frames_rejected) h0=$(counter fe handoffs_remote)
[ "$(roll_states)" = " 4 none " ] && ok "no-roll-yet" || bad no-roll-yet "$(roll_states)"

# wrk for 30 s; the roll starts 3 s in, reaches the last node about a
# second later and ends 20 s after that.
in_ns client timeout 60 wrk -t1 -c10 -d30s --timeout 10s -H "Connection: close" \
  "http://$vip/small/1k.bin" >"$tmp/wrk" 2>&1 &
load=$!
sleep 3
# The operator's part: every node within one overlap (btcpctl is slow on
# the debug kernel, so the nodes are set side by side).
t0=$(now_ms)
declare -A setter=()
for n in "${nodes[@]}"; do
  echo "$k2" | ctl "$n" set key-next - 2>"$tmp/set-$n" &
  setter[$n]=$!
  sleep 0.3
done
for n in "${nodes[@]}"; do wait "${setter[$n]}" || bad "set-key-next-$n" "$(cat "$tmp/set-$n")"; done
took=$(($(now_ms) - t0))
[ "$took" -lt 10000 ] || bad set-within-the-overlap "setting key-next on ${#nodes[@]} nodes took $took ms"
states=$(roll_states)
case "$states" in *opening-next*) ok "rolling ($states)" ;; *) bad rolling "$states" ;; esac
for _ in $(seq 60); do [ "$(roll_states)" = " 4 done " ] && break; sleep 0.5; done
[ "$(roll_states)" = " 4 done " ] && ok "roll-done-everywhere" || bad roll-done-everywhere "$(roll_states)"
wait "$load"
reqs=$(awk '/requests in/ { print $1 }' "$tmp/wrk")
errs=$(grep -E 'Socket errors|Non-2xx' "$tmp/wrk" | tr '\n' ' ')
if [ "${reqs:-0}" -gt 0 ] && [ -z "$errs" ]; then ok "wrk-through-the-roll ($reqs requests, $(awk '/Requests\/sec/ { print $2 }' "$tmp/wrk") req/s, no errors)"
else bad wrk-through-the-roll "$(tr '\n' ' ' <"$tmp/wrk")"; fi
h=$(($(counter fe handoffs_remote) - h0)) acks=$(counter fe handoff_acks)
[ "$h" -ge "${reqs:-0}" ] && ok "every-request-handed-off ($h handoffs, $acks acks)" || bad every-request-handed-off "$h handoffs for $reqs requests"
dials=$(($(sum ctrl_dials) - dials0)) rej=$(($(sum ctrl_frames_rejected) - rej0))
if [ "$dials" = 0 ] && [ "$rej" = 0 ]; then ok "no-frame-refused-no-redial"
else bad no-frame-refused-no-redial "$dials dials, $rej frames refused"; fi
fetch after-the-roll

# Making K2 the configured key changes nothing on a node that finished.
for n in "${nodes[@]}"; do
  echo "$k2" | ctl "$n" set key - && ctl "$n" set key-next none || bad "set-key-$n" "btcpctl failed"
done
sleep 2
[ "$(roll_states)" = " 4 none " ] && ok "key-k2-configured" || bad key-k2-configured "$(roll_states)"
dials=$(($(sum ctrl_dials) - dials0)) rej=$(($(sum ctrl_frames_rejected) - rej0))
[ "$dials" = 0 ] && [ "$rej" = 0 ] && ok "still-no-redial" || bad still-no-redial "$dials dials, $rej frames refused"

# The old key no longer opens anything: fe back on K1 is refused by every
# peer, and its links go down; K2 again brings them back.
echo "$LAB_KEY" | ctl fe set key -
for _ in $(seq 40); do [ $(($(sum ctrl_frames_rejected) - rej0)) -gt 0 ] && break; sleep 0.25; done
rej=$(($(sum ctrl_frames_rejected) - rej0))
[ "$rej" -gt 0 ] && ok "old-key-refused ($rej frames)" || bad old-key-refused "no frame refused"
echo "$k2" | ctl fe set key -
if cluster_wait_up || { sleep 10; cluster_wait_up; }; then ok "back-on-k2"; else bad back-on-k2 "$(in_ns fe grep ctrl_peer /proc/net/btcp/counters | tr '\n' '|')"; fi
fetch after-the-old-key

# A key-next that is not a key is refused with a message.
if out=$(echo nothex | ctl fe set key-next - 2>&1); then bad bad-key-next "accepted"
else ok "bad-key-next-refused ($out)"; fi
summary key_roll
