#!/usr/bin/python3
"""Slow request heads from one address, for tests/lab/client_limit.sh.

    slow_heads.py VIP COUNT HOLD_S

Opens COUNT connections to VIP:80 (as fast as it can, each with the first
line of a request head and no more), holds them HOLD_S seconds, then
prints "connected N held M": how many connected and sent their first
line (the front-end resets those it will not hold at once), and how many
it still held at the end (not reset, not closed). Bounded: COUNT
at most 5000, HOLD_S at most 60.
"""
import select
import socket
import sys
import time

vip, count, hold = sys.argv[1], min(int(sys.argv[2]), 5000), min(float(sys.argv[3]), 60)
socks = []
for _ in range(count):
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect((vip, 80))
        s.sendall(b"GET /small/1k.bin HTTP/1.1\r\n")
        socks.append(s)
    except OSError:
        s.close()
time.sleep(hold)
held = 0
for s in socks:
    # Still held: nothing to read (no RST, no FIN, no answer).
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        held += 1
    s.close()
print("connected", len(socks), "held", held, flush=True)
