"""The crash test: producers (persistent SENDs with receipts) and consumers
(client-individual, prefetch 10) run while a killer SIGKILLs the broker at
random moments and restarts it on the same data directory (new port; the
clients reconnect with backoff and carry on). A checker then proves that
every message whose RECEIPT a producer got was delivered at least once, that
per producer the first deliveries are in order, and classifies duplicates.

FERRY_CRASH_CYCLES (default 20) kill/restart cycles; FERRY_CRASH_SEED to
replay a schedule; FERRY_CRASH_PRODUCERS (default 3, 2-4). The long mode is
just more cycles: FERRY_CRASH_CYCLES=500. A duplicate that does not carry
redelivered:true fails the test (what the issue asks: the broker sends a
MESSAGE only once its delivery count is on disk); FERRY_CRASH_STRICT=0 only
counts such duplicates in the summary."""
from __future__ import annotations

import os
import random
import re
import socket
import threading
import time
from collections import defaultdict

from support import Closed, RawClient, unique
from test_persistence import data_dir, work, work_root  # noqa: F401 (fixtures)

CYCLES = int(os.environ.get("FERRY_CRASH_CYCLES", "20"))
PRODUCERS = max(2, min(4, int(os.environ.get("FERRY_CRASH_PRODUCERS", "3"))))
QUEUES = 2
PREFETCH = 10
RECEIPT_TIMEOUT = 15.0  # an alive broker answers far sooner; a dead one closes
DRAIN_IDLE = 30.0       # give up draining after this long without progress
STRICT = os.environ.get("FERRY_CRASH_STRICT", "1") not in ("", "0")

BODY_RE = re.compile(r"^p(\d+)-(\d{7})-")


class Cluster:
    """The current broker's port and its epoch (number of restarts so far),
    read atomically by the clients."""

    def __init__(self, port: int):
        self.lock = threading.Lock()
        self.port = port
        self.epoch = 0
        self.stop_producers = threading.Event()
        self.stop_consumers = threading.Event()
        self.errors: list[str] = []  # unexpected ERROR frames etc.

    def current(self):
        with self.lock:
            return self.port, self.epoch

    def switch(self, port: int):
        with self.lock:
            self.port = port
            self.epoch += 1

    def note(self, what: str):
        with self.lock:
            if len(self.errors) < 50:
                self.errors.append(what)


def _connect(cluster: Cluster, stop: threading.Event):
    """A CONNECTed RawClient to the current broker (retry with backoff), and
    the epoch of the broker it reached; (None, None) when told to stop."""
    delay = 0.02
    while not stop.is_set():
        port, epoch = cluster.current()
        c = None
        try:
            c = RawClient(port, timeout=RECEIPT_TIMEOUT)
            c.connect("1.2", heart_beat="0,0")
            return c, epoch
        except Exception:
            if c is not None:
                c.close()
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    return None, None


class Producer(threading.Thread):
    def __init__(self, cluster: Cluster, pid: int, dest: str):
        super().__init__(daemon=True, name="producer-%d" % pid)
        self.cluster, self.pid, self.dest = cluster, pid, dest
        self.sent = 0             # SENDs written (seq numbers used)
        self.receipted: list[int] = []
        self.unconfirmed: list[int] = []  # sent, no RECEIPT (crash): may or may not arrive
        self.receipt_timeouts = 0
        self.reconnects = 0

    def run(self):
        seq = 0
        c = None
        while not self.cluster.stop_producers.is_set():
            if c is None:
                c, _epoch = _connect(self.cluster, self.cluster.stop_producers)
                if c is None:
                    break
                self.reconnects += 1
            body = "p%d-%07d-%s" % (self.pid, seq, "x" * (seq % 97))
            self.sent = seq + 1
            try:
                c.send(self.dest, body, {"persistent": "true"}, timeout=RECEIPT_TIMEOUT)
                self.receipted.append(seq)
            except Exception as e:  # Closed, reset, timeout, ERROR
                self.unconfirmed.append(seq)
                if "no RECEIPT" in str(e):
                    self.receipt_timeouts += 1
                if "unexpected ERROR" in str(e):
                    self.cluster.note("producer %d: %s" % (self.pid, e))
                c.close()
                c = None
            seq += 1
        if c is not None:
            c.close()


