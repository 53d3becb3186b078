"""What RabbitMQ/ActiveMQ/Artemis clients send that generic STOMP does not
say (issue 17): Python booleans from stomp.py, boolean headers in any letter
case, ... Each test names the client habit it stands for."""
from __future__ import annotations

import pytest

from support import client, py_connect, py_rid, restart, run_php, unique
from test_persistence import data_dir, drain, work, work_root  # noqa: F401 (fixtures)


# --------------------------------------------------------------------------
# 17.1 boolean headers: case-insensitive, never a silent downgrade
# --------------------------------------------------------------------------

def test_stomp_py_persistent_True_survives_restart(broker_factory, work):
    """stomp.py writes persistent=True as `persistent:True`: that must be
    persistent (it was stored in memory only, and lost at the restart)."""
    b = broker_factory(data_dir=data_dir(work), persistent_default="/queue/keep/>")
    q = "/queue/" + unique("py-bool")  # not persistent by default: only the header makes it so
    conn, lst = py_connect(b.port)
    for body, flag in (("py-True", True), ("py-False", False)):
        rid = py_rid()
        conn.send(q, body, persistent=flag, receipt=rid)
        lst.wait_receipt(rid)
    conn.disconnect()
    b2 = restart(broker_factory, b, "kill")
    got = drain(b2.port, q, 1)
    assert [m.text for m in got] == ["py-True"]
    assert got[0].get("persistent") == "true", got[0]


def test_stomp_py_requeue_False_dead_letters(broker):
    """stomp.py's nack(..., requeue=False) sends `requeue:False`: the message
    goes to the dead-letter queue instead of back to the queue."""
    q = "/queue/" + unique("py-nack")
    conn, lst = py_connect(broker.port)
    rid = py_rid()
    conn.subscribe(q, id="s1", ack="client-individual", headers={"receipt": rid})
    lst.wait_receipt(rid)
    conn.send(q, "reject me")
    m = lst.get()
    rid = py_rid()
    conn.nack(m.headers["ack"], receipt=rid, requeue=False)
    lst.wait_receipt(rid)
    lst.none()  # not redelivered
    conn.disconnect()
    dlq = "/queue/DLQ." + q[len("/queue/"):]
    got = drain(broker.port, dlq, 1)
    assert got[0].text == "reject me"
    assert drain(broker.port, q, 0) == []


def test_stomp_py_durable_True_subscription(broker):
    """stomp.py's subscribe(..., durable=True, auto_delete=False) writes
    `durable:True` and `auto-delete:False`: a durable subscription (it was
    refused), collecting while its subscriber is away."""
    topic = "/topic/" + unique("py-durable")
    sub_id = unique("keep")
    conn, lst = py_connect(broker.port)
    rid = py_rid()
    conn.subscribe(topic, id=sub_id, ack="client-individual",
                   headers={"receipt": rid, "durable": True, "auto-delete": False})
    lst.wait_receipt(rid)
    assert lst.errors.empty(), lst.errors.get()
    conn.disconnect()
    p = client(broker.port)
    p.send(topic, "while away")
    p.close()
    conn, lst = py_connect(broker.port)
    conn.subscribe(topic, id=sub_id, ack="client-individual", durable=True, **{"auto-delete": False})
    m = lst.get()
    assert m.body == "while away"
    conn.ack(m.headers["ack"])
    conn.disconnect()


@pytest.mark.parametrize("value", ["TRUE", "tRuE", "True"])
def test_raw_persistent_any_case(broker, value):
    """Every letter case of `true` is true (RabbitMQ, Artemis and Apollo read
    booleans so): the MESSAGE says persistent:true."""
    q = "/queue/" + unique("case")
    c = client(broker.port)
    c.send(q, "x", {"persistent": value})
    c.subscribe(q, "s")
    assert c.read_message().get("persistent") == "true"
    c.close()


