#!/usr/bin/env python3
"""A web server with a bounded in-memory cache, for `make bench-lard`.

It serves files under ROOT like a static server whose working set does not
fit its memory: an LRU cache of CACHE_BYTES holds file bodies; a miss
costs MISS_MS of simulated disk time (plus the file's size at DISK_KIBPS
KiB/s, if given) on a disk that serves one miss at a time, as the
disk-bound back-ends of the LARD paper do (the lab guest has
no cgroups to limit a real server's page cache, and its disk is the
host's page cache anyway), and then enters the cache. GET /_stats answers
"hits N misses N bytes N disk_bytes N files N" (bytes: what the cache
holds; disk_bytes: what misses read; files: the distinct files asked for,
which shows how a policy partitions the content), GET /_reset empties cache and counters,
GET /_warm makes misses skip the disk's delay (a warm-up fills the caches
with what the policy under test sends each back-end, in seconds instead
of the disk's time), GET /_zero zeroes the counters and puts the disk's
delay back (the measurement starts). Threaded, HTTP/1.1 keep-alive.

    cacheserver.py ADDR PORT ROOT CACHE_BYTES MISS_MS [DISK_KIBPS]
"""
import collections
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

addr, port, root, cache_bytes, miss_ms = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
disk_kibps = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
lock = threading.Lock()
disk = threading.Lock()  # one miss at a time
cache = collections.OrderedDict()  # path -> bytes, oldest first
state = {"bytes": 0, "hits": 0, "misses": 0, "disk_bytes": 0, "warm": False}
seen = set()  # the distinct paths asked for since the counters were zeroed


def lookup(path):
    with lock:
        seen.add(path)
        body = cache.get(path)
        if body is not None:
            cache.move_to_end(path)
            state["hits"] += 1
            return body
        state["misses"] += 1
        warm = state["warm"]
    with disk:
        with open(os.path.join(root, path.lstrip("/")), "rb") as f:
            body = f.read()
        transfer = len(body) / 1024.0 / disk_kibps if disk_kibps else 0.0
        if not warm:
            time.sleep(miss_ms / 1000.0 + transfer)
    with lock:
        state["disk_bytes"] += len(body)
        if path not in cache and len(body) <= cache_bytes:
            cache[path] = body
            state["bytes"] += len(body)
            while state["bytes"] > cache_bytes:
                _, old = cache.popitem(last=False)
                state["bytes"] -= len(old)
    return body


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            # Said, so that a client that asked to close expects the EOF
            # (wrk counts an unannounced one as a read error).
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/_stats":
            with lock:
                text = "hits %d misses %d bytes %d disk_bytes %d files %d\n" % (
                    state["hits"], state["misses"], state["bytes"], state["disk_bytes"], len(seen))
            return self.reply(200, text.encode())
        if self.path == "/_reset":
            with lock:
                cache.clear()
                seen.clear()
                state.update(bytes=0, hits=0, misses=0, disk_bytes=0, warm=False)
            return self.reply(200, b"reset\n")
        if self.path == "/_warm":
            with lock:
                state.update(warm=True)
            return self.reply(200, b"warming\n")
        if self.path == "/_zero":
            with lock:
                seen.clear()
                state.update(hits=0, misses=0, disk_bytes=0, warm=False)
            return self.reply(200, b"zeroed\n")
        path = os.path.normpath(self.path.split("?", 1)[0])
        if ".." in path or not os.path.isfile(os.path.join(root, path.lstrip("/"))):
            return self.reply(404, b"not found\n")
        self.reply(200, lookup(path))


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.request_queue_size = 256
ThreadingHTTPServer((addr, port), Handler).serve_forever()
