#!/bin/bash
# Guest script: a front-end dies with a connection handed off
# (Documentation/handoff.md, "When a front-end dies"), in one guest, so
# that the debug kernel runs it too (the multi-VM lab's
# tests/lab/vm/fe_failover.sh does it under load). fe and be1 front the
# VIP under keepalived (VRRP, unicast; fe the higher priority), both
# handing every request to be2, whose nginx serves. A download through
# the VIP, read at a fixed rate (64 MiB at 4 MB/s; 1 MiB at 100 KB/s with
# --load light; the client's receive buffer 64 KiB, so the server is never
# far ahead), runs while fe's link goes down 3 s in. What must hold: be1
# takes the VIP; be2 announces the connection (flows_announced) and be1
# adopts it (flows_adopted), be2 takes be1 as its front-end (when be1
# forwards, orphans_adopted, or asks, flows_handed_over); the download completes byte-exact; afterwards no
# live flow is left on be1 or be2. Then a planned switch back to fe (be1's
# keepalived stopped while be1 lives): be2 hands fe the connection when
# fe asks (flows_handed_over), and a second download is byte-exact.
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
cleanup() {
  pkill -f "keepalived.*$tmp/" 2>/dev/null
  "$lab/nginx.sh" stop be2
  topology_down
}
trap cleanup EXIT
# vrrp NODE PRIORITY PEER: keepalived's VRRP in NODE's namespace.
vrrp() {
  cluster_vrrp_conf "$@" >"$tmp/vrrp-$1.conf"
  ip netns exec "$1" setsid keepalived --vrrp --dont-fork --log-console -f "$tmp/vrrp-$1.conf" \
    -p "$tmp/vrrp-$1.pid" -r "$tmp/vrrp-$1-child.pid" >"$tmp/vrrp-$1.log" 2>&1 </dev/null &
}
has_vip() { ip -n "$1" -br addr show dev eth0 | grep -q " $LAB_VIP/"; }
wait_vip() { # NODE: until NODE holds the VIP (15 s at most)
  local _
  for _ in $(seq 150); do has_vip "$1" && return 0; sleep 0.1; done
  return 1
}

topology_up || { bad topology "topology_up failed"; summary fe-failover; exit 1; }
# A small receive buffer, so that the server stays only 64 KiB ahead of
# the rate-limited reader: the transfer is under way on the wire when fe
# dies, not already in the client's socket buffer.
in_ns client sysctl -qw net.ipv4.tcp_rmem="4096 65536 65536"
content=$("$lab/content.sh" be2) && "$lab/nginx.sh" start be2 ||
  { bad nginx "did not start"; summary fe-failover; exit 1; }
path=$(by_load /big/64m.bin /small/1m.bin) rate=$(by_load 4000000 100000)
sha=$(awk -v p="$path" '$2 == p { print $1 }' "$content/manifest.sha256")
size=$(stat -c %s "$content/files$path")
if cluster_config "default=3" && cluster_wait_up &&
  in_ns be1 "$LAB_BTCPCTL" service add "$LAB_VIP:80" && in_ns be1 "$LAB_BTCPCTL" rule default 3; then
  ok configured
else bad configured "the cluster's control channel is not up"; summary fe-failover; exit 1; fi
ip -n fe addr del "$LAB_VIP/$LAB_PREFIX" dev eth0
vrrp fe 150 be1
if wait_vip fe; then vrrp be1 100 fe; sleep 2; fi
if has_vip fe && ! has_vip be1; then ok vrrp-fe-master
else bad vrrp-fe-master "fe: $(tail -n 3 "$tmp/vrrp-fe.log" | tr '\n' '|')"; summary fe-failover; exit 1; fi

# get OUT: the download, in the background (its pid in $curl): curl,
# rate-limited, into OUT; with --load light the 1 MiB file is read at a
# fixed rate by tests/lab/faults/client.py instead ("r1=STATUS:LEN:SHA256"
# into OUT: curl's limit lets the stack take a small file whole at once,
# before fe dies; the script's buffering suits small files only).
get() {
  if [ "${LAB_LOAD:-full}" = light ]; then
    in_ns client /usr/bin/python3 "$here/faults/client.py" "$LAB_VIP" slowread "$path" \
      --rate "$rate" --timeout 120 >"$1" 2>&1 &
  else
    in_ns client curl -sS --limit-rate "$rate" --max-time 120 -o "$1.body" "http://$LAB_VIP$path" >"$1" 2>&1 &
  fi
  curl=$!
}
# got OUT: whether OUT's download is whole and exact.
got() {
  if [ -f "$1.body" ]; then
    [ "$(stat -c %s "$1.body")" = "$size" ] && sha256sum "$1.body" | grep -q "^$sha "
  else grep -q "r1=200:$size:$sha" "$1"; fi
}
get "$tmp/got"
sleep 3
ip -n fe link set eth0 down
if wait_vip be1; then ok "be1-took-the-vip"
else bad be1-took-the-vip "$(tail -n 5 "$tmp/vrrp-be1.log" | tr '\n' '|')"; fi
wait "$curl"
if got "$tmp/got"; then ok "download-byte-exact ($path across the failover)"
else bad download-byte-exact "$(cat "$tmp/got")"; fi
announced=$(counter be2 flows_announced) adopted=$(counter be1 flows_adopted)
orphans=$(counter be2 orphans_adopted) handed=$(counter be2 flows_handed_over)
# be2 took be1 as the connection's front-end when be1 forwarded its
# client's segment, or when be1 asked (it took the VIP), whichever came
# first.
if [ "$announced" -ge 1 ] && [ "$adopted" -ge 1 ] && [ $((orphans + handed)) -ge 1 ]; then
  ok "announced-and-adopted (be2 announced $announced, be1 adopted $adopted, be2 took be1 on its forwarding $orphans, on its query $handed)"
else bad announced-and-adopted "announced $announced, adopted $adopted, orphans adopted $orphans, handed over $handed"; fi
left=$(live_flows be1 be2)
for _ in $(seq 50); do [ "$left" = 0 ] && break; sleep 0.2; left=$(live_flows be1 be2); done
if [ "$left" = 0 ]; then ok "flows-freed"
else bad flows-freed "$left live flows left on be1 and be2"; fi

# A planned switch back: fe returns, be1's keepalived stops (it gives the
# VIP up at once), fe takes it while be1 lives: fe's shell sees the VIP
# and asks the back-ends (FLOW_QUERY); be2 hands it the connection.
ip -n fe link set eth0 up
cluster_wait_up || bad fe-back "fe's channel did not come up again"
handed0=$(counter be2 flows_handed_over) adopted0=$(counter fe flows_adopted)
get "$tmp/got2"
sleep 3
pkill -f "keepalived.*vrrp-be1" 2>/dev/null
if wait_vip fe; then ok "fe-took-the-vip-back"
else bad fe-took-the-vip-back "$(tail -n 5 "$tmp/vrrp-fe.log" | tr '\n' '|')"; fi
wait "$curl"
if got "$tmp/got2"; then ok "switch-download-byte-exact ($path across the switch)"
else bad switch-download-byte-exact "$(cat "$tmp/got2")"; fi
handed=$(($(counter be2 flows_handed_over) - handed0)) adopted=$(($(counter fe flows_adopted) - adopted0))
if [ "$handed" -ge 1 ] && [ "$adopted" -ge 1 ]; then ok "handed-to-fe (be2 handed over $handed, fe adopted $adopted)"
else bad handed-to-fe "handed over $handed, adopted $adopted"; fi
summary fe-failover
