"""Prefetch windows (every dialect), transactions, expires, priority."""
import time

import pytest

from support import QUIET, assert_broker_serves, client, unique


def _fill(port, dest, n, prefix="m", size=None, headers=None):
    p = client(port)
    for i in range(n):
        body = ("%s%d" % (prefix, i)).encode()
        if size:
            body = body.ljust(size, b".")
        p.send(dest, body, headers, receipt=(i == n - 1))
    p.close()


def _check_window(c, window, total, ack_how="auto", mode="client-individual"):
    """The subscription holds `window` unacked messages, never more; each ACK
    lets exactly one more in."""
    got = c.read_messages(window)
    c.assert_no_frame(QUIET, "MESSAGE beyond the prefetch window of %d" % window)
    received = len(got)
    pending = list(got)
    while received < total:
        c.ack(pending.pop(0), ack_how)
        m = c.read_message()
        pending.append(m)
        received += 1
        if received < total:
            c.assert_no_frame(0.15, "MESSAGE beyond the prefetch window of %d" % window)
    return received


@pytest.mark.parametrize("header,value", [
    ("prefetch-count", "2"),
    ("activemq.prefetchSize", "2"),
    ("credit", "2"),
    ("credit", "2,1000000"),
])
def test_prefetch_window_message_count(broker, header, value):
    dest = "/queue/" + unique()
    _fill(broker.port, dest, 6)
    c = client(broker.port)
    c.subscribe(dest, "s", ack="client-individual", headers=[(header, value)])
    assert _check_window(c, 2, 6) == 6
    c.close()


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_prefetch_one_at_a_time(broker, version):
    dest = "/queue/" + unique()
    _fill(broker.port, dest, 4)
    c = client(broker.port, version)
    c.subscribe(dest, "s", ack="client", headers=[("activemq.prefetchSize", "1")])
    bodies = []
    for i in range(4):
        m = c.read_message()
        bodies.append(m.body)
        c.assert_no_frame(0.2 if i < 3 else 0.05, "second message while one is unacked")
        c.ack(m, "message-id" if version != "1.2" else "id")
    assert bodies == [b"m0", b"m1", b"m2", b"m3"]
    c.close()


def test_consumer_window_size_bytes(broker):
    """consumer-window-size caps unacked BYTES: with 1000-byte messages and a
    2500-byte window, only a couple are outstanding (never all 8)."""
    dest = "/queue/" + unique()
    _fill(broker.port, dest, 8, size=1000)
    c = client(broker.port)
    c.subscribe(dest, "s", ack="client-individual", headers=[("consumer-window-size", "2500")])
    first = c.read_messages(1)
    more = []
    while True:
        f = c.try_read_frame(QUIET)
        if f is None:
            break
        more.append(f)
    outstanding = 1 + len(more)
    assert 1 <= outstanding <= 3, "window of 2500 bytes let %d x 1000-byte messages out" % outstanding
    # acking frees room
    for m in first + more:
        c.ack(m)
    nxt = c.read_message()
    assert nxt.body.startswith(b"m%d" % outstanding)
    c.close()


def test_credit_byte_cap(broker):
    """credit:N,BYTES -- the byte cap applies too: 1000-byte messages with
    credit:10,2500 leave only a couple outstanding."""
    dest = "/queue/" + unique()
    _fill(broker.port, dest, 8, size=1000)
    c = client(broker.port)
    c.subscribe(dest, "s", ack="client-individual", headers=[("credit", "10,2500")])
    got = c.read_messages(1)
    while True:
        f = c.try_read_frame(QUIET)
        if f is None:
            break
        got.append(f)
    assert 1 <= len(got) <= 3, "credit 10,2500 let %d x 1000-byte messages out" % len(got)
    c.close()


def test_prefetch_window_across_two_consumers(broker):
    """Window 1 consumers: an unacked message at A doesn't block B."""
    dest = "/queue/" + unique()
    a = client(broker.port)
    a.subscribe(dest, "a", ack="client-individual", headers=[("prefetch-count", "1")])
    b = client(broker.port)
    b.subscribe(dest, "b", ack="client-individual", headers=[("prefetch-count", "1")])
    _fill(broker.port, dest, 3)
    ma = a.read_message()
    mb = b.read_message()
    assert {ma.body, mb.body} <= {b"m0", b"m1", b"m2"} and ma.body != mb.body
    a.assert_no_frame(0.2)
    b.assert_no_frame(0.05)
    b.ack(mb)
    m3 = b.read_message()
    assert {ma.body, mb.body, m3.body} == {b"m0", b"m1", b"m2"}
    a.close()
    b.close()


