#!/usr/bin/env python3
"""`make bench`'s tables, ratios, targets and plots from its rows.

    bench-report.py BENCH_TSV OUTDIR

BENCH_TSV is tests/lab/vm/bench.sh's output (one row per wrk run, every
VM's CPU time less its idle baseline, fe's packet counters). Prints, per
workload, a table of every run; the ratios of btcp's front-end cost and
throughput to the alternatives'; cluster throughput against the number of
back-ends; and issue 12's targets, met or not. A run with socket errors,
timeouts or non-2xx responses is marked and never turned into a ratio.
Writes OUTDIR/report.txt (the same text) and SVG plots (gnuplot).
"""
import csv
import os
import subprocess
import sys

WORKLOADS = [
    ("1k-close", "1 KiB, Connection: close"),
    ("1k-keepalive", "1 KiB, keep-alive"),
    ("1m", "1 MiB, keep-alive"),
    ("64m", "64 MiB, keep-alive"),
    ("mixed", "4 KiB/16 KiB/whoami, keep-alive, a rule per back-end"),
]
TARGETS = ["direct", "btcp", "haproxy", "nginx", "ipvs"]
ALTERNATIVES = ["haproxy", "nginx", "ipvs"]
BES = ["be1", "be2", "be3"]


class Run:
    def __init__(self, row):
        self.row = row
        self.workload = row["workload"]
        self.bes = int(row["bes"])
        self.target = row["target"]
        self.secs = float(row["wrk_s"]) or float(row["ms"]) / 1000
        self.requests = int(row["requests"])
        self.bytes = int(row["bytes"])
        self.errors = sum(int(row[k]) for k in
                          ("err_connect", "err_read", "err_write", "err_timeout", "non2xx"))
        self.p50, self.p99 = float(row["p50_ms"]), float(row["p99_ms"])
        self.fe_ms = max(float(row.get("cpu_fe", 0) or 0), 0.0)
        self.be_ms = sum(max(float(row.get("cpu_" + b, 0) or 0), 0.0) for b in BES if "cpu_" + b in row)
        self.wall_ms = float(row["ms"])
        self.syn_retrans = int(row.get("syn_retrans", 0) or 0)
        self.fe_rx = int(row["fe_rx"])

    @property
    def clean(self):
        return self.errors == 0 and self.requests > 0

    @property
    def rps(self):
        return self.requests / self.secs if self.secs else 0.0

    @property
    def mibps(self):
        return self.bytes / self.secs / 2**20 if self.secs else 0.0

    def fe_us_per_request(self):
        return 1000 * self.fe_ms / self.requests if self.requests else None

    def fe_us_per_packet(self):
        return 1000 * self.fe_ms / self.fe_rx if self.fe_rx else None

    def fe_busy(self):
        return 100 * self.fe_ms / self.wall_ms if self.wall_ms else 0.0

    def be_us_per_request(self):
        return 1000 * self.be_ms / self.requests if self.requests else None


def fmt(v, spec="%.0f"):
    return "-" if v is None else spec % v


def ratio(a, b):
    """a / b for two runs' values, or why not."""
    if a is None or b is None:
        return "-"
    if not (a[0].clean and b[0].clean):
        return "errors"
    if not b[1]:
        return "-"
    return "%.2f" % (a[1] / b[1])


