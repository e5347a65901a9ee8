#!/bin/bash
# Guest script: the lab half of the fault matrix (issue 4). Remote handoff
# (/big/ to be2, /cgi-bin/ and /bb/ to busybox httpd on be3, the rest to
# be1; the default linger) under netem impairment, deterministic drops of
# single packets, a keep-alive connection moving between be1 and be2
# (under loss, duplication, reordering and a lost move message), odd
# request shapes, server-first close, offloads off, a 1 GiB download,
# option mismatches, slow and stalled readers, and hand-made packets
# (scapy). Run by scripts/test-faults.sh:
#
#   faults.sh [--zero-sha SHA256-OF-1GIB-OF-ZEROS] [CASE-GLOB...]
#
# Every case is one check, `ok NAME (what was measured)` or `FAIL NAME: why`.
# Besides its own outcome (bytes exact by sha256, or the expected TCP
# outcome), every case checks, as deltas around it:
#   - nstat TcpExtPAWSEstab, TcpInCsumErrors, TcpExtTCPSACKReneging stay 0
#     in the client and the serving back-end(s). Exception, measured: under
#     netem reordering (5 ms) plain Linux TCP counts PAWSEstab too (older
#     pure ACKs arriving after newer ones; originals arriving after their
#     spurious retransmission): 0 to 173 per transfer, varying from run to
#     run. So the reorder cases report PAWSEstab next to a native control
#     (the same transfer straight to the back-end under the same qdisc)
#     and do not judge it; every other case (and the other two counters in
#     the reorder cases) must stay at 0;
#   - rewrite_failures, inject_failures, send_failures and
#     ctrl_frames_rejected in /proc/net/btcp/counters stay 0 on fe, be1-3;
#   - no live flow in /proc/net/btcp/flows on fe, be1-3 within 30 s after
#     the transfer (closed flows linger 60 s, reclaimable, not counted).
# RPS on every veth end: a veth delivers a packet on the CPU that sent it,
# so a flow's segments sent from two CPUs (ACKs from softirq and from the
# reader) were reordered between the per-CPU backlogs, now and then by
# more than a millisecond: PAWS drops of the client's ACKs at the back-end
# with no fault in btcp (seen in captures: one TSval regression per
# PAWSEstab). With RPS every flow is handled on one CPU chosen by its hash,
# as a multi-queue NIC's RSS would.
# The POST upload goes to busybox httpd's CGI on be3 (nginx answers a POST
# to a static file with 405 without needing the body): /cgi-bin/sum reads
# CONTENT_LENGTH bytes and answers with their sha256, so the upload is
# checked byte for byte.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lab=$(cd "$here/../../qemu" && pwd)
# shellcheck source=SCRIPTDIR/../../qemu/topology.sh
source "$lab/topology.sh"
# shellcheck source=SCRIPTDIR/../../qemu/cluster.sh
source "$lab/cluster.sh"
# shellcheck source=SCRIPTDIR/checks.sh
source "$here/checks.sh"

zero_sha=""
pats=()
while [ $# -gt 0 ]; do
  case "$1" in
    --zero-sha) zero_sha=$2; shift 2 ;;
    *) pats+=("$1"); shift ;;
  esac
