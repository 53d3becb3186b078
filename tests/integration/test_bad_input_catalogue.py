"""The bad-input catalogue: inputs a broker on a network meets sooner or
later, each answered with a clear ERROR or a close, after which a FRESH
client can still send and receive (assert_broker_serves).

This file holds the cases the other files did not have; docs/hardening.md
lists the whole catalogue (with the tests in test_limits_badinput.py,
test_framing.py, test_prefetch_tx.py, test_queue_topic.py and
test_connect.py) in one table.
"""
from __future__ import annotations

import socket
import threading
import time

import pytest

from support import (QUIET, WAIT, Closed, RawClient, assert_broker_serves, client, encode_frame,
                     unique)


def _text(err) -> str:
    return (err.get("message", "") + " " + err.text).lower()


def _send_ignoring_close(c: RawClient, data: bytes, chunk: int = 65536):
    """Send data; the broker may stop reading (and close) part-way through."""
    try:
        for i in range(0, len(data), chunk):
            c.send_raw(data[i:i + chunk])
    except OSError:
        pass


def _error_then_close(c: RawClient, timeout: float = WAIT):
    """The broker answers with an ERROR (with a message) and closes."""
    frames = c.read_until_closed(timeout)
    errors = [f for f in frames if f.command == "ERROR"]
    assert errors, "expected an ERROR before the close, got %r" % frames
    assert errors[-1].get("message"), errors[-1]
    assert all(f.command in ("ERROR", "RECEIPT", "MESSAGE") for f in frames), frames
    return errors[-1]


# ------------------------------------------------------- 100k headers

def test_100k_headers_refused_by_max_headers(broker):
    """100,000 header lines (default max-headers 1000): refused once the limit
    is passed, without reading the rest; the ERROR names the limit."""
    c = client(broker.port)
    dest = "/queue/" + unique()
    data = encode_frame("SEND", [("receipt", "many"), ("destination", dest)] +
                        [("h%d" % i, "v") for i in range(100_000)], b"x")
    _send_ignoring_close(c, data)
    err = _error_then_close(c)
    assert "header" in _text(err), err
    s = client(broker.port)
    s.subscribe(dest, "s")
    s.assert_no_frame(what="message from the refused frame")
    s.close()
    assert_broker_serves(broker)


@pytest.mark.parametrize("shards", [1])
def test_100k_headers_when_allowed_are_carried(broker_factory):
    """With max-headers raised to 100,000 the same frame is accepted and
    delivered with every header, in time linear enough to not time out
    (a quadratic header scan would take minutes)."""
    b = broker_factory(max_headers=100_000)
    dest = "/queue/" + unique()
    sub = client(b.port)
    sub.subscribe(dest, "s")
    p = client(b.port)
    headers = [("destination", dest)] + [("h%d" % i, "v%d" % i) for i in range(99_998)]
    t0 = time.monotonic()
    p.request("SEND", headers, b"many", timeout=30, content_length=False)  # + receipt = 100,000
    m = sub.read_message(timeout=30)
    took = time.monotonic() - t0
    print("100k-header frame: sent, stored and delivered in %.2f s" % took)
    assert m.body == b"many"
    got = {k: v for k, v in m.header_list if k.startswith("h")}
    assert len(got) == 99_998 and got["h0"] == "v0" and got["h99997"] == "v99997"
    p.close()
    sub.close()
    assert_broker_serves(b)


# ------------------------------------------------------- invalid UTF-8

BAD_UTF8 = [
    b"\xff",              # never valid
    b"\xc3\x28",          # bad continuation
    b"\xe2\x82",          # truncated 3-byte sequence
    b"\xc0\xaf",          # overlong '/'
    b"\xed\xa0\x80",      # UTF-16 surrogate
    b"\xf4\x90\x80\x80",  # past U+10FFFF
]


@pytest.mark.parametrize("bad", BAD_UTF8, ids=lambda b: b.hex())
@pytest.mark.parametrize("where", ["value", "name", "destination"])
def test_invalid_utf8_in_headers_is_refused(broker, bad, where):
    """STOMP headers are UTF-8: a header line that is not (in the name, the
    value, or the destination) gets an ERROR; nothing is delivered."""
    dest = "/queue/" + unique()
    c = client(broker.port)
    if where == "value":
        head = b"destination:" + dest.encode() + b"\nx-bad:a" + bad + b"b\n"
    elif where == "name":
        head = b"destination:" + dest.encode() + b"\nx-" + bad + b":v\n"
    else:
        head = b"destination:" + dest.encode() + bad + b"\n"
    c.send_raw(b"SEND\nreceipt:u8\n" + head + b"\nbody\0")
    err = _error_then_close(c)
    assert "utf-8" in _text(err), err
    s = client(broker.port)
    s.subscribe(dest, "s")
    s.assert_no_frame(what="message from the refused frame")
    s.close()
    assert_broker_serves(broker)


