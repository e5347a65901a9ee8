#!/usr/bin/env bash
# `make bench-lard`: LARD/R and LARD against weighted round-robin on the
# multi-VM lab (not a test). Writes the workload on the host once
# (tests/lab/lard/workload.py: the file tree and the request trace, into
# out/bench-lard/work/, which the VMs read over their 9p root), boots one
# VM per node and runs tests/lab/vm/bench_lard.sh in the client's.
#   scripts/bench-lard.sh [--files N] [--requests N] [DRIVER OPTIONS]
# The driver's options: --seconds, --warmup, --miss-ms, --disk-kibps, --conns.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/out/bench-lard
files=2000 requests=100000
while [ $# -gt 0 ]; do
  case "$1" in
    --files) files=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    *) break ;;
  esac
done
rm -rf "$out"; mkdir -p "$out/work"
gen=$root/tests/lab/lard/workload.py
python3 "$gen" tree "$out/work/tree" --files "$files" >"$out/work/bytes"
python3 "$gen" trace "$out/work/trace" --files "$files" --requests "$requests"
rc=0
bash "$root/qemu/run-cluster.sh" --timeout 1500 --modules "$root/btcp.ko" --out "$out" \
  "$root/tests/lab/vm/bench_lard.sh" "$out/work" "$@" || rc=$?
cat "$out/client/script.log"
echo "bench-lard: VM logs in $out/NODE/"
exit "$rc"