@pytest.mark.parametrize("command,headers", [
    ("SEND", {"persistent": "yes"}),
    ("SEND", {"persistent": "1"}),
    ("SUBSCRIBE", {"id": "s", "durable": "maybe"}),
    ("SUBSCRIBE", {"id": "s", "auto-delete": "0"}),
    ("SUBSCRIBE", {"id": "s", "browser": "yes"}),
    ("SUBSCRIBE", {"id": "s", "exclusive": "on"}),
    ("SUBSCRIBE", {"id": "s", "activemq.exclusive": "1"}),
    ("SUBSCRIBE", {"id": "s", "activemq.retroactive": "t"}),
    ("SUBSCRIBE", {"id": "s", "activemq.noLocal": ""}),
    ("SUBSCRIBE", {"id": "s", "activemq.dispatchAsync": "no"}),
    ("UNSUBSCRIBE", {"id": "s", "durable": "si"}),
])
def test_non_boolean_value_is_an_error_naming_the_header(broker, command, headers):
    """A value that is neither true nor false is refused with an ERROR that
    names the header -- never read as false (a persistent message kept in
    memory only)."""
    name = next(k for k in headers if k != "id")
    q = "/queue/" + unique("bad-bool")
    c = client(broker.port)
    items = [("destination", q)] + list(headers.items())
    err = c.expect_error(command, items)
    assert err["message"] == "invalid boolean header " + name, err
    assert name in err.text, err
    c.close()


def test_nack_requeue_non_boolean_is_an_error(broker):
    q = "/queue/" + unique("bad-requeue")
    c = client(broker.port)
    c.send(q, "m")
    c.subscribe(q, "s", ack="client-individual")
    m = c.read_message()
    err = c.expect_error("NACK", [("id", m["ack"]), ("requeue", "nope")])
    assert err["message"] == "invalid boolean header requeue", err
    c.close()
    # the message was not dead-lettered: it is back on its queue
    assert [f.text for f in drain(broker.port, q, 1)] == ["m"]


def test_nack_requeue_FALSE_dead_letters_raw(broker):
    q = "/queue/" + unique("raw-nack")
    c = client(broker.port)
    c.send(q, "m")
    c.subscribe(q, "s", ack="client-individual")
    c.nack(c.read_message(), extra={"requeue": "FALSE"})
    c.assert_no_frame()
    c.close()
    assert [f.text for f in drain(broker.port, "/queue/DLQ." + q[len("/queue/"):], 1)] == ["m"]


# --------------------------------------------------------------------------
# 17.7 redelivered:false on first delivery
# --------------------------------------------------------------------------

@pytest.mark.parametrize("ack", ["auto", "client-individual"])
def test_first_delivery_says_redelivered_false(broker, ack):
    """RabbitMQ sends `redelivered` on every MESSAGE; code written for it
    reads headers['redelivered'] without a default."""
    q = "/queue/" + unique("redeliv")
    conn, lst = py_connect(broker.port)
    rid = py_rid()
    conn.subscribe(q, id="s1", ack=ack, headers={"receipt": rid})
    lst.wait_receipt(rid)
    conn.send(q, "first")
    m = lst.get()
    assert m.headers["redelivered"] == "false", m.headers
    if ack != "auto":
        rid = py_rid()
        conn.nack(m.headers["ack"], receipt=rid)
        lst.wait_receipt(rid)
        again = lst.get()
        assert again.headers["redelivered"] == "true", again.headers
        conn.ack(again.headers["ack"])
    conn.disconnect()


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_topic_message_says_redelivered_false_once(broker, version):
    """Topic messages are encoded once for all subscribers (1.2 headers
    prepared in advance): the header is there exactly once, at every version."""
    t = "/topic/" + unique("redeliv")
    c = client(broker.port, version)
    c.subscribe(t, "s")
    c.send(t, "x")
    m = c.read_message()
    assert [v for k, v in m.header_list if k == "redelivered"] == ["false"], m
    c.close()


