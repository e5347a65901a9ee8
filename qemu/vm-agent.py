#!/usr/bin/env python3
"""Runs shell commands for the multi-VM lab's driver (qemu/vm-node.sh).

Every node VM but the driver's runs this on its lab address, port 7000:
a connection sends a command's length in bytes on a line of its own, then
the command (a bash script, any number of lines); the agent runs it in the
node's root namespace and answers with its combined output followed by a
last line "rc N". The command "shutdown" answers "rc 0" and ends the
agent, which ends the VM.

The lab network lives in a namespace of the host's with no route out
(qemu/run-cluster.sh); nothing else can reach the agent.

    vm-agent.py ADDR [PORT]
"""
import socket
import subprocess
import sys


def serve(addr, port):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(16)
    while True:
        conn, _ = srv.accept()
        with conn, conn.makefile("rb") as f:
            try:
                n = int(f.readline())
            except ValueError:
                continue
            cmd = f.read(n).decode(errors="replace")
            if cmd == "shutdown":
                conn.sendall(b"rc 0\n")
                return
            p = subprocess.run(["bash", "-c", cmd], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            out = p.stdout
            if out and not out.endswith(b"\n"):
                out += b"\n"
            conn.sendall(out + b"rc %d\n" % p.returncode)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 7000)
