#!/bin/bash
# Guest script: handoff from the front-end to other nodes over the control
# channel, content-routed: /big/ to be2, everything else to be1. The
# back-ends' unmodified nginx answer the client directly (direct server
# return): the front-end never carries response bytes.
set -uo pipefail
lab=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../qemu" && pwd)
# shellcheck source=SCRIPTDIR/../../qemu/topology.sh
source "$lab/topology.sh"

# shellcheck source=SCRIPTDIR/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
servers=(be1 be2 "be3 --busybox")
# shellcheck disable=SC2086
cleanup() { local s; for s in "${servers[@]}"; do "$lab/nginx.sh" stop $s; done; topology_down; }
trap cleanup EXIT

topology_up || { bad topology "topology_up failed"; summary handoff-remote; exit 1; }
content=$("$lab/content.sh" fe "${LAB_BES[@]}") || { bad content "content.sh failed"; summary handoff-remote; exit 1; }
# shellcheck disable=SC2086 # "NS [--busybox]"
for s in "${servers[@]}"; do "$lab/nginx.sh" start $s || bad "server-$s" "did not start"; done
declare -A want=()
while read -r sum path; do want[$path]=$sum; done <"$content/manifest.sha256"
tmp=$(mktemp -d)
vip=$LAB_VIP
# shellcheck source=SCRIPTDIR/../../qemu/cluster.sh
source "$lab/cluster.sh"
stat() { in_ns "$1" awk -v k="$2" '$1 == k { print $2 }' /proc/net/btcp/counters; }
flows() { in_ns "$1" awk -v k="$2" '$1 == k { print $2 }' /proc/net/btcp/flows; }

# /big/ to be2, one file to busybox httpd on be3, the rest to be1.
if cluster_config "/big/=3,/small/4k.bin=4,default=2"; then ok cluster-config
else bad cluster-config "write failed: $(dmesg | tail -1)"; fi
# The channel comes up on its own (connect with backoff).
if cluster_wait_up; then ok "ctrl-channel-up"; else bad ctrl-channel-up "$(in_ns fe grep ctrl_ /proc/net/btcp/counters | tr '\n' '|')"; fi

fetch() { # NAME PATH WANT-SHA
  local got
  got=$(in_ns client curl -sS --noproxy '*' --fail --max-time 120 "http://$vip$2" 2>"$tmp/err" | sha256sum | cut -d' ' -f1)
  if [ "$got" = "$3" ]; then ok "$1"; else bad "$1" "sha256 $got want $3: $(cat "$tmp/err")"; fi
}
fetch whoami-routed-to-be1 /whoami.txt "$(echo be1 | sha256sum | cut -d' ' -f1)"
for f in /small/1.bin /small/1449.bin /small/64k.bin /small/1m.bin; do fetch "vip$f" "$f" "${want[$f]}"; done

fetch busybox-httpd-backend /small/4k.bin "${want[/small/4k.bin]}"
if grep -q "4k.bin" "$("$lab/nginx.sh" log be3 --busybox)" 2>/dev/null; then ok busybox-served-it
else bad busybox-served-it "no /small/4k.bin in be3's busybox log"; fi
# A head with bare-LF line ends never ends in CRLF CRLF: the front-end
# sees it is malformed and hands it to the default node (be1) at once,
# whose nginx takes LF line ends; not held until request-ms (10 s) and
# reset.
bare=$(in_ns client timeout 5 bash -c "exec 3<>/dev/tcp/$vip/80; printf 'GET /small/1k.bin HTTP/1.1\nHost: x\nConnection: close\n\n' >&3; head -c 12 <&3" 2>&1)
if [ "$bare" = "HTTP/1.1 200" ]; then ok "bare-lf-head-dispatched-at-once (be1 answered within 5 s)"
else bad bare-lf-head-dispatched-at-once "answer '$bare'"; fi

# A 20 KiB header: more than the front-end buffers (16 KiB), so the request
# goes to the default node unparsed, and its nginx answers.
code=$(in_ns client curl -sS -o /dev/null -w '%{http_code}' --max-time 20 \
  -H "X-Big: $(head -c 20480 /dev/zero | tr '\0' a)" "http://$vip/small/1k.bin")
