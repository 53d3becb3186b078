"""ActiveMQ's composite destinations (docs/dialects.md, "Composite
destinations"): a SEND to `/queue/a,/queue/b,/topic/c` delivers one copy to
each element, with one RECEIPT; an element without a prefix takes the first
element's; a bad or refused element is an ERROR naming it and nothing is
sent; at most max-composite-destinations elements; a SUBSCRIBE to one is
refused. Raw frames, stomp.py, PHP and a restart after kill -9."""
from __future__ import annotations

import pytest

from support import QUIET, client, py_connect, py_rid, restart, run_ferry, run_php, unique


def _assert_empty(port: int, dest: str):
    """Nothing waits in (or arrives at) `dest`."""
    c = client(port)
    c.subscribe(dest, "check")
    c.assert_no_frame(QUIET)
    c.close()


def test_one_copy_to_each_queue_and_topic(broker):
    a, b, t = "/queue/" + unique("a"), "/queue/" + unique("b"), "/topic/" + unique("t")
    sub = client(broker.port)
    sub.subscribe(t, "t")
    producer = client(broker.port)
    producer.send("%s,%s,%s" % (a, b, t), "hello", headers={"reply-to": "/queue/answers", "x-app": "1"})
    m = sub.read_message()
    assert (m.body, m["destination"], m["x-app"]) == (b"hello", t, "1")
    sub.assert_no_frame(QUIET)
    for q in (a, b):
        c = client(broker.port)
        c.subscribe(q, "q")
        m = c.read_message()
        assert (m.body, m["destination"], m["reply-to"]) == (b"hello", q, "/queue/answers")
        c.assert_no_frame(QUIET)
        c.close()


def test_elements_without_prefix_take_the_first_elements_type(broker):
    base = unique("orders")
    t1, t2 = unique("t1"), unique("t2")
    sub = client(broker.port)
    sub.subscribe("/topic/" + t2, "t2")
    p = client(broker.port)
    p.send("/queue/%s.a,%s.b" % (base, base), "q")  # = /queue/X.a and /queue/X.b
    p.send("/topic/%s,%s" % (t1, t2), "t")          # = /topic/t1 and /topic/t2
    assert sub.read_message()["destination"] == "/topic/" + t2
    for q in ("/queue/%s.a" % base, "/queue/%s.b" % base):
        c = client(broker.port)
        c.subscribe(q, "q")
        assert c.read_message().body == b"q"
        c.close()
    # Not a queue named "X.b" under the bare default, nor a topic "X.b".
    _assert_empty(broker.port, base + ".b")


def test_a_bad_element_is_an_error_naming_it_and_nothing_is_sent(broker):
    good = "/queue/" + unique("good")
    for bad in ("/nowhere/x", "/exchange/amq.direct/k", "/amq/queue/" + unique("q"), "/topic/a.*"):
        c = client(broker.port)
        err = c.expect_error("SEND", [("destination", "%s,%s" % (good, bad))], b"x")
        assert bad in err.text, err
        assert "composite" in err.text, err
    _assert_empty(broker.port, good)


def test_an_empty_element_is_refused(broker):
    good = "/queue/" + unique("good")
    c = client(broker.port)
    err = c.expect_error("SEND", [("destination", "%s,,/queue/other" % good)], b"x")
    assert err["message"] == "Unknown destination", err
    assert "element 2" in err.text and "empty" in err.text, err
    _assert_empty(broker.port, good)


def test_more_elements_than_max_composite_destinations_are_refused(broker_factory):
    b = broker_factory(max_composite_destinations=3)
    names = ["/queue/" + unique("q") for _ in range(4)]
    c = client(b.port)
    err = c.expect_error("SEND", [("destination", ",".join(names))], b"x")
    assert "max-composite-destinations" in err["message"], err
    assert "4 elements" in err.text, err
    _assert_empty(b.port, names[0])
    # Three is within the bound.
    ok = client(b.port)
    ok.send(",".join(names[:3]), "fits")
    r = client(b.port)
    r.subscribe(names[2], "s")
    assert r.read_message().body == b"fits"


def test_subscribe_to_a_composite_destination_is_refused(broker):
    c = client(broker.port)
    err = c.expect_error("SUBSCRIBE", [("destination", "/queue/a,/queue/b"), ("id", "s")])
    assert "composite" in err["message"], err
    assert "/queue/a,/queue/b" in err.text, err


