"""A backlog larger than --memory-limit: persistent messages for queues are
paged out to the journal past the limit (only a small stub stays in memory)
and read back when delivered, so producers are not blocked, memory stays
bounded, and the backlog drains in order, also after a kill -9."""
from __future__ import annotations

import time

from support import SANITIZED, client, encode_frame, restart, unique
from test_persistence import data_dir, drain, work, work_root  # noqa: F401 (fixtures)

N = 1500
BODY = "b" * 16000  # N x 16 KB = 24 MB against a 4 MiB memory limit


def rss_mb(pid: int) -> float:
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmRSS")


def assert_rss_below(pid: int, mb: float, what: str):
    rss = rss_mb(pid)
    print("RSS %s: %.1f MB%s" % (what, rss, " (not checked: sanitizer build)" if SANITIZED else ""))
    if not SANITIZED:
        assert rss < mb, "RSS %s: %.1f MB, expected under %.0f MB" % (what, rss, mb)


def test_memory_goes_back_to_the_system_after_a_backlog_drains(broker_factory):
    """A queue fills with ~70 MB of messages (in memory: non-persistent,
    under the default memory-limit), drains, and the broker goes quiet: its
    RSS falls back near where it started. A broker that keeps the peak of
    every burst looks like a leak and starves its neighbours (the allocator
    returns pages only when called, so a quiet broker needs its background
    thread for that)."""
    b = broker_factory()
    q = "/queue/" + unique("burst")
    n, batch = 60000, 500
    c = client(b.port)
    base = rss_mb(b.proc.pid)
    frames = encode_frame("SEND", [("destination", q), ("persistent", "false")], "m" * 1024) * batch
    for _ in range(n // batch):
        c.send_raw(frames)
    c.send(q, "last")  # its RECEIPT: every SEND before it was taken
    full = rss_mb(b.proc.pid)
    c.subscribe(q, "burst", ack="auto")
    got = c.read_messages(n + 1, timeout=120)
    assert got[-1].body == b"last"
    c.close()
    drained = rss_mb(b.proc.pid)
    deadline = time.monotonic() + 30
    now = drained
    while time.monotonic() < deadline and now > base + 24:
        time.sleep(0.5)
        now = rss_mb(b.proc.pid)
    print("RSS: %.1f MB at start, %.1f MB with %d x 1 KB queued, %.1f MB drained, %.1f MB after %.1f s quiet"
          % (base, full, n, drained, now, 30 - max(0.0, deadline - time.monotonic())))
    if SANITIZED:
        return  # the sanitizer's allocator keeps freed memory on purpose
    assert full > base + 48, "the backlog did not take memory (%.1f -> %.1f MB): the test proves nothing" % (base, full)
    assert now < base + 24, "RSS stays at %.1f MB after the backlog drained (%.1f MB at start)" % (now, base)


def _fill(port, q):
    c = client(port)
    for i in range(N):
        c.send(q, "%05d-%s" % (i, BODY))  # each with a receipt: durable
    c.close()


def test_backlog_larger_than_memory_drains_in_order(broker_factory, work):
    b = broker_factory(data_dir=data_dir(work), memory_limit="4MiB", segment_size="4MiB")
    q = "/queue/" + unique("backlog")
    _fill(b.port, q)  # would block forever if messages had to stay in memory
    assert_rss_below(b.proc.pid, 24, "with a 24 MB backlog and memory-limit 4MiB (the backlog stayed in memory?)")
    got = drain(b.port, q, N, timeout=120, sub_headers={"prefetch-count": str(N)})
    assert [int(m.body[:5]) for m in got] == list(range(N))
    assert all(m.body[6:] == BODY.encode() for m in got)


def test_paged_backlog_survives_kill_and_recovers_bounded(broker_factory, work):
    b = broker_factory(data_dir=data_dir(work), memory_limit="4MiB", segment_size="4MiB")
    q = "/queue/" + unique("backlog")
    _fill(b.port, q)
    b2 = restart(broker_factory, b, "kill")
    assert_rss_below(b2.proc.pid, 24, "after recovering a 24 MB backlog with memory-limit 4MiB (loaded it all?)")
    got = drain(b2.port, q, N, timeout=120, sub_headers={"prefetch-count": str(N)})
    assert [int(m.body[:5]) for m in got] == list(range(N))


def test_durable_subscription_backlog_larger_than_memory(broker_factory, work):
    """A durable subscriber (ActiveMQ dialect) away while 6x memory-limit is
    published to its topic: the publisher is not blocked, and the subscriber
    gets everything in order when it comes back, after a kill -9 too."""
    b = broker_factory(data_dir=data_dir(work), memory_limit="4MiB", segment_size="4MiB")
    topic = "/topic/" + unique("news")
    sub = [("activemq.subscriptionName", "away"), ("prefetch-count", str(N))]
    c = client(b.port, extra=[("client-id", "reader")])
    c.subscribe(topic, "d", ack="client-individual", headers=sub)
    c.close()
    _fill(b.port, topic)
    assert_rss_below(b.proc.pid, 24, "with a 24 MB durable-subscription backlog and memory-limit 4MiB")
    b2 = restart(broker_factory, b, "kill")
    c = client(b2.port, extra=[("client-id", "reader")])
    c.subscribe(topic, "d", ack="client-individual", headers=sub)
    got = c.read_messages(N, 120)
    assert [int(m.body[:5]) for m in got] == list(range(N))
    for m in got:
        c.ack(m)
    c.close()


# --------------------------------------------------------------------------
# A backlog far beyond memory: paged messages cost a few bytes each
# --------------------------------------------------------------------------
#
# CI mode: BIG_N x 1 KB persistent messages (default 300,000, ~350 MB of
# journal) against --memory-limit 32MiB. Long mode (by hand):
#   FERRY_BACKLOG_LONG=1 -> 5,000,000 x 1 KB (~5.7 GB) against 256MiB
# (FERRY_BACKLOG_N / FERRY_BACKLOG_LIMIT_MB override either).
# The broker's RSS is sampled all along and must stay under the memory
# limit plus RSS_ALLOWANCE_MB (the broker's own baseline, journal write
# buffers, connection buffers, page-in batches, allocator slack).

import os
import socket
import subprocess
import threading
import time

import pytest

from support import ferry_bin
from test_persistence import journal_bytes

LONG_MODE = os.environ.get("FERRY_BACKLOG_LONG") == "1"
BIG_N = int(os.environ.get("FERRY_BACKLOG_N", 5_000_000 if LONG_MODE else 300_000))
BIG_LIMIT_MB = int(os.environ.get("FERRY_BACKLOG_LIMIT_MB", 256 if LONG_MODE else 32))
RSS_ALLOWANCE_MB = 64
BIG_SEGMENT = "64MiB" if LONG_MODE else "16MiB"


class RssWatch:
    """Samples a process's VmRSS every 50 ms in a thread; .peak in MB."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except (OSError, AssertionError):
                return
            self._stop.wait(0.05)

    def stop(self) -> float:
        self._stop.set()
        self._t.join()
        return self.peak


def bench_fill(port: int, dest: str, n: int):
    """n persistent 1 KB messages from one `ferry bench` producer, every SEND
    with a receipt (at most 256 unconfirmed): when it returns, every message
    is durable. Bodies carry the producer's sequence number."""
    p = subprocess.run([ferry_bin(), "bench", "--server", "127.0.0.1:%d" % port, "--destination", dest,
                        "--producers", "1", "--consumers", "0", "--count", str(n), "--size", "1024",
                        "--persistent", "--receipt-window", "256", "--drain-timeout", "120"],
                       capture_output=True, text=True, timeout=3600)
    assert p.returncode == 0, "ferry bench failed: %s %s" % (p.stdout[-2000:], p.stderr[-2000:])
    assert '"confirmed": %d' % n in p.stdout or '"confirmed":%d' % n in p.stdout, p.stdout[-2000:]


def fast_drain_seqs(port: int, dest: str, n: int, timeout: float) -> list[int]:
    """Reads n MESSAGEs (auto ack, a large prefetch) and returns the bench
    sequence numbers of their bodies, in arrival order. A minimal parser: the
    frames are the broker's own (content-length on every MESSAGE)."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"CONNECT\naccept-version:1.2\nhost:/\n\n\0")
    s.sendall(("SUBSCRIBE\nid:big\ndestination:%s\nack:auto\nprefetch-count:2000\n\n\0" % dest).encode())
    buf = bytearray()
    seqs: list[int] = []
    deadline = time.monotonic() + timeout
    s.settimeout(5)
    try:
        while len(seqs) < n:
            assert time.monotonic() < deadline, "drained %d of %d in %.0f s" % (len(seqs), n, timeout)
            try:
                chunk = s.recv(1 << 20)
            except socket.timeout:
                continue
            assert chunk, "connection closed after %d messages" % len(seqs)
            buf += chunk
            pos = 0
            while True:
                while pos < len(buf) and buf[pos] in (10, 13):  # heart-beats / frame ends
                    pos += 1
                end = buf.find(b"\n\n", pos)
                if end < 0:
                    break
                head = bytes(buf[pos:end])
                if head.startswith(b"ERROR"):
                    raise AssertionError("ERROR frame: %r" % bytes(buf[pos:pos + 500]))
                cl = head.find(b"\ncontent-length:")
                if head.startswith(b"CONNECTED"):
                    z = buf.find(b"\0", end)
                    if z < 0:
                        break
                    pos = z + 1
                    continue
                assert head.startswith(b"MESSAGE") and cl >= 0, head[:200]
                length = int(head[cl + 16:head.index(b"\n", cl + 1) if b"\n" in head[cl + 1:] else len(head)])
                body_at = end + 2
                if len(buf) < body_at + length + 1:
                    break
                body = bytes(buf[body_at:body_at + 56])
                seqs.append(int(body[22:38], 16))
                pos = body_at + length + 1
            del buf[:pos]
    finally:
        s.close()
    return seqs


def test_backlog_far_beyond_memory(broker_factory, work):
    """BIG_N x 1 KB persistent messages against a small memory limit: RSS
    stays bounded while the backlog builds, after a kill -9 and recovery,
    and while it drains; it drains complete and in order; the journal's disk
    usage falls once it is consumed."""
    b = broker_factory(data_dir=data_dir(work), memory_limit="%dMiB" % BIG_LIMIT_MB,
                       segment_size=BIG_SEGMENT, start_timeout=max(60, BIG_N / 50_000))
    q = "/queue/" + unique("big")
    limit = BIG_LIMIT_MB + RSS_ALLOWANCE_MB
    watch = RssWatch(b.proc.pid)
    t0 = time.monotonic()
    bench_fill(b.port, q, BIG_N)
    fill_s = time.monotonic() - t0
    peak_fill = watch.stop()
    disk_full = journal_bytes(b.data_dir)
    print("backlog %d x 1 KB, memory-limit %d MiB: filled in %.1f s, journal %.0f MB, peak RSS %.1f MB"
          % (BIG_N, BIG_LIMIT_MB, fill_s, disk_full / 1e6, peak_fill))

    b2 = restart(broker_factory, b, "kill")
    rss_recovered = rss_mb(b2.proc.pid)
    recovered = [line for line in b2.lines if "recovered" in line]
    print("after kill -9: %s; RSS %.1f MB" % (recovered[-1] if recovered else "?", rss_recovered))

    watch = RssWatch(b2.proc.pid)
    t0 = time.monotonic()
    seqs = fast_drain_seqs(b2.port, q, BIG_N, timeout=max(120, BIG_N / 2000))
    drain_s = time.monotonic() - t0
    peak_drain = watch.stop()
    print("drained in %.1f s, peak RSS %.1f MB" % (drain_s, peak_drain))
    assert seqs == list(range(BIG_N)), "out of order or missing: first differences %r" % (
        [(i, s) for i, s in enumerate(seqs) if s != i][:5])

    # Every message consumed: the segments go (the one being written stays).
    deadline = time.monotonic() + 30
    while journal_bytes(b2.data_dir) > disk_full // 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    disk_after = journal_bytes(b2.data_dir)
    print("journal %.0f MB -> %.0f MB after the drain" % (disk_full / 1e6, disk_after / 1e6))
    assert disk_after < disk_full // 4, "journal did not shrink: %d -> %d bytes" % (disk_full, disk_after)

    if not SANITIZED:
        for what, mb in (("while filling", peak_fill), ("after recovery", rss_recovered),
                         ("while draining", peak_drain)):
            assert mb < limit, "RSS %s: %.1f MB, expected under %d MB (memory-limit %d MiB + %d MB)" % (
                what, mb, limit, BIG_LIMIT_MB, RSS_ALLOWANCE_MB)