done
want() { # NAME: selected by the command line's globs (all when none)
  local p
  [ ${#pats[@]} = 0 ] && return 0
  for p in "${pats[@]}"; do
    # shellcheck disable=SC2053 # a glob on purpose
    [[ $1 == $p ]] && return 0
  done
  return 1
}

PY=/usr/bin/python3 # Debian's, with python3-scapy
vip=$LAB_VIP
tmp=$(mktemp -d)
servers=(be1 be2 "be3 --busybox")
declare -A HOLD=() SHA=() S0=() S1=() C0=() C1=() PAWS_LIMIT=()
# A sleep with no exec (each exec costs ~0.1 s under TCG): a read that
# times out on a pipe nobody writes.
exec {NAPFD}<> <(:)
nap() { read -r -t "$1" -u "$NAPFD" _ || true; }
now_us() { echo "${EPOCHREALTIME/./}"; }
secs_since() { # T0-US: seconds since, one decimal
  local d=$((($(now_us) - $1) / 100000))
  echo "$((d / 10)).$((d % 10))"
}
t_start=$(now_us)

cleanup() {
  local s
  # shellcheck disable=SC2086 # "NS [--busybox]"
  for s in "${servers[@]}"; do "$lab/nginx.sh" stop $s; done
  topology_down
  rm -rf "$tmp"
}
trap cleanup EXIT

fatal() { bad "$1" "$2"; summary faults; exit 1; }

# --- set-up ---------------------------------------------------------------
topology_up || fatal topology "topology_up failed"
content=$("$lab/content.sh" fe "${LAB_BES[@]}") || fatal content "content.sh failed"
while read -r sum path; do SHA[$path]=$sum; done <"$content/manifest.sha256"
# Extra content, hard links in the docroots: a 4 MiB file (the head of
# /big/64m.bin) under /big/ and /small/ on every back-end, /bb/1m.bin on be3
# (busybox), a sparse 1 GiB file on be2, and the upload CGI on be3.
head -c $((4 << 20)) "$content/files/big/64m.bin" >"$content/4m.bin"
read -r sum _ < <(sha256sum "$content/4m.bin")
SHA[/4m.bin]=$sum
for n in "${LAB_BES[@]}"; do
  ln -f "$content/4m.bin" "$content/www/$n/big/4m.bin"
  ln -f "$content/4m.bin" "$content/www/$n/small/4m.bin"
done
mkdir -p "$content/www/be3/bb" "$content/www/be3/cgi-bin"
ln -f "$content/files/small/1m.bin" "$content/www/be3/bb/1m.bin"
cat >"$content/www/be3/cgi-bin/sum" <<'EOF'
#!/bin/sh
# POST body in, its length and sha256 out.
printf 'Content-Type: text/plain\r\n\r\n'
sum=$(/usr/bin/head -c "${CONTENT_LENGTH:-0}" | /usr/bin/sha256sum)
echo "len=${CONTENT_LENGTH:-0} sha=${sum%% *}"
EOF
chmod 755 "$content/www/be3/cgi-bin/sum"
truncate -s 1G "$content/www/be2/big/1g.bin"
if [ -z "$zero_sha" ]; then
  echo "computing the sha256 of 1 GiB of zeros in the guest (pass --zero-sha to skip)"
  read -r zero_sha _ < <(head -c 1G /dev/zero | sha256sum)
fi
SHA[/big/1g.bin]=$zero_sha
SHA[/big/4m.bin]=${SHA[/4m.bin]}
SHA[/small/4m.bin]=${SHA[/4m.bin]}
SHA[/bb/1m.bin]=${SHA[/small/1m.bin]}

# shellcheck disable=SC2086 # "NS [--busybox]"
for s in "${servers[@]}"; do "$lab/nginx.sh" start $s || fatal "server-${s%% *}" "did not start"; done
cluster_config "/big/=3,/cgi-bin/=4,/bb/=4,default=2" || fatal cluster-config "write failed"
cluster_wait_up || fatal ctrl-channel-up "$(in_ns fe grep ctrl_ /proc/net/btcp/counters | tr '\n' '|')"
for n in "${LAB_NODES[@]}"; do
  echo 3 >"/sys/class/net/v-$n/queues/rx-0/rps_cpus"
  ip netns exec "$n" sh -c 'echo 3 >/sys/class/net/eth0/queues/rx-0/rps_cpus' ||
    fatal "rps-$n" "cannot set rps_cpus"
done
# One idle process per namespace: /proc/PID/net/ is that namespace's
# /proc/net, readable from here without an exec per read.
# (ip netns exec execs sleep in the same process; through in_ns, a shell
# function, $! would be a subshell in the root namespace.)
for n in "${LAB_NODES[@]}"; do
  ip netns exec "$n" sleep 2147483647 &
  HOLD[$n]=$!
done
nap 0.5
for n in "${LAB_NODES[@]}"; do
  [ "$(readlink "/proc/${HOLD[$n]}/ns/net")" = "$(ip netns exec "$n" readlink /proc/self/ns/net)" ] ||
    fatal "holder-$n" "pid ${HOLD[$n]} is not in namespace $n"
done
# tc clsact on the root side of every veth for the drop filters.
for n in "${LAB_NODES[@]}"; do tc qdisc add dev "v-$n" clsact; done
# The scapy probes use ports 50000-50999; the client's stack must not reset
# the connections it knows nothing about.
in_ns client nft -f - <<'EOF'
table ip faults {
  chain out {
    type filter hook output priority 0;
    tcp sport 50000-50999 tcp flags & rst == rst drop
  }
}
EOF
grep -q '50000-50999' <<<"$(in_ns client nft list ruleset)" || fatal nft "the client's RST filter is not in place"
# The control connections are captured all along (few packets): a PAWS
# drop at a back-end can then be told apart as one on the control channel
# (shown in the case's text) or on the client's connection.
for n in fe "${LAB_BES[@]}"; do
  ip netns exec "$n" tcpdump -i eth0 -nn -U -s 100 -w "$tmp/ctrl-$n.pcap" tcp port 7447 2>/dev/null &
done
# fe's MAC tells the probes whether an answer came from fe or a back-end.
mac_fe=$(in_ns fe cat /sys/class/net/eth0/address)
echo "set-up done in $(secs_since "$t_start") s"

# --- measurements -----------------------------------------------------------
# shellcheck disable=SC2016 # an awk program
SNAP_AWK='
FNR == 1 { pending = "" }
FILENAME ~ /\/(netstat|snmp)$/ {
  p = $1; sub(/:$/, "", p)
  if (p != pending) { pending = p; for (i = 2; i <= NF; i++) names[i] = $i; next }
  for (i = 2; i <= NF; i++) print node, p names[i], $i
  pending = ""; next
}
FILENAME ~ /\/counters$/ {
  if (NF == 2) print node, $1, $2
  else if ($1 != "hook" && $1 != "ctrl_peer" && NF > 6) {
    print node, "hook_" $1 "_fragments", $NF; print node, "hook_" $1 "_malformed", $(NF - 1)
  }
  next
}
FILENAME ~ /\/flows$/ && NF == 2 { print node, $1, $2 }'
snap() { # ARRAY: NODE.KEY -> value: nstat, btcp counters and flow counts of every node
  local -n a=$1
  local n k v args=()
  # shellcheck disable=SC2034 # a names the caller's array
  a=()
  for n in "${LAB_NODES[@]}"; do
    args+=("node=$n" "/proc/${HOLD[$n]}/net/"{netstat,snmp,btcp/counters,btcp/flows})
  done
  # shellcheck disable=SC2034
  while read -r n k v; do a[$n.$k]=$v; done < <(awk "$SNAP_AWK" "${args[@]}")
}
delta() { # NODE KEY: S1 - S0
  echo $((${S1[$1.$2]:-0} - ${S0[$1.$2]:-0}))
}

# Live flows an earlier case left (that case failed, naming them): later
# cases wait for their own only, not for the idle timeout of those.
declare -A FLOWS_BASE=()
live_flows() { # prints "NODE fe_flows LIVE" and "NODE be_flows LIVE" for every node
  local n k v
  for n in fe "${LAB_BES[@]}"; do
    while read -r k _ _ v _; do
      # Live flows; closed ones linger (default 60 s), reclaimable.
      case $k in fe_flows | be_flows) echo "$n $k $v" ;; *) break ;; esac
    done <"/proc/${HOLD[$n]}/net/btcp/flows"
  done
}
wait_flows() { # sets FLOWS_LEFT ("" when no live flow is left) and FLOWS_SECS
  local t0 i n k v left
  t0=$(now_us)
  for ((i = 0; i < 120; i++)); do
    left=""
    while read -r n k v; do
      [ "$v" -le "${FLOWS_BASE[$n $k]:-0}" ] || left+="$n $k live=$v "
    done < <(live_flows)
    [ -z "$left" ] && break
    nap 0.25
  done
  FLOWS_LEFT=$left
  FLOWS_SECS=$(secs_since "$t0")
}
flows_base() { # what is live now becomes FLOWS_BASE
  local n k v
  while read -r n k v; do FLOWS_BASE[$n $k]=$v; done < <(live_flows)
}

NSTAT_KEYS=(TcpExtPAWSEstab TcpInCsumErrors TcpExtTCPSACKReneging)
FAIL_KEYS=(rewrite_failures inject_failures send_failures ctrl_frames_rejected)

