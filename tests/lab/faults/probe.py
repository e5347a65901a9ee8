#!/usr/bin/python3
"""Hand-made packets to the VIP with scapy, for tests/lab/faults.sh (runs in
the client namespace; the client's own stack must not answer for the ports
used here: faults.sh drops its RSTs from 50000-50999 with nftables).

    probe.py VIP FE_MAC MODE

MODE:
    synopts   three SYNs: TFO cookie request (kind 34), MP_CAPABLE (kind 30),
              ECE|CWR|AE; reports the SYN/ACK's flags and option kinds
    tfodata   a SYN with a TFO cookie and 60 bytes of data, then the request
              as usual: the SYN/ACK must not ack the data; the response
              must arrive
    ipopts    a whole exchange with IP options (Record Route) on every
              client packet: handshake, GET /small/1k.bin, the response
    fragsyn   a SYN split into two IP fragments
    fragreq   handshake, then the request split into IP fragments; without
              an answer, the request again unfragmented (a retransmission)
    fragdata  handshake, a first request and its response (keep-alive),
              then a second request as in fragreq

Prints key=value words; `who=fe|be` tells whose MAC an answer came from.
"""
import hashlib
import random
import sys
import time

import select

from scapy.all import IP, TCP, Ether, IPOption_RR, conf, fragment

conf.verb = 0
VIP, FE_MAC, MODE = sys.argv[1], sys.argv[2].lower(), sys.argv[3]
IFACE = "eth0"
# One capture socket from the start: every answer is queued on it, however
# slowly this script runs (no sniffer thread to miss the early ones).
LISTEN = conf.L2listen(iface=IFACE)
SENDER = conf.L2socket(iface=IFACE)


def answers(sport, timeout, until=None):
    """Packets from VIP:80 to sport within timeout seconds (stops early
    when until(list) says so)."""
    got = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([LISTEN], [], [], min(left, 0.2))
        if not r:
            continue
        p = LISTEN.recv()
        if (p is not None and IP in p and TCP in p and p[IP].src == VIP
                and p[TCP].sport == 80 and p[TCP].dport == sport):
            got.append(p)
            if until and until(got):
                break
    return got


def who(p):
    return "fe" if p[Ether].src.lower() == FE_MAC else "be"
OK_KINDS = {0, 1, 2, 3, 4, 8}  # EOL NOP MSS WS SACK-permitted TS


def kinds(pkt):
    out = []
    for o in pkt[TCP].options:
        k = o[0]
        if isinstance(k, str):
            k = {"EOL": 0, "NOP": 1, "MSS": 2, "WScale": 3, "SAckOK": 4, "SAck": 5,
                 "Timestamp": 8, "TFO": 34, "MPTCP": 30}.get(k, k)
        out.append(k)
    return out


def ts_of(pkt):
    for o in pkt[TCP].options:
        if o[0] == "Timestamp":
            return o[1]
    return None


def fresh_port():
    """A source port in 50000-50999 that no earlier probe of this boot used:
    closed flows linger (60 s by default), and a hand-made SYN with a random
    ISN on a lingering 4-tuple is not a new connection to a TIME-WAIT."""
    path = "/tmp/btcp-probe-ports"
    try:
        with open(path) as f:
            used = int(f.read().strip() or 0)
    except (OSError, ValueError):
        used = random.randint(0, 499)
    with open(path, "w") as f:
        f.write(str(used + 1))
    return 50000 + used % 1000