# --------------------------------------------------------------------------
# 17.5 SUBSCRIBE without id at 1.1/1.2 (RabbitMQ: the destination is the id)
# --------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_php_subscribe_without_id(broker, version):
    """stomp-php's subscribe($destination) sends no id: accepted, and its
    ack($frame) and unsubscribe($destination) work on that subscription."""
    q = "/queue/" + unique("php-noid")
    r = run_php("subscribe_no_id.php", broker.port, q, version)
    assert r["exception"] is None, r
    assert r["subscribed"] is True, r
    f = r["frame"]
    assert f and f["body"] == "no id", r
    assert f["headers"]["subscription"] == q, f
    assert r["acked"] is True, r
    assert r["unsubscribed"] is True, r
    assert r["left"] is None, "acked message still on the queue: %r" % r["left"]


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_raw_subscribe_without_id_ack_unsubscribe(broker, version):
    q = "/queue/" + unique("noid")
    c = client(broker.port, version)
    c.subscribe(q, None, ack="client-individual")
    c.send(q, "one")
    c.send(q, "two")
    m1, m2 = c.read_messages(2)
    assert m1["subscription"] == q, m1
    c.ack(m1)  # 1.2 by its ack header, 1.1 by message-id + subscription (= the destination)
    # UNSUBSCRIBE by the id the subscription got: its destination
    c.request("UNSUBSCRIBE", [("id", q)])
    # a second subscription without id on the same destination is a new one
    c.subscribe(q, None, ack="client-individual")
    again = c.read_message()
    assert again.body == b"two" and again["redelivered"] == "true", again
    c.ack(again)
    # ... and UNSUBSCRIBE naming only the destination finds it too
    c.request("UNSUBSCRIBE", [("destination", q)])
    c.close()
    assert drain(broker.port, q, 0) == []


def test_subscribe_without_id_twice_is_a_duplicate(broker):
    q = "/queue/" + unique("noid-dup")
    c = client(broker.port)
    c.subscribe(q, None)
    err = c.expect_error("SUBSCRIBE", [("destination", q)])
    assert err["message"] == "duplicate subscription id", err
    c.close()


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_strict_subscription_id_refuses_it(broker_factory, version):
    b = broker_factory(strict_subscription_id="true")
    c = client(b.port, version)
    err = c.expect_error("SUBSCRIBE", [("destination", "/queue/" + unique())])
    assert err["message"] == "missing id header", err
    assert "strict-subscription-id" in err.text, err
    c.close()
    # 1.0 never needed one
    c = client(b.port, "1.0")
    c.subscribe("/queue/" + unique(), None)
    c.close()


# --------------------------------------------------------------------------
# 17.8 bare destination names (ActiveMQ, Artemis)
# --------------------------------------------------------------------------

def test_bare_name_is_a_queue(broker):
    """ActiveMQ reads `ActiveMQ.DLQ` (no prefix) as a queue: so does Ferry by
    default, and /queue/ActiveMQ.DLQ is the same queue."""
    name = "ActiveMQ.DLQ." + unique()
    c = client(broker.port)
    c.send(name, "bare")
    c.subscribe(name, "bare-sub", ack="client-individual")
    m = c.read_message()
    assert m.body == b"bare" and m["destination"] == "/queue/" + name, m
    c.ack(m)
    c.send("/queue/" + name, "prefixed")
    c.close()
    assert [f.text for f in drain(broker.port, name, 1)] == ["prefixed"]


