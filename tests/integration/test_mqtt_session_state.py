"""What an MQTT session keeps between its connections besides its queue
(docs/mqtt.md): MQTT 5's Will Delay Interval, bounded by the session
expiry (spec 3.1.3.2.2), and the inbound QoS 2 packet ids PUBREC'd and
waiting for PUBREL, so that a PUBLISH resent with DUP on the next
connection of a persistent session is not delivered twice (spec 4.3.3),
and the outbound ones PUBREC'd and waiting for PUBCOMP, whose PUBREL the
next connection gets again (spec 4.4).
Raw packets for the client whose connection drops, Paho and stomp.py as
the watchers."""
from __future__ import annotations

import struct

import pytest

from support import QUIET, WAIT, py_connect, unique
from mqtt_support import (PahoSession, Raw, expect, expiry_property, mosquitto_pub, mqtt, packet, raw_connect,
                          raw_publish, s)


def connect(port: int, client_id: str, *, clean: bool, expiry: int | None = None, will: tuple | None = None,
            will_delay: int | None = None, level: int = 5) -> tuple[Raw, bool]:
    """A raw connection; `will` = (topic, payload). Returns it and session present."""
    wprops = b"" if will_delay is None else b"\x18" + struct.pack(">I", will_delay)
    r = raw_connect(port, level, client_id=client_id, clean=clean, properties=expiry_property(expiry), will=will,
                    will_properties=wprops)
    return r, bool(r.connack[0] & 1)


def drop(r: Raw):
    """The client vanishes (no DISCONNECT)."""
    r.sock.close()


def watcher(port: int, topic: str) -> PahoSession:
    w = PahoSession(port, mqtt.MQTTv5, unique("watch"), expiry=0, clean=True)
    w.subscribe(topic, 1)
    return w


# ---------------------------------------------------------------- will delay

def test_will_waits_for_its_delay_then_goes(mq):
    _, port = mq
    topic = unique("wd") + "/gone"
    w = watcher(port, topic)
    r, _ = connect(port, unique("wd"), clean=True, expiry=3600, will=(topic, "bye"), will_delay=1)
    drop(r)
    w.none(QUIET)  # not at once: the delay runs first
    m = w.get(WAIT)
    assert (m.topic, m.payload) == (topic, b"bye")
    w.none(QUIET)  # once
    w.close()


def test_will_of_a_resumed_session_is_never_sent(mq):
    _, port = mq
    topic = unique("wr") + "/gone"
    cid = unique("wr")
    w = watcher(port, topic)
    r, _ = connect(port, cid, clean=True, expiry=3600, will=(topic, "bye"), will_delay=2)
    drop(r)
    r2, present = connect(port, cid, clean=False, expiry=3600)
    assert present
    w.none(3.0)  # past the delay: the session was resumed in time
    r2.send(packet(0xE0, b"\x00\x00"))  # DISCONNECT, normal: no will
    w.none(QUIET)
    w.close()


def test_a_clean_start_ends_the_session_and_sends_its_will(mq):
    _, port = mq
    topic = unique("wc") + "/gone"
    cid = unique("wc")
    w = watcher(port, topic)
    r, _ = connect(port, cid, clean=True, expiry=3600, will=(topic, "bye"), will_delay=3600)
    drop(r)
    w.none(QUIET)
    r2, present = connect(port, cid, clean=True, expiry=0)
    assert not present
    assert w.get(WAIT).payload == b"bye"
    r2.send(packet(0xE0, b"\x00\x00"))
    w.close()


def test_will_goes_when_the_session_ends_before_the_delay(mq):
    """Session expiry 1 s, will delay an hour: the will goes with the
    session. Session expiry 0 (the session ends with the connection): at
    once, whatever the delay."""
    _, port = mq
    topic = unique("we") + "/gone"
    w = watcher(port, topic)
    r, _ = connect(port, unique("we"), clean=True, expiry=1, will=(topic, "session-ended"), will_delay=3600)
    drop(r)
    assert w.get(WAIT).payload == b"session-ended"
    r, _ = connect(port, unique("we"), clean=True, expiry=0, will=(topic, "no-session"), will_delay=3600)
    drop(r)
    assert w.get(WAIT).payload == b"no-session"
    w.close()


def test_delayed_will_reaches_stomp_and_is_retained(mq):
    b, port = mq
    topic = unique("ws") + "/status"
    conn, lst = py_connect(b.port)
    conn.subscribe("/topic/" + topic.replace("/", "."), id="s1")
    r, _ = connect(port, unique("ws"), clean=True, expiry=3600, will=(topic, "offline"), will_delay=1)
    drop(r)
    f = lst.get(WAIT)
    assert f.body == "offline"
    # retained? the will was not flagged retain: a new subscriber gets nothing
    late = PahoSession(port, mqtt.MQTTv5, unique("late"), expiry=0, clean=True)
    late.subscribe(topic, 1)
    late.none(QUIET)
    late.close()
    conn.disconnect()


# ---------------------------------------------------------- QoS 2 across reconnects

def publish_qos2(r: Raw, topic: str, pid: int, payload: bytes, dup: bool = False):
    props = b"\x00" if r.level == 5 else b""
    r.send(packet(0x34 | (0x08 if dup else 0), s(topic) + struct.pack(">H", pid) + props + payload))


