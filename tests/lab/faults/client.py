#!/usr/bin/python3
"""HTTP client of odd shapes for tests/lab/faults.sh (runs in the client
namespace, plain sockets, no third-party modules).

    client.py HOST MODE [PATH] [--port 80] [--timeout 90]

MODE is one of
    onebyte      GET PATH sent one byte per segment (TCP_NODELAY, 10 ms apart)
    bighdr       GET PATH with a 3000-byte X-Pad header (more than one MSS)
    post-same    POST PATH, a 1000-byte body in the same segment as the head
    post-split   POST PATH, the head plus 100 body bytes in one segment, then
                 20,000 more body bytes in later segments, 0.2 s apart
    post-pending POST PATH, the head, then right after it (its own send,
                 while the handoff is pending) a 12,000-byte body
    pipeline     two GETs in one write: PATH, then PATH2 (--path2)
    halfclose    GET PATH, shutdown(SHUT_WR) right after it, read everything
    finwithdata  TCP_CORK, GET PATH, shutdown(SHUT_WR): the FIN rides on the
                 request's segment
    http10       GET PATH HTTP/1.0: the server closes first
    pausedget    GET PATH, 0.5 s after the connection is up
    slowread     GET PATH, the response read 8 KiB at a time at --rate bytes/s
    zerowin      GET PATH, read nothing for --stall seconds, then read it all

Prints one line of key=value words: for every response `rN=STATUS:LEN:SHA256`
(POST bodies sent: `sent=LEN:SHA256`, and `echo=1` when the CGI's
answer names that length and sha256), `eof=server` when the server closed
its side before we closed ours, `secs=` the time taken, and `err=` on error.
Exit status 0 when every expected response arrived complete.
"""
import argparse
import hashlib
import socket
import sys
import time


def body_bytes(n, seed):
    """Deterministic, non-repeating body bytes."""
    return hashlib.shake_128(b"btcp-faults:" + seed.encode()).digest(n)


class Reader:
    """Buffered reads of HTTP/1.x responses from a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False
        self.slow = 0
        self.read = 0
        self.t0 = time.monotonic()

    def fill(self):
        if self.eof:
            return False
        if self.slow:
            # At most `slow` bytes/s on average: 8 KiB, then the time they
            # are worth.
            chunk = self.sock.recv(8192)
            self.read += len(chunk)
            ahead = self.read / self.slow - (time.monotonic() - self.t0)
            if ahead > 0:
                time.sleep(ahead)
        else:
            chunk = self.sock.recv(262144)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def response(self):
        """(status, body) of the next response; body read by Content-Length,
        chunked encoding, or to EOF."""
        while b"\r\n\r\n" not in self.buf:
            if not self.fill():
                raise EOFError("EOF in the response head (%d bytes)" % len(self.buf))
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if "content-length" in hdrs:
            n = int(hdrs["content-length"])
            while len(self.buf) < n:
                if not self.fill():
                    raise EOFError("EOF after %d of %d body bytes" % (len(self.buf), n))
            body, self.buf = self.buf[:n], self.buf[n:]
        elif hdrs.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                while b"\r\n" not in self.buf:
                    if not self.fill():
                        raise EOFError("EOF in a chunk size")
                size, self.buf = self.buf.split(b"\r\n", 1)
                n = int(size.split(b";")[0], 16)
                while len(self.buf) < n + 2:
                    if not self.fill():
                        raise EOFError("EOF in a chunk")
                body += self.buf[:n]
                self.buf = self.buf[n + 2:]
                if n == 0:
                    break
        else:
            while self.fill():
                pass
            body, self.buf = self.buf, b""
        return status, body


def head(method, path, host, extra="", close=True, version="1.1"):
    h = "%s %s HTTP/%s\r\nHost: %s\r\nUser-Agent: btcp-faults\r\n" % (method, path, version, host)
    if close and version == "1.1":
        h += "Connection: close\r\n"
    return (h + extra + "\r\n").encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("mode")
    ap.add_argument("path", nargs="?", default="/small/64k.bin")
    ap.add_argument("--path2", default="/small/4k.bin")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--timeout", type=float, default=90)
    ap.add_argument("--stall", type=float, default=20)
    ap.add_argument("--rate", type=float, default=204800)
    a = ap.parse_args()

    out = []
    t0 = time.monotonic()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if a.mode == "finwithdata":
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    s.connect((a.host, a.port))
    r = Reader(s)
    want = 1
    sent = b""
    try:
        if a.mode == "onebyte":
            for b in head("GET", a.path, a.host):
                s.send(bytes([b]))
                time.sleep(0.01)
        elif a.mode == "bighdr":
            s.sendall(head("GET", a.path, a.host, "X-Pad: %s\r\n" % ("p" * 3000)))
        elif a.mode in ("post-same", "post-split", "post-pending"):
            n = {"post-same": 1000, "post-split": 20100, "post-pending": 12000}[a.mode]
            body = sent = body_bytes(n, a.mode)
            out.append("sent=%d:%s" % (n, hashlib.sha256(body).hexdigest()))
            h = head("POST", a.path, a.host,
                     "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n" % n)
            if a.mode == "post-same":
                s.sendall(h + body)
            elif a.mode == "post-pending":
                s.sendall(h)
                s.sendall(body)
            else:
                s.sendall(h + body[:100])
                for i in range(100, n, 5000):
                    time.sleep(0.2)
                    s.sendall(body[i:i + 5000])
        elif a.mode == "pipeline":
            s.sendall(head("GET", a.path, a.host, close=False) + head("GET", a.path2, a.host))
            want = 2
        elif a.mode in ("halfclose", "finwithdata"):
            s.sendall(head("GET", a.path, a.host))
            s.shutdown(socket.SHUT_WR)
        elif a.mode == "pausedget":
            time.sleep(0.5)
            s.sendall(head("GET", a.path, a.host))
        elif a.mode == "http10":
            s.sendall(head("GET", a.path, a.host, version="1.0"))
        elif a.mode == "slowread":
            s.sendall(head("GET", a.path, a.host))
            r.slow = a.rate
        elif a.mode == "zerowin":
            s.sendall(head("GET", a.path, a.host))
            time.sleep(a.stall)
        else:
            print("err=unknown-mode")
            return 2
        for i in range(want):
            status, body = r.response()
            out.append("r%d=%d:%d:%s" % (i + 1, status, len(body), hashlib.sha256(body).hexdigest()))
            if a.mode.startswith("post"):
                # The CGI answers "len=N sha=HEX" for the body it read.
                want_echo = "len=%d sha=%s" % (len(sent), hashlib.sha256(sent).hexdigest())
                out.append("echo=%d" % (body.decode("latin-1").strip() == want_echo))
        # The server closes (Connection: close, HTTP/1.0) before we do.
        while r.fill():
            pass
        out.append("eof=server")
        rc = 0
    except (OSError, EOFError, ValueError, IndexError) as e:
        out.append("err=%s" % str(e).replace(" ", "_"))
        rc = 1
    finally:
        s.close()
    out.append("secs=%.2f" % (time.monotonic() - t0))
    print(" ".join(out))
    return rc


if __name__ == "__main__":
    sys.exit(main())
