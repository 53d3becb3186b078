"""Dialect headers that used to be accepted and ignored (issue 12 §4), now
honoured, as RabbitMQ and ActiveMQ users write them: RabbitMQ's per-message
TTL `expiration`, ActiveMQ's exclusive consumers (`activemq.exclusive`) and
message groups (`JMSXGroupID`, a neutral `group`, `JMSXGroupSeq` -1). With
raw frames, stomp.py and php-stomp; each test runs with one and two shards
(fixtures)."""
from __future__ import annotations

import json
import time

import pytest

from support import QUIET, client, py_connect, py_rid, run_php, unique


def _now_ms():
    return int(time.time() * 1000)


def texts(frames):
    return [f.text for f in frames]


# --------------------------------------------------------------------------
# RabbitMQ's per-message TTL: expiration (ms, from the SEND)
# --------------------------------------------------------------------------

def test_expiration_expires_a_message_and_is_passed_on(broker):
    q = "/queue/" + unique("ttl")
    p = client(broker.port)
    p.send(q, "short", {"expiration": "200"})
    p.send(q, "long", {"expiration": "600000"})
    # Both given: the earlier wins (here `expiration`).
    p.send(q, "both", {"expiration": "200", "expires": str(_now_ms() + 600000)})
    p.send(q, "plain")
    time.sleep(0.5)  # let the short ones expire on the queue (time is the subject here)
    c = client(broker.port)
    c.subscribe(q, "s")
    got = c.read_messages(2)
    assert texts(got) == ["long", "plain"]
    assert got[0].get("expiration") == "600000", got[0]  # RabbitMQ passes it on
    c.assert_no_frame(what="an expired message")
    c.close()
    p.close()


def test_invalid_expiration_is_an_error_naming_it(broker):
    for bad in ("soon", "-5", "1.5"):
        c = client(broker.port)
        err = c.expect_error("SEND", [("destination", "/queue/" + unique()), ("expiration", bad)])
        assert err["message"] == "invalid expiration header (a per-message TTL in ms)", err
        assert bad in err.text, err.text


def test_expiration_from_stomp_py(broker):
    q = "/queue/" + unique("py-ttl")
    conn, lst = py_connect(broker.port)
    for body, ttl in (("gone", "150"), ("kept", "600000")):
        rid = py_rid()
        conn.send(q, body, headers={"expiration": ttl, "receipt": rid})
        lst.wait_receipt(rid)
    time.sleep(0.4)
    rid = py_rid()
    conn.subscribe(q, id="s", headers={"receipt": rid})
    lst.wait_receipt(rid)
    m = lst.get()
    assert m.body == "kept"
    assert m.headers["expiration"] == "600000"
    lst.none()
    conn.disconnect()


def test_expiration_from_php(broker):
    q = "/queue/" + unique("php-ttl")
    assert run_php("dialect_headers.php", broker.port, q, "send", "gone",
                   json.dumps({"expiration": "150"}))["sent"] is True
    assert run_php("dialect_headers.php", broker.port, q, "send", "kept",
                   json.dumps({"expiration": "600000"}))["sent"] is True
    time.sleep(0.4)
    got = run_php("dialect_headers.php", broker.port, q, "consume", json.dumps({}))
    assert got["exception"] is None, got
    assert got["bodies"] == ["kept"]
    bad = run_php("dialect_headers.php", broker.port, q, "send", "x", json.dumps({"expiration": "later"}))
    if bad["exception"] is None:
        assert bad["sent"] is False, bad
        assert bad["error"].startswith("invalid expiration header"), bad
    else:
        assert bad["exception"].startswith("invalid expiration header"), bad


# --------------------------------------------------------------------------
# Exclusive consumers: activemq.exclusive:true (or exclusive:true) on a queue
# --------------------------------------------------------------------------

def test_first_exclusive_consumer_gets_everything_and_others_take_over_in_order(broker):
    q = "/queue/" + unique("excl")
    plain = client(broker.port)
    plain.subscribe(q, "p", ack="client-individual")
    first = client(broker.port)
    first.subscribe(q, "e1", ack="client-individual", headers={"activemq.exclusive": "true"})
    second = client(broker.port)
    second.subscribe(q, "e2", ack="client-individual", headers={"exclusive": "true"})
    p = client(broker.port)
    for i in range(4):
        p.send(q, "m%d" % i)
    got = first.read_messages(4)
    assert texts(got) == ["m0", "m1", "m2", "m3"]
    first.ack(got[0])
    plain.assert_no_frame(what="a message while an exclusive consumer is active")
    second.assert_no_frame(what="a message while the first exclusive consumer is active")
    first.close()  # m1..m3 unacknowledged: redelivered to the next exclusive consumer
    p.send(q, "m4")
    got = second.read_messages(4)
    assert texts(got) == ["m1", "m2", "m3", "m4"]
    assert got[0].get("redelivered") == "true", got[0]
    for m in got:
        second.ack(m)
    plain.assert_no_frame(what="a message while the second exclusive consumer is active")
    second.unsubscribe("e2")
    p.send(q, "m5")  # no exclusive consumer left: the plain one
    assert plain.read_message().text == "m5"
    for x in (plain, second, p):
        x.close()