@pytest.mark.parametrize("level", [4, 5])
def test_resent_qos2_publish_is_not_delivered_twice_after_reconnect(mq, level):
    _, port = mq
    topic = unique("q2r") + "/t"
    cid = unique("q2r")
    w = watcher(port, topic)
    r, _ = connect(port, cid, clean=True if level == 5 else False, expiry=3600 if level == 5 else None, level=level)
    publish_qos2(r, topic, 7, b"exactly-once")
    expect(r, 0x50, 7)  # PUBREC
    assert w.get(WAIT).payload == b"exactly-once"
    drop(r)  # before PUBREL
    r2, present = connect(port, cid, clean=False, expiry=3600 if level == 5 else None, level=level)
    assert present
    publish_qos2(r2, topic, 7, b"exactly-once", dup=True)  # the client resends (spec 4.4)
    expect(r2, 0x50, 7)  # PUBREC again
    r2.send(packet(0x62, struct.pack(">H", 7) + (b"\x00" if level == 5 else b"")))  # PUBREL
    body = expect(r2, 0x70, 7)  # PUBCOMP
    if level == 5 and len(body) > 2:
        assert body[2] == 0, "PUBCOMP reason %x (the packet id was not known)" % body[2]
    w.none(QUIET)  # not delivered a second time
    # The packet id is free again: a new message with it is published.
    publish_qos2(r2, topic, 7, b"next")
    expect(r2, 0x50, 7)
    assert w.get(WAIT).payload == b"next"
    r2.send(packet(0xE0, b"\x00\x00" if level == 5 else b""))
    w.close()


def test_clean_start_forgets_open_qos2_flows(mq):
    _, port = mq
    topic = unique("q2c") + "/t"
    cid = unique("q2c")
    w = watcher(port, topic)
    r, _ = connect(port, cid, clean=True, expiry=3600)
    publish_qos2(r, topic, 9, b"first")
    expect(r, 0x50, 9)
    assert w.get(WAIT).payload == b"first"
    drop(r)
    r2, present = connect(port, cid, clean=True, expiry=3600)
    assert not present
    publish_qos2(r2, topic, 9, b"a new message")  # same id, a new session: a new message
    expect(r2, 0x50, 9)
    assert w.get(WAIT).payload == b"a new message"
    w.close()


# ---------------------------------------------------------------- outbound QoS 2 across reconnects

def subscribe_qos2(r: Raw, level: int, topic: str):
    r.send(packet(0x82, struct.pack(">H", 1) + (b"\x00" if level == 5 else b"") + s(topic) + b"\x02"))
    first, body = r.read_packet()
    assert first == 0x90 and body[-1] == 2, "SUBACK %x %r" % (first, body)


@pytest.mark.parametrize("level", [4, 5])
def test_pubrel_is_resent_after_reconnect(mq, level):
    """Outbound QoS 2 (spec 4.4): a message the client PUBREC'd is the
    client's; if the connection drops before its PUBCOMP, the persistent
    session's next connection gets PUBREL again for that packet id, not the
    PUBLISH; after PUBCOMP, nothing more of it comes."""
    _, port = mq
    topic, cid = unique("rel") + "/t", unique("rel")
    expiry = 3600 if level == 5 else None
    r, _ = connect(port, cid, clean=False, expiry=expiry, level=level)
    subscribe_qos2(r, level, topic)
    mosquitto_pub(port, "mqttv5", topic, "once", 2)
    first, got_topic, pid, payload = raw_publish(r)
    assert first & 0x06 == 0x04 and payload == b"once"
    r.send(packet(0x50, struct.pack(">H", pid)))  # PUBREC
    expect(r, 0x62, pid)  # PUBREL
    drop(r)  # before PUBCOMP
    r2, present = connect(port, cid, clean=False, expiry=expiry, level=level)
    assert present
    expect(r2, 0x62, pid)  # PUBREL again, same packet id (not the PUBLISH)
    r2.send(packet(0x70, struct.pack(">H", pid)))  # PUBCOMP
    # The session goes on: the next message comes once, as a PUBLISH.
    mosquitto_pub(port, "mqttv311", topic, "next", 2)
    first, _, pid2, payload = raw_publish(r2)
    assert payload == b"next" and first & 0x08 == 0, "a new message, not a resend"
    r2.send(packet(0x50, struct.pack(">H", pid2)))
    expect(r2, 0x62, pid2)
    r2.send(packet(0x70, struct.pack(">H", pid2)))
    try:
        extra = r2.read_packet(QUIET)
    except (TimeoutError, OSError):
        extra = None
    assert extra is None, "more after PUBCOMP: %r" % (extra,)
    r2.close()


def test_a_clean_start_does_not_resend_pubrel(mq):
    _, port = mq
    topic, cid = unique("relc") + "/t", unique("relc")
    r, _ = connect(port, cid, clean=False, expiry=3600)
    subscribe_qos2(r, 5, topic)
    mosquitto_pub(port, "mqttv5", topic, "once", 2)
    _, _, pid, _ = raw_publish(r)
    r.send(packet(0x50, struct.pack(">H", pid)))
    expect(r, 0x62, pid)
    drop(r)
    r2, present = connect(port, cid, clean=True, expiry=3600)
    assert not present
    try:
        extra = r2.read_packet(QUIET)
    except (TimeoutError, OSError):
        extra = None
    assert extra is None, "a clean start got %r" % (extra,)
    r2.close()