# run_case NAME "BE..." FUNC [ARGS...]: one check. FUNC does the case and
# fills R_OK (0 on failure), R_TEXT (what was measured) and may queue
# R_CLEANUP commands (run after the flows are counted) and R_CONTROL (a
# command run after the case's counters are taken, e.g. the native control
# of a reorder case, which sets PAWS_LIMIT[node]=report).
run_case() {
  local name=$1 bes=$2; shift 2
  want "$name" || return 0
  local t0 n k d why=() nst="" c
  echo "--- $name (at $(secs_since "$t_start") s)"
  R_OK=1 R_TEXT=() R_CLEANUP=() R_CONTROL=()
  PAWS_LIMIT=()
  snap S0
  t0=$(now_us)
  "$@"
  wait_flows
  snap S1
  [ ${#R_CONTROL[@]} = 0 ] || "${R_CONTROL[@]}"
  for c in "${R_CLEANUP[@]}"; do eval "$c"; done
  # nstat: client and the serving back-end(s)
  local nodes=(client)
  for n in $bes; do nodes+=("$n"); done
  for k in "${NSTAT_KEYS[@]}"; do
    local vals=()
    for n in "${nodes[@]}"; do
      d=$(delta "$n" "$k")
      vals+=("$d")
      if [ "$k" = TcpExtPAWSEstab ] && [ "${PAWS_LIMIT[$n]:-}" = report ]; then
        :
      elif [ "$d" != 0 ]; then
        why+=("$n $k +$d")
      fi
    done
    nst+=" ${k#Tcp} $(
      IFS=/
      echo "${vals[*]}"
    )"
  done
  for n in $bes; do
    [ "$(delta "$n" TcpExtPAWSEstab)" = 0 ] || [ "${PAWS_LIMIT[$n]:-}" = report ] || ctrl_regressions "$n" "$t0"
  done
  for n in fe "${LAB_BES[@]}"; do
    for k in "${FAIL_KEYS[@]}"; do
      d=$(delta "$n" "$k")
      [ "$d" = 0 ] || why+=("$n $k +$d")
    done
  done
  if [ -n "$FLOWS_LEFT" ]; then
    why+=("flows left after ${FLOWS_SECS}s: $FLOWS_LEFT| $(head -c 600 "/proc/${HOLD[fe]}/net/btcp/flows" | tr '\n' '|')| client sockets: $(in_ns client ss -tanH state all '( dport = :80 or dport = :443 )' | head -5 | tr -s ' ' | tr '\n' '|')")
    flows_base
  fi
  local text
  text="$(
    IFS=';'
    echo "${R_TEXT[*]}"
  )"
  text=${text//;/; }
  local tail
  tail="Δ $(
    IFS=/
    echo "${nodes[*]}"
  ):$nst; failure counters 0; flows 0 after ${FLOWS_SECS}s; case $(secs_since "$t0")s"
  if [ "$R_OK" = 1 ] && [ ${#why[@]} = 0 ]; then
    ok "$name ($text; $tail)"
  else
    local w
    w="$(
      IFS=';'
      echo "${why[*]}"
    )"
    bad "$name" "${w:+${w//;/; }; }$text"
  fi
}

# ctrl_regressions NODE T0-US: control segments NODE received since T0
# whose TSval is older than one already received on that connection (what
# PAWS drops), from the capture.
ctrl_regressions() {
  local n=$1 t0=$2 ip found
  ip=$(ns_ip "$n")
  found=$(tcpdump -tt -nn -r "$tmp/ctrl-$n.pcap" 2>/dev/null | awk -v t0="${t0:0:-6}.${t0: -6}" -v me="$ip" '
    $1 < t0 { next }
    { k = $3 ">" $5; sub(/:$/, "", k) }
    index($5, me ".") != 1 { next }
    match($0, /TS val [0-9]+/) {
      v = substr($0, RSTART + 7, RLENGTH - 7) + 0
      if ((k in m) && v + 1 < m[k]) { c++; if (!first) first = $0 }
      if (!(k in m) || v > m[k]) m[k] = v
    }
    END { if (c) print c " control segment(s) with an older TSval, e.g. " first }')
  R_TEXT+=("$n PAWS diagnosis: ${found:-no TSval regression on its control connections: the drop was on the client connection}")
}
fail_case() { R_OK=0; R_TEXT+=("$*"); }
note() { R_TEXT+=("$*"); }
human() { # BYTES
  local b=$1
  if [ "$b" -ge $((1 << 20)) ] && [ $((b % (1 << 20))) = 0 ]; then echo "$((b >> 20)) MiB"
  elif [ "$b" -ge 1024 ] && [ $((b % 1024)) = 0 ]; then echo "$((b >> 10)) KiB"
  else echo "$b B"; fi
}

MAXT=120
# get_sha HOST PATH [CURL-ARGS...]: GET, the body's sha256 against SHA[PATH];
# sets X_OK and X_TEXT.
get_sha() {
  local host=$1 path=$2 sum="" line size="" secs="" code="" err="" wantsum
  shift 2
  wantsum=${SHA[$path]:-?}
  read -r sum _ < <(in_ns client curl -sS --noproxy '*' --max-time "$MAXT" "$@" \
    -w '%{stderr}META %{size_download} %{time_total} %{http_code}\n' \
    "http://$host$path" 2>"$tmp/curl.err" | sha256sum)
  while read -r line; do
    case $line in
      "META "*) read -r _ size secs code <<<"$line" ;;
      *) err+="$line " ;;
    esac
  done <"$tmp/curl.err"
  if [ "$sum" = "$wantsum" ] && [ "$code" = 200 ]; then
    X_OK=1 X_TEXT="$(human "$size") sha256 ok in $(printf %.2f "$secs")s"
  else
    X_OK=0 X_TEXT="GET $path: HTTP ${code:-?}, ${size:-?} B, sha256 ${sum:0:12} want ${wantsum:0:12}, ${secs:-?}s ${err}"
  fi
}
# post_sum HOST: POST /small/1m.bin's bytes to /cgi-bin/sum; sets X_OK, X_TEXT.
post_sum() {
  local host=$1 line size="" secs="" code="" err="" body
  body=$(in_ns client curl -sS --noproxy '*' --max-time "$MAXT" -H 'Expect:' \
    --data-binary "@$content/files/small/1m.bin" \
    -w '%{stderr}META %{size_upload} %{time_total} %{http_code}\n' \
    "http://$host/cgi-bin/sum" 2>"$tmp/curl.err")
  while read -r line; do
    case $line in
      "META "*) read -r _ size secs code <<<"$line" ;;
      *) err+="$line " ;;
    esac
  done <"$tmp/curl.err"
  if [ "$code" = 200 ] && [ "$body" = "len=1048576 sha=${SHA[/small/1m.bin]}" ]; then
    X_OK=1 X_TEXT="POST 1 MiB, CGI's sha256 of the body ok in $(printf %.2f "$secs")s"
  else
    X_OK=0 X_TEXT="POST /cgi-bin/sum: HTTP ${code:-?}, sent ${size:-?} B, answer '${body:0:90}', ${secs:-?}s ${err}"
  fi
}
# get_moves HOST: one keep-alive connection, four GETs whose rules
# alternate be1 and be2 (/small/ and /big/): each body's sha256, one
# connection. Through the VIP, per-request dispatch moves it three times
# (Documentation/dispatch.md, "Per-request dispatch"): each request must
# be in its rule's node's nginx log from the client's port, and fe's moves
# counter go up by 3. Straight to a back-end (a native control) all four
# are its own. Sets X_OK, X_TEXT.
MOVE_PATHS=(/small/1m.bin /big/4m.bin /small/4m.bin /big/4m.bin)
MOVE_NODES=(be1 be2 be1 be2)
get_moves() {
  local host=$1 args=() i n log port="" ports connects codes moves t0 sum why=()
  declare -A lines0=()
  for n in be1 be2; do log=$("$lab/nginx.sh" log "$n"); lines0[$n]=$(wc -l <"$log"); done
  for i in "${!MOVE_PATHS[@]}"; do args+=(-o "$tmp/mv$i" "http://$host${MOVE_PATHS[$i]}"); done
  moves=$(counter fe moves) t0=$(now_us)
  in_ns client curl -sS --noproxy '*' --max-time "$MAXT" -w '%{local_port} %{num_connects} %{http_code}\n' \
    "${args[@]}" >"$tmp/mv.out" 2>"$tmp/curl.err"
  moves=$(($(counter fe moves) - moves))
  ports=$(cut -d' ' -f1 "$tmp/mv.out" | sort -u | tr '\n' ' ')
  connects=$(awk '{ s += $2 } END { print s + 0 }' "$tmp/mv.out")
  codes=$(cut -d' ' -f3 "$tmp/mv.out" | tr '\n' ' ')
  [ "$codes" = "200 200 200 200 " ] || why+=("HTTP codes '$codes' $(tr '\n' ' ' <"$tmp/curl.err")")
  [ "$(wc -w <<<"$ports")" = 1 ] && [ "$connects" = 1 ] && port=${ports% } ||
    why+=("client ports '$ports', $connects connects")
  for i in "${!MOVE_PATHS[@]}"; do
    read -r sum _ < <(sha256sum "$tmp/mv$i" 2>/dev/null)
    [ "$sum" = "${SHA[${MOVE_PATHS[$i]}]}" ] || why+=("${MOVE_PATHS[$i]} (request $((i + 1))): sha256 ${sum:0:12}")
  done
  if [ "$host" = "$vip" ] && [ -n "$port" ]; then
    [ "$moves" = 3 ] || why+=("fe counted $moves moves, want 3")
    for i in "${!MOVE_PATHS[@]}"; do
      n=${MOVE_NODES[$i]} log=$("$lab/nginx.sh" log "${MOVE_NODES[$i]}")
      # The request's line, from the client's port, among those since the start.
      tail -n +"$((lines0[$n] + 1))" "$log" | grep -q ":$port \"GET ${MOVE_PATHS[$i]} HTTP/1.1\" 200 " ||
        why+=("${MOVE_PATHS[$i]} (request $((i + 1))) not in $n's log from port $port")
    done
  fi
  local placed=""
  [ "$host" != "$vip" ] || placed=", $moves moves, each by its rule's node"
  if [ ${#why[@]} = 0 ]; then
    X_OK=1 X_TEXT="4 GETs (10 MiB) on one connection, sha256 ok$placed in $(( ($(now_us) - t0) / 1000 )) ms"
  else
    X_OK=0 X_TEXT="moves: ${why[*]}"
  fi
}
x_result() { # record the last transfer in the case
  R_TEXT+=("$X_TEXT")
  [ "$X_OK" = 1 ] || R_OK=0
}
# xfer KIND HOST: get1m (be1), get64m (be2), post1m (be3), moves (be1
# and be2; its impaired and control back-end be1)
xfer() {
  case $1 in
    get1m) get_sha "$2" /small/1m.bin ;;
    get64m) get_sha "$2" /big/64m.bin ;;
    post1m) post_sum "$2" ;;
    moves) get_moves "$2" ;;
  esac
}
xfer_be() { case $1 in get1m | moves) echo be1 ;; get64m) echo be2 ;; post1m) echo be3 ;; esac; }

