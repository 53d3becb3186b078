"""Wildcard topic subscriptions: RabbitMQ's (`*` one word, `#` zero or more)
and ActiveMQ's (`*`, `>` the rest) on /topic/, with stomp.py and raw frames.
Each test runs with 1 and 2 shards (the conftest fixtures), so the wildcard
topic and the topics it matches often live on different shards."""
import pytest

from support import QUIET, client, py_connect, py_rid, unique


def _bodies(c, n):
    return sorted(m.body for m in c.read_messages(n))


@pytest.mark.parametrize("pattern,matching,other", [
    ("{p}.*", ["{p}.eu", "{p}.us"], ["{p}", "{p}.eu.paris", "x{p}.eu"]),
    ("{p}.#", ["{p}", "{p}.eu", "{p}.eu.paris"], ["x{p}.eu", "other.{p}"]),
    ("{p}.>", ["{p}", "{p}.eu", "{p}.eu.paris"], ["x{p}.eu"]),
    ("*.{p}.*", ["a.{p}.b"], ["{p}.b", "a.{p}", "a.b.{p}.c"]),
    ("#.{p}", ["{p}", "a.{p}", "a.b.{p}"], ["{p}.a"]),
])
def test_wildcard_subscription_gets_exactly_the_matching_topics(broker, pattern, matching, other):
    p = unique("w")
    sub = client(broker.port)
    sub.subscribe("/topic/" + pattern.format(p=p), "w", ack="auto")
    pub = client(broker.port)
    for i, name in enumerate(matching + other):
        pub.send("/topic/" + name.format(p=p), "%s" % name.format(p=p))
    got = sub.read_messages(len(matching))
    assert sorted(m.body.decode() for m in got) == sorted(n.format(p=p) for n in matching)
    # The MESSAGE names the topic it was sent to, not the pattern.
    assert {m["destination"] for m in got} == {"/topic/" + n.format(p=p) for n in matching}
    sub.assert_no_frame(QUIET)
    sub.close()
    pub.close()


def test_exact_and_wildcard_subscribers_each_get_one_copy(broker):
    p = unique("w")
    exact, star, hashes = client(broker.port), client(broker.port), client(broker.port)
    exact.subscribe("/topic/%s.a" % p, "e")
    star.subscribe("/topic/%s.*" % p, "s")
    # Two overlapping patterns of one connection: a copy per subscription.
    hashes.subscribe("/topic/%s.#" % p, "h1")
    hashes.subscribe("/topic/#.a", "h2")
    pub = client(broker.port)
    pub.send("/topic/%s.a" % p, "one")
    for c in (exact, star):
        assert [m.body for m in c.read_messages(1)] == [b"one"]
        c.assert_no_frame(QUIET)
    got = hashes.read_messages(2)
    assert sorted(m["subscription"] for m in got) == ["h1", "h2"]
    hashes.assert_no_frame(QUIET)


def test_one_producer_order_is_kept_for_a_wildcard_subscriber(broker):
    p = unique("w")
    sub = client(broker.port)
    sub.subscribe("/topic/%s.*" % p, "w")
    pub = client(broker.port)
    names = ["a", "b", "c", "d"]
    n = 200
    for i in range(n):
        pub.send("/topic/%s.%s" % (p, names[i % 4]), str(i), receipt=(i == n - 1))
    got = [int(m.body) for m in sub.read_messages(n)]
    assert got == list(range(n))


def test_unsubscribed_wildcard_gets_nothing_more_and_others_go_on(broker):
    p = unique("w")
    a, b = client(broker.port), client(broker.port)
    a.subscribe("/topic/%s.*" % p, "a")
    b.subscribe("/topic/%s.*" % p, "b")
    pub = client(broker.port)
    pub.send("/topic/%s.x" % p, "1")
    assert [m.body for m in a.read_messages(1)] == [b"1"]
    assert [m.body for m in b.read_messages(1)] == [b"1"]
    a.request("UNSUBSCRIBE", [("id", "a")])
    pub.send("/topic/%s.x" % p, "2")
    assert [m.body for m in b.read_messages(1)] == [b"2"]
    a.assert_no_frame(QUIET)
    # The last subscriber's connection goes: the pattern is forgotten, and
    # publishing goes on as before.
    b.close()
    pub.send("/topic/%s.x" % p, "3")
    c = client(broker.port)
    c.subscribe("/topic/%s.#" % p, "c")
    pub.send("/topic/%s.y" % p, "4")
    assert [m.body for m in c.read_messages(1)] == [b"4"]


def test_wildcard_with_client_ack_and_prefetch(broker):
    p = unique("w")
    sub = client(broker.port)
    sub.subscribe("/topic/%s.>" % p, "w", ack="client-individual", headers={"activemq.prefetchSize": "1"})
    pub = client(broker.port)
    for i in range(3):
        pub.send("/topic/%s.k%d" % (p, i), "m%d" % i)
    first = sub.read_message()
    sub.assert_no_frame(QUIET)  # window of one
    sub.ack(first)
    second = sub.read_message()
    assert (first.body, second.body) == (b"m0", b"m1")


def test_send_to_a_wildcard_destination_is_an_error(broker):
    c = client(broker.port)
    err = c.expect_error("SEND", [("destination", "/topic/%s.*" % unique("w"))], b"x")
    assert "wildcard" in err.text


@pytest.mark.parametrize("dest", ["/topic/a.>.b", "/topic/" + ".".join(["w"] * 300) + ".*"])
def test_bad_wildcard_pattern_is_an_error_naming_it(broker, dest):
    c = client(broker.port)
    err = c.expect_error("SUBSCRIBE", [("destination", dest), ("id", "s")])
    assert "pattern" in err.text or ">" in err.text


def test_durable_wildcard_subscription_is_refused_not_ignored(broker):
    c = client(broker.port)
    err = c.expect_error("SUBSCRIBE", [("destination", "/topic/%s.*" % unique("w")), ("id", "d"),
                                       ("durable", "true"), ("auto-delete", "false")])
    assert "wildcard" in err.text and "durable" in err.text


def test_stomp_py_wildcard_subscriber(broker):
    p = unique("w")
    conn, lst = py_connect(broker.port)
    rid = py_rid()
    conn.subscribe("/topic/%s.#" % p, id="py", ack="auto", headers={"receipt": rid})
    lst.wait_receipt(rid)
    pub = client(broker.port)
    pub.send("/topic/%s.orders.eu" % p, "order-1")
    m = lst.get()
    assert m.body == "order-1"
    assert m.headers["destination"] == "/topic/%s.orders.eu" % p
    lst.none()
    conn.disconnect()
