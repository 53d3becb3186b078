"""JMS message selectors on SUBSCRIBE (`selector` header), as ActiveMQ and
Artemis users write them: a consumer gets only what its selector matches;
on a queue, messages nobody selects wait for a later consumer and never
hold up the ones behind them; a topic subscriber with a selector receives
only matching messages; a selector that does not parse gets an ERROR naming
the position. With raw frames, stomp.py and php-stomp; each test runs with
one and two shards (fixtures)."""
from __future__ import annotations

import json

from support import QUIET, client, py_connect, py_rid, run_php, unique


def send(c, dest, body, **headers):
    c.send(dest, body, headers)


def bodies_of(frames):
    return [f.text for f in frames]


def test_two_consumers_with_disjoint_selectors_each_get_theirs_stomp_py(broker):
    q = "/queue/" + unique("orders")
    orders, orders_l = py_connect(broker.port)
    invoices, invoices_l = py_connect(broker.port)
    for conn, lst, sid, sel in ((orders, orders_l, "o", "type = 'order' AND priority > 4"),
                                (invoices, invoices_l, "i", "type = 'invoice'")):
        rid = py_rid()
        conn.subscribe(q, id=sid, ack="client-individual", headers={"selector": sel, "receipt": rid})
        lst.wait_receipt(rid)
    p, p_l = py_connect(broker.port)
    sent = [("o-urgent", "order", "7"), ("i-1", "invoice", "4"), ("o-low", "order", "2"),
            ("o-high", "order", "9"), ("i-2", "invoice", "9")]
    for body, type_, prio in sent:
        rid = py_rid()
        p.send(q, body, headers={"type": type_, "priority": prio, "receipt": rid})
        p_l.wait_receipt(rid)

    def take(conn, lst, n):
        got = []
        for _ in range(n):
            m = lst.get()
            got.append(m.body)
            conn.ack(m.headers["ack"])  # STOMP 1.2: the ack header
        lst.none()
        return got

    assert take(orders, orders_l, 2) == ["o-urgent", "o-high"]
    assert take(invoices, invoices_l, 2) == ["i-1", "i-2"]
    # Nobody selected o-low: it waits in the queue for a plain consumer.
    c = client(broker.port)
    c.subscribe(q, "plain")
    assert c.read_message().text == "o-low"
    c.assert_no_frame(what="anything but o-low")
    for conn in (orders, invoices, p):
        conn.disconnect()
    c.close()


def test_unselected_head_does_not_stall_messages_behind_it(broker):
    q = "/queue/" + unique("regions")
    p = client(broker.port)
    for body, region in (("asia-1", "asia"), ("eu-1", "eu"), ("asia-2", "asia"), ("us-1", "us")):
        send(p, q, body, region=region)
    c = client(broker.port)
    # A window of one: each ACK lets the next selected message come, past
    # the unselected ones.
    c.subscribe(q, "s", ack="client-individual",
                headers={"selector": "region IN ('eu','us')", "activemq.prefetchSize": "1"})
    first = c.read_message()
    assert first.text == "eu-1"
    c.assert_no_frame(what="a second message beyond the window of one")
    c.ack(first)
    second = c.read_message()
    assert second.text == "us-1"
    c.ack(second)
    c.assert_no_frame(what="an unselected message")
    # The unselected ones are still there, in order, for a later plain consumer.
    later = client(broker.port)
    later.subscribe(q, "all")
    assert bodies_of(later.read_messages(2)) == ["asia-1", "asia-2"]
    later.assert_no_frame(what="a message already consumed")
    for x in (p, c, later):
        x.close()


def test_selected_consumer_gets_new_messages_behind_an_unselected_backlog(broker):
    q = "/queue/" + unique("backlog")
    c = client(broker.port)
    c.subscribe(q, "s", headers={"selector": "JMSPriority > 4"})
    p = client(broker.port)
    for i in range(20):
        send(p, q, "normal-%d" % i)  # default priority 4
    send(p, q, "urgent", priority="7")
    assert c.read_message().text == "urgent"
    c.assert_no_frame(what="a priority-4 message")
    later = client(broker.port)
    later.subscribe(q, "all")
    assert bodies_of(later.read_messages(20)) == ["normal-%d" % i for i in range(20)]
    for x in (p, c, later):
        x.close()


