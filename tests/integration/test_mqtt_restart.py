"""MQTT persistent sessions across a broker restart (SIGTERM) and kill -9
(docs/mqtt.md, "Across a broker restart"): QoS 2 flows left in every state
of the handshake come out exactly once. Inbound: a PUBLISH PUBREC'd whose
PUBREL had not come is known after the restart (the client's resent
PUBLISH is answered, not published again). Outbound: a message the client
PUBREC'd whose PUBCOMP had not come gets PUBREL again, not the PUBLISH; one
sent and not PUBREC'd comes again; messages queued while the
client was away come once. Raw packets (mqtt_support.Raw) stop the
handshakes half-way; Paho watches."""
from __future__ import annotations

import struct

import pytest

from support import QUIET, WAIT, restart, unique
from mqtt_support import PahoSession, Raw, expect, expiry_property, mosquitto_pub, mqtt, mqtt_port, packet, \
    raw_connect, raw_publish, read_vbi, s


def connect(port: int, client_id: str, level: int) -> tuple[Raw, bool]:
    """A persistent session: 3.1.1 clean session 0, MQTT 5 Clean Start 0 with
    an hour's Session Expiry. Returns the connection and session present."""
    r = raw_connect(port, level, client_id=client_id, clean=False,
                    properties=expiry_property(3600) if level == 5 else b"")
    return r, bool(r.connack[0] & 1)


def props(level: int) -> bytes:
    return b"\x00" if level == 5 else b""


def publish_qos2(r: Raw, topic: str, pid: int, payload: bytes, dup: bool = False):
    r.send(packet(0x34 | (0x08 if dup else 0), s(topic) + struct.pack(">H", pid) + props(r.level) + payload))


def subscribe_qos2(r: Raw, topic: str):
    r.send(packet(0x82, struct.pack(">H", 1) + props(r.level) + s(topic) + b"\x02"))
    first, body = r.read_packet()
    assert first == 0x90 and body[-1] == 2, "SUBACK %x %r" % (first, body)


def watcher(port: int, topic: str) -> PahoSession:
    w = PahoSession(port, mqtt.MQTTv5, unique("watch"), expiry=0, clean=True)
    w.subscribe(topic, 2)
    return w


def receive_qos2(r: Raw, n: int) -> list[bytes]:
    """Takes `n` QoS 2 messages through the whole handshake (PUBREC for each
    PUBLISH, PUBCOMP for each PUBREL, in whatever order they interleave);
    their payloads in order."""
    got, open_ids = [], set()
    while len(got) < n or open_ids:
        first, body = r.read_packet()
        if first & 0xF0 == 0x30:
            assert first & 0x06 == 0x04, "not QoS 2: %x" % first
            tl = struct.unpack(">H", body[:2])[0]
            pid = struct.unpack(">H", body[2 + tl:4 + tl])[0]
            i = 4 + tl
            if r.level == 5:
                k, i = read_vbi(body, i)
                i += k
            got.append(body[i:])
            open_ids.add(pid)
            r.send(packet(0x50, struct.pack(">H", pid)))  # PUBREC
        else:
            assert first == 0x62, "not a PUBREL: %x %r" % (first, body)
            pid = struct.unpack(">H", body[:2])[0]
            assert pid in open_ids, "PUBREL for %d" % pid
            open_ids.discard(pid)
            r.send(packet(0x70, struct.pack(">H", pid)))  # PUBCOMP
    return got


def nothing_more(r: Raw):
    try:
        extra = r.read_packet(QUIET)
    except (TimeoutError, OSError):
        extra = None
    assert extra is None, "more came: %r" % (extra,)


