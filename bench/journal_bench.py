#!/usr/bin/python3
"""Journal benchmarks (issue: persistence). Prints figures; asserts nothing.

  persistent 1 KB SENDs with receipts, 1 and 16 producers: messages/s and
  fsyncs/s (every RECEIPT is sent after fdatasync, fsync = always);
  recovery time of a journal holding N persistent 1 KB messages.

Usage: bench/journal_bench.py [--ferry build/ferry] [--seconds 10]
       [--recovery-messages 1000000] [--window 64]
Each scenario starts its own broker on a fresh data directory (in --dir,
default a temporary directory on the same disk as /tmp). The load generator
is Python with raw sockets; at these rates it is not the limit for the
1-producer case, but it can be for 16 (see the note it prints).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BODY = b"x" * 1024


def start_broker(ferry, data, shards=2):
    # Memory for the whole recovery backlog (no paging to disk yet).
    p = subprocess.Popen([ferry, "serve", "--listen", "127.0.0.1:0", "--shards", str(shards),
                          "--data-dir", data, "--log-level", "info", "--memory-limit", "8GiB"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lines = []
    port = None
    while port is None:
        line = p.stderr.readline().decode()
        if not line:
            raise RuntimeError("broker exited:\n" + "".join(lines))
        lines.append(line)
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if m:
            port = int(m.group(1))
    return p, port, lines


def stop_broker(p, lines):
    p.send_signal(signal.SIGTERM)
    out = p.stderr.read().decode()
    p.wait(60)
    lines.extend(out.splitlines(keepends=True))
    return "".join(lines)


def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(b"CONNECT\naccept-version:1.2\nhost:/\n\n\0")
    buf = b""
    while b"\0" not in buf:
        buf += s.recv(4096)
    return s


def producer(port, queue, seconds, window, result, idx):
    s = connect(port)
    head = b"SEND\ndestination:/queue/%s\npersistent:true\ncontent-length:1024\nreceipt:" % queue.encode()
    sent = got = 0
    deadline = time.monotonic() + seconds
    pending = b""
    while True:
        now = time.monotonic()
        if now < deadline:
            batch = []
            while sent - got < window:
                batch.append(head + str(sent).encode() + b"\n\n" + BODY + b"\0")
                sent += 1
            if batch:
                s.sendall(b"".join(batch))
        elif got == sent:
            break
        data = s.recv(1 << 16)
        if not data:
            break
        pending += data
        n = pending.count(b"\0")
        got += n
        pending = pending[pending.rfind(b"\0") + 1:]
    result[idx] = got
    s.close()


def throughput(ferry, root, producers, seconds, window):
    data = tempfile.mkdtemp(dir=root)
    p, port, lines = start_broker(ferry, data)
    result = [0] * producers
    threads = [threading.Thread(target=producer, args=(port, "bench%d" % (i % 8), seconds, window, result, i))
               for i in range(producers)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    log = stop_broker(p, lines)
    fsyncs = int(re.search(r"journal: (\d+) fsyncs", log).group(1))
    shutil.rmtree(data, ignore_errors=True)
    total = sum(result)
    return total / elapsed, fsyncs / elapsed, total


def load(port, n):
    """n persistent messages, pipelined, a receipt every 1000."""
    s = connect(port)
    head = b"SEND\ndestination:/queue/backlog%d\npersistent:true\ncontent-length:1024\n"
    sent = 0
    while sent < n:
        chunk = []
        for _ in range(min(1000, n - sent)):
            chunk.append(head % (sent % 4) + b"\n" + BODY + b"\0")
            sent += 1
        chunk[-1] = (head % 0) + b"receipt:r\n\n" + BODY + b"\0"
        s.sendall(b"".join(chunk))
        buf = b""
        while b"RECEIPT" not in buf:
            buf += s.recv(1 << 16)
    s.close()


def recovery(ferry, root, n):
    data = tempfile.mkdtemp(dir=root)
    p, port, lines = start_broker(ferry, data)
    t0 = time.monotonic()
    load(port, n)
    load_s = time.monotonic() - t0
    stop_broker(p, lines)
    size = sum(os.path.getsize(os.path.join(data, "journal", f)) for f in os.listdir(os.path.join(data, "journal")))
    t0 = time.monotonic()
    p, port, lines = start_broker(ferry, data)
    ready_s = time.monotonic() - t0
    log = stop_broker(p, lines)
    m = re.search(r"recovered (\d+) messages .* in (\d+) ms", log)
    shutil.rmtree(data, ignore_errors=True)
    return int(m.group(1)), int(m.group(2)), ready_s, size, load_s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferry", default=os.path.join(os.path.dirname(__file__), "..", "build", "ferry"))
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--window", type=int, default=64, help="unconfirmed SENDs per producer")
    ap.add_argument("--recovery-messages", type=int, default=1_000_000)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="ferry-bench-", dir=args.dir)
    try:
        print("machine: %d cores; journal on %s; fsync = always" % (os.cpu_count(), root))
        for producers in (1, 16):
            rate, fsyncs, total = throughput(args.ferry, root, producers, args.seconds, args.window)
            print("persistent 1 KB, receipts (window %d), %2d producer(s): %8.0f msg/s, %6.0f fsyncs/s "
                  "(%d messages in %.0f s)" % (args.window, producers, rate, fsyncs, total, args.seconds))
        n, ms, ready_s, size, load_s = recovery(args.ferry, root, args.recovery_messages)
        print("recovery: %d persistent 1 KB messages (%.0f MB journal) recovered in %d ms "
              "(process start to listening: %.2f s; loading took %.1f s)"
              % (n, size / 1e6, ms, ready_s, load_s))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
