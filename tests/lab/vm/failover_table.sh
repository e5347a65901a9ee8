#!/bin/bash
# Multi-VM lab driver, run last in a chain (make test-failover): prints the
# table of the failures the drivers before it caused (their failover_row
# lines, tests/lab/vm/driver.sh). Fails if there are none, or if any
# transfer came out corrupted.
set -uo pipefail
# shellcheck source=SCRIPTDIR/driver.sh
source "$(dirname "${BASH_SOURCE[0]}")/driver.sh"
if [ ! -s "$FAILOVER_ROWS" ]; then bad failover-table "no driver wrote a row"; summary vm-failover-table; exit 1; fi
echo "=== failures under load"
awk -F'\t' '
  BEGIN { h[1] = "failure"; h[2] = "when"; h[3] = "in flight"; h[4] = "failed"; h[5] = "bytes corrupted"; h[6] = "normal again after"
          n = 1; for (i = 1; i <= 6; i++) { c[1, i] = h[i]; w[i] = length(h[i]) } }
  { n++; for (i = 1; i <= 6; i++) { c[n, i] = $i; if (length($i) > w[i]) w[i] = length($i) } }
  END { for (r = 1; r <= n; r++) { line = ""; for (i = 1; i <= 6; i++) line = line sprintf("%-" w[i] "s  ", c[r, i]); sub(/ +$/, "", line); print line } }
' "$FAILOVER_ROWS"
if awk -F'\t' '$5 != "0" { bad = 1 } END { exit !bad }' "$FAILOVER_ROWS"; then bad no-bytes-corrupted "see the table"
else ok "no-bytes-corrupted ($(wc -l <"$FAILOVER_ROWS") failures)"; fi
summary vm-failover-table