def test_topic_subscriber_with_a_selector_gets_only_matching_messages(broker):
    t = "/topic/" + unique("people")
    sel = client(broker.port)
    sel.subscribe(t, "a", headers={"selector": "name LIKE 'a%'"})
    everyone = client(broker.port)
    everyone.subscribe(t, "all")
    p = client(broker.port)
    for name in ("anna", "bob", "alice", "carl"):
        send(p, t, name, name=name)
    assert bodies_of(sel.read_messages(2)) == ["anna", "alice"]
    sel.assert_no_frame(what="a name not starting with a")
    assert bodies_of(everyone.read_messages(4)) == ["anna", "bob", "alice", "carl"]
    for x in (p, sel, everyone):
        x.close()


def test_topic_selector_with_stomp_py(broker):
    t = "/topic/" + unique("events")
    conn, lst = py_connect(broker.port)
    rid = py_rid()
    conn.subscribe(t, id="e", headers={"selector": "JMSType = 'created' OR amount BETWEEN 10 AND 20",
                                       "receipt": rid})
    lst.wait_receipt(rid)
    p = client(broker.port)
    send(p, t, "created", type="created", amount="1")
    send(p, t, "deleted", type="deleted", amount="1")
    send(p, t, "paid-15", type="paid", amount="15")
    send(p, t, "paid-15.5", type="paid", amount="15.5")
    send(p, t, "paid-25", type="paid", amount="25")
    assert [lst.get().body for _ in range(3)] == ["created", "paid-15", "paid-15.5"]
    lst.none()
    conn.disconnect()
    p.close()


def test_invalid_selector_is_an_error_naming_the_position(broker):
    c = client(broker.port)
    err = c.expect_error("SUBSCRIBE", [("destination", "/queue/" + unique()), ("id", "s"),
                                       ("selector", "type = 'order' AND (priority > 4")])
    assert err["message"] == "invalid selector at position 33", err
    assert "position 33" in err.text, err.text
    assert "expected ')'" in err.text, err.text


def test_invalid_selector_with_stomp_py(broker):
    conn, lst = py_connect(broker.port)
    conn.subscribe("/queue/" + unique(), id="s", headers={"selector": "region IN 'eu'"})
    e = lst.errors.get(timeout=5)
    assert e.headers["message"] == "invalid selector at position 11", e.headers
    assert "position 11" in e.body, e.body


def test_blank_selector_is_no_selector(broker):
    """JMS: an empty selector is treated as none."""
    q = "/queue/" + unique()
    c = client(broker.port)
    c.subscribe(q, "s", headers={"selector": ""})
    send(c, q, "x")
    assert c.read_message().text == "x"
    c.close()


def test_durable_subscription_with_a_selector_is_refused(broker):
    c = client(broker.port)
    err = c.expect_error("SUBSCRIBE", [("destination", "/topic/" + unique()), ("id", unique("dur")),
                                       ("durable", "true"), ("auto-delete", "false"),
                                       ("selector", "type = 'x'")])
    assert "cannot have a selector" in err["message"] + err.text, err


def test_selectors_from_php(broker):
    q = "/queue/" + unique("php")
    for body, hdrs in (("low", {"type": "order", "priority": "2"}),
                       ("high", {"type": "order", "priority": "8"}),
                       ("other", {"type": "refund", "priority": "9"}),
                       ("eu", {"type": "order", "region": "eu", "priority": "5"})):
        assert run_php("selectors.php", broker.port, q, "send", body, json.dumps(hdrs))["sent"] is True
    got = run_php("selectors.php", broker.port, q, "consume", "type = 'order' AND priority > 4")
    assert got["exception"] is None, got
    assert got["bodies"] == ["high", "eu"]
    got = run_php("selectors.php", broker.port, q, "consume", "region IS NULL AND JMSPriority < 5")
    assert got["bodies"] == ["low"]
    # What is left: "other", for anyone.
    got = run_php("selectors.php", broker.port, q, "consume", "type NOT IN ('order')")
    assert got["bodies"] == ["other"]


def test_invalid_selector_from_php(broker):
    got = run_php("selectors.php", broker.port, "/queue/" + unique(), "invalid", "name LIKE 'a%' AND")
    # php-stomp answers a refused SUBSCRIBE with false and error(), or throws.
    if got["exception"] is None:
        assert got["subscribed"] is False, got
        assert got["error"].startswith("invalid selector at position 19"), got
    else:
        assert got["exception"] == "invalid selector at position 19", got
