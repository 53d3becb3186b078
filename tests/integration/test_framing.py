"""Framing: escaping per version, content-length bodies with NUL, CRLF, EOLs
between frames, repeated headers, headers carried to MESSAGE, split frames."""
import time

import pytest

from support import RawClient, assert_broker_serves, client, encode_frame, unique


def _pair(broker, version, dest, ack="auto"):
    sub = client(broker.port, version)
    sub.subscribe(dest, "s", ack=ack)
    pub = client(broker.port, version)
    return sub, pub


# ---------------------------------------------------------------- escaping

def test_escaping_1_2_roundtrip(broker):
    """1.2: \\c \\n \\r \\\\ are decoded on input and re-encoded on output."""
    dest = "/queue/" + unique()
    sub, pub = _pair(broker, "1.2", dest)
    raw = r"a\cb\nc\\d\re"
    pub.send(dest, "x", [("x-esc", raw)])
    m = sub.read_message()
    assert m.get("x-esc") == raw, m
    sub.close()
    pub.close()


def test_escaping_1_1_roundtrip(broker):
    dest = "/queue/" + unique()
    sub, pub = _pair(broker, "1.1", dest)
    raw = r"a\cb\nc\\d"
    pub.send(dest, "x", [("x-esc", raw)])
    m = sub.read_message()
    assert m.get("x-esc") == raw, m
    sub.close()
    pub.close()


def test_escaped_colon_in_header_name_1_2(broker):
    dest = "/queue/" + unique()
    sub, pub = _pair(broker, "1.2", dest)
    pub.send(dest, "x", [(r"x\cname", "v")])
    m = sub.read_message()
    assert m.get(r"x\cname") == "v", m
    sub.close()
    pub.close()


def test_no_escaping_in_1_0(broker):
    """1.0 has no escapes: a backslash sequence is literal, in and out."""
    dest = "/queue/" + unique()
    sub, pub = _pair(broker, "1.0", dest)
    raw = r"a\cb\tc\\d"
    pub.send(dest, "x", [("x-lit", raw)])
    m = sub.read_message()
    assert m.get("x-lit") == raw, m
    sub.close()
    pub.close()


def test_1_0_literal_backslash_reaches_1_2_subscriber_escaped(broker):
    """A 1.0 producer's literal `a\\b` is the value a\\b; a 1.2 subscriber sees it escaped as a\\\\b."""
    dest = "/queue/" + unique()
    sub = client(broker.port, "1.2")
    sub.subscribe(dest, "s")
    pub = client(broker.port, "1.0")
    pub.send(dest, "x", [("x-lit", "a\\b")])
    m = sub.read_message()
    assert m.get("x-lit") == "a\\\\b", m
    sub.close()
    pub.close()


def test_1_2_colon_reaches_1_1_subscriber_escaped(broker):
    dest = "/queue/" + unique()
    sub = client(broker.port, "1.1")
    sub.subscribe(dest, "s")
    pub = client(broker.port, "1.2")
    pub.send(dest, "x", [("x-c", r"k\cv")])
    m = sub.read_message()
    assert m.get("x-c") == r"k\cv", m
    sub.close()
    pub.close()


@pytest.mark.parametrize("version,bad", [
    ("1.1", r"a\tb"),
    ("1.1", r"a\rb"),   # \r is a 1.2 escape
    ("1.1", "a\\"),     # dangling backslash
    ("1.2", r"a\tb"),
    ("1.2", r"a\xb"),
    ("1.2", "a\\"),
])
def test_invalid_escape_is_error(broker, version, bad):
    c = client(broker.port, version)
    err = c.expect_error("SEND", [("destination", "/queue/" + unique()), ("x-bad", bad)], b"x",
                         parse_level=True)
    assert err.command == "ERROR"
    assert_broker_serves(broker)


def test_connect_headers_are_not_unescaped(broker):
    """CONNECT is never unescaped: an undefined escape there is NOT an error."""
    c = RawClient(broker.port)
    # (a login header would now be checked as a user name: the escape test
    # does not need one)
    f = c.connect("1.2", extra=[("x-user", r"us\ter"), ("x-custom", r"a\qb")])
    assert f.command == "CONNECTED"
    dest = "/queue/" + unique()
    c.subscribe(dest, "s")
    c.send(dest, "ok")
    assert c.read_message().body == b"ok"
    c.close()


