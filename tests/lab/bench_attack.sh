#!/bin/bash
# Guest script for `make bench-attack` (a benchmark, not a test): hostile
# traffic against the lab cluster at the default settings, side by side.
# Bounded in time and count; traffic only inside the lab's namespaces;
# spoofed sources only from unassigned lab addresses (the blind attacker
# forges its victim's address, as it must, from a namespace of its own).
#
#   (a) a SYN flood (hping3 --flood from $LAB_NET.200, until ab is done,
#       120 s at most; its SYNs and their rate printed) against the VIP (btcp's SYN cookies) and against
#       be1's own address (Linux's): legitimate requests served during it
#       (of 200, 1 KiB each, 10 at a time, from the client's own address),
#       the front-end's live flows and the guest's slab before, during and
#       30 s after, cookies sent and validated;
#   (b) 1,000 slow request heads from one address (slow_heads.py): what
#       the front-end holds for it, and another address's requests served;
#   (c) the blind-injection matrix: each attack (tests/lab/blind.py: RSTs,
#       SYNs, FINs, data, all four, and segments forged straight at the
#       back-end) against a 1 MiB download paused as its response head arrives and
#       after 256 KiB: whether it completed byte-exact, and what the nodes
#       counted.
# Every cell must show no lost or corrupted legitimate request.
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
cleanup() { attacker_down; "$lab/nginx.sh" stop be1; topology_down; }
trap cleanup EXIT

up_with_be1 bench-attack
attacker_up || { bad attacker-namespace "could not make it"; summary bench-attack; exit 1; }
cluster_config "default=2" && cluster_wait_up || { bad cluster-up "control channel not up"; summary bench-attack; exit 1; }
vip=$LAB_VIP client=$(ns_ip client) be1=$(ns_ip be1)
other=$LAB_NET.20
ip -n client addr add "$other/$LAB_PREFIX" dev eth0
fe_flows() { in_ns fe awk '$1 == "fe_flows" { for (i = 1; i < NF; i++) if ($i == "live") print $(i + 1) }' /proc/net/btcp/flows; }
slab_kb() { awk '$1 == "Slab:" { print $2 }' /proc/meminfo; }
lost=0

echo "== (a) SYN flood: hping3 --flood from $LAB_NET.200 (at most 120 s) while ab sends 200 requests of 1 KiB (10 at a time)"
printf '  %-6s %8s %8s %12s %10s %16s %16s %16s %13s\n' target served failed "flood SYNs" "SYNs/s" "fe flows b/d/a" "slab MiB b/d/a" "cookies sent/ok" "be1 SYN-RECV"
for target in vip be1; do
  addr=$vip; [ $target = be1 ] && addr=$be1
  sent0=$(counter fe cookies_sent) valid0=$(counter fe cookies_validated)
  f_before=$(fe_flows) s_before=$(slab_kb)
  t0=$(now_ms)
  in_ns client timeout -s INT 120 hping3 -q -S -a "$LAB_NET.200" -p 80 --flood "$addr" >"$tmp/hping" 2>&1 &
  flood=$!
  sleep 2
  f_during=$(fe_flows) s_during=$(slab_kb)
  synrecv=$(in_ns be1 ss -Htn state syn-recv | wc -l)
  in_ns client timeout 110 ab -q -r -n 200 -c 10 -s 10 "http://$addr/small/1k.bin" >"$tmp/ab" 2>&1
  kill -INT $flood 2>/dev/null
  wait $flood
  flood_ms=$(($(now_ms) - t0))
  done_=$(awk '/^Complete requests:/ { print $3 }' "$tmp/ab")
  failed=$(awk '/^Failed requests:/ { print $3 }' "$tmp/ab")
  served=$(( ${done_:-0} - ${failed:-0} ))
  failed=$(( 200 - served ))
  syns=$(grep -oE '[0-9]+ packets transmitted' "$tmp/hping" | cut -d' ' -f1)
  # After: once the flood's half-open flows have had their handshake
  # timeout (30 s).
  sleep 32
  f_after=$(fe_flows) s_after=$(slab_kb)
  lost=$((lost + failed))
  printf '  %-6s %8s %8s %12s %10s %16s %16s %16s %13s\n' "$target" "$served" "$failed" "${syns:-?}" \
    "$(( ${syns:-0} * 1000 / (flood_ms > 0 ? flood_ms : 1) ))" \
    "$f_before/$f_during/$f_after" "$((s_before / 1024))/$((s_during / 1024))/$((s_after / 1024))" \
    "$(($(counter fe cookies_sent) - sent0))/$(($(counter fe cookies_validated) - valid0))" "$synrecv"
done

echo "== (b) 1,000 slow request heads from $client (held 4 s; client-flows 256); requests from $other meanwhile"
limited0=$(counter fe client_limited)
in_ns client timeout 90 /usr/bin/python3 "$here/slow_heads.py" "$vip" 1000 4 >"$tmp/slow" 2>&1 &
slow=$!
peak=0 served=0 failed=0
while kill -0 $slow 2>/dev/null; do
  got=$(in_ns client curl -sS --noproxy '*' --fail --max-time 10 --interface "$other" "http://$vip/small/1k.bin" 2>>"$tmp/err" | sha256sum | cut -d' ' -f1)
  if [ "$got" = "${want[/small/1k.bin]}" ]; then served=$((served + 1)); else failed=$((failed + 1)); fi
  f=$(fe_flows); [ "${f:-0}" -gt "$peak" ] && peak=$f
done
lost=$((lost + failed))
echo "  slow address: $(cat "$tmp/slow") (connected: sent their first line); peak $peak front-end flows; client_limited +$(($(counter fe client_limited) - limited0))"
echo "  other address: $served served, $failed failed"

echo "== (c) blind injection into a 1 MiB download, paused as its response head arrives or after 256 KiB, each attack up to 600 segments in 20 s"
printf '  %-22s %-14s %-10s %18s %18s\n' attack point outcome forward_refused forward_foreign
port=46000
for cell in {rst,syn,fin,data,all,forged-at-be1}:{response-head,mid-download}; do
  attack=${cell%%:*} point=${cell#*:}
  at=262144; [ "$point" = response-head ] && at=1
  port=$((port + 1))
  r0=$(counter fe forward_refused) x0=$(counter be1 forward_foreign)
  outcome=BROKEN
  if paused_fetch /small/1m.bin $port "$tmp" $at; then
    read -r seq ack <"$tmp/aim"
    case $attack in
      rst) kinds=R ;; syn) kinds=S ;; fin) kinds=F ;; data) kinds=D ;; *) kinds=RSFD ;;
    esac
    if [ $attack = forged-at-be1 ]; then
      in_ns $ATTACKER timeout 60 /usr/bin/python3 "$ATTACKER_PY" forward "$be1" "$client" $port "$seq" 200 >/dev/null 2>&1
    else
      in_ns $ATTACKER timeout 60 /usr/bin/python3 "$ATTACKER_PY" attack "$vip" "$client" $port "$seq" "$ack" 600 20 $kinds >/dev/null 2>&1
    fi
    resume_fetch "$tmp"
    [ "$FETCH_SHA" = "${want[/small/1m.bin]}" ] && outcome=byte-exact
  fi
  [ $outcome = byte-exact ] || lost=$((lost + 1))
  printf '  %-22s %-14s %-10s %18s %18s\n' "$attack" "$point" $outcome \
    "+$(($(counter fe forward_refused) - r0))" "+$(($(counter be1 forward_foreign) - x0))"
done

echo "== lost or corrupted legitimate requests, all cells: $lost"
[ "$lost" = 0 ]
