#!/bin/bash
# Guest script: SYN cookies (rust/btcp-core/src/syncookie.rs), at the
# default settings (`syncookies auto`, `syn-backlog 256`) unless said:
#   - a SYN flood at the VIP from an unassigned lab address (hping3, every
#     SYN from another port; bounded in count and time) while legitimate
#     clients fetch through it: every one of them is served byte-exact, the
#     front-end answers the flood with cookies and keeps at most the
#     backlog's half-open flows, and they drain when the handshake timeout
#     ends;
#   - `syncookies always`: every connection is born from a cookie (timestamps
#     on, and off on the client) and hands off byte-exact, 1 MiB and 64 MiB;
#   - a forged third ACK (a wrong cookie) makes no flow and is counted.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lab=$(cd "$here/../../qemu" && pwd)
# shellcheck source=SCRIPTDIR/../../qemu/topology.sh
source "$lab/topology.sh"
# shellcheck source=SCRIPTDIR/../../qemu/cluster.sh
source "$lab/cluster.sh"
# shellcheck source=SCRIPTDIR/checks.sh
source "$here/checks.sh"
tmp=$(mktemp -d)
cleanup() { "$lab/nginx.sh" stop be1; topology_down; }
trap cleanup EXIT

up_with_be1 cookies
vip=$LAB_VIP
# An address on the lab's subnet that no namespace has.
spoofed=$LAB_NET.200
field() { in_ns fe awk -v t="fe_flows" -v k="$1" '$1 == t { for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' /proc/net/btcp/flows; }
fetch() { # PATH: prints the body's sha256 (empty on failure)
  in_ns client curl -sS --noproxy '*' --fail --max-time 60 "$@" "http://$vip$path" 2>>"$tmp/err" | sha256sum | cut -d' ' -f1
}

if cluster_config "default=2" && cluster_wait_up; then ok cluster-up
else bad cluster-up "control channel not up"; summary cookies; exit 1; fi

# --- a SYN flood with legitimate clients in it
sent0=$(counter fe cookies_sent) valid0=$(counter fe cookies_validated)
count=$(by_load 40000 10000)
in_ns client timeout 120 hping3 -q -S -a "$spoofed" -p 80 -i u100 -c "$count" "$vip" >"$tmp/hping" 2>&1 &
flood=$!
sleep 2
served=0 peak=0 tries=0
path=/small/64k.bin
while kill -0 $flood 2>/dev/null && [ $tries -lt 200 ]; do
  tries=$((tries + 1))
  [ "$(fetch)" = "${want[$path]}" ] && served=$((served + 1))
  live=$(field live); [ "${live:-0}" -gt "$peak" ] && peak=$live
done
wait $flood
sent=$(($(counter fe cookies_sent) - sent0)) valid=$(($(counter fe cookies_validated) - valid0))
if [ "$tries" -gt 0 ] && [ "$served" = "$tries" ]; then ok "legitimate-clients-served-during-flood ($served of $tries, 64 KiB byte-exact; $count spoofed SYNs)"
else bad legitimate-clients-served-during-flood "$served of $tries; $(tail -3 "$tmp/err" | tr '\n' '|')"; fi
if [ "$sent" -gt 0 ] && [ "$valid" -gt 0 ]; then ok "flood-answered-with-cookies (sent $sent, validated $valid)"
else bad flood-answered-with-cookies "cookies sent $sent, validated $valid; $(tail -2 "$tmp/hping" | tr '\n' '|')"; fi
# Half-open flows stay at the backlog (256); the clients' own add a few.
if [ "$peak" -le 300 ]; then ok "half-open-state-bounded (peak $peak live front-end flows)"
else bad half-open-state-bounded "peak $peak live front-end flows"; fi
if [ "$(counter fe syn_table_full)" = 0 ]; then ok no-syn-dropped-for-a-full-table
else bad no-syn-dropped-for-a-full-table "syn_table_full $(counter fe syn_table_full)"; fi
# The flood's half-open flows end with the handshake timeout (30 s).
for _ in $(seq 90); do [ "$(field live)" = 0 ] && break; sleep 0.5; done
if [ "$(field live)" = 0 ]; then ok half-open-flows-drain
else bad half-open-flows-drain "$(in_ns fe head -1 /proc/net/btcp/flows)"; fi

# --- every connection from a cookie
if cluster_config "default=2" "syncookies always"; then ok "syncookies-always-configured"
else bad syncookies-always-configured "btcpctl restore failed"; fi
valid0=$(counter fe cookies_validated)
n=0
# (64 MiB on the lab kernel; 1 MiB again on slow guests, --load light.)
for path in /small/1m.bin "$(by_load /big/64m.bin /small/1m.bin)"; do
  got=$(fetch); [ "$got" = "${want[$path]}" ] && n=$((n + 1)) || bad "cookie-born-$path" "sha256 $got: $(tail -2 "$tmp/err" | tr '\n' '|')"
done
# Without timestamps the cookie holds the MSS only (no window scaling, no SACK).
in_ns client sysctl -qw net.ipv4.tcp_timestamps=0
path=/small/1m.bin
got=$(fetch); [ "$got" = "${want[$path]}" ] && n=$((n + 1)) || bad "cookie-born-without-timestamps" "sha256 $got"
in_ns client sysctl -qw net.ipv4.tcp_timestamps=1
valid=$(($(counter fe cookies_validated) - valid0))
if [ "$n" = 3 ] && [ "$valid" = 3 ]; then ok "cookie-born-connections-byte-exact (1 MiB, $(by_load '64 MiB' '1 MiB'), 1 MiB without timestamps; $valid cookies validated)"
else bad cookie-born-connections-byte-exact "$n of 3 byte-exact, $valid validated"; fi
if [ "$(counter fe handoff_acks)" -gt 0 ] && grep -q "GET /small/1m.bin" "$("$lab/nginx.sh" log be1)"; then ok "handed-off-to-be1"
else bad handed-off-to-be1 "handoff_acks $(counter fe handoff_acks)"; fi

# --- a forged third ACK: no flow, counted
rej0=$(counter fe cookies_rejected)
in_ns client timeout 20 hping3 -q -A -a "$spoofed" -s 40000 -p 80 -M 12345 -L 67890 -c 5 -i u10000 "$vip" >/dev/null 2>&1
rej=$(($(counter fe cookies_rejected) - rej0))
if [ "$rej" -ge 5 ] && [ "$(field live)" = 0 ]; then ok "forged-cookie-refused ($rej rejected)"
else bad forged-cookie-refused "rejected $rej, live $(field live)"; fi

cluster_config "default=2" >/dev/null
for _ in $(seq 50); do [ "$(live_flows fe be1)" = 0 ] && break; sleep 0.2; done
if [ "$(live_flows fe be1)" = 0 ]; then ok live-flows-freed
else bad live-flows-freed "$(in_ns fe head -2 /proc/net/btcp/flows | tr '\n' '|')"; fi
summary cookies
