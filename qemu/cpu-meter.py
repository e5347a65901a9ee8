#!/usr/bin/env python3
"""Each node VM's CPU time, as the host counts it (qemu/run-cluster.sh).

run-cluster.sh runs this on the host, inside the lab's network namespace,
on an address of the lab subnet no node has (qemu/vms.sh's VM_METER_IP).
A connection gets one line and is closed:

    ms=<host ms> host=<busy ms> <node>=<ms> <node>=<ms> ...

<node>=<ms> is that node's QEMU process's user + system time in ms (every
thread: vCPUs, I/O, the tap), found by the tap it was given
(ifname=tap-<node>); host= is the host's busy time over all its CPUs from
/proc/stat, so a reader can tell whether the host itself was saturated;
ms= is CLOCK_MONOTONIC. Differences of two lines measure what happened in
between; a guest's own /proc/stat under TCG does not (its clock is
emulated and its busy time can exceed the wall time).

    cpu-meter.py ADDR PORT NODE...
"""
import os
import socket
import sys
import time

TICK_MS = 1000.0 / os.sysconf("SC_CLK_TCK")


def qemu_pids(nodes):
    """The QEMU process of each node, by its tap's name on the command line."""
    want = {("ifname=tap-%s," % n).encode(): n for n in nodes}
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        for key, node in want.items():
            if key in cmd:
                found[node] = pid
    return found


def cpu_ms(pid):
    """utime + stime of a process, in ms; None once it is gone."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            # The command name may hold spaces: fields start after its ')'.
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * TICK_MS


def host_busy_ms():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal: busy is all but idle+iowait
    return (sum(v[:8]) - v[3] - v[4]) * TICK_MS


def line(nodes, pids):
    missing = [n for n in nodes if n not in pids or cpu_ms(pids[n]) is None]
    if missing:
        pids.update(qemu_pids(missing))
    parts = ["ms=%d" % (time.monotonic() * 1000), "host=%d" % host_busy_ms()]
    for n in nodes:
        ms = cpu_ms(pids[n]) if n in pids else None
        parts.append("%s=%s" % (n, "-" if ms is None else "%d" % ms))
    return " ".join(parts) + "\n"


def main():
    addr, port, nodes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(16)
    pids = {}
    while True:
        conn, _ = srv.accept()
        with conn:
            conn.sendall(line(nodes, pids).encode())


if __name__ == "__main__":
    main()
