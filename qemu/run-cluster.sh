#!/usr/bin/env bash
# Boot the lab as one VM per node and run a driver script in the client's:
#
#   qemu/run-cluster.sh [--nodes "client fe be1 be2 be3"] [--cpus 1]
#                       [--mem 2G] [--timeout SECS] [--modules "a.ko"]
#                       [--kernel BZIMAGE] --out DIR SCRIPT [ARGS...]
#
# The nodes' VMs (qemu/run-lab.sh each, results in DIR/NODE) share a
# bridge in a network namespace this script makes on the host and deletes
# afterwards; each VM's tap is there and its QEMU runs there, so no lab
# packet touches the host's own interfaces and nothing routes out. Every
# VM runs the same kernel and the host's root over 9p, as the single-VM
# lab does, and qemu/vm-node.sh: it gives the VM its node's address
# (qemu/topology.sh's plan) and, in the client's VM, runs SCRIPT with
# qemu/vms.sh's in_vm to reach the others. qemu/cpu-meter.py runs in the
# namespace on an address of the lab subnet no node has (vms.sh's
# VM_METER_IP), so the driver can read each VM's CPU time as the host
# counts it (vms.sh's vm_cpu).
#
# Exit status: the client VM's (run-lab.sh's: the script's, or 124/125/126),
# or the first other VM's failure (a kernel splat, no status).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() { sed -n '2,18s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2; }
die() { echo "run-cluster: $*" >&2; exit 2; }

nodes="client fe be1 be2 be3" cpus=1 mem=2G timeout=900 modules="" kernel="" out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --modules) modules=$2; shift 2 ;;
    --kernel) kernel=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
[ -n "$out" ] || die "--out DIR is required"
[ $# -ge 1 ] || die "no SCRIPT given"
[[ " $nodes " == *" client "* ]] || die "--nodes must include client (it runs the script)"
script=$(realpath "$1"); shift
mkdir -p "$out"; out=$(realpath "$out")

ns=btcp-lab-$$
cleanup() {
  ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link add br0 type bridge forward_delay 0 stp_state 0
ip -n "$ns" link set br0 up
VM_NODES=$nodes
# shellcheck source=SCRIPTDIR/vms.sh
source "$here/vms.sh"
ip -n "$ns" addr add "$VM_METER_IP/$LAB_PREFIX" dev br0
# shellcheck disable=SC2086 # one node per word
ip netns exec "$ns" python3 "$here/cpu-meter.py" "$VM_METER_IP" "$VM_METER_PORT" $nodes \
  >"$out/cpu-meter.log" 2>&1 &
i=0
declare -A pid=()
for n in $nodes; do
  i=$((i + 1))
  ip -n "$ns" tuntap add "tap-$n" mode tap
  ip -n "$ns" link set "tap-$n" master br0 up
  args=(--quiet --cpus "$cpus" --mem "$mem" --timeout "$timeout" --out "$out/$n"
    --netns "$ns" --tap "tap-$n" --mac "$(printf '52:54:00:b7:00:%02x' "$i")")
  [ -z "$modules" ] || args+=(--modules "$modules")
  [ -z "$kernel" ] || args+=(--kernel "$kernel")
  bash "$here/run-lab.sh" "${args[@]}" "$here/vm-node.sh" "$n" "$nodes" "$script" "$@" \
    >"$out/$n.run.log" 2>&1 &
  pid[$n]=$!
done
echo "run-cluster: $(wc -w <<<"$nodes") VMs ($nodes), $cpus vCPU and $mem each, in namespace $ns; script $script, out $out" >&2
rc=0
wait "${pid[client]}" || rc=$?
# The client's VM told the others to stop; if it failed, the trap stops
# them (every QEMU runs in the namespace).
[ "$rc" = 0 ] || { sed 's/^/  /' "$out/client.run.log" >&2; exit "$rc"; }
for n in $nodes; do
  [ "$n" = client ] && continue
  st=0
  wait "${pid[$n]}" || st=$?
  if [ "$st" != 0 ]; then
    echo "run-cluster: $n's VM failed ($st):" >&2; sed 's/^/  /' "$out/$n.run.log" >&2
    [ "$rc" != 0 ] || rc=$st
  fi
done
sed 's/^/  /' "$out/client.run.log" >&2
exit "$rc"