# --- 1. netem ---------------------------------------------------------------
# client link: netem at both ends of the client's veth (everything the
# client sends and receives). fe<->be link: netem on fe's eth0 for packets
# to the serving back-end (forwarded client segments, control frames) and
# on the back-end's eth0 for packets to fe (control frames); the back-end's
# answers to the client are not impaired there.
netem_to() { # NS DST NETEM...: netem on NS's eth0 for packets to DST only
  local ns=$1 dst=$2
  shift 2
  tc -n "$ns" -batch - <<EOF
qdisc add dev eth0 root handle 1: prio bands 4 priomap 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
qdisc add dev eth0 parent 1:4 handle 40: netem $*
filter add dev eth0 parent 1: prio 1 protocol ip u32 match ip dst $dst/32 flowid 1:4
EOF
}
impair() { # PLACE BE NETEM...
  local place=$1 be=$2
  shift 2
  if [ "$place" = client ]; then
    tc -n client qdisc add dev eth0 root netem "$@"
    tc qdisc add dev v-client root netem "$@"
  else
    netem_to fe "$(ns_ip "$be")" "$@"
    netem_to "$be" "$(ns_ip fe)" "$@"
  fi
}
impair_clear() {
  local n
  for n in "${LAB_NODES[@]}"; do tc -n "$n" qdisc del dev eth0 root 2>/dev/null; done
  tc qdisc del dev v-client root 2>/dev/null
  return 0
}
netem_body() { # PLACE XFER NETEM...
  local place=$1 x=$2 be
  shift 2
  be=$(xfer_be "$x")
  impair "$place" "$be" "$@"
  R_CLEANUP+=(impair_clear)
  xfer "$x" "$vip"
  x_result
  case "$*" in *reorder*) R_CONTROL=(netem_control "$place" "$x" "$@") ;; esac
}
# The same transfer straight to the back-end (no btcp) under the same
# impairment: how many PAWS drops plain TCP has here.
netem_control() { # PLACE XFER NETEM...
  local place=$1 x=$2 be n d
  shift 2
  be=$(xfer_be "$x")
  # fe<->be: the client's own segments to the back-end take fe's place.
  [ "$place" = client ] || netem_to client "$(ns_ip "$be")" "$@"
  snap C0
  xfer "$x" "$(ns_ip "$be")"
  snap C1
  [ "$place" = client ] || tc -n client qdisc del dev eth0 root
  local vals=()
  for n in client "$be"; do
    d=$((${C1[$n.TcpExtPAWSEstab]:-0} - ${C0[$n.TcpExtPAWSEstab]:-0}))
    vals+=("$d")
    PAWS_LIMIT[$n]=report
  done
  local other=""
  if [ "$x" = moves ]; then # a moving connection's other back-end: reported too
    PAWS_LIMIT[be2]=report
    other=" (be2 $(delta be2 TcpExtPAWSEstab))"
  fi
  note "PAWSEstab reported, not judged: client/$be $(delta client TcpExtPAWSEstab)/$(delta "$be" TcpExtPAWSEstab)$other through btcp, ${vals[0]}/${vals[1]} in the native control (direct to $be, same qdisc: ${X_TEXT%% in *})"
  [ "$X_OK" = 1 ] || note "native control transfer failed too: $X_TEXT"
}

