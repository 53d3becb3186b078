"""Dead-lettering RabbitMQ's way (issue 12; docs/routing.md, "Dead-lettering"):
x-dead-letter-exchange may name any exchange (direct, fanout, topic, headers), the
routing key defaults to the message's own, the dead letter carries x-death and
x-first-death-*, the move is one journal record (kill -9 keeps it in exactly one
place), and cycles are broken as RabbitMQ breaks them."""
from __future__ import annotations

import json
import time
import urllib.parse

import pytest

from mgmt import Api
from support import client, unique

V = "%2F"


def declare(api: Api, name: str, type_: str):
    api.call("PUT", "/api/exchanges/%s/%s" % (V, urllib.parse.quote(name, safe="")), {"type": type_}, expect=201)


def make_queue(api: Api, name: str, arguments=None):
    api.call("PUT", Api.q(name), {"arguments": arguments or {}}, expect=(201, 204))


def bind(api: Api, source: str, queue: str, key: str = "", arguments=None):
    body = {"routing_key": key}
    if arguments is not None:
        body["arguments"] = arguments
    status, _, data = api.raw("POST", "/api/bindings/%s/e/%s/q/%s" % (V, urllib.parse.quote(source, safe=""),
                                                                   urllib.parse.quote(queue, safe="")),
                              json.dumps(body))
    assert status == 201, (status, data)


def x_death(frame) -> list[dict]:
    """The x-death header as a list of tables (docs/routing.md's text form)."""
    out = []
    for table in frame["x-death"].split(","):
        fields = dict(f.split("=", 1) for f in table.split(";"))
        out.append({k: urllib.parse.unquote(v) for k, v in fields.items()})
    return out


def reject(c, sub="s"):
    m = c.read_message()
    c.nack(m, extra={"requeue": "false"})
    return m


@pytest.mark.parametrize("kind", ["direct", "fanout", "topic", "headers"])
def test_dead_letter_exchange_of_any_type(broker, kind):
    api = Api(broker)
    x, src, t1, t2 = unique("dlx-" + kind), unique("src"), unique("t1"), unique("t2")
    declare(api, x, kind)
    for t in (t1, t2):
        make_queue(api, t)
    if kind == "headers":
        bind(api, x, t1, arguments={"x-match": "all", "colour": "red"})
        bind(api, x, t2, arguments={"x-match": "all", "colour": "blue"})
    elif kind == "topic":
        bind(api, x, t1, "parked.#")
        bind(api, x, t2, "other.*")
    else:
        bind(api, x, t1, "parked.k")
        bind(api, x, t2, "other")
    args = {"x-dead-letter-exchange": x, "x-dead-letter-routing-key": "parked.k"}
    c = client(broker.port)
    c.subscribe("/queue/" + src, "s", ack="client-individual", headers=args)
    c.send("/queue/" + src, "bad", {"persistent": "true", "colour": "red"})
    reject(c)
    r = client(broker.port)
    r.subscribe("/queue/" + t1, "t1")
    d = r.read_message()
    assert d.text == "bad" and d["dead-letter-reason"] == "rejected", d
    assert d["x-first-death-queue"] == src and d["x-first-death-reason"] == "rejected", d
    assert d["x-first-death-exchange"] == "", d  # where it was published: the default exchange
    assert d["destination"] == "/exchange/%s/parked.k" % x, d
    [death] = x_death(d)
    assert death["queue"] == src and death["reason"] == "rejected" and death["count"] == "1", death
    assert death["exchange"] == "" and death["routing-keys"] == src, death
    assert abs(int(death["time"]) - time.time()) < 3600, death
    if kind == "fanout":  # every bound queue takes it
        r.subscribe("/queue/" + t2, "t2")
        assert r.read_message().text == "bad"
    else:
        assert Api(broker).queue(t2)["messages"] == 0


def test_dead_letter_routing_key_defaults_to_the_messages_own(broker):
    api = Api(broker)
    x, src, target = unique("dlx-own"), unique("src"), unique("target")
    declare(api, x, "direct")
    make_queue(api, src, {"x-dead-letter-exchange": x})
    make_queue(api, target)
    bind(api, "amq.direct", src, "orders.k")
    bind(api, x, target, "orders.k")
    c = client(broker.port)
    c.send("/exchange/amq.direct/orders.k", "m")
    c.subscribe("/queue/" + src, "s", ack="client")
    reject(c)
    c.subscribe("/queue/" + target, "t")
    d = c.read_message()
    assert d.text == "m", d
    [death] = x_death(d)
    assert death["exchange"] == "amq.direct" and death["routing-keys"] == "orders.k", death
    assert d["x-first-death-exchange"] == "amq.direct", d


