"""Resource exhaustion degrades politely, measured on the real broker:

- thousands of idle connections with heart-beats cost a bounded number of
  bytes each (RSS per connection printed and bounded), all stay connected,
  and one more than max-connections is refused with an ERROR while they and
  a working client are unaffected;
- non-persistent producers much faster than their consumers, on a queue and
  on a topic: the broker's RSS stays under memory-limit plus a margin
  (printed), producers are slowed, nothing is lost;
- a queue consumer that stops reading its socket holds at most its window;
  the other consumer of the same queue gets everything else without stalls,
  and the stuck consumer's messages go to it when it leaves.

FERRY_IDLE_CONNECTIONS (default 2000) sets the number of idle connections.
"""
from __future__ import annotations

import os
import resource
import socket
import threading
import time

import pytest

from support import RawClient, assert_broker_serves, client, encode_frame, unique

IDLE = int(os.environ.get("FERRY_IDLE_CONNECTIONS", "2000"))
MAX_BYTES_PER_IDLE_CONNECTION = 64 * 1024


def rss_bytes(pid: int) -> int:
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for %d" % pid)


def open_fds(pid: int) -> int:
    return len(os.listdir("/proc/%d/fd" % pid))


def _raise_fd_limit(need: int) -> int:
    """Raise this process's descriptor limit (the broker inherits it);
    returns how many connections fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need and (hard == resource.RLIM_INFINITY or hard > soft):
        new = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    return soft


def _connect_idle(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"CONNECT\naccept-version:1.2\nhost:/\nheart-beat:1000,1000\n\n\0")
    buf = b""
    while b"\0" not in buf:
        data = s.recv(4096)
        if not data:
            raise AssertionError("idle connection closed during CONNECT: %r" % buf)
        buf += data
    assert buf.startswith(b"CONNECTED"), buf
    s.setblocking(False)
    return s


def _beat_and_check(socks: list[socket.socket]) -> tuple[int, int]:
    """Send one heart-beat on each; read what the broker sent. Returns
    (connections closed by the broker, heart-beat bytes received)."""
    closed = 0
    beats = 0
    for s in socks:
        try:
            s.send(b"\n")
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            closed += 1
            continue
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    closed += 1
                    break
                beats += data.count(b"\n")
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            closed += 1
    return closed, beats


@pytest.mark.parametrize("shards", [2])
def test_idle_connections_with_heart_beats_cost_bounded_memory(broker_factory):
    n = IDLE
    limit = _raise_fd_limit(2 * n + 256)
    if limit < 2 * n + 256:  # both ends of every connection live in this test's machine
        n = max(100, (limit - 256) // 2)
        print("descriptor limit %d: using %d idle connections" % (limit, n))
    # room for every idle connection and the working client, no more
    b = broker_factory(heart_beat="1000,1000", heart_beat_grace="3.0", max_connections=n + 1)
    pid = b.proc.pid
    good = client(b.port)
    gd = "/queue/" + unique()
    good.subscribe(gd, "g")
    warm = [_connect_idle(b.port) for _ in range(50)]  # allocator warm-up
    for s in warm:
        s.close()
    time.sleep(0.5)
    rss0, fds0 = rss_bytes(pid), open_fds(pid)
    socks = []
    last_beat = time.monotonic()
    for i in range(n):
        socks.append(_connect_idle(b.port))
        if time.monotonic() - last_beat > 0.5:  # keep the early ones alive meanwhile
            _beat_and_check(socks)
            last_beat = time.monotonic()
    # Several heart-beat rounds: both directions flow, nobody is dropped.
    total_beats = 0
    for _ in range(6):
        time.sleep(0.5)
        closed, beats = _beat_and_check(socks)
        assert closed == 0, "%d of %d idle heart-beating connections were closed" % (closed, n)
        total_beats += beats
    assert total_beats >= n, "the broker sent %d heart-beats to %d connections in 3 s" % (
        total_beats, n)
    rss1, fds1 = rss_bytes(pid), open_fds(pid)
    per_conn = (rss1 - rss0) / n
    print("%d idle connections with 1 s heart-beats: RSS %.1f -> %.1f MB, %.0f bytes per "
          "connection; open fds %d -> %d" % (n, rss0 / 1e6, rss1 / 1e6, per_conn, fds0, fds1))
    assert per_conn < MAX_BYTES_PER_IDLE_CONNECTION, "%.0f bytes per idle connection" % per_conn
    assert fds1 - fds0 <= n + 16, "descriptors: %d -> %d for %d connections" % (fds0, fds1, n)
    # One more than max-connections: refused with an ERROR; everyone else fine.
    extra = RawClient(b.port)
    try:
        extra.send_frame("CONNECT", [("accept-version", "1.2"), ("host", "/")])
    except OSError:
        pass
    frames = extra.read_until_closed()
    extra.close()
    assert [f.command for f in frames] == ["ERROR"], frames
    assert "connection" in frames[0].get("message", ""), frames[0]
    good.send(gd, "fine")
    assert good.read_message().body == b"fine"
    closed, _ = _beat_and_check(socks)
    assert closed == 0, "%d idle connections lost after the refusal" % closed
    for s in socks:
        s.close()
    good.close()
    # the slots come back
    deadline = time.monotonic() + 10
    while True:
        try:
            assert_broker_serves(b)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    time.sleep(1.0)
    fds2 = open_fds(pid)
    print("after closing them: open fds %d, RSS %.1f MB" % (fds2, rss_bytes(pid) / 1e6))
    assert fds2 <= fds0 + 16, "descriptors leaked: %d before, %d after" % (fds0, fds2)


class _Sampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[int] = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                self.samples.append(rss_bytes(self.pid))
            except (OSError, AssertionError):
                return
            self.stop.wait(self.every)


class _FastProducer(threading.Thread):
    """Pipelines non-persistent SENDs without receipts as fast as the broker
    reads them, for `seconds`; then one SEND with a receipt (a barrier: every
    earlier SEND took effect)."""

    def __init__(self, port, dest, body_size, seconds, tag):
        super().__init__(daemon=True)
        self.port, self.dest, self.size, self.seconds, self.tag = port, dest, body_size, seconds, tag
        self.sent = 0
        self.error = None

    def run(self):
        try:
            c = client(self.port)
            c.sock.settimeout(120)
            end = time.monotonic() + self.seconds
            pad = b"." * self.size
            while time.monotonic() < end:
                batch = b"".join(encode_frame("SEND", [("destination", self.dest),
                                                       ("persistent", "false")],
                                              b"%s-%08d-" % (self.tag, self.sent + k) + pad)
                                 for k in range(16))
                c.send_raw(batch)
                self.sent += 16
            c.send(self.dest, b"%s-end" % self.tag, [("persistent", "false")], timeout=120)
            self.sent += 1
            c.close()
        except Exception as e:  # noqa: BLE001
            self.error = e


class _SlowConsumer(threading.Thread):
    """Reads slowly (pauses between messages) until told to hurry, then
    drains until it has seen every producer's end marker."""

    def __init__(self, port, dest, ack, producers):
        super().__init__(daemon=True)
        self.port, self.dest, self.ack, self.producers = port, dest, ack, producers
        self.count = 0
        self.hurry = threading.Event()
        self.seen_ends = set()
        self.order_ok = True
        self.error = None

    def run(self):
        try:
            c = client(self.port)
            c.subscribe(self.dest, "slow", ack=self.ack, headers={"prefetch-count": "100"})
            last = {}
            while len(self.seen_ends) < self.producers:
                m = c.read_message(timeout=120)
                self.count += 1
                tag, _, rest = m.body.partition(b"-")
                if rest.startswith(b"end"):
                    self.seen_ends.add(tag)
                else:
                    seq = int(rest[:8])
                    if seq != last.get(tag, -1) + 1:
                        self.order_ok = False
                    last[tag] = seq
                if self.ack != "auto":
                    c.ack(m, receipt=False)
                if not self.hurry.is_set():
                    time.sleep(0.01)
            c.close()
        except Exception as e:  # noqa: BLE001
            self.error = e