def test_stomp_command_headers_are_not_unescaped(broker):
    c = RawClient(broker.port)
    f = c.connect("1.1,1.2", command="STOMP", extra=[("x-custom", "a\\qb\\")])
    assert f.command == "CONNECTED" and f["version"] == "1.2"
    c.close()


# ---------------------------------------------------------------- bodies

@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_content_length_body_with_nul(broker, version):
    dest = "/queue/" + unique()
    sub, pub = _pair(broker, version, dest)
    body = b"a\0b\0\0c\n\0"
    pub.send(dest, body)  # content-length added by encode_frame
    m = sub.read_message()
    assert m.body == body
    assert m.get("content-length") == str(len(body))
    sub.close()
    pub.close()


def test_body_without_content_length(broker):
    dest = "/queue/" + unique()
    sub, pub = _pair(broker, "1.2", dest)
    pub.send(dest, b"plain text body", content_length=False)
    m = sub.read_message()
    assert m.body == b"plain text body"
    sub.close()
    pub.close()


def test_content_length_recomputed(broker):
    """MESSAGE content-length is computed by the broker: present for a SEND that
    had none, and a repeated content-length on the SEND doesn't leak through."""
    dest = "/queue/" + unique()
    sub, pub = _pair(broker, "1.2", dest)
    pub.send_raw(b"SEND\ndestination:" + dest.encode() + b"\nreceipt:r1\n\nabc\0")
    pub.wait_receipt("r1")
    m = sub.read_message()
    assert m.body == b"abc" and m.get("content-length") == "3", m
    pub.send_raw(b"SEND\ndestination:" + dest.encode()
                 + b"\ncontent-length:4\ncontent-length:99\nreceipt:r2\n\nw\0xz\0")
    pub.wait_receipt("r2")
    m = sub.read_message()
    assert m.body == b"w\0xz"
    assert [v for k, v in m.header_list if k == "content-length"] == ["4"], m
    sub.close()
    pub.close()


def test_empty_body(broker):
    dest = "/queue/" + unique()
    sub, pub = _pair(broker, "1.2", dest)
    pub.send(dest, b"")
    m = sub.read_message()
    assert m.body == b""
    sub.close()
    pub.close()


def test_large_body(broker):
    dest = "/queue/" + unique()
    sub, pub = _pair(broker, "1.2", dest)
    body = bytes(range(256)) * 4096  # 1 MiB with NULs
    pub.send(dest, body)
    m = sub.read_message()
    assert m.body == body
    sub.close()
    pub.close()


# ---------------------------------------------------------------- line ends

def test_crlf_frames_in_1_2(broker):
    dest = "/queue/" + unique()
    sub, pub = _pair(broker, "1.2", dest)
    pub.send_raw(b"SEND\r\ndestination:" + dest.encode() + b"\r\nx-h:v\r\nreceipt:rc\r\n\r\ncrlf-body\0")
    r = pub.read_frame()
    assert r.command == "RECEIPT" and r["receipt-id"] == "rc", r
    m = sub.read_message()
    assert m.body == b"crlf-body"
    assert m.get("destination") == dest
    assert m.get("x-h") == "v", m  # no stray \r in the value
    sub.close()
    pub.close()


def test_crlf_connect_1_2(broker):
    c = RawClient(broker.port)
    c.send_raw(b"STOMP\r\naccept-version:1.2\r\nhost:/\r\n\r\n\0")
    f = c.read_frame()
    assert f.command == "CONNECTED" and f["version"] == "1.2", f
    c.close()


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_eols_between_frames(broker, version):
    dest = "/queue/" + unique()
    sub, pub = _pair(broker, version, dest)
    eols = b"\r\n\n\n" if version == "1.2" else b"\n\n\n"
    data = eols
    for i in range(3):
        data += encode_frame("SEND", [("destination", dest)], b"e%d" % i) + eols
    data += encode_frame("SEND", [("destination", dest), ("receipt", "done")], b"e3") + eols
    pub.send_raw(data)
    pub.wait_receipt("done")
    assert [m.body for m in sub.read_messages(4)] == [b"e0", b"e1", b"e2", b"e3"]
    sub.close()
    pub.close()


