#!/bin/bash
# Lab smoke test (runs inside the guest: qemu/run-lab.sh --out DIR tests/lab/smoke.sh).
#
# Topology up, content generated, nginx on be1..be3 (and busybox httpd on
# be3:8080), then the client fetches from each BE directly, without btcp in
# the path: whoami, every small file, and the 64 MiB file from be1, each body
# checked by sha256 against the manifest. Each BE's access log must show the
# client's address. Prints "ok NAME" / "FAIL NAME: why" per check and
# "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail

lab=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../qemu" && pwd)
# shellcheck source=SCRIPTDIR/../../qemu/topology.sh
source "$lab/topology.sh"

# shellcheck source=SCRIPTDIR/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
t0=$(now_ms)

servers=()
cleanup() {
  local s
  # shellcheck disable=SC2086 # $s is "NS [--port P]"
  for s in "${servers[@]}"; do "$lab/nginx.sh" stop $s; done
  topology_down
  rm -rf "${tmp:-}"
}
trap cleanup EXIT

if topology_up; then ok topology; else bad topology "topology_up failed"; summary; exit 1; fi

# The lab must have no way out: a route lookup for an outside address fails.
for n in "${LAB_NODES[@]}"; do
  if ip -n "$n" route get 192.0.2.1 >/dev/null 2>&1; then
    bad "no-route-out-$n" "$n has a route to 192.0.2.1"
  else ok "no-route-out-$n"; fi
done

tc=$(now_ms)
content=$("$lab/content.sh" fe "${LAB_BES[@]}") || { bad content "content.sh failed"; summary; exit 1; }
ok "content ($(($(now_ms) - tc)) ms)"
manifest=$content/manifest.sha256

# Every node serves, the front-end too (every node can be a back-end).
for be in fe "${LAB_BES[@]}"; do
  if "$lab/nginx.sh" start "$be"; then ok "nginx-$be"; servers+=("$be"); else bad "nginx-$be" "did not start"; fi
done
if "$lab/nginx.sh" start be3 --port 8080 --busybox; then
  ok busybox-be3; servers+=("be3 --port 8080")
else bad busybox-be3 "did not start"; fi

declare -A want=()
while read -r sum path; do want[$path]=$sum; done <"$manifest"
tmp=$(mktemp -d)

