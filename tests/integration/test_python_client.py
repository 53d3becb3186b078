"""stomp.py 8 (Debian python3-stomp) against Ferry: every version, send,
subscribe, ack/nack, transactions, heart-beats, header escaping."""
import time

import pytest

from support import py_connect, py_rid, unique

VERSIONS = ["1.0", "1.1", "1.2"]


def _ack(conn, version, frame, sub_id, nack=False, **kw):
    mid = frame.headers["message-id"]
    if version == "1.2":
        fn = conn.nack if nack else conn.ack
        return fn(frame.headers["ack"], **kw)
    if version == "1.1":
        fn = conn.nack if nack else conn.ack
        return fn(mid, sub_id, **kw)
    assert not nack
    return conn.ack(mid, **kw)


@pytest.mark.parametrize("version", VERSIONS)
def test_stomp_py_send_subscribe_auto(broker, version):
    conn, lst = py_connect(broker.port, version)
    assert lst.connected_frame.headers.get("version") == version
    dest = "/queue/" + unique()
    rid = py_rid()
    conn.subscribe(dest, id="s1", ack="auto", headers={"receipt": rid})
    lst.wait_receipt(rid)
    conn.send(dest, "hello from stomp.py", headers={"x-app": "pytest"}, content_type="text/plain")
    m = lst.get()
    assert m.body == "hello from stomp.py"
    assert m.headers["destination"] == dest
    assert m.headers["x-app"] == "pytest"
    assert m.headers["content-type"] == "text/plain"
    assert m.headers["subscription"] == "s1"
    assert "receipt" not in m.headers
    conn.disconnect()


@pytest.mark.parametrize("version", VERSIONS)
def test_stomp_py_client_individual_ack_and_redelivery(broker, version):
    dest = "/queue/" + unique()
    conn, lst = py_connect(broker.port, version)
    rid = py_rid()
    conn.subscribe(dest, id="s1", ack="client-individual", headers={"receipt": rid})
    lst.wait_receipt(rid)
    for i in range(3):
        conn.send(dest, "m%d" % i)
    ms = [lst.get() for _ in range(3)]
    assert [m.body for m in ms] == ["m0", "m1", "m2"]
    rid = py_rid()
    _ack(conn, version, ms[1], "s1", receipt=rid)
    lst.wait_receipt(rid)
    conn.disconnect()
    # m0 and m2 were not acked: redelivered to the next consumer
    conn2, lst2 = py_connect(broker.port, version)
    conn2.subscribe(dest, id="s2", ack="auto")
    got = sorted(lst2.get().body for _ in range(2))
    assert got == ["m0", "m2"]
    lst2.none()
    conn2.disconnect()


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_stomp_py_nack(broker, version):
    dest = "/queue/" + unique()
    conn, lst = py_connect(broker.port, version)
    conn.subscribe(dest, id="s1", ack="client-individual")
    rid = py_rid()
    conn.send(dest, "again", headers={"receipt": rid})
    lst.wait_receipt(rid)
    m = lst.get()
    _ack(conn, version, m, "s1", nack=True)
    m2 = lst.get()
    assert m2.body == "again"
    assert m2.headers.get("redelivered") == "true"
    assert m2.headers.get("x-delivery-count") == "1"
    _ack(conn, version, m2, "s1")
    conn.disconnect()


@pytest.mark.parametrize("version", VERSIONS)
def test_stomp_py_transactions(broker, version):
    dest = "/queue/" + unique()
    sub, slst = py_connect(broker.port, version)
    rid = py_rid()
    sub.subscribe(dest, id="s", ack="auto", headers={"receipt": rid})
    slst.wait_receipt(rid)
    conn, lst = py_connect(broker.port, version)
    tx = conn.begin()
    conn.send(dest, "tx-1", transaction=tx)
    conn.send(dest, "tx-2", transaction=tx)
    slst.none()
    conn.commit(tx)
    assert [slst.get().body, slst.get().body] == ["tx-1", "tx-2"]
    tx2 = conn.begin()
    conn.send(dest, "aborted", transaction=tx2)
    conn.abort(tx2)
    rid = py_rid()
    conn.send(dest, "after-abort", headers={"receipt": rid})
    lst.wait_receipt(rid)
    assert slst.get().body == "after-abort"
    slst.none()
    conn.disconnect()
    sub.disconnect()


