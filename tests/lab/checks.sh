#!/bin/bash
# Check bookkeeping for the guest test scripts (source it): `ok NAME`,
# `bad NAME WHY`, and `summary [PREFIX]`, which prints "N passed, N failed"
# and fails if anything did.
# The counts have names of their own: a script's own "failed" (wrk's
# errors, say) must not reset them.
checks_passed=0 checks_failed=0
ok() { echo "ok $1"; checks_passed=$((checks_passed + 1)); }
bad() { echo "FAIL $1: $2"; checks_failed=$((checks_failed + 1)); }
summary() { echo "${1:+$1: }$checks_passed passed, $checks_failed failed"; [ "$checks_failed" = 0 ]; }
# lab_module NAME.ko: the path of the module run-lab.sh was given by that
# name (the one built for the running kernel), for tests that reload it.
lab_module() {
  local m LAB_MODULES=()
  # shellcheck disable=SC1091 # written by run-lab.sh
  source "$LAB_OUT/lab.env"
  for m in "${LAB_MODULES[@]}"; do [ "${m##*/}" = "$1" ] && echo "$m"; done
}
# by_load FULL LIGHT: FULL, or LIGHT when run-lab.sh ran with --load light
# (slow guests: shorter, narrower load runs; the same checks).
by_load() { if [ "${LAB_LOAD:-full}" = light ]; then echo "$2"; else echo "$1"; fi; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# peer_field NODE ID KEY: the value after KEY on NODE's ctrl_peer line for
# peer ID in /proc/net/btcp/counters (e.g. serves, heard_ms_ago)
peer_field() {
  in_ns "$1" awk -v id="$2" -v k="$3" '$1 == "ctrl_peer" && $2 == id { for (i = 5; i < NF; i++) if ($i == k) print $(i + 1) }' /proc/net/btcp/counters
}
# live_flows NODE...: live flows (not lingering) in the nodes' front-end and
# back-end tables together. Closed flows linger (60 s by default) and are
# reclaimed under pressure; what must be gone after a run is live state.
live_flows() {
  local n t=0 v
  for n in "$@"; do
    v=$(in_ns "$n" awk '$1 ~ /^(fe|be)_flows$/ && $3 == "live" { t += $4 } END { print t + 0 }' /proc/net/btcp/flows)
    t=$((t + v))
  done
  echo "$t"
}
# counter NODE NAME: NODE's counter NAME in /proc/net/btcp/counters.
counter() { in_ns "$1" awk -v k="$2" '$1 == k { print $2 }' /proc/net/btcp/counters; }
# wrk_requests FILE, wrk_failed FILE: of wrk's output in FILE, the
# requests made, and those that failed (its "Socket errors: connect A, read
# B, write C, timeout D" and "Non-2xx or 3xx responses: N").
wrk_requests() { awk '/ requests in / { print $1 }' "$1"; }
wrk_failed() { awk '/Socket errors/ { gsub(",", ""); s = $4 + $6 + $8 + $10 } /Non-2xx/ { s += $NF } END { print s + 0 }' "$1"; }
# up_with_be1 NAME: the lab topology, with nginx on be1 serving the lab
# content, and want[PATH] set to each file's sha256; on failure reports
# it, prints NAME's summary and exits. Needs topology.sh and $lab; the
# caller's EXIT trap stops nginx and takes the topology down.
declare -A want=()
up_with_be1() {
  local content sum path
  topology_up || { bad topology "topology_up failed"; summary "$1"; exit 1; }
  content=$("$lab/content.sh" be1) && "$lab/nginx.sh" start be1 ||
    { bad nginx "did not start"; summary "$1"; exit 1; }
  while read -r sum path; do want[$path]=$sum; done <"$content/manifest.sha256"
}
