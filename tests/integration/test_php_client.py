"""php-cli + the php-stomp extension (speaks STOMP 1.0, no heart-beats, ack:client,
ack($frame) copies the MESSAGE headers back)."""
from support import client, finish_php, run_php, start_php, unique


def test_php_roundtrip_send_subscribe_readframe_ack(broker):
    dest = "/queue/" + unique()
    r = run_php("roundtrip.php", broker.port, dest)
    assert r["session"], r
    assert r["sent"] is True and r["subscribed"] is True, r
    f = r["frame"]
    assert f is not None, r
    assert f["command"] == "MESSAGE"
    assert f["body"] == "hello from php"
    assert f["headers"]["destination"] == dest
    assert f["headers"]["x-php"] == "yes"
    assert f["headers"]["content-type"] == "text/plain"
    assert "receipt" not in f["headers"] and "transaction" not in f["headers"]
    assert "message-id" in f["headers"]
    assert r["acked"] is True, r
    assert r["left"] is None, "acked message still on the queue: %r" % r["left"]


def test_php_transactions(broker):
    dest = "/queue/" + unique()
    r = run_php("transactions.php", broker.port, dest)
    for k in ("begin1", "abort1", "begin2", "commit2", "abort3", "commit4"):
        assert r[k] is True, (k, r)
    assert r["first"] == "committed", r
    again = r["again"]
    assert again and again["body"] == "committed", r
    assert again["headers"].get("redelivered") == "true", again
    assert r["extra"] is None, r


def test_php_error_with_receipt(broker):
    r = run_php("error.php", broker.port, "bad-destination")
    # send() waits for the receipt; the broker answers ERROR -> send returns false
    # (or the extension throws). Either way the ERROR message reaches PHP.
    if r["exception"] is None:
        assert r["sent"] is False, r
        assert r["error"], r
    else:
        assert r["exception"]


def test_php_error_without_receipt(broker):
    r = run_php("error.php", broker.port, "bad-destination-noreceipt")
    assert r["exception"], "readFrame did not raise StompException for the ERROR: %r" % r


def test_php_unsubscribe_returns_unacked(broker):
    dest = "/queue/" + unique()
    r = run_php("unsubscribe.php", broker.port, dest)
    assert r["got"] == "one"
    assert r["unsubscribed"] is True, r
    assert r["again"] and r["again"]["body"] == "one", r
    assert r["again"]["headers"].get("redelivered") == "true"


def test_php_one_at_a_time_worker(broker):
    dest = "/queue/" + unique()
    n = 10
    assert run_php("produce.php", broker.port, dest, n)["sent"] == n
    r = run_php("worker.php", broker.port, dest, "0.8")
    assert r["bodies"] == ["msg-%d" % i for i in range(n)], r
    assert r["early"] == 0, "a second message was pushed before the ack: %r" % r
    assert r["acked"] == n
    # all consumed
    c = client(broker.port)
    c.subscribe(dest, "s")
    c.assert_no_frame()
    c.close()


def test_two_php_workers_share_a_queue_exactly_once(broker):
    dest = "/queue/" + unique()
    n = 40
    w1 = start_php("worker.php", broker.port, dest, "1.5", ready=True)
    w2 = start_php("worker.php", broker.port, dest, "1.5", ready=True)
    p = run_php("produce.php", broker.port, dest, n, "job")
    assert p["sent"] == n
    r1 = finish_php(w1)
    r2 = finish_php(w2)
    all_bodies = r1["bodies"] + r2["bodies"]
    assert sorted(all_bodies) == sorted("job-%d" % i for i in range(n)), (r1, r2)
    assert len(set(all_bodies)) == n, "a message was processed twice"
    assert r1["early"] == 0 and r2["early"] == 0, (r1, r2)
    assert r1["bodies"] and r2["bodies"], "one worker got everything: %r / %r" % (r1, r2)
    assert r1["redelivered"] == 0 and r2["redelivered"] == 0


def test_php_worker_dies_message_redelivered(broker):
    dest = "/queue/" + unique()
    assert run_php("produce.php", broker.port, dest, 3)["sent"] == 3
    c = client(broker.port, "1.0")
    c.subscribe(dest, "raw", ack="client", headers=[("activemq.prefetchSize", "1")])
    m = c.read_message()
    assert m.body == b"msg-0"
    c.close()  # dies holding msg-0
    r = run_php("worker.php", broker.port, dest, "0.8")
    assert sorted(r["bodies"]) == ["msg-0", "msg-1", "msg-2"], r
    assert r["redelivered"] == 1, r


def test_php_and_python_interoperate(broker):
    dest = "/queue/" + unique()
    p = client(broker.port, "1.2")
    p.send(dest, "from raw 1.2", [("x-k", "v")])
    p.close()
    r = run_php("consume.php", broker.port, dest, 1)
    assert [f["body"] for f in r["frames"]] == ["from raw 1.2"]
    assert r["frames"][0]["headers"]["x-k"] == "v"


def test_php_slow_worker_without_heart_beats_not_timed_out(broker_factory):
    """php-stomp never negotiates heart-beats: a worker that takes longer than
    the heart-beat grace per message is never disconnected."""
    b = broker_factory(heart_beat="100,100", heart_beat_grace="2.0")
    dest = "/queue/" + unique()
    assert run_php("produce.php", b.port, dest, 3)["sent"] == 3
    r = run_php("worker.php", b.port, dest, "0.5", 3, 600)  # 600 ms of work per message
    assert r["bodies"] == ["msg-0", "msg-1", "msg-2"], r
    assert r["acked"] == 3 and r["redelivered"] == 0, r


def test_server_frames_end_with_nul_then_eol(broker):
    """php-stomp reads ONE byte after each frame's NUL and drops it (it expects the
    '\\n' that ActiveMQ/RabbitMQ send). Without an EOL after the NUL it eats the
    first letter of the next frame ("ECEIPT", "ESSAGE") whenever two frames arrive
    back to back -- so PHP needs every server frame to end with NUL + EOL."""
    dest = "/queue/" + unique()
    c = client(broker.port, "1.0")
    c.send_frame("SEND", [("destination", dest), ("receipt", "a")], b"x")
    c.send_frame("SUBSCRIBE", [("destination", dest), ("receipt", "b")])
    raw = b""
    import time as _t
    deadline = _t.monotonic() + 5
    while raw.count(b"\0") < 3 and _t.monotonic() < deadline:
        try:
            c.sock.settimeout(max(0.01, deadline - _t.monotonic()))
            raw += c.sock.recv(65536)
        except OSError:
            break
    assert raw.count(b"\0") >= 3, raw  # RECEIPT a, RECEIPT b, MESSAGE
    frames = raw.split(b"\0")[:-1]
    for nxt in frames[1:]:
        assert nxt.startswith(b"\n") or nxt.startswith(b"\r\n"), \
            "frame not followed by EOL after its NUL: %r" % raw
    c.close()
