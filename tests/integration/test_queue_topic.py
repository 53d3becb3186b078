"""Queue and topic semantics, ack modes, ACK resolution, NACK, redelivery, DLQ."""
import pytest

from support import QUIET, RawClient, assert_broker_serves, client, encode_frame, unique


# ---------------------------------------------------------------- queues

def test_queue_message_kept_until_consumer_arrives(broker):
    dest = "/queue/" + unique()
    p = client(broker.port)
    for i in range(3):
        p.send(dest, "k%d" % i)
    p.close()
    c = client(broker.port)
    c.subscribe(dest, "s", ack="auto")
    assert [m.body for m in c.read_messages(3)] == [b"k0", b"k1", b"k2"]
    c.assert_no_frame()
    c.close()


def test_queue_each_message_to_exactly_one_consumer_and_spread(broker):
    dest = "/queue/" + unique()
    c1 = client(broker.port)
    c1.subscribe(dest, "a", ack="auto")
    c2 = client(broker.port)
    c2.subscribe(dest, "b", ack="auto")
    p = client(broker.port)
    n = 40
    for i in range(n):
        p.send(dest, "m%d" % i, receipt=(i == n - 1))
    got1, got2 = [], []
    # read until all n arrived across both consumers
    import time
    deadline = time.monotonic() + 10
    while len(got1) + len(got2) < n and time.monotonic() < deadline:
        f = c1.try_read_frame(0.05)
        if f is not None and f.command == "MESSAGE":
            got1.append(f.body)
        f = c2.try_read_frame(0.05)
        if f is not None and f.command == "MESSAGE":
            got2.append(f.body)
    assert len(got1) + len(got2) == n, (got1, got2)
    assert sorted(got1 + got2) == sorted(b"m%d" % i for i in range(n))
    assert not set(got1) & set(got2), "a message went to both consumers"
    # spread (round robin): each consumer gets a fair share
    assert len(got1) >= n // 4 and len(got2) >= n // 4, (len(got1), len(got2))
    c1.assert_no_frame(0.2)
    c2.assert_no_frame(0.2)
    for c in (c1, c2, p):
        c.close()


def test_queue_fifo_order_single_consumer(broker):
    dest = "/queue/" + unique()
    p = client(broker.port)
    c = client(broker.port)
    c.subscribe(dest, "s", ack="auto")
    for i in range(50):
        p.send(dest, "o%d" % i, receipt=(i == 49))
    assert [m.body for m in c.read_messages(50)] == [b"o%d" % i for i in range(50)]
    p.close()
    c.close()


def test_queue_unacked_redelivered_after_consumer_disconnects(broker):
    dest = "/queue/" + unique()
    p = client(broker.port)
    p.send(dest, "precious")
    c1 = client(broker.port)
    c1.subscribe(dest, "s1", ack="client-individual")
    m = c1.read_message()
    assert m.body == b"precious"
    assert m.get("redelivered") in (None, "false")
    c1.close()  # dies without acking
    c2 = client(broker.port)
    c2.subscribe(dest, "s2", ack="client-individual")
    m2 = c2.read_message()
    assert m2.body == b"precious"
    assert m2.get("redelivered") == "true", m2
    assert m2.get("x-delivery-count") == "1", m2
    c2.ack(m2)
    c2.close()
    p.close()


def test_queue_unacked_redelivered_after_unsubscribe(broker):
    dest = "/queue/" + unique()
    c1 = client(broker.port)
    c1.subscribe(dest, "s1", ack="client")
    c2 = client(broker.port)
    p = client(broker.port)
    p.send(dest, "u1")
    assert c1.read_message().body == b"u1"
    c2.subscribe(dest, "s2", ack="client-individual")
    c1.unsubscribe("s1")
    m = c2.read_message()
    assert m.body == b"u1" and m.get("redelivered") == "true", m
    c1.assert_no_frame(0.2)
    for c in (c1, c2, p):
        c.close()


