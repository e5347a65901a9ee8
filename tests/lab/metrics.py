#!/usr/bin/python3
"""Checks `btcpctl stats --format prometheus` with the Prometheus client
library's own parser, against the JSON form and the counters file taken at
the same (idle) moment:

    metrics.py PROM JSON COUNTERS [--pool NAME=N ...] [--peers ID,ID,...]

Every family parses and is named btcp_*; each peer's round-trip histogram
is cumulative, its +Inf bucket is its count and its count is the peer's
acknowledged handoffs; the handoffs per peer and per service each add up
to the node's handoffs_local + handoffs_remote; a pool named with --pool
picked exactly N nodes; the peers named with --peers are live and listen
for every service; the node's counters equal the counters file's; the JSON
holds the same figures. Prints one line: what it saw, or why it failed;
exit status 1 on failure.
"""
import argparse
import json
import sys
from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("prom")
    ap.add_argument("json")
    ap.add_argument("counters")
    ap.add_argument("--pool", action="append", default=[])
    ap.add_argument("--peers", default="")
    a = ap.parse_args()
    why = []
    with open(a.prom) as f:
        text = f.read()
    families = {}
    try:
        for fam in text_string_to_metric_families(text):
            families[fam.name] = fam
    except Exception as e:  # the parser's own complaint is the finding
        print(f"the exposition does not parse: {e}")
        return 1
    if not families:
        print("no families")
        return 1
    bad_names = [n for n in families if not n.startswith("btcp_")]
    if bad_names:
        why.append(f"families not named btcp_*: {bad_names}")

    def samples(family, suffix=""):
        fam = families.get(family)
        if fam is None:
            why.append(f"no family {family}")
            return []
        if fam.type == "counter" and not suffix:
            suffix = "_total"
        return [s for s in fam.samples if s.name == fam.name + suffix]

    def by_peer(family, suffix=""):
        return {s.labels["peer"]: s.value for s in samples(family, suffix)}

    # The parser names counter families without _total.
    acks = by_peer("btcp_peer_handoff_acks")
    hist = families.get("btcp_peer_handoff_rtt_seconds")
    if hist is None or hist.type != "histogram":
        why.append("btcp_peer_handoff_rtt_seconds is not a histogram")
    else:
        buckets = defaultdict(list)
        for s in hist.samples:
            if s.name.endswith("_bucket"):
                buckets[s.labels["peer"]].append((float(s.labels["le"]), s.value))
        counts = by_peer("btcp_peer_handoff_rtt_seconds", "_count")
        for peer, bs in buckets.items():
            vals = [v for _, v in sorted(bs)]
            if vals != sorted(vals):
                why.append(f"peer {peer}'s buckets are not cumulative: {bs}")
            if vals[-1] != counts.get(peer):
                why.append(f"peer {peer}: +Inf {vals[-1]} != count {counts.get(peer)}")
            if counts.get(peer) != acks.get(peer):
                why.append(f"peer {peer}: {counts.get(peer)} round trips, {acks.get(peer)} acks")
    counters = {}
    with open(a.counters) as f:
        for line in f:
            k, _, v = line.partition(" ")
            if v.strip().isdigit():
                counters[k] = int(v)
    handoffs = counters.get("handoffs_local", 0) + counters.get("handoffs_remote", 0)
    offered = sum(by_peer("btcp_peer_handoffs").values())
    per_service = sum(s.value for s in samples("btcp_service_handoffs"))
    if not handoffs or offered != handoffs or per_service != handoffs:
        why.append(f"handoffs {handoffs}, per peer {offered}, per service {per_service}")
    for name in ("handoffs_remote", "handoff_acks", "syns"):
        got = [s.value for s in samples("btcp_" + name)]
        if got != [counters.get(name)]:
            why.append(f"{name}: exposition {got}, counters file {counters.get(name)}")
    picks = defaultdict(float)
    for s in samples("btcp_pool_picks"):
        picks[s.labels["pool"]] += s.value
    for p in a.pool:
        name, _, n = p.partition("=")
        if picks.get(name) != float(n):
            why.append(f"pool {name} picked {picks.get(name)}, want {n}")
    live = by_peer("btcp_peer_live")
    listening = defaultdict(list)
    for s in samples("btcp_peer_listening"):
        listening[s.labels["peer"]].append(s.value)
    for peer in filter(None, a.peers.split(",")):
        if live.get(peer) != 1 or not listening[peer] or min(listening[peer]) != 1:
            why.append(f"peer {peer}: live {live.get(peer)}, listening {listening[peer]}")
    with open(a.json) as f:
        ms = json.load(f)
    key = lambda m: (m["name"], m.get("peer"), m.get("service"), m.get("pool"))
    in_json = {key(m) for m in ms}
    want = {"peer_handoff_rtt", "service_handoffs", "handoffs_remote", "peer_live"}
    if not want <= {k[0] for k in in_json}:
        why.append(f"JSON lacks {want - {k[0] for k in in_json}}")
    if why:
        print("; ".join(why))
        return 1
    # Per peer: round trips, and how many took at most 1 ms and 5 ms.
    rtt = {}
    for s in hist.samples:
        if s.name.endswith("_bucket") and s.labels["le"] in ("0.001", "0.005", "+Inf"):
            rtt.setdefault(s.labels["peer"], []).append(int(s.value))
    shown = " ".join(f"{p}:{v[2]}/<=1ms {v[0]}/<=5ms {v[1]}" for p, v in sorted(rtt.items()))
    print(f"{len(families)} families parsed; {handoffs} handoffs = per peer = per service; "
          f"round trips per peer {shown}; pools {dict(picks)}; {len(ms)} JSON figures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
