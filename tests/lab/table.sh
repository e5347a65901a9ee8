#!/bin/bash
# Guest script: a full flow table (issue 10). btcp.ko is loaded with
# max_flows=48 (a test about that setting; everything else at its
# defaults, the 60 s linger included), then:
#   - the parameter is listed by modinfo and shown in /sys and the flows file;
#   - 48 slow downloads through the VIP fill the front-end's table with live
#     flows; a new client is refused (its SYNs dropped, syn_table_full
#     counted) while they run;
#   - every download finishes byte-exact;
#   - the 48 closed flows then linger, yet new clients are served at once:
#     the oldest lingering flows are reclaimed (fe_reclaimed, be_reclaimed),
#     and no SYN is refused for them;
#   - no live flow is left, and the table drains to 0 when the linger ends.
# The module is reloaded with its defaults at the end, for scripts after.
set -uo pipefail
lab=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../qemu" && pwd)
# shellcheck source=SCRIPTDIR/../../qemu/topology.sh
source "$lab/topology.sh"
# shellcheck source=SCRIPTDIR/../../qemu/cluster.sh
source "$lab/cluster.sh"
# shellcheck source=SCRIPTDIR/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
ko=$(lab_module btcp.ko)
max=48
tmp=$(mktemp -d)
cleanup() {
  "$lab/nginx.sh" stop fe; "$lab/nginx.sh" stop be1; topology_down
  rmmod btcp 2>/dev/null; insmod "$ko"
}
trap cleanup EXIT

stat() { in_ns "$1" awk -v k="$2" '$1 == k { print $2 }' /proc/net/btcp/counters; }
# field NODE TABLE WORD: the value after WORD on the TABLE_flows line
field() { in_ns "$1" awk -v t="$2_flows" -v k="$3" '$1 == t { for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' /proc/net/btcp/flows; }

rmmod btcp 2>/dev/null
if insmod "$ko" max_flows=$max; then ok "insmod-max-flows-$max"
else bad insmod "insmod $ko max_flows=$max failed"; summary table; exit 1; fi
desc=$(modinfo -F parm "$ko" | tr '\n' '|')
if [[ "$desc" == *"max_flows:"* ]] && [[ "$desc" == *"max_request_kb:"* ]] &&
   [ "$(cat /sys/module/btcp/parameters/max_flows)" = $max ]; then ok "parameters-listed"
else bad parameters-listed "modinfo: $desc; sysfs: $(cat /sys/module/btcp/parameters/max_flows 2>&1)"; fi

topology_up || { bad topology "topology_up failed"; summary table; exit 1; }
for n in fe be1; do
  "$lab/content.sh" "$n" >/dev/null && "$lab/nginx.sh" start "$n" || { bad "nginx-$n" "did not start"; summary table; exit 1; }
done
vip=$LAB_VIP
if cluster_config "default=2" && cluster_wait_up; then ok cluster-up
else bad cluster-up "control channel not up"; summary table; exit 1; fi
if [ "$(field fe fe max)" = $max ] && [ "$(field be1 be max)" = $max ]; then ok "limit-in-flows-file"
else bad limit-in-flows-file "$(in_ns fe head -2 /proc/net/btcp/flows | tr '\n' '|')"; fi

# --- fill: 48 downloads of 1 MiB at 16 KiB/s (about 64 s each), started
# together from one shell in the client's namespace
want=$(awk '$2 == "/small/1m.bin" { print $1 }' "$("$lab/content.sh" fe)/manifest.sha256")
in_ns client bash -c "for i in \$(seq $max); do curl -s --max-time 240 --limit-rate 16k -o $tmp/dl.\$i http://$vip/small/1m.bin & done; wait" &
fill=$!
for _ in $(seq 60); do [ "$(field fe fe live)" = $max ] && break; sleep 0.5; done
if [ "$(field fe fe live)" = $max ]; then ok "table-full-of-live-flows ($max)"
else bad table-full-of-live-flows "$(in_ns fe head -2 /proc/net/btcp/flows | tr '\n' '|')"; fi
full0=$(stat fe syn_table_full)
code=$(in_ns client curl -s -o /dev/null -w '%{http_code}' --connect-timeout 2 "http://$vip/small/1k.bin")
full1=$(stat fe syn_table_full)
if [ "$code" = 000 ] && [ "$full1" -gt "$full0" ]; then ok "new-client-refused-and-counted (syn_table_full +$((full1 - full0)))"
else bad new-client-refused-and-counted "http $code, syn_table_full $full0 -> $full1"; fi
wait $fill
good=0
for i in $(seq $max); do
  [ "$(sha256sum <"$tmp/dl.$i" | cut -d' ' -f1)" = "$want" ] && good=$((good + 1))
done
if [ "$good" = $max ]; then ok "existing-downloads-byte-exact ($good/$max)"
else bad existing-downloads-byte-exact "$good of $max intact"; fi

# --- the closed flows linger (60 s), and do not keep new clients out
for _ in $(seq 50); do [ "$(field fe fe live)" = 0 ] && break; sleep 0.2; done
lingering=$(field fe fe lingering)
if [ "$(field fe fe live)" = 0 ] && [ "${lingering:-0}" -ge $((max / 2)) ]; then ok "closed-flows-linger ($lingering)"
else bad closed-flows-linger "$(in_ns fe head -2 /proc/net/btcp/flows | tr '\n' '|')"; fi
full0=$(stat fe syn_table_full); rec0=$(stat fe fe_reclaimed)
ok_n=0
for i in $(seq $max); do
  code=$(in_ns client curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Connection: close' "http://$vip/small/1k.bin")
  [ "$code" = 200 ] && ok_n=$((ok_n + 1))
done
full1=$(stat fe syn_table_full); rec1=$(stat fe fe_reclaimed)
if [ "$ok_n" = $max ] && [ "$full1" = "$full0" ] && [ "$rec1" -gt "$rec0" ]; then
  ok "lingering-flows-reclaimed ($ok_n/$max served, fe_reclaimed +$((rec1 - rec0)), be_reclaimed $(stat be1 be_reclaimed))"
else bad lingering-flows-reclaimed "$ok_n/$max served, syn_table_full $full0 -> $full1, fe_reclaimed $rec0 -> $rec1"; fi

# --- drained: no live flow at once, nothing at all once the linger ends
for _ in $(seq 50); do [ "$(live_flows fe be1)" = 0 ] && break; sleep 0.2; done
if [ "$(live_flows fe be1)" = 0 ]; then ok no-live-flows-left
else bad no-live-flows-left "$(in_ns fe head -2 /proc/net/btcp/flows | tr '\n' '|')"; fi
for _ in $(seq "$(by_load 150 300)"); do
  [ "$(field fe fe lingering)" = 0 ] && [ "$(field be1 be lingering)" = 0 ] && break
  sleep 0.5
done
if [ "$(field fe fe lingering)" = 0 ] && [ "$(field be1 be lingering)" = 0 ]; then ok table-drained
else bad table-drained "$(in_ns fe head -2 /proc/net/btcp/flows | tr '\n' '|') be1: $(in_ns be1 head -2 /proc/net/btcp/flows | tr '\n' '|')"; fi
if [ "$(field fe fe request_bytes)" = 0 ]; then ok request-memory-released
else bad request-memory-released "request_bytes $(field fe fe request_bytes)"; fi
summary table
