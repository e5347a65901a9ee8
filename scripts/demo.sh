#!/usr/bin/env bash
# `make demo`: boot the lab with btcp.ko loaded and run tests/lab/demo.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/out/demo
rc=0
"$root/qemu/run-lab.sh" --quiet --timeout 600 --modules "$root/btcp.ko" --out "$out" \
  "$root/tests/lab/demo.sh" || rc=$?
cat "$out/script.log"
echo "demo: guest console in $out/console.log"
exit "$rc"