@pytest.mark.parametrize("version", ["1.0", "1.2"])
def test_invalid_utf8_on_connect_and_in_1_0(broker, version):
    """The rule holds before CONNECT completes and in STOMP 1.0 too."""
    c = RawClient(broker.port)
    c.send_raw(b"CONNECT\naccept-version:" + version.encode() + b"\nlogin:\xff\xfe\n\n\0")
    err = _error_then_close(c)
    assert "utf-8" in _text(err), err
    c = client(broker.port, version)
    c.send_raw(b"SEND\ndestination:/queue/x\nx:\xc3\x28\n\nb\0")
    _error_then_close(c)
    assert_broker_serves(broker)


def test_invalid_utf8_in_body_is_carried(broker):
    """Bodies are opaque bytes: invalid UTF-8 there is delivered unchanged."""
    dest = "/queue/" + unique()
    s = client(broker.port)
    s.subscribe(dest, "s")
    p = client(broker.port)
    body = b"".join(BAD_UTF8) + b"\x00\x01"
    p.send(dest, body, content_length=True)
    assert s.read_message().body == body
    p.close()
    s.close()


# ------------------------------------------------------- half-closed sockets

def _half_close(c: RawClient):
    c.sock.shutdown(socket.SHUT_WR)


def _frames_until_eof(c: RawClient, timeout: float = WAIT):
    return c.read_until_closed(timeout)


@pytest.mark.parametrize("persistent", ["true", "false"])
def test_half_close_after_sends_gets_every_receipt(broker, persistent):
    """A producer pipelines SENDs with receipts and shuts its sending side at
    once: the broker still writes every RECEIPT, in order, then closes; the
    messages are all there."""
    dest = "/queue/" + unique()
    c = client(broker.port)
    n = 50
    data = b"".join(encode_frame("SEND", [("destination", dest), ("receipt", "h%d" % i),
                                          ("persistent", persistent)], b"m%03d" % i)
                    for i in range(n))
    c.send_raw(data)
    _half_close(c)
    frames = _frames_until_eof(c)
    assert [f.command for f in frames] == ["RECEIPT"] * n, frames
    assert [f["receipt-id"] for f in frames] == ["h%d" % i for i in range(n)]
    s = client(broker.port)
    s.subscribe(dest, "s")
    assert [m.body for m in s.read_messages(n)] == [b"m%03d" % i for i in range(n)]
    s.close()
    assert_broker_serves(broker)


def test_half_close_after_commit_gets_receipt(broker):
    dest = "/queue/" + unique()
    c = client(broker.port)
    c.send_raw(encode_frame("BEGIN", [("transaction", "t")]) +
               encode_frame("SEND", [("destination", dest), ("transaction", "t")], b"tx1") +
               encode_frame("SEND", [("destination", dest), ("transaction", "t")], b"tx2") +
               encode_frame("COMMIT", [("transaction", "t"), ("receipt", "committed")]))
    _half_close(c)
    frames = _frames_until_eof(c)
    assert [(f.command, f.get("receipt-id")) for f in frames] == [("RECEIPT", "committed")], frames
    s = client(broker.port)
    s.subscribe(dest, "s")
    assert [m.body for m in s.read_messages(2)] == [b"tx1", b"tx2"]
    s.close()


def test_half_close_with_open_transaction_aborts_it(broker):
    """End of input with a transaction open is a disconnect: the transaction
    is aborted (its sends never appear); earlier receipts are written."""
    dest = "/queue/" + unique()
    c = client(broker.port)
    c.send_raw(encode_frame("BEGIN", [("transaction", "t"), ("receipt", "begun")]) +
               encode_frame("SEND", [("destination", dest), ("transaction", "t"),
                                     ("receipt", "sent")], b"never"))
    _half_close(c)
    frames = _frames_until_eof(c)
    assert [f.get("receipt-id") for f in frames] == ["begun", "sent"], frames
    s = client(broker.port)
    s.subscribe(dest, "s")
    s.assert_no_frame(what="message of the aborted transaction")
    s.close()


