"""MQTT bad input (docs/mqtt.md, "Bad input"): what the broker answers to
malformed packets, refused protocol levels, oversize packets, misplaced
wildcards, repeated QoS 2 packets, at each protocol level: MQTT 5 says why
(CONNACK or DISCONNECT with the specification's reason code), 3.1.1
answers with a return code where it has one and otherwise closes. Other
clients carry on."""
from __future__ import annotations

import struct
import threading

import pytest

from support import assert_broker_serves
from mqtt_support import (PacketTypes, Paho, Properties, Raw, connect_packet, disconnect_reason, mqtt, mqtt_port, packet,
                          props, raw_connect, s, vbi)


@pytest.fixture
def mq(broker_factory):
    """This file's broker: conftest's with a 1 KiB packet limit."""
    b = broker_factory(mqtt_listen="127.0.0.1:0", max_frame_size="1KiB")
    return b, mqtt_port(b)


def still_serves(b, port):
    assert_broker_serves(b)
    r = raw_connect(port, 4)
    r.send(b"\xc0\x00")
    assert r.read_packet() == (0xD0, b"")
    r.close()


@pytest.mark.parametrize("level", [4, 5])
def test_oversize_packet_is_refused_from_its_header(mq, level):
    b, port = mq
    r = raw_connect(port, level)
    # Only the fixed header of a 100 kB PUBLISH: refused before the body comes.
    r.send(b"\x30" + vbi(100_000))
    if level == 5:
        assert disconnect_reason(r) == 0x95  # Packet too large
    else:
        assert r.read_packet() is None
    still_serves(b, port)


@pytest.mark.parametrize("level", [4, 5])
def test_packet_at_the_limit_passes(mq, level):
    b, port = mq
    sub = raw_connect(port, level)
    sub.send(packet(0x82, struct.pack(">H", 1) + (props() if level == 5 else b"") + s("big") + b"\x00"))
    assert sub.read_packet()[0] == 0x90
    pub = raw_connect(port, level)
    # 1 KiB in all: 1 + 2 (remaining length) + 2 + 3 (topic) [+ 1 (properties)] + payload.
    payload = b"x" * (1024 - 8 - (1 if level == 5 else 0))
    pub.send(packet(0x30, s("big") + (props() if level == 5 else b"") + payload))
    first, body = sub.read_packet()
    assert first == 0x30 and body.endswith(payload)
    sub.close()
    pub.close()


@pytest.mark.parametrize("name,level", [("MQIsdp", 3), ("MQTT", 6), ("MQTT", 3), ("MQTX", 4)])
def test_unsupported_protocol_level_gets_connack_1(mq, name, level):
    b, port = mq
    r = Raw(port)
    r.send(packet(0x10, s(name) + bytes([level, 0x02]) + struct.pack(">H", 60) + s("c")))
    assert r.read_packet() == (0x20, b"\x00\x01")  # unacceptable protocol version
    assert r.read_packet() is None
    still_serves(b, port)


def test_first_packet_must_be_connect(mq):
    b, port = mq
    r = Raw(port)
    r.send(b"\xc0\x00")
    assert r.read_packet() is None
    still_serves(b, port)


def test_malformed_connect(mq):
    b, port = mq
    # MQTT 5, a property given twice: CONNACK 0x82 (Protocol Error), closed.
    r = Raw(port)
    r.send(packet(0x10, s("MQTT") + bytes([5, 0x02]) + struct.pack(">H", 60) +
                  props(b"\x11\x00\x00\x00\x01\x11\x00\x00\x00\x02") + s("c")))
    assert r.read_packet() == (0x20, b"\x00\x82\x00")
    assert r.read_packet() is None
    # MQTT 5, a PUBLISH-only property: CONNACK 0x81 (Malformed Packet).
    r = Raw(port)
    r.send(packet(0x10, s("MQTT") + bytes([5, 0x02]) + struct.pack(">H", 60) + props(b"\x23\x00\x01") + s("c")))
    assert r.read_packet() == (0x20, b"\x00\x81\x00")
    # 3.1.1, the reserved connect flag: no return code for it, closed.
    r = Raw(port)
    r.send(packet(0x10, s("MQTT") + bytes([4, 0x03]) + struct.pack(">H", 60) + s("c")))
    assert r.read_packet() is None
    # 3.1.1, an empty client id without clean session: identifier rejected.
    r = Raw(port)
    r.send(packet(0x10, s("MQTT") + bytes([4, 0x00]) + struct.pack(">H", 60) + s("")))
    assert r.read_packet() == (0x20, b"\x00\x02")
    still_serves(b, port)