class Consumer(threading.Thread):
    def __init__(self, cluster: Cluster, cid: int, dest: str):
        super().__init__(daemon=True, name="consumer-%d" % cid)
        self.cluster, self.cid, self.dest = cluster, cid, dest
        # (producer, seq, redelivered flag, epoch of the broker that delivered it)
        self.deliveries: list[tuple[int, int, bool, int]] = []
        self.garbled: list[bytes] = []
        self.lock = threading.Lock()
        self.last_progress = time.monotonic()

    def run(self):
        c = None
        epoch = 0
        while not self.cluster.stop_consumers.is_set():
            if c is None:
                c, epoch = _connect(self.cluster, self.cluster.stop_consumers)
                if c is None:
                    break
                try:
                    c.subscribe(self.dest, "crash-%d" % self.cid, ack="client-individual",
                                headers={"prefetch-count": str(PREFETCH)}, receipt=False)
                except Exception:
                    c.close()
                    c = None
                    continue
            try:
                f = c.read_frame(0.5)
            except socket.timeout:
                continue
            except Exception:  # Closed, reset
                c.close()
                c = None
                continue
            if f.command == "ERROR":
                self.cluster.note("consumer %d: ERROR %r" % (self.cid, f))
                c.close()
                c = None
                continue
            if f.command != "MESSAGE":
                continue
            m = BODY_RE.match(f.text)
            with self.lock:
                if not m:
                    self.garbled.append(f.body[:200])
                else:
                    self.deliveries.append((int(m.group(1)), int(m.group(2)),
                                            f.get("redelivered") == "true", epoch))
                self.last_progress = time.monotonic()
            try:
                c.send_frame("ACK", [("id", f["ack"])])
            except Exception:
                c.close()
                c = None
        if c is not None:
            c.close()


def _check(producers, consumers, cycles_done, seed):
    receipted = {(p.pid, s) for p in producers for s in p.receipted}
    sent = sum(p.sent for p in producers)
    unconfirmed = {(p.pid, s) for p in producers for s in p.unconfirmed}
    seen: dict[tuple[int, int], int] = {}  # -> epoch of the previous delivery
    dup_redelivered = dup_after_crash = dup_both = 0
    unexplained = []
    order_violations = []
    last_first = defaultdict(lambda: -1)  # producer -> last seq delivered for the first time
    beyond = []
    delivered_unconfirmed = 0
    for cons in consumers:
        for (pid, seq, redelivered, epoch) in cons.deliveries:
            key = (pid, seq)
            if pid >= len(producers) or seq >= producers[pid].sent:
                beyond.append(key)
                continue
            if key in seen:
                after_crash = seen[key] < epoch
                if redelivered and after_crash:
                    dup_both += 1
                elif redelivered:
                    dup_redelivered += 1
                elif after_crash:
                    dup_after_crash += 1
                else:
                    unexplained.append((key, epoch))
                seen[key] = epoch
                continue
            seen[key] = epoch
            if key in unconfirmed:
                delivered_unconfirmed += 1
            if seq <= last_first[pid]:
                order_violations.append("producer %d: first delivery of %d after %d"
                                        % (pid, seq, last_first[pid]))
            last_first[pid] = max(last_first[pid], seq)
    lost = sorted(receipted - set(seen))
    garbled = [g for c in consumers for g in c.garbled]
    delivered = sum(len(c.deliveries) for c in consumers)
    dups = dup_redelivered + dup_after_crash + dup_both + len(unexplained)
    unflagged = dup_after_crash
    summary = ("crash test (seed %d, %d kill cycles, %d producers): sent %d, receipted %d, "
               "delivered %d (distinct %d, of them %d sent without a receipt), duplicates %d "
               "(redelivered:true only %d, after a crash without redelivered:true %d, both %d, "
               "unexplained %d), lost %d, out of order %d, garbled %d"
               % (seed, cycles_done, len(producers), sent, len(receipted), delivered, len(seen),
                  delivered_unconfirmed, dups, dup_redelivered, dup_after_crash, dup_both,
                  len(unexplained), len(lost), len(order_violations), len(garbled) + len(beyond)))
    return summary, lost, unexplained, order_violations, garbled, beyond, unflagged


