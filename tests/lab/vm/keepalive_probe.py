#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Open COUNT keep-alive HTTP/1.1 connections to HOST:80, fetch PATH once
on each, print

    ready N

then wait until the file GO exists and fetch PATH again on every
connection, each within --timeout seconds, and print how that went:

    again ok A reset R timeout T other O reset_max_secs S

(reset: the connection was reset, or closed before an answer; S: the
longest time such a request took to fail). Bounded: at most --limit-secs
in all. Used by tests/lab/vm/backend_death.sh: connections served by a
back-end that died are reset by the front-end once the grace is over, and
go on if it came back within it.
"""
import argparse
import asyncio
import os
import sys
import time


async def get(reader, writer, host, path):
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return head.startswith(b"HTTP/1.1 200")


async def again(conn, host, path, timeout):
    reader, writer = conn
    t0 = time.monotonic()
    try:
        good = await asyncio.wait_for(get(reader, writer, host, path), timeout)
        return ("ok" if good else "other"), 0.0
    except asyncio.TimeoutError:
        return "timeout", 0.0
    except (ConnectionError, asyncio.IncompleteReadError):
        return "reset", time.monotonic() - t0
    finally:
        writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("path")
    ap.add_argument("count", type=int)
    ap.add_argument("go")
    ap.add_argument("--timeout", type=float, default=15)
    ap.add_argument("--limit-secs", type=float, default=120)
    a = ap.parse_args()
    deadline = time.monotonic() + a.limit_secs
    conns = []
    for _ in range(a.count):
        reader, writer = await asyncio.open_connection(a.host, 80)
        if not await get(reader, writer, a.host, a.path):
            sys.exit(f"first request on connection {len(conns)} failed")
        conns.append((reader, writer))
    print(f"ready {len(conns)}", flush=True)
    while not os.path.exists(a.go):
        if time.monotonic() > deadline:
            sys.exit("no go")
        await asyncio.sleep(0.1)
    results = await asyncio.gather(*(again(c, a.host, a.path, a.timeout) for c in conns))
    count = {k: sum(1 for r, _ in results if r == k) for k in ("ok", "reset", "timeout", "other")}
    worst = max((t for r, t in results if r == "reset"), default=0.0)
    print(
        f"again ok {count['ok']} reset {count['reset']} timeout {count['timeout']} "
        f"other {count['other']} reset_max_secs {worst:.2f}",
        flush=True,
    )


asyncio.run(main())
