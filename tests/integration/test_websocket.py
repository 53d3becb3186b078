"""STOMP over WebSocket (--ws-listen): @stomp/stompjs from Node, a raw
RFC 6455 client for what libraries do not send (split and fragmented
frames, unmasked frames, oversize messages, bad handshakes), and interop
with stomp.py and php-stomp over TCP. Every test runs with 1 and 2 shards."""
from __future__ import annotations

import os
import socket
import struct
import time

import pytest

from support import WAIT, assert_broker_serves, client, py_connect, py_rid, run_php, unique
from transport_support import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, NodeClient, RawWs,
                               parse_stomp, stomp_bytes, ws_frame)

WS = dict(ws_listen="127.0.0.1:0")


def ws_url(broker, path="/ws") -> str:
    return "ws://127.0.0.1:%d%s" % (broker.ws_port, path)


def connect_ws(broker, **kw) -> RawWs:
    """A raw WebSocket client after CONNECT / CONNECTED (STOMP 1.2)."""
    ws = RawWs(broker.ws_port, **kw)
    assert ws.status == 101, (ws.status, ws.response_body)
    ws.send(stomp_bytes("CONNECT", {"accept-version": "1.2", "host": "/", "heart-beat": "0,0"}))
    op, payload = ws.read_message()
    assert parse_stomp(payload)[0] == "CONNECTED", payload
    return ws


def test_listener_port_is_logged(broker_factory):
    b = broker_factory(**WS)
    assert b.ws_port and b.ws_port != b.port
    assert any("listening on 127.0.0.1:%d (WebSocket)" % b.ws_port in l for l in b.lines)
    assert b.tls_port is None and b.wss_port is None


def test_stompjs_roundtrip(broker_factory):
    b = broker_factory(**WS)
    dest = "/queue/" + unique("js")
    n = NodeClient(url=ws_url(b), subscribe=dest, expect=2,
                   send=[{"destination": dest, "body": "hello"}, {"destination": dest, "body": "wörld ✓"}])
    assert n.finish() == 0, (n.lines, n.stderr())
    assert n.events("upgrade")[0]["protocol"] == "v12.stomp"
    assert n.events("connected")[0]["version"] == "1.2"
    assert [m["body"] for m in n.events("message")] == ["hello", "wörld ✓"]
    assert any("({})".format("ws") in l and "opened from" in l for l in b.lines)


def test_stompjs_receives_from_stomp_py_and_php(broker_factory):
    b = broker_factory(**WS)
    dest = "/queue/" + unique("interop")
    n = NodeClient(url=ws_url(b), subscribe=dest, expect=3)
    n.wait_event("subscribed")
    conn, lst = py_connect(b.port)
    try:
        rid = py_rid()
        conn.send(dest, "from stomp.py", headers={"x-src": "py"}, receipt=rid)
        lst.wait_receipt(rid)
    finally:
        conn.disconnect()
    r = run_php("produce.php", b.port, dest, 2, "from-php")
    assert r["sent"] == 2
    assert n.finish() == 0, (n.lines, n.stderr())
    msgs = n.events("message")
    assert [m["body"] for m in msgs] == ["from stomp.py", "from-php-0", "from-php-1"]
    assert msgs[0]["headers"]["x-src"] == "py"


def test_stompjs_sends_to_php_and_stomp_py(broker_factory):
    b = broker_factory(**WS)
    q1, q2 = "/queue/" + unique("to-php"), "/queue/" + unique("to-py")
    n = NodeClient(url=ws_url(b), send=[{"destination": q1, "body": "a"}, {"destination": q1, "body": "b"},
                                        {"destination": q2, "body": "c", "headers": {"x-js": "1"}}])
    assert n.finish() == 0, (n.lines, n.stderr())
    r = run_php("consume.php", b.port, q1, 2)
    assert [f["body"] for f in r["frames"]] == ["a", "b"], r
    conn, lst = py_connect(b.port)
    try:
        conn.subscribe(q2, id="s", ack="auto")
        m = lst.get()
        # the receipt marker SEND of the node client went to q2 as well
        assert m.body == "c" and m.headers["x-js"] == "1"
    finally:
        conn.disconnect()


