#!/bin/bash
# Multi-VM lab driver (qemu/run-cluster.sh runs it in the client's VM): a
# back-end dies suddenly under load. wrk sends 1 KiB requests with
# Connection: close (every request a new handoff) through the VIP to a
# round-robin pool of be1-be3; 10 s in, be2's link goes down for 10 s (to
# the cluster it is dead: no heartbeat, no answer, no packet), then comes
# back. What must hold (Documentation/handoff.md, "When a back-end dies"):
# - fe stops handing be2 new connections once it has not heard from it
#   for peer-dead-ms (1.2 s; checked against 1.5 s on fe itself, and the
#   figure printed), and its shards follow on their next 100 ms tick;
# - handoffs be2 never answered go to be1/be3 (handoffs_redispatched), so
#   the only requests that may fail are those be2 had already taken: at
#   most one per wrk connection in flight at the death;
# - after the outage be2 is live and serves again, and what reached it
#   late was cancelled or expired without a word to a client;
# - keep-alive connections be2 serves go on after an outage shorter than
#   dead-grace-ms, and after a longer one their next request is reset at
#   once by fe (dead_target_resets), none left to time out.
# The figures are printed: requests, failed, redispatched, time to silent.
set -uo pipefail
# shellcheck source=SCRIPTDIR/driver.sh
source "$(dirname "${BASH_SOURCE[0]}")/driver.sh"
bes=(be1 be2 be3)
conns=12

# The 64 MiB download goes to be3, which stays: its bytes must come
# through the failure intact.
if cluster_web_pool && in_vm fe "$LAB_BTCPCTL rule add /big/ 4"; then ok configured
else bad configured "nginx or the cluster's control channel is not up"; summary vm-backend-death; exit 1; fi
served() { in_vm "$1" "grep -c 'GET /small/1.bin' \$($lab/nginx.sh log $1)"; } # NODE
be2_live() { in_vm fe "awk '\$1 == \"ctrl_peer\" && \$2 == 3 { print \$4 }' /proc/net/btcp/counters"; }

secs=30
big_download "$tmp/big"
wrk -t1 -c"$conns" -d"${secs}s" --timeout 10s -H "Connection: close" "http://$LAB_VIP/small/1.bin" >"$tmp/wrk" 2>&1 &
wrk=$!
sleep 10
before=$(served be2)
# fe watches its own view of be2 every 10 ms (up to 10 s) and prints, when
# be2 turns silent, how long ago it last heard from it, and how long
# before that it had last looked (fe turned be2 silent in that gap). be2
# died within a heartbeat (300 ms) after it was last heard from, and fe's
# shards take the new live set on their next 100 ms tick.
in_vm fe "python3 $here/watch_peer.py 3 10 --until silent" >"$tmp/silent" &
watch=$!
sleep 0.5
# be2 takes its own link down and up again (its agent is out of reach
# meanwhile).
in_vm be2 "(ip link set eth0 down; sleep 10; ip link set eth0 up) >/dev/null 2>&1 &" || bad kill-be2 "could not reach be2"
wait "$watch"
read -r _ gap_ms line <"$tmp/silent"
silent_ms=$(awk '{ for (i = 1; i < NF; i++) if ($i == "heard_ms_ago") print $(i + 1) }' <<<"${line:-}")
if [ -n "${gap_ms:-}" ] && [ $((silent_ms - gap_ms)) -le 1500 ]; then
  ok "be2-silent-soon (seen silent $silent_ms ms after it was last heard from, $gap_ms ms after fe last looked)"
else bad be2-silent-soon "be2 $(be2_live), seen silent at ${silent_ms:-?} ms, looked ${gap_ms:-?} ms before"; fi
wait "$wrk"
reqs=$(wrk_requests "$tmp/wrk")
errors=$(wrk_failed "$tmp/wrk")
redispatched=$(vm_counter fe handoffs_redispatched)
download_checked "download-byte-exact (64 MiB from be3 across be2's death)" "$tmp/big"
failover_row "back-end death (be2's link down 10 s)" "10 s into the load" \
  "$conns wrk connections (Connection: close) + 64 MiB download" "$errors of $reqs requests" "$corrupted" \
  "${silent_ms:-?} ms (be2 out of rotation)"
if [ "${reqs:-0}" -gt 0 ] && [ "$errors" -le "$conns" ]; then
  ok "only-taken-requests-fail ($errors of $reqs failed, at most one per connection in flight: $conns)"
else bad only-taken-requests-fail "$errors failed: $(tr '\n' ' ' <"$tmp/wrk")"; fi
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

# --- connections be2 already serves (item 2): 12 keep-alive connections,
# 4 on each back-end, each fetch once; be2's link goes down; later each
# asks again. Back within dead-grace-ms (5 s after it was declared dead):
# every request is answered. Dead for longer: fe answers be2's clients'
# next segment with an RST from the VIP, so they fail at once, not after
# their timeout; the others are answered. (fe may count more resets than
# the probe's: a connection of the load before that be2 had not finished
# closing gets its own when its client next sends.)
wait_be2_live() {
  for _ in $(seq 150); do
    in_vm fe "grep -q '^ctrl_peer 3 up live' /proc/net/btcp/counters" && return 0
    sleep 0.2
  done
  return 1
}
probe() { # OUTAGE_S ASK_AFTER_S: prints the probe's "again" line
  local out=$tmp/probe.$1 go=$tmp/go.$1 pid
  python3 "$here/keepalive_probe.py" "$LAB_VIP" /small/1.bin 12 "$go" >"$out" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q '^ready' "$out" && break; sleep 0.1; done
  in_vm be2 "(ip link set eth0 down; sleep $1; ip link set eth0 up) >/dev/null 2>&1 &"
  sleep "$2"
  touch "$go"
  wait "$pid"
  grep '^again' "$out" || tr '\n' ' ' <"$out"
}
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' <<<"$2"; }
wait_be2_live || bad be2-live-before-probes "be2 not live"
resets0=$(vm_counter fe dead_target_resets)
short=$(probe 3 5)
if [ "$(field ok "$short")" = 12 ]; then ok "back-within-grace-nothing-reset ($short)"
else bad back-within-grace-nothing-reset "$short"; fi
wait_be2_live || bad be2-live-after-short-outage "be2 not live"
long=$(probe 12 9)
resets=$(($(vm_counter fe dead_target_resets) - resets0))
if [ "$(field timeout "$long")" = 0 ] && [ "$(field reset "$long")" -ge 1 ] &&
   [ $(($(field ok "$long") + $(field reset "$long"))) = 12 ] && [ "$resets" -ge "$(field reset "$long")" ]; then
  ok "dead-back-end-clients-reset ($long; dead_target_resets $resets)"
else bad dead-back-end-clients-reset "$long; dead_target_resets $resets"; fi
wait_be2_live || bad be2-live-after-long-outage "be2 not live"

echo "back-end death under wrk ($conns connections, Connection: close): $reqs requests, $errors failed;" \
  "be2 seen silent once unheard for ${silent_ms:-?} ms (looked ${gap_ms:-?} ms before); $redispatched handoffs redispatched, $(vm_counter fe handoff_cancels) cancels sent;" \
  "be2 served $before before its death; on be2: $(vm_counter be2 handoffs_cancelled) cancelled, $(vm_counter be2 holds_expired) holds expired;" \
  "keep-alive after a 3 s outage: $short; after a 12 s one: $long"
for n in "${bes[@]}"; do in_vm "$n" "$lab/nginx.sh stop $n"; done
summary vm-backend-death
