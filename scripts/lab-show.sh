#!/usr/bin/env bash
# `make demo` and the single-VM benchmarks: boot the lab with btcp.ko, run the guest
# script tests/lab/NAME.sh, and show what it printed.
#   scripts/lab-show.sh NAME TIMEOUT
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
name=$1 timeout=$2
out=$root/out/$name
rc=0
"$root/qemu/run-lab.sh" --quiet --timeout "$timeout" --modules "$root/btcp.ko" --out "$out" \
  "$root/tests/lab/$name.sh" || rc=$?
cat "$out/script.log"
echo "$name: guest console in $out/console.log"
exit "$rc"