@pytest.mark.parametrize("header,value", [
    ("prefetch-count", "0"), ("prefetch-count", "-5"), (None, None),
    ("activemq.prefetchSize", "0"), ("credit", "0"), ("consumer-window-size", "-1"),
])
def test_prefetch_zero_negative_absent_means_default(broker_factory, header, value):
    b = broker_factory(default_prefetch=3)
    dest = "/queue/" + unique()
    _fill(b.port, dest, 5)
    c = client(b.port)
    hdrs = [(header, value)] if header is not None else []
    c.subscribe(dest, "s", ack="client-individual", headers=hdrs)
    assert _check_window(c, 3, 5) == 5
    c.close()


def test_prefetch_clamped_to_max_unacked(broker_factory):
    b = broker_factory(max_unacked=2)
    dest = "/queue/" + unique()
    _fill(b.port, dest, 4)
    c = client(b.port)
    c.subscribe(dest, "s", ack="client-individual", headers=[("prefetch-count", "500")])
    assert _check_window(c, 2, 4) == 4
    c.close()


def test_default_client_prefetch_is_bounded(broker_factory):
    b = broker_factory(default_prefetch=5)
    dest = "/queue/" + unique()
    _fill(b.port, dest, 8)
    c = client(b.port)
    c.subscribe(dest, "s", ack="client")
    got = c.read_messages(5)
    c.assert_no_frame(QUIET, "more than default-prefetch unacked")
    c.ack(got[-1])  # cumulative: frees all 5
    assert len(c.read_messages(3)) == 3
    c.close()


def test_window_in_client_mode_cumulative_ack_frees_all(broker):
    dest = "/queue/" + unique()
    _fill(broker.port, dest, 6)
    c = client(broker.port)
    c.subscribe(dest, "s", ack="client", headers=[("prefetch-count", "3")])
    got = c.read_messages(3)
    c.assert_no_frame(QUIET)
    c.ack(got[2])
    assert [m.body for m in c.read_messages(3)] == [b"m3", b"m4", b"m5"]
    c.close()


# ---------------------------------------------------------------- transactions

@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_tx_sends_invisible_until_commit(broker, version):
    dest = "/queue/" + unique()
    sub = client(broker.port)
    sub.subscribe(dest, "s", ack="auto")
    p = client(broker.port, version)
    p.request("BEGIN", [("transaction", "tx")])
    for i in range(3):
        p.send(dest, "t%d" % i, [("transaction", "tx")])
    sub.assert_no_frame(QUIET, "transactional message before COMMIT")
    p.request("COMMIT", [("transaction", "tx")])
    assert [m.body for m in sub.read_messages(3)] == [b"t0", b"t1", b"t2"]
    sub.close()
    p.close()


def test_tx_abort_discards_sends(broker):
    dest = "/queue/" + unique()
    p = client(broker.port)
    p.request("BEGIN", [("transaction", "tx")])
    p.send(dest, "doomed", [("transaction", "tx")])
    p.request("ABORT", [("transaction", "tx")])
    p.send(dest, "plain")
    c = client(broker.port)
    c.subscribe(dest, "s")
    assert c.read_message().body == b"plain"
    c.assert_no_frame()
    c.close()
    p.close()


def test_tx_non_tx_send_is_immediate(broker):
    dest = "/queue/" + unique()
    sub = client(broker.port)
    sub.subscribe(dest, "s")
    p = client(broker.port)
    p.request("BEGIN", [("transaction", "tx")])
    p.send(dest, "in-tx", [("transaction", "tx")])
    p.send(dest, "outside")
    assert sub.read_message().body == b"outside"
    p.request("COMMIT", [("transaction", "tx")])
    assert sub.read_message().body == b"in-tx"
    sub.close()
    p.close()