# --- 2. deterministic drops -------------------------------------------------
# drop_body NS "PASS-MATCH" "DROP-MATCH" CMD...: u32 filters on the ingress
# of NS's veth in the root namespace (clsact), i.e. on the wire: NS's stack
# does not learn of the drop (a drop on its own egress would come back to
# TCP as a local congestion drop and be retried at once). Packets matching
# PASS go through (prio 1), the first one
# matching DROP is dropped by gact (prio 2), after which the filter is
# deleted at once; CMD (get_sha or py_get) is the transfer. A `tc -batch`
# coprocess polls the gact action's counter,
# so removing the filter takes milliseconds, well inside any retransmission
# timeout; the drops counted are reported.
drop_body() {
  local ns=$1 pass=$2 match=$3 dev=v-$1 bg dropped=0 t0
  shift 3
  tc actions add action drop index 77 || { fail_case "tc actions add failed"; return; }
  # shellcheck disable=SC2086 # u32 match words
  [ -z "$pass" ] || tc filter add dev "$dev" ingress prio 1 protocol ip u32 $pass action ok
  # shellcheck disable=SC2086
  tc filter add dev "$dev" ingress prio 2 protocol ip u32 $match action gact index 77 ||
    { fail_case "tc filter add failed: $match"; tc actions del action gact index 77; return; }
  (
    "$@"
    printf '%s\t%s\n' "$X_OK" "$X_TEXT" >"$tmp/bg"
  ) &
  bg=$!
  coproc TCB { stdbuf -oL tc -s -batch - 2>&1; }
  t0=$(now_us)
  # `actions get` prints the action with its statistics, "not_in_hw" last.
  gact_drops() { # sets GD (no subshell: it would not have the coprocess's fds)
    local line n=0
    printf 'actions get action gact index 77\n' >&"${TCB[1]}"
    while read -r -t 10 line <&"${TCB[0]}"; do
      case $line in
        *"(dropped "*) line=${line#*(dropped }; n=${line%%,*} ;;
        not_in_hw) break ;;
      esac
    done
    GD=$n
  }
  while kill -0 "$bg" 2>/dev/null && [ $(($(now_us) - t0)) -lt 60000000 ]; do
    gact_drops
    [ "$GD" -ge 1 ] && break
    nap 0.005
  done
  printf 'filter del dev %s ingress prio 2\n' "$dev" >&"${TCB[1]}"
  gact_drops
  dropped=$GD
  local fdw=${TCB[1]}
  exec {fdw}>&-
  wait "$TCB_PID" 2>/dev/null
  [ -z "$pass" ] || tc filter del dev "$dev" ingress prio 1
  tc actions del action gact index 77
  wait "$bg"
  IFS=$'\t' read -r X_OK X_TEXT <"$tmp/bg"
  x_result
  note "$dropped packet(s) from $ns dropped"
  [ "$dropped" -ge 1 ] || fail_case "the filter dropped nothing: the fault did not happen"
}

