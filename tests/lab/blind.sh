#!/bin/bash
# Guest script: blind injection into a handed-off connection (RFC 5961;
# rust/btcp-core/src/frontend.rs and backend.rs). While the client
# downloads 64 MiB (1 MiB on --load light) through the VIP from be1
# (paused after 256 KiB, its window closed, until the attack is over), an
# attacker in a namespace of its own on the lab bridge (an unassigned lab
# address; it forges the client's address and port, as a blind spoofer
# must) sends spoofed RSTs at several offsets from the client's sequence
# number, a SYN past it with a newer timestamp, FINs and data with
# acknowledgments no stack takes, then segments at random numbers
# (bounded in count and time). The download completes byte-exact on its
# one connection, served by be1; the front-end dropped and counted what no
# stack would accept (forward_refused). Meanwhile the attacker also sends
# RSTs at the client's very sequence number, data and FINs straight to
# be1 as if the front-end had forwarded them: be1 takes forwarded segments
# only from the front-end that handed the flow off (by link-layer source),
# so it drops and counts them (forward_foreign). Every flow is freed after.
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

up_with_be1 blind
vip=$LAB_VIP client=$(ns_ip client)
attacker_up || { bad attacker-namespace "could not make it"; summary blind; exit 1; }

if cluster_config "default=2" && cluster_wait_up; then ok cluster-up
else bad cluster-up "control channel not up"; summary blind; exit 1; fi

path=$(by_load /big/64m.bin /small/1m.bin)
port=45123
refused0=$(counter fe forward_refused) remote0=$(counter fe handoffs_remote)
foreign0=$(counter be1 forward_foreign)
# The client reads 256 KiB, then stops reading until the attack is over.
# shellcheck disable=SC2046 # two words: SEQ ACK
paused_fetch "$path" $port "$tmp" && set -- $(cat "$tmp/aim")
if [ $# = 2 ]; then ok "client-paused-mid-download (next seq $1, ack $2)"
else bad client-paused-mid-download "peek: $(tr '\n' '|' <"$tmp/peek") fetch: $(tr '\n' '|' <"$tmp/fetch")"; summary blind; exit 1; fi
count=$(by_load 1500 600)
in_ns $ATTACKER timeout 120 /usr/bin/python3 "$ATTACKER_PY" forward "$(ns_ip be1)" "$client" $port "$1" 40 \
  >"$tmp/forward" 2>&1 &
fwd=$!
sent=$(in_ns $ATTACKER timeout 120 /usr/bin/python3 "$ATTACKER_PY" attack "$vip" "$client" $port "$1" "$2" "$count" 25 2>"$tmp/attack")
wait $fwd
if [ -n "$sent" ]; then ok "attack-during-the-download ($sent)"
else bad attack-during-the-download "nothing sent: $(tail -2 "$tmp/attack" | tr '\n' '|')"; fi
foreign=$(($(counter be1 forward_foreign) - foreign0))
refused=$(($(counter fe forward_refused) - refused0))
resume_fetch "$tmp"
if [ "$FETCH_SHA" = "${want[$path]}" ]; then ok "download-byte-exact ($path)"
else bad download-byte-exact "$(tail -3 "$tmp/fetch" | tr '\n' '|')"; fi
remote=$(($(counter fe handoffs_remote) - remote0))
if [ "$remote" = 1 ] && [ "$(grep -c "GET $path" "$("$lab/nginx.sh" log be1)")" = 1 ]; then ok "one-connection-one-handoff-to-be1"
else bad one-connection-one-handoff-to-be1 "handoffs_remote +$remote; be1 log: $(grep -c "GET $path" "$("$lab/nginx.sh" log be1)") requests"; fi
if [ "$refused" -gt 0 ]; then ok "front-end-refused-spoofed-segments ($refused counted)"
else bad front-end-refused-spoofed-segments "forward_refused +$refused"; fi

if [ "$foreign" -ge 40 ]; then ok "back-end-dropped-segments-not-from-the-front-end ($(cat "$tmp/forward"); forward_foreign +$foreign)"
else bad back-end-dropped-segments-not-from-the-front-end "forward_foreign +$foreign: $(tail -2 "$tmp/forward" | tr '\n' '|')"; fi

for _ in $(seq 50); do [ "$(live_flows fe be1)" = 0 ] && break; sleep 0.2; done
if [ "$(live_flows fe be1)" = 0 ]; then ok live-flows-freed
else bad live-flows-freed "$(in_ns fe head -2 /proc/net/btcp/flows | tr '\n' '|')"; fi
summary blind
