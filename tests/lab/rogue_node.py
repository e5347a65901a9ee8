#!/usr/bin/env python3
"""A node that holds the cluster key and misuses it (tests/lab/scope.sh).

Speaks the control protocol of rust/btcp-core/src/wire.rs (the version is
read from there): connects to a back-end's control port as a configured
peer, optionally sends a HELLO naming the services it claims to front,
then one HANDOFF_REQ per --req, and closes after --linger seconds. Bounded:
at most 16 requests, one connection.

    rogue_node.py --key HEX --sender 9 --recipient 2 --from ADDR --to ADDR [--port 7447]
                  [--hello VIP:PORT,...] --req CLIENT VIP:PORT ...
"""
import argparse
import hashlib
import hmac
import os
import re
import socket
import struct
import time

MAGIC = 0xB7C9
HELLO, HANDOFF_REQ = 1, 2
MAX_SERVICES = 8
WIRE_RS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../rust/btcp-core/src/wire.rs")


def wire_version():
    with open(WIRE_RS) as f:
        m = re.search(r"^pub const VERSION: u8 = (\d+);", f.read(), re.M)
    if not m:
        raise SystemExit("no VERSION in " + WIRE_RS)
    return int(m.group(1))


def ip(s):
    return struct.unpack("!I", socket.inet_aton(s))[0]


def endpoint(s):
    a, p = s.rsplit(":", 1)
    return ip(a), int(p)


def frame(key, version, mtype, seq, sender, recipient, payload):
    head = struct.pack("!HBBIQHH", MAGIC, version, mtype, len(payload), seq, sender, recipient)
    return head + payload + hmac.new(key, head + payload, hashlib.sha256).digest()


def hello(sender, services):
    body = struct.pack("!HIIB", sender, 1 << 3, 1, len(services))
    slots = services + [(0, 0)] * (MAX_SERVICES - len(services))
    return body + b"".join(struct.pack("!IH", a, p) for a, p in slots)


def handoff_req(flow_id, client, vip, port, request):
    opts = struct.pack("!HBB", 1460, 0b111, 7)  # MSS, wscale+SACK+TS, wscale 7
    isn_client, isn_fe = 1000 + flow_id, 5000
    return (
        struct.pack("!IIHIHI", flow_id, client, 40000 + flow_id, vip, port, isn_client)
        + opts
        + struct.pack("!HI", 64240, isn_fe)
        + opts
        + struct.pack("!IIHIBI", 1, 1, 502, isn_client + 1, 0, len(request))
        + request
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--key", required=True)
    ap.add_argument("--sender", type=int, required=True)
    ap.add_argument("--recipient", type=int, required=True)
    ap.add_argument("--to", required=True)
    ap.add_argument("--port", type=int, default=7447)
    ap.add_argument("--from", dest="src", required=True, help="the rogue's address (a configured peer's)")
    ap.add_argument("--hello", help="VIP:PORT,... to announce; no HELLO without it")
    ap.add_argument("--req", nargs=2, action="append", default=[], metavar=("CLIENT", "VIP:PORT"))
    ap.add_argument("--linger", type=float, default=2.0)
    a = ap.parse_args()
    if len(a.req) > 16:
        raise SystemExit("at most 16 requests")
    key, version = bytes.fromhex(a.key), wire_version()
    seq = int(time.time() * 1000) << 16
    s = socket.create_connection((a.to, a.port), timeout=5, source_address=(a.src, 0))
    out = b""
    if a.hello is not None:
        services = [endpoint(e) for e in a.hello.split(",") if e]
        seq += 1
        out += frame(key, version, HELLO, seq, a.sender, a.recipient, hello(a.sender, services))
    for i, (client, ep) in enumerate(a.req, 1):
        vip, port = endpoint(ep)
        req = b"GET /whoami.txt HTTP/1.1\r\nHost: x\r\n\r\n"
        seq += 1
        out += frame(key, version, HANDOFF_REQ, seq, a.sender, a.recipient,
                     handoff_req(i, ip(client), vip, port, req))
    s.sendall(out)
    time.sleep(a.linger)
    s.close()


if __name__ == "__main__":
    main()
