"""MQTT shared subscriptions, $share/GROUP/filter (docs/mqtt.md, "Shared
subscriptions"), in MQTT 5 and, as mosquitto accepts them, 3.1.1: each
message to the filter goes to one member of the group; a plain subscriber
of the same filter still gets every one. With mosquitto_sub/mosquitto_pub,
Paho, and raw packets for the reason codes."""
from __future__ import annotations

import struct
import subprocess
import time

import pytest

from support import WAIT, unique
from mqtt_support import (VERSIONS, Paho, PahoSession, api, disconnect, disconnect_reason, mqtt, mqtt_port, packet,
                          raw_connect, raw_session, raw_subscribe, s)


def drain(c: Paho, quiet: float = 1.0) -> list[bytes]:
    got = []
    while True:
        try:
            got.append(c.messages.get(timeout=quiet).payload)
        except Exception:
            return got


@pytest.mark.parametrize("version", VERSIONS)
def test_messages_spread_over_the_group(mq, version):
    _, port = mq
    group, topic = unique("g"), unique("sh")
    a, b, plain, pub = Paho(port, version), Paho(port, version), Paho(port, version), Paho(port, version)
    assert a.subscribe("$share/%s/%s/+" % (group, topic), 1) == [1]
    assert b.subscribe("$share/%s/%s/+" % (group, topic), 1) == [1]
    assert plain.subscribe(topic + "/+", 1) == [1]
    sent = [b"m%d" % i for i in range(40)]
    for i, m in enumerate(sent):
        pub.publish("%s/%d" % (topic, i % 3), m, 1)
    got_a, got_b = drain(a), drain(b)
    assert sorted(got_a + got_b) == sorted(sent), "each message to exactly one member"
    assert got_a and got_b, "both members got some: %d / %d" % (len(got_a), len(got_b))
    assert sorted(drain(plain)) == sorted(sent)
    for c in (a, b, plain, pub):
        c.close()


def test_mosquitto_members(mq):
    """Two mosquitto_sub members of one group (3.1.1 and 5) and mosquitto_pub."""
    _, port = mq
    group, topic = unique("g"), unique("ms") + "/t"
    procs = []
    for version in ("mqttv311", "mqttv5"):
        p = subprocess.Popen(["stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-V", version,
                              "-q", "1", "-t", "$share/%s/%s" % (group, topic), "-W", "8", "-d",
                              "-u", "guest", "-P", "guest"], stdout=subprocess.PIPE, text=True)
        for line in p.stdout:
            if "received SUBACK" in line:
                break
        procs.append(p)
    for i in range(20):
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", topic,
                        "-m", "n%d" % i, "-u", "guest", "-P", "guest"], check=True, timeout=30)
    lines = []
    for p in procs:
        out, _ = p.communicate(timeout=30)
        lines += [l for l in out.splitlines() if l.startswith("n")]
    assert sorted(lines) == sorted("n%d" % i for i in range(20))


def test_a_member_that_leaves_gives_back_what_it_held(mq):
    """QoS 1 messages a member had not PUBACKed go to another member when it
    leaves (the group's queue holds them)."""
    _, port = mq
    group, topic = unique("g"), unique("lv") + "/t"
    stuck = raw_connect(port, 4)
    body = struct.pack(">H", 1) + s("$share/%s/%s" % (group, topic)) + b"\x01"
    stuck.send(packet(0x82, body))
    assert stuck.read_packet()[0] == 0x90
    pub = Paho(port)
    pub.publish(topic, b"held", 1)
    first, _ = stuck.read_packet()
    assert first & 0xF0 == 0x30  # got it, will not PUBACK
    other = Paho(port)
    assert other.subscribe("$share/%s/%s" % (group, topic), 1) == [1]
    stuck.close()
    m = other.get()
    assert m.payload == b"held"
    other.close()
    pub.close()


def test_no_local_on_a_shared_subscription_is_a_protocol_error(mq):
    _, port = mq
    r = raw_connect(port, 5)
    body = struct.pack(">H", 1) + b"\x00" + s("$share/g/x") + bytes([0x01 | 0x04])
    r.send(packet(0x82, body))
    assert disconnect_reason(r) == 0x82


def test_the_group_queue_goes_once_the_group_is_empty(mq):
    """The group's queue is mqtt-share/GROUP/FILTER; 10 s after its last
    member left it goes, with its binding (a later publish does not make it
    again)."""
    b, port = mq
    group, topic = unique("g"), unique("gq") + "/t"
    c = Paho(port, mqtt.MQTTv5)
    assert c.subscribe("$share/%s/%s" % (group, topic), 1) == [1]
    import urllib.parse
    path = "/api/queues/%%2F/%s" % urllib.parse.quote("mqtt-share/%s/%s" % (group, topic), safe="")
    assert api(b, path) is not None
    c.close()
    deadline = time.monotonic() + 30
    while api(b, path) is not None:
        assert time.monotonic() < deadline, "the group's queue did not go"
        time.sleep(0.5)
    p = Paho(port)
    p.publish(topic, b"after", 1)
    p.close()
    time.sleep(0.3)
    assert api(b, path) is None