def test_tx_ack_applied_at_commit(broker):
    dest = "/queue/" + unique()
    _fill(broker.port, dest, 2)
    c = client(broker.port)
    c.subscribe(dest, "s", ack="client-individual", headers=[("prefetch-count", "1")])
    m0 = c.read_message()
    c.request("BEGIN", [("transaction", "tx")])
    c.ack(m0, extra=[("transaction", "tx")])
    # As in ActiveMQ, a transactional ACK frees the window at once, so a
    # one-at-a-time consumer can go on inside its transaction...
    m1 = c.read_message()
    assert m1.body == b"m1"
    # ...but the ACK itself only takes effect at COMMIT: a second consumer
    # sees nothing, and after COMMIT + ACK of m1 the queue is empty.
    c.request("COMMIT", [("transaction", "tx")])
    c.ack(m1)
    c.close()
    d = client(broker.port)
    d.subscribe(dest, "s2")
    d.assert_no_frame(QUIET, "a message that was acknowledged and committed")
    d.close()


def test_tx_ack_undone_by_disconnect_before_commit(broker):
    dest = "/queue/" + unique()
    _fill(broker.port, dest, 1)
    c = client(broker.port)
    c.subscribe(dest, "s", ack="client-individual", headers=[("prefetch-count", "1")])
    m0 = c.read_message()
    c.request("BEGIN", [("transaction", "tx")])
    c.ack(m0, extra=[("transaction", "tx")])
    c.close()  # the transaction was never committed
    d = client(broker.port)
    d.subscribe(dest, "s2", ack="client-individual")
    m = d.read_message()
    assert m.body == b"m0" and m.get("redelivered") == "true", m
    d.close()


def test_tx_abort_undoes_ack(broker):
    dest = "/queue/" + unique()
    _fill(broker.port, dest, 1)
    c = client(broker.port)
    c.subscribe(dest, "s", ack="client-individual")
    m0 = c.read_message()
    c.request("BEGIN", [("transaction", "tx")])
    c.ack(m0, extra=[("transaction", "tx")])
    c.request("ABORT", [("transaction", "tx")])
    m = c.read_message()
    assert m.body == b"m0"
    assert m.get("redelivered") == "true", m
    c.ack(m)
    c.close()


def test_tx_nack_applied_at_commit(broker):
    dest = "/queue/" + unique()
    _fill(broker.port, dest, 1)
    c = client(broker.port)
    c.subscribe(dest, "s", ack="client-individual")
    m0 = c.read_message()
    c.request("BEGIN", [("transaction", "tx")])
    c.nack(m0, extra=[("transaction", "tx")])
    c.assert_no_frame(QUIET, "redelivery before the transactional NACK is committed")
    c.request("COMMIT", [("transaction", "tx")])
    m = c.read_message()
    assert m.body == b"m0" and m.get("redelivered") == "true"
    c.close()


def test_disconnect_with_open_tx_is_abort(broker):
    dest = "/queue/" + unique()
    _fill(broker.port, dest, 1, prefix="acked")
    c = client(broker.port)
    c.subscribe(dest, "s", ack="client-individual")
    m0 = c.read_message()
    c.request("BEGIN", [("transaction", "tx")])
    c.send(dest, "never", [("transaction", "tx")])
    c.ack(m0, extra=[("transaction", "tx")])
    c.close()  # drop the TCP connection with the tx open
    d = client(broker.port)
    d.subscribe(dest, "d")
    m = d.read_message()
    assert m.body == b"acked0" and m.get("redelivered") == "true"
    d.assert_no_frame()
    d.close()


def test_two_transactions_independent(broker):
    dest = "/queue/" + unique()
    sub = client(broker.port)
    sub.subscribe(dest, "s")
    p = client(broker.port)
    p.request("BEGIN", [("transaction", "a")])
    p.request("BEGIN", [("transaction", "b")])
    p.send(dest, "A", [("transaction", "a")])
    p.send(dest, "B", [("transaction", "b")])
    p.request("ABORT", [("transaction", "a")])
    p.request("COMMIT", [("transaction", "b")])
    assert sub.read_message().body == b"B"
    sub.assert_no_frame()
    sub.close()
    p.close()


@pytest.mark.parametrize("frames", [
    [("COMMIT", "nope")],
    [("ABORT", "nope")],
    [("BEGIN", "t"), ("BEGIN", "t")],
    [("BEGIN", "t"), ("COMMIT", "t"), ("COMMIT", "t")],
], ids=["commit-unknown", "abort-unknown", "begin-twice", "commit-twice"])
def test_tx_errors(broker, frames):
    c = client(broker.port)
    for cmd, tx in frames[:-1]:
        c.request(cmd, [("transaction", tx)])
    cmd, tx = frames[-1]
    err = c.expect_error(cmd, [("transaction", tx)])
    assert err.get("message")
    assert_broker_serves(broker)


