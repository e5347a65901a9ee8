#!/usr/bin/env python3
"""The web workload of `make bench-lard`: a file tree and a request trace.

    workload.py tree DIR [--files N] [--seed S]    write DIR/f/NNNNN.bin, print total bytes
    workload.py trace FILE [--files N] [--requests R] [--seed S]
                                                   write R request paths, one per line

Both are deterministic for a seed, so every back-end VM writes the same
tree and every run replays the same trace. The model follows SURGE
(Barford and Crovella, SIGMETRICS 1998), the generator web-server studies
of the LARD era used:

* file sizes: a lognormal body (mu 9.357, sigma 1.318: median 11.6 KB)
  with a Pareto tail (k 133 KB, alpha 1.1) for 7% of the files, capped at
  4 MiB; heavy-tailed, a few large files hold much of the bytes;
* popularity: Zipf with exponent 1 over the files, independent of size
  (file 1 is the most popular after a seeded shuffle, so popularity and
  name order are unrelated);
* temporal locality: with probability 0.35 a request repeats one of the
  recent distinct files, at an LRU stack depth drawn from a lognormal
  (median 8), otherwise it draws from the popularity distribution.
"""
import argparse
import bisect
import math
import os
import random

MU, SIGMA = 9.357, 1.318
TAIL_K, TAIL_ALPHA, TAIL_SHARE = 133_000, 1.1, 0.07
MAX_SIZE = 4 << 20
REPEAT, DEPTH_MU, DEPTH_SIGMA = 0.35, math.log(8), 1.0


def sizes(files, rng):
    out = []
    for _ in range(files):
        if rng.random() < TAIL_SHARE:
            s = TAIL_K / (rng.random() ** (1 / TAIL_ALPHA))
        else:
            s = rng.lognormvariate(MU, SIGMA)
        out.append(max(64, min(MAX_SIZE, int(s))))
    return out


def name(i):
    return "/f/%05d.bin" % i


def tree(args):
    rng = random.Random(args.seed)
    os.makedirs(os.path.join(args.dir, "f"), exist_ok=True)
    total = 0
    for i, s in enumerate(sizes(args.files, rng)):
        # Content is irrelevant to the cache; a cheap repeatable pattern.
        block = (b"%05d" % i) * 205
        with open(os.path.join(args.dir, name(i).lstrip("/")), "wb") as f:
            left = s
            while left > 0:
                f.write(block[:left])
                left -= len(block)
        total += s
    print(total)


def trace(args):
    rng = random.Random(args.seed)
    order = list(range(args.files))
    rng.shuffle(order)
    cdf, acc = [], 0.0
    for k in range(1, args.files + 1):
        acc += 1.0 / k
        cdf.append(acc)
    stack = []  # recent distinct files, most recent last
    with open(args.file, "w") as f:
        for _ in range(args.requests):
            if stack and rng.random() < REPEAT:
                depth = min(len(stack), 1 + int(rng.lognormvariate(DEPTH_MU, DEPTH_SIGMA)))
                i = stack[-depth]
            else:
                i = order[bisect.bisect_left(cdf, rng.random() * acc)]
            if i in stack:
                stack.remove(i)
            stack.append(i)
            if len(stack) > 1000:
                del stack[0]
            f.write(name(i) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tree")
    t.add_argument("dir")
    r = sub.add_parser("trace")
    r.add_argument("file")
    r.add_argument("--requests", type=int, default=100_000)
    for q in (t, r):
        q.add_argument("--files", type=int, default=2000)
        q.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    tree(args) if args.cmd == "tree" else trace(args)


if __name__ == "__main__":
    main()
