#!/bin/bash
# Multi-VM lab driver (qemu/run-cluster.sh runs it in the client's VM):
# health that sees the server (Documentation/handoff.md, "Health that sees
# the server"). h2load opens 100 connections a second for 20 s, whatever
# became of the earlier ones (open loop: a stuck server does not slow the
# clients down), each one request for 1 KiB through the VIP to a
# round-robin pool of be1-be3, and logs each request's time. Twice, while
# be2's nginx fails in two ways:
# - stopped (gracefully, as `systemctl stop nginx` does) 5 s in, started
#   again 7 s later: be2's next HEARTBEAT says nothing listens and fe gives
#   it no new connections, so from then on none costs a HANDOFF_NACK round
#   trip (those handed over before it are NACKed and go elsewhere); after
#   the restart be2 serves again. Only connections be2 had taken before
#   or while it stopped may fail (a stopping nginx keeps its listener
#   until its master exits, then resets what is left in its accept queue);
# - frozen (SIGSTOP) 5 s in, for 6 s: its listener stays, but the oldest
#   connection in its accept queue ages, and once that is 1 s fe counts be2
#   overloaded and gives it no new connections. The ones it took before
#   wait in its queue and are answered when it thaws; they must be fewer
#   than half of the 200 (a third of 6 s of connections) that be2 would
#   have got without the health report.
# No request may fail when frozen (h2load gives each 10 s). The figures are
# printed: requests, failed, how soon fe saw it, NACKs paid, requests that
# waited for the thaw.
set -uo pipefail
# shellcheck source=SCRIPTDIR/driver.sh
source "$(dirname "${BASH_SOURCE[0]}")/driver.sh"
svc="$LAB_VIP:80"

# A 64 MiB download to be3 runs through each failure of be2's: its bytes
# must come through intact.
if cluster_web_pool && in_vm fe "$LAB_BTCPCTL rule add /big/ 4"; then ok configured
else bad configured "nginx or the cluster's control channel is not up"; summary vm-server-health; exit 1; fi

rate=10 period_ms=100 secs=20 # 100 connections a second
# load OUT: h2load in the background (its summary in OUT, each request's
# start, status and time in OUT.log); its pid in $load.
load() {
  local n=$((rate * secs * 1000 / period_ms))
  h2load --h1 -n "$n" -c "$n" -r "$rate" --rate-period "${period_ms}ms" -T 10 \
    --log-file="$1.log" "http://$LAB_VIP/small/1.bin" >"$1" 2>&1 &
  load=$!
}
# h2_requests OUT, h2_failed OUT: of h2load's summary ("requests: N total, N
# started, N done, N succeeded, ...").
h2_requests() { awk '/^requests:/ { print $2 }' "$1"; }
h2_failed() { awk '/^requests:/ { print $2 - $8 }' "$1"; }
# h2_waited OUT MS: requests that took MS or longer.
h2_waited() { awk -v ms="$2" '$3 >= ms * 1000 { n++ } END { print n + 0 }' "$1.log"; }
# watch_be2 SECS: fe's line for be2 (its listener's health as be2 last
# said), every 50 ms for SECS, each with the ms since the watch began, in
# the background into $tmp/watch (once it is over: in_vm returns the
# output at the end); its pid in $watch.
watch_be2() {
  in_vm fe "python3 $here/watch_peer.py 3 $1 --period 50" >"$tmp/watch" &
  watch=$!
}

be2_line() { in_vm fe "grep '^ctrl_peer 3 ' /proc/net/btcp/counters"; }

# --- nginx stopped, then started again.
load "$tmp/stop"
big_download "$tmp/big.stop"
sleep 5
nacks0=$(vm_counter fe nack_refused)
# The connections be2 has taken when it stops: those live on it just
# before (handed over, in its accept queue, or being served) and those
# handed to it while nginx was stopping (until its master exited, the
# listener may still take them). Only these may fail: a graceful stop
# still resets those queued and closes those accepted whose request has
# not arrived yet. (Those handed over after the listener closed are NACKed
# and go elsewhere, so counting the whole stop is an upper bound.)
t0=$(now_ms)
be2_taken='$1 == "be_flows_live" { live = $2 } $1 == "handoffs_received" { got = $2 } END { print live, got }'
read -r live0 got0 _ got1 < <(in_vm be2 "awk '$be2_taken' /proc/net/btcp/counters; $lab/nginx.sh stop be2 --graceful; awk '$be2_taken' /proc/net/btcp/counters" | tr '\n' ' ')
taken=$((${live0:-0} + ${got1:-0} - ${got0:-0}))
seen_ms=""
for _ in $(seq 100); do
  [[ "$(be2_line)" == *"no-listener $svc"* ]] && { seen_ms=$(($(now_ms) - t0)); break; }
  sleep 0.02
