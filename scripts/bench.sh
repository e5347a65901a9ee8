#!/usr/bin/env bash
# `make bench`: boot the lab with btcp.ko and run tests/lab/bench.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/out/bench
rc=0
"$root/qemu/run-lab.sh" --quiet --timeout 900 --modules "$root/btcp.ko" --out "$out" \
  "$root/tests/lab/bench.sh" || rc=$?
cat "$out/script.log"
exit "$rc"