@pytest.mark.parametrize("how", ["term", "kill"])
@pytest.mark.parametrize("level", [4, 5])
def test_inbound_qos2_waiting_for_pubrel_survives_a_restart(broker_factory, mq, level, how):
    b, port = mq
    topic, cid = unique("in2") + "/t", unique("in2")
    w = watcher(port, topic)
    r, _ = connect(port, cid, level)
    publish_qos2(r, topic, 7, b"exactly-once")
    expect(r, 0x50, 7)  # PUBREC: the broker has the message and the packet id
    assert w.get(WAIT).payload == b"exactly-once"
    w.close()
    r.close()
    b = restart(broker_factory, b, how)
    port = mqtt_port(b)
    w = watcher(port, topic)
    r, present = connect(port, cid, level)
    assert present
    publish_qos2(r, topic, 7, b"exactly-once", dup=True)  # the client resends (spec 4.4)
    expect(r, 0x50, 7)
    r.send(packet(0x62, struct.pack(">H", 7) + props(level)))  # PUBREL
    body = expect(r, 0x70, 7)  # PUBCOMP
    if level == 5 and len(body) > 2:
        assert body[2] == 0, "PUBCOMP reason %x: the packet id was forgotten" % body[2]
    w.none(QUIET)  # not published a second time
    # The flow is over: the packet id is free for a new message, across a
    # second restart too.
    r.close()
    b = restart(broker_factory, b, how)
    port = mqtt_port(b)
    w.close()
    w = watcher(port, topic)
    r, present = connect(port, cid, level)
    publish_qos2(r, topic, 7, b"next")
    expect(r, 0x50, 7)
    assert w.get(WAIT).payload == b"next"
    r.send(packet(0x62, struct.pack(">H", 7) + props(level)))
    expect(r, 0x70, 7)
    w.close()
    r.close()


@pytest.mark.parametrize("how", ["term", "kill"])
@pytest.mark.parametrize("level", [4, 5])
def test_outbound_qos2_waiting_for_pubcomp_gets_pubrel_after_a_restart(broker_factory, mq, level, how):
    b, port = mq
    topic, cid = unique("out2") + "/t", unique("out2")
    r, _ = connect(port, cid, level)
    subscribe_qos2(r, topic)
    mosquitto_pub(port, "mqttv5", topic, "once", 2)
    first, _, pid, payload = raw_publish(r)
    assert first & 0x06 == 0x04 and payload == b"once"
    r.send(packet(0x50, struct.pack(">H", pid)))  # PUBREC
    expect(r, 0x62, pid)  # PUBREL: the broker keeps the packet id until PUBCOMP
    r.close()
    b = restart(broker_factory, b, how)
    port = mqtt_port(b)
    r, present = connect(port, cid, level)
    assert present
    expect(r, 0x62, pid)  # PUBREL again, the same packet id, and not the PUBLISH
    r.send(packet(0x70, struct.pack(">H", pid)))  # PUBCOMP
    nothing_more(r)
    # The session goes on: the next message comes once, as a new PUBLISH.
    mosquitto_pub(port, "mqttv311", topic, "next", 2)
    first, _, pid2, payload = raw_publish(r)
    assert payload == b"next" and first & 0x08 == 0
    r.send(packet(0x50, struct.pack(">H", pid2)))
    expect(r, 0x62, pid2)
    r.send(packet(0x70, struct.pack(">H", pid2)))
    nothing_more(r)
    r.close()


@pytest.mark.parametrize("how", ["term", "kill"])
@pytest.mark.parametrize("level", [4, 5])
def test_outbound_qos2_not_pubrecd_and_queued_come_once_after_a_restart(broker_factory, mq, level, how):
    """A QoS 2 PUBLISH the client had not PUBREC'd comes again; the
    messages queued while the client was away come once each; a QoS 2 flow
    with PUBCOMP done before the restart is not repeated."""
    b, port = mq
    topic, cid = unique("q2o") + "/t", unique("q2o")
    r, _ = connect(port, cid, level)
    subscribe_qos2(r, topic)
    mosquitto_pub(port, "mqttv5", topic, "done-before", 2)
    _, _, pid, payload = raw_publish(r)
    assert payload == b"done-before"
    r.send(packet(0x50, struct.pack(">H", pid)))
    expect(r, 0x62, pid)
    r.send(packet(0x70, struct.pack(">H", pid)))  # this flow is over
    mosquitto_pub(port, "mqttv5", topic, "in-flight", 2)
    _, _, pid, payload = raw_publish(r)
    assert payload == b"in-flight"
    r.close()  # no PUBREC
    for i in range(3):
        mosquitto_pub(port, "mqttv5", topic, "queued-%d" % i, 2)
    b = restart(broker_factory, b, how)
    port = mqtt_port(b)
    r, present = connect(port, cid, level)
    assert present
    got = receive_qos2(r, 4)
    # (DUP on the first: only if the broker knew it was sent; a delivery is
    # not journaled, so after kill -9 it may come without.)
    assert got == [b"in-flight", b"queued-0", b"queued-1", b"queued-2"], got
    nothing_more(r)
    r.close()


# ---------------------------------------------------------------- wills across a restart