def test_send_in_unknown_tx_is_error(broker):
    c = client(broker.port)
    c.expect_error("SEND", [("destination", "/queue/" + unique()), ("transaction", "ghost")], b"x")
    assert_broker_serves(broker)


def test_max_transactions(broker_factory):
    b = broker_factory(max_transactions=2)
    c = client(b.port)
    c.request("BEGIN", [("transaction", "1")])
    c.request("BEGIN", [("transaction", "2")])
    err = c.expect_error("BEGIN", [("transaction", "3")])
    assert "transaction" in (err["message"] + err.text).lower()
    assert_broker_serves(b)


def test_max_transaction_size(broker_factory):
    b = broker_factory(max_transaction_size=3)
    dest = "/queue/" + unique()
    c = client(b.port)
    c.request("BEGIN", [("transaction", "t")])
    for i in range(3):
        c.send(dest, "x", [("transaction", "t")])
    err = c.expect_error("SEND", [("destination", dest), ("transaction", "t")], b"x")
    assert "transaction" in (err["message"] + err.text).lower()
    # the aborted transaction delivered nothing
    d = client(b.port)
    d.subscribe(dest, "d")
    d.assert_no_frame()
    d.close()
    assert_broker_serves(b)


# ---------------------------------------------------------------- expires / priority

def _now_ms():
    return int(time.time() * 1000)


def test_expired_message_never_delivered(broker):
    dest = "/queue/" + unique()
    p = client(broker.port)
    p.send(dest, "already-expired", [("expires", str(_now_ms() - 1000))])
    p.send(dest, "zero-never-expires", [("expires", "0")])
    p.send(dest, "future", [("expires", str(_now_ms() + 600000))])
    p.send(dest, "no-expiry")
    c = client(broker.port)
    c.subscribe(dest, "s")
    got = [m.body for m in c.read_messages(3)]
    assert got == [b"zero-never-expires", b"future", b"no-expiry"]
    c.assert_no_frame()
    c.close()
    p.close()


def test_message_expiring_while_queued(broker):
    dest = "/queue/" + unique()
    p = client(broker.port)
    p.send(dest, "short-lived", [("expires", str(_now_ms() + 300))])
    p.send(dest, "stays")
    time.sleep(0.6)  # let it expire on the queue (time is the subject here)
    c = client(broker.port)
    c.subscribe(dest, "s")
    assert c.read_message().body == b"stays"
    c.assert_no_frame()
    c.close()
    p.close()


def test_expired_message_not_redelivered(broker):
    dest = "/queue/" + unique()
    p = client(broker.port)
    p.send(dest, "fleeting", [("expires", str(_now_ms() + 500))])
    c = client(broker.port)
    c.subscribe(dest, "s", ack="client-individual")
    m = c.read_message()
    assert m.body == b"fleeting"
    assert m.get("expires")
    time.sleep(0.7)
    c.nack(m)
    c.assert_no_frame(QUIET, "redelivery of an expired message")
    c.close()
    p.close()


def test_expired_message_on_topic_not_delivered(broker):
    dest = "/topic/" + unique()
    s = client(broker.port)
    s.subscribe(dest, "s")
    p = client(broker.port)
    p.send(dest, "expired", [("expires", str(_now_ms() - 5000))])
    p.send(dest, "fresh")
    assert s.read_message().body == b"fresh"
    s.assert_no_frame(0.2)
    s.close()
    p.close()


def test_priority_higher_first(broker):
    dest = "/queue/" + unique()
    p = client(broker.port)
    for prio in [1, 9, 4, 0, 7, 5]:
        p.send(dest, "p%d" % prio, [("priority", str(prio))])
    p.send(dest, "default")  # priority 4
    c = client(broker.port)
    c.subscribe(dest, "s")
    got = [m.body for m in c.read_messages(7)]
    assert got == [b"p9", b"p7", b"p5", b"p4", b"default", b"p1", b"p0"], got
    c.close()
    p.close()


