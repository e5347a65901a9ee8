#!/bin/bash
# Guest script of `make demo`: the lab topology with nginx on every node,
# a page fetched from each back-end by the client, and btcp's per-hook
# counters of every namespace.
set -euo pipefail
lab=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../qemu" && pwd)
# shellcheck source=SCRIPTDIR/../../qemu/topology.sh
source "$lab/topology.sh"
trap topology_down EXIT

topology_up
"$lab/content.sh" fe "${LAB_BES[@]}" >/dev/null
for n in "${LAB_BES[@]}"; do "$lab/nginx.sh" start "$n" >/dev/null; done

echo "== the client fetches a page from each back-end"
for n in "${LAB_BES[@]}"; do
  printf '  %-4s %-12s -> ' "$n" "$(ns_ip "$n")"
  in_ns client curl -sS --noproxy '*' --fail --max-time 20 \
    -w ' (%{http_code}, %{size_download} bytes)\n' "http://$(ns_ip "$n")/whoami.txt" | tr -d '\n'
  echo
done

echo
echo "== /proc/net/btcp/counters of each namespace"
for n in "${LAB_NODES[@]}"; do
  echo "-- $n ($(ns_ip "$n"))"
  in_ns "$n" cat /proc/net/btcp/counters
done
for n in "${LAB_BES[@]}"; do "$lab/nginx.sh" stop "$n"; done
