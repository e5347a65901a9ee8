#!/bin/bash
# A blind attacker and its victim, for tests/lab/blind.sh and
# tests/lab/bench_attack.sh (source it after qemu/topology.sh). The
# attacker is a namespace of its own on the lab bridge, at an address no
# node has ($LAB_NET.66); the victim a client download that pauses (its
# window closed, the connection open) until the attack is over, so the
# attack lands mid-transfer however slow the guest. tests/lab/blind.py
# does the packet work.
ATTACKER=attacker
ATTACKER_PY=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/blind.py

attacker_up() {
  ip netns add $ATTACKER &&
    ip link add v-$ATTACKER type veth peer name eth0 netns $ATTACKER &&
    ip link set v-$ATTACKER master "$LAB_BRIDGE" up &&
    ip -n $ATTACKER addr add "$LAB_NET.66/$LAB_PREFIX" dev eth0 &&
    ip -n $ATTACKER link set eth0 up &&
    ip -n $ATTACKER link set lo up
}

attacker_down() {
  ip netns pids $ATTACKER 2>/dev/null | xargs -r kill 2>/dev/null
  ip link del v-$ATTACKER 2>/dev/null
  ip netns del $ATTACKER 2>/dev/null
  return 0
}

# paused_fetch PATH PORT DIR [AT]: starts the victim's download of PATH
# from the VIP from client port PORT, paused after AT bytes (256 KiB by
# default), and writes "SEQ
# ACK" to DIR/aim (the client's next sequence number and its
# acknowledgment, seen on the client's own interface, to aim the
# offsets); fails if it did not get that far. Not in a subshell: the
# download is this shell's child (resume_fetch waits for it); its output
# is in DIR/fetch.
paused_fetch() {
  local path=$1 port=$2 dir=$3 at=${4:-262144} peek
  rm -f "$dir/go" "$dir/fetch" "$dir/peek" "$dir/aim"
  in_ns client timeout 120 /usr/bin/python3 "$ATTACKER_PY" peek "$port" >"$dir/peek" 2>&1 &
  peek=$!
  for _ in $(seq 300); do grep -q ready "$dir/peek" && break; sleep 0.1; done
  in_ns client timeout 600 /usr/bin/python3 "$ATTACKER_PY" fetch "$LAB_VIP" "$path" "$port" "$at" "$dir/go" \
    >"$dir/fetch" 2>&1 &
  FETCH_PID=$!
  wait $peek
  for _ in $(seq 300); do grep -q paused "$dir/fetch" && break; sleep 0.1; done
  grep -q paused "$dir/fetch" && tail -1 "$dir/peek" | grep -E '^[0-9]+ [0-9]+$' >"$dir/aim"
}

# resume_fetch DIR: lets the download go on, waits for it and sets
# FETCH_SHA to its body's sha256 (empty if it failed). Not in a subshell
# either: only this shell can wait for the download.
resume_fetch() {
  local dir=$1
  touch "$dir/go"
  FETCH_SHA=
  wait "$FETCH_PID" && FETCH_SHA=$(tail -1 "$dir/fetch" | grep -E '^[0-9a-f]{64}$')
}