def test_shared_dead_letter_queue_as_activemq_has_it(broker_factory):
    """dead-letter-queue = "ActiveMQ.DLQ": every queue's rejected messages go
    to that one queue (ActiveMQ's default), saying where they came from; a
    message rejected there again is discarded, not dead-lettered in a loop."""
    dlq = "ActiveMQ.DLQ"
    b = broker_factory(dead_letter_queue=dlq)
    c = client(b.port)
    names = [unique("orders"), unique("invoices")]
    for name in names:
        c.send("/queue/" + name, "bad " + name)
        c.subscribe("/queue/" + name, name, ack="client-individual")
        m = c.read_message()
        c.nack(m, extra={"requeue": "false"})
        c.unsubscribe(name)
    c.subscribe(dlq, "dlq", ack="client-individual")
    got = sorted((c.read_message() for _ in names), key=lambda f: f.text)
    assert [f.text for f in got] == sorted("bad " + n for n in names)
    assert sorted(f["original-destination"] for f in got) == sorted("/queue/" + n for n in names)
    assert all(f["destination"] == "/queue/" + dlq for f in got)
    c.nack(got[0], extra={"requeue": "false"})  # discarded: no DLQ of the DLQ
    c.assert_no_frame()
    c.close()
    assert drain(b.port, "/queue/DLQ." + dlq, 0) == []


def test_default_destination_type_topic(broker_factory):
    b = broker_factory(default_destination_type="topic")
    name = unique("bare-topic")
    c = client(b.port)
    c.subscribe("/topic/" + name, "t")
    c.send(name, "to the topic")
    m = c.read_message()
    assert m.body == b"to the topic" and m["destination"] == "/topic/" + name, m
    c.close()


@pytest.mark.parametrize("dtype,kind", [("ANYCAST", "queue"), ("MULTICAST", "topic")])
def test_artemis_destination_type(broker_factory, dtype, kind):
    """Artemis: an address name, routed as `destination-type` says (over
    default-destination-type)."""
    b = broker_factory(default_destination_type="topic" if kind == "queue" else "queue")
    name = unique("artemis")
    c = client(b.port)
    c.subscribe(name, "s", headers={"destination-type": dtype})
    c.send(name, "hello", {"destination-type": dtype})
    m = c.read_message()
    assert m["destination"] == "/%s/%s" % (kind, name), m
    c.close()


def test_bad_destination_type_is_an_error(broker):
    c = client(broker.port)
    err = c.expect_error("SEND", [("destination", "x"), ("destination-type", "BROADCAST")])
    assert err["message"].lower() == "unknown destination", err
    c.close()


def test_unknown_prefix_is_still_an_error(broker):
    c = client(broker.port)
    err = c.expect_error("SEND", [("destination", "/nowhere/x")])
    assert err["message"].lower() == "unknown destination", err
    assert "/nowhere/x" in err.text, err
    c.close()


# --------------------------------------------------------------------------
# 17.10 server-header
# --------------------------------------------------------------------------

def test_server_header_default(broker):
    c = client(broker.port)
    assert c.connected["server"].startswith("Ferry/"), c.connected
    c.close()


def test_server_header_announces_another_broker(broker_factory):
    """stomp-php picks its ActiveMQ behaviour when `server` starts with
    ActiveMQ/: a migration can announce that."""
    b = broker_factory(server_header="ActiveMQ/5.18.3 (Ferry 0.1.0)")
    c = client(b.port)
    assert c.connected["server"] == "ActiveMQ/5.18.3 (Ferry 0.1.0)", c.connected
    c.close()


def test_server_header_empty_hides_it(broker_factory):
    b = broker_factory(server_header="")
    c = client(b.port)
    assert c.connected.get("server") is None, c.connected
    c.close()


# --------------------------------------------------------------------------
# 17.11 reserved headers on SEND, RabbitMQ's ERROR texts
# --------------------------------------------------------------------------

def test_send_with_message_id_is_refused(broker):
    """RabbitMQ: ERROR `Invalid header` for a SEND naming its message-id."""
    q = "/queue/" + unique("mid")
    c = client(broker.port)
    err = c.expect_error("SEND", [("destination", q), ("message-id", "mine-1")])
    assert err["message"] == "Invalid header", err
    assert "'message-id' is not allowed on 'SEND'" in err.text, err
    c.close()
    assert drain(broker.port, q, 0) == []


