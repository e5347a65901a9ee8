#!/bin/bash
# Multi-VM lab driver (qemu/run-cluster.sh runs it in the client's VM):
# runs the drivers tests/lab/vm/NAME.sh named, one after the other, in one
# boot of the cluster; fails if any of them failed. Each driver configures
# the cluster and starts its servers itself, and stops them at its end.
#
#   chain.sh NAME...
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rc=0
for s in "$@"; do
  echo "=== $s"
  bash "$here/$s.sh" || rc=1
done
exit "$rc"
