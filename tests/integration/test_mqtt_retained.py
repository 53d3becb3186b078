"""MQTT retained messages (docs/mqtt.md, "Retained messages") with real
clients: mosquitto_pub -r / mosquitto_sub (3.1.1 and 5), Paho for MQTT 5's
subscription options (Retain As Published, Retain Handling), stomp.py, and
raw packets for the reason codes. Kept per topic and vhost in
<data-dir>/mqtt-retained across restarts and kill -9, bounded by
mqtt-max-retained and mqtt-max-retained-bytes."""
from __future__ import annotations

import struct
import subprocess

import pytest

from support import py_connect, unique
from mqtt_support import Paho, Raw, SubscribeOptions, mosquitto_pub, mqtt, mqtt_port, packet, raw_connect, s


def pub(port: int, version: str, topic: str, message: str | None, qos: int = 1, retain: bool = True):
    mosquitto_pub(port, version, topic, message, qos, *(["-r"] if retain else []))


def sub(port: int, version: str, topic: str, count: int, *extra: str) -> list[str]:
    """mosquitto_sub printing 'RETAIN TOPIC PAYLOAD' per message; -W: gives up
    after 5 s without them (then fewer lines)."""
    r = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-V", version, "-q", "1", "-t", topic,
                        "-F", "%r %t %p", "-C", str(count), "-W", "5", "-u", "guest", "-P", "guest", *extra],
                       capture_output=True, text=True, timeout=30)
    return r.stdout.splitlines()


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_retained_messages_reach_new_subscribers(mq, version):
    """The last retained message of each topic goes to a later subscriber
    whose filter matches (wildcards too), with the retain flag; the next
    retained publish replaces it; an empty one clears it."""
    _, port = mq
    base = unique("ret")
    pub(port, version, base + "/a/temp", "old")
    pub(port, version, base + "/a/temp", "21.5")
    pub(port, version, base + "/b/temp", "19.0", qos=0)
    pub(port, version, base + "/c/temp", "gone")
    pub(port, version, base + "/c/temp", None)  # an empty retained message clears the topic
    pub(port, version, base + "/d/temp", "not retained", retain=False)
    assert sorted(sub(port, version, base + "/+/temp", 2)) == [
        "1 %s/a/temp 21.5" % base, "1 %s/b/temp 19.0" % base]
    assert sub(port, version, base + "/a/temp", 1) == ["1 %s/a/temp 21.5" % base]
    assert sub(port, version, base + "/#", 3) == ["1 %s/a/temp 21.5" % base, "1 %s/b/temp 19.0" % base]


def test_live_deliveries_and_retain_as_published(mq):
    """A retained message published while subscribed arrives as any other
    (retain flag 0), unless the MQTT 5 subscription asked for Retain As
    Published."""
    b, port = mq
    topic = unique("rap") + "/t"
    plain, rap = Paho(port, mqtt.MQTTv5, expect_rc=0), Paho(port, mqtt.MQTTv5, expect_rc=0)
    assert plain.subscribe(topic, 1) == [1]
    assert rap.subscribe(topic, 1, retainAsPublished=True) == [1]
    pub(port, "mqttv5", topic, "live")
    m1, m2 = plain.get(), rap.get()
    assert (m1.payload, m1.retain) == (b"live", 0)
    assert (m2.payload, m2.retain) == (b"live", 1)
    pub(port, "mqttv5", topic, "not retained", retain=False)
    assert rap.get().retain == 0
    plain.close()
    rap.close()


def test_retain_handling(mq):
    """MQTT 5 Retain Handling: 0 sends the retained messages at every
    SUBSCRIBE, 1 only for a new subscription, 2 never."""
    _, port = mq
    topic = unique("rh") + "/t"
    pub(port, "mqttv5", topic, "kept")
    c = Paho(port, mqtt.MQTTv5, expect_rc=0)
    assert c.subscribe(topic, 1, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND) == [1]
    c.none()
    c.close()
    c = Paho(port, mqtt.MQTTv5, expect_rc=0)
    assert c.subscribe(topic, 1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB) == [1]
    m = c.get()
    assert (m.payload, m.retain) == (b"kept", 1)
    assert c.subscribe(topic, 1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB) == [1]
    c.none()
    assert c.subscribe(topic, 1, retainHandling=SubscribeOptions.RETAIN_SEND_ON_SUBSCRIBE) == [1]
    m = c.get()
    assert (m.payload, m.retain) == (b"kept", 1)
    c.close()


