#!/bin/bash
# `make bench-lard`'s driver (not a test; qemu/run-cluster.sh runs it in the
# client's VM, one VM per node): LARD/R and LARD against weighted
# round-robin, as the LARD paper measured them.
#
#   bench_lard.sh WORKDIR [--seconds N] [--warmup N] [--miss-ms N] [--disk-kibps N] [--conns N]
#
# WORKDIR (scripts/bench-lard.sh writes it on the host, tests/lab/lard/
# workload.py): tree/ (the files, SURGE-like heavy-tailed sizes), trace
# (the request paths, Zipf popularity with temporal locality), bytes (the
# tree's size). Each back-end copies the tree into its memory and serves it
# with tests/lab/lard/cacheserver.py: an LRU cache of a third of the tree
# (the three caches together hold about the working set, one holds a
# third of it) in front of a simulated disk that serves one miss at a time
# (--miss-ms per miss, 200, plus the file at --disk-kibps, 10240: under TCG
# a back-end spends 6 to 8 ms of CPU on a request, and a miss of 200 ms
# keeps the back-ends bound by their disks, as the paper's were, rather
# than by the 2 host CPUs all VMs share; 100 ms gave LARD 1.6 to 1.75
# times WRR). For each
# policy: wrk with --conns connections (154: the paper's admission limit
# for 3 back-ends, (n - 1) T_high + T_low - 1, so that LARD's load
# thresholds come into play as they did there; with a couple of dozen no
# node ever passes T_high, and a target stays wherever the warm-up put
# it, however hot), the caches emptied, a warm-up (--warmup s, 60) from
# the trace's start through the policy with the disk's delay off (so the
# caches reach the steady state the policy gives them: at the disk's
# pace, a cold cache would spend the whole run on first misses, under any
# policy), then --seconds (30) measured, the trace going on from where
# the warm-up stopped (so the caches hold what the requests just before
# put there): requests/s, cache hits, disk reads and bytes per back-end,
# each VM's CPU time.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lab=$(cd "$here/../../../qemu" && pwd)
lard=$(cd "$here/../lard" && pwd)
# shellcheck source=SCRIPTDIR/../../../qemu/vms.sh
source "$lab/vms.sh"
# shellcheck source=SCRIPTDIR/../../../qemu/cluster.sh
source "$lab/cluster.sh"
work=$1; shift
secs=30 warmup=60 miss_ms=200 disk_kibps=10240 conns=154
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) secs=$2 ;;
    --warmup) warmup=$2 ;;
    --miss-ms) miss_ms=$2 ;;
    --disk-kibps) disk_kibps=$2 ;;
    --conns) conns=$2 ;;
    *) echo "bench-lard: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
die() { echo "bench-lard: $*" >&2; exit 1; }
tree_bytes=$(cat "$work/bytes") || die "no $work/bytes"
cache=$((tree_bytes / 3))
trace_len=$(wc -l <"$work/trace")
files=$(find "$work/tree/f" -type f | wc -l)
mapfile -t bes < <(cluster_bes)
[ "${#bes[@]}" = 3 ] || die "needs be1..be3 (got ${bes[*]})"

for n in "${bes[@]}"; do
  in_vm "$n" "mkdir -p /run/lard && cp -r $work/tree/f /run/lard/ &&
    { python3 $lard/cacheserver.py 0.0.0.0 80 /run/lard $cache $miss_ms $disk_kibps </dev/null >/run/lard/server.log 2>&1 & }" ||
    die "$n: the cache server did not start"
done
for n in "${bes[@]}"; do
  for _ in $(seq 50); do curl -sf "http://$(ns_ip "$n")/_stats" >/dev/null && break; sleep 0.2; done
done
cluster_config "default=2" && cluster_wait_up || die "btcp's control channel is not up"
direct_source be1 || die "the client's second address"

echo "== LARD/R and LARD against weighted round-robin (make bench-lard)"
echo "   $files files, $((tree_bytes >> 20)) MiB (tests/lab/lard/workload.py: SURGE-like sizes, Zipf"
echo "   popularity with temporal locality), a trace of $trace_len requests; each back-end"
echo "   caches $((cache >> 20)) MiB (a third); a miss costs ${miss_ms} ms + size at $((disk_kibps / 1024)) MiB/s on a"
echo "   disk that serves one at a time. wrk, $conns connections, Connection: close;"
echo "   per policy ${warmup} s of warm-up (no disk delay), then ${secs} s measured, the trace going on."
printf '\n  %-9s %8s %6s %7s %9s %9s %9s %5s  %s\n' policy "req/s" "hit%" "read" "disk rd/s" "disk MiB" "BE us/req" "host" "per back-end: hit% (requests, distinct files)"

