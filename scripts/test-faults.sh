#!/usr/bin/env bash
# `make test-faults`: the fault matrix (issue 4): the simulated network's
# scenarios (cargo test --test faults --test sim in rust/btcp-core, rows
# `sim-NAME`), then tests/lab/faults.sh in one lab boot under
# qemu/run-lab.sh; then one table `case | PASS/FAIL | what was measured`
# and a closing line `faults: N passed, N failed`. Exits non-zero if
# anything failed, including the lab run itself (timeout, a kernel splat,
# no status).
#
#   scripts/test-faults.sh [CASE-GLOB...]     e.g. 'netem-loss-*' 'drop-*' 'sim-*'
#
# Logs in out/faults/ (FAULTS_OUT overrides); the module is ./btcp.ko
# (FAULTS_MODULE overrides; built with `make module` when missing). The hand-made packet cases need
# python3-scapy on the host (the guest runs the host's /usr/bin/python3).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
export PATH="$HOME/.cargo/bin:$PATH"
selected() { # NAME: matched by the command line's globs (all when none)
  local g
  [ $# -gt 0 ] || return 1
  [ ${#globs[@]} -gt 0 ] || return 0
  for g in "${globs[@]}"; do
    # shellcheck disable=SC2053 # a glob on purpose
    [[ $1 == $g ]] && return 0
  done
  return 1
}
globs=("$@")
out=${FAULTS_OUT:-$root/out/faults}
# Generous: the run takes ~15 min of guest time on 2 cores, and another
# QEMU may share the machine.
timeout=${FAULTS_TIMEOUT:-2400}

module=${FAULTS_MODULE:-$root/btcp.ko}
[ -f "$module" ] || make -s module || { echo "faults: cannot build btcp.ko"; exit 1; }
# qemu/cluster.sh configures the nodes with btcpctl.
[ -x "${BTCPCTL:-$root/target/release/btcpctl}" ] || make -s tools || { echo "faults: cannot build btcpctl"; exit 1; }
/usr/bin/python3 -c 'import scapy' 2>/dev/null ||
  echo "faults: python3-scapy missing on the host: the scapy cases will fail (apt-get install python3-scapy)"
# The 1 GiB download is checked against the sha256 of 1 GiB of zeros: a few
# seconds here, most of a minute in the guest.
zero_sha=$(head -c 1G /dev/zero | sha256sum | cut -d' ' -f1)

pass=0 fail=0
rows=()

# The simulated network: smoltcp plays the client and the back-end's
# stack; every scenario checks what its row says.
sim_what="simulated network: bytes exact both ways, IP/TCP checksums, TSvals never back (PAWS), segments within each MSS, no unknown option echoed, flows freed"
# With globs, each half runs only if one of them can match it.
run_sim=1 run_lab=1
if [ ${#globs[@]} -gt 0 ]; then
  run_sim=0 run_lab=0
  for g in "${globs[@]}"; do
    case $g in sim* | '*') run_sim=1 ;; esac
    case $g in sim*) ;; *) run_lab=1 ;; esac
  done
fi
if [ "$run_sim" = 1 ]; then
  mkdir -p "$out"
  cargo test -p btcp_core --test faults --test sim >"$out/sim.log" 2>&1
  sim_rc=$?
  sim_rows=0
  while read -r name res; do
    name=sim-${name//_/-}
    selected "$name" || continue
    sim_rows=$((sim_rows + 1))
    if [ "$res" = ok ]; then rows+=("$name|PASS|$sim_what"); pass=$((pass + 1))
    else rows+=("$name|FAIL|$res: see $out/sim.log"); fail=$((fail + 1)); fi
  done < <(sed -nE 's/^test ([a-z0-9_]+) \.\.\. (ok|FAILED|ignored)$/\1 \2/p' "$out/sim.log")
  if [ "$sim_rc" != 0 ] && ! grep -q '|FAIL|' <<<"$(printf '%s\n' "${rows[@]}")"; then
    rows+=("sim-build|FAIL|cargo test exited $sim_rc: see $out/sim.log"); fail=$((fail + 1))
  elif [ "$sim_rows" = 0 ]; then
    rows+=("sim|FAIL|no simulated scenario matched or ran: see $out/sim.log"); fail=$((fail + 1))
  fi
fi

t0=$SECONDS rc=0
if [ "$run_lab" = 1 ]; then
  qemu/run-lab.sh --quiet --timeout "$timeout" --modules "$module" --out "$out" \
    tests/lab/faults.sh --zero-sha "$zero_sha" "$@"
  rc=$?
else
  rm -f "$out/script.log"
fi
wall=$((SECONDS - t0))

if [ -f "$out/script.log" ]; then
  while IFS= read -r line; do
    line=${line%$'\r'}
    case $line in
      "ok "*)
        line=${line#ok }
        name=${line%% *} what=${line#"$name"}
        what=${what# (}
        what=${what%)}
        rows+=("$name|PASS|$what")
        pass=$((pass + 1))
        ;;
      "FAIL "*)
        line=${line#FAIL }
        name=${line%%: *} what=${line#*: }
        rows+=("$name|FAIL|$what")
        fail=$((fail + 1))
        ;;
    esac
  done <"$out/script.log"
fi
# The run itself: a timeout, an oops/WARN (126) or a missing status fails
# it even when every case passed.
case $rc in
  0) ;;
  124 | 125 | 126)
    rows+=("run-lab|FAIL|qemu/run-lab.sh exited $rc (124 timeout, 125 no status, 126 kernel splat): see $out/console.log")
    fail=$((fail + 1))
    ;;
  *) [ "$fail" -gt 0 ] || { rows+=("run-lab|FAIL|the guest script exited $rc with no failed case: see $out/script.log"); fail=$((fail + 1)); } ;;
esac

echo
echo "=== fault matrix (run ${wall}s wall, logs in $out)"
w=4
for r in "${rows[@]}"; do n=${r%%|*}; [ "${#n}" -le "$w" ] || w=${#n}; done
printf '%-*s | %-9s | %s\n' "$w" case "PASS/FAIL" "what was measured"
for r in "${rows[@]}"; do
  IFS='|' read -r n res what <<<"$r"
  printf '%-*s | %-9s | %s\n' "$w" "$n" "$res" "$what"
done
grep -h '^guest time' "$out/script.log" 2>/dev/null
echo "faults: $pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
