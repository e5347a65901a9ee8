#!/bin/bash
# `make bench`'s driver (not a test). qemu/run-cluster.sh runs it in the
# client's VM, one VM per node. wrk on the client against
#
#   direct   be1's own address (one back-end, no front-end)
#   btcp     the VIP: remote handoff, the back-end answers the client
#   haproxy  HAProxy on fe, mode http, round-robin over the back-ends
#   nginx    nginx on fe as a reverse proxy (keep-alive upstream)
#   ipvs     IPVS on fe in direct-routing mode (a second VIP on the
#            back-ends' loopback, which do not answer ARP for it)
#
# for each workload (1 KiB with Connection: close, 1 KiB keep-alive, 1 MiB
# and 64 MiB keep-alive) with 1, 2 and 3 back-ends (btcp: a wrr pool), and
# "mixed": keep-alive connections cycling paths of three rules, one per
# back-end (with 3 back-ends only), which btcp serves by moving each
# connection to the rule's node (per-request dispatch) and HAProxy by
# routing each request (its ACLs) and relaying it.
# Around each run it reads every VM's CPU time as the host counts it
# (qemu/cpu-meter.py, less an idle baseline measured in this boot) and
# fe's packet counters; each run is one row of $LAB_OUT/bench.tsv, which
# scripts/bench-report.py turns into tables, ratios and plots.
#
#   bench.sh [--seconds N] [--workloads "1k-close ..."] [--bes "1 2 3"]
#            [--targets "btcp direct haproxy nginx ipvs"] [--profile]
# --seconds per run (8; 64 MiB runs twice as long); the others run a subset.
# --profile: no rows; perf samples fe's CPU during each run instead, and
# $LAB_OUT/profile/WORKLOAD-BES-TARGET.txt gets where its time went (by
# symbol, and by symbol with its callees).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lab=$(cd "$here/../../../qemu" && pwd)
# shellcheck source=SCRIPTDIR/../../../qemu/vms.sh
source "$lab/vms.sh"
# shellcheck source=SCRIPTDIR/../../../qemu/cluster.sh
source "$lab/cluster.sh"
secs=8 workloads="1k-close 1k-keepalive 1m 64m mixed" be_counts="1 2 3" targets="btcp direct haproxy nginx ipvs"
profile=0
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=1; shift; continue ;;
    --seconds) secs=$2 ;;
    --workloads) workloads=$2 ;;
    --bes) be_counts=$2 ;;
    --targets) targets=$2 ;;
    *) echo "bench: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
read -r -a want_workloads <<<"$workloads"
read -r -a want_bes <<<"$be_counts"
read -r -a want_targets <<<"$targets"
# name: path, Connection header, wrk connections, seconds
declare -A workload=(
  [1k-close]="/small/1k.bin close 20 $secs"
  [1k-keepalive]="/small/1k.bin keepalive 20 $secs"
  [1m]="/small/1m.bin keepalive 8 $secs"
  [64m]="/big/64m.bin keepalive 3 $((secs * 2))"
  [mixed]="/ keepalive 20 $secs"
)
# The mixed workload's paths: be1's, be2's and be3's by the rules below.
mixed_paths=(/small/4k.bin /small/16k.bin /whoami.txt)
mixed_lua=$LAB_OUT/mixed.lua
{
  printf 'local paths = {'
  printf '"%s", ' "${mixed_paths[@]}"
  printf '}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format("GET", paths[(i %% #paths) + 1])\nend\n'
} >"$mixed_lua"
vip2=$LAB_NET.101 # IPVS-DR's VIP: on fe's eth0 and every back-end's lo
run=/run/lab/bench # the proxies' files, in fe's VM
tsv=$LAB_OUT/bench.tsv
die() { echo "bench: $*" >&2; exit 1; }
mapfile -t bes < <(cluster_bes)
be_ips=()
for n in "${bes[@]}"; do be_ips+=("$(ns_ip "$n")"); done

# The back-ends: the lab content and nginx, the IPVS-DR VIP on lo.
for n in "${bes[@]}"; do
  in_vm "$n" "$lab/content.sh $n >/dev/null && $lab/nginx.sh start $n" || die "nginx on $n did not start"
  in_vm "$n" "ip addr add $vip2/32 dev lo && sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2" ||
    die "$n: IPVS-DR's VIP"
