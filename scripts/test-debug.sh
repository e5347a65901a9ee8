#!/usr/bin/env bash
# The lab suite on the debug kernel (qemu/debug.config: KASAN, lockdep,
# PROVE_RCU, DEBUG_ATOMIC_SLEEP, DEBUG_OBJECTS, kmemleak). run-lab.sh fails
# a run on any report on the console, and guest-init.sh scans kmemleak after
# the modules are unloaded (a leak fails the run too).
#
#   scripts/test-debug.sh [SCRIPT...]   default: kunit smoke handoff
#                                       handoff_remote reuse unload
#
# The module is built for the debug kernel from a copy of the tree (under
# out/debug/src), so the lab build in the tree stays as it is. Prints
# "debug: N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
export PATH="$HOME/.cargo/bin:$PATH"
export KVARIANT=debug
out=$root/out/debug
scripts=("$@")
[ ${#scripts[@]} -gt 0 ] || scripts=(kunit smoke handoff handoff_remote reuse unload)

kdir=$(bash scripts/kernel.sh | tail -1) || { echo "debug: FAILED: kernel build" >&2; exit 1; }
# Only the sources (tracked or not, but not ignored): build products of
# the lab kernel's build must not leak into this one.
src=$out/src
rm -rf "$src"; mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard |
  rsync -a --from0 --files-from=- "$root/" "$src/"
if ! make -s -C "$kdir" M="$src" LLVM=1 modules >"$out/module.log" 2>&1; then
  echo "debug: FAILED: module build (log: $out/module.log)" >&2
  tail -20 "$out/module.log" >&2
  exit 1
fi

passed=0 failed=0 results=()
for s in "${scripts[@]}"; do
  mods=$src/btcp.ko
  [ "$s" = kunit ] && mods=$src/btcp_kunit.ko
  t0=$SECONDS
  qemu/run-lab.sh --quiet --timeout 1800 --modules "$mods" --out "$out/$s" "tests/lab/$s.sh"
  rc=$?
  grep -E '^(ok|FAIL) ' "$out/$s/script.log" 2>/dev/null | grep '^FAIL' | sed 's/^/  /'
  leaks=$(grep -c '^unreferenced object' "$out/$s/kmemleak.log" 2>/dev/null)
  if [ "$rc" = 0 ]; then
    passed=$((passed + 1)); results+=("$(printf '  %-16s PASS %5ss  kmemleak: %s' "$s" $((SECONDS - t0)) "${leaks:-0}")")
  else
    failed=$((failed + 1)); results+=("$(printf '  %-16s FAIL(rc=%s) %5ss  (logs: %s)' "$s" "$rc" $((SECONDS - t0)) "$out/$s")")
  fi
done
echo "=== debug kernel ($kdir)"
printf '%s\n' "${results[@]}"
echo "debug: $passed passed, $failed failed"
[ "$failed" = 0 ]