def test_dead_letter_to_a_missing_exchange_is_dropped(broker):
    """Declared before the exchange exists, as RabbitMQ allows; until it does,
    a dead letter is dropped (RabbitMQ's behaviour), never kept in the source."""
    api = Api(broker)
    src, target, x = unique("src"), unique("target"), unique("later")
    c = client(broker.port)
    c.subscribe("/queue/" + src, "s", ack="client-individual", headers={"x-dead-letter-exchange": x})
    c.send("/queue/" + src, "lost")
    reject(c)
    declare(api, x, "fanout")
    make_queue(api, target)
    bind(api, x, target)
    c.send("/queue/" + src, "kept")
    reject(c)
    r = client(broker.port)
    r.subscribe("/queue/" + target, "t")
    assert r.read_message().text == "kept"
    r.assert_no_frame(what="the dead letter from before the exchange existed")


def test_rejected_cycles_are_allowed_and_counted(broker):
    """A queue dead-lettering to itself: a consumer that rejects sees it again,
    x-death counting the rejections (RabbitMQ allows cycles with a rejection)."""
    src = unique("self")
    c = client(broker.port)
    c.subscribe("/queue/" + src, "s", ack="client-individual", headers={"x-dead-letter-exchange": ""})
    c.send("/queue/" + src, "again", {"persistent": "true"})
    reject(c)
    second = reject(c)
    [death] = x_death(second)
    assert death["queue"] == src and death["reason"] == "rejected" and death["count"] == "1", death
    third = c.read_message()
    [death] = x_death(third)
    assert death["count"] == "2", death
    assert third["x-first-death-queue"] == src, third
    c.ack(third)


def test_expiry_cycles_are_broken(broker):
    """a expires into b, b expires into a fanout bound to a and c: the copy for a
    would close a loop of expiries, so only c gets it, once."""
    api = Api(broker)
    a, b, c_name, f = unique("cyc-a"), unique("cyc-b"), unique("cyc-c"), unique("cyc-f")
    declare(api, f, "fanout")
    make_queue(api, a, {"x-message-ttl": 100, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": b})
    make_queue(api, b, {"x-message-ttl": 100, "x-dead-letter-exchange": f})
    make_queue(api, c_name)
    bind(api, f, a)
    bind(api, f, c_name)
    p = client(broker.port)
    p.send("/queue/" + a, "round", {"persistent": "true"})
    c = client(broker.port)
    c.subscribe("/queue/" + c_name, "c")
    d = c.read_message()
    assert d.text == "round", d
    assert [(e["queue"], e["reason"]) for e in x_death(d)] == [(b, "expired"), (a, "expired")], d
    # Without the rule the copy in a would expire again and again: another
    # copy would reach c every few hundred milliseconds.
    c.assert_no_frame(timeout=1.5, what="a second trip round the cycle")


@pytest.mark.parametrize("how", ["term", "kill"])
def test_dead_letter_move_survives_a_crash_in_every_target(broker_factory, how):
    """The move is one journal record (the ack in the source and the copy in
    each routed queue): after a restart it is in both targets and not in the
    source."""
    b = broker_factory()
    api = Api(b)
    x, src, t1, t2 = unique("dlx-crash"), unique("src"), unique("t1"), unique("t2")
    declare(api, x, "fanout")
    make_queue(api, t1)
    make_queue(api, t2)
    make_queue(api, src, {"x-dead-letter-exchange": x})
    bind(api, x, t1)
    bind(api, x, t2)
    c = client(b.port)
    c.send("/queue/" + src, "moved", {"persistent": "true"})
    c.subscribe("/queue/" + src, "s", ack="client-individual")
    reject(c)  # its RECEIPT comes once the move is durable
    if how == "kill":
        b.kill()
    else:
        assert b.stop() == 0
        b.killed = True
    opts = dict(b.opts)
    opts["data_dir"] = b.data_dir
    b = broker_factory(**opts)
    c = client(b.port)
    for t in (t1, t2):
        c.subscribe("/queue/" + t, t)
        d = c.read_message()
        assert d.text == "moved" and x_death(d)[0]["queue"] == src, d
    c.subscribe("/queue/" + src, "s")
    c.assert_no_frame(what="the moved message back in its source queue")
