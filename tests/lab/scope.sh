#!/bin/bash
# Guest script: what a back-end takes a HANDOFF_REQ for
# (rust/btcp-core/src/scope.rs). A rogue node (rogue_node.py, id 9 at an
# address the lab leaves unassigned, a configured peer holding the cluster
# key) connects to be1's control port and asks it to replay connections:
# without a HELLO; to a port and a VIP it did not announce; for clients
# that cannot be remote (loopback, multicast, a node, the VIP). be1 refuses
# every one (ctrl_out_of_scope) and replays nothing; the one request inside
# what the rogue announced is taken, so the refusals are the checks' doing.
# The real front-end's handoffs go on as before.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lab=$(cd "$here/../../qemu" && pwd)
# shellcheck source=SCRIPTDIR/../../qemu/topology.sh
source "$lab/topology.sh"
# shellcheck source=SCRIPTDIR/../../qemu/cluster.sh
source "$lab/cluster.sh"
# shellcheck source=SCRIPTDIR/checks.sh
source "$here/checks.sh"
tmp=$(mktemp -d)
cleanup() { "$lab/nginx.sh" stop be1; topology_down; }
trap cleanup EXIT

up_with_be1 scope
vip=$LAB_VIP
rogue=$LAB_NET.21
fetch() { # NAME: /whoami.txt through the VIP, from be1
  local got
  got=$(in_ns client curl -sS --noproxy '*' --fail --max-time 20 "http://$vip/whoami.txt" 2>"$tmp/err")
  if [ "$got" = be1 ]; then ok "$1"; else bad "$1" "got '$got': $(cat "$tmp/err")"; fi
}
if cluster_config "default=2" "peer 9 $rogue" && cluster_wait_up; then ok cluster-up
else bad cluster-up "$(in_ns fe grep ctrl_ /proc/net/btcp/counters | tr '\n' '|')"; summary scope; exit 1; fi
fetch fe-hands-off-to-be1
ip -n client addr add "$rogue/$LAB_PREFIX" dev eth0
# rogue [--hello EPS] --req CLIENT VIP:PORT ...: one connection to be1.
rogue() {
  in_ns client timeout 30 /usr/bin/python3 "$here/rogue_node.py" --key "$LAB_KEY" \
    --sender 9 --recipient "${LAB_NODE_ID[be1]}" --from "$rogue" --to "$(ns_ip be1)" --linger 2 "$@" 2>"$tmp/rogue" ||
    bad rogue-ran "$(cat "$tmp/rogue")"
}
scope0=$(counter be1 ctrl_out_of_scope) got0=$(counter be1 handoffs_received) rej0=$(counter be1 ctrl_frames_rejected)
# Unassigned lab addresses stand for remote clients.
c1=$LAB_NET.30 c2=$LAB_NET.31

rogue --req "$c1" "$vip:80"
d=$(($(counter be1 ctrl_out_of_scope) - scope0))
[ "$d" = 1 ] && ok "no-hello-refused" || bad no-hello-refused "ctrl_out_of_scope +$d"

other_vip=$LAB_NET.101
rogue --hello "$vip:80" \
  --req "$c1" "$vip:22" --req "$c1" "$vip:8080" --req "$c1" "$other_vip:80" \
  --req 127.0.0.1 "$vip:80" --req 224.0.0.5 "$vip:80" --req 255.255.255.255 "$vip:80" \
  --req "$(ns_ip fe)" "$vip:80" --req "$vip" "$vip:80" \
  --req "$c2" "$vip:80"
d=$(($(counter be1 ctrl_out_of_scope) - scope0)) g=$(($(counter be1 handoffs_received) - got0))
[ "$d" = 9 ] && ok "out-of-scope-refused (8 more: other port x2, other VIP, loopback, multicast, broadcast, a node, the VIP)" ||
  bad out-of-scope-refused "ctrl_out_of_scope +$d, want 9"
[ "$g" = 1 ] && ok "the-announced-service-is-taken (handoffs_received +1)" || bad the-announced-service-is-taken "handoffs_received +$g, want 1"
r=$(($(counter be1 ctrl_frames_rejected) - rej0))
[ "$r" = 0 ] && ok "rogue-frames-authentic" || bad rogue-frames-authentic "$r frames rejected"
# One flow from the rogue on be1, the one it was allowed.
n=$(in_ns be1 awk '$1 == "be" && $NF == 9 && $(NF - 1) == "from"' /proc/net/btcp/flows | wc -l)
[ "$n" = 1 ] && ok "one-flow-from-the-rogue" || bad one-flow-from-the-rogue "$n flows: $(in_ns be1 grep '^be ' /proc/net/btcp/flows | head -3 | tr '\n' '|')"

fetch fe-still-hands-off
for k in nack_out_of_scope handoff_nacks; do
  v=$(counter fe "$k"); [ "${v:-0}" = 0 ] && ok "fe-$k-0" || bad "fe-$k-0" "$k = $v"
done
summary scope
