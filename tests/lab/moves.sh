#!/bin/bash
# Guest script: per-request dispatch on persistent connections (issue 14,
# items 1 and 4; Documentation/dispatch.md, "Per-request dispatch"). Rules
# /small/16k.bin to be2, /small/ to be1, /big/ to be2, the rest to be3. A
# keep-alive client's requests are each served, byte-exact, by the node
# its rule names, on one client connection (the client's port in each
# node's nginx log), the front-end carrying no response bytes; the
# connection moves between back-ends as the rules say (the moves counter),
# and every flow is freed at the end (run-lab.sh scans the kernel log).
set -uo pipefail
lab=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../qemu" && pwd)
# shellcheck source=SCRIPTDIR/../../qemu/topology.sh
source "$lab/topology.sh"
# shellcheck source=SCRIPTDIR/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
servers=(be1 be2 be3)
cleanup() { local s; for s in "${servers[@]}"; do "$lab/nginx.sh" stop "$s"; done; topology_down; }
trap cleanup EXIT

topology_up || { bad topology "topology_up failed"; summary moves; exit 1; }
content=$("$lab/content.sh" fe "${LAB_BES[@]}") || { bad content "content.sh failed"; summary moves; exit 1; }
for s in "${servers[@]}"; do "$lab/nginx.sh" start "$s" || bad "server-$s" "did not start"; done
declare -A want=()
while read -r sum path; do want[$path]=$sum; done <"$content/manifest.sha256"
want[/whoami.txt]=$(echo be3 | sha256sum | cut -d' ' -f1)
tmp=$(mktemp -d)
vip=$LAB_VIP
# shellcheck source=SCRIPTDIR/../../qemu/cluster.sh
source "$lab/cluster.sh"
stat() { in_ns "$1" awk -v k="$2" '$1 == k { print $2 }' /proc/net/btcp/counters; }
log_of() { "$lab/nginx.sh" log "$1"; }
# Requests for PATH from client port PORT in NODE's nginx log.
served() { grep -c ":$3 \"GET $2 HTTP/1.1\" 200 " "$(log_of "$1")"; } # NODE PATH PORT

if cluster_config "/small/16k.bin=3,/small/=2,/big/=3,default=4" && cluster_wait_up; then ok cluster-up
else bad cluster-up "$(in_ns fe grep ctrl_ /proc/net/btcp/counters | tr '\n' '|')"; fi

# --- curl: several URLs on one connection, the rules alternating
paths=(/small/1k.bin /big/64m.bin /small/64k.bin /whoami.txt /small/16k.bin /small/1m.bin)
nodes=(be1 be2 be1 be3 be2 be1)
args=()
for i in "${!paths[@]}"; do args+=(-o "$tmp/f$i" "http://$vip${paths[$i]}"); done
moves0=$(stat fe moves) fwd0=$(stat fe fe_forwarded_bytes)
in_ns client curl -sS --noproxy '*' --max-time 120 -w '%{local_port} %{num_connects}\n' "${args[@]}" >"$tmp/curl" 2>"$tmp/err"
ports=$(cut -d' ' -f1 "$tmp/curl" | sort -u)
connects=$(awk '{ s += $2 } END { print s + 0 }' "$tmp/curl")
if [ "$(echo "$ports" | wc -w)" = 1 ] && [ "$connects" = 1 ]; then ok "curl-one-connection (port $ports, ${#paths[@]} requests)"
else bad curl-one-connection "ports '$ports', connects $connects: $(cat "$tmp/err")"; fi
for i in "${!paths[@]}"; do
  p=${paths[$i]} n=${nodes[$i]}
  got=$(sha256sum <"$tmp/f$i" | cut -d' ' -f1)
  if [ "$got" = "${want[$p]}" ] && [ "$(served "$n" "$p" "$ports")" = 1 ]; then ok "curl-$p-by-$n"
  else bad "curl-$p-by-$n" "sha256 $got want ${want[$p]}; $n log: $(grep -c "$p" "$(log_of "$n")") lines for $p"; fi
