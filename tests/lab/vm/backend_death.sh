#!/bin/bash
# Multi-VM lab driver (qemu/run-cluster.sh runs it in the client's VM): a
# back-end dies suddenly under load. wrk sends 1 KiB requests with
# Connection: close (every request a new handoff) through the VIP to a
# round-robin pool of be1-be3; 10 s in, be2's link goes down for 10 s (to
# the cluster it is dead: no heartbeat, no answer, no packet), then comes
# back. What must hold (Documentation/handoff.md, "When a back-end dies"):
# - fe stops handing be2 new connections within peer-dead-ms (1.2 s) and
#   a work tick (checked against 2.5 s, polled from another VM over TCG;
#   the figure is printed);
# - handoffs be2 never answered go to be1/be3 (handoffs_redispatched), so
#   the only requests that may fail are those be2 had already taken: at
#   most one per wrk connection in flight at the death;
# - after the outage be2 is live and serves again, and what reached it
#   late was cancelled or expired without a word to a client.
# The figures are printed: requests, failed, redispatched, time to silent.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
lab=$root/qemu
# shellcheck source=SCRIPTDIR/../../../qemu/vms.sh
source "$lab/vms.sh"
# shellcheck source=SCRIPTDIR/../checks.sh
source "$here/../checks.sh"
# shellcheck source=SCRIPTDIR/../../../qemu/cluster.sh
source "$lab/cluster.sh"
tmp=$(mktemp -d)
bes=(be1 be2 be3)
conns=12

for n in "${bes[@]}"; do
  in_vm "$n" "$lab/content.sh $n >/dev/null && $lab/nginx.sh start $n" || bad "nginx-$n" "did not start"
done
if cluster_config "default=2" && cluster_wait_up &&
   in_vm fe "$LAB_BTCPCTL pool add web --policy wrr --nodes 2,3,4 && $LAB_BTCPCTL rule default web"; then ok configured
else bad configured "the cluster's control channel is not up"; summary vm-backend-death; exit 1; fi
served() { in_vm "$1" "grep -c 'GET /small/1.bin' \$($lab/nginx.sh log $1)"; } # NODE
counter() { in_vm "$1" "awk -v k=$2 '\$1 == k { print \$2 }' /proc/net/btcp/counters"; } # NODE NAME
be2_live() { in_vm fe "awk '\$1 == \"ctrl_peer\" && \$2 == 3 { print \$4 }' /proc/net/btcp/counters"; }

secs=30
wrk -t1 -c"$conns" -d"${secs}s" --timeout 10s -H "Connection: close" "http://$LAB_VIP/small/1.bin" >"$tmp/wrk" 2>&1 &
wrk=$!
sleep 10
before=$(served be2)
# be2 takes its own link down and up again (its agent is out of reach
# meanwhile).
in_vm be2 "(ip link set eth0 down; sleep 10; ip link set eth0 up) >/dev/null 2>&1 &" || bad kill-be2 "could not reach be2"
t_down=$(now_ms)
silent_ms=
for _ in $(seq 100); do
  [ "$(be2_live)" = silent ] && { silent_ms=$(($(now_ms) - t_down)); break; }
  sleep 0.05
done
if [ -n "$silent_ms" ] && [ "$silent_ms" -le 2500 ]; then
  ok "be2-silent-soon (no new connections for it $silent_ms ms after its link went down)"
else bad be2-silent-soon "be2 $(be2_live) after $(($(now_ms) - t_down)) ms"; fi
wait "$wrk"
reqs=$(awk '/ requests in / { print $1 }' "$tmp/wrk")
# wrk's "Socket errors: connect A, read B, write C, timeout D" and "Non-2xx".
failed=$(awk '/Socket errors/ { gsub(",", ""); s = $4 + $6 + $8 + $10 } /Non-2xx/ { s += $NF } END { print s + 0 }' "$tmp/wrk")
redispatched=$(counter fe handoffs_redispatched)
if [ "${reqs:-0}" -gt 0 ] && [ "$failed" -le "$conns" ]; then
  ok "only-taken-requests-fail ($failed of $reqs failed, at most one per connection in flight: $conns)"
else bad only-taken-requests-fail "$failed failed: $(tr '\n' ' ' <"$tmp/wrk")"; fi
if [ "${redispatched:-0}" -gt 0 ]; then ok "unanswered-handoffs-went-elsewhere ($redispatched)"
else bad unanswered-handoffs-went-elsewhere "handoffs_redispatched ${redispatched:-none}"; fi
# be2 back: live again, and it serves.
up=0
for _ in $(seq 150); do
  in_vm fe "grep -q '^ctrl_peer 3 up live' /proc/net/btcp/counters" && { up=1; break; }
  sleep 0.2
done
[ "$up" = 1 ] && ok "be2-live-again" || bad be2-live-again "$(in_vm fe "grep ctrl_peer /proc/net/btcp/counters" | tr '\n' '|')"
at_return=$(served be2)
for i in $(seq 9); do curl -sS -o /dev/null --max-time 10 "http://$LAB_VIP/small/1.bin?after$i" || true; done
after=$(served be2)
if [ "$after" -gt "$at_return" ]; then ok "be2-serves-again ($((after - at_return)) of 9 requests after its return)"
else bad be2-serves-again "be2 served $at_return at its return, $after after 9 more requests"; fi
echo "back-end death under wrk ($conns connections, Connection: close): $reqs requests, $failed failed;" \
  "be2 silent after ${silent_ms:-?} ms; $redispatched handoffs redispatched, $(counter fe handoff_cancels) cancels sent;" \
  "be2 served $before before its death; on be2: $(counter be2 handoffs_cancelled) cancelled, $(counter be2 holds_expired) holds expired"
for n in "${bes[@]}"; do in_vm "$n" "$lab/nginx.sh stop $n"; done
summary vm-backend-death