def test_queue_unacked_redelivered_after_disconnect_frame(broker):
    dest = "/queue/" + unique()
    c1 = client(broker.port, "1.1")
    c1.subscribe(dest, "s1", ack="client")
    p = client(broker.port)
    p.send(dest, "d1")
    assert c1.read_message().body == b"d1"
    c1.disconnect()
    c2 = client(broker.port)
    c2.subscribe(dest, "s2", ack="auto")
    m = c2.read_message()
    assert m.body == b"d1" and m.get("redelivered") == "true"
    c2.close()
    p.close()


def test_redelivery_to_other_live_consumer(broker):
    """Consumer A dies holding a message; consumer B, already subscribed, gets it."""
    dest = "/queue/" + unique()
    a = client(broker.port)
    a.subscribe(dest, "a", ack="client-individual", headers=[("prefetch-count", "1")])
    p = client(broker.port)
    p.send(dest, "first")
    assert a.read_message().body == b"first"
    b = client(broker.port)
    b.subscribe(dest, "b", ack="client-individual", headers=[("prefetch-count", "1")])
    b.assert_no_frame(0.2)
    a.close()
    m = b.read_message()
    assert m.body == b"first" and m.get("redelivered") == "true"
    b.close()
    p.close()


# ---------------------------------------------------------------- topics

def test_topic_every_subscriber_gets_each_message(broker):
    dest = "/topic/" + unique()
    subs = [client(broker.port, v) for v in ("1.0", "1.1", "1.2")]
    for i, s in enumerate(subs):
        s.subscribe(dest, "t%d" % i, ack="auto")
    p = client(broker.port)
    for i in range(5):
        p.send(dest, "t%d" % i)
    for s in subs:
        assert [m.body for m in s.read_messages(5)] == [b"t%d" % i for i in range(5)]
        s.assert_no_frame(0.1)
    for c in subs + [p]:
        c.close()


def test_topic_late_subscriber_gets_only_later_messages(broker):
    dest = "/topic/" + unique()
    early = client(broker.port)
    early.subscribe(dest, "e")
    p = client(broker.port)
    p.send(dest, "before")
    late = client(broker.port)
    late.subscribe(dest, "l")
    p.send(dest, "after")
    assert [m.body for m in early.read_messages(2)] == [b"before", b"after"]
    assert late.read_message().body == b"after"
    late.assert_no_frame(0.2)
    for c in (early, late, p):
        c.close()


def test_topic_without_subscribers_drops(broker):
    dest = "/topic/" + unique()
    p = client(broker.port)
    p.send(dest, "nobody-listens")
    s = client(broker.port)
    s.subscribe(dest, "s")
    p.send(dest, "now")
    assert s.read_message().body == b"now"
    s.assert_no_frame(0.2)
    s.close()
    p.close()


def test_topic_two_subscriptions_same_connection(broker):
    dest = "/topic/" + unique()
    s = client(broker.port)
    s.subscribe(dest, "x")
    s.subscribe(dest, "y")
    p = client(broker.port)
    p.send(dest, "both")
    ms = s.read_messages(2)
    assert sorted(m["subscription"] for m in ms) == ["x", "y"]
    assert all(m.body == b"both" for m in ms)
    s.close()
    p.close()


def test_topic_and_queue_same_name_are_distinct(broker):
    name = unique()
    q = client(broker.port)
    q.subscribe("/queue/" + name, "q")
    t = client(broker.port)
    t.subscribe("/topic/" + name, "t")
    p = client(broker.port)
    p.send("/queue/" + name, "to-queue")
    p.send("/topic/" + name, "to-topic")
    assert q.read_message().body == b"to-queue"
    assert t.read_message().body == b"to-topic"
    q.assert_no_frame(0.2)
    t.assert_no_frame(0.1)
    for c in (q, t, p):
        c.close()


# ---------------------------------------------------------------- ack modes

def _fill(broker, dest, n, prefix="m"):
    p = client(broker.port)
    for i in range(n):
        p.send(dest, "%s%d" % (prefix, i), receipt=(i == n - 1))
    p.close()


def _remaining(broker, dest, expect_n):
    """Bodies left on the queue (drained by a fresh auto consumer): reads
    expect_n messages, then checks nothing else comes."""
    c = client(broker.port)
    c.subscribe(dest, "drain", ack="auto")
    got = [m.body for m in c.read_messages(expect_n)] if expect_n else []
    c.assert_no_frame()
    c.close()
    return got


