"""ActiveMQ's temporary topics (docs/dialects.md, "Temporary topics"):
`/temp-topic/NAME` is a topic private to its connection, with a generated
name; in `reply-to` it is rewritten to `/remote-temp-topic/amq.gen-...`
(the connection subscribed to it unless it already is); others may send
there but not read it, not even through a wildcard subscription; it ends
with its connection. Raw frames, stomp.py and PHP."""
from __future__ import annotations

import threading

from support import QUIET, client, py_connect, py_rid, run_php, unique


def _answer(srv, body=b"pong"):
    req = srv.read_message()
    reply_to = req["reply-to"]
    assert reply_to.startswith("/remote-temp-topic/amq.gen-"), reply_to
    srv.send(reply_to, body, headers={"correlation-id": req.get("correlation-id", "")})
    return req


def _service(broker):
    service = "/queue/" + unique("rpc")
    srv = client(broker.port)
    srv.subscribe(service, "srv")
    return service, srv


def test_subscribe_and_send_on_one_connection(broker):
    c = client(broker.port)
    c.subscribe("/temp-topic/events", "mine")
    c.send("/temp-topic/events", "hi")
    m = c.read_message()
    assert (m.body, m["subscription"]) == (b"hi", "mine")
    assert m["destination"].startswith("/topic/amq.gen-"), m


def test_reply_to_temp_topic_subscribes_the_requester(broker):
    service, srv = _service(broker)
    req = client(broker.port)
    req.send(service, "ping", headers={"reply-to": "/temp-topic/replies", "correlation-id": "c1"})
    _answer(srv)
    m = req.read_message()
    assert (m.body, m["subscription"], m["correlation-id"]) == (b"pong", "/temp-topic/replies", "c1")
    req.assert_no_frame(QUIET)


def test_activemq_style_subscribe_then_send_reply_to(broker):
    service, srv = _service(broker)
    req = client(broker.port)
    req.subscribe("/temp-topic/answers", "mine")
    req.send(service, "ping", headers={"reply-to": "/temp-topic/answers"})
    _answer(srv)
    m = req.read_message()
    assert (m.body, m["subscription"]) == (b"pong", "mine")
    req.assert_no_frame(QUIET)


def test_each_connection_has_its_own_topic_for_one_name(broker):
    service, srv = _service(broker)
    a, b = client(broker.port), client(broker.port)
    a.send(service, "from-a", headers={"reply-to": "/temp-topic/r"})
    b.send(service, "from-b", headers={"reply-to": "/temp-topic/r"})
    addresses = set()
    for _ in range(2):
        r = srv.read_message()
        addresses.add(r["reply-to"])
        srv.send(r["reply-to"], b"re:" + r.body)
    assert len(addresses) == 2, "two connections shared a temporary topic"
    assert a.read_message().body == b"re:from-a"
    assert b.read_message().body == b"re:from-b"
    a.assert_no_frame(QUIET)
    b.assert_no_frame(QUIET)


def test_others_cannot_read_a_temporary_topic(broker):
    service, srv = _service(broker)
    req = client(broker.port)
    req.send(service, "ping", headers={"reply-to": "/temp-topic/r"})
    reply_to = srv.read_message()["reply-to"]
    name = reply_to[len("/remote-temp-topic/"):]
    for dest in (reply_to, "/topic/" + name, "/exchange/amq.topic/" + name):
        spy = client(broker.port)
        err = spy.expect_error("SUBSCRIBE", [("destination", dest), ("id", "spy")])
        assert "access refused" in err["message"], err


def test_a_wildcard_subscription_does_not_see_a_temporary_topic(broker):
    service, srv = _service(broker)
    spy = client(broker.port)
    spy.subscribe("/topic/#", "all")
    spy.subscribe("/topic/amq.>", "amq")
    req = client(broker.port)
    req.send(service, "ping", headers={"reply-to": "/temp-topic/r"})
    _answer(srv, b"secret")
    assert req.read_message().body == b"secret"
    spy.assert_no_frame(QUIET)


def test_a_reply_after_the_requester_left_is_dropped(broker):
    service, srv = _service(broker)
    req = client(broker.port)
    req.send(service, "ping", headers={"reply-to": "/temp-topic/r"})
    reply_to = srv.read_message()["reply-to"]
    req.disconnect()
    late = client(broker.port)
    late.send(reply_to, "too late")  # RECEIPT, no ERROR: the replier is not at fault
    late.assert_no_frame(QUIET)
    # Nor can a new connection take it over.
    spy = client(broker.port)
    err = spy.expect_error("SUBSCRIBE", [("destination", reply_to), ("id", "spy")])
    assert "access refused" in err["message"], err


def test_a_temporary_topic_has_no_durable_subscriptions(broker):
    c = client(broker.port, extra=[("client-id", unique("cid"))])
    err = c.expect_error("SUBSCRIBE", [("destination", "/temp-topic/t"), ("id", "d"),
                                       ("activemq.subscriptionName", "keep")])
    assert "temporary topic" in err.text, err


def test_remote_temp_topic_must_name_a_temporary_topic(broker):
    c = client(broker.port)
    err = c.expect_error("SEND", [("destination", "/remote-temp-topic/orders")], b"x")
    assert err["message"] == "Unknown destination", err


def test_temp_topic_needs_a_name(broker):
    c = client(broker.port)
    err = c.expect_error("SUBSCRIBE", [("destination", "/temp-topic/"), ("id", "s")])
    assert "/temp-topic/NAME" in err.text, err


def test_stomp_py_request_reply_over_a_temporary_topic(broker):
    service, srv = _service(broker)
    conn, lst = py_connect(broker.port)
    conn.subscribe("/temp-topic/py", id="replies")
    rid = py_rid()
    conn.send(service, "ping", headers={"reply-to": "/temp-topic/py", "receipt": rid})
    lst.wait_receipt(rid)
    _answer(srv, b"pong-py")
    m = lst.get()
    assert m.body == "pong-py"
    assert m.headers["subscription"] == "replies"
    conn.disconnect()


def test_php_request_reply_over_a_temporary_topic(broker):
    service, srv = _service(broker)
    answered = {}
    t = threading.Thread(target=lambda: answered.setdefault("req", _answer(srv, b"it is now")))
    t.start()
    res = run_php("request_reply.php", broker.port, service, "/temp-topic/reply")
    t.join(15)
    assert res["sent"] is True
    assert res["reply"] is not None, res
    assert res["reply"]["body"] == "it is now"
    assert res["reply"]["headers"]["correlation-id"] == "php-1"
    assert answered["req"]["reply-to"].startswith("/remote-temp-topic/amq.gen-")


def test_a_transactional_reply_reaches_only_the_temporary_topic(broker):
    """A COMMIT routes topic sends as a SEND does: no wildcard subscription
    gets a temporary topic's message there either."""
    service, srv = _service(broker)
    spy = client(broker.port)
    spy.subscribe("/topic/#", "all")
    req = client(broker.port)
    req.send(service, "ping", headers={"reply-to": "/temp-topic/r"})
    reply_to = srv.read_message()["reply-to"]
    srv.request("BEGIN", [("transaction", "tx")])
    srv.send(reply_to, "in-tx", headers={"transaction": "tx", "persistent": "true"})
    srv.request("COMMIT", [("transaction", "tx")])
    assert req.read_message().body == b"in-tx"
    spy.assert_no_frame(QUIET)
