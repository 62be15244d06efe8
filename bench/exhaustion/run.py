#!/usr/bin/env python3
"""The red-team report's V1 reproduction against a real `certus serve`, measured (not part of the suite).

    python3 bench/exhaustion/run.py [CERTUS_BINARY] [CONNECTIONS] [ROUNDS]

Starts `certus serve` on a free loopback port with its default connection limits and a fresh data directory,
probes `/health` every 50 ms on a fresh connection, and opens CONNECTIONS (default 19 000) connections from
four loopback addresses (127.0.0.2-5): half send nothing, half a request line and one header and never the
blank line. It holds them until the server has closed every one (its header timeout), then floods again,
ROUNDS times in all (default 2). Prints per round: connections refused at accept / held / closed by the server, the server's open
file descriptors and RSS before, at the peak and after, and the /health probes' failures and slowest answer
against the 1 s budget. Exit status 1 when a probe failed or took 1 s or more.
"""

import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

BUDGET = 1.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Prober(threading.Thread):
    """GET /health every 50 ms on a fresh connection; records failures and the slowest answer."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}/health"
        self.stop = threading.Event()
        self.failures, self.slowest, self.count = 0, 0.0, 0

    def run(self):
        while not self.stop.is_set():
            start = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=5) as answer:
                    ok = answer.status == 200
            except OSError:
                ok = False
            took = time.monotonic() - start
            self.count += 1
            self.failures += 0 if ok else 1
            self.slowest = max(self.slowest, took)
            time.sleep(0.05)


def flood(port, total):
    """Opens `total` connections; returns (held sockets, refused at connect or closed at once)."""
    held, refused = [], 0
    for i in range(total):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        try:
            s.bind((f"127.0.0.{2 + i % 4}", 0))
            s.connect(("127.0.0.1", port))
            if i % 2:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            held.append(s)
        except OSError:
            refused += 1
            s.close()
    return held, refused


def closed_by_server(sock):
    try:
        sock.settimeout(0)
        return sock.recv(65536) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/certus"
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 19_000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    port = free_port()
    data = tempfile.mkdtemp(prefix="certus-exhaustion-")
    server = subprocess.Popen([binary, "serve", "--addr", f"127.0.0.1:{port}", "--data-dir", data,
                               "--insecure-no-auth"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        prober = Prober(port)
        prober.start()
        time.sleep(0.5)
        for round_ in range(1, rounds + 1):
            before = (fds(server.pid), rss_mb(server.pid))
            start = time.monotonic()
            held, refused = flood(port, total)
            peak = (fds(server.pid), rss_mb(server.pid))
            closed_at_once = sum(1 for s in held if closed_by_server(s))
            while True:
                open_now = [s for s in held if not closed_by_server(s)]
                peak = (max(peak[0], fds(server.pid)), max(peak[1], rss_mb(server.pid)))
                if not open_now or time.monotonic() - start > 120:
                    break
                time.sleep(0.5)
            all_closed = time.monotonic() - start
            for s in held:
                s.close()
            time.sleep(1)
            after = (fds(server.pid), rss_mb(server.pid))
            print(f"round {round_}: {total} connections from 4 addresses (half idle, half half-sent): "
                  f"{refused} refused at connect, {closed_at_once} closed before a byte was answered, "
                  f"{len(open_now)} still open after {all_closed:.1f} s")
            print(f"  server fds {before[0]} -> {peak[0]} -> {after[0]}; "
                  f"RSS {before[1]:.1f} MB -> {peak[1]:.1f} MB -> {after[1]:.1f} MB")
        prober.stop.set()
        prober.join()
        print(f"/health: {prober.count} probes, {prober.failures} failures, slowest {prober.slowest * 1000:.0f} ms "
              f"({prober.slowest / BUDGET:.2f}x the {BUDGET:.0f} s budget)")
        return 1 if prober.failures or prober.slowest >= BUDGET else 0
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
