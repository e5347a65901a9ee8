#!/bin/bash
# What every multi-VM lab test driver starts with (source it): $here (this
# directory), $root (the checkout), $lab (qemu/), in_vm and the VMs
# (qemu/vms.sh), ok/bad/summary (tests/lab/checks.sh), the cluster's
# configuration (qemu/cluster.sh), and a scratch directory $tmp.
# shellcheck disable=SC2034 # used by the scripts that source this
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
lab=$root/qemu
# shellcheck source=SCRIPTDIR/../../../qemu/vms.sh
source "$lab/vms.sh"
# shellcheck source=SCRIPTDIR/../checks.sh
source "$here/../checks.sh"
# shellcheck source=SCRIPTDIR/../../../qemu/cluster.sh
source "$lab/cluster.sh"
tmp=$(mktemp -d)