def main():
    tsv, outdir = sys.argv[1], sys.argv[2]
    with open(tsv) as f:
        runs = [Run(r) for r in csv.DictReader(f, delimiter="\t")]
    by = {(r.workload, r.bes, r.target): r for r in runs}
    out = []
    say = out.append
    host_cpus = os.cpu_count()
    for wl, title in WORKLOADS:
        rows = [r for r in runs if r.workload == wl]
        if not rows:
            continue
        conns = rows[0].row["conns"]
        say("== %s (wrk, %s connections, %.0f s per run)" % (title, conns, rows[0].secs))
        say("  %-3s %-8s %9s %8s %7s %7s %8s %8s %9s %8s %8s %9s %s" % (
            "BEs", "target", "req/s", "MiB/s", "errors", "SYN rtx", "p50 ms", "p99 ms",
            "fe us/req", "fe busy", "fe us/pk", "BE us/req", ""))
        for nb in sorted({r.bes for r in rows}):
            for t in TARGETS:
                r = by.get((wl, nb, t))
                if r is None:
                    continue
                fe = t != "direct"
                say("  %-3d %-8s %9.1f %8.2f %7d %7d %8.2f %8.2f %9s %7.0f%% %8s %9s %s" % (
                    nb, t, r.rps, r.mibps, r.errors, r.syn_retrans, r.p50, r.p99,
                    fmt(r.fe_us_per_request() if fe else None),
                    r.fe_busy() if fe else 0.0,
                    fmt(r.fe_us_per_packet() if fe else None, "%.1f"),
                    fmt(r.be_us_per_request()),
                    "" if r.clean else "<- ERRORS: no ratio from this run"))
        say("  ratios, btcp / alternative (fe CPU per request | per packet fe received | req/s):")
        for nb in sorted({r.bes for r in rows}):
            b = by.get((wl, nb, "btcp"))
            if b is None:
                continue
            parts = []
            for alt in ALTERNATIVES + ["direct"]:
                a = by.get((wl, nb, alt)) or (by.get((wl, 1, alt)) if alt == "direct" else None)
                if a is None:
                    continue
                if alt == "direct":
                    parts.append("direct req/s %s" % ratio((b, b.rps), (a, a.rps)))
                    continue
                parts.append("%s %s | %s | %s" % (
                    alt,
                    ratio((b, b.fe_us_per_request()), (a, a.fe_us_per_request())),
                    ratio((b, b.fe_us_per_packet()), (a, a.fe_us_per_packet())),
                    ratio((b, b.rps), (a, a.rps))))
            say("    %d BE: %s" % (nb, ";  ".join(parts)))
        say("")
    say("== cluster throughput against back-ends (req/s; MiB/s for 1 MiB and 64 MiB)")
    for wl, title in WORKLOADS:
        rows = [r for r in runs if r.workload == wl]
        if not rows:
            continue
        nbs = sorted({r.bes for r in rows})
        say("  %-24s %s" % (title, "".join("%12s" % ("%d BE" % n) for n in nbs)))
        for t in TARGETS:
            cells = []
            for n in nbs:
                r = by.get((wl, n, t))
                if r is None:
                    cells.append("%12s" % "")
                else:
                    v = r.mibps if wl in ("1m", "64m") else r.rps
                    cells.append("%12s" % (("%.1f" % v) + ("" if r.clean else "!")))
            if any(c.strip() for c in cells):
                say("    %-22s %s" % (t, "".join(cells)))
    say("  (! marks a run with errors)")
    say("")
    say("== targets (issue 12), from this run")
    for line in targets(by, runs):
        say("  " + line)
    say("")
    say("errors: wrk's socket errors (connect, read, write, timeout) and non-2xx "
        "responses; SYN rtx: the client's SYN retransmissions during the run "
        "(connections that waited a second or more to open).")
    say("CPU: each VM's QEMU process's user+system time as the host counts it, less "
        "the VM's idle rate measured in the same boot; fe busy is that time over the "
        "run's wall time (100%% = one host CPU). The host has %d CPUs for every VM." % host_cpus)
    text = "\n".join(out)
    print(text)
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "report.txt"), "w") as f:
        f.write(text + "\n")
    plots(runs, by, outdir)


def best_nb(by, wl, targets):
    """The largest back-end count at which every target ran."""
    nbs = sorted({k[1] for k in by if k[0] == wl}, reverse=True)
    for n in nbs:
        if all((wl, n, t) in by for t in targets):
            return n
    return None