def test_frames_split_across_websocket_messages(broker_factory):
    b = broker_factory(**WS)
    dest = "/queue/" + unique("split")
    ws = RawWs(b.ws_port)
    assert ws.status == 101 and ws.protocol == "v12.stomp"
    connect = stomp_bytes("CONNECT", {"accept-version": "1.2", "host": "/", "heart-beat": "0,0"})
    for i in range(0, len(connect), 5):  # one STOMP frame in many messages
        ws.send(connect[i:i + 5], OP_TEXT)
    op, payload = ws.read_message()
    assert op == OP_TEXT and parse_stomp(payload)[0] == "CONNECTED"
    # two frames in one message, then a SEND split mid-header across a text and a binary message
    ws.send(stomp_bytes("SUBSCRIBE", {"destination": dest, "id": "1", "receipt": "r1"}) +
            stomp_bytes("SEND", {"destination": dest}, "one"))
    send2 = stomp_bytes("SEND", {"destination": dest, "receipt": "r2"}, "two")
    ws.send(send2[:7], OP_TEXT)
    ws.send(send2[7:], OP_BINARY)
    got = []
    while len(got) < 4:
        op, payload = ws.read_message()
        cmd, headers, body = parse_stomp(payload)
        # one STOMP frame per WebSocket message, only its EOL after its NUL
        assert payload.endswith(b"\0\n") and payload.count(b"\0") == 1, payload
        got.append((cmd, headers.get("receipt-id"), body))
    assert ("RECEIPT", "r1", b"") in got and ("RECEIPT", "r2", b"") in got
    assert [g[2] for g in got if g[0] == "MESSAGE"] == [b"one", b"two"]
    ws.close()


def test_fragmented_message_and_ping(broker_factory):
    b = broker_factory(**WS)
    ws = RawWs(b.ws_port)
    connect = stomp_bytes("CONNECT", {"accept-version": "1.2", "host": "/", "heart-beat": "0,0"})
    ws.send(connect[:4], OP_TEXT, fin=False)
    ws.send(b"hello?", OP_PING)  # control frames may come between fragments
    ws.send(connect[4:10], OP_CONT, fin=False)
    ws.send(connect[10:], OP_CONT, fin=True)
    op, fin, payload = ws.read_frame()
    assert (op, fin, payload) == (OP_PONG, True, b"hello?")
    op, payload = ws.read_message()
    assert parse_stomp(payload)[0] == "CONNECTED"
    ws.close()


def test_binary_body_comes_back_as_binary_message(broker_factory):
    b = broker_factory(**WS)
    dest = "/queue/" + unique("bin")
    ws = connect_ws(b)
    body = bytes(range(256)) * 4
    ws.send(stomp_bytes("SUBSCRIBE", {"destination": dest, "id": "1"}) +
            stomp_bytes("SEND", {"destination": dest, "content-length": str(len(body))}, body), OP_BINARY)
    op, payload = ws.read_message()
    cmd, headers, got = parse_stomp(payload)
    assert cmd == "MESSAGE" and got == body
    assert op == OP_BINARY  # not valid UTF-8: a text frame would be refused by browsers
    ws.send(stomp_bytes("SEND", {"destination": dest}, "tekst ✓"))
    op, payload = ws.read_message()
    assert op == OP_TEXT and parse_stomp(payload)[2] == "tekst ✓".encode()
    ws.close()


def test_no_subprotocol_is_accepted(broker_factory):
    b = broker_factory(**WS)
    ws = RawWs(b.ws_port, protocols=None)
    assert ws.status == 101 and ws.protocol is None
    ws.send(stomp_bytes("CONNECT", {"accept-version": "1.1,1.2", "host": "/"}))
    op, payload = ws.read_message()
    assert parse_stomp(payload)[0] == "CONNECTED"
    ws.close()


def test_subprotocol_preference(broker_factory):
    b = broker_factory(**WS)
    ws = RawWs(b.ws_port, protocols="v10.stomp, v11.stomp")
    assert ws.status == 101 and ws.protocol == "v11.stomp"
    ws.close()


@pytest.mark.parametrize("case", ["bad-subprotocol", "wrong-path", "not-upgrade", "bad-version", "post", "garbage",
                                  "nul-in-header", "folded-header"])
def test_bad_handshake_is_refused_and_broker_serves(broker_factory, case):
    b = broker_factory(**WS)
    if case == "bad-subprotocol":
        ws = RawWs(b.ws_port, protocols="mqtt")
        assert ws.status == 400 and b"subprotocol" in ws.response_body
    elif case == "wrong-path":
        ws = RawWs(b.ws_port, path="/stomp")
        assert ws.status == 404 and b"/ws" in ws.response_body
    else:
        ws = RawWs(b.ws_port, handshake=False)
        req = {
            "not-upgrade": "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n",
            "bad-version": "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
            "post": "POST /ws HTTP/1.1\r\nHost: x\r\n\r\n",
            "garbage": "CONNECT\naccept-version:1.2\n\n\0\r\n\r\n",
            # Issue 18.7: a NUL in a header, obsolete line folding (RFC 9112 5.2).
            "nul-in-header": "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "X-Evil: a\0b\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "Sec-WebSocket-Version: 13\r\n\r\n",
            "folded-header": "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "X-Folded: a\r\n b\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "Sec-WebSocket-Version: 13\r\n\r\n",
        }[case]
        ws.send_raw(req.encode())
        ws.read_response()
        assert ws.status == {"not-upgrade": 400, "bad-version": 426, "post": 405, "garbage": 400,
                             "nul-in-header": 400, "folded-header": 400}[case], (ws.status, ws.response_body)
        if case == "bad-version":
            assert ws.response_headers["sec-websocket-version"] == "13"
    assert ws.wait_eof(), "the broker did not close after refusing the handshake"
    ws.close()
    assert_broker_serves(b)
    connect_ws(b).close()