def test_auto_ack_removes_on_delivery(broker):
    dest = "/queue/" + unique()
    _fill(broker, dest, 3)
    c = client(broker.port)
    c.subscribe(dest, "s", ack="auto")
    c.read_messages(3)
    c.close()
    assert _remaining(broker, dest, 0) == []


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_client_ack_is_cumulative(broker, version):
    dest = "/queue/" + unique()
    _fill(broker, dest, 4)
    c = client(broker.port, version)
    c.subscribe(dest, "s", ack="client")
    ms = c.read_messages(4)
    c.ack(ms[2], "message-id+sub" if version != "1.2" else "id")  # acks m0, m1, m2
    c.close()
    left = _remaining(broker, dest, 1)
    assert left == [b"m3"]


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_client_individual_ack_only_that_message(broker, version):
    dest = "/queue/" + unique()
    _fill(broker, dest, 4)
    c = client(broker.port, version)
    c.subscribe(dest, "s", ack="client-individual")
    ms = c.read_messages(4)
    c.ack(ms[2], "message-id+sub" if version != "1.2" else "id")
    c.close()
    left = _remaining(broker, dest, 3)
    assert sorted(left) == [b"m0", b"m1", b"m3"]


def test_client_ack_cumulative_is_per_subscription(broker):
    d1 = "/queue/" + unique()
    d2 = "/queue/" + unique()
    _fill(broker, d1, 2, "a")
    _fill(broker, d2, 2, "b")
    c = client(broker.port)
    c.subscribe(d1, "s1", ack="client")
    a = c.read_messages(2)
    c.subscribe(d2, "s2", ack="client")
    b = c.read_messages(2)
    assert {m.body for m in a} == {b"a0", b"a1"} and {m.body for m in b} == {b"b0", b"b1"}
    c.ack(b[1])  # acks s2's deliveries only
    c.close()
    assert _remaining(broker, d1, 2) == [b"a0", b"a1"]
    assert _remaining(broker, d2, 0) == []


# ACK resolution: by id (1.2 ack value), ack header, message-id, message-id+subscription,
# in every version. A window-1 subscription proves each ACK took effect: the next
# message only arrives once the first is acked.
ACK_CASES = [
    ("1.2", "id"), ("1.2", "ack"), ("1.2", "message-id"), ("1.2", "message-id+sub"),
    ("1.1", "message-id"), ("1.1", "message-id+sub"),
    ("1.0", "message-id"), ("1.0", "message-id+sub"),
]


@pytest.mark.parametrize("version,how", ACK_CASES)
@pytest.mark.parametrize("mode", ["client", "client-individual"])
def test_ack_resolution(broker, version, how, mode):
    dest = "/queue/" + unique()
    _fill(broker, dest, 3)
    c = client(broker.port, version)
    c.subscribe(dest, "s", ack=mode, headers=[("prefetch-count", "1")])
    m0 = c.read_message()
    c.assert_no_frame(0.2, "second message before ACK (window 1)")
    c.ack(m0, how)
    m1 = c.read_message()
    assert m1.body == b"m1"
    c.ack(m1, how)
    m2 = c.read_message()
    assert m2.body == b"m2"
    c.ack(m2, how)
    c.close()
    assert _remaining(broker, dest, 0) == []


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_ack_with_irrelevant_headers_ignored(broker, version):
    """PHP's ack($frame) copies all MESSAGE headers back; that must work."""
    dest = "/queue/" + unique()
    _fill(broker, dest, 1)
    c = client(broker.port, version)
    c.subscribe(dest, "s", ack="client")
    m = c.read_message()
    hdrs = [(k, v) for k, v in m.header_list if k != "content-length"]
    hdrs.append(("x-whatever", "1"))
    c.request("ACK", hdrs)
    c.close()
    assert _remaining(broker, dest, 0) == []


