#!/bin/bash
# Multi-VM lab driver (qemu/run-cluster.sh runs it in the client's VM): the
# front-end dies under load (Documentation/handoff.md, "When a front-end
# dies"). fe and be1 share the VIP under keepalived (VRRP, unicast, fe the
# higher priority, no preemption); both front the VIP with the same pool
# of be1-be3. A 64 MiB download (rate-limited to last about 16 s), wrk's
# keep-alive connections and a probe opening a new connection every
# 100 ms run through the VIP; 5 s in, fe's link goes down for 15 s. What
# must hold:
# - be1 takes the VIP over (VRRP: about 3.6 s), and the back-ends, once
#   they declare fe dead (peer-dead-ms, 1.2 s), announce the connections
#   fe handed them to be1 (flows_announced), or hand them to it when it
#   asks (it took the VIP: flows_handed_over); be1 forwards them
#   (flows_adopted);
# - the download completes byte-exact;
# - wrk's requests fail only on a connection that was mid-handshake or
#   mid-handoff at the death: at most one per connection (nginx closes a
#   keep-alive connection after 1,000 requests and wrk opens another);
# - new connections are served again soon after the takeover; the time
#   from the death to the first probe served is printed.
# Then the same load through a planned switch back to fe (Documentation/
# handoff.md, "When the VIP moves"): be1 drains itself, its keepalived
# stops, fe takes the VIP while be1 lives and the back-ends hand it be1's
# connections (flows_handed_over); the same must hold. A row each in
# make test-failover's table.
set -uo pipefail
# shellcheck source=SCRIPTDIR/driver.sh
source "$(dirname "${BASH_SOURCE[0]}")/driver.sh"
conns=12 secs=25 down=15
has_vip() { in_vm "$1" "ip -br addr show dev eth0 | grep -q ' $LAB_VIP/'"; }
# vrrp NODE PRIORITY PEER: keepalived's VRRP on NODE, in the background.
vrrp() {
  local conf
  conf=$(cluster_vrrp_conf "$@")
  in_vm "$1" "printf '%s\n' $(printf %q "$conf") >/tmp/vrrp.conf" &&
    in_vm "$1" "setsid keepalived --vrrp --dont-fork --log-console --log-detail -f /tmp/vrrp.conf \
      -p /tmp/vrrp.pid -r /tmp/vrrp-child.pid >/tmp/vrrp.log 2>&1 </dev/null &"
}
wait_vip() { # NODE: until NODE holds the VIP (15 s at most)
  local _
  for _ in $(seq 150); do has_vip "$1" && return 0; sleep 0.1; done
  return 1
}
cleanup() {
  in_vm fe "pkill keepalived; true" >/dev/null
  in_vm be1 "pkill keepalived; true" >/dev/null
  sleep 1
  # As the other drivers expect it: the VIP on fe, nowhere else.
  in_vm be1 "ip addr del $LAB_VIP/$LAB_PREFIX dev eth0 2>/dev/null; true"
  has_vip fe || in_vm fe "ip addr add $LAB_VIP/$LAB_PREFIX dev eth0"
  ip neigh flush dev eth0
  for n in be1 be2 be3; do in_vm "$n" "$lab/nginx.sh stop $n"; done
}

if cluster_web_pool && in_vm be1 "$LAB_BTCPCTL service add $LAB_VIP:80 &&
     $LAB_BTCPCTL pool add web --policy wrr --nodes 2,3,4 && $LAB_BTCPCTL rule default web"; then
  ok configured
else bad configured "nginx or the cluster's control channel is not up"; cleanup; summary vm-fe-failover; exit 1; fi
# The VIP moves to keepalived's hands: fe first (it becomes master alone),
# then be1 as the backup.
in_vm fe "ip addr del $LAB_VIP/$LAB_PREFIX dev eth0"
vrrp fe 150 be1
if wait_vip fe; then vrrp be1 100 fe; sleep 3; fi
if has_vip fe && ! has_vip be1 && curl -sSf -o /dev/null --max-time 5 "http://$LAB_VIP/small/1k.bin"; then
  ok vrrp-fe-master
