#!/bin/bash
# Multi-VM lab driver (qemu/run-cluster.sh runs it in the client's VM):
# the remote handoff across VMs. be1 serves the lab content with nginx;
# every node runs btcp with the lab's cluster configuration, everything
# to be1. The client fetches through the VIP on fe: byte-exact, served by
# be1 straight to the client (fe translates no response byte), and each
# node's CPU time for a 64 MiB download is printed, as the host counts it
# (qemu/cpu-meter.py).
set -uo pipefail
# shellcheck source=SCRIPTDIR/driver.sh
source "$(dirname "${BASH_SOURCE[0]}")/driver.sh"
vip=$LAB_VIP

# The cluster's configuration, each node's through its own btcpctl.
if cluster_config "default=2"; then ok config; else bad config "btcpctl restore failed"; fi
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

before=$(vm_cpu) || bad cpu-meter "no answer from $VM_METER_IP"
fetch vip-64m /big/64m.bin
after=$(vm_cpu)
echo "64 MiB through the VIP; CPU ms (host's count for each VM):" $(vm_cpu_delta "$before" "$after")

fe_tr=$(in_vm fe "awk '\$1 == \"be_translated_bytes\" { print \$2 }' /proc/net/btcp/counters")
be_tr=$(in_vm be1 "awk '\$1 == \"be_translated_bytes\" { print \$2 }' /proc/net/btcp/counters")
if [ "$fe_tr" = 0 ] && [ "${be_tr:-0}" -ge $((64 << 20)) ]; then ok "responses-from-be1-not-fe (be1 translated $be_tr bytes, fe 0)"
else bad responses-from-be1-not-fe "fe $fe_tr, be1 $be_tr"; fi
in_vm be1 "$lab/nginx.sh stop be1"
summary vm-handoff
