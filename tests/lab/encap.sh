#!/bin/bash
# Guest script: forwarding inside IPIP (`encap ipip`;
# rust/btcp-core/src/encap.rs). The front-end sends the client's packets
# to be1 inside an outer IPv4 header from its node address; be1 strips it
# and serves as before. A 64 MiB download and a 900 KiB upload go through
# byte-exact (1 MiB each with --load light; the upload to a CGI of busybox httpd on be2 that answers
# with the body's sha256), be1's link carries the client's packets only inside IPIP,
# and no client segment is too big for the tunnel (the front-end
# announced a 20-byte smaller MSS: no "fragmentation needed" sent). An
# attacker on the link (tests/lab/attacker.sh) that sends segments for
# the connection to be1 inside IPIP from its own address gets them
# dropped and counted (forward_foreign), and the download completes.
# Last, a back-end on another subnet: node 5 ("far", 10.98.0.2) behind a
# router namespace ("rtr"), which Ethernet-source forwarding could not
# reach: the download is routed to it and is byte-exact,
# answered by far's nginx straight to the client through the router.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lab=$(cd "$here/../../qemu" && pwd)
# shellcheck source=SCRIPTDIR/../../qemu/topology.sh
source "$lab/topology.sh"
# shellcheck source=SCRIPTDIR/../../qemu/cluster.sh
source "$lab/cluster.sh"
# shellcheck source=SCRIPTDIR/checks.sh
source "$here/checks.sh"
# shellcheck source=SCRIPTDIR/attacker.sh
source "$here/attacker.sh"
tmp=$(mktemp -d)
far_net=10.98.0 rtr_addr=$LAB_NET.60
# far_up: the router (a leg on the lab bridge, one into far) and far.
far_up() {
  ip netns add rtr && ip netns add far &&
    ip link add v-rtr type veth peer name eth0 netns rtr &&
    ip link set v-rtr master "$LAB_BRIDGE" up &&
    ip -n rtr link add eth1 type veth peer name eth0 netns far &&
    ip -n rtr -batch - <<<"link set lo up
addr add $rtr_addr/$LAB_PREFIX dev eth0
addr add $far_net.1/24 dev eth1
link set eth0 up
link set eth1 up" &&
    in_ns rtr sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
      net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0 net.ipv4.conf.eth1.rp_filter=0 &&
    ip -n far -batch - <<<"link set lo up
addr add $far_net.2/24 dev eth0
link set eth0 up
route add $LAB_NET.0/$LAB_PREFIX via $far_net.1" &&
    ip -n fe route add "$far_net.0/24" via "$rtr_addr"
}
far_down() {
  ip netns pids far 2>/dev/null | xargs -r kill 2>/dev/null
  ip link del v-rtr 2>/dev/null
  ip netns del far 2>/dev/null; ip netns del rtr 2>/dev/null
  return 0
}
cleanup() {
  attacker_down; "$lab/nginx.sh" stop far; far_down
  "$lab/nginx.sh" stop be1; "$lab/nginx.sh" stop be2 --busybox; topology_down
}
trap cleanup EXIT

up_with_be1 encap
vip=$LAB_VIP client=$(ns_ip client) be1=$(ns_ip be1) fe=$(ns_ip fe)
attacker_up || { bad attacker-namespace "could not make it"; summary encap; exit 1; }
content=$("$lab/content.sh" be2) && mkdir -p "$content/www/be2/cgi-bin" && cat >"$content/www/be2/cgi-bin/sum" <<'CGI'
#!/bin/sh
# POST body in, its length and sha256 out.
printf 'Content-Type: text/plain\r\n\r\n'
sum=$(/usr/bin/head -c "${CONTENT_LENGTH:-0}" | /usr/bin/sha256sum)
echo "len=${CONTENT_LENGTH:-0} sha=${sum%% *}"
CGI
chmod 755 "$content/www/be2/cgi-bin/sum" && "$lab/nginx.sh" start be2 --busybox || bad busybox-be2 "did not start"
if cluster_config "/cgi-bin/=3,default=2" "encap ipip" && cluster_wait_up; then ok cluster-up
else bad cluster-up "control channel not up"; summary encap; exit 1; fi

tun0=$(counter fe fe_tunnelled_packets) dec0=$(($(counter be1 be_decapsulated_packets) + $(counter be2 be_decapsulated_packets)))
frag0=$(counter fe frag_needed_sent)
# be1's link, during the transfers: IPIP from fe, and plain client
# segments (there must be none).
in_ns be1 timeout 300 tcpdump -U -i eth0 -nn -q -w "$tmp/be1.pcap" \
  "(ip proto 4 and src host $fe) or (tcp and src host $client)" 2>/dev/null &
dump=$!
# Capturing once the file has its header (seconds on the debug kernel).
for _ in $(seq 100); do [ -s "$tmp/be1.pcap" ] && break; sleep 0.2; done
sleep 0.5
# 64 MiB (1 MiB with --load light: the debug kernel).
path=$(by_load /big/64m.bin /small/1m.bin)
got=$(in_ns client curl -sS --noproxy '*' --fail --max-time 240 "http://$vip$path" 2>"$tmp/err" | sha256sum | cut -d' ' -f1)
if [ "$got" = "${want[$path]}" ]; then ok "download-byte-exact ($path)"; else bad download-byte-exact "sha256 $got: $(cat "$tmp/err")"; fi
# An upload of 4 MiB (1 MiB light), to be2's CGI.
up=$(by_load $((4 << 20)) $((1 << 20)))
head -c "$up" /dev/urandom >"$tmp/4m"
body=$(in_ns client curl -sS --noproxy '*' --fail --max-time 120 -H 'Expect:' --data-binary "@$tmp/4m" \
  "http://$vip/cgi-bin/sum" 2>"$tmp/err")