# --- 3. request shapes, 4. server-first close -------------------------------
# pyclient MODE PATH [ARGS]: tests/lab/faults/client.py in the client
# namespace; checks each response against SHA[] (r1 PATH, r2 --path2).
pyclient() {
  local mode=$1 path=$2 out w k v st len sum p
  shift 2
  out=$(in_ns client "$PY" "$here/faults/client.py" "$vip" "$mode" "$path" "$@" 2>&1)
  PYOUT=$out
  local paths=("$path")
  [ "$mode" != pipeline ] || paths+=("${PATH2:-/small/4k.bin}")
  for w in $out; do
    k=${w%%=*} v=${w#*=}
    case $k in
      r[12])
        IFS=: read -r st len sum <<<"$v"
        p=${paths[${k#r} - 1]}
        if [ "$st" = 200 ] && [ "$sum" = "${SHA[$p]:-}" ]; then
          note "$p: $(human "$len") sha256 ok"
        elif [ "$st" = 200 ] && [ "${mode#post}" != "$mode" ]; then
          : # checked below against the CGI's answer
        else
          fail_case "$p: HTTP $st, $len B, sha256 ${sum:0:12}"
        fi
        ;;
      err) fail_case "client.py: $v" ;;
      secs) note "${v}s" ;;
    esac
  done
  case " $out " in *" r1="*) ;; *) fail_case "no response: ${out:0:200}" ;; esac
}
py_get() { # MODE PATH: pyclient's verdict as X_OK and X_TEXT (for drop_body)
  R_OK=1 R_TEXT=()
  pyclient "$@"
  X_OK=$R_OK X_TEXT="$(
    IFS=';'
    echo "${R_TEXT[*]}"
  )"
}
shape_body() { # MODE PATH [ARGS]
  pyclient "$@"
}
post_shape_body() { # MODE: the CGI must answer with the sha256 of what was sent
  local mode=$1 sent more0
  more0=$(counter fe handoff_more)
  pyclient "$mode" /cgi-bin/sum
  [ "$mode" != post-pending ] || note "handoff_more +$(($(counter fe handoff_more) - more0))"
  sent=$(grep -o 'sent=[^ ]*' <<<"$PYOUT")
  sent=${sent#sent=}
  case " $PYOUT " in
    *" echo=1 "*) note "body ${sent%%:*} B: the CGI's sha256 matches what was sent" ;;
    *) fail_case "the CGI's answer does not match the body sent ($sent): $PYOUT" ;;
  esac
}
finwithdata_body() { # the FIN must ride on the request segment: a capture proves it
  local dump n i
  rm -f "$tmp/fin.pcap"
  # ip netns exec, not in_ns: $! must be the capture, not a subshell.
  ip netns exec client timeout 60 tcpdump -i eth0 -nn -U -c 1 -w "$tmp/fin.pcap" \
    "tcp dst port 80 and tcp[13] & 1 != 0 and (ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2)) > 0" 2>/dev/null &
  dump=$!
  for ((i = 0; i < 100; i++)); do [ -s "$tmp/fin.pcap" ] && break; nap 0.1; done
  nap 0.3
  pyclient finwithdata /bb/1m.bin
  for ((i = 0; i < 30; i++)); do kill -0 "$dump" 2>/dev/null || break; nap 0.1; done
  kill "$dump" 2>/dev/null
  wait "$dump" 2>/dev/null
  n=$(tcpdump -nn -r "$tmp/fin.pcap" 2>/dev/null | wc -l)
  if [ "$n" -ge 1 ]; then note "captured: $(tcpdump -nn -r "$tmp/fin.pcap" 2>/dev/null | head -1 | grep -o 'Flags \[[^]]*\].*length [0-9]*' | sed 's/, seq.*length/ length/')"
  else fail_case "no FIN with data captured: the client did not send the shape under test"; fi
}
http10_body() { # PATH: HTTP/1.0, the server closes first
  pyclient http10 "$1"
  case " $PYOUT " in
    *" eof=server "*) note "server closed first (EOF before the client's close)" ;;
    *) fail_case "no server close: $PYOUT" ;;
  esac
}

# --- 5. offloads --------------------------------------------------------------
offload_set() { # FEATURE on|off: on every veth, both ends
  local n
  for n in "${LAB_NODES[@]}"; do
    in_ns "$n" ethtool -K eth0 "$1" "$2" 2>/dev/null
    ethtool -K "v-$n" "$1" "$2" 2>/dev/null
  done
}
offload_body() { # FEATURE (tso|gso|gro) ORIGINAL-STATE
  offload_set "$1" off
  R_CLEANUP+=("offload_set $1 $2")
  note "$1 off on all 10 veth ends ($(in_ns be2 ethtool -k eth0 | grep -E "^(tcp-segmentation|generic-segmentation|generic-receive)-offload:" | sed 's/-offload//' | paste -sd' '))"
  get_sha "$vip" /big/64m.bin
  x_result
}

# --- 6. 1 GiB ----------------------------------------------------------------
big_body() {
  MAXT=400 get_sha "$vip" /big/1g.bin
  x_result
}

# --- 7. options -----------------------------------------------------------------
sysctl_body() { # NS KEY VALUE XFER...
  local ns=$1 key=$2 val=$3 old x
  shift 3
  old=$(in_ns "$ns" sysctl -n "$key")
  in_ns "$ns" sysctl -qw "$key=$val"
  R_CLEANUP+=("in_ns $ns sysctl -qw '$key=$old'")
  note "$ns $key=$val"
  for x in "$@"; do
    xfer "$x" "$vip"
    x_result
  done
}
ts_be_nack_body() { # be2 without timestamps refuses; be1 (the default) serves
  local n0 n1 log
  in_ns be2 sysctl -qw net.ipv4.tcp_timestamps=0
  R_CLEANUP+=("in_ns be2 sysctl -qw net.ipv4.tcp_timestamps=1")
  n0=$(awk '$1 == "nack_options" { print $2 }' "/proc/${HOLD[fe]}/net/btcp/counters")
  get_sha "$vip" /big/4m.bin
  x_result
  n1=$(awk '$1 == "nack_options" { print $2 }' "/proc/${HOLD[fe]}/net/btcp/counters")
  log=$("$lab/nginx.sh" log be1)
  if [ $((n1 - n0)) = 1 ] && grep -q "GET /big/4m.bin" "$log"; then
    note "be2 NACKed (fe nack_options +1), be1 served /big/4m.bin"
  else
    fail_case "fe nack_options +$((n1 - n0)), be1 log: $(grep -c /big/4m.bin "$log") x /big/4m.bin"
  fi
}
rmem_body() { # be2 and be3 with a 64 KiB tcp_rmem: window scale 2, not 7
  local n ws
  for n in be2 be3; do
    in_ns "$n" sysctl -qw net.ipv4.tcp_rmem="4096 65536 65536"
    R_CLEANUP+=("in_ns $n sysctl -qw net.ipv4.tcp_rmem='4096 131072 6291456'")
  done
  (
    get_sha "$vip" /big/64m.bin --limit-rate 16M
    printf '%s\t%s\n' "$X_OK" "$X_TEXT" >"$tmp/bg"
  ) &
  local bg=$!
  nap 1.5
  ws=$(in_ns be2 ss -Htin state established '( sport = :80 )' | grep -o 'wscale:[0-9,]*' | head -1)
  wait "$bg"
  IFS=$'\t' read -r X_OK X_TEXT <"$tmp/bg"
  x_result
  note "be2's socket: ${ws:-no wscale seen} (snd,rcv; the client and fe use 7)"
  case $ws in wscale:*,2) ;; *) fail_case "be2's receive window scale is not 2: '${ws}'" ;; esac
  post_sum "$vip"
  x_result
}
mtu_body() { # BE XFER: BE's link (its eth0 and its bridge port) at MTU 1280
  local be=$1 x=$2 n0 n1
  ip -n "$be" link set eth0 mtu 1280
  ip link set "v-$be" mtu 1280
  R_CLEANUP+=("ip -n $be link set eth0 mtu 1500; ip link set v-$be mtu 1500")
  n0=$(awk '$1 == "frag_needed_sent" { print $2 }' "/proc/${HOLD[fe]}/net/btcp/counters")
  xfer "$x" "$vip"
  x_result
  n1=$(awk '$1 == "frag_needed_sent" { print $2 }' "/proc/${HOLD[fe]}/net/btcp/counters")
  note "$be's link (eth0 and v-$be) at MTU 1280; fe sent the client $((n1 - n0)) ICMP frag-needed"
  # Uploads: the client's 1500-byte segments would not pass the bridge
  # port; the front-end must have told it to send smaller ones.
  if [ "$x" = post1m ] && [ $((n1 - n0)) -lt 1 ]; then
    fail_case "no ICMP fragmentation-needed for the client's 1500-byte segments"
  fi
}
advmss_body() { # the client announces MSS 536
  local route
  route="$LAB_NET.0/$LAB_PREFIX dev eth0 proto kernel scope link src $(ns_ip client)"
  # shellcheck disable=SC2086 # route words
  ip -n client route change $route advmss 536
  # shellcheck disable=SC2086
  R_CLEANUP+=("ip -n client route change $route")
  get_sha "$vip" /big/64m.bin
  x_result
  note "client route advmss 536"
}