# ------------------------------------------------------------------ in persistent sessions

def group_queue(b, group: str, flt: str):
    import urllib.parse
    return api(b, "/api/queues/%%2F/%s" % urllib.parse.quote("mqtt-share/%s/%s" % (group, flt), safe=""))


def wait_for_members(b, group: str, flt: str, n: int):
    deadline = time.monotonic() + WAIT
    while (group_queue(b, group, flt) or {}).get("consumers") != n:
        assert time.monotonic() < deadline, "the group has not %d members: %r" % (n, group_queue(b, group, flt))
        time.sleep(0.1)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_shared_subscription_is_kept_with_a_persistent_session(mq, version):
    """A member with a persistent session (3.1.1 clean session 0, MQTT 5
    clean start 0 with a session expiry) stays a member across its
    reconnect, without a new SUBSCRIBE: while it is away the other member
    gets every message (none waits for it, none is lost); back, it gets its
    share again; each message goes to one member once."""
    b, port = mq
    group, topic, cid = unique("g"), unique("kp") + "/t", unique("kp")
    flt = "$share/%s/%s" % (group, topic)
    a = PahoSession(port, version, cid, expiry=600)
    a.subscribe(flt, 1)
    other = Paho(port, version)
    assert other.subscribe(flt, 1) == [1]
    a.close()
    wait_for_members(b, group, topic, 1)
    pub = Paho(port, version)
    away = [b"away%d" % i for i in range(10)]
    for m in away:
        pub.publish(topic, m, 1)
    assert sorted(drain(other)) == sorted(away)
    a = PahoSession(port, version, cid, expiry=600)
    assert a.session_present
    wait_for_members(b, group, topic, 2)
    back = [b"back%d" % i for i in range(40)]
    for m in back:
        pub.publish(topic, m, 1)
    got_a, got_other = drain(a), drain(other)
    assert sorted(got_a + got_other) == sorted(back), "each message to exactly one member"
    assert got_a and got_other, "both members got some: %d / %d" % (len(got_a), len(got_other))
    for c in (a, other, pub):
        c.close()


def test_an_unsubscribed_shared_subscription_does_not_come_back(mq):
    b, port = mq
    group, topic, cid = unique("g"), unique("ku") + "/t", unique("ku")
    flt = "$share/%s/%s" % (group, topic)
    r, _, _ = raw_session(port, cid, 5, expiry=600)
    r.level = 5
    raw_subscribe(r, 5, flt, 1)
    wait_for_members(b, group, topic, 1)
    r.send(packet(0xA2, struct.pack(">H", 2) + b"\x00" + s(flt)))
    first, body = r.read_packet()
    assert first == 0xB0 and body[-1] == 0, "UNSUBACK %x %r" % (first, body)
    disconnect(r)
    r, present, _ = raw_session(port, cid, 5, expiry=600)
    assert present
    r.level = 5
    raw_subscribe(r, 5, unique("ku") + "/other", 1)  # a round trip after CONNACK
    assert (group_queue(b, group, topic) or {}).get("consumers", 0) == 0
    disconnect(r)


def test_a_clean_start_leaves_the_group(mq):
    b, port = mq
    group, topic, cid = unique("g"), unique("kc") + "/t", unique("kc")
    flt = "$share/%s/%s" % (group, topic)
    r, _, _ = raw_session(port, cid, 5, expiry=600)
    r.level = 5
    raw_subscribe(r, 5, flt, 1)
    disconnect(r)
    r, present, _ = raw_session(port, cid, 5, clean=True, expiry=600)
    assert not present
    r.level = 5
    raw_subscribe(r, 5, unique("kc") + "/other", 1)
    assert (group_queue(b, group, topic) or {}).get("consumers", 0) == 0
    disconnect(r)


def test_a_kept_shared_subscription_survives_a_restart(broker_factory, tmp_path):
    """The session's binding is remembered with its others
    (declared-exchanges.json): after a restart, the resumed session is a
    member of the group again and gets the group's messages."""
    data = tmp_path / "data"
    data.mkdir()
    b = broker_factory(mqtt_listen="127.0.0.1:0", data_dir=str(data))
    port = mqtt_port(b)
    group, topic, cid = unique("g"), unique("kr") + "/t", unique("kr")
    flt = "$share/%s/%s" % (group, topic)
    r, _, _ = raw_session(port, cid, 5, expiry=600)
    r.level = 5
    raw_subscribe(r, 5, flt, 1)
    disconnect(r)
    assert b.stop() == 0
    b.killed = True  # ended on purpose
    b2 = broker_factory(mqtt_listen="127.0.0.1:0", data_dir=str(data))
    port = mqtt_port(b2)
    a = PahoSession(port, mqtt.MQTTv5, cid, expiry=600)
    assert a.session_present
    wait_for_members(b2, group, topic, 1)
    pub = Paho(port, mqtt.MQTTv5)
    pub.publish(topic, b"after restart", 1)
    assert a.get().payload == b"after restart"
    a.close()
    pub.close()