@pytest.mark.parametrize("shards", [2])
@pytest.mark.parametrize("kind", ["queue", "topic"])
def test_fast_producers_slow_consumers_memory_bounded(broker_factory, kind):
    limit = 16 * 1024 * 1024
    b = broker_factory(memory_limit="16MiB", memory_policy="block")
    pid = b.proc.pid
    dest = "/%s/%s" % (kind, unique("flood"))
    producers = 3
    consumers = [_SlowConsumer(b.port, dest, "client-individual" if kind == "queue" else "auto",
                               producers)]
    if kind == "topic":
        consumers.append(_SlowConsumer(b.port, dest, "auto", producers))
    for c in consumers:
        c.start()
    time.sleep(0.5)  # subscribed before the flood
    rss0 = rss_bytes(pid)
    sampler = _Sampler(pid)
    sampler.start()
    prods = [_FastProducer(b.port, dest, 16 * 1024, 6.0, b"p%d" % i) for i in range(producers)]
    t0 = time.monotonic()
    for p in prods:
        p.start()
    time.sleep(6.0)
    flood_peak = max(sampler.samples)
    backlog = sum(p.sent for p in prods) - min(c.count for c in consumers)
    for c in consumers:
        c.hurry.set()
    for p in prods:
        p.join(180)
        assert p.error is None, p.error
    for c in consumers:
        c.join(180)
        assert c.error is None, c.error
    took = time.monotonic() - t0
    sampler.stop.set()
    sampler.join()
    peak = max(sampler.samples)
    sent = sum(p.sent for p in prods)
    print("%s flood: %d x 16 KB non-persistent messages (%.0f MB) from %d producers in %.1f s; "
          "after 6 s %.0f MB sent and not yet consumed; memory-limit 16 MiB; broker RSS %.1f MB "
          "before, peak %.1f MB during the flood, %.1f MB overall"
          % (kind, sent, sent * 16384 / 1e6, producers, took, backlog * 16384 / 1e6, rss0 / 1e6,
             flood_peak / 1e6, peak / 1e6))
    # The producers outran the consumers by more than the limit: what was
    # not consumed sat in the broker (at most the limit) or was held back
    # in TCP buffers by flow control.
    assert backlog * 16 * 1024 > limit, "the producers did not outrun the limit"
    # queued bodies (<= the limit) + per-connection write buffers
    # (max-write-buffer 4 MiB each) + allocator slack
    margin = 48 * 1024 * 1024
    assert peak - rss0 < limit + margin, "RSS grew by %.1f MB with a 32 MiB memory-limit" % (
        (peak - rss0) / 1e6)
    for c in consumers:
        assert c.count == sent, "%s consumer got %d of %d messages" % (kind, c.count, sent)
        assert c.order_ok, "messages of a producer out of order"
    assert_broker_serves(b)