case "$code" in 400|431|494) ok "20k-header-gets-the-backends-answer ($code)" ;;
  *) bad 20k-header-gets-the-backends-answer "HTTP $code" ;; esac

# A 64 MiB download routed to be2, watched on the front-end's link: not one
# packet with payload may come from the VIP there.
in_ns fe timeout 120 tcpdump -i eth0 -nn -q -w "$tmp/fe.pcap" \
  "tcp and src host $vip and (ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2)) > 0" 2>/dev/null &
dump=$!
sleep 1
fetch vip-64m-from-be2 /big/64m.bin "${want[/big/64m.bin]}"
sleep 0.5; kill "$dump" 2>/dev/null; wait "$dump" 2>/dev/null
n=$(tcpdump -nn -r "$tmp/fe.pcap" 2>/dev/null | wc -l)
if [ "$n" = 0 ]; then ok "fe-carries-no-response-bytes"; else bad fe-carries-no-response-bytes "$n packets with payload from the VIP on fe's link"; fi

for s in be1 be2; do
  log=$("$lab/nginx.sh" log "$s")
  c=$(grep -c "^$(ns_ip client):" "$log"); o=$(grep -vc "^$(ns_ip client):" "$log")
  if [ "$c" -gt 0 ] && [ "$o" = 0 ]; then ok "$s-served-the-real-client ($c requests)"
  else bad "$s-served-the-real-client" "$c from the client, $o others"; fi
done
if grep -q '/big/64m.bin' "$("$lab/nginx.sh" log be2)" && ! grep -q '/big/' "$("$lab/nginx.sh" log be1)"; then
  ok "content-routing"; else bad content-routing "/big/ not only on be2"; fi

# Load through the remote handoff, both connection modes: 50 connections
# for 20 s each (8 for 4 s with --load light), with zero errors, zero
# timeouts, zero non-2xx.
for mode in keepalive close; do
  hdr=(); [ "$mode" = close ] && hdr=(-H "Connection: close")
  in_ns client wrk -t"$(by_load 2 1)" -c"$(by_load 50 8)" -d"$(by_load 20 4)"s --timeout "$(by_load 10 30)"s "${hdr[@]}" "http://$vip/small/1k.bin" >"$tmp/wrk" 2>&1
  reqs=$(awk '/requests in/ { print $1 }' "$tmp/wrk")
  errs=$(grep -E 'Socket errors|Non-2xx' "$tmp/wrk" | tr '\n' ' ')
  if [ "${reqs:-0}" -gt 0 ] && [ -z "$errs" ]; then ok "wrk-$mode ($reqs requests, $(awk '/Requests\/sec/ { print $2 }' "$tmp/wrk") req/s)"
  else bad "wrk-$mode" "$(tr '\n' ' ' <"$tmp/wrk")"; fi
done

for n in fe be1 be2; do echo "== $n"; in_ns "$n" cat /proc/net/btcp/counters | grep -v '^ *[a-z_]* *[0-9]* *[0-9]* *[0-9]* *[0-9]' ; done
h=$(stat fe handoffs_remote); a=$(stat fe handoff_acks)
r=0 rep=0
for n in be1 be2 be3; do r=$((r + $(stat "$n" handoffs_received))); rep=$((rep + $(stat "$n" handoff_repeats))); done
# Every handoff acknowledged once; a request resent under load is answered
# again by the back-end that already has the flow (a repeat), never twice set up.
if [ "$h" -gt 0 ] && [ "$a" = "$h" ] && [ "$r" -le "$h" ] && [ $((r + rep)) -ge "$h" ]; then
  ok "handoffs-acked (fe sent $h, bes set up $r + $rep repeats, acks $a)"
else bad handoffs-acked "fe sent $h, bes set up $r + $rep repeats, acks $a"; fi
for n in fe be1 be2; do
  for k in handoff_nacks rewrite_failures inject_failures send_failures ctrl_send_failures ctrl_frames_rejected; do
    v=$(stat "$n" "$k"); [ "${v:-0}" = 0 ] || bad "$n-$k" "$k = $v"
  done
