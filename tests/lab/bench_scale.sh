#!/bin/bash
# Guest script of `make bench-scale` (not a test): how btcp's flow state
# holds up, at the default settings.
#
#   bench_scale.sh [held|close|close4096|pps]...   (default: all four)
#
#   held       BENCH_HELD (50000) keep-alive connections held open at once,
#              first straight to be1, then through the VIP (remote handoff to
#              be1), from 5 client addresses; each fetches /small/1k.bin once
#              (sha256 checked). Prints the kernel's slab growth per
#              connection both ways; the difference is btcp's (front-end and
#              back-end tables, both in this one guest).
#   close      wrk with Connection: close through the VIP for BENCH_CLOSE_SECS
#              (120) at the default linger: requests, errors, SYNs dropped for
#              a full table, the table's peak occupancy, flows reclaimed.
#   close4096  the same for 60 s with max_flows=4096, the table size before
#              lingering flows were reclaimed (it used to fill at 68 conn/s).
#   pps        packets per second the front-end forwards (wrk keep-alive,
#              20 connections, 30 s).
# Every load is bounded in count and time; all traffic stays in the lab.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lab=$(cd "$here/../../qemu" && pwd)
# shellcheck source=SCRIPTDIR/../../qemu/topology.sh
source "$lab/topology.sh"
# shellcheck source=SCRIPTDIR/../../qemu/cluster.sh
source "$lab/cluster.sh"
# shellcheck source=SCRIPTDIR/checks.sh
source "$here/checks.sh"
phases=("$@")
[ ${#phases[@]} -gt 0 ] || phases=(held close close4096 pps)
HELD=${BENCH_HELD:-50000}
CLOSE_SECS=${BENCH_CLOSE_SECS:-120}
ko=$(lab_module btcp.ko)
tmp=$(mktemp -d)
vip=$LAB_VIP
extra_src=(20 21 22 23)
cleanup() { for n in be1 be2; do "$lab/nginx.sh" stop "$n"; done; topology_down; }
trap cleanup EXIT

stat() { in_ns "$1" awk -v k="$2" '$1 == k { print $2 }' /proc/net/btcp/counters; }
field() { in_ns "$1" awk -v t="$2_flows" -v k="$3" '$1 == t { for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' /proc/net/btcp/flows; }
slab_kb() { awk '$1 == "Slab:" { print $2 }' /proc/meminfo; }

up() { # bring the lab up with btcp.ko loaded with "$@" as parameters
  rmmod btcp 2>/dev/null
  insmod "$ko" "$@" || { echo "bench-scale: insmod $* failed"; exit 1; }
  topology_up || { echo "bench-scale: topology_up failed"; exit 1; }
  local a
  for a in "${extra_src[@]}"; do ip -n client addr add "$LAB_NET.$a/$LAB_PREFIX" dev eth0; done
  "$lab/content.sh" fe "${LAB_BES[@]}" >/dev/null
  for n in be1 be2; do NGINX_CONNS=$((HELD + 1024)) NGINX_KEEPALIVE=1800s "$lab/nginx.sh" start "$n" >/dev/null; done
  cluster_config "default=2" && cluster_wait_up || { echo "bench-scale: control channel not up"; exit 1; }
}
down() { for n in be1 be2; do "$lab/nginx.sh" stop "$n"; done; topology_down; }

sha_1k=$(awk '$2 == "/small/1k.bin" { print $1 }' "$("$lab/content.sh" fe)/manifest.sha256")
sources=$(ns_ip client); for a in "${extra_src[@]}"; do sources+=",$LAB_NET.$a"; done

held() { # HOST LABEL: hold $HELD connections to HOST; prints slab growth per connection
  local host=$1 label=$2 s0 s1 line rel=$tmp/release.$2
  sync; echo 2 >/proc/sys/vm/drop_caches; sleep 1
  s0=$(slab_kb)
  in_ns client bash -c "ulimit -n $((HELD + 1024)); exec python3 '$here/keepalive_hold.py' --host $host --path /small/1k.bin --sha $sha_1k --count $HELD --sources $sources --release $rel --limit-secs 1500" >"$tmp/hold.$label" 2>&1 &
  local pid=$!
  for _ in $(seq 3000); do grep -q '^ready' "$tmp/hold.$label" && break; kill -0 $pid 2>/dev/null || break; sleep 0.5; done
  sleep 2
  s1=$(slab_kb)
  line=$(grep '^ready' "$tmp/hold.$label")
  HELD_FE_LIVE=$(field fe fe live) HELD_BE_LIVE=$(field be1 be live) HELD_REQ=$(field fe fe request_bytes)
  touch "$rel"; wait $pid
  HELD_OK=$(awk '{ print $4 }' <<<"$line") HELD_BAD=$(awk '{ print $6 }' <<<"$line") HELD_SECS=$(awk '{ print $8 }' <<<"$line")
  HELD_PER=$(( (s1 - s0) * 1024 / (HELD_OK > 0 ? HELD_OK : 1) ))
  printf '  %-8s %6s held ok, %s bad, in %s s; slab +%s KiB, %s bytes per connection\n' \
    "$label" "${HELD_OK:-0}" "${HELD_BAD:-?}" "${HELD_SECS:-?}" $((s1 - s0)) "$HELD_PER"
}

close_run() { # SECS LABEL
  local secs=$1 label=$2 full0 rec0 brec0 peak_t=0 peak_l=0 peak_g=0 out t l g
  full0=$(stat fe syn_table_full) rec0=$(stat fe fe_reclaimed) brec0=$(stat be1 be_reclaimed)
  ( while :; do
      in_ns fe awk '$1 == "fe_flows" { print $2, $4, $6 }' /proc/net/btcp/flows
      sleep 1
    done ) >"$tmp/samples.$label" &
  local sampler=$!
  out=$(in_ns client timeout $((secs + 60)) wrk -t1 -c50 -d"${secs}s" --timeout 5s -H "Connection: close" "http://$vip/small/1k.bin" 2>&1)
  kill $sampler 2>/dev/null; wait $sampler 2>/dev/null
  while read -r t l g; do
    [ "${t:-0}" -gt "$peak_t" ] && peak_t=$t
    [ "${l:-0}" -gt "$peak_l" ] && peak_l=$l
    [ "${g:-0}" -gt "$peak_g" ] && peak_g=$g
  done <"$tmp/samples.$label"
  local reqs errs non2xx rps
  reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
  rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
  errs=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' <<<"$out")
  non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
  printf '  %-10s %s s: %s requests (%s req/s), socket errors+timeouts %s, non-2xx %s; SYNs dropped for a full table %s; table peak %s flows (%s live, %s lingering) of %s; reclaimed fe %s be %s\n' \
    "$label" "$secs" "${reqs:-?}" "${rps:-?}" "${errs:-0}" "${non2xx:-0}" $(($(stat fe syn_table_full) - full0)) \
    "$peak_t" "$peak_l" "$peak_g" "$(field fe fe max)" $(($(stat fe fe_reclaimed) - rec0)) $(($(stat be1 be_reclaimed) - brec0))
}

pps_run() {
  local p0 p1 out
  p0=$(stat fe fe_forwarded_packets)
  out=$(in_ns client timeout 90 wrk -t1 -c20 -d30s --timeout 5s "http://$vip/small/1k.bin" 2>&1)
  p1=$(stat fe fe_forwarded_packets)
  printf '  pps       %s vCPU: front-end forwarded %s packets/s (wrk keep-alive: %s req/s)\n' \
    "$(nproc)" $(((p1 - p0) / 30)) "$(awk '/Requests\/sec/ { print $2 }' <<<"$out")"
}

echo "bench-scale ($(nproc) vCPU, $(awk '$1 == "MemTotal:" { print int($2 / 1024) }' /proc/meminfo) MiB guest)"
for ph in "${phases[@]}"; do
  case $ph in
    held)
      up
      echo "held keep-alive connections ($HELD; max_flows $(field fe fe max), by default)"
      held "$(ns_ip be1)" direct; direct=$HELD_PER
      held "$vip" btcp; via=$HELD_PER
      echo "  at the peak: fe live $HELD_FE_LIVE, be1 live $HELD_BE_LIVE, request bytes buffered $HELD_REQ"
      echo "  btcp's share: $((via - direct)) bytes of slab per handed-off connection (front-end + back-end flow)"
      down ;;
    close) up; close_run "$CLOSE_SECS" default; down ;;
    close4096) up max_flows=4096; close_run 60 max4096; down ;;
    pps) up; pps_run; down ;;
    *) echo "bench-scale: unknown phase $ph" ;;
  esac
done
rmmod btcp 2>/dev/null; insmod "$ko"
echo "bench-scale: done"
