#!/usr/bin/env bash
# `make bench-scale` (not a test): first the host benchmark of the core's
# node (rust/btcp-core/benches/node.rs, criterion: ns per forwarded packet
# and bytes per flow at 10^3, 10^5 and 10^6 forwarding flows), then
# tests/lab/bench_scale.sh in a 2-vCPU guest (every phase), then its
# packets-per-second phase again in a 1-vCPU guest, so the two pps figures
# come from the same build and machine. Output in out/bench-scale/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/out/bench-scale
mkdir -p "$out"
rc=0
echo "== the core's node on the host (criterion; full report in $out/node.log)"
(cd "$root/rust" && cargo bench -p btcp_core --bench node) >"$out/node.log" 2>&1 || rc=$?
grep -E '^node with|^fe_forward|time:' "$out/node.log" || true
for cpus in 2 1; do
  phases=(); [ "$cpus" = 2 ] || phases=(pps)
  "$root/qemu/run-lab.sh" --quiet --cpus "$cpus" --mem 6G --timeout 3600 --modules "$root/btcp.ko" \
    --out "$out/cpus$cpus" "$root/tests/lab/bench_scale.sh" "${phases[@]}" || rc=$?
  cat "$out/cpus$cpus/script.log"
done
echo "bench-scale: guest consoles in $out/cpus*/console.log"
exit "$rc"
