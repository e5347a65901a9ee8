#!/bin/bash
# Multi-VM lab driver (qemu/run-cluster.sh runs it in the client's VM): a
# back-end taken out for an upgrade under load, as Documentation/
# admin-guide.md tells an operator to. wrk sends 1 KiB requests with
# Connection: close (every request a new handoff) through the VIP to a
# round-robin pool of be1-be3. Meanwhile: be2 is drained on fe (`btcpctl
# node set 3 --state drain`), `btcpctl wait-drained` on be2 returns once
# its last connection is over, btcp is unloaded from be2 (rmmod) and
# loaded again with its configuration, and fe puts it back up. wrk must
# see no socket error, timeout or non-2xx answer, and be2 must serve
# again at the end. One VM per node, so be2's rmmod is its own.
set -uo pipefail
# shellcheck source=SCRIPTDIR/driver.sh
source "$(dirname "${BASH_SOURCE[0]}")/driver.sh"
ko=$root/btcp.ko
bes=(be1 be2 be3)

if cluster_web_pool; then ok configured
else bad configured "nginx or the cluster's control channel is not up"; summary vm-upgrade; exit 1; fi
served() { in_vm "$1" "grep -c 'GET /small/1.bin' \$($lab/nginx.sh log $1)"; } # NODE

# The upgrade, timed from wrk's start.
secs=30
wrk -t1 -c12 -d"${secs}s" --timeout 10s -H "Connection: close" "http://$LAB_VIP/small/1.bin" >"$tmp/wrk" 2>&1 &
wrk=$!
t0=$SECONDS
sleep 5
before=$(served be2)
in_vm fe "$LAB_BTCPCTL node set 3 --state drain" || bad drain "btcpctl node set failed"
t_drain=$((SECONDS - t0))
if in_vm be2 "$LAB_BTCPCTL wait-drained --timeout 20" >"$tmp/wait" 2>&1; then
  ok "wait-drained (be2 drained $((SECONDS - t0 - t_drain)) s after the drain)"
else bad wait-drained "$(tr '\n' ' ' <"$tmp/wait")"; fi
at_unload=$(served be2)
saved=$(in_vm be2 "$LAB_BTCPCTL save")
t_rmmod=$((SECONDS - t0))
if in_vm be2 "rmmod btcp"; then ok "rmmod-on-be2 (at ${t_rmmod} s)"; else bad rmmod-on-be2 "rmmod failed"; fi
sleep 2
if in_vm be2 "insmod $ko" && in_vm be2 "printf '%s\n' $(printf %q "$saved") | $LAB_BTCPCTL restore -"; then
  ok "reloaded-on-be2"
else bad reloaded-on-be2 "insmod or restore failed"; fi
up=0
for _ in $(seq 100); do
  in_vm fe "grep -q '^ctrl_peer 3 up live' /proc/net/btcp/counters" && { up=1; break; }
  sleep 0.2
done
[ "$up" = 1 ] && ok "be2-live-again" || bad be2-live-again "$(in_vm fe "grep ctrl_peer /proc/net/btcp/counters" | tr '\n' '|')"
in_vm fe "$LAB_BTCPCTL node set 3 --state up" || bad undrain "btcpctl node set failed"
t_up=$((SECONDS - t0))
wait "$wrk"
after=$(served be2)
reqs=$(awk '/ requests in / { print $1 }' "$tmp/wrk")
if [ "${reqs:-0}" -gt 0 ] && ! grep -qE 'Socket errors|Non-2xx' "$tmp/wrk"; then
  ok "no-request-lost ($reqs requests in ${secs} s, no socket error, timeout or non-2xx)"
else bad no-request-lost "$(tr '\n' ' ' <"$tmp/wrk")"; fi
if [ "$after" -gt "$at_unload" ]; then ok "be2-serves-again ($((after - at_unload)) requests after the reload)"
else bad be2-serves-again "be2 served $at_unload at the unload, $after at the end"; fi
echo "upgrade of be2 under wrk: drained at ${t_drain} s, unloaded at ${t_rmmod} s, up again at ${t_up} s;" \
  "be2 served $before in the first 5 s, $((at_unload - before)) more until the unload, $((after - at_unload)) after the reload; wrk: $reqs requests"
for n in "${bes[@]}"; do in_vm "$n" "$lab/nginx.sh stop $n"; done
summary vm-upgrade