# --- 8. slow readers ------------------------------------------------------------
# curl 7.88's --limit-rate is erratic here (a 4 MiB download at "200k"
# took 19 s once, then 0.5 s), so the slow reader is client.py reading
# 8 KiB at a time at 200 KiB/s.
slow_body() {
  local secs
  pyclient slowread /small/4m.bin --rate 204800
  secs=$(grep -o 'secs=[0-9.]*' <<<"$PYOUT")
  secs=${secs#secs=}
  if [ -z "$secs" ] || [ "${secs%.*}" -lt 15 ]; then
    fail_case "read in ${secs:-?}s: not slow (4 MiB at 200 KiB/s is 20 s)"
  fi
}
zerowin_body() {
  local z0 z1 p0 p1
  z0=${S0[client.TcpExtTCPToZeroWindowAdv]:-0}
  p0=${S0[be2.TcpExtTCPWinProbe]:-0}
  pyclient zerowin /big/4m.bin --stall 20
  snap C0
  z1=${C0[client.TcpExtTCPToZeroWindowAdv]:-0}
  p1=${C0[be2.TcpExtTCPWinProbe]:-0}
  note "client advertised a zero window $((z1 - z0)) time(s), be2 sent $((p1 - p0)) window probe(s)"
  [ $((z1 - z0)) -ge 1 ] || fail_case "the client's window never closed: no stall happened"
}

# --- 9. scapy -------------------------------------------------------------------
probe() { # MODE: tests/lab/faults/probe.py in the client namespace
  if ! "$PY" -c 'import scapy' 2>/dev/null; then
    fail_case "python3-scapy is not installed on the host (scripts/deps.sh)"
    PROBE=""
    return 1
  fi
  PROBE=$(in_ns client "$PY" "$here/faults/probe.py" "$vip" "$mac_fe" "$1" 2>&1 | tail -1)
  note "probe: $PROBE"
}
synopts_body() {
  local p w
  probe synopts || return
  for p in tfo mptcp ecn; do
    w=$(grep -o "$p=[^ ]*" <<<"$PROBE")
    case $w in
      "$p=flags:SA,ece:0,cwr:0,ae:0,kinds:"*",bad:none") ;;
      *) fail_case "$p: SYN/ACK not plain (want flags SA, no ECE/CWR/AE, only MSS/SACK-permitted/TS/WS): ${w:-none}" ;;
    esac
  done
}
tfodata_body() {
  probe tfodata || return
  case " $PROBE " in *" ack_covers_data=0 "*) ;; *) fail_case "the SYN/ACK acknowledged the SYN's data" ;; esac
  case " $PROBE " in *" synack=flags:SA,"*",bad:none "*) ;; *) fail_case "SYN/ACK not plain" ;; esac
  case " $PROBE " in *" status=200 body=1024 sha=${SHA[/small/1k.bin]} "*) ;; *) fail_case "/small/1k.bin not served exactly" ;; esac
}
ipopts_body() {
  probe ipopts || return
  case " $PROBE " in *" status=200 body=1024 sha=${SHA[/small/1k.bin]} "*) ;; *) fail_case "/small/1k.bin not served exactly with IP options" ;; esac
}
# btcp drops TCP fragments to a service address and counts them
# (fragments_dropped): it cannot tell whose flow they belong to, and the
# stack's reassembly would bypass the front-end (fe's own stack would answer
# with an RST). The connection must survive: an unfragmented retransmission
# of the same bytes is served.
frag_judge() { # after the case's counters are taken
  local d nf
  d=$(delta fe fragments_dropped)
  nf=$(grep -o 'nfrag=[0-9]*' <<<"$PROBE")
  nf=${nf#nfrag=}
  note "fe fragments_dropped +$d of ${nf:-?} fragments sent, prerouting fragments +$(delta fe hook_prerouting_fragments)"
  if [ -z "$nf" ] || [ "$d" != "$nf" ]; then fail_case "fe fragments_dropped +$d, want +${nf:-?}"; fi
}
fragsyn_body() {
  probe fragsyn || return
  R_CONTROL=(frag_judge)
  case " $PROBE " in
    *" answer=none "*) note "dropped: no answer to the fragmented SYN" ;;
    *) fail_case "the fragmented SYN was answered" ;;
  esac
}
fragreq_body() { # the fragments dropped, the retransmission served
  probe "$1" || return
  R_CONTROL=(frag_judge)
  [ "$1" != fragdata ] || case " $PROBE " in
    *" first:status=200 body=1024 sha=${SHA[/small/1k.bin]} "*) ;;
    *) fail_case "the first (unfragmented) request was not served" ;;
  esac
  case " $PROBE " in
    *" frag:resp=0B-incomplete frag_rst=0 frag_who=none "*) note "the fragmented request: no answer" ;;
    *) fail_case "the fragmented request was answered" ;;
  esac
  case " $PROBE " in
    *" again:status=200 body=4096 sha=${SHA[/small/4k.bin]} "*) note "the unfragmented retransmission: served, sha256 ok" ;;
    *) fail_case "the unfragmented retransmission was not served" ;;
  esac
}

# ================================================================================
# 1. netem: each impairment alone, on each link, for each transfer.
for kind in loss dup reorder; do
  case $kind in
    loss) args=(loss 2%) ;;
    dup) args=(duplicate 2%) ;;
    reorder) args=(delay 5ms reorder 25%) ;;
  esac
  for place in client febe; do
    for x in get1m get64m post1m moves; do
      bes=$(xfer_be "$x")
      [ "$x" != moves ] || bes="be1 be2"
      run_case "netem-$kind-$place-$x" "$bes" netem_body "$place" "$x" "${args[@]}"
    done
  done