class Conn:
    """One client connection driven by hand."""

    def __init__(self, ipopts=None):
        self.sport = fresh_port()
        self.isn = random.getrandbits(32)
        self.seq = self.isn
        self.ack = 0
        self.ipopts = ipopts
        self.peer_ts = 0
        self.t0 = time.monotonic()
        self.ts_base = random.getrandbits(31)
        self.peer_ack = None

    def ip(self):
        return IP(dst=VIP, options=self.ipopts) if self.ipopts else IP(dst=VIP)

    def tsval(self):
        return (self.ts_base + int((time.monotonic() - self.t0) * 1000)) & 0xFFFFFFFF

    def seg(self, flags, payload=b"", opts=None):
        o = opts if opts is not None else [("NOP", None), ("NOP", None),
                                           ("Timestamp", (self.tsval(), self.peer_ts))]
        p = self.ip() / TCP(sport=self.sport, dport=80, flags=flags, seq=self.seq,
                            ack=self.ack, window=65535, options=o)
        return p / payload if payload else p

    def syn(self, flags="S", extra=(), payload=b""):
        o = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (self.tsval(), 0)),
             ("NOP", None), ("WScale", 7)] + list(extra)
        p = self.ip() / TCP(sport=self.sport, dport=80, flags=flags, seq=self.isn,
                            window=64240, options=o)
        if payload:
            p = p / payload
        return p

    def send(self, pkt, frag=0):
        pkts = fragment(pkt, fragsize=frag) if frag else [pkt]
        for p in pkts:
            SENDER.send(Ether() / p)

    def synack(self, syn):
        self.send(syn)
        got = answers(self.sport, 5, lambda g: True)
        return got[0] if got else None

    def handshake(self, syn=None):
        syn = syn or self.syn()
        sa = self.synack(syn)
        if sa is None or (sa[TCP].flags & 0x12) != 0x12:
            return sa, False
        self.seq = self.isn + 1
        self.ack = (sa[TCP].seq + 1) & 0xFFFFFFFF
        ts = ts_of(sa)
        self.peer_ts = ts[0] if ts else 0
        self.send(self.seg("A"))
        return sa, True

    def request(self, req, frag=0, wait=6.0, want_fin=False):
        """Sends req (fragmented if frag), collects the answer for up to
        wait seconds; returns (payload bytes in order, saw_fin, saw_rst,
        who answered)."""
        self.send(self.seg("PA", req), frag)
        self.seq = (self.seq + len(req)) & 0xFFFFFFFF
        base = self.ack

        def done(pkts):
            body = assemble(collect(pkts, base)[0])
            fin = any(p[TCP].flags & 0x01 for p in pkts)
            rst = any(p[TCP].flags & 0x04 for p in pkts)
            return rst or (complete(body) and (fin or not want_fin))
        pkts = answers(self.sport, wait, done)
        got, fin, rst = collect(pkts, base)
        for p in pkts:
            ts = ts_of(p)
            if ts:
                self.peer_ts = ts[0]
            if p[TCP].flags & 0x10:
                self.peer_ack = p[TCP].ack
        body = assemble(got)
        self.ack = (self.ack + len(body) + (1 if fin else 0)) & 0xFFFFFFFF
        if body and not rst:
            self.send(self.seg("A"))
        return body, fin, rst, ",".join(sorted({who(p) for p in pkts})) or "none"

    def reset(self):
        """RST at our send edge and at what the peer last acknowledged (a
        back-end that never saw some bytes takes only the latter)."""
        for seq in {self.seq, self.peer_ack if self.peer_ack is not None else self.seq}:
            p = self.ip() / TCP(sport=self.sport, dport=80, flags="R", seq=seq, window=0)
            self.send(p)


def collect(pkts, base):
    """(payload by offset from base, saw FIN, saw RST)."""
    got = {}
    for p in pkts:
        data = bytes(p[TCP].payload)
        # Ethernet padding of short frames is not payload.
        data = data[:max(0, p[IP].len - 4 * p[IP].ihl - 4 * p[TCP].dataofs)]
        if data:
            got[(p[TCP].seq - base) & 0xFFFFFFFF] = data
    return (got, any(p[TCP].flags & 0x01 for p in pkts),
            any(p[TCP].flags & 0x04 for p in pkts))


def assemble(got):
    out = b""
    for off in sorted(got):
        if off <= len(out):
            out = out[:off] + got[off] if off + len(got[off]) > len(out) else out
    return out


def complete(data):
    if b"\r\n\r\n" not in data:
        return False
    h, b = data.split(b"\r\n\r\n", 1)
    for line in h.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(b) >= int(line.split(b":")[1])
    return False


