#!/bin/bash
# Guest script: the KUnit suite of btcp_kunit.ko ran when guest-init loaded
# the module; check its KTAP results in the kernel log.
set -uo pipefail
log=$(dmesg)
echo "$log" | grep -E '^\[[ 0-9.]+\] +(# Subtest: btcp|ok |not ok |# btcp:|# Totals:)' || true
summary=$(echo "$log" | grep -oE '# btcp: pass:[0-9]+ fail:[0-9]+ skip:[0-9]+ total:[0-9]+' | tail -1)
if [ -z "$summary" ]; then echo "FAIL kunit: no results for suite btcp in the kernel log"; exit 1; fi
read -r p f s t < <(echo "$summary" | sed -E 's/.*pass:([0-9]+) fail:([0-9]+) skip:([0-9]+) total:([0-9]+)/\1 \2 \3 \4/')
echo "kunit: $p passed, $f failed, $s skipped"
# A skipped or missing case is not a pass.
[ "$f" = 0 ] && [ "$s" = 0 ] && [ "$p" = "$t" ] && [ "$t" -gt 0 ] && grep -qE '\] ok [0-9]+ btcp$' <<<"$log"