else
  bad vrrp-fe-master "fe $(has_vip fe && echo has || echo lacks) the VIP, be1 $(has_vip be1 && echo has || echo lacks) it: $(in_vm fe 'tail -n 3 /tmp/vrrp.log' | tr '\n' '|')"
  cleanup; summary vm-fe-failover; exit 1
fi

# snapshot TAG: every node's counters now; delta TAG NODE NAME: NAME's
# growth on NODE since (earlier drivers of the boot count too: a back-end
# whose own link was cut saw every peer die).
snapshot() { local n; for n in fe be1 be2 be3; do in_vm "$n" "cat /proc/net/btcp/counters" >"$tmp/counters.$1.$n"; done; }
delta() {
  in_vm "$2" "cat /proc/net/btcp/counters" >"$tmp/counters.now"
  awk -v k="$3" 'FNR == NR { if ($1 == k) b = $2; next } $1 == k { a = $2 } END { print a - b }' \
    "$tmp/counters.$1.$2" "$tmp/counters.now"
}
big_download "$tmp/big"
wrk -t1 -c"$conns" -d"${secs}s" --timeout 10s "http://$LAB_VIP/small/1k.bin" >"$tmp/wrk" 2>&1 &
wrk=$!
python3 "$here/probe.py" "$LAB_VIP" /small/1.bin "$secs" --period 100 --timeout 1 >"$tmp/probe" &
probe=$!
snapshot death
sleep 5
killed=$(now_ms)
in_vm fe "(ip link set eth0 down; sleep $down; ip link set eth0 up) >/dev/null 2>&1 &"
took_over=""
for _ in $(seq 200); do
  if has_vip be1; then took_over=$(($(now_ms) - killed)); break; fi
  sleep 0.05
done
[ -n "$took_over" ] && ok "be1-took-the-vip (after $took_over ms)" || bad be1-took-the-vip "$(in_vm be1 'tail -n 5 /tmp/vrrp.log' | tr '\n' '|')"
wait "$wrk" "$probe"
download_checked "download-byte-exact (64 MiB across the failover)" "$tmp/big"
reqs=$(wrk_requests "$tmp/wrk")
errors=$(wrk_failed "$tmp/wrk")
if [ "${reqs:-0}" -gt 0 ] && [ "$errors" -le "$conns" ]; then
  ok "keep-alive-requests-go-on ($errors of $reqs failed, at most one per connection: $conns)"
else bad keep-alive-requests-go-on "$errors failed: $(tr '\n' ' ' <"$tmp/wrk")"; fi
# Normal again: from the first probe served after the last one that
# failed (the probes started after the death).
normal=$(awk -v k="$killed" '$1 >= k { t[++n] = $1; r[n] = $2 } END {
  last = 0; for (i = 1; i <= n; i++) if (r[i] == "fail") last = i
  for (i = last + 1; i <= n; i++) if (r[i] == "ok") { print t[i] - k; exit } }' "$tmp/probe")
probes_failed=$(awk -v k="$killed" '$1 >= k && $2 == "fail" { n++ } END { print n + 0 }' "$tmp/probe")
if [ -n "$normal" ]; then ok "new-connections-served-again (every probe served from $normal ms after the death on)"
else bad new-connections-served-again "$(tail -n 3 "$tmp/probe" | tr '\n' '|')"; fi
sum() { local n t=0; for n in be1 be2 be3; do t=$((t + $(delta "$1" "$n" "$2"))); done; echo "$t"; } # TAG NAME
announced=$(sum death flows_announced) handed=$(sum death flows_handed_over)
orphans=$(sum death orphans_adopted) adopted1=$(delta death be1 flows_adopted)
# The back-ends announce once they declare fe dead, and hand over once be1
# asks (it took the VIP: FLOW_QUERY), whichever comes first; be1 adopts
# each (again for the second).
if [ $((announced + handed)) -gt 0 ] && [ "$adopted1" -ge "$announced" ] && [ $((orphans + handed)) -gt 0 ]; then
  ok "flows-announced-and-adopted (announced $announced on fe's death, handed to be1 on its query $handed; be1 adopted $adopted1; $orphans taken by be1's forwarding)"
else bad flows-announced-and-adopted "announced $announced, handed over $handed, adopted $adopted1, orphans adopted $orphans"; fi