def test_ack_of_auto_acked_message_is_error(broker):
    """Unknown (already auto-acked) message id -> ERROR per contract."""
    dest = "/queue/" + unique()
    _fill(broker, dest, 1)
    c = client(broker.port)
    c.subscribe(dest, "s", ack="auto")
    m = c.read_message()
    err = c.expect_error("ACK", [("message-id", m["message-id"]), ("subscription", "s")])
    assert err.command == "ERROR"
    assert_broker_serves(broker)


def test_ack_unknown_id_is_error(broker):
    c = client(broker.port)
    c.subscribe("/queue/" + unique(), "s", ack="client")
    err = c.expect_error("ACK", [("id", "no-such-ack-id-123")])
    assert err.get("message")
    assert_broker_serves(broker)


def test_ack_twice_is_error(broker):
    dest = "/queue/" + unique()
    _fill(broker, dest, 1)
    c = client(broker.port)
    c.subscribe(dest, "s", ack="client-individual")
    m = c.read_message()
    c.ack(m)
    c.expect_error("ACK", [("id", m["ack"])])
    assert_broker_serves(broker)


def test_client_ack_takes_only_messages_written_before_it(broker):
    """client mode: a cumulative ACK covers the named message and those *sent*
    to the subscription before it (STOMP 1.2), not those with an earlier
    delivery sequence. A journaled delivery waits for its delivery count to be
    on disk, so a persistent message dispatched first is written after a
    non-persistent one dispatched next; an ACK of the non-persistent one must
    not take the persistent one: when the consumer dies, it comes back."""
    for _ in range(10):
        dest = "/queue/" + unique()
        p = client(broker.port)
        p.send(dest, "persistent")
        p.send(dest, "transient", {"persistent": "false"})
        p.close()
        c = client(broker.port)
        c.subscribe(dest, "c", ack="client")
        first, second = c.read_messages(2)
        if first.text != "transient":
            c.close()  # written in dispatch order this time: nothing to test
            continue
        assert second.text == "persistent"
        c.ack(first)
        c.close()  # dies without acking the persistent message
        d = client(broker.port)
        d.subscribe(dest, "d")
        m = d.read_message()
        assert m.text == "persistent"
        assert m["redelivered"] == "true"
        d.assert_no_frame(what="a message the cumulative ACK took")
        assert_broker_serves(broker)
        return
    pytest.skip("the journaled delivery was never written after the later one")


# ---------------------------------------------------------------- NACK / DLQ

@pytest.mark.parametrize("version,how", [("1.2", "id"), ("1.1", "message-id+sub"), ("1.2", "message-id")])
def test_nack_redelivers_with_count(broker, version, how):
    dest = "/queue/" + unique()
    _fill(broker, dest, 1)
    c = client(broker.port, version)
    c.subscribe(dest, "s", ack="client-individual")
    m = c.read_message()
    assert m.get("redelivered") in (None, "false")
    c.nack(m, how)
    m2 = c.read_message()
    assert m2.body == b"m0"
    assert m2.get("redelivered") == "true", m2
    assert m2.get("x-delivery-count") == "1", m2
    c.nack(m2, how)
    m3 = c.read_message()
    assert m3.get("x-delivery-count") == "2", m3
    c.ack(m3, how)
    c.close()
    assert _remaining(broker, dest, 0) == []


def test_nack_in_client_mode(broker):
    dest = "/queue/" + unique()
    _fill(broker, dest, 2)
    c = client(broker.port)
    c.subscribe(dest, "s", ack="client")
    ms = c.read_messages(2)
    c.nack(ms[0])
    m = c.read_message()
    assert m.body == b"m0" and m.get("redelivered") == "true"
    c.close()


def test_nack_requeue_false_dead_letters(broker):
    name = unique()
    dest = "/queue/" + name
    _fill(broker, dest, 1)
    p = client(broker.port)
    p.send(dest, "custom", [("x-keep", "kept"), ("content-type", "text/x-test")])
    p.close()
    c = client(broker.port)
    c.subscribe(dest, "s", ack="client-individual")
    m = c.read_message()
    c.nack(m, extra=[("requeue", "false")])
    m2 = c.read_message()
    assert m2.body == b"custom"
    c.nack(m2, extra=[("requeue", "false")])
    c.assert_no_frame(0.3, "redelivery after requeue:false")
    dlq = client(broker.port)
    dlq.subscribe("/queue/DLQ." + name, "d")
    d = dlq.read_message()
    assert d.body == b"m0"
    d2 = dlq.read_message()
    assert d2.body == b"custom"
    assert d2.get("x-keep") == "kept" and d2.get("content-type") == "text/x-test", d2
    assert d2.get("original-destination") == dest
    assert d.get("original-destination") == dest, d
    assert d.get("dead-letter-reason") == "rejected", d
    assert d["destination"] == "/queue/DLQ." + name
    c.close()
    dlq.close()


