"""MQTT 5 topic aliases from the client and subscription identifiers
(docs/mqtt.md), with Paho and raw packets: an alias set by one PUBLISH
names the topic of later ones with an empty topic; a SUBSCRIBE's
Subscription Identifier comes back on the PUBLISHes it matches (all of a
persistent session's matching filters on the one PUBLISH the session gets),
and on retained messages."""
from __future__ import annotations

import struct

from support import unique
from mqtt_support import Paho, PahoSession, disconnect_reason, mqtt, packet, raw_connect, raw_session, s, vbi

from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402


def aliased_publish(topic: str, alias: int, payload: bytes, packet_id: int = 0) -> bytes:
    props = b"\x23" + struct.pack(">H", alias)
    qos_bits, pid = (0x02, struct.pack(">H", packet_id)) if packet_id else (0x00, b"")
    return packet(0x30 | qos_bits, s(topic) + pid + vbi(len(props)) + props + payload)


def test_topic_alias_maximum_in_connack_and_aliases_work(mq):
    _, port = mq
    topic = unique("ta") + "/x"
    sub = Paho(port, mqtt.MQTTv5)
    assert sub.subscribe(topic, 1) == [1]
    r, _, props = raw_session(port, unique("ta"), 5, clean=True)
    assert struct.unpack(">H", props[0x22])[0] == 10  # Topic Alias Maximum
    r.send(aliased_publish(topic, 1, b"first", 1))
    assert r.read_packet()[0] == 0x40
    r.send(aliased_publish("", 1, b"second", 2))  # the alias names the topic
    assert r.read_packet()[0] == 0x40
    r.send(aliased_publish("", 1, b"third"))       # QoS 0 too
    got = [sub.get() for _ in range(3)]
    assert [(m.topic, m.payload) for m in got] == [(topic, b"first"), (topic, b"second"), (topic, b"third")]
    sub.close()
    r.close()


def test_bad_aliases_disconnect(mq):
    """An alias above Topic Alias Maximum: DISCONNECT 0x94; an alias used
    before it was set: DISCONNECT 0x82 (Protocol Error)."""
    _, port = mq
    r = raw_connect(port, 5)
    r.send(aliased_publish("a/b", 11, b"x"))
    assert disconnect_reason(r) == 0x94
    r = raw_connect(port, 5)
    r.send(aliased_publish("", 3, b"x"))
    assert disconnect_reason(r) == 0x82


def subscribe_with_id(c: Paho, topic: str, sub_id: int):
    props = Properties(PacketTypes.SUBSCRIBE)
    props.SubscriptionIdentifier = sub_id
    rc, mid = c.client.subscribe(topic, 1, properties=props)
    with c.sub_event:
        assert c.sub_event.wait_for(lambda: mid in c.subacks, 10)
        assert c.subacks[mid] == [1]


def ids(m) -> list[int]:
    v = getattr(m.properties, "SubscriptionIdentifier", [])
    return sorted(v if isinstance(v, list) else [v])


def test_subscription_identifiers_come_back(mq):
    _, port = mq
    base = unique("sid")
    c = Paho(port, mqtt.MQTTv5)
    subscribe_with_id(c, base + "/+", 7)
    subscribe_with_id(c, base + "/a", 9)
    pub = Paho(port, mqtt.MQTTv5)
    pub.publish(base + "/a", b"both", 1)
    got = sorted(ids(c.get()) + ids(c.get()))
    assert got == [7, 9]  # one PUBLISH per matching subscription, each with its own
    pub.publish(base + "/b", b"one", 1)
    assert ids(c.get()) == [7]
    c.none()
    # A retained message carries the identifier of the subscription it is sent for.
    pub.client.publish(base + "/r", b"kept", 1, retain=True).wait_for_publish(10)
    m = c.get()  # the live copy, to base/+
    assert (m.payload, m.retain, ids(m)) == (b"kept", 0, [7])
    subscribe_with_id(c, base + "/r", 11)
    m = c.get()
    assert (m.payload, m.retain, ids(m)) == (b"kept", 1, [11])
    c.close()
    pub.close()


def test_persistent_session_carries_every_matching_identifier(mq):
    """A persistent session gets one PUBLISH per message, with the
    identifiers of all its matching filters; they survive a reconnect."""
    _, port = mq
    base, cid = unique("psid"), unique("psid")
    c = Paho(port, mqtt.MQTTv5, client_id=cid)
    c.close()
    ps = PahoSession(port, mqtt.MQTTv5, cid)
    props = Properties(PacketTypes.SUBSCRIBE)
    props.SubscriptionIdentifier = 3
    ps.client.subscribe(base + "/#", 1, properties=props)
    assert ps.subacked.get(timeout=10) == [1]
    props = Properties(PacketTypes.SUBSCRIBE)
    props.SubscriptionIdentifier = 5
    ps.client.subscribe(base + "/x", 1, properties=props)
    assert ps.subacked.get(timeout=10) == [1]
    ps.close()
    pub = Paho(port, mqtt.MQTTv5)
    pub.publish(base + "/x", b"away", 1)
    ps = PahoSession(port, mqtt.MQTTv5, cid)
    assert ps.session_present
    m = ps.get()
    assert (m.payload, ids(m)) == (b"away", [3, 5])
    ps.none()
    ps.close()
    pub.close()