def test_crash_kill9_no_receipted_message_lost(broker_factory, work):
    seed = int(os.environ.get("FERRY_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    ddir = data_dir(work)
    opts = dict(data_dir=ddir, max_deliveries=0)  # never dead-letter: every crash counts a delivery
    b = broker_factory(**opts)
    cluster = Cluster(b.port)
    queues = ["/queue/" + unique("crash%d-" % i) for i in range(QUEUES)]
    producers = [Producer(cluster, i, queues[i % QUEUES]) for i in range(PRODUCERS)]
    consumers = [Consumer(cluster, i, queues[i]) for i in range(QUEUES)]
    for t in producers + consumers:
        t.start()

    cycles = 0
    restart_times = []
    try:
        for cycles in range(1, CYCLES + 1):
            time.sleep(rng.uniform(0.3, 1.5))
            assert b.alive(), "broker died by itself (cycle %d); log tail:\n%s" % (cycles, b.tail())
            b.kill()
            t0 = time.monotonic()
            b = broker_factory(**opts)  # raises if it does not come up (log tail included)
            restart_times.append(time.monotonic() - t0)
            cluster.switch(b.port)
        # let the producers run a little on the last broker, then stop them
        time.sleep(0.5)
    finally:
        cluster.stop_producers.set()
        for p in producers:
            p.join(RECEIPT_TIMEOUT + 5)

    # drain: the consumers go on until every receipted message was seen
    receipted = {(p.pid, s) for p in producers for s in p.receipted}
    deadline_idle = DRAIN_IDLE
    while True:
        seen = set()
        for c in consumers:
            with c.lock:
                seen.update((pid, seq) for pid, seq, _r, _e in c.deliveries)
        if receipted <= seen:
            break
        idle = time.monotonic() - max(c.last_progress for c in consumers)
        if idle > deadline_idle:
            break
        time.sleep(0.2)
    time.sleep(0.5)  # a last look for stragglers / duplicates
    cluster.stop_consumers.set()
    for c in consumers:
        c.join(10)

    summary, lost, unexplained, order, garbled, beyond, unflagged = _check(producers, consumers, cycles, seed)
    print("\n" + summary)
    print("restart times: max %.2fs, mean %.2fs; receipt timeouts %d; producer reconnects %r"
          % (max(restart_times or [0]), sum(restart_times or [0]) / max(1, len(restart_times)),
             sum(p.receipt_timeouts for p in producers), [p.reconnects for p in producers]))
    assert b.alive(), "broker died after the last restart; log tail:\n" + b.tail()
    assert sum(len(p.receipted) for p in producers) > 0, "no message was ever receipted: " + summary
    problems = []
    if lost:
        problems.append("LOST %d receipted messages (producer, seq): %r" % (len(lost), lost[:40]))
    if unexplained:
        problems.append("duplicates with neither redelivered:true nor a crash in between: %r"
                        % unexplained[:20])
    if STRICT and unflagged:
        problems.append("%d duplicates after a crash without redelivered:true" % unflagged)
    if order:
        problems.append("first deliveries out of order: %r" % order[:20])
    if garbled or beyond:
        problems.append("garbled / never-sent bodies: %r %r" % (garbled[:5], beyond[:5]))
    if cluster.errors:
        problems.append("ERROR frames: %r" % cluster.errors[:10])
    assert not problems, summary + "\n" + "\n".join(problems)