@pytest.mark.parametrize("shards", [2])
@pytest.mark.parametrize("mode", ["client-individual", "auto"])
def test_queue_consumer_that_stops_reading_does_not_stall_the_other(broker_factory, mode):
    """Two consumers on one queue; one never reads its socket (a tiny
    receive buffer). The producer keeps going, the other consumer gets
    everything the stuck one does not hold, and the broker's memory stays
    bounded by the stuck consumer's window. client-individual: when the
    stuck consumer leaves, its unacknowledged messages go to the other one
    and nothing is lost."""
    b = broker_factory()
    pid = b.proc.pid
    q = "/queue/" + unique("stuck")
    n, size = 3000, 8 * 1024
    stuck = RawClient(b.port, rcvbuf=4096)
    stuck.connect("1.2")
    stuck.subscribe(q, "stuck", ack=mode, headers={"prefetch-count": "50"} if mode != "auto" else None)
    reader = client(b.port)
    reader.subscribe(q, "reader", ack="auto")
    got = []
    errors = []

    def read_all():
        try:
            while True:
                m = reader.read_message(timeout=3)
                got.append(int(m.body[:6]))
        except AssertionError as e:
            if "no MESSAGE" not in str(e):
                errors.append(e)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    t = threading.Thread(target=read_all, daemon=True)
    t.start()
    rss0 = rss_bytes(pid)
    p = client(b.port)
    t0 = time.monotonic()
    pad = b"x" * size
    for i in range(n):
        body = b"%06d-" % i + pad
        if i % 100 == 99:
            p.send(q, body, [("persistent", "false")], timeout=30)  # receipt: no stall
        else:
            p.send(q, body, [("persistent", "false")], receipt=False)
    took = time.monotonic() - t0
    deadline = time.monotonic() + 20
    held_bound = 50 if mode != "auto" else n // 2
    while len(got) < n - held_bound and time.monotonic() < deadline:
        time.sleep(0.1)
    rss1 = rss_bytes(pid)
    print("%s: %d x 8 KB sent in %.1f s with one consumer stuck; the other got %d; "
          "RSS %.1f -> %.1f MB" % (mode, n, took, len(got), rss0 / 1e6, rss1 / 1e6))
    assert not errors, errors
    assert len(got) >= n - held_bound, "the reading consumer got only %d of %d" % (len(got), n)
    assert rss1 - rss0 < 64 * 1024 * 1024, "RSS grew by %.1f MB" % ((rss1 - rss0) / 1e6)
    stuck.close()
    if mode == "client-individual":
        deadline = time.monotonic() + 20
        while len(got) < n and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sorted(got) == list(range(n)), "lost: %r" % sorted(set(range(n)) - set(got))[:20]
    t.join(15)
    reader.close()
    p.close()
    assert_broker_serves(b)
