#!/usr/bin/env python3
"""notify_sink.py - the service manager's end of systemd's notify protocol,
for tests: what systemd does with $NOTIFY_SOCKET, written down.

    notify_sink.py SOCKET OUT [--probe HOST:PORT|unix:PATH ...] [--lifetime SECONDS]

Binds a Unix datagram socket at SOCKET (credentials on, as systemd has
them) and appends one line per message to OUT:

    SEQ PID READY=1 | STATUS=1 route, link down, 0 mappings [probe=listening]

SEQ counts messages from 1, PID is the sender's (SO_PASSCRED), and the
message's lines are joined with " | ".  With --probe (repeatable), the
sender of a message that holds READY=1 is stopped (SIGSTOP) the moment it
arrives, each address is connected to, and the sender continues
(SIGCONT); the line ends in [probe=listening] when every one answered, or
[probe=refused: ADDRESS: REASON] for the first that did not.  So a test
sees what listened when the daemon said it was ready, not a moment later.
Exits after --lifetime seconds (default 300) or on SIGTERM.
"""
import argparse
import os
import signal
import socket
import struct
import sys
import time


def probe(addrs, pid):
    stopped = False
    if pid > 0:
        try:
            os.kill(pid, signal.SIGSTOP)
            stopped = True
        except OSError:
            pass
    try:
        for addr in addrs:
            try:
                if addr.startswith("unix:"):
                    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                        c.settimeout(2)
                        c.connect(addr[5:])
                else:
                    host, port = addr.rsplit(":", 1)
                    with socket.create_connection((host, int(port)), timeout=2):
                        pass
            except OSError as e:
                return "refused: %s: %s" % (addr, e.strerror or e)
        return "listening"
    finally:
        if stopped:
            os.kill(pid, signal.SIGCONT)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("out")
    ap.add_argument("--probe", action="append", default=[])
    ap.add_argument("--lifetime", type=float, default=300)
    a = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        os.unlink(a.socket)
    except FileNotFoundError:
        pass
    s.bind(a.socket)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    deadline = time.monotonic() + a.lifetime
    seq = 0
    with open(a.out, "a", buffering=1) as out:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return 0
            s.settimeout(left)
            try:
                data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(12))
            except socket.timeout:
                return 0
            pid = 0
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(payload) >= 12:
                    pid = struct.unpack("iII", payload[:12])[0]
            text = data.decode("utf-8", "replace")
            seq += 1
            line = "%d %d %s" % (seq, pid, " | ".join(text.strip("\n").split("\n")))
            if a.probe and "READY=1" in text.split("\n"):
                line += " [probe=%s]" % probe(a.probe, pid)
            out.write(line + "\n")


if __name__ == "__main__":
    sys.exit(main())