if [ "$body" = "len=$up sha=$(sha256sum <"$tmp/4m" | cut -d' ' -f1)" ]; then ok "upload-byte-exact ($up bytes)"
else bad upload-byte-exact "answer '$body': $(cat "$tmp/err")"; fi
sleep 0.5; kill "$dump" 2>/dev/null; wait "$dump" 2>/dev/null
ipip=$(tcpdump -nn -r "$tmp/be1.pcap" 'ip proto 4' 2>/dev/null | wc -l)
plain=$(tcpdump -nn -r "$tmp/be1.pcap" 'tcp' 2>/dev/null | wc -l)
tun=$(($(counter fe fe_tunnelled_packets) - tun0))
dec=$(($(counter be1 be_decapsulated_packets) + $(counter be2 be_decapsulated_packets) - dec0))
# Light (1 MiB down, be1 sees only its ACKs: ~20 IPIP packets) needs only
# enough to show the capture saw the tunnel.
if [ "$ipip" -gt "$(by_load 300 5)" ] && [ "$plain" = 0 ] && [ "$tun" -gt "$(by_load 300 20)" ] && [ "$dec" -ge "$tun" ]; then
  ok "client-packets-only-inside-ipip ($ipip IPIP packets on be1's link, $plain plain; fe tunnelled $tun, be1 and be2 stripped $dec)"
else bad client-packets-only-inside-ipip "$ipip IPIP, $plain plain on be1's link; fe tunnelled $tun, be1 stripped $dec"; fi
frag=$(($(counter fe frag_needed_sent) - frag0))
[ "$frag" = 0 ] && ok "no-segment-too-big-for-the-tunnel" || bad no-segment-too-big-for-the-tunnel "frag_needed_sent +$frag"

# Forged segments inside IPIP from the attacker's own address.
port=45123
foreign0=$(counter be1 forward_foreign)
# shellcheck disable=SC2046 # two words: SEQ ACK
paused_fetch "$path" $port "$tmp" && set -- $(cat "$tmp/aim")
if [ $# = 2 ]; then ok "client-paused-mid-download"
else bad client-paused-mid-download "peek: $(tr '\n' '|' <"$tmp/peek") fetch: $(tr '\n' '|' <"$tmp/fetch")"; summary encap; exit 1; fi
sent=$(in_ns $ATTACKER timeout 60 /usr/bin/python3 "$ATTACKER_PY" forward "$be1" "$client" $port "$1" 40 "$LAB_NET.66" 2>"$tmp/forward")
foreign=$(($(counter be1 forward_foreign) - foreign0))
resume_fetch "$tmp"
if [ "$FETCH_SHA" = "${want[$path]}" ]; then ok "download-byte-exact-under-attack"
else bad download-byte-exact-under-attack "$(tail -3 "$tmp/fetch" | tr '\n' '|')"; fi
if [ "$foreign" -ge 40 ]; then ok "ipip-from-another-host-dropped ($sent; forward_foreign +$foreign)"
else bad ipip-from-another-host-dropped "forward_foreign +$foreign: $(tail -2 "$tmp/forward" | tr '\n' '|')"; fi

# A back-end on another subnet.
ctl() { local n=$1; shift; in_ns "$n" "$LAB_BTCPCTL" "$@"; }
if far_up && "$lab/content.sh" far >/dev/null && "$lab/nginx.sh" start far &&
  printf 'node 5 %s\npeer 1 %s\nkey %s\n' "$far_net.2" "$fe" "$LAB_KEY" | ctl far restore - &&
  ctl fe node add 5 "$far_net.2" && ctl fe rule add "$path" 5; then ok "far-back-end-set-up"
else bad far-back-end-set-up "$(dmesg | tail -2 | tr '\n' '|')"; fi
for _ in $(seq 50); do [ "$(peer_field fe 5 heard_ms_ago)" != "" ] && break; sleep 0.2; done
dec0=$(counter far be_decapsulated_packets)
got=$(in_ns client curl -sS --noproxy '*' --fail --max-time 240 "http://$vip$path" 2>"$tmp/err" | sha256sum | cut -d' ' -f1)
dec=$(($(counter far be_decapsulated_packets) - dec0))
log=$("$lab/nginx.sh" log far)
if [ "$got" = "${want[$path]}" ] && [ "$dec" -gt 0 ] && grep -q "^$client:.*GET $path" "$log"; then
  ok "far-back-end-byte-exact ($path from far's nginx, across the router; far stripped $dec IPIP packets)"
else bad far-back-end-byte-exact "sha256 $got, far stripped $dec, far log: $(grep -c "GET $path" "$log" 2>/dev/null): $(cat "$tmp/err")"; fi

for _ in $(seq 50); do [ "$(live_flows fe be1 far)" = 0 ] && break; sleep 0.2; done
if [ "$(live_flows fe be1 far)" = 0 ]; then ok live-flows-freed
else bad live-flows-freed "$(in_ns fe head -2 /proc/net/btcp/flows | tr '\n' '|')"; fi
summary encap