def test_half_close_after_bad_frame_gets_error(broker):
    c = client(broker.port)
    # (an ERROR is written at once, so the earlier frame is one answered at
    # once too: a persistent SEND's RECEIPT, waiting for its fsync, would
    # be overtaken by the ERROR and never written, half-close or not)
    c.send_raw(encode_frame("BEGIN", [("receipt", "ok"), ("transaction", "t")]) +
               encode_frame("NOPE", [("receipt", "bad")]))
    _half_close(c)
    frames = _frames_until_eof(c)
    assert [f.command for f in frames] == ["RECEIPT", "ERROR"], frames
    assert frames[1].get("receipt-id") == "bad"
    assert_broker_serves(broker)


def test_half_close_after_connect_gets_connected(broker):
    c = RawClient(broker.port)
    c.send_raw(b"CONNECT\naccept-version:1.2\nhost:/\n\n\0")
    _half_close(c)
    frames = _frames_until_eof(c)
    assert [f.command for f in frames] == ["CONNECTED"], frames


def test_half_close_before_connect_just_closes(broker):
    c = RawClient(broker.port)
    _half_close(c)
    assert _frames_until_eof(c) == []
    c = RawClient(broker.port)
    c.send_raw(b"CONNECT\naccept-version:1.2\nho")  # a frame cut off by the half-close
    _half_close(c)
    assert _frames_until_eof(c) == []
    assert_broker_serves(broker)


def test_half_close_after_disconnect_gets_receipt(broker):
    c = client(broker.port)
    c.send_raw(encode_frame("DISCONNECT", [("receipt", "bye")]))
    _half_close(c)
    frames = _frames_until_eof(c)
    assert [(f.command, f.get("receipt-id")) for f in frames] == [("RECEIPT", "bye")], frames


def test_half_closed_consumer_returns_its_messages(broker):
    """A client-ack consumer that half-closes holding messages: they go to the
    next consumer, marked redelivered."""
    dest = "/queue/" + unique()
    p = client(broker.port)
    for i in range(3):
        p.send(dest, "r%d" % i)
    c = client(broker.port)
    c.subscribe(dest, "c", ack="client-individual")
    assert len(c.read_messages(3)) == 3
    _half_close(c)
    c.read_until_closed()
    d = client(broker.port)
    d.subscribe(dest, "d", ack="client-individual")
    got = d.read_messages(3)
    assert sorted(m.body for m in got) == [b"r0", b"r1", b"r2"]
    assert all(m.get("redelivered") == "true" for m in got), got
    for m in got:
        d.ack(m)
    d.close()
    p.close()


# ------------------------------------------------------- one byte per second

@pytest.mark.parametrize("shards", [2])
def test_slowloris_connect_is_cut_by_connect_timeout(broker_factory):
    """Connections trickling a CONNECT at one byte per second take every
    connection slot; a newcomer is refused with an ERROR meanwhile. Once
    connect-timeout passes they get an ERROR and are closed, and the slots
    are free again. A connected client is served throughout."""
    limit = 12
    b = broker_factory(max_connections=limit, connect_timeout=3000)
    good = client(b.port)
    gd = "/queue/" + unique()
    good.subscribe(gd, "g")
    frame = b"CONNECT\naccept-version:1.2\nhost:/\n\n\0"
    slow = [RawClient(b.port) for _ in range(limit - 1)]
    started = time.monotonic()
    newcomer_refused = None
    for i in range(5):  # five bytes, one per second: past connect-timeout
        for c in slow:
            try:
                c.send_raw(frame[i:i + 1])
            except OSError:
                pass
        if i == 1:
            extra = RawClient(b.port)
            try:
                extra.send_frame("CONNECT", [("accept-version", "1.2"), ("host", "/")])
            except OSError:
                pass
            newcomer_refused = extra.read_until_closed()
            extra.close()
        good.send(gd, "tick%d" % i)
        assert good.read_message().body == b"tick%d" % i
        time.sleep(max(0.0, started + i + 1 - time.monotonic()))
    assert [f.command for f in newcomer_refused] == ["ERROR"], newcomer_refused
    assert "connection" in _text(newcomer_refused[0])
    for c in slow:
        frames = c.read_until_closed()
        assert [f.command for f in frames] == ["ERROR"], frames
        assert "connect" in _text(frames[0]), frames[0]
        c.close()  # the broker keeps the slot until the client closes (or 2 s)
    assert_broker_serves(b)
    good.close()


