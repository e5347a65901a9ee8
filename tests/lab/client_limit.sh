#!/bin/bash
# Guest script: the per-client limit (`client-flows`, default 256;
# rust/btcp-core/src/client_limit.rs), at the default settings. One client
# address opens 400 connections and sends each only the first line of a
# request head, holding them 4 s (slow_heads.py, bounded in count and
# time) while another
# address of the client fetches through the VIP: the front-end holds at
# most 256 flows for the slow address (the rest get cookies, and their
# third ACK an RST, counted as client_limited), the other address is
# served byte-exact every time, and every flow is freed after.
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

up_with_be1 client_limit
vip=$LAB_VIP
# A second address of the client, for the legitimate fetches.
other=$LAB_NET.20
ip -n client addr add "$other/$LAB_PREFIX" dev eth0
live() { in_ns fe awk '$1 == "fe_flows" { for (i = 1; i < NF; i++) if ($i == "live") print $(i + 1) }' /proc/net/btcp/flows; }

if cluster_config "default=2" && cluster_wait_up; then ok cluster-up
else bad cluster-up "control channel not up"; summary client_limit; exit 1; fi

limited0=$(counter fe client_limited)
in_ns client timeout 60 /usr/bin/python3 "$here/slow_heads.py" "$vip" 400 4 >"$tmp/slow" 2>&1 &
slow=$!
peak=0 served=0 tries=0 path=/small/64k.bin
while kill -0 $slow 2>/dev/null && [ $tries -lt 100 ]; do
  tries=$((tries + 1))
  got=$(in_ns client curl -sS --noproxy '*' --fail --max-time 20 --interface "$other" "http://$vip$path" 2>>"$tmp/err" | sha256sum | cut -d' ' -f1)
  [ "$got" = "${want[$path]}" ] && served=$((served + 1))
  l=$(live); [ "${l:-0}" -gt "$peak" ] && peak=$l
done
wait $slow
read -r _ connected _ held <"$tmp/slow"
limited=$(($(counter fe client_limited) - limited0))
if [ "$tries" -gt 0 ] && [ "$served" = "$tries" ]; then ok "other-address-served ($served of $tries, 64 KiB byte-exact)"
else bad other-address-served "$served of $tries; $(tail -2 "$tmp/err" | tr '\n' '|')"; fi
# The slow address gets its 256 and no more (the others are reset before
# their first bytes); the legitimate fetches add a flow or two to the
# table's peak. (Held at the end: those the request-head deadline has not
# reset yet on a slow guest.)
if [ "${connected:-0}" -ge 200 ] && [ "${connected:-0}" -le 256 ] && [ "$peak" -le 260 ] && [ "$limited" -gt 0 ]; then
  ok "slow-address-held-to-client-flows ($connected connected, $held held, peak $peak live flows, client_limited +$limited)"
else bad slow-address-held-to-client-flows "$(cat "$tmp/slow"); peak $peak live flows; client_limited +$limited"; fi

for _ in $(seq 75); do [ "$(live_flows fe be1)" = 0 ] && break; sleep 0.2; done
if [ "$(live_flows fe be1)" = 0 ]; then ok live-flows-freed
else bad live-flows-freed "$(in_ns fe head -2 /proc/net/btcp/flows | tr '\n' '|')"; fi
summary client_limit
