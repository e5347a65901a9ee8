#!/bin/bash
# The lab's single-VM topology: one network namespace per node, each with a
# veth into bridge br0 in the root namespace, all on one subnet.
#
#   client 10.99.0.10   fe 10.99.0.1 (+ VIP 10.99.0.100)
#   be1 10.99.0.11      be2 10.99.0.12      be3 10.99.0.13
#
# No namespace has a default route and the root namespace has no address
# on br0, so lab traffic cannot leave the subnet.
#
# Source it (functions topology_up, topology_down, in_ns, and the address
# variables) or run it: topology.sh up|down|show.

# shellcheck disable=SC2034 # the variables are for scripts that source this
LAB_NET=10.99.0
LAB_PREFIX=24
LAB_VIP=$LAB_NET.100
LAB_NODES=(client fe be1 be2 be3)
LAB_BES=(be1 be2 be3)
declare -A LAB_IP=([client]=$LAB_NET.10 [fe]=$LAB_NET.1 [be1]=$LAB_NET.11 [be2]=$LAB_NET.12 [be3]=$LAB_NET.13)
LAB_BRIDGE=br0

# in_ns NAME CMD [ARGS...]: run a command inside a node's namespace.
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# ns_ip NAME: the node's lab address.
ns_ip() { echo "${LAB_IP[$1]}"; }

topology_up() {
  local n cmds
  # Batched: each ip(8) exec costs ~0.1 s under TCG, and there would be ~40.
  cmds="link add $LAB_BRIDGE type bridge forward_delay 0 stp_state 0
link set $LAB_BRIDGE up"
  for n in "${LAB_NODES[@]}"; do
    # Root side named after the node, so tcpdump -i v-be1 reads naturally.
    cmds+="
netns add $n
link add v-$n type veth peer name eth0 netns $n
link set v-$n master $LAB_BRIDGE up"
  done
  ip -batch - <<<"$cmds" || return
  for n in "${LAB_NODES[@]}"; do
    cmds="link set lo up
addr add ${LAB_IP[$n]}/$LAB_PREFIX dev eth0
link set eth0 up"
    # Same prefix as the primary, so the kernel marks the VIP secondary.
    [ "$n" != fe ] || cmds+="
addr add $LAB_VIP/$LAB_PREFIX dev eth0"
    ip -n "$n" -batch - <<<"$cmds" || return
  done
  # Nothing above adds a route beyond the connected /24; tests check that.
}

topology_down() {
  local pids
  # Processes still inside would keep a deleted namespace (and its veth)
  # alive. Batched like topology_up; -force: go on past missing names.
  pids=$(printf 'netns pids %s\n' "${LAB_NODES[@]}" | ip -force -batch - 2>/dev/null)
  # shellcheck disable=SC2086 # one pid per word
  [ -z "$pids" ] || kill $pids 2>/dev/null
  # The veths first, by their root side: that takes both ends at once.
  # Left to the namespace's deletion they would go only when its cleanup
  # work gets to them, later (seconds on the debug kernel), and the next
  # topology_up would find v-NODE still there ("File exists").
  printf 'link del v-%s\n' "${LAB_NODES[@]}" | ip -force -batch - 2>/dev/null
  printf 'netns del %s\n' "${LAB_NODES[@]}" | ip -force -batch - 2>/dev/null
  ip link del "$LAB_BRIDGE" 2>/dev/null
  return 0
}

topology_show() {
  local n
  ip -br link show master "$LAB_BRIDGE"
  for n in "${LAB_NODES[@]}"; do
    echo "== $n"; ip -n "$n" -br addr; ip -n "$n" route
  done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    up) topology_up ;;
    down) topology_down ;;
    show) topology_show ;;
    *) echo "usage: $0 up|down|show   (or source it)" >&2; exit 2 ;;
  esac
fi