def will_connect(port: int, level: int, topic: str, payload: str, *, delay: int | None = None,
                 expiry: int | None = None, client_id: str | None = None) -> Raw:
    """A raw connection with a QoS 1 will; MQTT 5 with a Will Delay Interval
    and a Session Expiry Interval when given."""
    wprops = b"" if delay is None else b"\x18" + struct.pack(">I", delay)
    return raw_connect(port, level, client_id=client_id or unique("will"), clean=True, will=(topic, payload, 1),
                       will_properties=wprops, properties=expiry_property(expiry) if level == 5 else b"")


class Watcher:
    """A persistent Paho session subscribed to `topic` at QoS 1: what is
    published while the broker restarts waits for it in its queue."""

    def __init__(self, port: int, topic: str):
        self.cid = unique("watch")
        self.topic = topic
        self.paho = PahoSession(port, mqtt.MQTTv5, self.cid, expiry=3600, clean=True)
        self.paho.subscribe(topic, 1)

    def reconnect(self, port: int):
        self.paho = PahoSession(port, mqtt.MQTTv5, self.cid, expiry=3600, clean=False)
        assert self.paho.session_present

    def payloads(self, n: int) -> list[bytes]:
        got = [self.paho.get(WAIT).payload for _ in range(n)]
        self.paho.none(QUIET)
        return got


@pytest.mark.parametrize("how", ["term", "kill"])
@pytest.mark.parametrize("level", [4, 5])
def test_will_of_a_connection_open_at_the_restart_is_published(broker_factory, mq, level, how):
    """The broker stopped or died with the connection open: the connection
    ended without DISCONNECT (spec 3.1.2.5), so the restarted broker
    publishes its will, once."""
    b, port = mq
    topic = unique("wo") + "/status"
    w = Watcher(port, topic)
    r = will_connect(port, level, topic, "offline")
    w.paho.close()
    b = restart(broker_factory, b, how)
    r.close()
    w.reconnect(mqtt_port(b))
    assert w.payloads(1) == [b"offline"]


@pytest.mark.parametrize("how", ["term", "kill"])
def test_will_after_a_clean_disconnect_is_not_published_after_a_restart(broker_factory, mq, how):
    b, port = mq
    topic = unique("wd") + "/status"
    w = Watcher(port, topic)
    r = will_connect(port, 5, topic, "offline")
    r.send(packet(0xE0, b"\x00\x00"))  # DISCONNECT, normal: the will is discarded
    assert r.closed()
    w.paho.close()
    b = restart(broker_factory, b, how)
    w.reconnect(mqtt_port(b))
    w.paho.publish(topic, "marker", 1)  # something to wait for, behind anything wrongly published
    assert w.payloads(1) == [b"marker"]


@pytest.mark.parametrize("how", ["term", "kill"])
def test_delayed_will_waits_across_a_restart(broker_factory, mq, how):
    """MQTT 5 Will Delay Interval: a will waiting out its delay, and one of a
    connection still open at the stop, are published after the restart once
    their delay has run out."""
    b, port = mq
    topic = unique("wl") + "/status"
    w = Watcher(port, topic)
    gone = will_connect(port, 5, topic, "dropped-before", delay=1, expiry=3600)
    gone.close()  # vanished: its will waits out the delay (or the restart comes first)
    open_ = will_connect(port, 5, topic, "open-at-stop", delay=1, expiry=3600)
    w.paho.close()
    b = restart(broker_factory, b, how)
    open_.close()
    w.reconnect(mqtt_port(b))
    assert sorted(w.payloads(2)) == [b"dropped-before", b"open-at-stop"]


@pytest.mark.parametrize("how", ["term", "kill"])
def test_delayed_will_is_not_published_when_the_client_comes_back_after_a_restart(broker_factory, mq, how):
    b, port = mq
    topic, cid = unique("wb") + "/status", unique("wb")
    w = Watcher(port, topic)
    r = will_connect(port, 5, topic, "offline", delay=3600, expiry=3600, client_id=cid)
    w.paho.close()
    b = restart(broker_factory, b, how)
    r.close()
    port = mqtt_port(b)
    back = raw_connect(port, 5, client_id=cid, clean=False, properties=expiry_property(3600))
    assert back.connack[0] & 1, "the session is there"
    back.send(packet(0xE0, b"\x00\x00"))  # and goes normally: no will either
    assert back.closed()
    w.reconnect(port)
    w.paho.publish(topic, "marker", 1)
    assert w.payloads(1) == [b"marker"]