@pytest.mark.parametrize("level", [4, 5])
def test_bad_topic_filters_are_refused_one_by_one(mq, level):
    b, port = mq
    r = raw_connect(port, level)
    filters = [("a/#/b", 0), ("ok/+", 1), ("$share/g/x", 0), ("a+", 0), ("fine/#", 2)]
    body = struct.pack(">H", 9) + (props() if level == 5 else b"")
    for f, q in filters:
        body += s(f) + bytes([q])
    r.send(packet(0x82, body))
    first, ack = r.read_packet()
    assert first == 0x90 and ack[:2] == b"\x00\x09"
    codes = list(ack[3:] if level == 5 else ack[2:])
    if level == 5:
        assert codes == [0x8F, 0x01, 0x00, 0x8F, 0x02]  # invalid, QoS 1, shared QoS 0, invalid, QoS 2
    else:
        assert codes == [0x80, 0x01, 0x00, 0x80, 0x02]
    r.send(b"\xc0\x00")  # the connection carries on
    assert r.read_packet() == (0xD0, b"")
    r.close()


@pytest.mark.parametrize("level", [4, 5])
def test_wildcard_in_a_publish_topic(mq, level):
    b, port = mq
    r = raw_connect(port, level)
    r.send(packet(0x30, s("a/+/c") + (props() if level == 5 else b"") + b"x"))
    if level == 5:
        assert disconnect_reason(r) == 0x90  # Topic Name invalid
    else:
        assert r.read_packet() is None
    still_serves(b, port)


@pytest.mark.parametrize("level", [4, 5])
def test_second_connect(mq, level):
    b, port = mq
    r = raw_connect(port, level)
    r.send(connect_packet(level))
    if level == 5:
        assert disconnect_reason(r) == 0x82
    else:
        assert r.read_packet() is None


def test_bad_utf8_topic_is_malformed(mq):
    b, port = mq
    r = raw_connect(port, 5)
    r.send(packet(0x30, s(b"a/\xc3") + props() + b"x"))
    assert disconnect_reason(r) == 0x81


@pytest.mark.parametrize("level", [4, 5])
def test_qos2_duplicates_are_published_once(mq, level):
    b, port = mq
    sub = Paho(port)
    p5 = props() if level == 5 else b""
    try:
        sub.subscribe("dup/#", 1)
        r = raw_connect(port, level)
        r.send(packet(0x34, s("dup/x") + struct.pack(">H", 7) + p5 + b"once"))
        assert r.read_packet() == (0x50, b"\x00\x07")  # PUBREC
        # The client did not see the PUBREC and sends again, DUP set.
        r.send(packet(0x3C, s("dup/x") + struct.pack(">H", 7) + p5 + b"once"))
        assert r.read_packet() == (0x50, b"\x00\x07")
        r.send(packet(0x62, struct.pack(">H", 7)))
        assert r.read_packet() == (0x70, b"\x00\x07")  # PUBCOMP
        assert sub.get().payload == b"once"
        sub.none(1.0)
        # PUBREL again: MQTT 5 says the packet id is unknown; 3.1.1 completes.
        r.send(packet(0x62, struct.pack(">H", 7)))
        assert r.read_packet() == ((0x70, b"\x00\x07\x92\x00") if level == 5 else (0x70, b"\x00\x07"))
        # After PUBCOMP the id is free: a new message with it is published.
        r.send(packet(0x34, s("dup/x") + struct.pack(">H", 7) + p5 + b"twice"))
        assert r.read_packet() == (0x50, b"\x00\x07")
        assert sub.get().payload == b"twice"
        r.close()
    finally:
        sub.close()


# ------------------------------------------------------------------ enhanced authentication (AUTH)

def test_connect_with_an_authentication_method_gets_0x8c(mq):
    """MQTT 5 enhanced authentication is not offered: a CONNECT with an
    Authentication Method gets CONNACK 0x8C (Bad authentication method) and
    the connection closes (spec 3.1.2.11.9); others carry on."""
    b, port = mq
    r = Raw(port, 5)
    r.send(connect_packet(5, properties=b"\x15" + s("SCRAM-SHA-256") + b"\x16" + s("client-first")))
    first, body = r.read_packet()
    assert first == 0x20 and body[1] == 0x8C, "CONNACK %r" % body
    assert r.read_packet() is None, "not closed after CONNACK 0x8C"
    still_serves(b, port)


def test_paho_with_an_authentication_method_is_refused(mq):
    b, port = mq
    c = mqtt.Client(client_id="auth-method", protocol=mqtt.MQTTv5)
    codes = []
    done = threading.Event()

    def on_connect(client, userdata, flags, rc, properties=None):
        codes.append(rc.value if hasattr(rc, "value") else rc)
        done.set()
    c.on_connect = on_connect
    p = Properties(PacketTypes.CONNECT)
    p.AuthenticationMethod = "SCRAM-SHA-1"
    c.connect("127.0.0.1", port, 30, properties=p)
    c.loop_start()
    assert done.wait(5), "no CONNACK"
    c.loop_stop()
    assert codes == [0x8C]


def test_auth_packet_is_a_protocol_error(mq):
    """An AUTH after a plain CONNECT (no authentication method): DISCONNECT
    0x82 (spec 4.12: AUTH only within enhanced authentication)."""
    b, port = mq
    r = raw_connect(port, 5)
    r.send(packet(0xF0, b"\x18" + props(b"\x15" + s("SCRAM-SHA-1"))))
    assert disconnect_reason(r) == 0x82
    still_serves(b, port)