def test_one_byte_per_second_frame_on_connected_client(broker):
    """A connected client sends a SEND at one byte per second for a few
    seconds, then the rest: the broker keeps serving others meanwhile and
    takes the frame once complete. (A connected client is not timed out for
    being slow: any byte is liveness; max-connections bounds how many such
    clients there can be.)"""
    dest = "/queue/" + unique()
    slow = client(broker.port)
    slow.subscribe(dest, "s")
    other = client(broker.port)
    od = "/queue/" + unique()
    other.subscribe(od, "o")
    frame = encode_frame("SEND", [("destination", dest), ("receipt", "trickle")], b"slow")
    for i in range(4):
        slow.send_raw(frame[i:i + 1])
        other.send(od, "x%d" % i)
        assert other.read_message().body == b"x%d" % i
        time.sleep(1.0)
    slow.send_raw(frame[4:])
    slow.wait_receipt("trickle")
    assert slow.read_message().body == b"slow"
    slow.close()
    other.close()


# ------------------------------------------------------- subscribe / ack / tx misuse

def _held_pair(broker, dest, n=2):
    """A producer that sent n messages and a client-individual consumer holding them."""
    p = client(broker.port)
    for i in range(n):
        p.send(dest, "m%d" % i)
    p.close()
    c = client(broker.port)
    c.subscribe(dest, "c", ack="client-individual")
    return c, c.read_messages(n)


def _comes_back(broker, dest, bodies):
    d = client(broker.port)
    d.subscribe(dest, "again", ack="client-individual")
    got = d.read_messages(len(bodies))
    assert sorted(m.body for m in got) == sorted(bodies)
    for m in got:
        d.ack(m)
    d.close()


def test_ack_of_another_connections_message(broker):
    """An ACK naming a message held by a DIFFERENT connection is unknown on
    this one: ERROR; the other consumer still holds (and can ack) it."""
    dest = "/queue/" + unique()
    owner, msgs = _held_pair(broker, dest, 1)
    thief = client(broker.port)
    thief.subscribe("/queue/" + unique(), "c", ack="client-individual")
    thief.expect_error("ACK", [("id", msgs[0]["ack"])])
    owner.ack(msgs[0])
    owner.close()
    s = client(broker.port)
    s.subscribe(dest, "s")
    s.assert_no_frame(what="redelivery of a message its owner acked")
    s.close()
    assert_broker_serves(broker)


def test_ack_after_unsubscribe_is_error_and_message_returns(broker):
    dest = "/queue/" + unique()
    c, msgs = _held_pair(broker, dest)
    c.unsubscribe("c")
    c.expect_error("ACK", [("id", msgs[0]["ack"])])
    _comes_back(broker, dest, [b"m0", b"m1"])
    assert_broker_serves(broker)


@pytest.mark.parametrize("cmd", ["ACK", "NACK"])
def test_ack_in_unknown_transaction(broker, cmd):
    """ACK/NACK naming a transaction never begun: ERROR; the message is not
    settled and comes back when the connection closes."""
    dest = "/queue/" + unique()
    c, msgs = _held_pair(broker, dest, 1)
    c.expect_error(cmd, [("id", msgs[0]["ack"]), ("transaction", "ghost")])
    _comes_back(broker, dest, [b"m0"])
    assert_broker_serves(broker)


@pytest.mark.parametrize("frames", [
    [("BEGIN", "t"), ("ABORT", "t"), ("COMMIT", "t")],
    [("BEGIN", "t"), ("COMMIT", "t"), ("ABORT", "t")],
    [("BEGIN", "t"), ("ABORT", "t"), ("ABORT", "t")],
    [("BEGIN", "a"), ("BEGIN", "b"), ("BEGIN", "a")],
], ids=["commit-after-abort", "abort-after-commit", "abort-twice", "nested-begin-same-id"])
def test_transaction_misuse(broker, frames):
    """More of what test_prefetch_tx.py::test_tx_errors covers: each finished
    or duplicate transaction id is an ERROR, and the sends of a transaction
    left open by that ERROR are discarded (the close aborts it)."""
    dest = "/queue/" + unique()
    c = client(broker.port)
    for cmd, tx in frames[:-1]:
        c.request(cmd, [("transaction", tx)])
        if cmd == "BEGIN":
            c.send(dest, "in-" + tx, [("transaction", tx)])
    cmd, tx = frames[-1]
    err = c.expect_error(cmd, [("transaction", tx)])
    assert "transaction" in _text(err), err
    committed = [b"in-" + t.encode() for (k, t) in frames[:-1] if k == "COMMIT"]
    s = client(broker.port)
    s.subscribe(dest, "s")
    got = [s.read_message().body for _ in committed]
    assert got == committed
    s.assert_no_frame(what="a send of an aborted or unfinished transaction")
    s.close()
    assert_broker_serves(broker)


@pytest.mark.parametrize("cmd", ["BEGIN", "COMMIT", "ABORT"])
def test_transaction_frame_without_transaction_header(broker, cmd):
    c = client(broker.port)
    err = c.expect_error(cmd, [])
    assert "transaction" in _text(err), err
    assert_broker_serves(broker)