def test_oversize_handshake_is_refused(broker_factory):
    b = broker_factory(**WS)
    ws = RawWs(b.ws_port, handshake=False)
    ws.send_raw(b"GET /ws HTTP/1.1\r\nX-Big: " + b"a" * 9000)
    ws.read_response()
    assert ws.status == 431
    assert ws.wait_eof()
    connect_ws(b).close()


def test_unmasked_frame_closes_with_1002(broker_factory):
    b = broker_factory(**WS)
    ws = connect_ws(b)
    ws.send(stomp_bytes("SEND", {"destination": "/queue/x"}, "no mask"), mask=False)
    code, reason = ws.read_close()
    assert code == 1002 and "unmasked" in reason
    assert ws.wait_eof()
    connect_ws(b).close()
    assert_broker_serves(b)


def test_oversize_message_closes_with_1009(broker_factory):
    b = broker_factory(max_frame_size="4096", **WS)
    ws = connect_ws(b)
    ws.send(b"x" * 5000, OP_BINARY)
    code, reason = ws.read_close()
    assert code == 1009 and "max-frame-size" in reason
    assert ws.wait_eof()
    # the limit is per message: fragments count together
    ws = connect_ws(b)
    ws.send(b"x" * 3000, OP_BINARY, fin=False)
    ws.send(b"x" * 3000, OP_CONT)
    code, _ = ws.read_close()
    assert code == 1009
    connect_ws(b).close()
    assert_broker_serves(b)


def test_client_close_handshake(broker_factory):
    b = broker_factory(**WS)
    dest = "/queue/" + unique("close")
    ws = connect_ws(b)
    # A SEND with a receipt, then close right away: the receipt still comes, then the echo.
    # (one TCP segment: the close must not overtake the SEND)
    ws.send_raw(ws_frame(OP_TEXT, stomp_bytes("SEND", {"destination": dest, "receipt": "last"}, "kept")) +
                ws_frame(OP_CLOSE, struct.pack("!H", 1000) + b"bye"))
    op, payload = ws.read_message()
    assert parse_stomp(payload)[:2] == ("RECEIPT", {"receipt-id": "last"})
    code, _ = ws.read_close()
    assert code == 1000
    assert ws.wait_eof(), "the broker should close TCP after the closing handshake"
    c = client(b.port)
    c.subscribe(dest, "1", ack="auto")
    assert c.read_message().body == b"kept"
    c.close()


def test_stomp_error_then_close_frame(broker_factory):
    b = broker_factory(**WS)
    ws = connect_ws(b)
    ws.send(b"BOGUS\n\n\0")
    op, payload = ws.read_message()
    cmd, headers, _ = parse_stomp(payload)
    assert cmd == "ERROR" and headers.get("message")
    code, _ = ws.read_close()
    assert code == 1000
    ws.send(b"", OP_CLOSE)
    assert ws.wait_eof()


def test_heart_beats_are_messages_of_their_own(broker_factory):
    b = broker_factory(heart_beat="200,0", **WS)
    ws = RawWs(b.ws_port)
    ws.send(stomp_bytes("CONNECT", {"accept-version": "1.2", "host": "/", "heart-beat": "0,200"}))
    op, payload = ws.read_message()
    assert parse_stomp(payload)[0] == "CONNECTED"
    op, payload = ws.read_message(skip_heartbeats=False)
    assert (op, payload) == (OP_TEXT, b"\n")
    ws.close()