echo "front-end death under load: be1 took the VIP after ${took_over:-?} ms; download $corrupted bytes off;" \
  "wrk keep-alive ($conns connections): $errors of $reqs failed; probes: all served from ${normal:-?} ms after the death on, $probes_failed failed before;" \
  "flows announced $announced, handed over $handed, adopted by be1 $adopted1"
failover_row "front-end death (link down, be1 takes the VIP)" "5 s into the load" \
  "$((conns + 1)) connections (wrk keep-alive + 64 MiB download)" "$errors wrk requests, download $dl_ok" \
  "$corrupted" "${normal:-?} ms (VIP seen on be1 at ${took_over:-?} ms)"
# fe is back (its link, and its channel to every peer).
for _ in $(seq 100); do in_vm fe true && break; sleep 0.2; done
for _ in $(seq 100); do cluster_wait_up && break; done

# --- A planned switch back: be1, the VIP's holder, first drains itself
# (no connection is its own stack's: those are bound to the VIP's address
# and cannot follow it), then its keepalived stops; fe, alive all along,
# takes the VIP, its shell sees it and asks the back-ends (FLOW_QUERY),
# which hand it be1's connections at once.
in_vm be1 "$LAB_BTCPCTL node set 2 --state drain && $LAB_BTCPCTL rule add /big/ 4"
snapshot switch
big_download "$tmp/big2"
wrk -t1 -c"$conns" -d"${secs}s" --timeout 10s "http://$LAB_VIP/small/1k.bin" >"$tmp/wrk2" 2>&1 &
wrk=$!
python3 "$here/probe.py" "$LAB_VIP" /small/1.bin "$secs" --period 100 --timeout 1 >"$tmp/probe2" &
probe=$!
sleep 5
switched=$(now_ms)
in_vm be1 "pkill keepalived; true"
if wait_vip fe; then ok "fe-took-the-vip-back (after $(($(now_ms) - switched)) ms)"
else bad fe-took-the-vip-back "$(in_vm fe 'tail -n 5 /tmp/vrrp.log' | tr '\n' '|')"; fi
wait "$wrk" "$probe"
download_checked "download-byte-exact-switch (64 MiB from be3 across the switch)" "$tmp/big2"
reqs2=$(wrk_requests "$tmp/wrk2") errors2=$(wrk_failed "$tmp/wrk2")
if [ "${reqs2:-0}" -gt 0 ] && [ "$errors2" -le "$conns" ]; then
  ok "switch-keep-alive-requests-go-on ($errors2 of $reqs2 failed, at most one per connection: $conns)"
else bad switch-keep-alive-requests-go-on "$errors2 failed: $(tr '\n' ' ' <"$tmp/wrk2")"; fi
handed2=$(sum switch flows_handed_over) adopted_fe=$(delta switch fe flows_adopted) held=$(delta switch fe takeover_held)
if [ "$handed2" -gt 0 ] && [ "$adopted_fe" -ge "$handed2" ]; then
  ok "connections-handed-to-fe ($handed2 handed over, fe adopted $adopted_fe, $held segments held meanwhile)"
else bad connections-handed-to-fe "handed over $handed2, fe adopted $adopted_fe"; fi
normal2=$(awk -v k="$switched" '$1 >= k { t[++n] = $1; r[n] = $2 } END {
  last = 0; for (i = 1; i <= n; i++) if (r[i] == "fail") last = i
  for (i = last + 1; i <= n; i++) if (r[i] == "ok") { print t[i] - k; exit } }' "$tmp/probe2")
echo "planned switch under load: wrk keep-alive ($conns connections): $errors2 of $reqs2 failed; download $corrupted bytes off;" \
  "$handed2 connections handed to fe, $held segments held; probes all served from ${normal2:-?} ms after the switch on"
failover_row "planned switch (be1 drained, its keepalived stopped; fe takes the VIP)" "5 s into the load" \
  "$((conns + 1)) connections (wrk keep-alive + 64 MiB download)" "$errors2 wrk requests, download $dl_ok" \
  "$corrupted" "${normal2:-?} ms"
cleanup
summary vm-fe-failover