done
moves=$(($(stat fe moves) - moves0)) fwd=$(($(stat fe fe_forwarded_bytes) - fwd0))
if [ "$moves" = 5 ]; then ok "curl-moves ($moves)"; else bad curl-moves "moves $moves, want 5; $(in_ns fe grep -E '^(move|moves|released)' /proc/net/btcp/counters | tr '\n' ' ')"; fi
# How long the requests that moved waited for their old back-end, per node.
waits=$(in_ns fe "$LAB_BTCPCTL" stats --format prometheus | awk '/^btcp_peer_move_wait_seconds_count/ { n += $2 } END { print n + 0 }')
if [ "$waits" -ge "$moves" ] && [ "$moves" -gt 0 ]; then ok "move-wait-histogram ($waits releases timed)"
else bad move-wait-histogram "$waits releases timed for $moves moves"; fi
if [ "$fwd" -lt $((1 << 20)) ]; then ok "no-response-bytes-through-fe (fe forwarded $fwd bytes for 65 MiB of responses)"
else bad no-response-bytes-through-fe "fe forwarded $fwd bytes"; fi

# --- wrk: keep-alive connections cycling paths of three rules
cat >"$tmp/cycle.lua" <<'EOF'
local paths = {"/small/4k.bin", "/small/16k.bin", "/whoami.txt"}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
EOF
for n in be1 be2 be3; do : >"$(log_of "$n")"; done
in_ns client timeout 60 wrk -t1 -c"$(by_load 8 2)" -d"$(by_load 8 3)"s --timeout 10s -s "$tmp/cycle.lua" "http://$vip" >"$tmp/wrk" 2>&1
reqs=$(wrk_requests "$tmp/wrk") failed=$(wrk_failed "$tmp/wrk")
if [ "${reqs:-0}" -gt 0 ] && [ "$failed" = 0 ]; then ok "wrk-cycle ($reqs requests, 0 failed)"
else bad wrk-cycle "requests ${reqs:-?}, failed $failed: $(tr '\n' '|' <"$tmp/wrk")"; fi
misplaced=0
for pn in "/small/4k.bin be1" "/small/16k.bin be2" "/whoami.txt be3"; do
  set -- $pn
  for n in be1 be2 be3; do
    [ "$n" = "$2" ] && continue
    c=$(grep -c "GET $1 " "$(log_of "$n")")
    misplaced=$((misplaced + c))
  done
done
per_conn=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^c=/) { split($i, a, "/"); if (a[2] > m) m = a[2] } } END { print m + 0 }' "$(log_of be1)")
if [ "$misplaced" = 0 ]; then ok "wrk-each-request-by-its-rule (be1 served up to $per_conn requests on one of its connections)"
else bad wrk-each-request-by-its-rule "$misplaced requests on another node"; fi

# --- a body with the request that moves (a POST to /small/ on be1 after a
# GET from be3, on the same connection): nginx answers a POST to a static
# file with 405, from be1, having read the 4 KiB body
w='%{http_code} %{local_port}\n'
in_ns client curl -sS --noproxy '*' --max-time 20 -o /dev/null -w "$w" "http://$vip/whoami.txt" \
  --next -sS --noproxy '*' --max-time 20 -o /dev/null -w "$w" --data-binary @"$content/files/small/4k.bin" \
  "http://$vip/small/1k.bin" >"$tmp/post" 2>"$tmp/err"
codes=$(cut -d' ' -f1 "$tmp/post" | tr '\n' ' ') pport=$(cut -d' ' -f2 "$tmp/post" | sort -u)
if [ "$codes" = "200 405 " ] && [ "$(echo "$pport" | wc -w)" = 1 ] &&
   grep -q ":$pport \"POST /small/1k.bin HTTP/1.1\" 405 " "$(log_of be1)"; then ok "post-body-moves (port $pport: $codes)"
else bad post-body-moves "codes '$codes', ports '$pport': $(cat "$tmp/err")"; fi

# --- every flow freed once the clients closed
freed=0
for _ in $(seq 40); do
  if [ "$(live_flows fe be1 be2 be3)" = 0 ]; then freed=1; break; fi
  sleep 1
done
if [ "$freed" = 1 ]; then ok live-flows-freed
else bad live-flows-freed "$(live_flows fe be1 be2 be3) live: $(in_ns fe head -2 /proc/net/btcp/flows | tr '\n' '|')"; fi
summary moves
