"""CONNECT/STOMP, version negotiation, CONNECTED headers, DISCONNECT,
receipts on every frame, ERROR frame shape."""
import re

import pytest

from support import Closed, RawClient, assert_broker_serves, client, unique


@pytest.mark.parametrize("command", ["CONNECT", "STOMP"])
@pytest.mark.parametrize("accept,expected", [
    (None, "1.0"),
    ("1.0", "1.0"),
    ("1.1", "1.1"),
    ("1.2", "1.2"),
    ("1.0,1.1", "1.1"),
    ("1.0,1.1,1.2", "1.2"),
    ("1.2,1.0", "1.2"),
    ("1.0,2.0", "1.0"),
    ("1.1,3.5", "1.1"),
])
def test_version_negotiation(broker, command, accept, expected):
    c = RawClient(broker.port)
    f = c.connect(accept, command=command)
    assert f.command == "CONNECTED"
    assert f.get("version") == expected, f
    c.close()


@pytest.mark.parametrize("accept", ["2.0", "0.9", "1.3,2.1", "foo"])
def test_unsupported_version_is_refused(broker, accept):
    c = RawClient(broker.port)
    c.send_frame("CONNECT", [("accept-version", accept), ("host", "/")])
    err = c.expect_error_frame()
    assert err.command == "ERROR"
    assert err.get("version") == "1.0,1.1,1.2", err
    assert_broker_serves(broker)


def test_connected_headers(broker):
    c1 = client(broker.port, "1.2")
    f = c1.connected
    assert f.get("version") == "1.2"
    assert re.fullmatch(r"Ferry/\S+", f.get("server", "")), f
    assert f.get("session"), f
    assert re.fullmatch(r"\d+,\d+", f.get("heart-beat", "")), f
    c2 = client(broker.port, "1.1")
    assert c2.connected.get("session") and c2.connected["session"] != f["session"]
    c1.close()
    c2.close()


def test_connect_with_vhost_and_login_headers(broker):
    # host is the vhost; login/passcode are accepted (no authentication yet)
    c = RawClient(broker.port)
    f = c.connect("1.2", host="myvhost", extra=[("login", "guest"), ("passcode", "guest")])
    assert f.command == "CONNECTED"
    dest = "/queue/" + unique()
    c.subscribe(dest, "s")
    c.send(dest, "x")
    assert c.read_message().body == b"x"
    c.close()


def test_frame_before_connect_is_error(broker):
    c = RawClient(broker.port)
    err = c.expect_error("SEND", [("destination", "/queue/x")], b"hi")
    assert err.get("message")
    assert_broker_serves(broker)


def test_subscribe_before_connect_is_error(broker):
    c = RawClient(broker.port)
    c.expect_error("SUBSCRIBE", [("destination", "/queue/x"), ("id", "1")])
    assert_broker_serves(broker)


def test_second_connect_is_error(broker):
    c = client(broker.port, "1.2")
    c.send_frame("CONNECT", [("accept-version", "1.2"), ("host", "/")])
    err = c.expect_error_frame()
    assert err.command == "ERROR"
    assert_broker_serves(broker)


def test_error_frame_shape(broker):
    """ERROR: message header, receipt-id, content-type text/plain, body with detail, then close."""
    c = client(broker.port, "1.2")
    rid = c.next_rid()
    c.send_frame("SEND", [("destination", "/nowhere/x"), ("receipt", rid)], b"x")
    frames = c.read_until_closed()
    assert [f.command for f in frames] == ["ERROR"], frames
    err = frames[0]
    assert err.get("message"), err
    assert err.get("receipt-id") == rid
    assert err.get("content-type", "").startswith("text/plain"), err
    assert len(err.body) > 0, err
    assert_broker_serves(broker)


def test_unknown_destination_type(broker):
    c = client(broker.port, "1.2")
    err = c.expect_error("SUBSCRIBE", [("destination", "/nowhere/x"), ("id", "1")])
    assert "unknown destination" in (err["message"] + err.text).lower()
    assert_broker_serves(broker)


def test_amq_queue_alias(broker):
    """/amq/queue/NAME is the same queue as /queue/NAME."""
    name = unique()
    c = client(broker.port)
    c.subscribe("/queue/" + name, "s", ack="auto")
    p = client(broker.port)
    p.send("/amq/queue/" + name, "via-amq")
    m = c.read_message()
    assert m.body == b"via-amq"
    p.close()
    c.close()