def test_priority_carried_in_message(broker):
    dest = "/queue/" + unique()
    p = client(broker.port)
    p.send(dest, "x", [("priority", "8")])
    c = client(broker.port)
    c.subscribe(dest, "s")
    assert c.read_message().get("priority") == "8"
    c.close()
    p.close()


def test_message_expiring_behind_a_full_window(broker):
    """A message that expires while waiting for window space is never delivered."""
    dest = "/queue/" + unique()
    c = client(broker.port)
    c.subscribe(dest, "s", ack="client-individual", headers=[("prefetch-count", "1")])
    p = client(broker.port)
    p.send(dest, "holder")
    p.send(dest, "expires-while-waiting", [("expires", str(_now_ms() + 300))])
    p.send(dest, "survivor")
    m = c.read_message()
    assert m.body == b"holder"
    time.sleep(0.6)
    c.ack(m)
    m2 = c.read_message()
    assert m2.body == b"survivor", m2
    c.close()
    p.close()


def test_priority_applies_to_waiting_messages(broker):
    """With a window-1 consumer busy, a later high-priority message overtakes
    earlier low-priority ones."""
    dest = "/queue/" + unique()
    c = client(broker.port)
    c.subscribe(dest, "s", ack="client-individual", headers=[("prefetch-count", "1")])
    p = client(broker.port)
    p.send(dest, "busy", [("priority", "4")])
    m = c.read_message()
    assert m.body == b"busy"
    p.send(dest, "low", [("priority", "1")])
    p.send(dest, "high", [("priority", "9")])
    c.ack(m)
    m2 = c.read_message()
    assert m2.body == b"high", m2
    c.ack(m2)
    assert c.read_message().body == b"low"
    c.close()
    p.close()


def test_tx_spanning_several_destinations(broker):
    """One transaction over several queues and a topic (different shards with
    --shards 2): nothing visible before COMMIT, everything after."""
    names = [unique() for _ in range(4)]
    dests = ["/queue/" + n for n in names[:3]] + ["/topic/" + names[3]]
    subs = []
    for d in dests:
        s = client(broker.port)
        s.subscribe(d, "s")
        subs.append(s)
    p = client(broker.port)
    p.request("BEGIN", [("transaction", "multi")])
    for d in dests:
        p.send(d, "tx:" + d, [("transaction", "multi")])
    for s in subs:
        s.assert_no_frame(0.15)
    p.request("COMMIT", [("transaction", "multi")])
    for s, d in zip(subs, dests):
        assert s.read_message().body == ("tx:" + d).encode()
    for x in subs + [p]:
        x.close()


def test_tx_abort_undoes_acks_on_several_queues(broker):
    d1, d2 = "/queue/" + unique(), "/queue/" + unique()
    _fill(broker.port, d1, 1, "a")
    _fill(broker.port, d2, 1, "b")
    c = client(broker.port)
    c.subscribe(d1, "s1", ack="client-individual")
    c.subscribe(d2, "s2", ack="client-individual")
    ms = c.read_messages(2)
    c.request("BEGIN", [("transaction", "t")])
    for m in ms:
        c.ack(m, extra=[("transaction", "t")])
    c.request("ABORT", [("transaction", "t")])
    again = c.read_messages(2)
    assert sorted(m.body for m in again) == [b"a0", b"b0"]
    assert all(m.get("redelivered") == "true" for m in again)
    c.request("BEGIN", [("transaction", "t2")])
    for m in again:
        c.ack(m, extra=[("transaction", "t2")])
    c.request("COMMIT", [("transaction", "t2")])
    c.close()
    for d in (d1, d2):
        x = client(broker.port)
        x.subscribe(d, "x")
        x.assert_no_frame(0.2)
        x.close()


def test_default_prefetch_is_1000(broker):
    """Without a prefetch header a client-ack subscription gets 1000 messages, not all."""
    dest = "/queue/" + unique()
    p = client(broker.port)
    for i in range(1004):
        p.send(dest, b"%d" % i, receipt=False)
    p.send(dest, b"1004")
    p.close()
    c = client(broker.port)
    c.subscribe(dest, "s", ack="client")
    got = c.read_messages(1000, timeout=20)
    c.assert_no_frame(QUIET, "more than 1000 unacked with the default prefetch")
    c.ack(got[-1])
    assert len(c.read_messages(5)) == 5
    c.close()