def test_one_websocket_message_per_frame_with_its_eol(broker_factory):
    """Issue 17.2: N MESSAGE frames arrive as exactly N WebSocket messages,
    each ending with the frame's NUL and EOL (as RabbitMQ Web-STOMP sends
    them); the EOL used to follow as a message of its own."""
    b = broker_factory(**WS)
    dest = "/queue/" + unique("count")
    ws = connect_ws(b)
    ws.send(stomp_bytes("SUBSCRIBE", {"id": "s", "destination": dest, "receipt": "sub"}))
    op, payload = ws.read_message(skip_heartbeats=False)
    assert parse_stomp(payload)[:2] == ("RECEIPT", {"receipt-id": "sub"}) and payload.endswith(b"\0\n"), payload
    n = 5
    c = client(b.port)
    for i in range(n):
        c.send(dest, "m%d" % i)
    c.close()
    got = []
    while len(got) < n:  # every message read must be a MESSAGE frame
        op, payload = ws.read_message(skip_heartbeats=False)
        assert op == OP_TEXT and parse_stomp(payload)[0] == "MESSAGE", (op, payload, got)
        got.append(payload)
    # Nothing between the last MESSAGE and this RECEIPT (heart-beats are off).
    ws.send(stomp_bytes("DISCONNECT", {"receipt": "end"}))
    op, payload = ws.read_message(skip_heartbeats=False)
    assert parse_stomp(payload)[:2] == ("RECEIPT", {"receipt-id": "end"}), payload
    assert len(got) == n, got
    for i, payload in enumerate(got):
        cmd, headers, body = parse_stomp(payload)
        assert (cmd, body) == ("MESSAGE", b"m%d" % i)
        assert payload.endswith(b"\0\n"), payload
    ws.close()


def test_stompjs_gets_one_websocket_message_per_frame(broker_factory):
    """Issue 17.2 as stompjs counts it: as many WebSocket messages as
    frames (the EOL after each frame came as a message of its own, which
    broke stompjs' heart-beat spec). Heart-beats every 30 s: none come
    during this short exchange."""
    b = broker_factory(**WS)
    dest = "/queue/" + unique("jsmsg")
    n = NodeClient(url=ws_url(b), subscribe=dest, expect=5, heartbeat=30000,
                   send=[{"destination": dest, "body": "m%d" % i} for i in range(5)])
    assert n.finish() == 0, (n.lines, n.stderr())
    assert [m["body"] for m in n.events("message")][:5] == ["m%d" % i for i in range(5)]
    frames, messages = len(n.events("frame")), len(n.events("ws-message"))
    assert frames >= 7 and messages == frames, (frames, messages)


def test_handshake_timeout_is_connect_timeout(broker_factory):
    b = broker_factory(connect_timeout="300", **WS)
    s = socket.create_connection(("127.0.0.1", b.ws_port), timeout=WAIT)
    s.sendall(b"GET /ws HTTP/1.1\r\n")  # never finished
    start = time.monotonic()
    s.settimeout(WAIT)
    assert s.recv(100) == b""
    assert time.monotonic() - start < WAIT
    s.close()
    connect_ws(b).close()


def test_ws_path_option(broker_factory):
    b = broker_factory(ws_path="/stomp", **WS)
    assert RawWs(b.ws_port, path="/ws").status == 404
    ws = RawWs(b.ws_port, path="/stomp?x=1")
    assert ws.status == 101
    ws.close()


def test_max_connections_counts_every_listener(broker_factory):
    b = broker_factory(max_connections="2", **WS)
    c1 = client(b.port)
    ws = connect_ws(b)
    # both slots taken: a WebSocket client gets 503, a STOMP one ERROR
    refused = RawWs(b.ws_port)
    assert refused.status == 503
    refused.close()
    from support import RawClient
    r = RawClient(b.port)
    r.send_frame("CONNECT", {"accept-version": "1.2", "host": "/"})
    f = r.read_frame()
    assert f.command == "ERROR" and "max-connections" in f["message"]
    r.close()
    ws.send(b"", OP_CLOSE)
    ws.read_close()
    ws.close()
    c1.close()
    deadline = time.monotonic() + WAIT
    while True:  # slots come back once the broker saw the closes
        w = RawWs(b.ws_port)
        if w.status == 101 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert w.status == 101
    w.close()


CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no Chromium at %s (Debian package chromium)" % CHROMIUM)
def test_stompjs_in_a_chromium_page(broker_factory):
    """A real page in headless Chromium loads stompjs, subscribes over ws://,
    publishes, and also receives what stomp.py sent over TCP."""
    b = broker_factory(**WS)
    dest = "/queue/" + unique("browser")
    page = NodeClient("browser_client.mjs", url=ws_url(b), dest=dest, send=["from the page ✓"], expect=2)
    page.wait_event("subscribed", timeout=30)
    conn, lst = py_connect(b.port)
    try:
        rid = py_rid()
        conn.send(dest, "from stomp.py", receipt=rid)
        lst.wait_receipt(rid)
    finally:
        conn.disconnect()
    assert page.finish(timeout=40) == 0, (page.lines, page.stderr())
    done = page.events("done")[0]
    assert sorted(m["body"] for m in done["messages"]) == ["from stomp.py", "from the page ✓"]
    assert done["protocol"] == "v12.stomp" and done["version"] == "1.2"