def test_exclusive_consumer_from_stomp_py(broker):
    q = "/queue/" + unique("py-excl")
    plain = client(broker.port)
    plain.subscribe(q, "p")
    conn, lst = py_connect(broker.port)
    rid = py_rid()
    conn.subscribe(q, id="e", ack="auto", headers={"activemq.exclusive": "true", "receipt": rid})
    lst.wait_receipt(rid)
    p = client(broker.port)
    for i in range(3):
        p.send(q, "x%d" % i)
    assert [lst.get().body for _ in range(3)] == ["x0", "x1", "x2"]
    plain.assert_no_frame(what="a message while a stomp.py exclusive consumer is active")
    conn.disconnect()
    p.send(q, "after")
    assert plain.read_message().text == "after"
    plain.close()
    p.close()


def test_exclusive_consumer_from_php(broker):
    q = "/queue/" + unique("php-excl")
    plain = client(broker.port)
    plain.subscribe(q, "p")
    got = run_php("dialect_headers.php", broker.port, q, "exclusive", 4)
    assert got["exception"] is None, got
    assert got["bodies"] == ["php-0", "php-1", "php-2", "php-3"]
    plain.assert_no_frame(what="a message while the PHP exclusive consumer was active")
    plain.close()


def test_exclusive_on_a_topic_is_accepted_and_means_nothing(broker):
    t = "/topic/" + unique("excl-topic")
    a = client(broker.port)
    a.subscribe(t, "a", headers={"activemq.exclusive": "true"})
    b = client(broker.port)
    b.subscribe(t, "b", headers={"activemq.exclusive": "true"})
    p = client(broker.port)
    p.send(t, "both")
    assert a.read_message().text == "both"
    assert b.read_message().text == "both"
    for x in (a, b, p):
        x.close()


# --------------------------------------------------------------------------
# Message groups: JMSXGroupID / group, JMSXGroupSeq -1
# --------------------------------------------------------------------------

def _two_consumers(broker, q, prefetch="10"):
    a = client(broker.port)
    a.subscribe(q, "a", ack="client-individual", headers={"activemq.prefetchSize": prefetch})
    b = client(broker.port)
    b.subscribe(q, "b", ack="client-individual", headers={"activemq.prefetchSize": "10"})
    return a, b


def test_group_sticks_to_one_consumer_and_moves_when_it_leaves(broker):
    q = "/queue/" + unique("groups")
    a, b = _two_consumers(broker, q)
    p = client(broker.port)
    sent = [("o1-1", "order-1"), ("o1-2", "order-1"), ("o2-1", "order-2"), ("o2-2", "order-2"),
            ("o1-3", "order-1"), ("o1-4", "order-1")]
    for body, group in sent:
        p.send(q, body, {"JMSXGroupID": group})
    got_a = a.read_messages(4)
    assert texts(got_a) == ["o1-1", "o1-2", "o1-3", "o1-4"]
    got_b = b.read_messages(2)
    assert texts(got_b) == ["o2-1", "o2-2"]
    a.assert_no_frame(what="a message of another group")
    b.assert_no_frame(what="a message of order-1")
    a.ack(got_a[0])
    a.close()  # order-1 moves to b, its unacknowledged messages first
    p.send(q, "o1-5", {"JMSXGroupID": "order-1"})
    assert texts(b.read_messages(4)) == ["o1-2", "o1-3", "o1-4", "o1-5"]
    for x in (b, p):
        x.close()


def test_group_seq_minus_one_closes_the_group(broker):
    q = "/queue/" + unique("group-close")
    a, b = _two_consumers(broker, q)
    p = client(broker.port)
    p.send(q, "g-1", {"JMSXGroupID": "g"})
    p.send(q, "g-last", {"JMSXGroupID": "g", "JMSXGroupSeq": "-1"})
    p.send(q, "g-again", {"JMSXGroupID": "g"})  # a new group: the next consumer in turn
    assert texts(a.read_messages(2)) == ["g-1", "g-last"]
    assert b.read_message().text == "g-again"
    a.assert_no_frame(what="a message after the group closed")
    for x in (a, b, p):
        x.close()


def test_group_waiting_for_a_full_consumer_does_not_stall_others(broker):
    q = "/queue/" + unique("group-stall")
    a, b = _two_consumers(broker, q, prefetch="1")
    p = client(broker.port)
    p.send(q, "g-1", {"JMSXGroupID": "g"})  # to a, whose window of one is then full
    p.send(q, "g-2", {"JMSXGroupID": "g"})  # waits for a
    p.send(q, "plain")
    p.send(q, "h-1", {"group": "h"})
    first = a.read_message()
    assert first.text == "g-1"
    assert texts(b.read_messages(2)) == ["plain", "h-1"]
    b.assert_no_frame(what="g-2, whose group belongs to a")
    a.ack(first)
    assert a.read_message().text == "g-2"
    for x in (a, b, p):
        x.close()