def test_client_ack_of_older_message_after_cumulative_ack(broker):
    """client mode: ACK of m2 covers m0..m2. A later ACK of m0 (what a client
    acking each MESSAGE as it arrives sends when a persistent delivery
    arrives after a newer non-persistent one) is redundant, not an error:
    RECEIPT, nothing comes back. An ack tag never delivered is still an
    ERROR."""
    dest = "/queue/" + unique()
    p = client(broker.port)
    for i in range(3):
        p.send(dest, "c%d" % i)
    p.close()
    c = client(broker.port)
    c.subscribe(dest, "c", ack="client")
    msgs = c.read_messages(3)
    c.ack(msgs[2])
    c.ack(msgs[0])
    sub_no = msgs[0]["ack"].split("-")[0]
    c.expect_error("ACK", [("id", "%s-999999" % sub_no)])
    s = client(broker.port)
    s.subscribe(dest, "s")
    s.assert_no_frame(what="a message a cumulative ACK covered")
    s.close()
    assert_broker_serves(broker)


@pytest.mark.parametrize("version,how", [("1.0", "message-id"), ("1.1", "message-id+sub")])
def test_client_ack_by_message_id_of_older_message_after_cumulative_ack(broker, version, how):
    """The same as above for 1.0/1.1 clients (PHP's stomp extension), which
    name the message by message-id: the redundant ACK gets its RECEIPT, once;
    naming it a second time, or naming a message-id never delivered, is an
    ERROR."""
    dest = "/queue/" + unique()
    p = client(broker.port)
    for i in range(3):
        p.send(dest, "m%d" % i)
    p.close()
    c = client(broker.port, version)
    c.subscribe(dest, "c", ack="client")
    msgs = c.read_messages(3)
    c.ack(msgs[2], how)
    c.ack(msgs[0], how)
    c.ack(msgs[1], how)
    c.expect_error("ACK", [("message-id", msgs[0]["message-id"]), ("subscription", "c")])
    c = client(broker.port, version)
    c.expect_error("ACK", [("message-id", "no-such-message"), ("subscription", "c")])
    s = client(broker.port)
    s.subscribe(dest, "s")
    s.assert_no_frame(what="a message a cumulative ACK covered")
    s.close()
    assert_broker_serves(broker)


@pytest.mark.parametrize("hdrs", [
    [("destination", "/queue/x"), ("id", "s"), ("ack", "sometimes")],
    [("destination", "/queue/x"), ("id", "s"), ("prefetch-count", "many")],
    [("destination", "/queue/x"), ("id", "s"), ("selector", "a = = 1")],
    [("destination", "/nowhere/queue-without-prefix"), ("id", "s")],
    [("destination", ""), ("id", "s")],
], ids=["bad-ack-mode", "bad-prefetch", "bad-selector", "bad-destination", "empty-destination"])
def test_subscribe_misuse(broker, hdrs):
    c = client(broker.port)
    c.expect_error("SUBSCRIBE", hdrs)
    assert_broker_serves(broker)


def test_many_misusing_clients_at_once(broker):
    """Forty clients misbehave in parallel (a mix of the above) while a good
    client keeps a round trip going: every bad one gets its ERROR, the good
    one never notices."""
    errors: list[str] = []
    bad_frames = [
        encode_frame("COMMIT", [("transaction", "nope"), ("receipt", "x")]),
        encode_frame("ACK", [("id", "1-1"), ("receipt", "x")]),
        encode_frame("UNSUBSCRIBE", [("id", "nope"), ("receipt", "x")]),
        b"SEND\ndestination:/queue/x\nx:\xff\n\n\0",
        b"SEND\ndestination:/queue/x\nx:a\\tb\n\n\0",
    ]

    def bad(i):
        try:
            c = client(broker.port)
            c.send_raw(bad_frames[i % len(bad_frames)])
            frames = c.read_until_closed(15)
            if not frames or frames[-1].command != "ERROR":
                errors.append("client %d: %r" % (i, frames))
        except Exception as e:  # noqa: BLE001
            errors.append("client %d: %r" % (i, e))

    good = client(broker.port)
    gd = "/queue/" + unique()
    good.subscribe(gd, "g")
    threads = [threading.Thread(target=bad, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    k = 0
    while any(t.is_alive() for t in threads):
        good.send(gd, "g%d" % k)
        assert good.read_message().body == b"g%d" % k
        k += 1
    for t in threads:
        t.join()
    assert not errors, errors
    good.close()
    assert_broker_serves(broker)
