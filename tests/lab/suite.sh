#!/bin/bash
# Guest script: several lab scripts in one boot, one after the other.
#
#   qemu/run-lab.sh ... tests/lab/suite.sh smoke handoff ...
#
# Each script sets up its own topology and tears it down on exit, so they
# can share a guest; that saves a boot per script on slow guests (the
# debug kernel boots and sets up in about a minute). Each script's output
# goes to $LAB_OUT/NAME.log; this prints `ok NAME (...)` or `FAIL NAME:
# ...` per script, with its own summary line and failed checks, then
# `suite: N passed, N failed`.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/checks.sh
source "$here/checks.sh"

for s in "$@"; do
  log=$LAB_OUT/$s.log
  if [ ! -f "$here/$s.sh" ]; then bad "$s" "no script tests/lab/$s.sh"; continue; fi
  # Each script starts with btcp.ko loaded, whatever the one before did
  # with it.
  if [ ! -d /sys/module/btcp ] && ! insmod "$(lab_module btcp.ko)"; then
    bad "$s" "btcp.ko is not loaded and insmod failed"; continue
  fi
  t0=$SECONDS
  bash "$here/$s.sh" </dev/null >"$log" 2>&1
  rc=$?
  last=$(grep -E '^[a-z_-]*:? ?[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  if [ "$rc" = 0 ]; then ok "$s (${last:-no summary}; $((SECONDS - t0)) s)"
  else bad "$s" "exit $rc, ${last:-no summary}, $((SECONDS - t0)) s: $(grep '^FAIL' "$log" | cut -c1-200 | tr '\n' '|')"; fi
done
summary suite
