#!/bin/bash
# Guest script: rmmod while wrk drives handed-off connections through the
# VIP, local and remote at once (issue 4, item 10). Connections that were
# handed off cannot survive the unload (nobody translates them any more);
# what must hold: rmmod succeeds, nothing oopses (run-lab.sh judges the
# console; on the debug kernel KASAN, lockdep and kmemleak after the run),
# every kernel socket and timer of the control channel is gone (the
# module comes back and works), and no object leaks.
set -uo pipefail
lab=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../qemu" && pwd)
# shellcheck source=SCRIPTDIR/../../qemu/topology.sh
source "$lab/topology.sh"
# shellcheck source=SCRIPTDIR/../../qemu/cluster.sh
source "$lab/cluster.sh"
# shellcheck source=SCRIPTDIR/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
trap '"$lab/nginx.sh" stop fe; "$lab/nginx.sh" stop be1; topology_down' EXIT

topology_up || { bad topology "topology_up failed"; summary unload; exit 1; }
for n in fe be1; do
  "$lab/content.sh" "$n" >/dev/null && "$lab/nginx.sh" start "$n" || { bad "nginx-$n" "did not start"; summary unload; exit 1; }
done
vip=$LAB_VIP
stat() { in_ns "$1" awk -v k="$2" '$1 == k { print $2 }' /proc/net/btcp/counters; }
ko=$(lab_module btcp.ko)

configure() {
  cluster_config "/small/=1,default=2" && cluster_wait_up
}
load() { # seconds: two wrk runs, local (/small/ served by fe) and remote
  local c; c=$(by_load 20 6)
  in_ns client wrk -t1 -c"$c" -d"$1"s --timeout 3s -H "Connection: close" "http://$vip/small/1k.bin" >/tmp/wrk-local 2>&1 &
  in_ns client wrk -t1 -c"$c" -d"$1"s --timeout 3s "http://$vip/whoami.txt" >/tmp/wrk-remote 2>&1 &
}

if configure; then ok cluster-up; else bad cluster-up "control channel not up"; fi
for round in 1 2; do
  load 8
  sleep 4
  h=$(stat fe handoff_acks)
  if rmmod btcp; then ok "rmmod-under-load-$round (after $h handoffs)"
  else bad "rmmod-under-load-$round" "rmmod failed"; fi
  wait
  if in_ns fe test -e /proc/net/btcp; then bad "unloaded-$round" "/proc/net/btcp still there"
  else ok "unloaded-$round"; fi
  # Back again: the same namespaces, a fresh channel, handoffs work.
  if insmod "$ko" && configure; then ok "reloaded-$round"; else bad "reloaded-$round" "insmod or channel failed"; fi
  got=$(in_ns client curl -sS --max-time 20 "http://$vip/whoami.txt")
  if [ "$got" = be1 ]; then ok "handoff-after-reload-$round"; else bad "handoff-after-reload-$round" "got '$got'"; fi
done
summary unload