@pytest.mark.parametrize("command", ["SEND", "SUBSCRIBE"])
def test_amq_queue_of_a_queue_that_does_not_exist_is_not_found(broker, command):
    """RabbitMQ: /amq/queue/NAME is a queue made elsewhere; the STOMP side
    never creates it, and names the missing queue."""
    name = unique()
    c = client(broker.port)
    err = c.expect_error(command, [("destination", "/amq/queue/" + name), ("id", "s")], b"x")
    assert err["message"] == "not_found"
    assert "NOT_FOUND - no queue '%s' in vhost '/'" % name in err.text
    # Nothing was created by the attempt.
    d = client(broker.port)
    d.expect_error("SUBSCRIBE", [("destination", "/amq/queue/" + name), ("id", "s")])


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_receipt_on_every_frame(broker, version):
    c = client(broker.port, version)
    dest = "/queue/" + unique()
    rc = c.request("SUBSCRIBE", [("destination", dest), ("id", "s1"), ("ack", "client-individual")])
    assert rc.command == "RECEIPT"
    c.request("SEND", [("destination", dest)], b"one")
    c.request("SEND", [("destination", dest)], b"two")
    m1 = c.read_message()
    m2 = c.read_message()
    c.request("ACK", [("message-id", m1["message-id"]), ("subscription", "s1")])
    if version == "1.0":  # NACK is a 1.1 command
        c.request("ACK", [("message-id", m2["message-id"]), ("subscription", "s1")])
    else:
        c.request("NACK", [("message-id", m2["message-id"]), ("subscription", "s1"), ("requeue", "false")])
    c.request("BEGIN", [("transaction", "t1")])
    c.request("SEND", [("destination", dest), ("transaction", "t1")], b"in-tx")
    c.request("COMMIT", [("transaction", "t1")])
    c.request("BEGIN", [("transaction", "t2")])
    c.request("ABORT", [("transaction", "t2")])
    m3 = c.read_message()
    assert m3.body == b"in-tx"
    c.request("UNSUBSCRIBE", [("id", "s1")])
    rid = c.next_rid()
    c.send_frame("DISCONNECT", [("receipt", rid)])
    r = c.wait_receipt(rid)
    assert r["receipt-id"] == rid
    c.close()


def test_receipt_means_took_effect(broker):
    """A RECEIPT for a SEND means the message is on the queue: a consumer that
    subscribes afterwards on another connection gets it."""
    dest = "/queue/" + unique()
    p = client(broker.port)
    for i in range(20):
        p.send(dest, "m%d" % i, receipt=False)
    p.send(dest, "last")
    c = client(broker.port)
    c.subscribe(dest, "s", ack="auto")
    got = [m.body for m in c.read_messages(21)]
    assert got == [b"m%d" % i for i in range(20)] + [b"last"]
    p.close()
    c.close()


def test_disconnect_with_receipt(broker):
    """DISCONNECT with receipt: RECEIPT arrives and no other frame follows."""
    c = client(broker.port, "1.2")
    dest = "/queue/" + unique()
    c.send(dest, "before-disconnect", receipt=False)
    rid = c.next_rid()
    c.send_frame("DISCONNECT", [("receipt", rid)])
    r = c.read_frame()
    assert r.command == "RECEIPT" and r["receipt-id"] == rid, r
    try:
        extra = c.try_read_frame()
    except Closed:
        extra = None
    assert extra is None, extra
    c.close()
    # the SEND before DISCONNECT took effect
    c2 = client(broker.port)
    c2.subscribe(dest, "s")
    assert c2.read_message().body == b"before-disconnect"
    c2.close()


def test_missing_host_is_default_vhost(broker):
    """No host header = vhost `/`: shares destinations with host:/ clients."""
    dest = "/queue/" + unique()
    a = RawClient(broker.port)
    a.connect("1.2", host=None)
    a.subscribe(dest, "s")
    b = RawClient(broker.port)
    b.connect("1.0", host="/")
    b.send(dest, "same-vhost")
    assert a.read_message().body == b"same-vhost"
    a.close()
    b.close()


def test_hostname_in_host_header_is_the_default_vhost(broker):
    """stomp.py sends the machine's hostname as `host`; until vhosts are
    configured that is the default vhost, shared with PHP (no host header)."""
    dest = "/queue/" + unique()
    a = RawClient(broker.port)
    a.connect("1.2", host="worker-7.example")
    a.subscribe(dest, "s")
    b = RawClient(broker.port)
    b.connect("1.0", host=None)
    b.send(dest, "met")
    assert a.read_message().body == b"met"
    a.close()
    b.close()


def test_connection_without_connect_is_closed_after_connect_timeout(broker_factory):
    """A connection holds a max-connections slot: one that never sends CONNECT
    gets an ERROR naming connect-timeout and is closed; connected clients are
    not affected by it."""
    b = broker_factory(connect_timeout=500)
    ok = client(b.port)
    idle = RawClient(b.port)
    frames = idle.read_until_closed(10)
    errors = [f for f in frames if f.command == "ERROR"]
    assert errors and "connect-timeout" in errors[0].get("message"), frames
    dest = "/queue/" + unique()
    ok.subscribe(dest, "s")
    ok.send(dest, "still here")
    assert ok.read_message().body == b"still here"
    ok.close()
    idle.close()
