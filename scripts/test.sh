#!/usr/bin/env bash
# `make test`: every test stage of btcp, each one's output in out/test/,
# then a table and a closing `test: N passed, N failed` line. Exits non-zero
# if any stage failed. Set-up (packages, kernel, module) is done by the
# stages themselves, so this runs on a fresh machine.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"
out=$root/out/test
rm -rf "$out"; mkdir -p "$out"

names=() results=() times=()
# stage NAME CMD...: runs CMD with its output both shown and kept.
stage() {
  local name=$1; shift
  local t0=$SECONDS rc
  echo "=== $name: $*"
  "$@" 2>&1 | tee "$out/$name.log"
  rc=${PIPESTATUS[0]}
  names+=("$name"); times+=("$((SECONDS - t0))s")
  if [ "$rc" = 0 ]; then results+=(PASS); else results+=("FAIL(rc=$rc)"); echo "=== $name: FAILED (exit $rc)"; fi
  return 0
}

# The module must build warning-free under clippy (CLIPPY=1, the kernel's
# own lint set plus the core's deny list), and no function of it may take
# a large share of the kernel stack (scripts/stack-frames.sh).
module_clippy() {
  local log=$out/module-build.out
  make -s module CLIPPY=1 2>&1 | tee "$log"
  [ "${PIPESTATUS[0]}" = 0 ] || return 1
  if grep -qiE '(^|[^a-z])(warning|error)(\[|:)' "$log"; then
    echo "module build printed warnings (see above)"; return 1
  fi
  bash scripts/stack-frames.sh btcp.ko && bash scripts/stack-frames.sh btcp_kunit.ko
}

# The multi-VM lab (make test-vms): one VM per node, three boots: the
# remote handoff across VMs; a back-end drained, unloaded and loaded again
# under wrk (the upgrade procedure of Documentation/admin-guide.md); and
# failures under load, make test-failover's (a back-end's death, its
# server stopped and frozen, the front-end's death under keepalived, and
# their table: tests/lab/vm/chain.sh runs them in one boot).
vms() {
  local s rc=0
  for s in handoff upgrade "backend_death server_health fe_failover failover_table"; do
    # shellcheck disable=SC2086 # one driver per word
    bash qemu/run-cluster.sh --modules "$root/btcp.ko" --out "$out/lab-vms-${s// /+}" \
      tests/lab/vm/chain.sh $s || rc=1
    [ -f "$out/lab-vms-${s// /+}/client/script.log" ] && tail -n 30 "$out/lab-vms-${s// /+}/client/script.log"
  done
  return $rc
}

host_lints() {
  cargo fmt --all --check &&
    rustfmt --edition 2021 --check btcp/btcp_main.rs btcp/btcp_kunit.rs &&
    rustfmt --edition 2021 --check rust/btcp-core/fuzz/fuzz_targets/*.rs &&
    cargo clippy --workspace --all-targets --quiet -- -D warnings
}

lab() { # NAME MODULES SCRIPT [ARGS...]: one guest boot running SCRIPT
  local name=$1 modules=$2; shift 2
  qemu/run-lab.sh --quiet --timeout 900 --modules "$modules" --out "$out/$name" "$@"
  local rc=$?
  # The guest script's own lines (its summary included) are worth seeing.
  [ -f "$out/$name/script.log" ] && tail -n 40 "$out/$name/script.log"
  return $rc
}

stage deps make -s deps
stage kernel make -s kernel
stage module module_clippy
stage host-lints host_lints
stage core cargo test --workspace
stage tools cargo build --release --locked -p btcpctl
stage fuzz-http bash scripts/fuzz.sh 60
stage kunit lab kunit "$root/btcp_kunit.ko" tests/lab/kunit.sh
stage lab-smoke lab lab-smoke "$root/btcp.ko" tests/lab/smoke.sh
stage lab-handoff lab lab-handoff "$root/btcp.ko" tests/lab/handoff.sh
stage lab-remote lab lab-remote "$root/btcp.ko" tests/lab/handoff_remote.sh
stage lab-reuse lab lab-reuse "$root/btcp.ko" tests/lab/reuse.sh
stage lab-btcpctl lab lab-btcpctl "$root/btcp.ko" tests/lab/btcpctl.sh
# Content-aware dispatch: pools and policies, then per-request moves on
# keep-alive connections; one boot.
stage lab-pools lab lab-pools "$root/btcp.ko" tests/lab/suite.sh pools moves
stage lab-table lab lab-table "$root/btcp.ko" tests/lab/table.sh
stage lab-vms vms
# Hostile traffic, one boot: a SYN flood, blind injection, slow heads, a
# key roll under load, a rogue node with the key, forwarding inside IPIP.
stage lab-hostile lab lab-hostile "$root/btcp.ko" tests/lab/suite.sh cookies blind client_limit key_roll scope encap
# The fault matrix (make test-faults): netem, one-packet drops, request
# shapes, options, MTU, slow readers, hand-made packets; one boot.
stage lab-faults bash scripts/test-faults.sh
# The lab suite again on the debug kernel (make test-debug): KASAN,
# lockdep, kmemleak; the kernel is built once and cached like the lab's.
stage kernel-debug env KVARIANT=debug bash scripts/kernel.sh
stage lab-debug bash scripts/test-debug.sh

echo
echo "=== summary (logs in $out)"
pass=0 fail=0
for i in "${!names[@]}"; do
  printf '  %-12s %-14s %s\n' "${names[$i]}" "${results[$i]}" "${times[$i]}"
  if [ "${results[$i]}" = PASS ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
# Why each failed stage failed, in a few lines, where CI's tail shows it.
for i in "${!names[@]}"; do
  [ "${results[$i]}" = PASS ] && continue
  echo "--- ${names[$i]}: its FAIL lines (whole log: $out/${names[$i]}.log)"
  # The first ones (often the cause) and the last ones.
  grep -E 'FAIL|FAILED|panicked|error(\[|:)' "$out/${names[$i]}.log" | grep -v 'FAIL(rc=' | cut -c1-400 |
    awk '{ l[NR] = $0 } END { for (i = 1; i <= NR; i++) if (i <= 4 || i > NR - 8) print l[i]; else if (i == 5) print "  ..." }'
done
echo "test: $pass passed, $fail failed"
[ "$fail" = 0 ]