def test_topic_message_dead_lettered_names_the_dlq(broker):
    """A topic message (encoded once for all subscribers) rejected by a
    durable subscriber reaches the DLQ with the DLQ as its destination."""
    name = unique()
    topic = "/topic/" + name
    c = client(broker.port)
    c.subscribe(topic, "s", ack="client-individual",
                headers=[("durable", "true"), ("auto-delete", "false")])
    p = client(broker.port)
    wire = "a\\\\b\\cc"  # a\\b:c as STOMP 1.2 escapes it (RawClient shows wire form)
    p.send(topic, "t0", [("x-keep", wire)])
    m = c.read_message()
    assert m["destination"] == topic and m.get("x-keep") == wire
    c.nack(m, extra=[("requeue", "false")])
    dlq = client(broker.port)
    dlq.subscribe("/queue/DLQ." + name, "d")
    d = dlq.read_message()
    assert d.body == b"t0"
    assert d["destination"] == "/queue/DLQ." + name, d
    assert d.get("original-destination") is not None, d
    assert d.get("x-keep") == wire
    for x in (c, p, dlq):
        x.close()


def test_max_deliveries_dead_letters(broker_factory):
    b = broker_factory(max_deliveries=3)
    name = unique()
    dest = "/queue/" + name
    _fill(b, dest, 1)
    c = client(b.port)
    c.subscribe(dest, "s", ack="client-individual")
    counts = []
    for _ in range(3):
        m = c.read_message()
        counts.append(m.get("x-delivery-count"))
        c.nack(m)
    assert counts == [None, "1", "2"], counts
    c.assert_no_frame(0.3, "a 4th delivery")
    dlq = client(b.port)
    dlq.subscribe("/queue/DLQ." + name, "d")
    d = dlq.read_message()
    assert d.body == b"m0"
    assert d.get("original-destination") == dest
    assert d.get("dead-letter-reason") == "max-deliveries", d
    c.close()
    dlq.close()


def test_max_deliveries_counts_consumer_deaths(broker_factory):
    b = broker_factory(max_deliveries=2)
    name = unique()
    dest = "/queue/" + name
    _fill(b, dest, 1)
    for _ in range(2):
        c = client(b.port)
        c.subscribe(dest, "s", ack="client")
        assert c.read_message().body == b"m0"
        c.close()
    dlq = client(b.port)
    dlq.subscribe("/queue/DLQ." + name, "d")
    d = dlq.read_message()
    assert d.body == b"m0" and d.get("dead-letter-reason") == "max-deliveries"
    dlq.close()
    assert _remaining(b, dest, 0) == []


def test_max_deliveries_zero_never_dead_letters(broker_factory):
    b = broker_factory(max_deliveries=0)
    dest = "/queue/" + unique()
    _fill(b, dest, 1)
    c = client(b.port)
    c.subscribe(dest, "s", ack="client-individual")
    for i in range(12):
        m = c.read_message()
        assert m.body == b"m0"
        c.nack(m)
    m = c.read_message()
    assert m.get("x-delivery-count") == "12"
    c.ack(m)
    c.close()


def test_dead_letter_prefix_option(broker_factory):
    b = broker_factory(dead_letter_prefix="dead.")
    name = unique()
    _fill(b, "/queue/" + name, 1)
    c = client(b.port)
    c.subscribe("/queue/" + name, "s", ack="client-individual")
    c.nack(c.read_message(), extra=[("requeue", "false")])
    d = client(b.port)
    d.subscribe("/queue/dead." + name, "d")
    assert d.read_message().body == b"m0"
    c.close()
    d.close()


