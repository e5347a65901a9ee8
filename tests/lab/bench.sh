#!/bin/bash
# Guest script of `make bench` (not a test): in one lab run, wrk against
# (a) a back-end directly, (b) the VIP through btcp (remote handoff, direct
# server return), (c) HAProxy on the front-end node with the same path
# rules; 1 KiB and 1 MiB responses, Connection: close and keep-alive.
# Prints requests/s and p50/p99 latency, each with its ratio to (a).
# All in one TCG guest on 2 vCPUs: compare ratios, not absolute numbers.
set -uo pipefail
lab=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../qemu" && pwd)
# shellcheck source=SCRIPTDIR/../../qemu/topology.sh
source "$lab/topology.sh"
# shellcheck source=SCRIPTDIR/../../qemu/cluster.sh
source "$lab/cluster.sh"
DURATION=${BENCH_SECONDS:-6}
CONNS=${BENCH_CONNS:-20}
run=/run/lab/haproxy
cleanup() {
  [ -f "$run/pid" ] && kill "$(cat "$run/pid")" 2>/dev/null
  for n in be1 be2; do "$lab/nginx.sh" stop "$n"; done
  topology_down
}
trap cleanup EXIT

topology_up
"$lab/content.sh" fe "${LAB_BES[@]}" >/dev/null
for n in be1 be2; do "$lab/nginx.sh" start "$n" >/dev/null; done
cluster_config "/big/=3,default=2"
cluster_wait_up || echo "bench: control channel not up" >&2

mkdir -p "$run"
cat >"$run/haproxy.cfg" <<CFG
global
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend vip
  bind $(ns_ip fe):8080
  acl big path_beg /big/
  use_backend be2 if big
  default_backend be1
backend be1
  server s1 $(ns_ip be1):80
backend be2
  server s2 $(ns_ip be2):80
CFG
in_ns fe haproxy -D -f "$run/haproxy.cfg" -p "$run/pid" || echo "bench: haproxy did not start" >&2
sleep 0.5

# measure NAME URL MODE: one wrk run; its row, without the ratio, goes to
# rows[] under "size mode name".
declare -A rows=() rps=()
measure() {
  local name=$1 url=$2 mode=$3 hdr=() out key
  [ "$mode" = close ] && hdr=(-H "Connection: close")
  out=$(in_ns client wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 10s --latency "${hdr[@]}" "$url" 2>&1)
  key="$(basename "$url") $mode $name"
  rps[$key]=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
  rows[$key]="$(awk '$1 == "50%" { print $2 }' <<<"$out") $(awk '$1 == "99%" { print $2 }' <<<"$out") $(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr -s ' ' | tr '\n' ';' | tr ' ' '_')"
}

for f in /small/1k.bin /small/1m.bin; do
  for mode in close keepalive; do
    # btcp before the direct run: the direct run leaves thousands of
    # TIME_WAIT sockets on be1 whose client ports a later run may reuse
    # (see Documentation/handoff.md).
    measure btcp "http://$LAB_VIP$f" "$mode"
    measure direct "http://$(ns_ip be1)$f" "$mode"
    measure haproxy "http://$(ns_ip fe):8080$f" "$mode"
  done
done

printf '%-8s %-9s %-8s %10s %6s %10s %10s\n' size mode target req/s ratio p50 p99
for f in 1k.bin 1m.bin; do
  for mode in close keepalive; do
    for name in direct btcp haproxy; do
      key="$f $mode $name"
      read -r p50 p99 errs <<<"${rows[$key]}"
      ratio=$(awk -v a="${rps[$key]:-0}" -v b="${rps[$f $mode direct]:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
      printf '%-8s %-9s %-8s %10s %6s %10s %10s  %s\n' "$f" "$mode" "$name" "${rps[$key]:-0}" "$ratio" "${p50:--}" "${p99:--}" "${errs//_/ }"
    done
  done
done
echo
echo "fe after the runs:"; in_ns fe grep -E '^(handoffs_remote|handoff_acks|handoff_nacks|nack_[a-z_]*|fe_forwarded_bytes|be_translated_bytes) ' /proc/net/btcp/counters | sed 's/^/  /'