def test_stomp_send_is_not_retained(mq):
    b, port = mq
    topic = unique("st")
    conn, _ = py_connect(b.port)
    conn.send("/topic/%s.x" % topic, "from stomp", headers={"receipt": "r1", "retain": "true"})
    conn.disconnect()
    assert sub(port, "mqttv5", topic + "/x", 1, "-W", "1") == []


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_retained_messages_survive_a_restart(broker_factory, tmp_path, how):
    """A retained QoS 1 message is PUBACKed once <data-dir>/mqtt-retained
    holds it: after SIGTERM or kill -9 and a restart it is still there."""
    data = tmp_path / "data"
    data.mkdir()
    b = broker_factory(mqtt_listen="127.0.0.1:0", data_dir=str(data))
    port = mqtt_port(b)
    base = unique("rr")
    for i in range(3):
        pub(port, "mqttv311", "%s/%d" % (base, i), "value %d" % i)
    pub(port, "mqttv311", base + "/1", None)
    if how == "kill":
        b.kill()
    else:
        assert b.stop() == 0
        b.killed = True  # ended on purpose
    b2 = broker_factory(mqtt_listen="127.0.0.1:0", data_dir=str(data))
    assert any("2 MQTT retained messages from" in line for line in b2.lines), b2.tail(20)
    port = mqtt_port(b2)
    assert sub(port, "mqttv5", base + "/#", 2) == ["1 %s/0 value 0" % base, "1 %s/2 value 2" % base]


def publish_retained(r: Raw, topic: str, payload: bytes, packet_id: int, level: int) -> int:
    """A QoS 1 retained PUBLISH; returns the PUBACK's reason code (MQTT 5)."""
    body = s(topic) + struct.pack(">H", packet_id) + (b"\x00" if level == 5 else b"") + payload
    r.send(packet(0x33, body))
    got = r.read_packet()
    assert got is not None, "closed instead of PUBACK"
    first, ack = got
    assert first == 0x40 and struct.unpack(">H", ack[:2])[0] == packet_id
    return ack[2] if len(ack) > 2 else 0


def test_retained_messages_are_bounded(broker_factory):
    """mqtt-max-retained: a retained PUBLISH for one more topic is refused
    (MQTT 5: PUBACK 0x97 Quota exceeded, and not published; 3.1.1: the
    connection closes), replacing or clearing one is not;
    mqtt-max-retained-bytes bounds their size."""
    b = broker_factory(mqtt_listen="127.0.0.1:0", mqtt_max_retained=2, mqtt_max_retained_bytes=1000)
    port = mqtt_port(b)
    base = unique("bd")
    r = raw_connect(port, 5)
    assert publish_retained(r, base + "/1", b"a", 1, 5) == 0
    assert publish_retained(r, base + "/2", b"b", 2, 5) == 0
    assert publish_retained(r, base + "/3", b"c", 3, 5) == 0x97
    assert publish_retained(r, base + "/2", b"b2", 4, 5) == 0  # replaces
    assert publish_retained(r, base + "/2", b"x" * 2000, 5, 5) == 0x97  # past the bytes
    assert publish_retained(r, base + "/1", b"", 6, 5) == 0  # clears: room again
    assert publish_retained(r, base + "/3", b"c", 7, 5) == 0
    r.close()
    assert sorted(sub(port, "mqttv5", base + "/#", 3, "-W", "2")) == ["1 %s/2 b2" % base, "1 %s/3 c" % base]
    r = raw_connect(port, 4)
    body = s(base + "/4") + struct.pack(">H", 1) + b"d"
    r.send(packet(0x33, body))
    assert r.closed(), "3.1.1: a refused retained PUBLISH closes the connection"
