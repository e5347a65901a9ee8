#!/bin/bash
# The multi-VM lab's plan and the driver's helpers (source it; the driver
# is the client's VM, see qemu/vm-node.sh):
#
#   in_vm NODE CMD...    run CMD (a bash command line) on NODE's VM; prints
#                        its output, returns its exit status (125: no
#                        answer). On the client's own VM it runs locally.
#   vms_wait_up          wait (120 s at most) until every VM's agent answers
#   vms_shutdown         tell every agent to stop (its VM then ends)
#
# VM_NODES holds the nodes that have a VM (qemu/run-cluster.sh's --nodes).
# Addresses are qemu/topology.sh's: the same as in the single-VM lab.

# shellcheck source=SCRIPTDIR/topology.sh
source "$(dirname "${BASH_SOURCE[0]}")/topology.sh"
VM_AGENT_PORT=7000
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
