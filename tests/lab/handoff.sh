#!/bin/bash
# Guest script: the handoff through btcp, with the front-end choosing itself
# (local handoff): the client's connection to the VIP is completed below
# TCP, the request read, and the connection replayed into fe's own stack,
# where an unmodified nginx serves it.
set -uo pipefail
lab=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../qemu" && pwd)
# shellcheck source=SCRIPTDIR/../../qemu/topology.sh
source "$lab/topology.sh"

# shellcheck source=SCRIPTDIR/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
trap '"$lab/nginx.sh" stop fe; topology_down' EXIT

topology_up || { bad topology "topology_up failed"; summary handoff; exit 1; }
content=$("$lab/content.sh" fe) || { bad content "content.sh failed"; summary handoff; exit 1; }
"$lab/nginx.sh" start fe || { bad nginx "did not start"; summary handoff; exit 1; }
declare -A want=()
while read -r sum path; do want[$path]=$sum; done <"$content/manifest.sha256"
want[/whoami.txt]=$(echo fe | sha256sum | cut -d' ' -f1)
tmp=$(mktemp -d)
vip=$LAB_VIP
stat() { in_ns fe awk -v k="$1" '$1 == k { print $2 }' /proc/net/btcp/counters; }
flows() { in_ns fe awk -v k="$1" '$1 == k { print $2 }' /proc/net/btcp/flows; }

# --- configuration through /proc/net/btcp/config
cfg="node 1 $(ns_ip fe)
ctrl-port 7447
service $vip:80
rules /=1,default=1"
if in_ns fe sh -c "printf '%s\n' '$cfg' > /proc/net/btcp/config" &&
   [ "$(in_ns fe cat /proc/net/btcp/config)" = "$cfg" ]; then ok config-round-trip
else bad config-round-trip "read back: $(in_ns fe cat /proc/net/btcp/config | tr '\n' '|')"; fi
err=$(in_ns fe sh -c 'printf "node 1 10.99.0.1\npeer 2 10.99.0.300\n" > /proc/net/btcp/config' 2>&1)
if [ -n "$err" ] && [ "$(in_ns fe cat /proc/net/btcp/config)" = "$cfg" ] &&
   grep -q 'config: line 2: bad IPv4 address' <<<"$(dmesg)"; then ok "config-bad-input-rejected ($err)"
else bad config-bad-input-rejected "err='$err', config now: $(in_ns fe cat /proc/net/btcp/config | tr '\n' '|')"; fi

# --- requests through the VIP, bodies checked
fetch() { # NAME PATH
  local got
  got=$(in_ns client curl -sS --noproxy '*' --fail --max-time 120 "http://$vip$2" 2>"$tmp/err" | sha256sum | cut -d' ' -f1)
  if [ "$got" = "${want[$2]}" ]; then ok "$1"; else bad "$1" "sha256 $got want ${want[$2]}: $(cat "$tmp/err")"; fi
}
fetch vip-whoami /whoami.txt
for f in /small/1.bin /small/1448.bin /small/1449.bin /small/64k.bin /small/1m.bin; do fetch "vip$f" "$f"; done
fetch vip-64m /big/64m.bin
n_conn=7
if grep -q "^$(ns_ip client):[0-9]* \"GET /whoami.txt" "$("$lab/nginx.sh" log fe)"; then
  ok "nginx-sees-real-client"
else bad nginx-sees-real-client "$(tail -3 "$("$lab/nginx.sh" log fe)")"; fi

# Garbage is handed to the default node like anything else, whose nginx
# answers it: btcp never writes HTTP itself.
resp=$(in_ns client bash -c "exec 3<>/dev/tcp/$vip/80; printf 'GARBAGE\r\n\r\n' >&3; head -c 200 <&3" 2>&1)
if [[ "$resp" == "HTTP/1.1 400"* ]]; then ok "garbage-gets-nginx-400"; else bad garbage-gets-nginx-400 "got: ${resp:0:80}"; fi
n_conn=$((n_conn + 1))

# The real address of the node is not a service: not handed off.
before=$(stat handoffs_local)
got=$(in_ns client curl -sS --max-time 20 "http://$(ns_ip fe)/whoami.txt")
if [ "$got" = fe ] && [ "$(stat handoffs_local)" = "$before" ]; then ok non-service-untouched
else bad non-service-untouched "body '$got', handoffs $before -> $(stat handoffs_local)"; fi

# --- load: keep-alive and Connection: close, bounded in time
for mode in keepalive close; do
  hdr=(); [ "$mode" = close ] && hdr=(-H "Connection: close")
  in_ns client wrk -t1 -c"$(by_load 50 8)" -d"$(by_load 8 3)"s --timeout "$(by_load 10 30)"s "${hdr[@]}" "http://$vip/small/1k.bin" >"$tmp/wrk" 2>&1
  reqs=$(awk '/requests in/ { print $1 }' "$tmp/wrk")
  if [ "${reqs:-0}" -gt 0 ] && ! grep -q -e 'Socket errors' -e 'Non-2xx' "$tmp/wrk"; then
    ok "wrk-$mode ($reqs requests, $(awk '/Requests\/sec/ { print $2 }' "$tmp/wrk") req/s, no errors)"
  else bad "wrk-$mode" "$(tr '\n' ' ' <"$tmp/wrk")"; fi
done

# --- what btcp did
echo "== /proc/net/btcp/counters (fe)"; in_ns fe cat /proc/net/btcp/counters
for k in handoff_nacks rewrite_failures inject_failures send_failures syn_table_full; do
  v=$(stat "$k"); if [ "$v" = 0 ]; then ok "stat-$k-zero"; else bad "stat-$k-zero" "$k = $v"; fi
done
h=$(stat handoffs_local); a=$(stat handoff_acks)
if [ "$h" -ge "$n_conn" ] && [ "$a" = "$h" ]; then ok "every-handoff-acked ($a)"
else bad every-handoff-acked "handoffs $h, acks $a, want >= $n_conn"; fi
if [ "$(stat be_translated_bytes)" -ge $((64 << 20)) ]; then ok "responses-translated ($(stat be_translated_bytes) bytes)"
else bad responses-translated "be_translated_bytes $(stat be_translated_bytes)"; fi

# --- at the default linger (60 s): no live flow is left once the clients
# are done; the closed ones linger (tests/lab/table.sh waits for a table to
# drain after the linger)
for _ in $(seq "$(by_load 20 60)"); do [ "$(live_flows fe)" = 0 ] && break; sleep 0.5; done
if [ "$(live_flows fe)" = 0 ]; then ok "live-flows-freed ($(flows fe_flows) fe, $(flows be_flows) be lingering)"
else bad live-flows-freed "$(in_ns fe cat /proc/net/btcp/flows | head -5 | tr '\n' '|')"; fi
summary handoff
