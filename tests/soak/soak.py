#!/usr/bin/python3
"""Ferry soak test: a mixed workload against one broker for a configurable
duration, with a checker for lost, duplicated and corrupted messages and a
watch on the broker's RSS and open descriptors.

    /usr/bin/python3 tests/soak/soak.py --duration 3600 --ferry-bin build/ferry

It starts its own `ferry serve` (a fresh data-dir, a free port) and runs,
each on its own connections:

- queue producers over raw sockets: persistent and non-persistent SENDs with
  receipts; periodic clean reconnects; random abrupt closes (no DISCONNECT,
  possibly with SENDs whose RECEIPT never came: those are "unconfirmed");
- a stomp.py producer (STOMP 1.2, receipts);
- a transactional producer: BEGIN, 1-5 SENDs, COMMIT (receipt) or ABORT;
- queue consumers over raw sockets: `client` (cumulative) and
  `client-individual` acks with receipts, NACKs, transactional ACKs
  (COMMIT or ABORT), random prefetch windows, periodic reconnects and random
  abrupt disconnects while holding unacknowledged messages;
- a stomp.py queue consumer (client-individual, acks with receipts);
- a topic publisher and subscribers: two that stay connected (raw, stomp.py)
  and must get every message published after they subscribed, and one that
  keeps leaving and coming back;
- a chaos client: half frames, garbage, resets, an ERROR now and then.

At the end the producers stop, the consumers leave, and every queue and its
dead-letter queue is drained. The checker then counts, over every message id:

- lost: its SEND (or COMMIT) was receipted, and it was neither acknowledged
  (ACK receipted, or ACK sent on a connection that then died) nor drained;
- duplicated: acknowledged (ACK receipted, or drained) twice, or delivered
  more than once without `redelivered:true` (order-independent: consumers
  read their sockets at different speeds);
- corrupted: body that fails its SHA-256, or a MESSAGE on the wrong queue;
- phantom: a message of an aborted transaction delivered;
- topic_missed: a message a stable topic subscriber should have had.

Every few seconds it samples the broker's VmRSS and open descriptors; the
trend compares the last third of the run with the first third (after a
warm-up): the floor of RSS (bursts of load come and go, a leak raises the
floor) and the mean of descriptors, and fails on clear growth. A raised
RSS floor is checked once more after every client left and every queue
drained: memory a late burst took comes back within the allocator's decay
time, a leak's does not.

The last line printed is one JSON object (the summary); the exit code is 0
when nothing was lost, duplicated or corrupted and nothing grew.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

from support import Closed, RawClient, StompError, encode_frame  # noqa: E402

QUEUES = ["soak-a", "soak-b"]
TOPIC = "soak-news"
RECEIPT_TIMEOUT = 60.0
# Quiet seconds after the drain before RSS counts as kept (settle()).
SETTLE_S = 20


# --------------------------------------------------------------------------
# bodies
# --------------------------------------------------------------------------

def make_body(mid: str, rnd: random.Random, dest: str) -> bytes:
    """<id>|<dest>|<sha256 of payload, 16 hex>|<payload>"""
    payload = rnd.randbytes(rnd.choice((16, 200, 1000, 4000, 12000)))
    digest = hashlib.sha256(payload).hexdigest()[:16]
    return ("%s|%s|%s|" % (mid, dest, digest)).encode() + payload


def parse_body(body: bytes):
    """(id, dest, ok) -- ok is False for a body that fails its checksum."""
    try:
        mid, dest, digest, payload = body.split(b"|", 3)
    except ValueError:
        return None, None, False
    ok = hashlib.sha256(payload).hexdigest()[:16].encode() == digest
    return mid.decode(), dest.decode(), ok


# --------------------------------------------------------------------------
# the checker
# --------------------------------------------------------------------------

class Checker:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = defaultdict(int)              # counters for the summary
        self.confirmed: dict[str, str] = {}    # queue message id -> destination
        self.unconfirmed: set[str] = set()     # sent, no receipt (connection died)
        self.aborted: set[str] = set()         # sends of aborted transactions
        self.delivered = defaultdict(int)      # id -> deliveries seen
        self.history = defaultdict(list)       # id -> who got each delivery (for reports)
        self.unflagged = defaultdict(int)      # id -> deliveries without redelivered:true
        self.ack_count = defaultdict(int)      # id -> receipted ACKs (of different deliveries)
        self.acked: set[str] = set()           # ACK receipted (or drained)
        self.ack_unsure: set[str] = set()      # ACK sent, connection died before its receipt
        self.topic_sent: list[tuple[float, str]] = []  # (send start, id) of receipted publishes
        self.errors: list[str] = []
        self.dups: list[str] = []
        self.corrupt: list[str] = []

    def count(self, name: str, n: int = 1):
        with self.lock:
            self.c[name] += n

    def error(self, what: str):
        with self.lock:
            self.c["unexpected_errors"] += 1
            if len(self.errors) < 30:
                self.errors.append(what)

    def sent(self, mid: str, dest: str, confirmed: bool):
        with self.lock:
            self.c["sent"] += 1
            if confirmed:
                self.confirmed[mid] = dest
                self.c["confirmed"] += 1
            else:
                self.unconfirmed.add(mid)

    def delivery(self, frame, dest: str, dead_letter: bool = False, who: str = "") -> str | None:
        """A queue MESSAGE: checks body and duplicates. Returns its id. A
        dead-lettered copy is a new message on the DLQ: not marked
        redelivered, but it must not be one whose ACK was receipted."""
        mid, body_dest, ok = parse_body(frame.body)
        with self.lock:
            self.c["delivered"] += 1
            if not ok or body_dest != dest:
                self.c["corrupted"] += 1
                if len(self.corrupt) < 20:
                    self.corrupt.append("%s on %s: %r" % (mid, dest, frame.body[:80]))
                return None
            redelivered = frame.get("redelivered") == "true"
            if redelivered:
                self.c["redelivered"] += 1
            seen = "%s%s%s" % (who, ":" + frame.get("ack", "") if frame.get("ack") else "",
                               "(r)" if redelivered else "")
            # Order-independent (consumers read their sockets at different
            # speeds, so the order deliveries are seen in is not the order
            # they were made): at most one delivery of a message may lack
            # redelivered:true (a dead-lettered copy is a new message).
            self.history[mid].append(seen)
            if not redelivered and not dead_letter:
                self.unflagged[mid] += 1
                if self.unflagged[mid] > 1:
                    self.c["duplicated"] += 1
                    self.dups.append("%s delivered twice without redelivered:true (%s)"
                                     % (mid, " ".join(self.history[mid])))
            self.delivered[mid] += 1
            return mid

    def acked_ids(self, ids, sure: bool = True):
        with self.lock:
            for mid in ids:
                if sure:
                    # Acknowledged (receipted) twice: it was delivered and
                    # consumed twice.
                    self.ack_count[mid] += 1
                    if self.ack_count[mid] == 2:
                        self.c["duplicated"] += 1
                        self.dups.append("%s acknowledged twice (%s)"
                                         % (mid, " ".join(self.history[mid])))
                    self.acked.add(mid)
                    self.ack_unsure.discard(mid)
                else:
                    self.ack_unsure.add(mid)


# --------------------------------------------------------------------------
# workers
# --------------------------------------------------------------------------

class Worker(threading.Thread):
    def __init__(self, name: str, soak: "Soak"):
        super().__init__(name=name, daemon=True)
        self.soak = soak
        self.ck = soak.checker
        self.rnd = random.Random("%s-%s" % (soak.seed, name))
        self.stop = threading.Event()
        self.crashed: str | None = None

    def run(self):
        try:
            self.work()
        except Exception as e:  # noqa: BLE001
            self.crashed = "%s: %r" % (self.name, e)
            self.ck.error(self.crashed)
            if self.conn is not None:
                self.conn.close()  # what it held goes back to its queue

    conn = None

    def connect(self, **kw) -> RawClient:
        c = RawClient(self.soak.port, timeout=RECEIPT_TIMEOUT)
        self.conn = c
        c.connect("1.2", heart_beat="0,0", **kw)
        return c


class QueueProducer(Worker):
    def work(self):
        seq = 0
        while not self.stop.is_set():
            c = self.connect()
            n = self.rnd.randint(50, 400)
            abrupt_at = self.rnd.randint(1, n) if self.rnd.random() < 0.3 else None
            for i in range(n):
                if self.stop.is_set():
                    break
                dest = self.rnd.choice(QUEUES)
                mid = "%s-%d" % (self.name, seq)
                seq += 1
                persistent = "true" if self.rnd.random() < 0.7 else "false"
                body = make_body(mid, self.rnd, dest)
                rid = "r%d" % seq
                c.send_frame("SEND", [("destination", "/queue/" + dest), ("persistent", persistent),
                                      ("receipt", rid)], body)
                if abrupt_at == i:
                    # Close with this SEND's RECEIPT outstanding.
                    self.ck.sent(mid, dest, confirmed=False)
                    self.ck.count("abrupt_disconnects")
                    c.close()
                    c = None
                    break
                c.wait_receipt(rid, RECEIPT_TIMEOUT)
                self.ck.sent(mid, dest, confirmed=True)
                self.ck.count("persistent_sent" if persistent == "true" else "nonpersistent_sent")
            if c is not None:
                c.disconnect()
                self.ck.count("reconnects")


class PyProducer(Worker):
    """stomp.py (1.2), a receipt per SEND."""

    def work(self):
        import stomp
        seq = 0
        while not self.stop.is_set():
            lst = _PyReceipts()
            conn = stomp.Connection12([("127.0.0.1", self.soak.port)], heartbeats=(0, 0),
                                      vhost="/", reconnect_attempts_max=1, auto_decode=False)
            conn.set_listener("r", lst)
            conn.connect(wait=True)
            for _ in range(self.rnd.randint(100, 500)):
                if self.stop.is_set():
                    break
                dest = self.rnd.choice(QUEUES)
                mid = "%s-%d" % (self.name, seq)
                seq += 1
                rid = "py%d" % seq
                conn.send("/queue/" + dest, make_body(mid, self.rnd, dest),
                          headers={"receipt": rid, "persistent": "true"})
                if not lst.wait(rid, RECEIPT_TIMEOUT):
                    raise AssertionError("stomp.py: no RECEIPT %s" % rid)
                self.ck.sent(mid, dest, confirmed=True)
            conn.disconnect()
            self.ck.count("reconnects")


class _PyReceipts:
    def __init__(self):
        self.cond = threading.Condition()
        self.got: set[str] = set()
        self.on_message_cb = None
        self.error = None

    def on_receipt(self, frame):
        with self.cond:
            self.got.add(frame.headers.get("receipt-id"))
            self.cond.notify_all()

    def on_error(self, frame):
        self.error = frame

    def on_message(self, frame):
        if self.on_message_cb:
            self.on_message_cb(frame)

    def wait(self, rid, timeout):
        with self.cond:
            ok = self.cond.wait_for(lambda: rid in self.got, timeout)
            self.got.discard(rid)
            return ok


class TxProducer(Worker):
    def work(self):
        seq = 0
        tx = 0
        while not self.stop.is_set():
            c = self.connect()
            for _ in range(self.rnd.randint(20, 100)):
                if self.stop.is_set():
                    break
                tx += 1
                name = "tx%d" % tx
                c.send_frame("BEGIN", [("transaction", name)])
                ids = []
                for _ in range(self.rnd.randint(1, 5)):
                    dest = self.rnd.choice(QUEUES)
                    mid = "%s-%d" % (self.name, seq)
                    seq += 1
                    ids.append((mid, dest))
                    c.send_frame("SEND", [("destination", "/queue/" + dest), ("transaction", name),
                                          ("persistent", self.rnd.choice(("true", "false")))],
                                 make_body(mid, self.rnd, dest))
                if self.rnd.random() < 0.3:
                    c.request("ABORT", [("transaction", name)], timeout=RECEIPT_TIMEOUT)
                    with self.ck.lock:
                        self.ck.aborted.update(m for m, _ in ids)
                    self.ck.count("tx_aborted")
                else:
                    c.request("COMMIT", [("transaction", name)], timeout=RECEIPT_TIMEOUT)
                    for mid, dest in ids:
                        self.ck.sent(mid, dest, confirmed=True)
                    self.ck.count("tx_committed")
            c.disconnect()
            self.ck.count("reconnects")


class QueueConsumer(Worker):
    """Raw consumer. mode: client, client-individual or tx (client-individual
    with transactional ACKs)."""

    def __init__(self, name, soak, mode):
        super().__init__(name, soak)
        self.mode = mode

    def work(self):
        while not self.stop.is_set():
            self.session()

    def session(self):
        self.sessions = getattr(self, "sessions", 0) + 1
        session_no = self.sessions
        dest = self.rnd.choice(QUEUES)
        ack = "client" if self.mode == "client" else "client-individual"
        c = self.connect()
        c.subscribe("/queue/" + dest, "s", ack=ack,
                    headers={"prefetch-count": str(self.rnd.choice((1, 5, 20, 100)))})
        held: dict[int, str] = {}           # ack seq -> message id, not yet acked
        arrived: dict[int, int] = {}        # ack seq -> when it was read (1, 2, ...)
        pending: dict[str, list[str]] = {}  # receipt id -> message ids it acks
        tx_ids: list[str] = []              # ACKed inside the open transaction
        tx_name = None
        rid_n = 0
        end = time.monotonic() + self.rnd.uniform(2, 20)
        abrupt = self.rnd.random() < 0.3
        def on_receipt(f):
            ids = pending.pop(f["receipt-id"], None)
            if isinstance(ids, int):
                # A cumulative ACK covers the named message and every one
                # sent to the subscription before it (STOMP 1.2): those read
                # before it, whatever their seq (a persistent delivery waits
                # for its count to be on disk, so it can be written after a
                # later non-persistent one).
                covered = [s for s in held if arrived[s] <= ids]
                self.ck.acked_ids([held.pop(s) for s in covered])
                self.ck.count("acked", len(covered))
            elif ids is not None:
                self.ck.acked_ids(ids)

        def on_message(f):
            mid = self.ck.delivery(f, dest, who="%s#%d" % (self.name, session_no))
            if mid is not None:
                seq = int(f["ack"].rsplit("-", 1)[1])
                held[seq] = mid
                arrived[seq] = len(arrived) + 1
            return mid

        while not self.stop.is_set() and time.monotonic() < end:
            try:
                f = c.read_frame(0.5)
            except socket.timeout:
                continue
            if f.command == "RECEIPT":
                on_receipt(f)
                continue
            if f.command == "ERROR":
                raise StompError(f)
            mid = on_message(f)
            if mid is None:
                continue
            seq = int(f["ack"].rsplit("-", 1)[1])
            r = self.rnd.random()
            rid_n += 1
            rid = "a%d" % rid_n
            if self.mode == "tx":
                if tx_name is None:
                    tx_name = "t%d" % rid_n
                    c.send_frame("BEGIN", [("transaction", tx_name)])
                c.send_frame("ACK", [("id", f["ack"]), ("transaction", tx_name)])
                tx_ids.append(mid)
                del held[seq]
                if len(tx_ids) >= self.rnd.randint(1, 6):
                    if self.rnd.random() < 0.25:
                        c.send_frame("ABORT", [("transaction", tx_name), ("receipt", rid)])
                        self.ck.count("tx_ack_aborted")
                        pending[rid] = []  # the messages come back
                    else:
                        c.send_frame("COMMIT", [("transaction", tx_name), ("receipt", rid)])
                        self.ck.count("tx_ack_committed")
                        self.ck.count("acked", len(tx_ids))
                        pending[rid] = list(tx_ids)
                    tx_ids = []
                    tx_name = None
            elif r < 0.05 and self.mode == "client-individual":
                c.send_frame("NACK", [("id", f["ack"]), ("receipt", rid)])
                del held[seq]
                pending[rid] = []
                self.ck.count("nacked")
            elif self.mode == "client":
                if r < 0.3 or len(held) > 10:  # cumulative: this and all read before it
                    c.send_frame("ACK", [("id", f["ack"]), ("receipt", rid)])
                    pending[rid] = arrived[seq]
            else:
                c.send_frame("ACK", [("id", f["ack"]), ("receipt", rid)])
                del held[seq]
                pending[rid] = [mid]
                self.ck.count("acked")
        # leave
        unsure = []
        for ids in pending.values():
            if isinstance(ids, int):
                unsure += [m for s, m in held.items() if arrived[s] <= ids]
            else:
                unsure += ids
        if abrupt and not self.stop.is_set():
            self.ck.count("abrupt_disconnects")
            c.close()
            self.ck.acked_ids(unsure, sure=False)
            return
        # DISCONNECT: its RECEIPT comes after every earlier one; MESSAGEs
        # read meanwhile are recorded (they go back to the queue).
        c.send_frame("DISCONNECT", [("receipt", "bye")])
        try:
            while True:
                f = c.read_frame(RECEIPT_TIMEOUT)
                if f.command == "RECEIPT" and f["receipt-id"] == "bye":
                    break
                if f.command == "RECEIPT":
                    on_receipt(f)
                elif f.command == "MESSAGE":
                    on_message(f)
                else:
                    raise StompError(f)
        except (Closed, socket.timeout):
            self.ck.acked_ids(unsure, sure=False)
            raise
        c.close()
        self.ck.count("reconnects")


class PyConsumer(Worker):
    """stomp.py (1.2) client-individual consumer; acks with receipts from
    its receiver thread."""

    def work(self):
        import stomp
        while not self.stop.is_set():
            dest = self.rnd.choice(QUEUES)
            lst = _PyReceipts()
            conn = stomp.Connection12([("127.0.0.1", self.soak.port)], heartbeats=(0, 0),
                                      vhost="/", reconnect_attempts_max=1, auto_decode=False)
            pending: dict[str, str] = {}
            lock = threading.Lock()
            n = [0]

            leaving = [False]

            def on_message(frame, dest=dest, conn=conn, pending=pending, leaving=leaving):
                mid = self.ck.delivery(_PyFrame(frame), dest, who=self.name)
                if mid is None:
                    return
                with lock:  # no ACK once the UNSUBSCRIBE may be on its way
                    if leaving[0]:
                        return
                    n[0] += 1
                    rid = "pa%d" % n[0]
                    pending[rid] = mid
                    conn.ack(frame.headers["ack"], receipt=rid)
                self.ck.count("acked")

            orig_receipt = lst.on_receipt

            def on_receipt(frame, pending=pending):
                with lock:
                    mid = pending.pop(frame.headers.get("receipt-id"), None)
                if mid is not None:
                    self.ck.acked_ids([mid])
                orig_receipt(frame)

            lst.on_message_cb = on_message
            lst.on_receipt = on_receipt
            conn.set_listener("c", lst)
            conn.connect(wait=True)
            conn.subscribe("/queue/" + dest, id="py", ack="client-individual",
                           headers={"prefetch-count": "20"})
            self.stop.wait(self.rnd.uniform(3, 15))
            with lock:
                leaving[0] = True
            conn.unsubscribe(id="py", headers={"receipt": "unsub"})
            if not lst.wait("unsub", RECEIPT_TIMEOUT):
                raise AssertionError("stomp.py: no RECEIPT for UNSUBSCRIBE")
            # The UNSUBSCRIBE's RECEIPT came after every earlier ACK's.
            with lock:
                leftover = list(pending.values())
            self.ck.acked_ids(leftover)
            conn.disconnect()
            self.ck.count("reconnects")


class _PyFrame:
    """stomp.py frame -> the get()/body shape the checker uses."""

    def __init__(self, frame):
        self.headers = frame.headers
        body = frame.body
        self.body = body if isinstance(body, bytes) else body.encode("utf-8")

    def get(self, name, default=None):
        return self.headers.get(name, default)


class TopicPublisher(Worker):
    def work(self):
        seq = 0
        c = self.connect()
        while not self.stop.is_set():
            mid = "%s-%d" % (self.name, seq)
            seq += 1
            t = time.monotonic()
            c.send("/topic/" + TOPIC, make_body(mid, self.rnd, TOPIC), [("persistent", "false")],
                   timeout=RECEIPT_TIMEOUT)
            with self.ck.lock:
                self.ck.topic_sent.append((t, mid))
            self.ck.count("topic_published")
            time.sleep(0.005)
        c.disconnect()


class TopicSubscriber(Worker):
    """stable: subscribes once and must see everything published after;
    otherwise it keeps leaving (abruptly or not) and coming back."""

    def __init__(self, name, soak, stable: bool):
        super().__init__(name, soak)
        self.stable = stable
        self.since: float | None = None
        self.got: set[str] = set()

    def work(self):
        while not self.stop.is_set():
            c = self.connect()
            c.subscribe("/topic/" + TOPIC, "t")
            if self.stable and self.since is None:
                self.since = time.monotonic()
            end = time.monotonic() + (1e9 if self.stable else self.rnd.uniform(1, 8))
            while not self.stop.is_set() and time.monotonic() < end:
                try:
                    f = c.read_frame(0.5)
                except socket.timeout:
                    continue
                if f.command != "MESSAGE":
                    raise AssertionError("topic subscriber got %r" % f)
                self.topic_message(f.body)
            if self.stable:
                self.drain_until_quiet(c)
            if self.rnd.random() < 0.5 and not self.stable:
                c.close()
                self.ck.count("abrupt_disconnects")
            else:
                c.disconnect()
            self.ck.count("reconnects")

    def drain_until_quiet(self, c):
        while True:
            try:
                f = c.read_frame(1.0)
            except socket.timeout:
                return
            if f.command == "MESSAGE":
                self.topic_message(f.body)

    def topic_message(self, body: bytes):
        mid, dest, ok = parse_body(body)
        with self.ck.lock:
            self.ck.c["topic_received"] += 1
            if not ok or dest != TOPIC:
                self.ck.c["corrupted"] += 1
                return
            if mid in self.got:
                self.ck.c["duplicated"] += 1
                self.ck.dups.append("topic message %s twice on %s" % (mid, self.name))
            self.got.add(mid)


class PyTopicSubscriber(TopicSubscriber):
    def work(self):
        import stomp
        lst = _PyReceipts()
        lst.on_message_cb = lambda frame: self.topic_message(_PyFrame(frame).body)
        conn = stomp.Connection12([("127.0.0.1", self.soak.port)], heartbeats=(0, 0), vhost="/",
                                  reconnect_attempts_max=1, auto_decode=False)
        conn.set_listener("t", lst)
        conn.connect(wait=True)
        conn.subscribe("/topic/" + TOPIC, id="t", ack="auto", headers={"receipt": "sub"})
        if not lst.wait("sub", RECEIPT_TIMEOUT):
            raise AssertionError("stomp.py: no RECEIPT for SUBSCRIBE")
        self.since = time.monotonic()
        self.stop.wait()
        time.sleep(1.0)  # the last publishes arrive
        conn.disconnect()


class Chaos(Worker):
    """Misbehaving clients: they must not disturb anyone (not counted)."""

    def work(self):
        while not self.stop.is_set():
            self.stop.wait(self.rnd.uniform(0.2, 1.0))
            kind = self.rnd.randrange(5)
            try:
                c = RawClient(self.soak.port, timeout=10)
                if kind == 0:
                    c.send_raw(b"CONNECT\naccept-version:1.2\nhost:/\n\n\0SEND\ndestination:/queue/x\ncontent-len")
                elif kind == 1:
                    c.send_raw(self.rnd.randbytes(300))
                    c.read_until_closed(10)
                elif kind == 2:
                    c.connect("1.2", heart_beat="0,0")
                    c.send_frame("SUBSCRIBE", [("destination", "/queue/chaos"), ("id", "c"),
                                               ("ack", "client")])
                    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                      b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close
                elif kind == 3:
                    c.connect("1.2", heart_beat="0,0")
                    c.send_frame("COMMIT", [("transaction", "nope")])
                    c.read_until_closed(10)
                else:
                    c.connect("1.2", heart_beat="0,0")
                    c.send_raw(encode_frame("SEND", [("destination", "/queue/chaos"),
                                                     ("persistent", "false")], b"c"))
                    c.sock.shutdown(socket.SHUT_WR)
                    c.read_until_closed(10)
                c.close()
                self.ck.count("chaos")
            except (OSError, Closed, AssertionError):
                self.ck.count("chaos")


# --------------------------------------------------------------------------
# broker, sampling, drain
# --------------------------------------------------------------------------

def proc_rss(pid: int) -> int:
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def proc_fds(pid: int) -> int:
    return len(os.listdir("/proc/%d/fd" % pid))


class Soak:
    def __init__(self, args):
        self.args = args
        self.seed = args.seed
        self.checker = Checker()
        self.samples: list[tuple[float, int, int]] = []
        self.settled_rss: int | None = None  # lowest RSS after the drain (settle())
        self.port = 0
        self.proc = None

    def start_broker(self):
        self.data_dir = self.args.data_dir or tempfile.mkdtemp(prefix="ferry-soak-")
        log_path = Path(self.args.log or os.path.join(self.data_dir, "..",
                                                      os.path.basename(self.data_dir) + ".log"))
        self.log_path = log_path.resolve()
        self.log = open(self.log_path, "wb")
        cmd = [self.args.ferry_bin, "serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--shards",
               str(self.args.shards), "--data-dir", self.data_dir, "--log-level", "info",
               "--memory-limit", "64MiB", "--segment-size", "8MiB"] + self.args.ferry_arg
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.write(line)
            m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if not self.port:
            raise SystemExit("ferry did not start; see %s" % self.log_path)
        threading.Thread(target=self._copy_log, daemon=True).start()

    def _copy_log(self):
        for line in iter(self.proc.stderr.readline, b""):
            self.log.write(line)
            self.log.flush()

    def sample(self):
        try:
            self.samples.append((time.monotonic(), proc_rss(self.proc.pid), proc_fds(self.proc.pid)))
        except OSError:
            pass

    def drain(self):
        """Every queue and its dead-letter queue, acking each, until quiet."""
        ck = self.checker
        for q in QUEUES + ["DLQ." + q for q in QUEUES]:
            base = q[4:] if q.startswith("DLQ.") else q
            c = RawClient(self.port, timeout=RECEIPT_TIMEOUT)
            c.connect("1.2", heart_beat="0,0")
            c.subscribe("/queue/" + q, "drain", ack="client-individual",
                        headers={"prefetch-count": "500"})
            n = 0
            while True:
                try:
                    f = c.read_frame(3.0)
                except socket.timeout:
                    break
                if f.command != "MESSAGE":
                    continue
                mid = ck.delivery(f, base, dead_letter=q.startswith("DLQ."), who="drain")
                if mid is not None:
                    ck.acked_ids([mid])
                    n += 1
                    if q.startswith("DLQ."):
                        ck.count("dead_lettered")
                c.send_frame("ACK", [("id", f["ack"])])
            c.disconnect()
            ck.count("drained", n)

    def run(self) -> dict:
        a = self.args
        self.start_broker()
        t_start = time.monotonic()
        time.sleep(0.5)
        self.sample()
        base_fds = self.samples[-1][2]
        workers: list[Worker] = []
        workers += [QueueProducer("qp%d" % i, self) for i in range(a.producers)]
        workers += [PyProducer("pyp", self), TxProducer("txp", self)]
        workers += [QueueConsumer("qc-client", self, "client"),
                    QueueConsumer("qc-indiv", self, "client-individual"),
                    QueueConsumer("qc-tx", self, "tx"),
                    QueueConsumer("qc-indiv2", self, "client-individual"),
                    PyConsumer("pyc", self)]
        stable = [TopicSubscriber("ts-stable", self, True), PyTopicSubscriber("ts-py", self, True)]
        workers += stable + [TopicSubscriber("ts-churn", self, False)]
        consumers = [w for w in workers if not isinstance(w, (QueueProducer, PyProducer,
                                                              TxProducer))]
        time_topic_pub = TopicPublisher("tp", self)
        chaos = Chaos("chaos", self)
        for w in workers:
            w.start()
        time.sleep(1.0)  # stable subscribers are in before the first publish
        time_topic_pub.start()
        chaos.start()
        producers = [w for w in workers if w not in consumers] + [time_topic_pub]
        deadline = time.monotonic() + a.duration
        next_report = time.monotonic() + a.report_every
        while time.monotonic() < deadline:
            time.sleep(min(a.sample_every, max(0.0, deadline - time.monotonic())))
            self.sample()
            if any(w.crashed for w in workers + [time_topic_pub]) or self.proc.poll() is not None:
                break
            if time.monotonic() >= next_report:
                next_report += a.report_every
                ck = self.checker
                print("[%5.0fs] sent %d, confirmed %d, delivered %d, acked %d, RSS %.1f MB, fds %d"
                      % (time.monotonic() - t_start, ck.c["sent"], ck.c["confirmed"],
                         ck.c["delivered"], ck.c["acked"], self.samples[-1][1] / 1e6,
                         self.samples[-1][2]), flush=True)
        # wind down: producers first, then the rest
        for w in producers + [chaos]:
            w.stop.set()
        for w in producers + [chaos]:
            w.join(RECEIPT_TIMEOUT + 30)
        for w in consumers:
            w.stop.set()
        for w in consumers:
            w.join(RECEIPT_TIMEOUT + 30)
        hung = [w.name for w in workers + [time_topic_pub, chaos] if w.is_alive()]
        alive = self.proc.poll() is None
        if alive:
            self.drain()
            time.sleep(1.0)
            self.sample()
        end_fds = self.samples[-1][2]
        if alive and self.trend().get("rss_growth"):
            self.settle()
        return self.summarize(t_start, stable, base_fds, end_fds, hung, alive)

    def settle(self):
        """The last third's floor rose: a leak, or a burst of load (a backlog
        near memory-limit) that the last third was too short to see end. With
        every client gone and every queue drained, wait SETTLE_S (longer than
        the allocator's 10 s decay) and keep the lowest RSS: memory that a
        burst took comes back by then, a leak's does not."""
        end = time.monotonic() + SETTLE_S
        while time.monotonic() < end and self.proc.poll() is None:
            time.sleep(1.0)
            try:
                rss = proc_rss(self.proc.pid)
            except OSError:
                return
            self.settled_rss = rss if self.settled_rss is None else min(self.settled_rss, rss)

    def summarize(self, t_start, stable, base_fds, end_fds, hung, alive) -> dict:
        ck = self.checker
        with ck.lock:
            accounted = ck.acked | ck.ack_unsure
            lost = sorted(m for m in ck.confirmed if m not in accounted)
            phantom = sorted(m for m in ck.aborted if ck.delivered.get(m))
            missed = 0
            for sub in stable:
                if sub.since is None:
                    continue
                want = [m for t, m in ck.topic_sent if t > sub.since + 0.05]
                missed += sum(1 for m in want if m not in sub.got)
            c = dict(ck.c)
        trend = self.trend()
        s = {
            "duration_s": round(time.monotonic() - t_start, 1),
            "shards": self.args.shards,
            "seed": self.seed,
            "sent": c.get("sent", 0),
            "confirmed": c.get("confirmed", 0),
            "unconfirmed": len(ck.unconfirmed),
            "persistent_sent": c.get("persistent_sent", 0),
            "nonpersistent_sent": c.get("nonpersistent_sent", 0),
            "tx_committed": c.get("tx_committed", 0),
            "tx_aborted": c.get("tx_aborted", 0),
            "delivered": c.get("delivered", 0),
            "redelivered": c.get("redelivered", 0),
            "acked": c.get("acked", 0),
            "nacked": c.get("nacked", 0),
            "tx_ack_committed": c.get("tx_ack_committed", 0),
            "tx_ack_aborted": c.get("tx_ack_aborted", 0),
            "drained": c.get("drained", 0),
            "dead_lettered": c.get("dead_lettered", 0),
            "topic_published": c.get("topic_published", 0),
            "topic_received": c.get("topic_received", 0),
            "reconnects": c.get("reconnects", 0),
            "abrupt_disconnects": c.get("abrupt_disconnects", 0),
            "chaos_clients": c.get("chaos", 0),
            "lost": len(lost),
            "duplicated": c.get("duplicated", 0),
            "corrupted": c.get("corrupted", 0),
            "phantom": len(phantom),
            "topic_missed": missed,
            "unexpected_errors": c.get("unexpected_errors", 0),
            "broker_alive": alive,
            "hung_workers": hung,
            "fds_start": base_fds,
            "fds_end": end_fds,
        }
        s.update(trend)
        problems = []
        for k in ("lost", "duplicated", "corrupted", "phantom", "topic_missed", "unexpected_errors"):
            if s[k]:
                problems.append("%s=%d" % (k, s[k]))
        if not alive:
            problems.append("broker died (rc=%s)" % self.proc.poll())
        if hung:
            problems.append("hung workers %s" % hung)
        if s["confirmed"] == 0 or s["acked"] == 0 or s["topic_received"] == 0:
            problems.append("no traffic")
        if trend.get("rss_growth"):
            problems.append("RSS grows: %s" % trend["rss_growth"])
        if trend.get("fd_growth"):
            problems.append("descriptors grow: %s" % trend["fd_growth"])
        if end_fds > base_fds + 8:
            problems.append("descriptors leaked: %d at start, %d after every client left"
                            % (base_fds, end_fds))
        s["verdict"] = "ok" if not problems else "FAIL: " + "; ".join(problems)
        # Each lost id with its destination and every delivery seen of it
        # (consumer:ack-tag, "(r)" = redelivered): where to start looking.
        lost_detail = ["%s on %s, deliveries: %s" % (m, ck.confirmed.get(m, "?"),
                                                       " ".join(ck.history.get(m, [])) or "none")
                       for m in lost[:20]]
        self.details = {"lost": lost_detail, "phantom": phantom[:20], "dups": ck.dups[:20],
                        "corrupt": ck.corrupt[:20], "errors": ck.errors[:20]}
        return s

    def trend(self) -> dict:
        """First third vs last third of the samples taken after a warm-up
        (RSS: their floors; descriptors: their means):
        15% of the run, at least 60 s (queues, windows and the allocator's
        arenas fill up over the first minute), at most half of it. The
        final sample (after the drain) is left out."""
        pts = self.samples[1:-1] if len(self.samples) > 3 else self.samples
        if pts:
            t0, t1 = pts[0][0], pts[-1][0]
            warm = min(max(0.15 * (t1 - t0), 60.0), 0.5 * (t1 - t0))
            pts = [p for p in pts if p[0] >= t0 + warm]
        out = {"samples": len(self.samples)}
        if len(pts) < 6:
            out["trend"] = "too few samples"
            return out
        k = len(pts) // 3
        first, last = pts[:k], pts[-k:]
        # RSS: the floor (lowest sample) of each third. Bursts of load (a
        # backlog that builds and drains, output buffers kept for reuse
        # while a connection is busy) raise single samples and move the mean
        # by tens of MB; a leak raises the floor.
        rss_a = min(p[1] for p in first)
        rss_b = min(p[1] for p in last)
        fd_a = sum(p[2] for p in first) / k
        fd_b = sum(p[2] for p in last) / k
        out.update({"rss_first_third_mb": round(rss_a / 1e6, 1), "rss_last_third_mb": round(rss_b / 1e6, 1),
                    "rss_max_mb": round(max(p[1] for p in self.samples) / 1e6, 1),
                    "fds_first_third": round(fd_a, 1), "fds_last_third": round(fd_b, 1),
                    "fds_max": max(p[2] for p in self.samples)})
        # Clear growth: more than a quarter and more than 16 MB for RSS, in
        # the last third's floor and still SETTLE_S after every client left
        # (see settle()); more than 16 descriptors on average (connections
        # come and go).
        grown = max(16e6, 0.25 * rss_a)
        if self.settled_rss is not None:
            out["rss_settled_mb"] = round(self.settled_rss / 1e6, 1)
        if rss_b - rss_a > grown and (self.settled_rss is None or self.settled_rss - rss_a > grown):
            out["rss_growth"] = "%.1f -> %.1f MB" % (rss_a / 1e6, rss_b / 1e6)
            if self.settled_rss is not None:
                out["rss_growth"] += ", %.1f MB %d s after the drain" % (self.settled_rss / 1e6, SETTLE_S)
        if fd_b - fd_a > 16:
            out["fd_growth"] = "%.1f -> %.1f" % (fd_a, fd_b)
        return out

    def stop_broker(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return -999
        return self.proc.returncode if self.proc else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=120, help="seconds of mixed load (default 120)")
    ap.add_argument("--ferry-bin", default=str(HERE.parent.parent / "build" / "ferry"))
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--producers", type=int, default=3, help="raw-socket queue producers")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--sample-every", type=float, default=2.0, help="seconds between RSS/fd samples")
    ap.add_argument("--report-every", type=float, default=30.0, help="seconds between progress lines")
    ap.add_argument("--data-dir", help="journal directory (default: a fresh temporary one, removed)")
    ap.add_argument("--log", help="broker log file (default: next to the data-dir)")
    ap.add_argument("--samples-out", help="write every (t, rss, fds) sample here as CSV")
    ap.add_argument("--ferry-arg", action="append", default=[],
                    help="extra argument for ferry serve (repeat: --ferry-arg=--max-deliveries --ferry-arg=5)")
    args = ap.parse_args(argv)
    soak = Soak(args)
    print("soak: %.0f s, seed %d, ferry %s, %d shards" % (args.duration, args.seed, args.ferry_bin,
                                                          args.shards), flush=True)
    try:
        s = soak.run()
    finally:
        rc = soak.stop_broker()
    s["broker_exit"] = rc
    if rc not in (0, None) and s["verdict"] == "ok":
        s["verdict"] = "FAIL: broker exited %s on SIGTERM" % rc
    if args.samples_out:
        with open(args.samples_out, "w") as f:
            f.write("t_s,rss_bytes,fds\n")
            t0 = soak.samples[0][0] if soak.samples else 0
            for t, rss, fds in soak.samples:
                f.write("%.1f,%d,%d\n" % (t - t0, rss, fds))
    print("soak summary: %d sent (%d confirmed, %d unconfirmed), %d delivered (%d redelivered), "
          "%d acked, %d nacked, %d tx committed / %d aborted, %d tx-ack commits / %d aborts, "
          "%d topic messages published / %d received, %d reconnects, %d abrupt disconnects, "
          "%d chaos clients"
          % (s["sent"], s["confirmed"], s["unconfirmed"], s["delivered"], s["redelivered"],
             s["acked"], s["nacked"], s["tx_committed"], s["tx_aborted"], s["tx_ack_committed"],
             s["tx_ack_aborted"], s["topic_published"], s["topic_received"], s["reconnects"],
             s["abrupt_disconnects"], s["chaos_clients"]))
    print("checker: lost %d, duplicated %d, corrupted %d, phantom %d, topic missed %d, "
          "unexpected errors %d" % (s["lost"], s["duplicated"], s["corrupted"], s["phantom"],
                                    s["topic_missed"], s["unexpected_errors"]))
    print("resources: RSS floor %s -> %s MB (max %s), fds %s -> %s (max %s; %d at start, %d at end)"
          % (s.get("rss_first_third_mb"), s.get("rss_last_third_mb"), s.get("rss_max_mb"),
             s.get("fds_first_third"), s.get("fds_last_third"), s.get("fds_max"), s["fds_start"],
             s["fds_end"]))
    if "rss_settled_mb" in s:
        print("RSS %s MB %d s after the drain (the last third's floor rose)" % (s["rss_settled_mb"], SETTLE_S))
    for k, v in soak.details.items():
        if v:
            print("%s: %s" % (k, v))
    print("verdict: %s (broker log %s)" % (s["verdict"], soak.log_path))
    if not args.data_dir and s["verdict"] == "ok":
        shutil.rmtree(soak.data_dir, ignore_errors=True)
    print(json.dumps(s, sort_keys=True), flush=True)
    return 0 if s["verdict"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