# stats NODE: hits misses disk_bytes files (cacheserver's /_stats)
stats() { curl -s "http://$(ns_ip "$1")/_stats" | awk '{ print $2, $4, $8, $10 }'; }
# run NAME URL: warm-up, measure, one row.
declare -A rps=() errs=()
run() {
  local name=$1 url=$2 n out c0 c1 h m d f th=0 tm=0 td=0 per="" be_ms r served=0 bytes
  shift 2
  for n in "$@"; do curl -s "http://$(ns_ip "$n")/_reset" "http://$(ns_ip "$n")/_warm" >/dev/null; done
  out=$(LARD_TRACE=$work/trace LARD_OFFSET=0 wrk -t1 -c"$conns" -d"${warmup}s" --timeout 30s \
    -H "Connection: close" -s "$lard/trace.lua" "$url" 2>&1)
  warmed=$(awk '/ requests in / { print $1 }' <<<"$out")
  for n in "$@"; do curl -s "http://$(ns_ip "$n")/_zero" >/dev/null; done
  c0=$(vm_cpu)
  out=$(LARD_TRACE=$work/trace LARD_OFFSET="${warmed:-0}" wrk -t1 -c"$conns" -d"${secs}s" --timeout 30s \
    -H "Connection: close" -s "$lard/trace.lua" "$url" 2>&1)
  c1=$(vm_cpu)
  for n in "$@"; do
    read -r h m d f < <(stats "$n")
    th=$((th + h)); tm=$((tm + m)); td=$((td + d))
    per+="$n $(( (h + m) ? 100 * h / (h + m) : 0 ))% ($((h + m)), $f files)  "
  done
  be_ms=$(vm_cpu_delta "$c0" "$c1" | awk -v nodes=" $* " 'index(nodes, " " $1 " ") { t += $2 } END { print t + 0 }')
  # The host's busy CPUs over the run (all VMs share them).
  host=$(vm_cpu_delta "$c0" "$c1" | awk '$1 == "ms" { ms = $2 } $1 == "host" { b = $2 } END { if (ms > 0) printf "%.2f", b / ms; else print "-" }')
  r=$(awk '/Requests\/sec/ { print $2 }' <<<"$out"); rps[$name]=$r
  served=$(awk '/ requests in / { print $1 }' <<<"$out")
  bytes=$(awk '/ requests in / { print $5 }' <<<"$out")
  printf '  %-9s %8s %5s%% %7s %9.1f %9.1f %9s %5s  %s\n' "$name" "$r" "$(( (th + tm) ? 100 * th / (th + tm) : 0 ))" \
    "$bytes" "$(awk -v m="$tm" -v s="$secs" 'BEGIN { print m / s }')" "$(awk -v d="$td" 'BEGIN { print d / 1048576 }')" \
    "$(awk -v c="$be_ms" -v q="${served:-0}" 'BEGIN { if (q > 0) printf "%.0f", 1000 * c / q; else print "-" }')" "$host" "$per"
  if grep -qE 'Socket errors|Non-2xx' <<<"$out"; then
    errs[$name]=1
    grep -E 'Socket errors|Non-2xx' <<<"$out" | sed 's/^/    ! /'
  fi
}

for policy in wrr lard-r lard; do
  # A fresh pool (and policy state) per run.
  in_vm fe "$LAB_BTCPCTL rule default 2 >/dev/null; $LAB_BTCPCTL pool del web >/dev/null 2>&1;
    $LAB_BTCPCTL pool add web --policy $policy --nodes 2,3,4 && $LAB_BTCPCTL rule default web >/dev/null" ||
    die "pool $policy"
  run "$policy" "http://$LAB_VIP/" "${bes[@]}"
done
# A control without btcp: the same load straight at one back-end (one cache).
run be1-only "http://$(ns_ip be1)/" be1
echo "  (read: what wrk read; disk rd/s and MiB: the back-ends' misses; BE us/req: the back-ends' CPU per request, as the host counts it;"
echo "   host: the host CPUs busy over the run, all VMs together: near the host's count, the host and not the disks was the bound)"
echo
# A run with socket errors or non-2xx answers is never made into a ratio.
ratio() { # NAME: NAME's throughput over WRR's, or why not
  if [ -n "${errs[$1]:-}${errs[wrr]:-}" ]; then echo "not computed (a run had errors)"
  else awk -v a="${rps[$1]:-0}" -v b="${rps[wrr]:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; fi
}
echo "  throughput LARD/R / WRR = $(ratio lard-r), LARD / WRR = $(ratio lard) (target: 2 or more)"