def describe(data):
    if b"\r\n\r\n" not in data:
        return "resp=%dB-incomplete" % len(data)
    h, b = data.split(b"\r\n\r\n", 1)
    status = h.split(b" ")[1].decode()
    return "status=%s body=%d sha=%s" % (status, len(b), hashlib.sha256(b).hexdigest())


def get(path, close=True):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n"
            % (path, VIP, "Connection: close\r\n" if close else "")).encode()


def synack_report(name, sa):
    if sa is None:
        return "%s=none" % name
    t = sa[TCP]
    k = kinds(sa)
    fl = int(t.flags)
    bad = [x for x in k if x not in OK_KINDS]
    return "%s=flags:%s,ece:%d,cwr:%d,ae:%d,kinds:%s,bad:%s" % (
        name, t.flags, (fl >> 6) & 1, (fl >> 7) & 1, (fl >> 8) & 1,
        "-".join(map(str, k)), "-".join(map(str, bad)) or "none")


def main():
    out = []
    if MODE == "synopts":
        probes = [("tfo", "S", [(34, b"")]), ("mptcp", "S", [(30, b"\x01\x81")]),
                  ("ecn", "SECN", [])]
        for name, flags, extra in probes:
            c = Conn()
            sa = c.synack(c.syn(flags, extra))
            out.append(synack_report(name, sa))
            if sa is not None and sa[TCP].flags & 0x12 == 0x12:
                c.seq = c.isn + 1
                c.reset()
    elif MODE == "tfodata":
        c = Conn()
        early = b"GET /early-data-in-the-syn HTTP/1.1\r\nHost: x\r\n\r\n"
        syn = c.syn("S", [(34, bytes(range(8)))], early)
        sa, ok = c.handshake(syn)
        out.append(synack_report("synack", sa))
        if ok:
            out.append("ack_covers_data=%d" % (sa[TCP].ack != (c.isn + 1) & 0xFFFFFFFF))
            body, fin, rst, who = c.request(get("/small/1k.bin"), want_fin=True)
            out += [describe(body), "fin=%d" % fin, "rst=%d" % rst, "who=%s" % who]
            c.reset()
    elif MODE == "ipopts":
        c = Conn(ipopts=[IPOption_RR(length=7, pointer=4, routers=["0.0.0.0"])])
        sa, ok = c.handshake()
        out.append(synack_report("synack", sa))
        if ok:
            body, fin, rst, who = c.request(get("/small/1k.bin"), want_fin=True)
            out += [describe(body), "fin=%d" % fin, "rst=%d" % rst, "who=%s" % who]
            c.reset()
    elif MODE == "fragsyn":
        c = Conn()
        out.append("nfrag=%d" % len(fragment(c.syn(), fragsize=24)))
        c.send(c.syn(), frag=24)
        ans = answers(c.sport, 4)
        if not ans:
            out.append("answer=none")
        for p in ans[:3]:
            out.append("answer=%s who=%s" % (p[TCP].flags, who(p)))
        if any(p[TCP].flags & 0x12 == 0x12 for p in ans):
            c.seq = c.isn + 1
            c.reset()
    elif MODE in ("fragreq", "fragdata"):
        c = Conn()
        sa, ok = c.handshake()
        out.append(synack_report("synack", sa))
        if ok:
            if MODE == "fragdata":
                body, fin, rst, who = c.request(get("/small/1k.bin", close=False))
                out += ["first:" + describe(body), "first_who=%s" % who]
            req = get("/small/4k.bin")
            seq0 = c.seq
            out.append("nfrag=%d" % len(fragment(c.seg("PA", req), fragsize=64)))
            body, fin, rst, who = c.request(req, frag=64, wait=2.5, want_fin=True)
            out += ["frag:" + describe(body), "frag_rst=%d" % rst, "frag_who=%s" % who]
            if not body and not rst:
                # What the client's stack would do: send the bytes again,
                # unfragmented (same sequence number).
                c.seq = seq0
                body, fin, rst, who = c.request(req, want_fin=True)
                out += ["again:" + describe(body), "again_rst=%d" % rst, "again_who=%s" % who]
            if not rst:
                c.reset()
    else:
        print("err=unknown-mode")
        return 2
    print(" ".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
