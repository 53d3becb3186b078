"""A backlog larger than --memory-limit: persistent messages for queues are
paged out to the journal past the limit (only a small stub stays in memory)
and read back when delivered, so producers are not blocked, memory stays
bounded, and the backlog drains in order, also after a kill -9."""
from __future__ import annotations

from support import SANITIZED, client, unique
from test_persistence import data_dir, drain, restart, work, work_root  # noqa: F401 (fixtures)

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
