#!/usr/bin/env python3
"""New connections at a fixed pace, to time a failure: every PERIOD ms for
SECS seconds, a fresh connection to HOST:80 asks for PATH (each in its own
thread, so a stuck one holds up no other) and is given TIMEOUT seconds.

    probe.py HOST PATH SECS [--period MS] [--timeout S]

Prints one line per probe once all are over: "START_MS ok|fail MS", its
start in ms since the epoch (the caller compares it with its own clock's
events) and how long it took.
"""
import argparse
import socket
import threading
import time


def probe(host, path, timeout, out, i):
    start = time.time()
    ok = False
    try:
        with socket.create_connection((host, 80), timeout=timeout) as s:
            s.settimeout(max(0.05, timeout - (time.time() - start)))
            s.sendall(f"GET {path}?probe{i} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            got = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += b
            ok = got.startswith(b"HTTP/1.1 200")
    except OSError:
        ok = False
    out[i] = (int(start * 1000), ok, int((time.time() - start) * 1000))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("path")
    ap.add_argument("secs", type=float)
    ap.add_argument("--period", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=2.0)
    a = ap.parse_args()
    n = int(a.secs * 1000 / a.period)
    out = [None] * n
    threads = []
    t0 = time.time()
    for i in range(n):
        delay = t0 + i * a.period / 1000 - time.time()
        if delay > 0:
            time.sleep(delay)
        t = threading.Thread(target=probe, args=(a.host, a.path, a.timeout, out, i))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    for r in out:
        if r:
            print(f"{r[0]} {'ok' if r[1] else 'fail'} {r[2]}")


if __name__ == "__main__":
    main()
