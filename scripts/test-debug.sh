#!/usr/bin/env bash
# The lab suite on the debug kernel (qemu/debug.config: KASAN, lockdep,
# PROVE_RCU, DEBUG_ATOMIC_SLEEP, DEBUG_OBJECTS, kmemleak). run-lab.sh fails
# a run on any report on the console, and guest-init.sh scans kmemleak after
# the modules are unloaded (a leak fails the run too).
#
#   scripts/test-debug.sh [SCRIPT...]   default: kunit smoke handoff
#                          handoff_remote reuse btcpctl table cookies blind client_limit key_roll scope encap
#                          fe_failover moves unload
#
# Not pools: the policies are the pure core's (host-tested), and the
# kernel side they use, the balance's lock, runs in every handoff here;
# left out to keep `make test` within CI's time.
#
# KUnit boots on its own; the other scripts share one boot
# (tests/lab/suite.sh), run with `--load light` (DEBUG_LOAD=full for the
# full load): the debug guest is 6 to 10 times slower than the lab's, and
# what counts here is that every path runs, not how fast.
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
[ ${#scripts[@]} -gt 0 ] || scripts=(kunit smoke handoff handoff_remote reuse btcpctl table cookies blind client_limit key_roll scope encap fe_failover moves unload)
load=${DEBUG_LOAD:-light}

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

passed=0 failed=0 rows=()
row() { # NAME PASS|FAIL WHAT
  rows+=("$(printf '  %-16s %-4s %s' "$1" "$2" "$3")")
  if [ "$2" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
# boot NAME MODULE SCRIPT [ARGS...]: one guest. A row per script in it
# (from its `ok`/`FAIL` lines), then one for the boot itself: the kernel
# log clean (run-lab.sh exits 126 on any report), the modules unloaded
# and kmemleak empty afterwards.
boot() {
  local name=$1 mods=$2 t0=$SECONDS rc leaks line; shift 2
  qemu/run-lab.sh --quiet --load "$load" --timeout 3600 --modules "$mods" --out "$out/$name" "$@"
  rc=$?
  leaks=$(grep -c '^unreferenced object' "$out/$name/kmemleak.log" 2>/dev/null)
  if [ "$name" = suite ]; then
    while IFS= read -r line; do
      case $line in
        "ok "*) line=${line#ok }; row "${line%% *}" PASS "${line#* }" ;;
        "FAIL "*) line=${line#FAIL }; row "${line%%:*}" FAIL "$(cut -c1-300 <<<"${line#*: }") (log: $out/$name/${line%%:*}.log)" ;;
      esac
    done < <(grep -E '^(ok|FAIL) ' "$out/$name/script.log" 2>/dev/null)
  fi
  local what="$((SECONDS - t0)) s; kmemleak: ${leaks:-0} unreferenced objects"
  case $rc in
    0) row "$name-boot" PASS "$what; kernel log clean" ;;
    124) row "$name-boot" FAIL "timed out; $what (logs: $out/$name)" ;;
    125) row "$name-boot" FAIL "no status from the guest (crash or panic); $what (console: $out/$name/console.log)" ;;
    126) row "$name-boot" FAIL "kernel report or leak on the console; $what (console: $out/$name/console.log)" ;;
    *) if [ "$name" = suite ]; then row "$name-boot" PASS "$what; kernel log clean (a script failed: above)"
       else row "$name-boot" FAIL "exit $rc; $what (logs: $out/$name)"; fi ;;
  esac
}

# KUnit on its own (its module is not btcp.ko), the rest in one boot.
suite=()
for s in "${scripts[@]}"; do
  if [ "$s" = kunit ]; then boot kunit "$src/btcp_kunit.ko" tests/lab/kunit.sh
  else suite+=("$s"); fi
done
[ ${#suite[@]} = 0 ] || boot suite "$src/btcp.ko" tests/lab/suite.sh "${suite[@]}"

echo "=== debug kernel ($kdir), load $load"
printf '%s\n' "${rows[@]}"
echo "debug: $passed passed, $failed failed"
[ "$failed" = 0 ]