done
sleep 0.5 # fe's shards take the new health on their next run
nacks_seen=$(vm_counter fe nack_refused)
sleep 6
nacks_end=$(vm_counter fe nack_refused)
in_vm be2 "$lab/nginx.sh start be2" || bad restart-be2 "nginx did not start again"
wait "$load"
reqs=$(h2_requests "$tmp/stop") errors=$(h2_failed "$tmp/stop")
if [ -n "$seen_ms" ]; then ok "fe-saw-no-listener (${seen_ms} ms after the stop began)"
else bad fe-saw-no-listener "$(be2_line)"; fi
if [ "${reqs:-0}" -gt 0 ] && [ "$errors" -le "${taken:-0}" ]; then
  ok "stopped-server-only-taken-fail ($errors of $reqs failed; be2 had taken $taken when it stopped)"
else bad stopped-server-only-taken-fail "$errors failed, be2 had taken ${taken:-?}: $(grep -E '^(requests|status)' "$tmp/stop" | tr '\n' ' ')"; fi
if [ "$nacks_end" = "$nacks_seen" ]; then
  ok "no-nack-once-reported ($((nacks_seen - nacks0)) NACKs before fe knew, none in the 6 s after)"
else bad no-nack-once-reported "nack_refused $nacks0 -> $nacks_seen when fe knew -> $nacks_end 6 s later"; fi
for _ in $(seq 40); do [[ "$(be2_line)" == *" listen $svc "* ]] && break; sleep 0.1; done
for i in $(seq 9); do curl -sS -o /dev/null --max-time 10 "http://$LAB_VIP/small/1.bin?restarted$i" || true; done
again=$(in_vm be2 "grep -c 'GET /small/1.bin?restarted' \$($lab/nginx.sh log be2)")
if [ "${again:-0}" -gt 0 ]; then ok "be2-serves-after-restart ($again of 9)"
else bad be2-serves-after-restart "be2 served none of 9: $(be2_line)"; fi
download_checked "download-byte-exact-stop (64 MiB from be3)" "$tmp/big.stop"
failover_row "nginx stopped on be2 (started 7 s later)" "5 s into the load" \
  "100 new connections/s (h2load) + 64 MiB download" "$errors of $reqs requests" "$corrupted" \
  "${seen_ms:-?} ms (fe sees no listener)"
stop_line="nginx stopped on be2: $reqs requests, $errors failed (be2 had taken $taken); fe saw no listener ${seen_ms:-?} ms after the stop began; $((nacks_seen - nacks0)) NACKs before, $((nacks_end - nacks_seen)) after"

# --- nginx frozen, then thawed.
load "$tmp/freeze"
big_download "$tmp/big.freeze"
sleep 5
watch_be2 10
in_vm be2 "($lab/nginx.sh freeze be2; sleep 6; $lab/nginx.sh thaw be2) >/dev/null 2>&1 &"
wait "$watch"
wait "$load"
reqs=$(h2_requests "$tmp/freeze") errors=$(h2_failed "$tmp/freeze") stuck=$(h2_waited "$tmp/freeze" 1000)
stall_ms=$(awk '{ for (i = 1; i < NF; i++) if ($i == "oldest_ms" && $(i + 1) >= 1000) { print $1; exit } }' "$tmp/watch")
would=$((rate * 1000 / period_ms * 6 / 3))
if [ -n "$stall_ms" ]; then ok "fe-saw-the-stall (oldest accept wait 1 s at ${stall_ms} ms into the watch)"
else bad fe-saw-the-stall "$(awk 'NR % 20 == 0' "$tmp/watch" | tr '\n' '|')"; fi
if [ "${reqs:-0}" -gt 0 ] && [ "$errors" = 0 ]; then ok "frozen-server-nothing-failed ($reqs requests)"
else bad frozen-server-nothing-failed "$errors failed: $(grep -E '^(requests|status)' "$tmp/freeze" | tr '\n' ' ')"; fi
if [ "$stuck" -lt $((would / 2)) ]; then ok "few-waited-for-the-thaw ($stuck requests took 1 s or more; be2's share of the freeze: $would)"
else bad few-waited-for-the-thaw "$stuck requests took 1 s or more (be2's share of the freeze: $would)"; fi
download_checked "download-byte-exact-freeze (64 MiB from be3)" "$tmp/big.freeze"
failover_row "nginx frozen on be2 (SIGSTOP 6 s)" "5 s into the load" \
  "100 new connections/s (h2load) + 64 MiB download" "$errors of $reqs requests" "$corrupted" \
  "${stall_ms:-?} ms (fe sees be2 overloaded: its oldest waited 1 s)"
echo "$stop_line"
echo "nginx frozen 6 s on be2: $reqs requests, $errors failed, $stuck waited 1 s or more for the thaw (of the $would be2 would have had), slowest $(awk '/time for request/ { print $5 }' "$tmp/freeze")"

for n in be1 be2 be3; do in_vm "$n" "$lab/nginx.sh stop $n"; done
summary vm-server-health