def targets(by, runs):
    lines = []

    def check(name, wl, alt, value, limit, cmp_le=True):
        n = best_nb(by, wl, ["btcp", alt])
        if n is None:
            lines.append("%s: not measured (no %s runs of btcp and %s)" % (name, wl, alt))
            return
        b, a = by[(wl, n, "btcp")], by[(wl, n, alt)]
        vb, va = value(b), value(a)
        if not (b.clean and a.clean):
            lines.append("%s: not judged, a run had errors (%d BE)" % (name, n))
            return
        if not va or vb is None:
            lines.append("%s: not judged (nothing measured for %s)" % (name, alt))
            return
        r = vb / va
        met = r <= limit if cmp_le else r >= limit
        extra = ""
        if not cmp_le:
            extra = "; fe busy %.0f%% under %s" % (a.fe_busy(), alt)
        lines.append("%s: %.3f (target %s %.2f) at %d BE: %s%s" % (
            name, r, "<=" if cmp_le else ">=", limit, n,
            "met" if met else "MISSED", extra))

    check("fe CPU per 1 KiB close-mode connection, btcp / HAProxy", "1k-close", "haproxy",
          Run.fe_us_per_request, 0.25)
    check("fe CPU per 1 MiB response, btcp / HAProxy", "1m", "haproxy",
          Run.fe_us_per_request, 0.05)
    check("fe CPU per packet (1 MiB runs), btcp / IPVS-DR", "1m", "ipvs",
          Run.fe_us_per_packet, 1.5)
    check("1 MiB throughput, btcp / HAProxy", "1m", "haproxy", lambda r: r.rps, 2.5, cmp_le=False)
    return lines


def write_dat(path, first, names, keys, table):
    """A gnuplot data file: a header comment, then KEY VALUE... (NaN: none)."""
    with open(path, "w") as f:
        f.write("# %s %s\n" % (first, " ".join(names)))
        for key, row in zip(keys, table):
            f.write("%s %s\n" % (key, " ".join("NaN" if v is None else "%.3f" % v for v in row)))


def plots(runs, by, outdir):
    """One SVG per workload: throughput against back-ends; one of fe CPU per request."""
    script = []
    for wl, title in WORKLOADS:
        nbs = sorted({r.bes for r in runs if r.workload == wl})
        if not nbs:
            continue
        unit = "MiB/s" if wl in ("1m", "64m") else "requests/s"
        dat = os.path.join(outdir, "throughput-%s.dat" % wl)
        table = []
        for n in nbs:
            vals = []
            for t in TARGETS:
                r = by.get((wl, n, t)) or (by.get((wl, 1, t)) if t == "direct" else None)
                vals.append(None if r is None or not r.clean else (r.mibps if unit == "MiB/s" else r.rps))
            table.append(vals)
        series = [i for i in range(len(TARGETS)) if any(row[i] for row in table)]
        if not series:
            continue
        write_dat(dat, "BEs", TARGETS, nbs, table)
        script.append(
            'set terminal svg size 640,400 dynamic; set output "%s"\n'
            'set title "%s: cluster throughput"; set xlabel "back-ends"; set ylabel "%s"\n'
            'set key outside right; set xtics 1; set yrange [0:*]; set grid\n'
            'plot %s\n' % (
                os.path.join(outdir, "throughput-%s.svg" % wl), title, unit,
                ", ".join('"%s" using 1:%d with linespoints title "%s"' % (dat, i + 2, TARGETS[i])
                          for i in series)))
    dat = os.path.join(outdir, "fe-cpu.dat")
    names, labels, table = ["btcp"] + ALTERNATIVES, [], []
    for wl, _ in WORKLOADS:
        n = best_nb(by, wl, ["btcp"])
        if n is None:
            continue
        labels.append('"%s/%dBE"' % (wl, n))
        row = []
        for t in names:
            r = by.get((wl, n, t))
            row.append(None if r is None or not r.clean else r.fe_us_per_request())
        table.append(row)
    series = [i for i in range(len(names)) if any(row[i] for row in table)]
    if series:
        write_dat(dat, "workload", names, labels, table)
        script.append(
            'set terminal svg size 720,420 dynamic; set output "%s"\n'
            'set title "front-end CPU per request"; set ylabel "us (log scale)"; set logscale y\n'
            'set style data histograms; set style histogram clustered; set style fill solid 0.8\n'
            'set key outside right; set grid ytics; unset xlabel; set xtics nomirror\n'
            'plot %s\n' % (
                os.path.join(outdir, "fe-cpu.svg"),
                ", ".join('"%s" using %d%s title "%s"' % (dat, i + 2, ":xtic(1)" if k == 0 else "", names[i])
                          for k, i in enumerate(series))))
    try:
        subprocess.run(["gnuplot"], input="reset\n".join(script).encode(), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        print("plots: %s/*.svg" % outdir)
    except (OSError, subprocess.CalledProcessError) as e:
        print("plots: gnuplot failed: %s" % e, file=sys.stderr)


if __name__ == "__main__":
    main()
