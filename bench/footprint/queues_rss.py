#!/usr/bin/env python3
"""The broker side of issue 18 item 9: start `ferry serve`, send one small
non-persistent message to each of N new queues (one connection, pipelined,
a RECEIPT at the end), then print the broker's RSS growth per queue and what
it reports (overview: queued_bytes, destinations_bytes). Prints figures,
asserts nothing.

    bench/footprint/queues_rss.py [--ferry-bin build/ferry] [--queues 100000] [--serve-args "--max-queues 0"]
"""
from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import tempfile
import time
import urllib.request


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--ferry-bin", default="build/ferry")
    p.add_argument("--queues", type=int, default=100000)
    p.add_argument("--serve-args", default="", help="more `ferry serve` arguments, one string")
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="ferry-qrss-")
    proc = subprocess.Popen([a.ferry_bin, "serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                             "--data-dir", work + "/data", "--shards", "1", *a.serve_args.split()],
                            stderr=subprocess.PIPE, text=True)
    ports = {}
    while len(ports) < 2:
        line = proc.stderr.readline()
        if not line:
            raise SystemExit("ferry exited")
        m = re.search(r"listening on \S+:(\d+) \((STOMP|HTTP)\)", line)
        if m:
            ports[m.group(2)] = int(m.group(1))
    threading_drain(proc)
    time.sleep(1)
    before = rss_kib(proc.pid)
    s = socket.create_connection(("127.0.0.1", ports["STOMP"]))
    s.sendall(b"CONNECT\naccept-version:1.2\nhost:/\n\n\0")
    buf = b""
    while b"\0" not in buf:
        buf += s.recv(65536)
    t = time.monotonic()
    batch = []
    for i in range(a.queues):
        batch.append(b"SEND\ndestination:/queue/rss.%d\npersistent:false\n\nx\0" % i)
        if len(batch) == 1000:
            s.sendall(b"".join(batch))
            batch = []
    batch.append(b"SEND\ndestination:/queue/rss.0\npersistent:false\nreceipt:end\n\nx\0")
    s.sendall(b"".join(batch))
    buf = b""
    while b"receipt-id:end" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("connection closed: " + buf[-300:].decode(errors="replace"))
        buf += chunk
    took = time.monotonic() - t
    time.sleep(1.5)
    after = rss_kib(proc.pid)
    ov = json.load(urllib.request.urlopen(
        urllib.request.Request(f"http://127.0.0.1:{ports['HTTP']}/api/overview",
                               headers={"Authorization": "Basic Z3Vlc3Q6Z3Vlc3Q="})))
    mem = ov.get("memory", {})
    print(json.dumps({"queues": a.queues, "seconds": round(took, 2), "rss_before_mb": round(before / 1024, 1),
                      "rss_after_mb": round(after / 1024, 1),
                      "rss_bytes_per_queue": round((after - before) * 1024 / a.queues),
                      "reported_queued_mb": round(mem.get("queued_bytes", 0) / 2**20, 1),
                      "reported_destinations_mb": round(mem.get("destinations_bytes", 0) / 2**20, 1),
                      "queues_listed": ov.get("queues")}))
    s.close()
    proc.terminate()
    proc.wait(30)
    return 0


def threading_drain(proc):
    import threading
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()


if __name__ == "__main__":
    raise SystemExit(main())
