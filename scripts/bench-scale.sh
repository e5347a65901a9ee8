#!/usr/bin/env bash
# `make bench-scale` (not a test): tests/lab/bench_scale.sh in a 2-vCPU
# guest (every phase), then its packets-per-second phase again in a 1-vCPU
# guest, so the two pps figures come from the same build and machine.
# Output in out/bench-scale/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/out/bench-scale
rc=0
for cpus in 2 1; do
  phases=(); [ "$cpus" = 2 ] || phases=(pps)
  "$root/qemu/run-lab.sh" --quiet --cpus "$cpus" --mem 6G --timeout 3600 --modules "$root/btcp.ko" \
    --out "$out/cpus$cpus" "$root/tests/lab/bench_scale.sh" "${phases[@]}" || rc=$?
  cat "$out/cpus$cpus/script.log"
done
echo "bench-scale: guest consoles in $out/cpus*/console.log"
exit "$rc"
