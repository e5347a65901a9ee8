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
#   fe handed them to be1 (flows_announced), which forwards them
#   (flows_adopted; the back-ends count orphans_adopted);
# - the download completes byte-exact;
# - wrk's requests fail only on a connection that was mid-handshake or
#   mid-handoff at the death: at most one per connection (nginx closes a
#   keep-alive connection after 1,000 requests and wrk opens another);
# - new connections are served again soon after the takeover; the time
#   from the death to the first probe served is printed.
# One row of make test-failover's table.
set -uo pipefail
# shellcheck source=SCRIPTDIR/driver.sh
source "$(dirname "${BASH_SOURCE[0]}")/driver.sh"
conns=12 secs=25 down=15
has_vip() { in_vm "$1" "ip -br addr show dev eth0 | grep -q ' $LAB_VIP/'"; }
# vrrp NODE PRIORITY PEER: keepalived's VRRP on NODE, in the background.
vrrp() {
  local conf
  conf="global_defs { router_id $1 }
vrrp_instance btcp {
  state BACKUP
  nopreempt
  interface eth0
  virtual_router_id 51
  priority $2
  advert_int 1
  unicast_src_ip $(ns_ip "$1")
  unicast_peer { $(ns_ip "$3") }
  virtual_ipaddress { $LAB_VIP/$LAB_PREFIX dev eth0 }
}"
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

counters() { # NODE NAME...: the counters' values, space-separated
  local node=$1; shift
  in_vm "$node" "awk -v want='$*' 'BEGIN { n = split(want, w, \" \") } { v[\$1] = \$2 } END { for (i = 1; i <= n; i++) printf \"%s \", v[w[i]] + 0 }' /proc/net/btcp/counters"
}
big_download "$tmp/big"
wrk -t1 -c"$conns" -d"${secs}s" --timeout 10s "http://$LAB_VIP/small/1k.bin" >"$tmp/wrk" 2>&1 &
wrk=$!
python3 "$here/probe.py" "$LAB_VIP" /small/1.bin "$secs" --period 100 --timeout 1 >"$tmp/probe" &
probe=$!
# The counters before (earlier drivers of the boot count too: a back-end
# whose own link was cut saw every peer die).
before=$(for n in be1 be2 be3; do counters "$n" flows_adopted flows_announced orphans_adopted; done)
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
after=$(for n in be1 be2 be3; do counters "$n" flows_adopted flows_announced orphans_adopted; done)
read -r adopted1 announced1 orphans1 _ announced2 orphans2 _ announced3 orphans3 < <(
  paste -d' ' <(tr -s ' ' '\n' <<<"$after" | grep .) <(tr -s ' ' '\n' <<<"$before" | grep .) |
    awk '{ printf "%d ", $1 - $2 }')
announced=$((announced1 + announced2 + announced3))
orphans=$((orphans1 + orphans2 + orphans3))
if [ "$announced" -gt 0 ] && [ "$adopted1" -ge "$announced" ] && [ "$orphans" -gt 0 ]; then
  ok "flows-announced-and-adopted (announced $announced2 by be2, $announced3 by be3, $announced1 by be1 to itself; be1 adopted $adopted1; $orphans forwarded by be1 since)"
else bad flows-announced-and-adopted "announced $announced1/$announced2/$announced3, adopted $adopted1, orphans adopted $orphans1/$orphans2/$orphans3"; fi

echo "front-end death under load: be1 took the VIP after ${took_over:-?} ms; download $corrupted bytes off;" \
  "wrk keep-alive ($conns connections): $errors of $reqs failed; probes: all served from ${normal:-?} ms after the death on, $probes_failed failed before;" \
  "flows announced $announced, adopted by be1 $adopted1"
failover_row "front-end death (link down, be1 takes the VIP)" "5 s into the load" \
  "$((conns + 1)) connections (wrk keep-alive + 64 MiB download)" "$errors wrk requests, download $dl_ok" \
  "$corrupted" "${normal:-?} ms (VIP seen on be1 at ${took_over:-?} ms)"
# fe back before anything else runs.
for _ in $(seq 100); do in_vm fe true && break; sleep 0.2; done
cleanup
summary vm-fe-failover