done

# 2. one packet dropped (u32 offsets assume IP headers without options).
be1=$(ns_ip be1) fe=$(ns_ip fe) cl=$(ns_ip client)
to_vip="match ip dst $vip/32 match ip dport 80 0xffff"
from_vip="match ip src $vip/32 match ip sport 80 0xffff"
small="match u16 0 0xffc0 at 2" # IP total length < 64: no payload
g1m=(get_sha "$vip" /small/1m.bin)
run_case drop-client-syn be1 drop_body client "" "$to_vip match u8 0x02 0x02 at 33" "${g1m[@]}"
run_case drop-fe-synack be1 drop_body fe "" "$from_vip match u8 0x12 0x12 at 33" "${g1m[@]}"
# The client waits 0.5 s between connect and request: the handshake's ACK
# is then the only pure ACK before the filter goes (the client's ACKs of
# the response are pure ACKs too).
run_case drop-client-third-ack be1 drop_body client "" "$to_vip match u8 0x10 0xff at 33 $small" \
  py_get pausedget /small/1m.bin
run_case drop-client-request be1 drop_body client "$to_vip $small" "$to_vip" "${g1m[@]}"
# Control frames: magic b7c9, the protocol version (read from wire.rs, so
# the match follows it), type at TCP payload offset 3 (the control
# connections carry timestamps: 32-byte TCP headers).
wire_version=$(sed -n 's/^pub const VERSION: u8 = \([0-9]*\);/\1/p' "$here/../../rust/btcp-core/src/wire.rs")
[ -n "$wire_version" ] || fatal wire-version "no VERSION in rust/btcp-core/src/wire.rs"
ctrl_word() { printf '0xb7c9%02x%02x' "$wire_version" "$1"; } # TYPE
run_case drop-ctrl-handoff-req be1 drop_body fe "" \
  "match ip dst $be1/32 match ip dport 7447 0xffff match u32 $(ctrl_word 2) 0xffffffff at 52" "${g1m[@]}"
run_case drop-ctrl-handoff-ack be1 drop_body be1 "" \
  "match ip dst $fe/32 match ip dport 7447 0xffff match u32 $(ctrl_word 3) 0xffffffff at 52" "${g1m[@]}"
# A moving connection's MOVE_RELEASE to be1, and be1's MOVE_RELEASED.
mv=(get_moves "$vip")
run_case drop-ctrl-move-release "be1 be2" drop_body fe "" \
  "match ip dst $be1/32 match ip dport 7447 0xffff match u32 $(ctrl_word 12) 0xffffffff at 52" "${mv[@]}"
run_case drop-ctrl-move-released "be1 be2" drop_body be1 "" \
  "match ip dst $fe/32 match ip dport 7447 0xffff match u32 $(ctrl_word 13) 0xffffffff at 52" "${mv[@]}"
# The response's first packet: it starts with "HTTP" (a GSO packet of up to
# 64 KiB here: what the back-end's stack hands to the device).
run_case drop-be-first-response be1 drop_body be1 "" "$from_vip match u32 0x48545450 0xffffffff at 52" "${g1m[@]}"
run_case drop-fe-first-forwarded-ack be1 drop_body fe "" \
  "match ip src $cl/32 match ip dst $be1/32 match ip dport 80 0xffff" "${g1m[@]}"

# 3. request shapes.
run_case req-1-byte-segments be1 shape_body onebyte /small/64k.bin
run_case req-3k-header be1 shape_body bighdr /small/64k.bin
run_case post-body-in-head-segment be3 post_shape_body post-same
run_case post-body-in-later-segments be3 post_shape_body post-split
# The body right behind the head: it comes while the handoff is pending
# and follows the confirm in a HANDOFF_MORE (fe's handoff_more counts it
# when the timing gives the window; the bytes must arrive either way).
run_case post-body-while-pending be3 post_shape_body post-pending
run_case pipelined-2-requests be1 shape_body pipeline /small/1k.bin --path2 /small/4k.bin
# Half-close and FIN with data go to busybox httpd: nginx takes a client's
# FIN that it notices while it waits to write a response as "client
# prematurely closed connection" and stops (seen: 46084 of 65536 bytes,
# logged as 200 46084, the FIN from nginx itself), which is nginx's
# behaviour, not a transport fault.
run_case client-half-close be3 shape_body halfclose /bb/1m.bin
run_case fin-with-data be3 finwithdata_body

# 4. server-first close, HTTP/1.0.
run_case http10-busybox-server-close be3 http10_body /bb/1m.bin
run_case http10-nginx-server-close be1 http10_body /small/1m.bin

# 5. offloads off, everywhere, one at a time.
for f in tso gso gro; do
  orig=$(in_ns be2 ethtool -k eth0 | awk -v f="$f" '
    f == "tso" && /^tcp-segmentation-offload:/ { print $2 }
    f == "gso" && /^generic-segmentation-offload:/ { print $2 }
    f == "gro" && /^generic-receive-offload:/ { print $2 }')
  run_case "offload-$f-off-64m" be2 offload_body "$f" "${orig:-on}"
done

# 6. 1 GiB (sparse on be2), bytes exact.
run_case download-1g be2 big_body

# 7. options.
run_case ts-off-client "be2" sysctl_body client net.ipv4.tcp_timestamps 0 get64m
run_case ts-off-be2-nack-then-be1 "be1" ts_be_nack_body
run_case wscale-off-client "be2" sysctl_body client net.ipv4.tcp_window_scaling 0 get64m
run_case rmem-be-wscale-2 "be2 be3" rmem_body
run_case mtu-1280-be2 be2 mtu_body be2 get64m
run_case mtu-1280-be3-upload be3 mtu_body be3 post1m
run_case advmss-536-client be2 advmss_body

# 8. slow readers.
run_case slow-reader-200k be1 slow_body
run_case zero-window-20s be2 zerowin_body

# 9. hand-made packets.
run_case syn-tfo-mptcp-ecn-options "" synopts_body
run_case syn-with-tfo-data be1 tfodata_body
run_case ip-options-exchange be1 ipopts_body
run_case frag-syn "" fragsyn_body
run_case frag-request be1 fragreq_body fragreq
run_case frag-data-after-handoff be1 fragreq_body fragdata

echo "guest time $(secs_since "$t_start") s"
summary faults