def test_a_transaction_delivers_every_copy_at_commit(broker):
    a, b = "/queue/" + unique("a"), "/queue/" + unique("b")
    p = client(broker.port)
    p.request("BEGIN", [("transaction", "tx")])
    p.send("%s,%s" % (a, b), "in-tx", headers={"transaction": "tx"})
    r = client(broker.port)
    r.subscribe(a, "a")
    r.subscribe(b, "b")
    r.assert_no_frame(QUIET)
    p.request("COMMIT", [("transaction", "tx")])
    got = sorted((m["destination"], m.body) for m in r.read_messages(2))
    assert got == sorted([(a, b"in-tx"), (b, b"in-tx")])


def test_the_receipt_means_every_persistent_copy_survives_kill_9(broker_factory, tmp_path):
    b = broker_factory(data_dir=str(tmp_path / "data"))
    a, q2 = "/queue/" + unique("a"), "/queue/" + unique("b")
    p = client(b.port)
    p.send("%s,%s" % (a, q2), "kept", headers={"persistent": "true"})
    b2 = restart(broker_factory, b, "kill")
    for q in (a, q2):
        c = client(b2.port)
        c.subscribe(q, "s")
        assert c.read_message().body == b"kept"
        c.close()


def test_stomp_py_sends_to_a_composite_destination(broker):
    a, b = "/queue/" + unique("a"), "/queue/" + unique("b")
    conn, lst = py_connect(broker.port)
    rid = py_rid()
    conn.send("%s,%s" % (a, b), "from stomp.py", headers={"receipt": rid})
    lst.wait_receipt(rid)
    conn.disconnect()
    for q in (a, b):
        c = client(broker.port)
        c.subscribe(q, "s")
        assert c.read_message().body == b"from stomp.py"
        c.close()


def test_an_exchange_routing_key_with_commas_is_not_composite(broker):
    """RabbitMQ's /exchange/NAME/KEY keeps its key whole."""
    t = unique("k") + ",x"
    sub = client(broker.port)
    sub.subscribe("/exchange/amq.topic/" + t, "s")
    client(broker.port).send("/exchange/amq.topic/" + t, "whole")
    assert sub.read_message().body == b"whole"


# --------------------------------------------------------------- permissions

@pytest.fixture
def users_file(tmp_path):
    """dora: configure, write and read on /queue/app.* and /topic/app.* only;
    wren: write only on /queue/app.* (creates nothing)."""
    path = str(tmp_path / "users.toml")
    for args in (["user", "add", "dora", "--password", "pw", "--iterations", "1000"],
                 ["user", "add", "wren", "--password", "pw", "--iterations", "1000"],
                 ["user", "set-permissions", "dora", "--vhost", "/", "--configure", "^/(queue|topic)/app\\.",
                  "--write", "^/(queue|topic)/app\\.", "--read", "^/(queue|topic)/app\\."],
                 ["user", "set-permissions", "wren", "--vhost", "/", "--configure", "", "--write",
                  "^/queue/app\\.", "--read", ""]):
        r = run_ferry(*args, "--users-file", path)
        assert r.returncode == 0, r.stderr
    return path


def _login(port, user):
    return client(port, extra=[("login", user), ("passcode", "pw")])


def test_an_element_the_user_may_not_write_is_refused_and_nothing_is_sent(broker_factory, users_file):
    b = broker_factory(users_file=users_file)
    ok = "/queue/app." + unique("ok")
    c = _login(b.port, "dora")
    err = c.expect_error("SEND", [("destination", "%s,/queue/secret" % ok)], b"x")
    assert err["message"].startswith("access refused"), err
    assert "/queue/secret" in err.text, err
    r = _login(b.port, "dora")
    r.subscribe(ok, "s")
    r.assert_no_frame(QUIET)


def test_a_queue_element_needs_configure_as_well(broker_factory, users_file):
    """A queue that may not exist yet: the broker would refuse to create it
    only after the others had their copy, so it is checked first."""
    b = broker_factory(users_file=users_file)
    c = _login(b.port, "wren")
    err = c.expect_error("SEND", [("destination", "/queue/app.x,/queue/app.y")], b"x")
    assert "configure" in err["message"], err
    assert "/queue/app.x" in err.text, err


def test_php_sends_to_a_composite_destination(broker):
    a, b = "/queue/" + unique("a"), "/queue/" + unique("b")
    res = run_php("produce.php", broker.port, "%s,%s" % (a, b), 2, "php")
    assert res["sent"] == 2
    for q in (a, b):
        c = client(broker.port)
        c.subscribe(q, "s")
        assert [m.body for m in c.read_messages(2)] == [b"php-0", b"php-1"]
        c.close()
