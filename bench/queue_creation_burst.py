#!/usr/bin/python3
"""Fairness under a burst of queue creations (issue 18 item 10). Prints
figures; asserts nothing.

One client writes N SENDs (default 100,000) to N queues that do not exist
yet, in one write, while another client of the same broker sends a
persistent:false SEND with a receipt to a queue of its own every 20 ms and
times each until its RECEIPT. Prints how long the burst took and the round
trips' p50/p99/max (the samples from 0.5 s before to 0.3 s after it).

Usage: bench/queue_creation_burst.py [--ferry build/ferry] [--queues 100000]
       [--shards 2] [--runs 3]
The broker runs with --max-queues 0 (no limit) and logs to a temp file.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))


def one_run(support, queues: int, shards: int, log: Path) -> dict:
    from support import client, encode_frame, unique
    b = support.Broker(shards, log, max_queues=0)
    try:
        probe = client(b.port)
        probe_queue = "/queue/" + unique("probe")
        rtts: list[float] = []
        stop = threading.Event()

        def prober():
            while not stop.is_set():
                t = time.monotonic()
                probe.send(probe_queue, "x", headers={"persistent": "false"})
                rtts.append((time.monotonic() - t) * 1000)
                time.sleep(0.02)

        th = threading.Thread(target=prober)
        th.start()
        time.sleep(0.5)
        blaster = client(b.port)
        blaster.sock.settimeout(300)
        prefix = unique("burst")
        data = b"".join(encode_frame("SEND", [("destination", "/queue/%s.%d" % (prefix, i))], b"x")
                        for i in range(queues))
        t0 = time.monotonic()
        blaster.send_raw(data)
        blaster.send(probe_queue + ".end", "end", timeout=300)  # its RECEIPT: every SEND before it is done
        took = time.monotonic() - t0
        time.sleep(0.3)
        stop.set()
        th.join()
        r = sorted(rtts)
        pct = lambda p: r[min(len(r) - 1, int(p / 100 * len(r)))]
        return {"seconds": took, "p50": pct(50), "p99": pct(99), "max": r[-1], "count": len(r)}
    finally:
        b.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ferry", default=str(REPO / "build" / "ferry"))
    p.add_argument("--queues", type=int, default=100_000)
    p.add_argument("--shards", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    a = p.parse_args()
    os.environ["FERRY_BIN"] = a.ferry
    import support
    logs = Path(tempfile.mkdtemp(prefix="ferry-burst-"))
    runs = []
    for i in range(a.runs):
        r = one_run(support, a.queues, a.shards, logs / ("run%d.log" % i))
        runs.append(r)
        print("run %d: %d queues in %.2f s; round trip p50/p99/max %.1f/%.1f/%.1f ms over %d SENDs"
              % (i, a.queues, r["seconds"], r["p50"], r["p99"], r["max"], r["count"]), flush=True)
    med = {k: statistics.median(r[k] for r in runs) for k in ("seconds", "p50", "p99", "max")}
    print("median: %.2f s; round trip p50/p99/max %.1f/%.1f/%.1f ms"
          % (med["seconds"], med["p50"], med["p99"], med["max"]))


if __name__ == "__main__":
    main()