# fetch TAG BASEURL PATH...: GET every BASEURL/PATH from the client with one
# curl (one exec is ~0.5 s under TCG; keep-alive connection), then check
# each body's sha256 against want[PATH]. One ok/FAIL line per PATH, named
# TAG/PATH.
fetch() {
  local tag=$1 base=$2 p args=() line sum file
  shift 2
  local dir=$tmp/$tag
  for p in "$@"; do args+=(-o "$dir$p" "$base$p"); done
  in_ns client curl -sS --noproxy '*' --fail --max-time 300 --create-dirs \
    -w '%{stderr}%{url_effective} %{http_code} %{size_download} bytes %{speed_download} B/s\n' \
    "${args[@]}" 2>"$dir.err"
  declare -A got=() info=()
  while read -r sum file; do got[${file#"$dir"}]=$sum; done \
    < <(find "$dir" -type f -print0 2>/dev/null | xargs -0 -r sha256sum)
  while read -r line; do info[${line%% *}]=${line#* }; done <"$dir.err"
  for p in "$@"; do
    if [ -z "${got[$p]:-}" ]; then
      bad "$tag$p" "no body (${info[$base$p]:-no transfer}; $(grep -v '^http' "$dir.err" | tr '\n' ' '))"
    elif [ "${got[$p]}" != "${want[$p]:-}" ]; then
      bad "$tag$p" "sha256 ${got[$p]}, want ${want[$p]:-?} (${info[$base$p]:-})"
    else ok "$tag$p (${info[$base$p]:-})"; fi
  done
  rm -rf "$dir" "$dir.err"
}

small=$(awk '$2 != "/big/64m.bin" { print $2 }' "$manifest")
for be in "${LAB_BES[@]}"; do
  want[/whoami.txt]=$(echo "$be" | sha256sum | cut -d' ' -f1)
  # shellcheck disable=SC2086 # one path per word
  fetch "$be" "http://$(ns_ip "$be")" /whoami.txt $small
done
want[/whoami.txt]=$(echo fe | sha256sum | cut -d' ' -f1)
fetch fe "http://$(ns_ip fe)" /whoami.txt /small/4k.bin
fetch be1 "http://$(ns_ip be1)" /big/64m.bin
want[/whoami.txt]=$(echo be3 | sha256sum | cut -d' ' -f1)
fetch busybox-be3 "http://$(ns_ip be3):8080" /whoami.txt /small/1m.bin

# Every logged request must come from the client's address, and there must
# be some.
client=$(ns_ip client)
for s in "${servers[@]}"; do
  # shellcheck disable=SC2086
  log=$("$lab/nginx.sh" log $s)
  name="access-log-${s// --port /:}"
  n=$(grep -c "^$client:" "$log" 2>/dev/null || true)
  others=$(grep -v "^$client:" "$log" 2>/dev/null | head -3 | tr '\n' ' ')
  if [ "${n:-0}" -eq 0 ]; then bad "$name" "no request from $client in $log"
  elif [ -n "$others" ]; then bad "$name" "lines not from $client: $others"
  else ok "$name ($n lines from $client)"; fi
done
for be in "${LAB_BES[@]}"; do
  errlog=$(dirname "$("$lab/nginx.sh" log "$be")")/error.log
  if grep -E '\[(emerg|alert|crit)\]' "$errlog"; then bad "nginx-errors-$be" "see $errlog"
  else ok "nginx-errors-$be"; fi
done

# --- btcp.ko, when loaded: hooks in every namespace, counters, unload ---
# counters NS: the namespace's /proc/net/btcp/counters, into $tmp/NS.
counters() { in_ns "$1" cat /proc/net/btcp/counters >"$tmp/$1" 2>/dev/null; }
# col FILE HOOK NAME: one counter of a saved table.
col() { awk -v h="$2" -v c="$3" 'NR == 1 { for (i = 1; i <= NF; i++) n[$i] = i } $1 == h { print $(n[c]) }' "$1"; }
big=$((64 << 20)) # /big/64m.bin
if [ -e /proc/net/btcp/counters ]; then
  # The root namespace existed before the module loaded; the lab's were
  # created after: pernet init must have covered both.
  if grep -q '^local_out ' /proc/net/btcp/counters; then ok btcp-root-ns
  else bad btcp-root-ns "no counters in the initial namespace"; fi
  for n in "${LAB_NODES[@]}"; do
    if ! counters "$n"; then bad "btcp-counters-$n" "no /proc/net/btcp/counters"; continue; fi
    cat "$tmp/$n" | sed "s/^/  $n: /"
    li=$(col "$tmp/$n" local_in packets); lo=$(col "$tmp/$n" local_out packets)
    pr=$(col "$tmp/$n" prerouting packets); po=$(col "$tmp/$n" postrouting packets)
    if [ "${li:-0}" -gt 0 ] && [ "${lo:-0}" -gt 0 ] && [ "${pr:-0}" -ge "$li" ] && [ "${po:-0}" -ge "$lo" ]; then
      ok "btcp-counters-$n (in $li, out $lo packets)"
    else bad "btcp-counters-$n" "prerouting $pr local_in $li local_out $lo postrouting $po"; fi
  done
  # The 64 MiB body left be1 and reached the client: TCP payload counted.
  sent=$(col "$tmp/be1" postrouting payload); got=$(col "$tmp/client" local_in payload)
  if [ "${sent:-0}" -ge "$big" ] && [ "${got:-0}" -ge "$big" ]; then
    ok "btcp-payload (be1 sent $sent, client received $got bytes)"
  else bad btcp-payload "be1 postrouting payload $sent, client local_in payload $got, want >= $big"; fi
  mal=$(cat "$tmp"/client "$tmp"/fe "$tmp"/be* | awk '$1 ~ /^(prerouting|local_in|local_out|postrouting)$/ { m += $(NF - 1) } END { print m + 0 }')
  if [ "$mal" = 0 ]; then ok btcp-no-malformed; else bad btcp-no-malformed "$mal malformed packets counted"; fi

  # Unload while a download runs through every hook of the client and be1:
  # the transfer must finish intact, and the module must come back.
  ko=$(lab_module btcp.ko)
  in_ns client curl -sS --noproxy '*' --fail --max-time 120 --limit-rate 16M \
    -o "$tmp/unload.bin" "http://$(ns_ip be1)/big/64m.bin" 2>"$tmp/unload.err" &
  dl=$!
  sleep 1.5
  if rmmod btcp; then ok "btcp-rmmod-under-load"; else bad "btcp-rmmod-under-load" "rmmod failed"; fi
  if wait "$dl" && [ "$(sha256sum <"$tmp/unload.bin" | cut -d' ' -f1)" = "${want[/big/64m.bin]}" ]; then
    ok "btcp-download-across-unload"
  else bad "btcp-download-across-unload" "$(cat "$tmp/unload.err")"; fi
  if in_ns be1 test -e /proc/net/btcp; then bad btcp-unloaded "/proc/net/btcp still in be1"
  else ok btcp-unloaded; fi
  if [ -n "$ko" ] && insmod "$ko" && in_ns be2 test -e /proc/net/btcp/counters; then
    ok "btcp-reload (hooks in existing namespaces)"
  else bad btcp-reload "could not load $ko again"; fi
fi

echo "smoke: $(($(now_ms) - t0)) ms"
summary
