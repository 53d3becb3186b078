"""Temporary reply queues for request/reply: RabbitMQ's `reply-to:/temp-queue/NAME`
(the broker subscribes the requester; the replier sees `/reply-queue/...`)
and ActiveMQ's explicit SUBSCRIBE to `/temp-queue/NAME`; from raw frames,
stomp.py and PHP."""
import threading

from support import QUIET, client, py_connect, py_rid, run_php, unique


def _serve_one(broker, service):
    """A replier: takes one request from `service` and answers it at its reply-to."""
    srv = client(broker.port)
    srv.subscribe(service, "srv")
    return srv


def _answer(srv, body=b"pong"):
    req = srv.read_message()
    reply_to = req["reply-to"]
    assert reply_to.startswith("/reply-queue/amq.gen-"), reply_to
    srv.send(reply_to, body, headers={"correlation-id": req.get("correlation-id", "")})
    return req


def test_rabbitmq_style_reply_to_temp_queue_subscribes_the_requester(broker):
    service = "/queue/" + unique("rpc")
    srv = _serve_one(broker, service)
    req = client(broker.port)
    req.send(service, "ping", headers={"reply-to": "/temp-queue/replies", "correlation-id": "c1"})
    _answer(srv)
    m = req.read_message()
    assert m.body == b"pong"
    assert m["subscription"] == "/temp-queue/replies"
    assert m["correlation-id"] == "c1"
    # A second request reuses the same queue and subscription.
    req.send(service, "ping2", headers={"reply-to": "/temp-queue/replies"})
    first = _answer(srv)
    assert req.read_message().body == b"pong"
    req.assert_no_frame(QUIET)


def test_activemq_style_subscribe_then_send_reply_to(broker):
    service = "/queue/" + unique("rpc")
    srv = _serve_one(broker, service)
    req = client(broker.port)
    req.subscribe("/temp-queue/answers", "mine")
    req.send(service, "ping", headers={"reply-to": "/temp-queue/answers"})
    _answer(srv)
    m = req.read_message()
    assert (m.body, m["subscription"]) == (b"pong", "mine")
    req.assert_no_frame(QUIET)


def test_each_connection_has_its_own_queue_for_one_name(broker):
    service = "/queue/" + unique("rpc")
    srv = _serve_one(broker, service)
    a, b = client(broker.port), client(broker.port)
    a.send(service, "from-a", headers={"reply-to": "/temp-queue/r"})
    b.send(service, "from-b", headers={"reply-to": "/temp-queue/r"})
    addresses = set()
    for _ in range(2):
        r = srv.read_message()
        addresses.add(r["reply-to"])
        srv.send(r["reply-to"], b"re:" + r.body)
    assert len(addresses) == 2, "two connections shared a temporary queue"
    assert a.read_message().body == b"re:from-a"
    assert b.read_message().body == b"re:from-b"
    a.assert_no_frame(QUIET)
    b.assert_no_frame(QUIET)


def test_others_cannot_read_a_temporary_queue(broker):
    service = "/queue/" + unique("rpc")
    srv = _serve_one(broker, service)
    req = client(broker.port)
    req.send(service, "ping", headers={"reply-to": "/temp-queue/r"})
    reply_to = srv.read_message()["reply-to"]
    name = reply_to[len("/reply-queue/"):]
    for dest in (reply_to, "/queue/" + name):
        spy = client(broker.port)
        err = spy.expect_error("SUBSCRIBE", [("destination", dest), ("id", "spy")])
        assert "access refused" in err["message"]


def test_a_reply_after_the_requester_left_is_dropped_and_the_queue_goes(broker):
    service = "/queue/" + unique("rpc")
    srv = _serve_one(broker, service)
    req = client(broker.port)
    req.send(service, "ping", headers={"reply-to": "/temp-queue/r"})
    reply_to = srv.read_message()["reply-to"]
    req.close()
    # The replier is not at fault: RECEIPT, no ERROR, and the message is dropped.
    late = client(broker.port)
    late.send(reply_to, "too late")
    late.send(reply_to, "and again")
    late.assert_no_frame(QUIET)
    # Nothing recreated the queue: no one can find it in the management API.
    import json
    import urllib.request
    import base64
    request = urllib.request.Request("http://127.0.0.1:%d/api/queues" % broker.http_port)
    request.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
    names = [q["name"] for q in json.load(urllib.request.urlopen(request, timeout=10))]
    assert not [n for n in names if n.startswith("amq.gen-")], names


def test_reply_queue_form_must_name_a_temporary_queue(broker):
    c = client(broker.port)
    err = c.expect_error("SEND", [("destination", "/reply-queue/orders")], b"x")
    assert err["message"] == "Unknown destination"


def test_stomp_py_request_reply(broker):
    service = "/queue/" + unique("rpc")
    srv = _serve_one(broker, service)
    conn, lst = py_connect(broker.port)
    rid = py_rid()
    conn.send(service, "ping", headers={"reply-to": "/temp-queue/py", "receipt": rid})
    lst.wait_receipt(rid)
    _answer(srv, b"pong-py")
    m = lst.get()
    assert m.body == "pong-py"
    assert m.headers["subscription"] == "/temp-queue/py"
    conn.disconnect()


def test_php_request_reply(broker):
    service = "/queue/" + unique("rpc")
    srv = _serve_one(broker, service)
    answered = {}
    t = threading.Thread(target=lambda: answered.setdefault("req", _answer(srv, b"it is now")))
    t.start()
    res = run_php("request_reply.php", broker.port, service)
    t.join(15)
    assert res["sent"] is True
    assert res["reply"] is not None, res
    assert res["reply"]["body"] == "it is now"
    assert res["reply"]["headers"]["correlation-id"] == "php-1"
    assert answered["req"]["reply-to"].startswith("/reply-queue/amq.gen-")
