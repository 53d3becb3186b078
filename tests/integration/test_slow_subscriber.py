"""Slow topic subscriber policy with a small --topic-subscriber-buffer.

The slow subscriber is a socket with a tiny receive buffer that stops reading;
the kernel's buffers fill (a few MiB), then the broker's per-subscriber buffer.
"""
import threading
import time

from support import Closed, RawClient, client, unique

N = 150
BODY = 100 * 1024


class Collector(threading.Thread):
    """Reads MESSAGEs on a background thread (a fast subscriber)."""

    def __init__(self, c, n):
        super().__init__(daemon=True)
        self.c, self.n = c, n
        self.seqs = []
        self.error = None

    def run(self):
        try:
            while len(self.seqs) < self.n:
                m = self.c.read_message(timeout=30)
                self.seqs.append(int(m.body[:6]))
        except Exception as e:  # noqa: BLE001
            self.error = e


class Producer(threading.Thread):
    def __init__(self, port, dest, n):
        super().__init__(daemon=True)
        self.port, self.dest, self.n = port, dest, n
        self.acked = 0
        self.error = None

    def run(self):
        try:
            p = client(self.port)
            for i in range(self.n):
                p.request("SEND", [("destination", self.dest)], b"%06d" % i + b"." * BODY, timeout=60)
                self.acked += 1
            p.close()
        except Exception as e:  # noqa: BLE001
            self.error = e


def _wait_stall(prod, limit=10.0):
    """Wait until the producer's receipt count stops moving (or it finishes)."""
    deadline = time.monotonic() + limit
    last = -1
    while time.monotonic() < deadline and prod.is_alive():
        time.sleep(0.4)
        if prod.acked == last:
            return prod.acked
        last = prod.acked
    return prod.acked


def test_slow_subscriber_block_policy(broker_factory):
    b = broker_factory(topic_subscriber_buffer=4, slow_subscriber_policy="block")
    dest = "/topic/" + unique()
    slow = RawClient(b.port, rcvbuf=4096)
    slow.connect("1.2")
    slow.subscribe(dest, "slow")
    fast = client(b.port)
    fast.subscribe(dest, "fast")
    fc = Collector(fast, N)
    fc.start()
    prod = Producer(b.port, dest, N)
    prod.start()
    stalled = _wait_stall(prod)
    assert prod.error is None, prod.error
    assert stalled < N, "producer was not slowed down by a subscriber that doesn't read"
    # now the slow subscriber reads: everything arrives, in order, nothing lost
    got = []
    while len(got) < N:
        m = slow.read_message(timeout=30)
        got.append(int(m.body[:6]))
    assert got == list(range(N))
    prod.join(30)
    assert prod.error is None and prod.acked == N
    fc.join(30)
    assert fc.error is None, fc.error
    assert fc.seqs == list(range(N))
    slow.close()
    fast.close()


def test_slow_subscriber_disconnect_policy(broker_factory):
    # 16 (not 4): a fast Python reader on a loaded 2-core machine can lag by a
    # few 100 KB messages; it must not be mistaken for the slow one.
    b = broker_factory(topic_subscriber_buffer=16, slow_subscriber_policy="disconnect")
    dest = "/topic/" + unique()
    slow = RawClient(b.port, rcvbuf=4096)
    slow.connect("1.2")
    slow.subscribe(dest, "slow")
    fast = client(b.port)
    fast.subscribe(dest, "fast")
    fc = Collector(fast, N)
    fc.start()
    prod = Producer(b.port, dest, N)
    prod.start()
    prod.join(60)
    assert prod.error is None, prod.error
    assert prod.acked == N, "producer blocked under the disconnect policy"
    fc.join(30)
    assert fc.error is None, fc.error
    assert fc.seqs == list(range(N)), "the fast subscriber lost messages"
    # the slow one: some messages (in order), then an ERROR, then close
    frames = []
    try:
        while True:
            frames.append(slow.read_frame(timeout=10))
    except Closed:
        pass
    cmds = [f.command for f in frames]
    assert "ERROR" in cmds, "slow subscriber was not sent an ERROR: %r" % cmds[-5:]
    err = frames[cmds.index("ERROR")]
    assert err.get("message")
    seqs = [int(f.body[:6]) for f in frames if f.command == "MESSAGE"]
    assert len(seqs) < N
    assert seqs == list(range(len(seqs))), "slow subscriber got a gap before its ERROR"
    fast.close()