def test_several_frames_in_one_packet(broker):
    dest = "/queue/" + unique()
    c = RawClient(broker.port)
    data = encode_frame("CONNECT", [("accept-version", "1.2"), ("host", "/")])
    data += encode_frame("SUBSCRIBE", [("destination", dest), ("id", "s")])
    for i in range(5):
        data += encode_frame("SEND", [("destination", dest)], b"p%d" % i)
    data += encode_frame("SEND", [("destination", dest), ("receipt", "z")], b"p5")
    c.send_raw(data)
    f = c.read_frame()
    assert f.command == "CONNECTED"
    c.version = "1.2"
    c.wait_receipt("z")
    assert [m.body for m in c.read_messages(6)] == [b"p%d" % i for i in range(6)]
    c.close()


def test_frame_split_at_every_byte(broker):
    """A frame delivered one byte per TCP segment parses the same."""
    dest = "/queue/" + unique()
    sub, pub = _pair(broker, "1.2", dest)
    frame = encode_frame("SEND", [("destination", dest), ("x-k", r"v\c1"), ("receipt", "split")],
                         b"body\0with-nul")
    for i in range(len(frame)):
        pub.send_raw(frame[i:i + 1])
    pub.wait_receipt("split")
    m = sub.read_message()
    assert m.body == b"body\0with-nul"
    assert m.get("x-k") == r"v\c1"
    sub.close()
    pub.close()


@pytest.mark.parametrize("split", [1, 5, 11, 17, 23, 30, 37, 44])
def test_frame_split_in_two(broker, split):
    dest = "/queue/" + unique()
    sub, pub = _pair(broker, "1.2", dest)
    frame = encode_frame("SEND", [("destination", dest), ("receipt", "sp")], b"0123456789")
    split = min(split, len(frame) - 1)
    pub.send_raw(frame[:split])
    # another client is served while this frame is incomplete
    other = client(broker.port)
    d2 = "/queue/" + unique()
    other.subscribe(d2, "o")
    other.send(d2, "meanwhile")
    assert other.read_message().body == b"meanwhile"
    other.close()
    pub.send_raw(frame[split:])
    pub.wait_receipt("sp")
    assert sub.read_message().body == b"0123456789"
    sub.close()
    pub.close()


# ---------------------------------------------------------------- headers

def test_repeated_headers_first_wins(broker):
    dest = "/queue/" + unique()
    other = "/queue/" + unique()
    sub, pub = _pair(broker, "1.2", dest)
    pub.send(dest, "rep", [("x-rep", "first"), ("x-rep", "second"), ("destination", other)])
    m = sub.read_message()
    assert m.get("x-rep") == "first", m
    assert m["destination"] == dest
    sub.close()
    pub.close()


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_custom_headers_and_content_type_carried(broker, version):
    dest = "/queue/" + unique()
    sub, pub = _pair(broker, version, dest)
    pub.send(dest, '{"a":1}', [("content-type", "application/json;charset=utf-8"),
                               ("x-custom", "hello world"), ("correlation-id", "c-42"),
                               ("reply-to", "/queue/replies"), ("persistent", "true")])
    m = sub.read_message()
    assert m.get("content-type") == "application/json;charset=utf-8"
    assert m.get("x-custom") == "hello world"
    assert m.get("correlation-id") == "c-42"
    assert m.get("reply-to") == "/queue/replies"
    assert m.get("persistent") == "true"
    assert m.body == b'{"a":1}'
    sub.close()
    pub.close()


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_message_headers(broker, version):
    dest = "/queue/" + unique()
    sub = client(broker.port, version)
    sub.subscribe(dest, "sub-7")
    pub = client(broker.port, version)
    pub.send(dest, "x")
    m = sub.read_message()
    assert m.command == "MESSAGE"
    assert m["destination"] == dest
    assert m["subscription"] == "sub-7"
    assert m.get("message-id")
    assert m.get("redelivered") == "false", m  # on every MESSAGE, as RabbitMQ (issue 17.7)
    sub.close()
    pub.close()


def test_message_ids_unique(broker):
    dest = "/queue/" + unique()
    sub, pub = _pair(broker, "1.2", dest)
    for i in range(10):
        pub.send(dest, str(i), receipt=(i == 9))
    ids = [m["message-id"] for m in sub.read_messages(10)]
    assert len(set(ids)) == 10
    sub.close()
    pub.close()