done
[ "$checks_failed" = 0 ] && ok "no-failures-counted"
if [ "$(stat fe be_translated_bytes)" = 0 ] && [ "$(stat be2 be_translated_bytes)" -ge $((64 << 20)) ]; then
  ok "responses-translated-at-be (be2 $(stat be2 be_translated_bytes) bytes, fe 0)"
else bad responses-translated-at-be "fe $(stat fe be_translated_bytes), be2 $(stat be2 be_translated_bytes)"; fi

for _ in $(seq "$(by_load 30 90)"); do
  t=$(live_flows fe be1 be2)
  [ "$t" = 0 ] && break; sleep 0.5
done
if [ "$t" = 0 ]; then ok live-flows-freed-everywhere
else bad live-flows-freed-everywhere "$(for n in fe be1 be2; do echo "$n:"; in_ns "$n" awk 'NR <= 2 || !/Linger/' /proc/net/btcp/flows; done | tr '\n' ' ')"; fi
live() { in_ns fe awk -v id="$1" '$1 == "ctrl_peer" && $2 == id { print $4 }' /proc/net/btcp/counters; }
# --- a back-end whose server is gone: busybox on be3 stops; be3's next
# HEARTBEAT says nothing listens for the VIP, and the front-end gives it
# no new connections: the request goes to the default node (be1) at once,
# without the NACK round trip of a replayed SYN refused (that path, for a
# server stopped between two heartbeats, is tests/lab/vm/server_health.sh's).
"$lab/nginx.sh" stop be3 --busybox
for _ in $(seq 40); do
  [[ "$(in_ns fe grep '^ctrl_peer 4 ' /proc/net/btcp/counters)" == *"no-listener $vip:80"* ]] && break
  sleep 0.1
done
sleep 0.5 # the shards take the peers' health on their next work run
n0=$(stat fe nack_refused) b0=$(grep -c "GET /small/4k.bin" "$("$lab/nginx.sh" log be1)")
fetch no-listener-goes-elsewhere /small/4k.bin "${want[/small/4k.bin]}"
b1=$(grep -c "GET /small/4k.bin" "$("$lab/nginx.sh" log be1)")
if [ "$(stat fe nack_refused)" = "$n0" ] && [ "$b1" = $((b0 + 1)) ]; then
  ok "no-listener-skipped (be1 served, no NACK)"
else bad no-listener-skipped "nack_refused $n0 -> $(stat fe nack_refused), be1 served $b0 -> $b1; fe: $(in_ns fe grep '^ctrl_peer 4 ' /proc/net/btcp/counters)"; fi

# --- a silent back-end: be2's link goes down, its heartbeats stop, and
# after peer-dead-ms (1.2 s) the front-end stops handing it new
# connections (/big/ goes to the default node meanwhile). The outage lasts 30 s: by then plain TCP
# would retransmit the heartbeats only every 20 s or so, and be2 would stay
# silent for that long after the link came back; the channel's user
# timeout (5 s) redials instead, so be2 is live again within seconds.
in_ns be2 ip link set eth0 down
down_ms=$(now_ms)
for _ in $(seq 80); do [ "$(live 3)" = silent ] && break; sleep 0.25; done
got=$(in_ns client curl -sS --max-time 20 -r 0-1023 "http://$vip/big/64m.bin" | wc -c)
if [ "$(live 3)" = silent ] && [ "$got" = 1024 ] && grep -q "GET /big/64m.bin" "$("$lab/nginx.sh" log be1)"; then
  ok "silent-peer-skipped (be2 silent, be1 served /big/)"
else bad silent-peer-skipped "be2 $(live 3), got $got bytes, be1 log: $(grep -c /big/ "$("$lab/nginx.sh" log be1)")"; fi
while [ $(($(now_ms) - down_ms)) -lt 30000 ]; do sleep 0.5; done
# Back means heard from again (fe's own connection up is not enough).
in_ns be2 ip link set eth0 up
up_ms=$(now_ms)
for _ in $(seq 240); do
  back_ms=$(($(now_ms) - up_ms)) h=$(peer_field fe 3 heard_ms_ago)
  [ "$(live 3)" = live ] && [ "${h:-$back_ms}" -lt "$back_ms" ] && break
  sleep 0.25