done
cluster_config "default=2" && cluster_wait_up || die "btcp's control channel is not up"
in_vm fe "ip addr add $vip2/$LAB_PREFIX dev eth0" || die "fe: IPVS-DR's VIP"
# The direct runs come from the client's second address (qemu/vms.sh).
direct_source be1 || die "the client's second address"

# The proxies on fe, one listener per back-end count N: HAProxy on 8080+N,
# nginx on 8090+N, each balancing round-robin over be1..beN.
hap="global
  maxconn 8192
  nbthread 1
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s"
ngx="daemon on;
user root;
worker_processes 1;
pid $run/nginx.pid;
error_log $run/nginx-error.log;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
  access_log off;
  proxy_temp_path $run/proxy;
  client_body_temp_path $run/body;
  fastcgi_temp_path $run/fastcgi;
  uwsgi_temp_path $run/uwsgi;
  scgi_temp_path $run/scgi;"
for k in "${!bes[@]}"; do
  n=$((k + 1))
  hap+="
frontend f$n
  bind $(ns_ip fe):$((8080 + n))
  default_backend b$n
backend b$n
  balance roundrobin"
  ngx+="
  upstream u$n {"
  for j in $(seq 0 "$k"); do
    hap+="
  server s$j ${be_ips[j]}:80"
    ngx+=" server ${be_ips[j]}:80;"
  done
  ngx+=" keepalive 32; }
  server {
    listen $(ns_ip fe):$((8090 + n));
    location / {
      proxy_pass http://u$n;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_max_temp_file_size 0;
    }
  }"
done
# The mixed workload through HAProxy: each request routed by its path to
# its back-end, as btcp's rules route it (8089).
hap+="
frontend fmix
  bind $(ns_ip fe):8089
  acl p1 path /small/4k.bin
  acl p2 path /small/16k.bin
  use_backend m1 if p1
  use_backend m2 if p2
  default_backend m3"
for k in 0 1 2; do
  [ -n "${be_ips[k]:-}" ] || continue
  hap+="
backend m$((k + 1))
  server s$k ${be_ips[k]}:80"
done
ngx+="
}"
in_vm fe "mkdir -p $run && printf '%s\n' $(printf %q "$hap") >$run/haproxy.cfg &&
  printf '%s\n' $(printf %q "$ngx") >$run/nginx.conf &&
  haproxy -D -f $run/haproxy.cfg -p $run/haproxy.pid </dev/null >$run/haproxy.log 2>&1 &&
  nginx -p $run -e $run/nginx-error.log -c $run/nginx.conf </dev/null >$run/nginx.log 2>&1" ||
  die "the proxies on fe did not start"

# set_bes N: btcp's pool, IPVS's real servers: be1..beN.
set_bes() {
  local n=$1 ids="" k cmd
  for k in $(seq 0 $((n - 1))); do ids+=${ids:+,}${LAB_NODE_ID[${bes[k]}]}; done
  cmd="$LAB_BTCPCTL rule default 2 >/dev/null; $LAB_BTCPCTL pool del web >/dev/null 2>&1;
    $LAB_BTCPCTL pool add web --policy wrr --nodes $ids && $LAB_BTCPCTL rule default web >/dev/null &&
    ipvsadm -C && ipvsadm -A -t $vip2:80 -s rr"
  for k in $(seq 0 $((n - 1))); do cmd+=" && ipvsadm -a -t $vip2:80 -r ${be_ips[k]}:80 -g"; done
  in_vm fe "$cmd" || die "set_bes $n"
}

# fe_packets: fe's eth0 packets in and out, and btcp's forwarded packets.
fe_packets() {
  in_vm fe "cat /sys/class/net/eth0/statistics/rx_packets /sys/class/net/eth0/statistics/tx_packets;
    awk '\$1 == \"fe_forwarded_packets\" { print \$2 }' /proc/net/btcp/counters" | tr '\n' ' '
}

# The idle baseline: every VM's CPU time over 10 s of nothing, per second.
a=$(vm_cpu) || die "no answer from the CPU meter ($VM_METER_IP)"
sleep 10
b=$(vm_cpu)
declare -A idle=()
while read -r k v; do idle[$k]=$v; done < <(vm_cpu_delta "$a" "$b")
for k in "${!idle[@]}"; do
  [ "$k" = ms ] || idle[$k]=$(awk -v v="${idle[$k]}" -v t="${idle[ms]}" 'BEGIN { printf "%.4f", v / t }')
