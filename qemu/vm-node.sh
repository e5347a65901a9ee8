#!/bin/bash
# The lab script of one VM of the multi-VM lab (qemu/run-cluster.sh runs
# it through guest-init.sh in every guest):
#
#   vm-node.sh NODE "NODES" SCRIPT [ARGS...]
#
# Sets the VM's name and lab address (qemu/topology.sh's plan: the same
# addresses as the namespaces of the single-VM lab, the VIP on fe). The
# client's VM is the driver: it waits until every other node's agent
# answers, runs SCRIPT (with in_vm from qemu/vms.sh), then shuts the
# agents down. Every other VM runs qemu/vm-agent.py until it is told to
# stop.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
node=$1 VM_NODES=$2
shift 2
export VM_NODES
# shellcheck source=SCRIPTDIR/vms.sh
source "$here/vms.sh"
hostname "$node"
ip link set eth0 up
ip addr add "$(ns_ip "$node")/$LAB_PREFIX" dev eth0
[ "$node" != fe ] || ip addr add "$LAB_VIP/$LAB_PREFIX" dev eth0
export LAB_VM=$node
if [ "$node" != client ]; then
  exec /usr/bin/python3 "$here/vm-agent.py" "$(ns_ip "$node")" "$VM_AGENT_PORT"
fi
vms_wait_up || { echo "vm-node: the other VMs' agents did not answer"; vms_shutdown; exit 1; }
rc=0
bash "$@" || rc=$?
vms_shutdown
exit "$rc"