done
if [ "$(live 3)" = live ] && [ "${h:-$back_ms}" -lt "$back_ms" ] && [ "$back_ms" -le "$(by_load 10000 30000)" ]; then
  ok "peer-back-soon (be2 heard from and live within $back_ms ms after a 30 s outage ended)"
else bad peer-back-soon "be2 $(live 3), heard ${h:-never} ms ago, $back_ms ms after a 30 s outage ended"; fi
before=$(grep -c "GET /big/64m.bin" "$("$lab/nginx.sh" log be2)")
got=$(in_ns client curl -sS --max-time 20 -r 0-1023 "http://$vip/big/64m.bin" | wc -c)
if [ "$got" = 1024 ] && [ "$(grep -c "GET /big/64m.bin" "$("$lab/nginx.sh" log be2)")" -gt "$before" ]; then
  ok "peer-back-gets-handoffs (be2 $(live 3))"
else bad peer-back-gets-handoffs "be2 $(live 3), got $got bytes"; fi

# --- HTTPS by SNI: fe fronts VIP:443 as a TLS service; nginx with a
# self-signed certificate on be1-be3 terminates TLS. fe reads each
# ClientHello's server name and hands the connection to the node its rule
# names: a.example to be1, *.b.example to be2, a hello without a name (a
# client asking for an IP address sends none) to the default, be3.
# Byte-exact, and the response does not come through fe.
for n in be1 be2 be3; do "$lab/nginx.sh" start "$n" --port 443 --tls || bad "tls-server-$n" "nginx did not start"; done
if CLUSTER_SERVICES="$vip:80;$vip:443 tls" cluster_config "sni:a.example=2,sni:*.b.example=3,default=4" &&
  cluster_wait_up; then ok tls-service-configured
else bad tls-service-configured "$(in_ns fe cat /proc/net/btcp/config | tr '\n' '|')"; fi
tls_fetch() { # NAME HOST PATH WANT-SHA
  local got
  got=$(in_ns client curl -ksS --noproxy '*' --max-time 120 --resolve "$2:443:$vip" "https://$2$3" 2>"$tmp/err" | sha256sum | cut -d' ' -f1)
  if [ "$got" = "$4" ]; then ok "$1"; else bad "$1" "sha256 $got want $4: $(cat "$tmp/err")"; fi
}
tls_served() { grep -c "\"GET $2 HTTP/1.1\" 200 .* sni=$3\$" "$("$lab/nginx.sh" log "$1" --port 443)"; } # NODE PATH SNI
tls_fetch https-a.example a.example /small/4k.bin "${want[/small/4k.bin]}"
if [ "$(tls_served be1 /small/4k.bin a.example)" = 1 ]; then ok "sni-rule-be1 (a.example served by be1)"
else bad sni-rule-be1 "be1 443 log: $(tail -n 2 "$("$lab/nginx.sh" log be1 --port 443)")"; fi
fwd0=$(stat fe fe_forwarded_bytes) tr0=$(stat be2 be_translated_bytes)
tls_fetch https-64m-x.b.example x.b.example /big/64m.bin "${want[/big/64m.bin]}"
fwd=$(($(stat fe fe_forwarded_bytes) - fwd0)) tr=$(($(stat be2 be_translated_bytes) - tr0))
if [ "$(tls_served be2 /big/64m.bin x.b.example)" = 1 ] && [ "$tr" -ge $((64 << 20)) ] && [ "$fwd" -lt $((1 << 20)) ]; then
  ok "sni-wildcard-be2-direct-return (be2 translated $tr bytes, fe forwarded $fwd)"
else bad sni-wildcard-be2-direct-return "be2 translated $tr, fe forwarded $fwd; be2 443 log: $(tail -n 2 "$("$lab/nginx.sh" log be2 --port 443)")"; fi
tls_fetch https-no-name "$vip" /small/4k.bin "${want[/small/4k.bin]}"
if [ "$(tls_served be3 /small/4k.bin -)" = 1 ]; then ok "no-sni-default-be3 (no name: nginx logs -)"
else bad no-sni-default-be3 "be3 443 log: $(tail -n 2 "$("$lab/nginx.sh" log be3 --port 443)")"; fi
for n in be1 be2 be3; do "$lab/nginx.sh" stop "$n" --port 443; done
summary handoff-remote
