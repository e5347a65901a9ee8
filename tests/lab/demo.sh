#!/bin/bash
# Guest script of `make demo`: a btcp cluster in the lab. The front-end fe
# fronts the VIP and routes by path: /small/ to be1, /big/ to be2,
# everything else to be3. A short mixed workload goes through the VIP;
# then what each node did.
set -euo pipefail
lab=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../qemu" && pwd)
# shellcheck source=SCRIPTDIR/../../qemu/topology.sh
source "$lab/topology.sh"
# shellcheck source=SCRIPTDIR/../../qemu/cluster.sh
source "$lab/cluster.sh"
cleanup() { for n in "${LAB_BES[@]}"; do "$lab/nginx.sh" stop "$n"; done; topology_down; }
trap cleanup EXIT

topology_up
"$lab/content.sh" fe "${LAB_BES[@]}" >/dev/null
for n in "${LAB_BES[@]}"; do "$lab/nginx.sh" start "$n" >/dev/null; done
cluster_config "/small/=2,/big/=3,default=4"
cluster_wait_up
echo "== fe's configuration (btcpctl show)"
in_ns fe "$LAB_BTCPCTL" show | grep -v '^key' | sed 's/^/  /'

vip="http://$LAB_VIP"
echo
echo "== the client, through the VIP $LAB_VIP"
for p in /whoami.txt /small/1k.bin /small/1m.bin /big/64m.bin; do
  printf '  GET %-16s' "$p"
  in_ns client curl -sS --noproxy '*' --fail --max-time 60 -o /dev/null \
    -w '%{http_code} %{size_download} bytes in %{time_total}s\n' "$vip$p"
done
echo "  wrk, 10 connections, 3 s, Connection: close, /small/1k.bin:"
in_ns client wrk -t1 -c10 -d3s -H "Connection: close" "$vip/small/1k.bin" | sed -n 's/^/    /; /Requests\/sec\|requests in\|Socket\|Non-2xx/p'

echo
echo "== who served what (nginx access logs)"
for n in "${LAB_BES[@]}"; do
  log=$("$lab/nginx.sh" log "$n")
  printf '  %-4s %5d requests, %12d body bytes, from %s\n' "$n" "$(wc -l <"$log")" \
    "$(awk '{ b += $(NF-2) } END { print b + 0 }' "$log")" "$(awk -F: '{ print $1 }' "$log" | sort -u | tr '\n' ' ')"
done

echo
echo "== what btcp did"
stat() { in_ns "$1" awk -v k="$2" '$1 == k { print $2 }' /proc/net/btcp/counters; }
printf '  fe: %s handoffs (%s acked, %s refused), %s client packets / %s bytes forwarded\n' \
  "$(stat fe handoffs_remote)" "$(stat fe handoff_acks)" "$(stat fe handoff_nacks)" \
  "$(stat fe fe_forwarded_packets)" "$(stat fe fe_forwarded_bytes)"
for n in "${LAB_BES[@]}"; do
  printf '  %-4s %s handoffs received, %s response packets / %s bytes sent straight to the client\n' \
    "$n:" "$(stat "$n" handoffs_received)" "$(stat "$n" be_translated_packets)" "$(stat "$n" be_translated_bytes)"
done
echo "  (the front-end forwards only the client's packets; every response byte"
echo "   left a back-end with the VIP as its source)"