def test_default_max_deliveries_is_10(broker):
    name = unique()
    dest = "/queue/" + name
    _fill(broker, dest, 1)
    c = client(broker.port)
    c.subscribe(dest, "s", ack="client-individual")
    for i in range(10):
        m = c.read_message()
        c.nack(m)
    c.assert_no_frame(QUIET, "an 11th delivery")
    dlq = client(broker.port)
    dlq.subscribe("/queue/DLQ." + name, "d")
    assert dlq.read_message().get("dead-letter-reason") == "max-deliveries"
    c.close()
    dlq.close()


def test_amq_queue_dead_letters_to_dlq_queue(broker):
    name = unique()
    p = client(broker.port)
    p.send("/queue/" + name, "amq")  # /amq/queue/ names an existing queue
    c = client(broker.port)
    c.subscribe("/amq/queue/" + name, "s", ack="client-individual")
    c.nack(c.read_message(), extra=[("requeue", "false")])
    d = client(broker.port)
    d.subscribe("/queue/DLQ." + name, "d")
    assert d.read_message().body == b"amq"
    for x in (p, c, d):
        x.close()


def test_unsubscribe_stops_delivery(broker):
    dest = "/queue/" + unique()
    c = client(broker.port)
    c.subscribe(dest, "s")
    c.unsubscribe("s")
    p = client(broker.port)
    p.send(dest, "after-unsubscribe")
    c.assert_no_frame()
    d = client(broker.port)
    d.subscribe(dest, "d")
    assert d.read_message().body == b"after-unsubscribe"
    for x in (c, p, d):
        x.close()


