#!/bin/bash
# Guest script for `make bench-lard` (not a test): LARD/R against weighted
# round-robin (issue 5, item 8). Three back-ends run a server whose cache
# holds a quarter of the content tree (tests/lab/lard/cacheserver.py: an
# LRU of file bodies, a miss costs 100 ms on a disk that serves one miss at
# a time: disk-bound back-ends, as in the paper); the client asks
# for files with Zipf popularity through the VIP (wrk + lard/zipf.lua).
# For each policy: requests/s and each back-end's cache hit ratio.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lab=$here/../../qemu
# shellcheck source=SCRIPTDIR/../../qemu/topology.sh
source "$lab/topology.sh"
# shellcheck source=SCRIPTDIR/../../qemu/cluster.sh
source "$lab/cluster.sh"
files=${LARD_FILES:-400} size=${LARD_SIZE:-65536}
tree=$((files * size)) cache=$((files * size / 4)) miss_ms=${LARD_MISS_MS:-100}
secs=${LARD_SECS:-20} conns=${LARD_CONNS:-16}
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null; topology_down; }
trap cleanup EXIT
topology_up >/dev/null || { echo "topology_up failed"; exit 1; }

root=/tmp/lard; mkdir -p "$root/f"
for i in $(seq 1 "$files"); do head -c "$size" /dev/urandom >"$root/f/$(printf %04d "$i").bin"; done
for n in be1 be2 be3; do
  in_ns "$n" python3 "$here/lard/cacheserver.py" 0.0.0.0 80 "$root" "$cache" "$miss_ms" &
  pids+=($!)
done
sleep 2
cluster_config "default=2" && cluster_wait_up || { echo "cluster not up"; exit 1; }

echo "== LARD/R vs weighted round-robin: $files files of $((size / 1024)) KiB ($((tree >> 20)) MiB),"
echo "   Zipf popularity, a $((cache >> 20)) MiB cache per back-end (a quarter of the tree),"
echo "   ${miss_ms} ms per miss; wrk, $conns connections, ${secs} s per policy, Connection: close"
printf '\n  %-8s %10s %8s   %s\n' policy "req/s" "hit%" "per back-end hit% (requests)"
declare -A rps=()
for policy in wrr lard-r lard; do
  # A fresh pool (and policy state) per run.
  in_ns fe "$LAB_BTCPCTL" rule default 2 >/dev/null
  in_ns fe "$LAB_BTCPCTL" pool del web >/dev/null 2>&1
  in_ns fe "$LAB_BTCPCTL" pool add web --policy "$policy" --nodes 2,3,4 || { echo "pool add failed"; exit 1; }
  in_ns fe "$LAB_BTCPCTL" rule default web >/dev/null
  for n in be1 be2 be3; do in_ns client curl -s "http://$(ns_ip "$n")/_reset" >/dev/null; done
  out=$(in_ns client env LARD_FILES="$files" wrk -t1 -c"$conns" -d"${secs}s" --timeout 10s \
    -H "Connection: close" -s "$here/lard/zipf.lua" "http://$LAB_VIP/" 2>&1)
  r=$(awk '/Requests\/sec/ { print $2 }' <<<"$out"); rps[$policy]=$r
  th=0 tm=0 per=""
  for n in be1 be2 be3; do
    read -r _ h _ m _ < <(in_ns client curl -s "http://$(ns_ip "$n")/_stats")
    th=$((th + h)); tm=$((tm + m))
    per+="$n $(( (h + m) ? 100 * h / (h + m) : 0 ))% ($((h + m)))  "
  done
  printf '  %-8s %10s %7s%%   %s\n' "$policy" "$r" "$(( (th + tm) ? 100 * th / (th + tm) : 0 ))" "$per"
  grep -q 'Socket errors' <<<"$out" && echo "    $(grep 'Socket errors' <<<"$out")"
done
# A control without btcp: the same load straight at one back-end.
in_ns client curl -s "http://$(ns_ip be1)/_reset" >/dev/null
out=$(in_ns client env LARD_FILES="$files" wrk -t1 -c"$conns" -d"${secs}s" --timeout 10s \
  -H "Connection: close" -s "$here/lard/zipf.lua" "http://$(ns_ip be1)/" 2>&1)
read -r _ h _ m _ < <(in_ns client curl -s "http://$(ns_ip be1)/_stats")
printf '  %-8s %10s %7s%%   %s\n' "be1-only" "$(awk '/Requests\/sec/ { print $2 }' <<<"$out")" \
  "$(( (h + m) ? 100 * h / (h + m) : 0 ))" "(direct to be1, no btcp: one cache for the whole tree)"
grep -q 'Socket errors' <<<"$out" && echo "    $(grep 'Socket errors' <<<"$out")"
echo "  (wrk's read errors come from the Python server's close; they show without btcp too)"
echo
awk -v a="${rps[lard-r]}" -v b="${rps[wrr]}" -v c="${rps[lard]}" \
  'BEGIN { if (b > 0) printf "  throughput LARD/R / WRR = %.2f, LARD / WRR = %.2f\n", a / b, c / b }'
