#!/bin/bash
# Multi-VM lab driver (qemu/run-cluster.sh runs it in the client's VM):
# the remote handoff across VMs. be1 serves the lab content with nginx;
# every node runs btcp with the lab's cluster configuration, everything
# to be1. The client fetches through the VIP on fe: byte-exact, served by
# be1 straight to the client (fe translates no response byte), and each
# node's CPU time for a 64 MiB download is printed, from the VMs' own
# /proc/stat.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
lab=$root/qemu
# shellcheck source=SCRIPTDIR/../../../qemu/vms.sh
source "$lab/vms.sh"
# shellcheck source=SCRIPTDIR/../checks.sh
source "$here/../checks.sh"
# shellcheck source=SCRIPTDIR/../../../qemu/cluster.sh
source "$lab/cluster.sh"
vip=$LAB_VIP
tmp=$(mktemp -d)

# The cluster's configuration, each node's through its own btcpctl.
for n in fe be1 be2 be3; do
  [[ " ${VM_NODES[*]} " == *" $n "* ]] || continue
  cfg="node ${LAB_NODE_ID[$n]} $(ns_ip "$n")"
  for p in fe be1 be2 be3; do
    [ "$p" = "$n" ] || [[ " ${VM_NODES[*]} " != *" $p "* ]] || cfg+=$'\n'"peer ${LAB_NODE_ID[$p]} $(ns_ip "$p")"
  done
  [ "$n" != fe ] || cfg+=$'\n'"service $vip:80"$'\n'"rules default=2"
  cfg+=$'\n'"key $LAB_KEY"
  if in_vm "$n" "printf '%s\n' $(printf %q "$cfg") | $LAB_BTCPCTL restore -"; then ok "config-$n"
  else bad "config-$n" "btcpctl restore failed"; fi
done
content=$(in_vm be1 "$lab/content.sh be1") && in_vm be1 "$lab/nginx.sh start be1" || bad nginx-be1 "did not start"
declare -A want=()
while read -r sum path; do want[$path]=$sum; done < <(in_vm be1 "cat $content/manifest.sha256")
up=0
for _ in $(seq 100); do
  up=$(in_vm fe "grep -c '^ctrl_peer .* up ' /proc/net/btcp/counters")
  [ "$up" -ge 1 ] && [ "$(in_vm fe "grep -c '^ctrl_peer 2 up live' /proc/net/btcp/counters")" = 1 ] && break
  sleep 0.2
done
[ "$up" -ge 1 ] && ok "ctrl-channel-up ($up peers)" || bad ctrl-channel-up "$(in_vm fe "grep ctrl_ /proc/net/btcp/counters" | tr '\n' '|')"

fetch() { # NAME PATH
  local got
  got=$(curl -sS --noproxy '*' --fail --max-time 300 "http://$vip$2" 2>"$tmp/err" | sha256sum | cut -d' ' -f1)
  if [ "$got" = "${want[$2]:-}" ]; then ok "$1"; else bad "$1" "sha256 $got want ${want[$2]:-?}: $(cat "$tmp/err")"; fi
}
[ "$(curl -sS --max-time 30 "http://$vip/whoami.txt")" = be1 ] && ok "served-by-be1" || bad served-by-be1 "whoami says otherwise"
for f in /small/1.bin /small/1449.bin /small/1m.bin; do fetch "vip$f" "$f"; done

# busy_ms NODE: the VM's CPU time not idle, in ms, from its /proc/stat.
busy_ms() {
  in_vm "$1" "awk '\$1 == \"cpu\" { print (\$2 + \$3 + \$4 + \$7 + \$8) * 1000 / $(getconf CLK_TCK) }' /proc/stat"
}
declare -A before=()
for n in "${VM_NODES[@]}"; do before[$n]=$(busy_ms "$n"); done
t0=$(now_ms)
fetch vip-64m /big/64m.bin
ms=$(($(now_ms) - t0))
line="64 MiB through the VIP in $ms ms; CPU busy, ms:"
for n in "${VM_NODES[@]}"; do line+=" $n $(($(busy_ms "$n") - before[$n]))"; done
echo "$line"

fe_tr=$(in_vm fe "awk '\$1 == \"be_translated_bytes\" { print \$2 }' /proc/net/btcp/counters")
be_tr=$(in_vm be1 "awk '\$1 == \"be_translated_bytes\" { print \$2 }' /proc/net/btcp/counters")
if [ "$fe_tr" = 0 ] && [ "${be_tr:-0}" -ge $((64 << 20)) ]; then ok "responses-from-be1-not-fe (be1 translated $be_tr bytes, fe 0)"
else bad responses-from-be1-not-fe "fe $fe_tr, be1 $be_tr"; fi
in_vm be1 "$lab/nginx.sh stop be1"
summary vm-handoff
