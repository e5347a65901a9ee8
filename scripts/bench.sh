#!/usr/bin/env bash
# `make bench`: the multi-VM benchmark (not a test). Boots one VM per node
# (qemu/run-cluster.sh), runs tests/lab/vm/bench.sh in the client's VM and
# prints scripts/bench-report.py's tables; everything lands in out/bench/
# (report.txt, bench.tsv, the SVG plots, each VM's logs).
#   scripts/bench.sh [--cpus N] [DRIVER OPTIONS]
# --cpus: vCPUs per VM (1); the driver's options (--seconds, --workloads,
# --bes, --targets) choose a subset; --profile samples fe with perf instead
# of measuring (see tests/lab/vm/bench.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/out/bench
cpus=1
[ "${1:-}" != --cpus ] || { cpus=$2; shift 2; }
rm -rf "$out"
rc=0
bash "$root/qemu/run-cluster.sh" --cpus "$cpus" --timeout 1800 --modules "$root/btcp.ko" --out "$out" \
  "$root/tests/lab/vm/bench.sh" "$@" || rc=$?
if [[ " $* " == *" --profile "* ]]; then
  for f in "$out"/client/profile/*.txt; do [ -f "$f" ] && head -25 "$f"; done
  echo "bench: fe's profiles in $out/client/profile/"
  exit "$rc"
fi
[ -s "$out/client/bench.tsv" ] || { echo "bench: no results (run-cluster exit $rc); logs in $out" >&2; exit 1; }
cp "$out/client/bench.tsv" "$out/bench.tsv"
python3 "$root/scripts/bench-report.py" "$out/bench.tsv" "$out"
echo "bench: $(nproc) host CPUs, $cpus vCPU per VM; tables in $out/report.txt, plots in $out/*.svg, VM logs in $out/NODE/"
exit "$rc"
