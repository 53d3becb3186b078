"""Limits and bad input: each gets an ERROR (saying why) or a close, and the
broker keeps serving every other client."""
import random
import socket
import threading
import time

import pytest

from support import (Closed, RawClient, WAIT, assert_broker_serves, client, encode_frame,
                     unique)


def _error_text(err):
    return (err.get("message", "") + " " + err.text).lower()


def _expect_error_or_close(c, timeout=WAIT):
    """Bad input: the server answers ERROR and/or closes. Returns frames seen."""
    frames = c.read_until_closed(timeout)
    for f in frames:
        assert f.command in ("ERROR", "CONNECTED"), "unexpected reply to bad input: %r" % f
    return frames


# ---------------------------------------------------------------- limits

def test_max_frame_size(broker_factory):
    b = broker_factory(max_frame_size="4KiB")
    c = client(b.port)
    dest = "/queue/" + unique()
    c.send(dest, b"x" * 3000)  # fits
    err = c.expect_error("SEND", [("destination", dest)], b"y" * 5000, parse_level=True)
    assert "frame" in _error_text(err), err
    assert_broker_serves(b)


def test_max_body_size(broker_factory):
    b = broker_factory(max_body_size="1KiB")
    c = client(b.port)
    dest = "/queue/" + unique()
    c.send(dest, b"x" * 1024)  # exactly the limit is fine
    err = c.expect_error("SEND", [("destination", dest)], b"y" * 1025, parse_level=True)
    assert "body" in _error_text(err), err
    assert_broker_serves(b)


def test_max_body_size_without_content_length(broker_factory):
    b = broker_factory(max_body_size="1KiB")
    c = client(b.port)
    err = c.expect_error("SEND", [("destination", "/queue/" + unique())], b"z" * 3000,
                         content_length=False, parse_level=True)
    assert "body" in _error_text(err) or "frame" in _error_text(err), err
    assert_broker_serves(b)


def test_max_body_size_huge_content_length_refused_early(broker_factory):
    """A content-length above the limit is refused without waiting for the body."""
    b = broker_factory(max_body_size="1KiB")
    c = client(b.port)
    c.send_raw(b"SEND\ndestination:/queue/x\ncontent-length:999999999\nreceipt:big\n\nabc")
    err = c.expect_error_frame("big", require_receipt_id=False)
    assert "body" in _error_text(err) or "frame" in _error_text(err), err
    assert_broker_serves(b)


def test_max_headers(broker_factory):
    b = broker_factory(max_headers=5)
    c = client(b.port)
    dest = "/queue/" + unique()
    # destination + receipt + 3 = 5 header lines: fine
    c.request("SEND", [("destination", dest), ("a", "1"), ("b", "2"), ("c", "3")], b"",
              content_length=False)
    err = c.expect_error("SEND", [("destination", dest)] + [("h%d" % i, "v") for i in range(10)],
                         b"", content_length=False, parse_level=True)
    assert "header" in _error_text(err), err
    assert_broker_serves(b)


def test_max_header_length(broker_factory):
    b = broker_factory(max_header_length=100)
    c = client(b.port)
    dest = "/queue/" + unique()
    c.send(dest, "ok", [("x-short", "v" * 50)])
    err = c.expect_error("SEND", [("destination", dest), ("x-long", "v" * 300)], b"x", parse_level=True)
    assert "header" in _error_text(err), err
    assert_broker_serves(b)


def test_max_header_length_on_connect(broker_factory):
    b = broker_factory(max_header_length=100)
    c = RawClient(b.port)
    c.send_frame("CONNECT", [("accept-version", "1.2"), ("host", "/"), ("login", "u" * 500)])
    frames = c.read_until_closed()
    assert frames and frames[-1].command == "ERROR", frames
    assert "header" in _error_text(frames[-1])
    assert_broker_serves(b)


