"""max-queues (issue 18 item 9): the number of queues per vhost is bounded,
over every shard; the SEND, SUBSCRIBE or management PUT that would create one
more is refused with an error naming the limit, and queues that exist stay
usable. The memory a queue costs shows in the overview."""
from __future__ import annotations

import time

from support import client, unique
from mgmt import Api

LIMIT = 5


def fill(b, names):
    c = client(b.port)
    for n in names:
        c.send("/queue/" + n, "x")
    return c


def test_send_past_max_queues_is_refused(broker_factory):
    b = broker_factory(max_queues=LIMIT)
    names = [unique("ql") for _ in range(LIMIT)]
    c = fill(b, names)
    # The queues exist (they hold a message each): one more is refused.
    err = c.expect_error("SEND", {"destination": "/queue/" + unique("ql")}, b"y")
    assert "max-queues" in err["message"], err
    # Existing queues still take messages, from a new connection too.
    c2 = client(b.port)
    c2.send("/queue/" + names[0], "again")
    c2.subscribe("/queue/" + names[0], "s1")
    assert [m.body for m in c2.read_messages(2)] == [b"x", b"again"]


def test_subscribe_past_max_queues_is_refused(broker_factory):
    b = broker_factory(max_queues=LIMIT)
    fill(b, [unique("ql") for _ in range(LIMIT)])
    c = client(b.port)
    err = c.expect_error("SUBSCRIBE", {"destination": "/queue/" + unique("ql"), "id": "s1"})
    assert "max-queues" in err["message"], err


def try_create(b) -> str | None:
    """A SEND with a receipt to a new queue: None if it was made, else the
    ERROR's message."""
    c = client(b.port)
    rid = c.next_rid()
    c.send_frame("SEND", [("destination", "/queue/" + unique("ql")), ("receipt", rid)], b"z")
    f = c.read_frame()
    c.close()
    return None if f.command == "RECEIPT" else f.get("message", "")


def test_drained_queue_stays_and_deleting_it_makes_room(broker_factory):
    b = broker_factory(max_queues=LIMIT)
    names = [unique("ql") for _ in range(LIMIT)]
    fill(b, names)
    # Drain one queue: it stays (as a RabbitMQ or ActiveMQ queue does), so
    # the vhost is still full well after the broker's housekeeping ran.
    c = client(b.port)
    c.subscribe("/queue/" + names[0], "s1")
    c.read_message()
    c.unsubscribe("s1")
    api = Api(b)
    time.sleep(1.5)
    assert names[0] in api.queues()
    err = try_create(b)
    assert err is not None and "max-queues" in err, err
    # Deleting it frees its slot for another name.
    api.call("DELETE", Api.q(names[0]), expect=204)
    deadline = time.time() + 10
    while (err := try_create(b)) is not None:
        assert "max-queues" in err, err
        assert time.time() < deadline, "the deleted queue never made room"
        time.sleep(0.2)
    assert api.get("/api/overview")["memory"]["destinations_bytes"] > 0


def test_put_past_max_queues_is_refused(broker_factory):
    b = broker_factory(max_queues=LIMIT, http_listen="127.0.0.1:0")
    api = Api(b)
    names = [unique("ql") for _ in range(LIMIT)]
    for n in names:
        api.call("PUT", Api.q(n), expect=201)
    status, _, body = api.raw("PUT", Api.q(unique("ql")))
    assert status == 409 and b"max-queues" in body, (status, body)
    # A queue that exists is still declared again without complaint.
    api.call("PUT", Api.q(names[0]), expect=204)
    # And a SEND to a new one is refused as well: the count is shared.
    c = client(b.port)
    err = c.expect_error("SEND", {"destination": "/queue/" + unique("ql")}, b"y")
    assert "max-queues" in err["message"], err


def test_max_queues_zero_means_no_limit(broker_factory):
    b = broker_factory(max_queues=0)
    c = fill(b, [unique("ql") for _ in range(50)])
    c.send("/queue/" + unique("ql"), "one more")


# --- Fairness (issue 18 item 10) -------------------------------------------------

def test_large_fan_out_delivers_every_message_once_in_order(broker_factory):
    """A topic with more subscribers than the broker serves per loop turn
    (the fan-out goes on in later turns): every subscription still gets every
    message exactly once, in publish order, and SEND round trips on another
    queue keep working meanwhile."""
    b = broker_factory()
    topic = "/topic/" + unique("fan")
    subs_per_conn, conns, count = 150, 4, 40  # 600 subscriptions > 256 per turn
    readers = []
    for c in range(conns):
        r = client(b.port)
        for s in range(subs_per_conn):
            r.subscribe(topic, "s%d" % s)
        readers.append(r)
    producer = client(b.port)
    for i in range(count):
        producer.send(topic, "m%03d" % i, receipt=False)
    other = client(b.port)
    other.send("/queue/" + unique("probe"), "ping")  # a round trip meanwhile
    producer.send(topic, "end")  # the RECEIPT: every publish before it was fanned out
    for r in readers:
        got: dict[str, list[bytes]] = {}
        for m in r.read_messages(subs_per_conn * (count + 1), timeout=60):
            got.setdefault(m["subscription"], []).append(m.body)
        assert len(got) == subs_per_conn
        want = [b"m%03d" % i for i in range(count)] + [b"end"]
        for sub, bodies in got.items():
            assert bodies == want, (sub, bodies[:5], len(bodies))
        r.assert_no_frame()