def test_stomp_py_ack_in_transaction_aborted(broker):
    dest = "/queue/" + unique()
    conn, lst = py_connect(broker.port, "1.2")
    conn.subscribe(dest, id="s", ack="client-individual")
    conn.send(dest, "x")
    m = lst.get()
    tx = conn.begin()
    conn.ack(m.headers["ack"], transaction=tx)
    conn.abort(tx)
    m2 = lst.get()
    assert m2.body == "x" and m2.headers.get("redelivered") == "true"
    conn.ack(m2.headers["ack"])
    conn.disconnect()


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_stomp_py_header_escaping_roundtrip(broker, version):
    dest = "/queue/" + unique()
    conn, lst = py_connect(broker.port, version)
    conn.subscribe(dest, id="s", ack="auto")
    value = "colon:newline\nback\\slash"
    if version == "1.2":
        value += "\rcr"
    conn.send(dest, "esc", headers={"x-tricky": value})
    m = lst.get()
    assert m.headers["x-tricky"] == value
    conn.disconnect()


def test_stomp_py_topic_fanout(broker):
    dest = "/topic/" + unique()
    subs = []
    for v in VERSIONS:
        c, l = py_connect(broker.port, v)
        rid = py_rid()
        c.subscribe(dest, id="t", ack="auto", headers={"receipt": rid})
        l.wait_receipt(rid)
        subs.append((c, l))
    p, pl = py_connect(broker.port, "1.2")
    p.send(dest, "to-all")
    for c, l in subs:
        assert l.get().body == "to-all"
        c.disconnect()
    p.disconnect()


def test_stomp_py_prefetch_one_at_a_time(broker):
    dest = "/queue/" + unique()
    conn, lst = py_connect(broker.port, "1.2")
    for i in range(3):
        conn.send(dest, "w%d" % i)
    conn.subscribe(dest, id="s", ack="client-individual", headers={"activemq.prefetchSize": "1"})
    for i in range(3):
        m = lst.get()
        assert m.body == "w%d" % i
        lst.none(0.3)  # nothing else while this one is unacked
        conn.ack(m.headers["ack"])
    conn.disconnect()


def test_stomp_py_heartbeats_keep_connection(broker_factory):
    """stomp.py sends heart-beats on its own; it stays connected past the
    grace. 1 s beats: a loaded CI machine can hold a thread back for a few
    hundred ms, which must not make the test fail (the broker would close
    after 2 s of silence; stomp.py gives up after 1.5 s)."""
    b = broker_factory(heart_beat="1000,1000", heart_beat_grace="2.0")
    dest = "/queue/" + unique()
    conn, lst = py_connect(b.port, "1.2", heartbeats=(1000, 1000))
    hb = lst.connected_frame.headers.get("heart-beat")
    assert hb and hb != "0,0"
    conn.subscribe(dest, id="s", ack="auto")
    time.sleep(4.5)  # more than twice the broker's deadline
    assert conn.is_connected()
    assert not lst.disconnected.is_set()
    conn.send(dest, "still")
    assert lst.get().body == "still"
    conn.disconnect()


def test_stomp_py_error_for_bad_destination(broker):
    conn, lst = py_connect(broker.port, "1.2")
    conn.send("/bogus/place", "x")
    err = lst.errors.get(timeout=5)
    assert err.headers.get("message")
    assert lst.disconnected.wait(5), "connection not closed after ERROR"


def test_stomp_py_default_host_header(broker):
    """stomp.py 1.2 sends host:<hostname> by default; such a client still works
    on its own (send + subscribe in its vhost)."""
    import stomp
    from support import PyListener
    conn = stomp.Connection12([("127.0.0.1", broker.port)], reconnect_attempts_max=1)
    lst = PyListener()
    conn.set_listener("t", lst)
    conn.connect(wait=True)
    dest = "/queue/" + unique()
    rid = py_rid()
    conn.subscribe(dest, id="s", ack="client-individual", headers={"receipt": rid})
    lst.wait_receipt(rid)
    conn.send(dest, "default-host")
    m = lst.get()
    assert m.body == "default-host"
    conn.ack(m.headers["ack"])
    conn.disconnect()
