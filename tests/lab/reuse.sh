#!/bin/bash
# Guest script: fast reuse of the client's 4-tuple while the old flows
# linger (issue 4, item 5). The client's ephemeral port range is narrowed
# so that every port is reused within a second or two; connections go
# through the VIP with Connection: close, handed off locally (fe serves)
# and remotely (be1 serves); then 30 connections (10 with --load light)
# one after the other from one fixed local port. Pass: zero client errors, no SYN
# retransmitted by the client, every handoff acked, flows freed. The
# client's TcpExtPAWSEstab is printed, not judged: a late segment of the
# previous connection on a reused 4-tuple is dropped by PAWS, as it should.
set -uo pipefail
lab=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../qemu" && pwd)
# shellcheck source=SCRIPTDIR/../../qemu/topology.sh
source "$lab/topology.sh"
# shellcheck source=SCRIPTDIR/../../qemu/cluster.sh
source "$lab/cluster.sh"
# shellcheck source=SCRIPTDIR/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
trap '"$lab/nginx.sh" stop fe; "$lab/nginx.sh" stop be1; topology_down' EXIT

topology_up || { bad topology "topology_up failed"; summary reuse; exit 1; }
for n in fe be1; do
  "$lab/content.sh" "$n" >/dev/null && "$lab/nginx.sh" start "$n" || { bad "nginx-$n" "did not start"; summary reuse; exit 1; }
done
vip=$LAB_VIP
pcap=""; [ "${1:-}" = --pcap ] && pcap=1   # --pcap: capture at the client into $LAB_OUT
stat() { in_ns "$1" awk -v k="$2" '$1 == k { print $2 }' /proc/net/btcp/counters; }
nstat_client() { in_ns client nstat -az "$1" | awk -v k="$1" '$1 == k { print $2 }'; }
# 32 ports: ab's concurrency of 4 cycles through them every 8 connections.
in_ns client sysctl -qw net.ipv4.ip_local_port_range="40000 40031"
# ab may close before the server's FIN arrives, leaving the port in the
# client's TIME-WAIT; reuse those too (timestamps guard them, RFC 6191),
# as load generators do.
in_ns client sysctl -qw net.ipv4.tcp_tw_reuse=1
# Requests per run: each port is reused about nreq/32 times.
nreq=$(by_load 2000 240)

for mode in local remote; do
  node=1; [ "$mode" = remote ] && node=2
  cluster_config "/=$node,default=$node" || { bad "config-$mode" "cluster_config failed"; continue; }
  cluster_wait_up || bad "ctrl-up-$mode" "control channel not up"
  n=$([ "$mode" = local ] && echo fe || echo be1)
  h0=$(stat fe handoff_acks); r0=$(nstat_client TcpExtTCPSynRetrans); [ -n "$r0" ] || r0=0
  if [ -n "$pcap" ]; then
    in_ns client timeout 200 tcpdump -i eth0 -nn -w "$LAB_OUT/client-$mode.pcap" tcp port 80 2>/dev/null &
    sleep 1
  fi
  out=$(in_ns client timeout "$(by_load 120 600)" ab -q -r -n "$nreq" -c 4 -s 5 "http://$vip/small/1k.bin" 2>&1)
  done_=$(awk '/^Complete requests/ { print $3 }' <<<"$out")
  nfail=$(awk '/^Failed requests/ { print $3 }' <<<"$out")
  non2xx=$(awk '/^Non-2xx/ { print $3 }' <<<"$out")
  rps=$(awk '/^Requests per second/ { print $4 }' <<<"$out")
  synre=$(( $(nstat_client TcpExtTCPSynRetrans) - r0 ))
  acks=$(( $(stat fe handoff_acks) - h0 ))
  if [ "${done_:-0}" = "$nreq" ] && [ "${nfail:-1}" = 0 ] && [ -z "$non2xx" ] && [ "$synre" = 0 ]; then
    ok "reuse-$mode ($nreq requests over 32 ports, $rps req/s, $acks handoffs acked, 0 SYN retransmits)"
  else
    bad "reuse-$mode" "complete ${done_:-?} failed ${nfail:-?} non2xx ${non2xx:-0} syn-retrans $synre acks $acks: $(tail -5 <<<"$out" | tr '\n' ' ')"
  fi
  [ -z "$pcap" ] || { pkill tcpdump; sleep 1; }

  # One fixed local port, one connection after the other: each new SYN
  # meets the previous connection's flows (lingering at the front-end,
  # TIME-WAIT at the back-end's stack, the server closed first). No
  # stall: a 1 s SYN retransmit would show in the time and the counter.
  r0=$(nstat_client TcpExtTCPSynRetrans); [ -n "$r0" ] || r0=0
  good=0 slowest=0 conns=$(by_load 30 10)
  for _ in $(seq "$conns"); do
    read -r code conn_ms < <(in_ns client curl -s -o /dev/null --max-time 10 --local-port 40100 \
      -w '%{http_code} %{time_connect}\n' -H 'Connection: close' "http://$vip/small/1k.bin" |
      awk '{ printf "%s %d\n", $1, $2 * 1000 }')
    [ "$code" = 200 ] && good=$((good + 1))
    [ "${conn_ms:-0}" -gt "$slowest" ] && slowest=$conn_ms
  done
  synre=$(( $(nstat_client TcpExtTCPSynRetrans) - r0 ))
  # A lost SYN or SYN/ACK costs the client 1 s.
  if [ "$good" = "$conns" ] && [ "$synre" = 0 ] && [ "$slowest" -lt "$(by_load 1000 3000)" ]; then
    ok "fixed-port-$mode ($conns connections from port 40100, slowest handshake $slowest ms, 0 SYN retransmits)"
  else bad "fixed-port-$mode" "$good of $conns answered 200, $synre SYN retransmits, slowest handshake $slowest ms"; fi

  for k in handoffs_local handoffs_remote handoff_nacks nack_refused nack_bad_request nack_options nack_overloaded nack_internal handoffs_abandoned timewait_recycled timewait_busy; do
    echo "  $mode fe $k $(stat fe "$k")"
  done
  for k in handoffs_received handoff_repeats timewait_recycled timewait_busy; do echo "  $mode be1 $k $(stat be1 "$k")"; done
done
in_ns client nstat -az TcpExtTCPSynRetrans TcpAttemptFails TcpEstabResets TcpExtPAWSEstab TcpInCsumErrors | sed 's/^/  client /'
for n in client fe be1; do
  v=$(in_ns "$n" nstat -az TcpInCsumErrors | awk '$1 == "TcpInCsumErrors" { print $2 }')
  if [ "$v" = 0 ]; then ok "$n-no-csum-errors"; else bad "$n-no-csum-errors" "TcpInCsumErrors $v"; fi
done
# --- no live flow left (closed ones linger, at the default 60 s)
for _ in $(seq "$(by_load 20 60)"); do
  busy=$(live_flows fe be1)
  [ "$busy" = 0 ] && break
  sleep 0.5
done
if [ "$busy" = 0 ]; then ok live-flows-freed; else bad live-flows-freed "$(in_ns fe head -3 /proc/net/btcp/flows | tr '\n' '|')"; fi
summary reuse