def test_send_with_other_reserved_headers_gets_the_brokers_values(broker):
    """subscription, ack, redelivered and x-delivery-count on a SEND are
    dropped: the MESSAGE carries the broker's own (documented in
    docs/dialects.md)."""
    q = "/queue/" + unique("reserved")
    c = client(broker.port)
    c.send(q, "x", [("subscription", "forged"), ("ack", "forged"), ("redelivered", "true"),
                    ("x-delivery-count", "7")])
    c.subscribe(q, "real")
    m = c.read_message()
    assert m["subscription"] == "real", m
    assert m["redelivered"] == "false", m
    assert m.get("ack") is None and m.get("x-delivery-count") is None, m
    c.close()


def test_unknown_destination_text(broker):
    """RabbitMQ's fixed `message` text, Ferry's detail in the body."""
    c = client(broker.port)
    err = c.expect_error("SUBSCRIBE", [("destination", "/nowhere/x"), ("id", "s")])
    assert err["message"] == "Unknown destination", err
    assert "/nowhere/x" in err.text, err
    c.close()


def test_missing_destination_text(broker):
    c = client(broker.port)
    err = c.expect_error("SEND", [("x", "y")])
    assert err["message"] == "Missing destination", err
    assert "destination header" in err.text, err
    c.close()


# --------------------------------------------------------------------------
# 17.4 browser:true shows without consuming
# --------------------------------------------------------------------------

def _browse(c, q, sub_id="b"):
    """Subscribe as a browser; returns the MESSAGE frames up to the end marker."""
    c.subscribe(q, sub_id, headers={"browser": "true"})
    got = []
    while True:
        m = c.read_message()
        assert m["subscription"] == sub_id, m
        if m.get("browser") == "end":
            assert m.body == b"", m
            return got
        got.append(m)


def test_browser_leaves_the_queue_intact(broker):
    q = "/queue/" + unique("browse")
    c = client(broker.port)
    for i in range(3):
        c.send(q, "m%d" % i, {"x-n": str(i)})
    seen = _browse(c, q)
    assert [m.text for m in seen] == ["m0", "m1", "m2"]
    assert [m["x-n"] for m in seen] == ["0", "1", "2"]
    assert all(m["redelivered"] == "false" and m["destination"] == q for m in seen), seen
    c.assert_no_frame()  # a snapshot: nothing more comes on the browser
    c.send(q, "m3")
    c.assert_no_frame()
    c.request("UNSUBSCRIBE", [("id", "b")])
    # browsing again sees the same, plus the newer one
    assert [m.text for m in _browse(c, q, "b2")] == ["m0", "m1", "m2", "m3"]
    c.close()
    got = drain(broker.port, q, 4)
    assert [m.text for m in got] == ["m0", "m1", "m2", "m3"]
    assert all(m["redelivered"] == "false" for m in got), got


def test_browser_of_an_unknown_queue_sees_only_the_end(broker):
    c = client(broker.port)
    assert _browse(c, "/queue/" + unique("nothing")) == []
    c.close()


def test_browser_False_is_an_ordinary_subscription(broker):
    q = "/queue/" + unique("browse-false")
    c = client(broker.port)
    c.send(q, "taken")
    c.subscribe(q, "s", headers={"browser": "False"})
    assert c.read_message().body == b"taken"
    c.close()
    assert drain(broker.port, q, 0) == []


def test_browser_on_a_topic_is_an_error(broker):
    c = client(broker.port)
    err = c.expect_error("SUBSCRIBE", [("destination", "/topic/" + unique()), ("id", "b"),
                                       ("browser", "true")])
    assert err["message"] == "invalid browser subscription", err
    c.close()


def test_browser_with_selector_is_refused(broker):
    """A browser does not apply selectors: refused rather than the header ignored."""
    c = client(broker.port)
    err = c.expect_error("SUBSCRIBE", [("destination", "/queue/" + unique()), ("id", "b"),
                                       ("browser", "true"), ("selector", "a = 1")])
    assert err["message"] == "invalid browser subscription", err
    assert "selector" in err.text, err
    c.close()