def test_message_never_carries_receipt_or_transaction(broker):
    dest = "/queue/" + unique()
    sub, pub = _pair(broker, "1.2", dest)
    pub.send(dest, "with-receipt")
    pub.request("BEGIN", [("transaction", "tx1")])
    pub.send(dest, "in-tx", [("transaction", "tx1")])
    pub.request("COMMIT", [("transaction", "tx1")])
    for m in sub.read_messages(2):
        assert "receipt" not in m.names(), m
        assert "transaction" not in m.names(), m
        assert "receipt-id" not in m.names(), m
    sub.close()
    pub.close()


@pytest.mark.parametrize("version,ack,has_ack", [
    ("1.2", "client-individual", True),
    ("1.2", "client", True),
    ("1.2", "auto", False),
    ("1.1", "client-individual", False),
    ("1.1", "client", False),
    ("1.0", "client", False),
])
def test_ack_header_only_in_1_2_non_auto(broker, version, ack, has_ack):
    dest = "/queue/" + unique()
    sub, pub = _pair(broker, version, dest, ack=ack)
    pub.send(dest, "x")
    m = sub.read_message()
    assert ("ack" in m.names()) == has_ack, m
    if has_ack:
        assert m["ack"]
    sub.close()
    pub.close()


def test_every_split_point(broker):
    """The same frame (CRLF line ends, escapes, content-length body with NUL),
    split in two at EVERY byte boundary, parses the same every time."""
    dest = "/queue/" + unique()
    sub, pub = _pair(broker, "1.2", dest)
    base = (b"SEND\r\ndestination:" + dest.encode() + b"\r\nx-e:a\\cb\\nc\\\\d\r\n"
            b"content-length:5\r\n\r\nz\0y\0x\0\r\n")
    for i in range(1, len(base)):
        pub.send_raw(base[:i])
        time.sleep(0.001)
        pub.send_raw(base[i:])
    pub.send(dest, "end")
    msgs = sub.read_messages(len(base))  # len(base)-1 splits + "end"
    for m in msgs[:-1]:
        assert m.body == b"z\0y\0x", m
        assert m.get("x-e") == "a\\cb\\nc\\\\d", m
    assert msgs[-1].body == b"end"
    sub.close()
    pub.close()


def test_utf8_and_empty_header_values(broker):
    dest = "/queue/" + unique()
    sub, pub = _pair(broker, "1.2", dest)
    pub.send(dest, "ü", [("x-utf8", "grüße ✓ 日本"), ("x-empty", "")])
    m = sub.read_message()
    assert m.get("x-utf8") == "grüße ✓ 日本", m
    assert m.get("x-empty") == "", m
    assert m.body == "ü".encode()
    sub.close()
    pub.close()


def test_1_0_header_value_with_colons(broker):
    """1.0: the first colon separates name and value; later ones are literal."""
    dest = "/queue/" + unique()
    sub, pub = _pair(broker, "1.0", dest)
    pub.send(dest, "x", [("x-url", "http://host:8080/a")])
    m = sub.read_message()
    assert m.get("x-url") == "http://host:8080/a", m
    sub.close()
    pub.close()
    # a 1.2 subscriber sees the same value, escaped
    s12 = client(broker.port, "1.2")
    s12.subscribe(dest, "s")
    p10 = client(broker.port, "1.0")
    p10.send(dest, "y", [("x-url", "http://host:8080/a")])
    m = s12.read_message()
    assert m.get("x-url") == r"http\c//host\c8080/a", m
    s12.close()
    p10.close()


@pytest.mark.parametrize("version,raw_id", [
    ("1.2", r"rcpt\cwith\ncolon\\and\rcr"),
    ("1.1", r"rcpt\cwith\\colon"),
    ("1.0", r"rcpt\plain\literal"),
])
def test_receipt_id_and_subscription_id_escaping(broker, version, raw_id):
    """Ids are header values too: a receipt/subscription id comes back encoded
    exactly as sent (same decoded value, same version's escaping)."""
    dest = "/queue/" + unique()
    c = client(broker.port, version)
    c.send_frame("SUBSCRIBE", [("destination", dest), ("id", raw_id), ("receipt", raw_id)])
    r = c.wait_receipt(raw_id)
    assert r["receipt-id"] == raw_id
    c.send(dest, "x")
    m = c.read_message()
    assert m["subscription"] == raw_id, m
    c.request("UNSUBSCRIBE", [("id", raw_id)])
    c.close()
