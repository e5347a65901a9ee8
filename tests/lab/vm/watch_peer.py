#!/usr/bin/env python3
"""Watch this node's view of one peer: its ctrl_peer line in
/proc/net/btcp/counters, read every PERIOD ms for up to SECS seconds
(multi-VM lab drivers run it in fe's VM). A loop of its own, so that a
busy VM's shell forking for every look does not blur the timing.

    watch_peer.py ID SECS [--period MS] [--until WORD]

Prints "MS LINE" for every look, MS since the watch began; with --until,
stops at the first line with WORD as a field and prints only
"MS GAP LINE", GAP the ms since the look before it (the peer changed
somewhere in that gap). Exit status 1 if WORD never came.
"""
import argparse
import sys
import time


def line_of(peer):
    with open("/proc/net/btcp/counters") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 1 and fields[0] == "ctrl_peer" and fields[1] == peer:
                return line.strip()
    return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("peer")
    ap.add_argument("secs", type=float)
    ap.add_argument("--period", type=float, default=10)
    ap.add_argument("--until")
    a = ap.parse_args()
    start = time.monotonic()
    prev = start
    while True:
        now = time.monotonic()
        if now - start > a.secs:
            return 1 if a.until else 0
        line = line_of(a.peer)
        ms = int((now - start) * 1000)
        if a.until is None:
            print(ms, line, flush=True)
        elif a.until in line.split():
            print(ms, int((now - prev) * 1000), line, flush=True)
            return 0
        prev = now
        time.sleep(a.period / 1000)


if __name__ == "__main__":
    sys.exit(main())