def test_neutral_group_header_from_stomp_py(broker):
    q = "/queue/" + unique("py-groups")
    conns = []
    for sid in ("a", "b"):
        conn, lst = py_connect(broker.port)
        rid = py_rid()
        conn.subscribe(q, id=sid, ack="auto", headers={"receipt": rid})
        lst.wait_receipt(rid)
        conns.append((conn, lst))
    p, p_l = py_connect(broker.port)
    for body, group in (("x1", "x"), ("x2", "x"), ("y1", "y"), ("x3", "x"), ("y2", "y"), ("x4", "x")):
        rid = py_rid()
        p.send(q, body, headers={"group": group, "receipt": rid})
        p_l.wait_receipt(rid)
    (_, a_l), (_, b_l) = conns
    assert [a_l.get().body for _ in range(4)] == ["x1", "x2", "x3", "x4"]
    assert [b_l.get().body for _ in range(2)] == ["y1", "y2"]
    a_l.none()
    b_l.none()
    for conn, _ in conns + [(p, p_l)]:
        conn.disconnect()


def test_groups_from_php_producer(broker):
    """An ActiveMQ PHP producer sets JMSXGroupID; each group reaches one consumer."""
    q = "/queue/" + unique("php-groups")
    a, b = _two_consumers(broker, q)
    for body, group in (("a1", "A"), ("a2", "A"), ("b1", "B"), ("a3", "A"), ("b2", "B"), ("a4", "A")):
        assert run_php("dialect_headers.php", broker.port, q, "send", body,
                       json.dumps({"JMSXGroupID": group}))["sent"] is True
    assert texts(a.read_messages(4)) == ["a1", "a2", "a3", "a4"]
    assert texts(b.read_messages(2)) == ["b1", "b2"]
    for x in (a, b):
        x.close()


def test_max_groups_per_queue_forgets_the_least_recently_used_group(broker_factory):
    b = broker_factory(max_groups_per_queue=1)
    q = "/queue/" + unique("group-limit")
    a, c = _two_consumers(b, q)
    p = client(b.port)
    for body, group in (("g1-1", "g1"), ("g1-2", "g1"),  # a
                        ("g2-1", "g2"),                  # c; g1 is forgotten (one group remembered)
                        ("g3-1", "g3"),                  # a, in turn; g2 is forgotten
                        ("g1-3", "g1")):                 # a new g1: c, in turn
        p.send(q, body, {"JMSXGroupID": group})
    assert texts(a.read_messages(3)) == ["g1-1", "g1-2", "g3-1"]
    assert texts(c.read_messages(2)) == ["g2-1", "g1-3"]
    for x in (a, c, p):
        x.close()


# ---------------------------------------------------------------- noLocal

@pytest.mark.parametrize("header", ["activemq.noLocal", "no-local"])
def test_no_local_topic_subscriber_skips_its_own_connections_messages(broker, header):
    topic = "/topic/" + unique("nl")
    me = client(broker.port)
    me.subscribe(topic, "mine", headers={header: "true"})
    other_sub = client(broker.port)
    other_sub.subscribe(topic, "theirs")
    other = client(broker.port)
    me.send(topic, "from-me")
    other.send(topic, "from-other")
    assert [m.body for m in me.read_messages(1)] == [b"from-other"]
    me.assert_no_frame(QUIET)
    # Everyone else gets both.
    assert sorted(m.body for m in other_sub.read_messages(2)) == [b"from-me", b"from-other"]


def test_no_local_applies_through_a_wildcard_subscription(broker):
    p = unique("nl")
    me = client(broker.port)
    me.subscribe("/topic/%s.*" % p, "w", headers={"activemq.noLocal": "true"})
    other = client(broker.port)
    me.send("/topic/%s.a" % p, "mine")
    other.send("/topic/%s.a" % p, "theirs")
    assert [m.body for m in me.read_messages(1)] == [b"theirs"]
    me.assert_no_frame(QUIET)


def test_no_local_on_a_durable_subscription_is_refused_not_ignored(broker):
    c = client(broker.port)
    err = c.expect_error("SUBSCRIBE", [("destination", "/topic/" + unique("nl")), ("id", "d"),
                                       ("durable", "true"), ("auto-delete", "false"),
                                       ("activemq.noLocal", "true")])
    assert err["message"] == "unsupported header" and "noLocal" in err.text


def test_retroactive_consumer_is_refused_not_ignored(broker):
    c = client(broker.port)
    err = c.expect_error("SUBSCRIBE", [("destination", "/topic/" + unique("r")), ("id", "s"),
                                       ("activemq.retroactive", "true")])
    assert err["message"] == "unsupported header" and "activemq.retroactive" in err.text
