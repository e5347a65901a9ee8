#!/bin/bash
# The multi-VM lab's plan and the driver's helpers (source it; the driver
# is the client's VM, see qemu/vm-node.sh):
#
#   in_vm NODE CMD...    run CMD (a bash command line) on NODE's VM; prints
#                        its output, returns its exit status (125: no
#                        answer). On the client's own VM it runs locally.
#   vms_wait_up          wait (120 s at most) until every VM's agent answers
#   vms_shutdown         tell every agent to stop (its VM then ends)
#   vm_cpu               one line from the host's qemu/cpu-meter.py: "ms=T
#                        host=MS NODE=MS ...", each VM's CPU time in ms
#   vm_cpu_delta A B     "KEY MS" lines: B's values less A's (two vm_cpu
#                        lines; ms is the wall time between them)
#   direct_source NODE   (on the client) reach NODE's own address from a
#                        second address, VM_DIRECT_SRC
#
# VM_NODES holds the nodes that have a VM (qemu/run-cluster.sh's --nodes).
# Addresses are qemu/topology.sh's: the same as in the single-VM lab.

# shellcheck source=SCRIPTDIR/topology.sh
source "$(dirname "${BASH_SOURCE[0]}")/topology.sh"
VM_AGENT_PORT=7000
# qemu/cpu-meter.py's address: on the lab subnet, no node's.
VM_METER_IP=$LAB_NET.254 VM_METER_PORT=7001
# The client's second address, for connections straight to a back-end: a
# back-end's stack sees a handed-off connection as its own address and the
# client's (Documentation/handoff.md), so a direct connection from a port a
# handoff used would meet that connection's TIME-WAIT there, be challenged
# and wait a second for its SYN's retransmission (a 1 KiB close-mode
# direct run measured 15 req/s so instead of 334).
VM_DIRECT_SRC=$LAB_NET.20
read -r -a VM_NODES <<<"${VM_NODES:-client fe be1 be2 be3}"

in_vm() {
  local node=$1 fd out last
  shift
  local cmd="$*"
  if [ "$node" = client ]; then bash -c "$cmd"; return; fi
  # (Braced: a redirection on a bare exec would stay on the shell.)
  { exec {fd}<>"/dev/tcp/$(ns_ip "$node")/$VM_AGENT_PORT"; } 2>/dev/null || return 125
  printf '%d\n%s' "$(LC_ALL=C; echo "${#cmd}")" "$cmd" >&"$fd"
  out=$(cat <&"$fd")
  exec {fd}<&-
  last=${out##*$'\n'}
  [[ "$last" =~ ^rc\ [0-9]+$ ]] || return 125
  [ "$last" = "$out" ] || printf '%s\n' "${out%$'\n'"$last"}"
  return "${last#rc }"
}

vm_cpu() {
  local fd
  { exec {fd}<>"/dev/tcp/$VM_METER_IP/$VM_METER_PORT"; } 2>/dev/null || return 1
  cat <&"$fd"
  exec {fd}<&-
}

vm_cpu_delta() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    n = split(a, x, " "); for (i = 1; i <= n; i++) { split(x[i], kv, "="); old[kv[1]] = kv[2] }
    n = split(b, x, " "); for (i = 1; i <= n; i++) { split(x[i], kv, "="); print kv[1], kv[2] - old[kv[1]] }
  }'
}

direct_source() {
  ip addr show dev eth0 | grep -q " $VM_DIRECT_SRC/" || ip addr add "$VM_DIRECT_SRC/32" dev eth0 || return
  ip route replace "$(ns_ip "$1")/32" dev eth0 src "$VM_DIRECT_SRC"
}

vms_wait_up() {
  local n end=$((SECONDS + 120))
  for n in "${VM_NODES[@]}"; do
    [ "$n" = client ] && continue
    until in_vm "$n" true; do
      [ $SECONDS -lt $end ] || return 1
      sleep 0.5
    done
  done
}

vms_shutdown() {
  local n
  for n in "${VM_NODES[@]}"; do
    [ "$n" = client ] || in_vm "$n" shutdown >/dev/null 2>&1
  done
  return 0
}
