#!/bin/bash
# Guest script: a full flow table (issue 10). btcp.ko is loaded with
# max_flows=48 (a test about that setting; everything else at its
# defaults, the 60 s linger included), then:
#   - the parameter is listed by modinfo and shown in /sys and the flows file;
#   - 48 keep-alive connections through the VIP, held open, fill the
#     front-end's table with live flows; a new client is refused (its SYNs
#     dropped, syn_table_full counted) while they are held;
#   - every held connection fetches 1 MiB again, byte-exact, and closes;
#   - the 48 closed flows then linger, yet new clients are served at once:
#     the oldest lingering flows are reclaimed (fe_reclaimed, be_reclaimed),
#     and no SYN is refused for them;
#   - no live flow is left, and the table drains to 0 when the linger ends.
# The module is reloaded with its defaults at the end, for scripts after.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lab=$(cd "$here/../../qemu" && pwd)
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
if [[ "$desc" == *"max_flows:"* ]] && [[ "$desc" == *"max_request_kb:"* ]] && [[ "$desc" == *"hash_buckets:"* ]] &&
   [[ "$desc" == *"lard_targets:"* ]] &&
   [ "$(cat /sys/module/btcp/parameters/max_flows)" = $max ]; then ok "parameters-listed"
else bad parameters-listed "modinfo: $desc; sysfs: $(cat /sys/module/btcp/parameters/max_flows 2>&1)"; fi

topology_up || { bad topology "topology_up failed"; summary table; exit 1; }
for n in fe be1; do
  # Held connections sit idle while the table is full: nginx keeps them.
  "$lab/content.sh" "$n" >/dev/null && NGINX_KEEPALIVE=600s "$lab/nginx.sh" start "$n" || { bad "nginx-$n" "did not start"; summary table; exit 1; }
done
vip=$LAB_VIP
if cluster_config "default=2" && cluster_wait_up; then ok cluster-up
else bad cluster-up "control channel not up"; summary table; exit 1; fi
if [ "$(field fe fe max)" = $max ] && [ "$(field be1 be max)" = $max ] && [ "$(field fe be filter_slots)" = 1024 ]; then ok "limit-in-flows-file"
else bad limit-in-flows-file "$(in_ns fe head -2 /proc/net/btcp/flows | tr '\n' '|')"; fi

# --- fill: 48 keep-alive connections, each fetching 1 MiB (sha256 checked)
# and then held open: the table is full of live flows
want=$(awk '$2 == "/small/1m.bin" { print $1 }' "$("$lab/content.sh" fe)/manifest.sha256")
in_ns client python3 "$here/keepalive_hold.py" --host "$vip" --path /small/1m.bin --sha "$want" \
  --count $max --sources "$(ns_ip client)" --release "$tmp/release" --again --parallel 16 \
  --limit-secs 600 >"$tmp/hold" 2>&1 &
hold=$!
for _ in $(seq 600); do grep -q '^ready' "$tmp/hold" && break; kill -0 $hold 2>/dev/null || break; sleep 0.5; done
if grep -q "^ready $max ok $max bad 0" "$tmp/hold" && [ "$(field fe fe live)" = $max ]; then ok "table-full-of-live-flows ($max, each 1 MiB byte-exact)"
else bad table-full-of-live-flows "$(head -c 300 "$tmp/hold" | tr '\n' '|') $(in_ns fe head -2 /proc/net/btcp/flows | tr '\n' '|')"; fi
full0=$(stat fe syn_table_full)
code=$(in_ns client curl -s -o /dev/null -w '%{http_code}' --connect-timeout 2 "http://$vip/small/1k.bin")
full1=$(stat fe syn_table_full)
if [ "$code" = 000 ] && [ "$full1" -gt "$full0" ]; then ok "new-client-refused-and-counted (syn_table_full +$((full1 - full0)))"
else bad new-client-refused-and-counted "http $code, syn_table_full $full0 -> $full1"; fi
# The held connections go on: each fetches 1 MiB again, then closes.
touch "$tmp/release"
wait $hold
if grep -q "^again ok $max bad 0" "$tmp/hold"; then ok "existing-connections-byte-exact ($max more 1 MiB responses)"
else bad existing-connections-byte-exact "$(tr '\n' '|' <"$tmp/hold")"; fi

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
