"""RabbitMQ's queue arguments (issue 12): x-max-length, x-max-length-bytes,
x-overflow, x-message-ttl, x-expires, x-dead-letter-exchange,
x-dead-letter-routing-key, x-max-priority, x-single-active-consumer and
x-queue-type, as STOMP headers on SEND/SUBSCRIBE to /queue/ and /amq/queue/
(as RabbitMQ's STOMP plugin reads them) and as the "arguments" of the
management API's PUT /api/queues/VHOST/NAME; a redeclaration with other
arguments is refused with RabbitMQ's text; arguments survive restarts.
Raw frames, stomp.py and php-stomp; each test runs with one and two shards."""
from __future__ import annotations

import json
import time

import pytest

from mgmt import Api
from support import QUIET, StompError, WAIT, client, py_connect, py_rid, restart, run_php, unique


def texts(frames):
    return [f.text for f in frames]


def wait_for(fn, what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


# --------------------------------------------------------------------------
# x-max-length, x-max-length-bytes, x-overflow
# --------------------------------------------------------------------------

def test_max_length_drops_the_oldest(broker):
    name = unique("maxlen")
    p = client(broker.port)
    for i in range(5):
        p.send("/queue/" + name, "m%d" % i, {"x-max-length": "3"})
    c = client(broker.port)
    c.subscribe("/queue/" + name, "s")
    assert texts(c.read_messages(3)) == ["m2", "m3", "m4"]
    c.assert_no_frame(what="a message beyond x-max-length")
    q = Api(broker).queue(name)
    assert q["arguments"] == {"x-max-length": 3}, q


def test_max_length_bytes_counts_bodies(broker):
    q = "/queue/" + unique("maxbytes")
    p = client(broker.port)
    for i in range(5):
        p.send(q, "abc%d" % i, {"x-max-length-bytes": "10"})  # 4 bytes each: 2 fit
    c = client(broker.port)
    c.subscribe(q, "s")
    assert texts(c.read_messages(2)) == ["abc3", "abc4"]
    c.assert_no_frame(what="a message beyond x-max-length-bytes")


def test_reject_publish_refuses_the_send_with_an_error(broker):
    q = "/queue/" + unique("reject")
    args = {"x-max-length": "2", "x-overflow": "reject-publish"}
    p = client(broker.port)
    p.send(q, "a", args)
    p.send(q, "b", args)
    err = p.expect_error("SEND", dict(args, destination=q), b"c")
    assert "message refused" in err["message"] and "is full" in err["message"], err
    assert "x-max-length 2" in err["message"] and "reject-publish" in err["message"], err
    c = client(broker.port)
    c.subscribe(q, "s")
    assert texts(c.read_messages(2)) == ["a", "b"]
    c.assert_no_frame(what="the refused message")


def test_reject_publish_refuses_a_commit_that_would_overfill_the_queue(broker):
    """A COMMIT's persistent sends are journaled together; a reject-publish
    queue they would overfill refuses the COMMIT whole (nothing of it
    arrives, anywhere), as a SEND to it is refused. They used to go in past
    x-max-length."""
    q = "/queue/" + unique("txfull")
    other = "/queue/" + unique("txother")
    args = {"x-max-length": "2", "x-overflow": "reject-publish"}
    p = client(broker.port)
    p.send(q, "a", args)
    p.request("BEGIN", {"transaction": "t1"})
    for body in ("b", "c"):
        p.request("SEND", {"destination": q, "transaction": "t1", "persistent": "true"}, body.encode())
    p.request("SEND", {"destination": other, "transaction": "t1", "persistent": "true"}, b"elsewhere")
    err = p.expect_error("COMMIT", {"transaction": "t1"})
    assert "is full" in err["message"] and "transaction not committed" in err["message"], err
    c = client(broker.port)
    c.subscribe(q, "s")
    assert texts(c.read_messages(1)) == ["a"]
    c.subscribe(other, "s2")
    c.assert_no_frame(what="a send of the refused COMMIT")
    # One that fits is committed.
    p = client(broker.port)
    p.request("BEGIN", {"transaction": "t2"})
    p.request("SEND", {"destination": q, "transaction": "t2", "persistent": "true"}, b"d")
    p.request("COMMIT", {"transaction": "t2"})
    assert texts(c.read_messages(1)) == ["d"]


def test_reject_publish_from_php_tells_the_front_end(broker):
    """Peak shaving: a PHP front end learns at once that the queue is full."""
    name = unique("php-reject")
    q = "/queue/" + name
    hdrs = json.dumps({"x-max-length": "1", "x-overflow": "reject-publish"})
    first = run_php("dialect_headers.php", broker.port, q, "send", "one", hdrs)
    assert first["exception"] is None and first["sent"] is True, first
    second = run_php("dialect_headers.php", broker.port, q, "send", "two", hdrs)
    # The extension's send() returns false and error() says why.
    refused = str(second.get("error") or "") + str(second["exception"] or "")
    assert second.get("sent") is not True, second
    assert "message refused" in refused and "is full" in refused, second
    assert Api(broker).queue(name)["ready"] == 1


def test_reject_publish_dlx_dead_letters_the_refused_message(broker):
    name = unique("rpdlx")
    dlq = unique("rpdlx-dead")
    args = {"x-max-length": "1", "x-overflow": "reject-publish-dlx",
            "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq}
    p = client(broker.port)
    p.send("/queue/" + name, "kept", args)
    err = p.expect_error("SEND", dict(args, destination="/queue/" + name), b"refused")
    assert "message refused" in err["message"], err
    c = client(broker.port)
    c.subscribe("/queue/" + dlq, "d")
    m = c.read_message()
    assert m.text == "refused" and m["dead-letter-reason"] == "maxlen", m
    assert m["x-first-death-reason"] == "maxlen" and m["x-first-death-queue"] == name, m


def test_drop_head_dead_letters_when_the_queue_has_a_dlx(broker):
    name = unique("dhdlx")
    dlq = unique("dhdlx-dead")
    args = {"x-max-length": "1", "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq}
    p = client(broker.port)
    p.send("/queue/" + name, "old", args)
    p.send("/queue/" + name, "new", args)
    c = client(broker.port)
    c.subscribe("/queue/" + dlq, "d")
    m = c.read_message()
    assert m.text == "old" and m["dead-letter-reason"] == "maxlen", m
    assert m["original-destination"] == "/queue/" + name, m
    c.subscribe("/queue/" + name, "s")
    assert c.read_message().text == "new"


def test_max_length_from_stomp_py(broker):
    q = "/queue/" + unique("py-maxlen")
    conn, lst = py_connect(broker.port)
    for i in range(4):
        rid = py_rid()
        conn.send(q, "p%d" % i, headers={"x-max-length": "2", "receipt": rid})
        lst.wait_receipt(rid)
    conn.subscribe(q, id="s", ack="auto", headers={"x-max-length": "2"})
    got = [lst.get().body for _ in range(2)]
    assert got == ["p2", "p3"], got
    conn.disconnect()


# --------------------------------------------------------------------------
# x-message-ttl, x-dead-letter-exchange, x-dead-letter-routing-key
# --------------------------------------------------------------------------

def test_message_ttl_expires_messages(broker):
    q = "/queue/" + unique("qttl")
    p = client(broker.port)
    p.send(q, "gone", {"x-message-ttl": "150"})
    time.sleep(0.4)  # past the TTL (time is the subject here)
    c = client(broker.port)
    c.subscribe(q, "s", headers={"x-message-ttl": "150"})
    c.assert_no_frame(what="an expired message")
    p.send(q, "fresh", {"x-message-ttl": "150"})
    assert c.read_message().text == "fresh"


def test_expired_messages_are_dead_lettered_with_reason_expired(broker):
    name = unique("ttldlx")
    dlq = unique("ttldlx-dead")
    args = {"x-message-ttl": "100", "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq}
    p = client(broker.port)
    p.send("/queue/" + name, "late", args)
    c = client(broker.port)
    c.subscribe("/queue/" + dlq, "d")
    m = c.read_message()  # the broker's housekeeping notices the expiry
    assert m.text == "late" and m["dead-letter-reason"] == "expired", m
    assert m["x-first-death-reason"] == "expired", m


def test_message_ttl_from_stomp_py_with_dlx(broker):
    name = unique("py-ttl")
    conn, lst = py_connect(broker.port)
    dead = unique("py-ttl-dead")
    conn.subscribe("/queue/" + dead, id="d", ack="auto")
    rid = py_rid()
    conn.send("/queue/" + name, "x", headers={"x-message-ttl": "100", "x-dead-letter-exchange": "",
                                                  "x-dead-letter-routing-key": dead, "receipt": rid})
    lst.wait_receipt(rid)
    m = lst.get()
    assert m.body == "x" and m.headers["dead-letter-reason"] == "expired", m.headers
    conn.disconnect()


def test_nack_dead_letters_to_the_routing_key_queue(broker):
    name = unique("nack")
    target = unique("nack-target")
    c = client(broker.port)
    c.subscribe("/queue/" + name, "s", ack="client-individual",
                headers={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": target})
    c.send("/queue/" + name, "bad")
    m = c.read_message()
    c.nack(m, extra={"requeue": "false"})
    c.subscribe("/queue/" + target, "t")
    d = c.read_message()
    assert d.text == "bad" and d["dead-letter-reason"] == "rejected", d
    assert d["original-destination"] == "/queue/" + name and d["x-first-death-exchange"] == "", d


def test_dead_letter_exchange_without_key_uses_the_queue_name(broker):
    """The default exchange without a routing key: the message's own routing
    key, i.e. the queue's name, so it would come back to the same queue; a
    cycle, dropped as RabbitMQ drops it. With amq.topic and no key, the topic
    of the same name gets it."""
    name = unique("dlx-topic")
    sub = client(broker.port)
    sub.subscribe("/topic/" + name, "t")
    c = client(broker.port)
    c.subscribe("/queue/" + name, "s", ack="client",
                headers={"x-dead-letter-exchange": "amq.topic"})
    c.send("/queue/" + name, "to-topic", {"persistent": "true"})
    m = c.read_message()
    c.nack(m, extra={"requeue": "false"})
    d = sub.read_message()
    assert d.text == "to-topic" and d["destination"] == "/topic/" + name, d
    assert d["dead-letter-reason"] == "rejected", d


def test_dead_letter_arguments_checked_at_declare(broker):
    """Any exchange may take dead letters (test_dead_letter_exchanges.py), even one
    not declared yet, as in RabbitMQ; a routing key without an exchange is refused."""
    c = client(broker.port)
    c.subscribe("/queue/" + unique(), "s", headers={"x-dead-letter-exchange": "my.exchange"})
    c = client(broker.port)
    err = c.expect_error("SEND", {"destination": "/queue/" + unique(), "x-dead-letter-routing-key": "k"})
    assert err["message"] == "invalid queue argument x-dead-letter-routing-key", err


# --------------------------------------------------------------------------
# x-expires
# --------------------------------------------------------------------------

def test_expires_deletes_an_unused_queue(broker):
    name = unique("qexp")
    api = Api(broker)
    c = client(broker.port)
    c.subscribe("/queue/" + name, "s", headers={"x-expires": "300"})
    c.send("/queue/" + name, "x", receipt=True)
    c.read_message()
    time.sleep(0.5)  # in use (a consumer): not deleted however long
    assert api.queue(name)["arguments"] == {"x-expires": 300}
    c.unsubscribe("s")
    c.send("/queue/" + name, "left behind")
    wait_for(lambda: api.raw("GET", api.q(name))[0] == 404, "the unused queue to be deleted")


# --------------------------------------------------------------------------
# x-max-priority, x-single-active-consumer, x-queue-type
# --------------------------------------------------------------------------

def test_max_priority_bounds_priorities(broker):
    """Priorities above x-max-priority count as x-max-priority: 5 and 9 are
    equal on a queue with x-max-priority 2 (first in, first out); on a queue
    without it, 9 goes first."""
    bounded, plain = "/queue/" + unique("prio"), "/queue/" + unique("prio-plain")
    p = client(broker.port)
    for q, args in ((bounded, {"x-max-priority": "2"}), (plain, {})):
        p.send(q, "five", dict(args, priority="5"))
        p.send(q, "nine", dict(args, priority="9"))
        p.send(q, "zero", dict(args, priority="0"))
    c = client(broker.port)
    c.subscribe(bounded, "b")
    assert texts(c.read_messages(3)) == ["five", "nine", "zero"]
    c.subscribe(plain, "p")
    assert texts(c.read_messages(3)) == ["nine", "five", "zero"]


def test_single_active_consumer_stands_by_and_takes_over(broker):
    q = "/queue/" + unique("sac")
    args = {"x-single-active-consumer": "true"}
    first, second = client(broker.port), client(broker.port)
    first.subscribe(q, "a", ack="client-individual", headers=args)
    second.subscribe(q, "b", ack="client-individual", headers=args)
    p = client(broker.port)
    for i in range(4):
        p.send(q, "m%d" % i)
    got = first.read_messages(4)
    assert texts(got) == ["m0", "m1", "m2", "m3"]
    second.assert_no_frame(what="a message for the consumer standing by")
    first.ack(got[0])
    first.close()  # the others come back, redelivered, to the one standing by
    taken = second.read_messages(3)
    assert texts(taken) == ["m1", "m2", "m3"]
    assert all(m["redelivered"] == "true" for m in taken), taken


def test_queue_type(broker):
    c = client(broker.port)
    c.subscribe("/queue/" + unique("classic"), "c", headers={"x-queue-type": "classic"})
    c.subscribe("/queue/" + unique("quorum"), "q", headers={"x-queue-type": "quorum"})
    # x-queue-type:stream names a stream, on a SUBSCRIBE or SEND
    # (test_streams.py) as through the management API
    # (test_stream_management.py); an unknown type is refused.
    api = Api(broker)
    status, _, data = api.raw("PUT", api.q(unique()), json.dumps({"arguments": {"x-queue-type": "stream"}}))
    assert status == 201, (status, data)
    status, _, data = api.raw("PUT", api.q(unique()), json.dumps({"arguments": {"x-queue-type": "mirrored"}}))
    assert status == 400 and b"x-queue-type" in data, (status, data)


# --------------------------------------------------------------------------
# Redeclaration and bad values
# --------------------------------------------------------------------------

def test_redeclare_with_other_arguments_is_refused_and_changes_nothing(broker):
    name = unique("redecl")
    q = "/queue/" + name
    a = client(broker.port)
    a.subscribe(q, "s", headers={"x-max-length": "5"})
    b = client(broker.port)
    b.send(q, "same", {"x-max-length": "5"})   # the same arguments: fine
    b.send(q, "plain")                          # none: the queue as it is
    err = b.expect_error("SEND", {"destination": q, "x-max-length": "10"}, b"other")
    # RabbitMQ's text (the raw frame keeps STOMP 1.2's escape of ':').
    assert err["message"].replace("\\c", ":") == (
        "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '%s' in vhost '/':"
        " received '10' but current is '5'" % name), err
    c = client(broker.port)
    err = c.expect_error("SUBSCRIBE", {"destination": "/amq/queue/" + name, "id": "s",
                                       "x-max-length": "5", "x-message-ttl": "1000"})
    assert "inequivalent arg 'x-message-ttl'" in err["message"], err
    assert "received '1000' but current is none" in err["message"], err
    assert texts(a.read_messages(2)) == ["same", "plain"]
    a.assert_no_frame(what="the refused SEND's message")
    assert Api(broker).queue(name)["arguments"] == {"x-max-length": 5}


def test_redeclare_mismatch_from_stomp_py_and_php(broker):
    name = unique("redecl-clients")
    q = "/queue/" + name
    conn, lst = py_connect(broker.port)
    rid = py_rid()
    conn.send(q, "x", headers={"x-message-ttl": "60000", "receipt": rid})
    lst.wait_receipt(rid)
    conn.send(q, "y", headers={"x-message-ttl": "5000", "receipt": py_rid()})
    err = lst.errors.get(timeout=WAIT)
    assert "inequivalent arg 'x-message-ttl'" in err.headers["message"], err.headers
    res = run_php("dialect_headers.php", broker.port, q, "send", "z", json.dumps({"x-message-ttl": "1"}))
    assert res.get("sent") is not True, res
    assert "received '1' but current is '60000'" in str(res.get("error")) + str(res["exception"]), res


@pytest.mark.parametrize("header,value", [
    ("x-max-length", "ten"), ("x-max-length", "-1"), ("x-max-length-bytes", "1.5"),
    ("x-message-ttl", "-5"), ("x-expires", "0"), ("x-max-priority", "256"),
    ("x-overflow", "drop-tail"), ("x-single-active-consumer", "yes"), ("x-queue-type", "lazy"),
    ("x-max-length", "99999999999999999999"),
])
def test_bad_values_are_errors_naming_the_argument(broker, header, value):
    for command, extra in (("SEND", {}), ("SUBSCRIBE", {"id": "s"})):
        c = client(broker.port)
        err = c.expect_error(command, dict(extra, destination="/queue/" + unique(), **{header: value}))
        assert err["message"] == "invalid queue argument " + header, err
        assert value[:20] in err.text, err.text


def test_arguments_on_a_topic_subscription_are_refused(broker):
    c = client(broker.port)
    err = c.expect_error("SUBSCRIBE", {"destination": "/topic/" + unique(), "id": "s", "x-max-length": "1"})
    assert err["message"] == "unsupported header", err


# --------------------------------------------------------------------------
# Management API
# --------------------------------------------------------------------------

def test_management_put_with_arguments(broker):
    api = Api(broker)
    name = unique("api")
    args = {"x-max-length": 2, "x-overflow": "reject-publish", "x-message-ttl": 60000,
            "x-single-active-consumer": True}
    api.call("PUT", api.q(name), {"arguments": args}, expect=201)
    assert api.queue(name)["arguments"] == args
    listed = [q for q in api.get("/api/queues") if q["name"] == name]
    assert listed[0]["arguments"] == args
    api.call("PUT", api.q(name), {"arguments": args}, expect=204)       # the same again
    api.call("PUT", api.q(name), None, expect=204)                      # none: as it is
    status, _, body = api.raw("PUT", api.q(name), json.dumps({"arguments": {"x-max-length": 3}}))
    assert status == 400, (status, body)
    assert b"inequivalent arg 'x-max-length'" in body and b"received '3' but current is '2'" in body, body
    assert api.queue(name)["arguments"] == args
    # STOMP sees the same queue, arguments and all.
    p = client(broker.port)
    p.send("/queue/" + name, "a")
    p.send("/queue/" + name, "b")
    err = p.expect_error("SEND", {"destination": "/queue/" + name}, b"c")
    assert "message refused" in err["message"], err
    c = client(broker.port)
    err = c.expect_error("SUBSCRIBE", {"destination": "/queue/" + name, "id": "s", "x-max-length": "7"})
    assert "received '7' but current is '2'" in err["message"], err
    for bad in ({"x-max-length": -1}, {"x-overflow": "nope"}, {"x-unknown": 1}, {"x-queue-type": "mirrored"}):
        status, _, body = api.raw("PUT", api.q(unique()), json.dumps({"arguments": bad}))
        assert status == 400, (bad, status, body)


# --------------------------------------------------------------------------
# Restarts
# --------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["term", "kill"], ids=["sigterm", "kill9"])
def test_arguments_survive_a_restart(broker_factory, tmp_path, how):
    b = broker_factory(data_dir=str(tmp_path / "data"))
    stomp_q, api_q = unique("restart-stomp"), unique("restart-api")
    c = client(b.port)
    c.subscribe("/queue/" + stomp_q, "s", headers={"x-max-length": "2", "x-dead-letter-exchange": ""})
    c.close()
    Api(b).call("PUT", Api(b).q(api_q), {"arguments": {"x-max-length": 1}}, expect=201)
    p = client(b.port)
    for i in range(3):
        p.send("/queue/" + stomp_q, "m%d" % i, {"persistent": "true"})
    p.close()
    b = restart(broker_factory, b, how)
    api = Api(b)
    assert api.queue(stomp_q)["arguments"] == {"x-max-length": 2, "x-dead-letter-exchange": ""}
    assert api.queue(api_q)["arguments"] == {"x-max-length": 1}
    c = client(b.port)
    err = c.expect_error("SEND", {"destination": "/queue/" + stomp_q, "x-max-length": "3"}, b"x")
    assert "received '3' but current is '2'" in err["message"], err
    c = client(b.port)
    c.send("/queue/" + stomp_q, "m3")  # still bounded: m1 goes (to DLQ queue of the same name: a cycle, dropped)
    c.subscribe("/queue/" + stomp_q, "s")
    assert texts(c.read_messages(2)) == ["m2", "m3"]
    c.assert_no_frame(what="a message beyond x-max-length after the restart")


# --------------------------------------------------------------------------
# Every argument from PHP (the stomp extension), as a PHP worker writes them
# --------------------------------------------------------------------------

def _php_send(broker, q, body, headers):
    res = run_php("dialect_headers.php", broker.port, q, "send", body, json.dumps(headers))
    assert res["exception"] is None and res["sent"] is True, res
    return res


def _php_consume(broker, q, headers, n):
    res = run_php("dialect_headers.php", broker.port, q, "consume", json.dumps(headers), n)
    assert res["exception"] is None, res
    return res


def test_every_argument_from_php(broker):
    api = Api(broker)
    # x-max-length and x-max-length-bytes (drop-head)
    q = unique("php-len")
    for i in range(3):
        _php_send(broker, "/queue/" + q, "L%d" % i, {"x-max-length": "2"})
    assert _php_consume(broker, "/queue/" + q, {"x-max-length": "2"}, 5)["bodies"] == ["L1", "L2"]
    q = unique("php-bytes")
    for i in range(3):
        _php_send(broker, "/queue/" + q, "B%d" % i, {"x-max-length-bytes": "4"})
    assert _php_consume(broker, "/queue/" + q, {}, 5)["bodies"] == ["B1", "B2"]
    # x-message-ttl with x-dead-letter-exchange / -routing-key
    q, dead = unique("php-ttl"), unique("php-ttl-dead")
    dl = {"x-message-ttl": "50", "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead}
    _php_send(broker, "/queue/" + q, "T", dl)
    wait_for(lambda: (api.queue(dead, expect=(200, 404)) or {}).get("ready") == 1, "the expired message's dead letter")
    got = _php_consume(broker, "/queue/" + dead, {}, 1)
    assert got["bodies"] == ["T"] and got["headers"][0]["dead-letter-reason"] == "expired", got
    # x-max-priority
    q = unique("php-prio")
    for body, prio in (("five", "5"), ("nine", "9")):
        _php_send(broker, "/queue/" + q, body, {"x-max-priority": "1", "priority": prio})
    assert _php_consume(broker, "/queue/" + q, {"x-max-priority": "1"}, 2)["bodies"] == ["five", "nine"]
    # x-single-active-consumer, x-queue-type, x-expires, x-overflow: declared from PHP, shown by the API
    q = unique("php-decl")
    decl = {"x-single-active-consumer": "true", "x-queue-type": "quorum", "x-expires": "600000",
            "x-overflow": "reject-publish", "x-max-length": "10"}
    _php_send(broker, "/queue/" + q, "D", decl)
    assert _php_consume(broker, "/queue/" + q, decl, 1)["bodies"] == ["D"]
    assert api.queue(q)["arguments"] == {"x-single-active-consumer": True, "x-queue-type": "quorum",
                                         "x-expires": 600000, "x-overflow": "reject-publish", "x-max-length": 10}


def test_expires_deletes_a_management_declared_queue_for_good(broker_factory, tmp_path):
    data = tmp_path / "data"
    b = broker_factory(data_dir=str(data))
    api = Api(b)
    name = unique("api-lease")
    api.call("PUT", api.q(name), {"arguments": {"x-expires": 200}}, expect=201)
    assert name in [e["name"] for e in json.loads((data / "declared-queues.json").read_text())]
    wait_for(lambda: api.raw("GET", api.q(name))[0] == 404, "the unused queue to be deleted")
    wait_for(lambda: name not in [e["name"] for e in json.loads((data / "declared-queues.json").read_text())],
             "the queue to leave declared-queues.json")
    b = restart(broker_factory, b)
    assert Api(b).raw("GET", Api(b).q(name))[0] == 404


# --------------------------------------------------------------------------
# x-delivery-limit (RabbitMQ's quorum queues)
# --------------------------------------------------------------------------

def test_delivery_limit_dead_letters_after_that_many_failed_deliveries(broker):
    name = unique("dlimit")
    c = client(broker.port)
    # max-deliveries is 10 by default: the argument overrides it.
    c.subscribe("/queue/" + name, "s", ack="client-individual", headers={"x-delivery-limit": "1"})
    p = client(broker.port)
    p.send("/queue/" + name, "poison")
    first = c.read_message()
    c.nack(first)
    second = c.read_message()
    assert second.text == "poison" and second["redelivered"] == "true", second
    c.nack(second)
    c.assert_no_frame(what="a third delivery past x-delivery-limit 1")
    d = client(broker.port)
    d.subscribe("/queue/DLQ." + name, "d")
    m = d.read_message()
    assert m.text == "poison" and m["dead-letter-reason"] == "delivery_limit", m
    assert Api(broker).queue(name)["arguments"] == {"x-delivery-limit": 1}