def test_max_connections(broker_factory):
    b = broker_factory(max_connections=3)
    conns = [client(b.port) for _ in range(3)]
    extra = RawClient(b.port)
    # the broker may refuse at accept time, or on CONNECT
    first = None
    try:
        first = extra.try_read_frame(0.3)
    except Closed:
        pass
    if first is None and not extra.eof:
        try:
            extra.send_frame("CONNECT", [("accept-version", "1.2"), ("host", "/")])
        except (BrokenPipeError, ConnectionResetError):
            pass
    frames = ([first] if first is not None else []) + (extra.read_until_closed() if not extra.eof else [])
    assert [f.command for f in frames] == ["ERROR"], frames
    assert "connection" in _error_text(frames[0]), frames[0]
    # the others are fine
    dest = "/queue/" + unique()
    conns[0].subscribe(dest, "s")
    conns[1].send(dest, "fine")
    assert conns[0].read_message().body == b"fine"
    conns[2].send(dest, "fine2")
    assert conns[0].read_message().body == b"fine2"
    # once one leaves, a new client can get in
    conns[2].disconnect()
    deadline = time.monotonic() + WAIT
    while True:
        c = RawClient(b.port)
        try:
            f = c.connect("1.2")
            break
        except (AssertionError, Closed, ConnectionResetError, BrokenPipeError):
            c.close()
            if time.monotonic() > deadline:
                raise AssertionError("no connection slot freed after a client left")
            time.sleep(0.05)
    assert f.command == "CONNECTED"
    c.close()
    for x in conns[:2]:
        x.close()


def test_max_subscriptions(broker_factory):
    b = broker_factory(max_subscriptions=2)
    c = client(b.port)
    c.subscribe("/queue/" + unique(), "1")
    c.subscribe("/topic/" + unique(), "2")
    err = c.expect_error("SUBSCRIBE", [("destination", "/queue/" + unique()), ("id", "3")])
    assert "subscription" in _error_text(err), err
    # the limit is per connection: another connection can subscribe twice
    d = client(b.port)
    d.subscribe("/queue/" + unique(), "1")
    d.subscribe("/queue/" + unique(), "2")
    d.close()
    assert_broker_serves(b)


def test_unsubscribe_frees_subscription_slot(broker_factory):
    b = broker_factory(max_subscriptions=1)
    c = client(b.port)
    for i in range(3):
        c.subscribe("/queue/" + unique(), "s%d" % i)
        c.unsubscribe("s%d" % i)
    c.close()


# The memory limit bounds messages held in memory: these tests send
# persistent:false, because persistent messages for queues are paged out to
# the journal past the limit instead (tests/integration/test_backlog.py).
def test_memory_limit_reject(broker_factory):
    b = broker_factory(memory_limit="64KiB", memory_policy="reject")
    dest = "/queue/" + unique()
    p = client(b.port)
    body = b"m" * 4096
    err = None
    sent = 0
    for i in range(200):
        rid = p.next_rid()
        p.send_frame("SEND", [("destination", dest), ("receipt", rid), ("persistent", "false")], body)
        f = p.read_frame()
        if f.command == "ERROR":
            err = f
            break
        assert f.command == "RECEIPT" and f["receipt-id"] == rid
        sent += 1
    assert err is not None, "no ERROR after %d x 4 KiB with a 64 KiB memory limit" % sent
    assert 4 <= sent <= 32, sent
    assert "memory" in _error_text(err), err
    # the queued messages are intact; draining them makes room again
    c = client(b.port)
    c.subscribe(dest, "s", ack="auto")
    assert len(c.read_messages(sent)) == sent
    c.close()
    assert_broker_serves(b)


def test_memory_limit_is_global_across_shards(broker_factory):
    """memory-limit counts queued bytes over all shards: two producers (on
    different connections, so different shards with --shards 2) together
    hit the limit after ~limit bytes, not ~2x."""
    b = broker_factory(memory_limit="64KiB", memory_policy="reject")
    producers = [client(b.port), client(b.port)]
    dests = ["/queue/" + unique(), "/queue/" + unique()]
    body = b"m" * 4096
    ok = 0
    refused = False
    for i in range(100):
        k = i % 2
        rid = producers[k].next_rid()
        producers[k].send_frame("SEND", [("destination", dests[k]), ("receipt", rid),
                                          ("persistent", "false")], body)
        f = producers[k].read_frame()
        if f.command == "ERROR":
            refused = True
            assert "memory" in _error_text(f), f
            break
        assert f.command == "RECEIPT"
        ok += 1
    assert refused, "no ERROR after %d x 4 KiB" % ok
    assert ok <= 24, "%d x 4 KiB accepted under a 64 KiB global memory limit" % ok
    for p in producers:
        p.close()


def test_memory_limit_block_slows_producer(broker_factory):
    b = broker_factory(memory_limit="64KiB", memory_policy="block")
    dest = "/queue/" + unique()
    n = 60
    body = b"m" * 4096
    done = []
    errors = []

    def produce():
        try:
            p = client(b.port)
            for i in range(n):
                p.request("SEND", [("destination", dest), ("persistent", "false")], b"%03d" % i + body,
                          timeout=30)
                done.append(i)
            p.close()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    t = threading.Thread(target=produce, daemon=True)
    t.start()
    deadline = time.monotonic() + 3
    last = -1
    while time.monotonic() < deadline:
        time.sleep(0.3)
        if len(done) == last:
            break  # stalled
        last = len(done)
    stalled_at = len(done)
    assert stalled_at < n, "producer was never slowed by a 64 KiB memory limit"
    c = client(b.port)
    c.subscribe(dest, "s", ack="auto")
    got = [m.body[:3] for m in c.read_messages(n, timeout=20)]
    t.join(20)
    assert not errors, errors
    assert got == [b"%03d" % i for i in range(n)]
    c.close()