def test_many_producers_and_consumers_exactly_once(broker):
    """4 producers x 50 messages, 3 acking consumers with small windows, across
    shards: every message is processed exactly once."""
    import threading
    dest = "/queue/" + unique()
    consumers = []
    for i in range(3):
        c = client(broker.port, ("1.0", "1.1", "1.2")[i])
        c.subscribe(dest, "c%d" % i, ack="client-individual", headers=[("prefetch-count", str(i + 1))])
        consumers.append(c)
    n_prod, per = 4, 50
    total = n_prod * per
    errors = []

    def produce(k):
        try:
            p = client(broker.port)
            for j in range(per):
                p.send(dest, "p%d-%d" % (k, j), receipt=(j % 10 == 9))
            p.close()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    got = {i: [] for i in range(3)}

    def consume(i):
        c = consumers[i]
        try:
            while True:
                f = c.try_read_frame(1.0)
                if f is None:
                    return
                if f.command == "ERROR":
                    errors.append(f)
                    return
                if f.command == "MESSAGE":
                    got[i].append(f.body)
                    c.ack(f, "message-id+sub" if c.version != "1.2" else "id", receipt=False)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=produce, args=(k,)) for k in range(n_prod)]
    threads += [threading.Thread(target=consume, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    everything = got[0] + got[1] + got[2]
    assert len(everything) == total, {i: len(v) for i, v in got.items()}
    assert set(everything) == {b"p%d-%d" % (k, j) for k in range(n_prod) for j in range(per)}
    assert all(got[i] for i in range(3)), {i: len(v) for i, v in got.items()}
    # per-producer order is kept at each consumer
    for i in range(3):
        for k in range(n_prod):
            seq = [int(b.split(b"-")[1]) for b in got[i] if b.startswith(b"p%d-" % k)]
            assert seq == sorted(seq), (i, k, seq)
    for c in consumers:
        c.close()


def test_topic_subscription_window(broker):
    """A client-ack topic subscription has a window like a queue subscription."""
    dest = "/topic/" + unique()
    s = client(broker.port)
    s.subscribe(dest, "s", ack="client-individual", headers=[("prefetch-count", "1")])
    p = client(broker.port)
    for i in range(3):
        p.send(dest, "w%d" % i)
    m = s.read_message()
    assert m.body == b"w0"
    s.assert_no_frame(QUIET, "second topic message beyond window 1")
    s.ack(m)
    m = s.read_message()
    assert m.body == b"w1"
    s.ack(m)
    assert s.read_message().body == b"w2"
    s.close()
    p.close()


def test_topic_buffer_full_disconnect_policy(broker_factory):
    """A topic subscriber whose buffer (--topic-subscriber-buffer) fills because
    it doesn't ack is disconnected with an ERROR; other subscribers and the
    producer carry on."""
    b = broker_factory(topic_subscriber_buffer=3, slow_subscriber_policy="disconnect")
    dest = "/topic/" + unique()
    slow = client(b.port)
    slow.subscribe(dest, "slow", ack="client-individual", headers=[("prefetch-count", "1")])
    fast = client(b.port)
    fast.subscribe(dest, "fast", ack="auto")
    p = client(b.port)
    for i in range(10):
        p.send(dest, "b%d" % i)
    assert [m.body for m in fast.read_messages(10)] == [b"b%d" % i for i in range(10)]
    frames = slow.read_until_closed()
    cmds = [f.command for f in frames]
    assert "ERROR" in cmds, cmds
    assert cmds.index("ERROR") == len(cmds) - 1
    assert cmds.count("MESSAGE") >= 1
    p.close()
    fast.close()


def test_topic_buffer_full_block_policy(broker_factory):
    """Block policy: a full topic subscriber buffer holds the producer back
    (its receipts stop) until the subscriber acks; nothing is lost."""
    b = broker_factory(topic_subscriber_buffer=3, slow_subscriber_policy="block")
    dest = "/topic/" + unique()
    slow = client(b.port)
    slow.subscribe(dest, "slow", ack="client-individual", headers=[("prefetch-count", "1")])
    p = client(b.port)
    # buffer 3 (+ the one unacked delivery, depending on how it is counted):
    # publishing stalls after 3 or 4 messages
    blocked_at = None
    for i in range(8):
        rid = p.next_rid()
        p.send_frame("SEND", [("destination", dest), ("receipt", rid)], b"b%d" % i)
        r = p.try_read_frame(QUIET)
        if r is None:
            blocked_at = i
            break
        assert r.command == "RECEIPT" and r["receipt-id"] == rid, r
    assert blocked_at is not None, "publishing to a topic with a full subscriber buffer was never held back"
    assert 3 <= blocked_at <= 4, "held back after %d messages with a buffer of 3" % blocked_at
    got = []
    for i in range(blocked_at + 1):
        m = slow.read_message()
        got.append(m.body)
        slow.ack(m)
    assert got == [b"b%d" % i for i in range(blocked_at + 1)]
    p.wait_receipt(rid)
    slow.close()
    p.close()


def test_error_closes_connection_and_returns_unacked(broker):
    """A connection closed by an ERROR gives back its unacked messages."""
    dest = "/queue/" + unique()
    c = client(broker.port)
    c.subscribe(dest, "s", ack="client-individual")
    p = client(broker.port)
    p.send(dest, "hostage")
    assert c.read_message().body == b"hostage"
    c.expect_error("SEND", [("destination", "/bad/dest")], b"x")
    d = client(broker.port)
    d.subscribe(dest, "d")
    m = d.read_message()
    assert m.body == b"hostage" and m.get("redelivered") == "true"
    d.close()
    p.close()


def test_topic_fanout_to_many_subscribers(broker):
    dest = "/topic/" + unique()
    subs = []
    for i in range(20):
        s = client(broker.port, ("1.0", "1.1", "1.2")[i % 3])
        s.subscribe(dest, "s%d" % i)
        subs.append(s)
    p = client(broker.port)
    for i in range(20):
        p.send(dest, "f%d" % i, receipt=(i == 19))
    for s in subs:
        assert [m.body for m in s.read_messages(20)] == [b"f%d" % i for i in range(20)]
    for x in subs + [p]:
        x.close()


def test_ack_with_wrong_subscription_is_error(broker):
    dest = "/queue/" + unique()
    _fill(broker, dest, 1)
    c = client(broker.port)
    c.subscribe(dest, "right", ack="client-individual")
    c.subscribe("/queue/" + unique(), "other", ack="client-individual")
    m = c.read_message()
    c.expect_error("ACK", [("message-id", m["message-id"]), ("subscription", "other")])
    assert_broker_serves(broker)


def test_nack_of_auto_acked_message_is_error(broker):
    dest = "/queue/" + unique()
    _fill(broker, dest, 1)
    c = client(broker.port)
    c.subscribe(dest, "s", ack="auto")
    m = c.read_message()
    c.expect_error("NACK", [("message-id", m["message-id"]), ("subscription", "s")])
    assert_broker_serves(broker)


def test_vhosts_are_separate(broker):
    """`host` is the vhost: the same destination name in two vhosts is two destinations."""
    name = unique()
    a = RawClient(broker.port)
    a.connect("1.2", host="vh-a")
    a.subscribe("/queue/" + name, "s")
    b = RawClient(broker.port)
    b.connect("1.2", host="vh-b")
    b.subscribe("/queue/" + name, "s")
    pa = RawClient(broker.port)
    pa.connect("1.2", host="vh-a")
    pa.send("/queue/" + name, "for-a")
    assert a.read_message().body == b"for-a"
    b.assert_no_frame()
    for x in (a, b, pa):
        x.close()


def test_cumulative_ack_covers_redelivered_messages(broker):
    dest = "/queue/" + unique()
    _fill(broker, dest, 3)
    a = client(broker.port)
    a.subscribe(dest, "a", ack="client", headers=[("prefetch-count", "2")])
    assert [m.body for m in a.read_messages(2)] == [b"m0", b"m1"]
    a.close()  # m0, m1 go back
    b = client(broker.port)
    b.subscribe(dest, "b", ack="client")
    got = b.read_messages(3)
    assert sorted(m.body for m in got) == [b"m0", b"m1", b"m2"]
    assert {m.body for m in got if m.get("redelivered") == "true"} == {b"m0", b"m1"}
    b.ack(got[-1])  # cumulative: everything delivered to b so far
    b.close()
    assert _remaining(broker, dest, 0) == []


def test_two_subscriptions_same_connection_same_queue(broker):
    dest = "/queue/" + unique()
    c = client(broker.port)
    c.subscribe(dest, "x", ack="client-individual", headers=[("prefetch-count", "1")])
    c.subscribe(dest, "y", ack="client-individual", headers=[("prefetch-count", "1")])
    _fill(broker, dest, 2)
    ms = c.read_messages(2)
    assert sorted(m["subscription"] for m in ms) == ["x", "y"]
    assert sorted(m.body for m in ms) == [b"m0", b"m1"]
    for m in ms:
        c.ack(m)
    c.close()
    assert _remaining(broker, dest, 0) == []


def test_subscription_id_reusable_after_unsubscribe(broker):
    d1, d2 = "/queue/" + unique(), "/queue/" + unique()
    c = client(broker.port)
    c.subscribe(d1, "same")
    c.unsubscribe("same")
    c.subscribe(d2, "same")
    p = client(broker.port)
    p.send(d1, "old")
    p.send(d2, "new")
    m = c.read_message()
    assert m.body == b"new" and m["subscription"] == "same" and m["destination"] == d2
    c.assert_no_frame(0.2)
    c.close()
    p.close()


def test_volume_pipelined_no_loss(broker):
    """10 000 pipelined SENDs (no receipts) while a consumer reads concurrently:
    all arrive, in order, none twice."""
    import threading
    dest = "/queue/" + unique()
    n = 10000
    c = client(broker.port)
    c.subscribe(dest, "s", ack="client", headers=[("prefetch-count", "500")])
    got = []
    err = []

    def consume():
        try:
            while len(got) < n:
                m = c.read_message(timeout=30)
                got.append(int(m.body[:5]))
                if len(got) % 250 == 0:
                    c.ack(m, receipt=False)
        except Exception as e:  # noqa: BLE001
            err.append(e)

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    p = client(broker.port)
    pad = b"." * 1000
    batch = b""
    for i in range(n):
        batch += encode_frame("SEND", [("destination", dest)], b"%05d" % i + pad)
        if len(batch) > 200000:
            p.send_raw(batch)
            batch = b""
    p.send_raw(batch)
    p.send(dest, b"99999")  # receipt: all before it took effect
    t.join(60)
    assert not err, err
    assert got == list(range(n))
    c.close()
    p.close()