done
echo "bench: idle CPU per VM, ms per s: $(for n in "${VM_NODES[@]}"; do printf '%s %.1f  ' "$n" "$(awk -v v="${idle[$n]}" 'BEGIN { print v * 1000 }')"; done)"

# wrk_fields OUTPUT: secs requests bytes p50_ms p99_ms connect read write
# timeout non2xx
wrk_fields() {
  awk '
    function ms(v) { if (v ~ /us$/) return v * 0.001; if (v ~ /ms$/) return v + 0; if (v ~ /m$/) return v * 60000; return v * 1000 }
    function bytes(v) { if (v ~ /GB$/) return v * 1073741824; if (v ~ /MB$/) return v * 1048576; if (v ~ /KB$/) return v * 1024; return v + 0 }
    function secs(v) { if (v ~ /ms$/) return v * 0.001; if (v ~ /m$/) return v * 60; return v + 0 }
    / requests in / { req = $1; v = $4; sub(",", "", v); s = secs(v); b = bytes($5) }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Socket errors/ { gsub(",", ""); c = $4; r = $6; w = $8; t = $10 }
    /Non-2xx/ { n2 = $NF }
    END { printf "%.3f %d %d %.3f %.3f %d %d %d %d %d\n", s, req, b, p50, p99, c, r, w, t, n2 }'
}

cols="workload bes target conns ms wrk_s requests bytes p50_ms p99_ms err_connect err_read err_write err_timeout non2xx"
for n in "${VM_NODES[@]}"; do cols+=" cpu_$n"; done
printf '%s\n' "$cols host_busy_ms syn_retrans fe_rx fe_tx fe_forwarded" | tr ' ' '\t' >"$tsv"

# syn_retrans: the client's SYN retransmissions so far (a run with many
# waited for them: the report shows them beside the errors).
syn_retrans() {
  awk '$1 == "TcpExt:" && !h { for (i = 2; i <= NF; i++) if ($i == "TCPSynRetrans") k = i; h = 1; next }
       $1 == "TcpExt:" { print $k + 0 }' /proc/net/netstat
}

# profile_report NAME WHAT: fe's perf samples of the run that just ended,
# by symbol (self time) and by symbol with callees, to profile/NAME.txt.
profile_report() {
  local f=$LAB_OUT/profile/$1.txt rep="perf report -i $run/perf.data --stdio --percent-limit 0.5"
  mkdir -p "$LAB_OUT/profile"
  in_vm fe "sleep 2; while pgrep -x perf >/dev/null; do sleep 0.5; done; cd $run; export HOME=$run
    echo '# fe during $1 ($2): self time by symbol'; $rep --no-children -g none --sort sym 2>&1 | grep -v '^#' | grep -v '^\$'
    echo; echo '# with callees (children), by symbol'; $rep --children -g none --sort sym 2>&1 | grep -v '^#' | grep -v '^\$'" >"$f"
  echo "bench: profile of fe in $f"
}

# measure WORKLOAD BES TARGET URL: one wrk run, one row.
measure() {
  local wl=$1 nb=$2 target=$3 url=$4 path mode conns dur hdr=() p0 p1 c0 c1 s0 out row k v
  read -r path mode conns dur <<<"${workload[$wl]}"
  [ "$mode" = close ] && hdr=(-H "Connection: close")
  [ "$wl" = mixed ] && hdr+=(-s "$mixed_lua")
  p0=$(fe_packets)
  s0=$(syn_retrans)
  if [ "$profile" = 1 ]; then
    in_vm fe "perf record -a -g -e cpu-clock -F 499 -o $run/perf.data -- sleep $((dur + 1)) >$run/perf.log 2>&1 &"
    sleep 0.5
  fi
  c0=$(vm_cpu)
  out=$(wrk -t1 -c"$conns" -d"${dur}s" --timeout 60s --latency "${hdr[@]}" "$url$path" 2>&1)
  c1=$(vm_cpu)
  p1=$(fe_packets)
  if [ "$profile" = 1 ]; then
    profile_report "$wl-$nb-$target" "$(awk '/Requests\/sec/ { print $2 " req/s" }' <<<"$out")"
    return
  fi
  declare -A d=()
  while read -r k v; do d[$k]=$v; done < <(vm_cpu_delta "$c0" "$c1")
  row="$wl $nb $target $conns ${d[ms]} $(wrk_fields <<<"$out")"
  for k in "${VM_NODES[@]}"; do
    row+=" $(awk -v v="${d[$k]}" -v i="${idle[$k]}" -v t="${d[ms]}" 'BEGIN { printf "%.1f", v - i * t }')"
  done
  row+=" ${d[host]} $(($(syn_retrans) - s0))"
  read -r -a x0 <<<"$p0"
  read -r -a x1 <<<"$p1"
  for k in 0 1 2; do row+=" $((${x1[k]:-0} - ${x0[k]:-0}))"; done
  tr ' ' '\t' <<<"$row" >>"$tsv"
  echo "bench: $wl, $nb back-end(s), $target: $(awk '/Requests\/sec/ { print $2 " req/s" }' <<<"$out") $(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr -s ' ' | tr '\n' ' ')"
  # Close-mode runs leave TIME-WAITs behind; let the next run start level.
  sleep 1
}