# ---------------------------------------------------------------- bad input

def test_garbage_before_connect(broker):
    c = RawClient(broker.port)
    rnd = random.Random(42)
    try:
        c.send_raw(bytes(rnd.randrange(256) for _ in range(2000)) + b"\n\n\0")
    except (BrokenPipeError, ConnectionResetError):
        pass
    _expect_error_or_close(c)
    assert_broker_serves(broker)


def test_garbage_after_connect(broker):
    c = client(broker.port)
    rnd = random.Random(7)
    try:
        c.send_raw(b"\xde\xad\xbe\xef" * 50 + bytes(rnd.randrange(256) for _ in range(1000)) + b"\n\n\0")
    except (BrokenPipeError, ConnectionResetError):
        pass
    _expect_error_or_close(c)
    assert_broker_serves(broker)


def test_http_request_is_refused(broker):
    c = RawClient(broker.port)
    c.send_raw(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    _expect_error_or_close(c)
    assert_broker_serves(broker)


@pytest.mark.parametrize("cmd", ["FOO", "send", "MESSAGE", "CONNECTED", "RECEIPT", "ERROR", "SENDX"])
def test_unknown_or_server_command(broker, cmd):
    c = client(broker.port)
    err = c.expect_error(cmd, [("destination", "/queue/x")], b"", parse_level=True)
    assert err.get("message")
    assert_broker_serves(broker)


@pytest.mark.parametrize("cmd", ["FOO", "send"])
def test_unknown_command_error_has_receipt_id(broker, cmd):
    """The unknown-command frame is well-formed and carries a receipt: the
    ERROR names it (contract: receipt-id if the bad frame had a receipt)."""
    c = client(broker.port)
    c.send_frame(cmd, [("destination", "/queue/x"), ("receipt", "unk-1")])
    err = c.expect_error_frame("unk-1")
    assert err.get("receipt-id") == "unk-1"


@pytest.mark.parametrize("cmd", ["SEND", "SUBSCRIBE"])
def test_missing_destination(broker, cmd):
    c = client(broker.port)
    err = c.expect_error(cmd, [("id", "1")], b"")
    assert "destination" in _error_text(err), err
    assert_broker_serves(broker)


def test_subscribe_without_id_1_1_is_error_when_strict(broker_factory):
    # Accepted by default, as RabbitMQ does (issue 17.5, test_dialects.py);
    # strict-subscription-id restores the spec's ERROR.
    broker = broker_factory(strict_subscription_id="true")
    c = client(broker.port, "1.1")
    c.expect_error("SUBSCRIBE", [("destination", "/queue/" + unique())])
    assert_broker_serves(broker)


def test_subscribe_without_id_1_0_uses_destination(broker):
    dest = "/queue/" + unique()
    c = client(broker.port, "1.0")
    c.request("SUBSCRIBE", [("destination", dest)])
    c.send(dest, "v10")
    m = c.read_message()
    assert m.body == b"v10"
    assert m["subscription"] == dest
    # 1.0 UNSUBSCRIBE by destination
    c.request("UNSUBSCRIBE", [("destination", dest)])
    c.send(dest, "after-unsub")
    c.assert_no_frame()
    c.close()


def test_duplicate_subscription_id(broker):
    c = client(broker.port)
    c.subscribe("/queue/" + unique(), "dup")
    err = c.expect_error("SUBSCRIBE", [("destination", "/queue/" + unique()), ("id", "dup")])
    assert err.get("message")
    assert_broker_serves(broker)


def test_unsubscribe_unknown_id(broker):
    c = client(broker.port)
    c.expect_error("UNSUBSCRIBE", [("id", "never-subscribed")])
    assert_broker_serves(broker)


@pytest.mark.parametrize("cmd", ["ACK", "NACK"])
@pytest.mark.parametrize("hdrs", [
    [("id", "bogus")],
    [("message-id", "bogus"), ("subscription", "s")],
    [("message-id", "bogus")],
    [],
], ids=["id", "message-id+sub", "message-id", "none"])
def test_ack_nack_unknown(broker, cmd, hdrs):
    c = client(broker.port)
    c.subscribe("/queue/" + unique(), "s", ack="client-individual")
    c.expect_error(cmd, hdrs)
    assert_broker_serves(broker)


@pytest.mark.parametrize("data", [
    b"SEND\ndestination:/queue/x\ncontent-length:abc\n\nabc\0",
    b"SEND\ndestination:/queue/x\ncontent-length:-1\n\nabc\0",
    b"SEND\ndestination:/queue/x\ncontent-length:2\n\nabcdef\0",
], ids=["cl-not-a-number", "cl-negative", "cl-no-nul-after-body"])
def test_bad_content_length(broker, data):
    c = client(broker.port)
    c.send_raw(data)
    frames = _expect_error_or_close(c)
    assert any(f.command == "ERROR" for f in frames), frames
    assert_broker_serves(broker)


def test_header_without_colon(broker):
    c = client(broker.port)
    c.send_raw(b"SEND\ndestination:/queue/x\nthis-is-not-a-header\n\nbody\0")
    _expect_error_or_close(c)
    assert_broker_serves(broker)


def test_close_mid_frame(broker):
    dest = "/queue/" + unique()
    for partial in (b"SEN", b"SEND\ndestination:" + dest.encode(),
                    b"SEND\ndestination:" + dest.encode() + b"\ncontent-length:100\n\nabc",
                    b"SEND\ndestination:" + dest.encode() + b"\n\nno nul yet"):
        c = client(broker.port)
        c.send_raw(partial)
        c.close()
    c = RawClient(broker.port)
    c.send_raw(b"CONNECT\naccept-ver")
    c.close()
    # the half frames were never delivered
    s = client(broker.port)
    s.subscribe(dest, "s")
    s.assert_no_frame()
    s.close()
    assert_broker_serves(broker)


def test_reset_mid_frame(broker):
    c = client(broker.port)
    c.send_raw(b"SEND\ndestination:/queue/x\ncontent-length:1000\n\n" + b"a" * 500)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    c.close()  # RST
    assert_broker_serves(broker)


def test_client_closes_with_unread_messages(broker):
    """A subscriber that vanishes with lots of data in flight doesn't hurt anyone."""
    dest = "/topic/" + unique()
    s = client(broker.port)
    s.subscribe(dest, "s")
    p = client(broker.port)
    for i in range(50):
        p.send(dest, b"x" * 10000, receipt=(i == 49))
    s.close()
    p.send(dest, "after")
    p.close()
    assert_broker_serves(broker)


def test_slow_client_byte_by_byte_others_served(broker):
    """A client trickling a frame a few bytes at a time doesn't stall others;
    its frame works once complete."""
    dest = "/queue/" + unique()
    slow = client(broker.port)
    slow.subscribe(dest, "slow")
    frame = encode_frame("SEND", [("destination", dest), ("receipt", "trickled")], b"slowly")
    other_dest = "/queue/" + unique()
    other = client(broker.port)
    other.subscribe(other_dest, "o")
    rounds = 0
    for i in range(len(frame)):
        slow.send_raw(frame[i:i + 1])
        if i % 8 == 0:
            # a full round trip for another client while the slow frame is incomplete
            other.send(other_dest, "r%d" % rounds)
            assert other.read_message().body == b"r%d" % rounds
            rounds += 1
        time.sleep(0.01)
    assert rounds >= 3
    slow.wait_receipt("trickled")
    assert slow.read_message().body == b"slowly"
    slow.close()
    other.close()
    assert_broker_serves(broker)


def test_slow_connect_one_byte_at_a_time(broker):
    c = RawClient(broker.port)
    frame = b"CONNECT\naccept-version:1.2\nhost:/\n\n\0"
    others = client(broker.port)
    d = "/queue/" + unique()
    others.subscribe(d, "o")
    for i, byte in enumerate(frame):
        c.send_raw(bytes([byte]))
        if i % 10 == 0:
            others.send(d, "x")
            assert others.read_message().body == b"x"
        time.sleep(0.02)
    f = c.read_frame()
    assert f.command == "CONNECTED"
    c.close()
    others.close()


def test_many_bad_clients_then_good_ones(broker):
    """A burst of misbehaving clients of every kind; the broker survives and a
    long-lived good client connected throughout is unharmed."""
    good = client(broker.port)
    gd = "/queue/" + unique()
    good.subscribe(gd, "g")
    bad_inputs = [
        b"\0\0\0\0",
        b"\xff" * 100 + b"\n\n\0",
        b"CONNECT\naccept-version:9.9\n\n\0",
        b"SEND\n\n\0",
        b"CONNECT\n\n\0SEND\n\n\0",
        b"CONNECT\n\n\0SUBSCRIBE\nid:1\n\n\0",
        b"CONNECT\n\n\0ACK\nmessage-id:zzz\n\n\0",
        b"CONNECT\n\n\0BOGUS\n\n\0",
        b"CONNECT\n\n\0SEND\ndestination:/queue/x\ncontent-length:5\n\nab",
    ]
    for i, data in enumerate(bad_inputs):
        c = RawClient(broker.port)
        try:
            c.send_raw(data)
        except OSError:
            pass
        c.close()
        good.send(gd, "g%d" % i)
        assert good.read_message().body == b"g%d" % i
    good.close()
    assert_broker_serves(broker)


def test_connection_slots_released_however_clients_leave(broker_factory):
    """Connections closed by DISCONNECT, by the client, by an ERROR, by a reset,
    or before CONNECT all give their slot back."""
    b = broker_factory(max_connections=4)
    for i in range(6):
        c = client(b.port)
        c.disconnect()
        c = client(b.port)
        c.close()
        c = client(b.port)
        c.expect_error("FOO", [])
        c = client(b.port)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()
        c = RawClient(b.port)
        c.close()
    # all 4 slots are free again (closing is asynchronous: retry briefly)
    deadline = time.monotonic() + WAIT
    while True:
        conns = []
        try:
            for _ in range(4):
                conns.append(client(b.port))
            break
        except (AssertionError, Closed, ConnectionResetError, BrokenPipeError):
            for x in conns:
                x.close()
            if time.monotonic() > deadline:
                raise AssertionError("connection slots leaked: only %d of 4 usable" % len(conns))
            time.sleep(0.05)
    dest = "/queue/" + unique()
    conns[0].subscribe(dest, "s")
    conns[3].send(dest, "ok")
    assert conns[0].read_message().body == b"ok"
    for x in conns:
        x.close()


def test_nul_inside_headers(broker):
    c = client(broker.port)
    try:
        c.send_raw(b"SEND\ndestination:/queue/x\nx-h:a\0b\n\nbody\0")
    except OSError:
        pass
    frames = _expect_error_or_close(c)
    assert any(f.command == "ERROR" for f in frames), frames
    assert_broker_serves(broker)


@pytest.mark.parametrize("connected", [False, True])
def test_endless_line_is_cut_off(broker_factory, connected):
    """A line that never ends is refused once it exceeds the header-length limit,
    without waiting for the rest."""
    b = broker_factory(max_header_length="1KiB", max_frame_size="8KiB")
    c = client(b.port) if connected else RawClient(b.port)
    prefix = b"SEND\ndestination:/queue/x\nx-long:" if connected else b""
    try:
        c.send_raw(prefix + b"A" * 20000)
    except OSError:
        pass
    frames = _expect_error_or_close(c)
    if connected:
        assert frames and frames[-1].command == "ERROR", frames
    assert_broker_serves(b)


# ---------------------------------------------------------------- defaults

def test_default_max_headers_1000(broker):
    c = client(broker.port)
    dest = "/queue/" + unique()
    # destination + receipt + 998 = 1000 header lines: accepted
    c.request("SEND", [("destination", dest)] + [("h%d" % i, "v") for i in range(998)], b"",
              content_length=False)
    err = c.expect_error("SEND", [("destination", dest)] + [("h%d" % i, "v") for i in range(1100)],
                         b"", content_length=False, parse_level=True)
    assert "header" in _error_text(err)
    assert_broker_serves(broker)


def test_default_max_header_length_10k(broker):
    c = client(broker.port)
    dest = "/queue/" + unique()
    c.send(dest, "ok", [("x-big", "v" * 9000)])
    err = c.expect_error("SEND", [("destination", dest), ("x-huge", "v" * 11000)], b"x", parse_level=True)
    assert "header" in _error_text(err)
    assert_broker_serves(broker)


def test_default_max_body_10mib(broker):
    dest = "/queue/" + unique()
    c = client(broker.port)
    c.send(dest, b"b" * (10 * 1024 * 1024))
    # declare one byte more than the limit; the broker refuses on the headers
    c.send_raw(b"SEND\ndestination:" + dest.encode() + b"\ncontent-length:%d\nreceipt:big\n\nbbb"
               % (10 * 1024 * 1024 + 1))
    err = c.expect_error_frame("big", require_receipt_id=False)
    assert "body" in _error_text(err)
    s = client(broker.port)
    s.subscribe(dest, "s")
    assert len(s.read_message(timeout=15).body) == 10 * 1024 * 1024
    s.close()
