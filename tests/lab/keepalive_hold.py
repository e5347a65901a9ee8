#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Open COUNT keep-alive HTTP/1.1 connections to HOST:PORT (spread over the
source addresses given), fetch PATH once on each and check its sha256, then
hold every connection open until the file RELEASE exists (or --hold-secs
pass), and close them all. Prints one line when all are up:

    ready N ok M bad K secs S

and one when they are closed. With --again, each connection first fetches
PATH once more (sha256 checked) after the release:

    again ok M bad K

Bounded: at most --limit-secs in all.
Used by tests/lab/bench_scale.sh to measure memory per held connection.
"""
import argparse
import asyncio
import hashlib
import os
import sys
import time


async def fetch(host, port, path, source, sha):
    reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
    good = await get(reader, writer, host, path, sha)
    return (reader, writer), good


async def get(reader, writer, host, path, sha):
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length)
    return head.startswith(b"HTTP/1.1 200") and hashlib.sha256(body).hexdigest() == sha


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--path", required=True)
    p.add_argument("--sha", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--sources", required=True, help="comma-separated")
    p.add_argument("--release", required=True, help="close all once this file exists")
    p.add_argument("--parallel", type=int, default=200)
    p.add_argument("--limit-secs", type=float, default=900)
    p.add_argument("--again", action="store_true", help="fetch once more on each after the release")
    a = p.parse_args()
    sources = a.sources.split(",")
    t0 = time.monotonic()
    deadline = t0 + a.limit_secs
    sem = asyncio.Semaphore(a.parallel)
    conns, ok, bad = [], 0, 0

    async def one(i):
        nonlocal ok, bad
        async with sem:
            if time.monotonic() > deadline:
                bad += 1
                return
            try:
                c, good = await asyncio.wait_for(
                    fetch(a.host, a.port, a.path, sources[i % len(sources)], a.sha), 30)
                conns.append(c)
                ok, bad = (ok + 1, bad) if good else (ok, bad + 1)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError, ValueError):
                bad += 1

    await asyncio.gather(*(one(i) for i in range(a.count)))
    print(f"ready {len(conns)} ok {ok} bad {bad} secs {time.monotonic() - t0:.1f}", flush=True)
    while not os.path.exists(a.release) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    if a.again:
        async def again(r, w):
            try:
                return await asyncio.wait_for(get(r, w, a.host, a.path, a.sha), 60)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError, ValueError):
                return False
        results = await asyncio.gather(*(again(r, w) for r, w in conns))
        print(f"again ok {sum(results)} bad {len(results) - sum(results)}", flush=True)
    for _, w in conns:
        w.close()
    await asyncio.gather(*(w.wait_closed() for _, w in conns), return_exceptions=True)
    print(f"closed {len(conns)}", flush=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