wanted() { local x=$1; shift; [[ " $* " == *" $x "* ]]; }
# mixed_rules add|del: btcp's rules for the mixed workload's paths.
mixed_rules() {
  local cmd="" k
  for k in 0 1 2; do
    if [ "$1" = add ]; then cmd+="$LAB_BTCPCTL rule add =${mixed_paths[k]} ${LAB_NODE_ID[${bes[k]}]} && "
    else cmd+="$LAB_BTCPCTL rule del =${mixed_paths[k]} >/dev/null 2>&1; "; fi
  done
  in_vm fe "${cmd}true" || die "mixed_rules $1"
}
for wl in "${want_workloads[@]}"; do
  [ -n "${workload[$wl]:-}" ] || die "no workload $wl (${!workload[*]})"
  if [ "$wl" = mixed ]; then
    # Three rules, three back-ends: btcp moving connections, HAProxy
    # routing requests.
    [ "${#bes[@]}" -ge 3 ] || continue
    set_bes 3
    mixed_rules add
    m0=$(in_vm fe "awk '\$1 == \"moves\" { print \$2 }' /proc/net/btcp/counters")
    ! wanted btcp "${want_targets[@]}" || measure mixed 3 btcp "http://$LAB_VIP"
    m1=$(in_vm fe "awk '\$1 == \"moves\" { print \$2 }' /proc/net/btcp/counters")
    echo "bench: mixed, btcp: $((m1 - m0)) moves"
    ! wanted haproxy "${want_targets[@]}" || measure mixed 3 haproxy "http://$(ns_ip fe):8089"
    mixed_rules del
    continue
  fi
  for nb in "${want_bes[@]}"; do
    [ "$nb" -ge 1 ] && [ "$nb" -le "${#bes[@]}" ] || die "BENCH_BES: $nb of ${#bes[@]} back-ends"
    set_bes "$nb"
    ! wanted btcp "${want_targets[@]}" || measure "$wl" "$nb" btcp "http://$LAB_VIP"
    [ "$nb" != 1 ] || ! wanted direct "${want_targets[@]}" || measure "$wl" 1 direct "http://${be_ips[0]}"
    ! wanted haproxy "${want_targets[@]}" || measure "$wl" "$nb" haproxy "http://$(ns_ip fe):$((8080 + nb))"
    ! wanted nginx "${want_targets[@]}" || measure "$wl" "$nb" nginx "http://$(ns_ip fe):$((8090 + nb))"
    ! wanted ipvs "${want_targets[@]}" || measure "$wl" "$nb" ipvs "http://$vip2"
  done
done

echo "bench: fe's btcp counters after the runs:"
in_vm fe "grep -E '^(handoffs_remote|handoffs_local|handoff_acks|handoff_nacks|nack_[a-z_]*|fe_forwarded_packets|fe_forwarded_bytes|be_translated_bytes|syn_dropped) ' /proc/net/btcp/counters" | sed 's/^/  /'
echo "bench: IPVS on fe:"; in_vm fe "ipvsadm -Ln --stats" | sed 's/^/  /'
[ "$profile" = 1 ] || echo "bench: rows in $tsv"
