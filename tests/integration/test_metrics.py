"""GET /metrics, parsed by the Prometheus text-format parser of
python3-prometheus-client (docs/metrics.md lists every metric)."""
from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from mgmt import Api
from support import client, unique


def scrape(broker) -> dict:
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % broker.http_port, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return families


def value(families, name, **labels):
    for f in families.values():
        for s in f.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise AssertionError("no sample %s%r" % (name, labels))


def test_metrics_parse_and_cover_the_broker(broker):
    q, t = unique(), unique("t")
    c = client(broker.port)
    for i in range(5):
        c.send("/queue/" + q, "m%d" % i)
    c.subscribe("/queue/" + q, "s", ack="client-individual", headers={"prefetch-count": "2"})
    a, b = c.read_messages(2)
    c.ack(a)
    c.read_message()  # the window had room for one more
    c.send("/topic/" + t, "hello")
    f = scrape(broker)
    # Types as declared (the parser drops _total from counter family names).
    assert f["ferry_connections"].type == "gauge"
    assert f["ferry_messages_published"].type == "counter"
    assert f["ferry_queue_enqueued"].type == "counter"
    assert f["ferry_journal_fsync_seconds"].type == "histogram"
    assert value(f, "ferry_up") == 1
    assert value(f, "ferry_shards") == broker.shards
    assert value(f, "ferry_connections") == 1
    assert value(f, "ferry_consumers") == 1
    assert value(f, "ferry_messages_published_total") == 6
    assert value(f, "ferry_messages_delivered_total") == 3
    assert value(f, "ferry_messages_acked_total") == 1
    labels = {"vhost": "/", "queue": q}
    assert value(f, "ferry_queue_messages_ready", **labels) == 2
    assert value(f, "ferry_queue_messages_unacked", **labels) == 2
    assert value(f, "ferry_queue_depth", **labels) == 4
    assert value(f, "ferry_queue_consumers", **labels) == 1
    assert value(f, "ferry_queue_enqueued_total", **labels) == 5
    assert value(f, "ferry_queue_dequeued_total", **labels) == 3
    assert value(f, "ferry_queue_acked_total", **labels) == 1
    assert value(f, "ferry_queue_redelivered_total", **labels) == 0
    assert value(f, "ferry_queue_expired_total", **labels) == 0
    assert value(f, "ferry_queue_dead_lettered_total", **labels) == 0
    assert value(f, "ferry_topic_published_total", vhost="/", topic=t) == 1
    assert value(f, "ferry_topic_subscribers", vhost="/", topic=t) == 0
    assert value(f, "ferry_memory_rss_bytes") > 0
    assert value(f, "ferry_memory_queued_bytes") > 0
    assert value(f, "ferry_memory_limit_bytes") == 1 << 30
    assert value(f, "ferry_journal_bytes") > 0
    assert value(f, "ferry_journal_segments") >= 1
    assert value(f, "ferry_disk_free_bytes") > 0
    # fsync = always: every persistent SEND was synced, so the histogram counted them.
    count = value(f, "ferry_journal_fsync_seconds_count")
    assert count >= 1
    assert value(f, "ferry_journal_fsync_seconds_bucket", le="+Inf") == count
    buckets = [s for s in f["ferry_journal_fsync_seconds"].samples if s.name.endswith("_bucket")]
    assert [s.value for s in buckets] == sorted(s.value for s in buckets)  # cumulative
    assert value(f, "ferry_journal_fsync_seconds_sum") > 0
    c.close()


def test_metrics_label_values_are_escaped(broker):
    q = 'odd"name'
    c = client(broker.port)
    c.send("/queue/" + q, "x")
    f = scrape(broker)
    assert value(f, "ferry_queue_messages_ready", vhost="/", queue=q) == 1
    c.close()


def test_metrics_dead_letters_and_redeliveries(broker_factory):
    b = broker_factory(max_deliveries=2)
    q = unique()
    c = client(b.port)
    c.send("/queue/" + q, "x")
    c.subscribe("/queue/" + q, "s", ack="client-individual")
    c.nack(c.read_message())
    c.nack(c.read_message())
    import time
    deadline = time.monotonic() + 5
    while True:
        f = scrape(b)
        try:
            if value(f, "ferry_queue_messages_ready", vhost="/", queue="DLQ." + q) == 1:
                break
        except AssertionError:
            pass
        assert time.monotonic() < deadline, "the message did not reach the DLQ"
        time.sleep(0.05)
    assert value(f, "ferry_queue_redelivered_total", vhost="/", queue=q) == 1
    assert value(f, "ferry_queue_dead_lettered_total", vhost="/", queue=q) == 1
    assert value(f, "ferry_messages_dead_lettered_total") == 1
    c.close()


