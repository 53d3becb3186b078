"""GET /metrics, parsed by the Prometheus text-format parser of
python3-prometheus-client (docs/metrics.md lists every metric)."""
from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

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
    # c stays subscribed: an idle queue without consumers is dropped, and
    # its counters with it.
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