def test_metrics_build_identity_and_process(broker):
    """The series RabbitMQ/Prometheus dashboards join on: build and identity
    info (labels, value 1) and the standard process_* metrics."""
    import os
    import re
    import subprocess
    import time

    import support

    version = subprocess.run([support.ferry_bin(), "--version"], capture_output=True, text=True,
                             check=True).stdout.split()[-1]
    def cpu_seconds():  # what the kernel says of the broker process
        with open("/proc/%d/stat" % broker.proc.pid) as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    before = cpu_seconds()
    f = scrape(broker)
    after = cpu_seconds()
    assert value(f, "ferry_build_info", version=version) == 1
    node = [s.labels["node"] for s in f["ferry_identity_info"].samples]
    assert len(node) == 1 and re.fullmatch(r"ferry@.+", node[0]), node
    assert f["process_cpu_seconds"].type == "counter"
    assert before <= value(f, "process_cpu_seconds_total") <= after
    fds, max_fds = value(f, "process_open_fds"), value(f, "process_max_fds")
    assert 3 <= fds <= max_fds
    assert value(f, "process_resident_memory_bytes") > 0
    assert value(f, "process_virtual_memory_bytes") >= value(f, "process_resident_memory_bytes")
    start = value(f, "process_start_time_seconds")
    # The broker was started by this test's fixture, moments ago.
    assert time.time() - 300 < start <= time.time() + 1
    # The same process: its start time does not move between scrapes.
    assert value(scrape(broker), "process_start_time_seconds") == start


def test_metrics_connections_opened_closed(broker):
    import time

    a, b, c = client(broker.port), client(broker.port), client(broker.port)
    a.close()
    b.close()
    deadline = time.monotonic() + 5
    while True:
        f = scrape(broker)
        if value(f, "ferry_connections_closed_total") == 2:
            break
        assert time.monotonic() < deadline, "closes not counted"
        time.sleep(0.05)
    assert value(f, "ferry_connections_opened_total") == 3
    assert value(f, "ferry_connections") == 1
    assert value(f, "ferry_connections_blocked") == 0
    c.close()


def test_metrics_and_api_show_a_blocked_producer(broker_factory):
    """A producer held by flow control (the memory limit parks its publishes,
    its producer window fills, its socket is no longer read) is counted in
    ferry_connections_blocked and shown with state "blocked" in
    /api/connections, as RabbitMQ shows one."""
    import time

    b = broker_factory(memory_limit="16KiB", memory_policy="block", producer_window_size="16KiB")
    dest = "/queue/" + unique()
    idle = client(b.port)
    p = client(b.port)
    for _ in range(20):  # not persistent: past the limit these are parked, not paged
        p.send(dest, b"x" * 4000, headers={"persistent": "false"}, receipt=False)
    deadline = time.monotonic() + 5
    while value(scrape(b), "ferry_connections_blocked") != 1:
        assert time.monotonic() < deadline, "the producer never showed as blocked"
        time.sleep(0.05)
    states = sorted(c["state"] for c in Api(b).get("/api/connections"))
    assert states == ["blocked", "running"]
    # Draining the queue lets the parked publishes in: the producer runs again.
    drain = client(b.port)
    drain.subscribe(dest, "d")
    drain.read_messages(20)
    deadline = time.monotonic() + 5
    while value(scrape(b), "ferry_connections_blocked") != 0:
        assert time.monotonic() < deadline, "the producer stayed blocked"
        time.sleep(0.05)
    for x in (idle, p, drain):
        x.close()


def test_metrics_durable_subscription_backlog_while_away(broker):
    """An away durable subscriber's backlog is a series of its own (not only
    raw JSON): ready grows while attached is 0."""
    import time

    t = unique("t")
    c = client(broker.port, extra={"client-id": "app1"})
    c.subscribe("/topic/" + t, "ts", headers={"activemq.subscriptionName": "dur"})
    labels = {"vhost": "/", "topic": t, "subscription": "app1:dur"}
    assert value(scrape(broker), "ferry_durable_subscription_attached", **labels) == 1
    c.close()
    p = client(broker.port)
    deadline = time.monotonic() + 5
    while value(scrape(broker), "ferry_durable_subscription_attached", **labels) != 0:
        assert time.monotonic() < deadline, "the subscription stayed attached"
        time.sleep(0.05)
    for i in range(3):
        p.send("/topic/" + t, "m%d" % i)
    f = scrape(broker)
    assert value(f, "ferry_durable_subscription_messages_ready", **labels) == 3
    assert value(f, "ferry_durable_subscription_messages_unacked", **labels) == 0
    p.close()
