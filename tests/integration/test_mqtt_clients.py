"""MQTT 3.1.1 and 5 with real clients (docs/mqtt.md): mosquitto_pub and
mosquitto_sub (Debian's mosquitto-clients), Paho for Python
(python3-paho-mqtt 1.6.1), and stomp.py on the same topics both ways:
MQTT topic a/b/c is /topic/a.b.c, filter a/+/# the wildcard topic a.*.#.
Logins with the STOMP listeners' users, `vhost:user` picking the vhost;
QoS 0, 1 and 2 both ways; will messages;
keep-alive."""
from __future__ import annotations

import struct
import threading
import time

import pytest

from support import WAIT, py_connect, py_rid, run_ferry
from mqtt_support import (VERSIONS, Paho, Raw, connect_packet, mosquitto_pub, mqtt, mqtt_port, packet, raw_connect,
                          received, s, start_mosquitto_sub)


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_mosquitto_wildcards(mq, version):
    _, port = mq
    sub = start_mosquitto_sub(port, version, "sport/+/score", "news/#", count=4)
    mosquitto_pub(port, version, "sport/tennis/score", "15-0", 1)
    mosquitto_pub(port, version, "sport/tennis/player", "not matched", 1)
    mosquitto_pub(port, version, "news", "parent level", 0)  # '#' matches the parent level too
    mosquitto_pub(port, version, "news/world/eu", "deep", 1)
    mosquitto_pub(port, version, "sport/golf/score", "-2", 0)
    assert sorted(received(sub)) == sorted(["sport/tennis/score 15-0", "news parent level", "news/world/eu deep",
                                            "sport/golf/score -2"])


def test_mosquitto_311_to_5(mq):
    _, port = mq
    sub = start_mosquitto_sub(port, "mqttv5", "mixed/+", count=1)
    mosquitto_pub(port, "mqttv311", "mixed/x", "from 3.1.1", 1)
    assert received(sub) == ["mixed/x from 3.1.1"]


# ------------------------------------------------------------------ Paho

@pytest.mark.parametrize("version", VERSIONS)
def test_paho_qos0_and_qos1(mq, version):
    _, port = mq
    sub = Paho(port, version)
    pub = Paho(port, version)
    try:
        assert sub.rc == 0 and pub.rc == 0
        assert sub.subscribe("home/+/temp", 1) == [1]
        pub.publish("home/kitchen/temp", b"21.5", 1)
        m = sub.get()
        assert (m.topic, m.payload, m.qos) == ("home/kitchen/temp", b"21.5", 1)
        # QoS 0 published: delivered at QoS 0 (the smaller of the two).
        pub.publish("home/hall/temp", b"19", 0)
        m = sub.get()
        assert (m.topic, m.payload, m.qos) == ("home/hall/temp", b"19", 0)
        # A binary payload with NUL bytes passes unchanged.
        pub.publish("home/x/temp", bytes(range(256)), 1)
        assert sub.get().payload == bytes(range(256))
        pub.publish("home/kitchen/humidity", b"no", 1)
        sub.none()
    finally:
        sub.close()
        pub.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_qos2_subscription_is_granted_qos2(mq, version):
    """Granted QoS 2; a message goes at the smaller of its own QoS and the
    granted one (test_mqtt_qos2.py has the handshake)."""
    _, port = mq
    sub = Paho(port, version)
    pub = Paho(port, version)
    try:
        assert sub.subscribe("q2/#", 2) == [2]
        pub.publish("q2/a", b"x", 1)
        assert sub.get().qos == 1
        pub.publish("q2/a", b"y", 2)
        m = sub.get()
        assert (m.payload, m.qos) == (b"y", 2)
    finally:
        sub.close()
        pub.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_qos2_publish_completes_once(mq, version):
    _, port = mq
    sub = Paho(port, version)
    pub = Paho(port, version)
    try:
        sub.subscribe("exactly/once", 1)
        pub.publish("exactly/once", b"one", 2)  # PUBLISH, PUBREC, PUBREL, PUBCOMP
        m = sub.get()
        assert m.payload == b"one"
        sub.none()
    finally:
        sub.close()
        pub.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_unsubscribe_stops_messages(mq, version):
    _, port = mq
    sub = Paho(port, version)
    pub = Paho(port, version)
    try:
        sub.subscribe("un/sub", 1)
        pub.publish("un/sub", b"1", 1)
        assert sub.get().payload == b"1"
        done = threading.Event()
        sub.client.on_unsubscribe = lambda *a: done.set()
        rc, mid = sub.client.unsubscribe("un/sub")
        assert rc == mqtt.MQTT_ERR_SUCCESS
        assert done.wait(WAIT), "no UNSUBACK"
        pub.publish("un/sub", b"2", 1)
        sub.none()
    finally:
        sub.close()
        pub.close()


# ------------------------------------------------------------------ STOMP interop

@pytest.mark.parametrize("version", VERSIONS)
def test_mqtt_publish_reaches_stomp_topic_subscribers(mq, version):
    b, port = mq
    conn, lst = py_connect(b.port)
    pub = Paho(port, version)
    try:
        for i, dest in enumerate(["/topic/plant.line1.speed", "/topic/plant.*.speed", "/topic/plant.#"]):
            rid = py_rid()
            conn.subscribe(dest, id=str(i), ack="auto", headers={"receipt": rid})
            lst.wait_receipt(rid)
        pub.publish("plant/line1/speed", b"1200", 1)
        got = sorted((lst.get().headers["subscription"], ) for _ in range(3))
        assert got == [("0",), ("1",), ("2",)]
        pub.publish("plant/line1/speed", b"1300", 0)
        frames = [lst.get() for _ in range(3)]
        assert {f.body for f in frames} == {"1300"}
        assert {f.headers["destination"] for f in frames} == {"/topic/plant.line1.speed"}
        lst.none()
    finally:
        pub.close()
        conn.disconnect()


@pytest.mark.parametrize("version", VERSIONS)
def test_stomp_send_reaches_mqtt_subscribers(mq, version):
    b, port = mq
    conn, lst = py_connect(b.port)
    sub = Paho(port, version)
    try:
        assert sub.subscribe("orders/+/created", 1) == [1]
        sub.subscribe("v1.2/#", 0)
        rid = py_rid()
        conn.send("/topic/orders.eu.created", "order 1", headers={"receipt": rid})
        lst.wait_receipt(rid)
        m = sub.get()
        assert (m.topic, m.payload, m.qos) == ("orders/eu/created", b"order 1", 1)
        # '.' inside an MQTT level is '/' in the STOMP name, and back.
        rid = py_rid()
        conn.send("/topic/v1/2.status", "ok", headers={"receipt": rid})
        lst.wait_receipt(rid)
        m = sub.get()
        assert (m.topic, m.payload) == ("v1.2/status", b"ok")
        rid = py_rid()
        conn.send("/topic/orders.eu.cancelled", "no", headers={"receipt": rid})
        lst.wait_receipt(rid)
        sub.none()
    finally:
        sub.close()
        conn.disconnect()


# ------------------------------------------------------------------ logins

COST = "1000"


@pytest.fixture
def users_file(tmp_path):
    """vhost shop; alice: everything in shop; carol: may read and write
    /topic/... in shop, create nothing; guest as built in (/ only)."""
    path = str(tmp_path / "users.toml")
    for args in (("vhost", "add", "shop"), ("user", "add", "alice", "--password", "wonder", "--iterations", COST),
                 ("user", "set-permissions", "alice", "--vhost", "shop", "--configure", ".*", "--write", ".*",
                  "--read", ".*"),
                 ("user", "add", "carol", "--password", "singer", "--iterations", COST),
                 ("user", "set-permissions", "carol", "--vhost", "shop", "--configure", "", "--write", "^/topic/",
                  "--read", "^/topic/ok")):
        r = run_ferry(*args, "--users-file", path)
        assert r.returncode == 0, r.stderr
    return path


@pytest.mark.parametrize("version", VERSIONS)
def test_vhost_user_login(broker_factory, users_file, version):
    b = broker_factory(mqtt_listen="127.0.0.1:0", users_file=users_file, login_failure_delay=0)
    port = mqtt_port(b)
    alice = Paho(port, version, username="shop:alice", password="wonder")
    guest = Paho(port, version)  # in vhost /
    try:
        assert alice.rc == 0 and guest.rc == 0
        alice.subscribe("t/#", 1)
        guest.subscribe("t/#", 1)
        alice.publish("t/1", b"shop only", 1)
        assert alice.get().payload == b"shop only"
        guest.none()
    finally:
        alice.close()
        guest.close()
    # Wrong password: 3.1.1 return code 4, MQTT 5 reason 0x86.
    bad = Paho(port, version, username="shop:alice", password="nope")
    assert bad.rc == (134 if version == mqtt.MQTTv5 else 4)
    bad.client.loop_stop()
    # No grant on the vhost: not authorized (5, or 0x87).
    bad = Paho(port, version, username="shop:guest", password="guest")
    assert bad.rc == (135 if version == mqtt.MQTTv5 else 5)
    bad.client.loop_stop()


# ------------------------------------------------------------------ raw packets

@pytest.mark.parametrize("level", [4, 5])
def test_will_is_published_when_the_connection_drops(mq, level):
    _, port = mq
    watcher = Paho(port, mqtt.MQTTv311)
    try:
        watcher.subscribe("status/#", 1)
        r = raw_connect(port, level, client_id="device-1", will=("status/device-1", "offline", 1))
        r.close()  # no DISCONNECT
        m = watcher.get()
        assert (m.topic, m.payload) == ("status/device-1", b"offline")
        # A clean DISCONNECT discards the will.
        r = raw_connect(port, level, client_id="device-2", will=("status/device-2", "offline", 1))
        r.send(b"\xe0\x00")
        assert r.closed()
        watcher.none(1.0)
    finally:
        watcher.close()


@pytest.mark.parametrize("level", [4, 5])
def test_keep_alive_closes_a_silent_client(mq, level):
    _, port = mq
    watcher = Paho(port, mqtt.MQTTv311)
    try:
        watcher.subscribe("ka/#", 0)
        r = raw_connect(port, level, keep_alive=1, will=("ka/gone", "timeout", 0))
        # Silent past 1.5 x 1 s: closed (MQTT 5 says why first), and the will goes out.
        got = r.read_packet(10)
        if level == 5:
            assert got is not None and got[0] == 0xE0 and got[1][0] == 0x8D, got
            got = r.read_packet(10)
        assert got is None
        assert watcher.get().payload == b"timeout"
        # A client that pings stays.
        r = raw_connect(port, level, keep_alive=1)
        for _ in range(4):
            r.send(b"\xc0\x00")
            assert r.read_packet() == (0xD0, b"")
            time.sleep(0.5)
        r.close()
    finally:
        watcher.close()


def test_client_maximum_packet_size_is_respected(mq):
    b, port = mq
    # MQTT 5 CONNECT with Maximum Packet Size 100 (property 0x27).
    r = raw_connect(port, 5, properties=b"\x27" + struct.pack(">I", 100))
    r.send(packet(0x82, struct.pack(">H", 1) + b"\x00" + s("mps/#") + b"\x00"))
    assert r.read_packet()[0] == 0x90
    conn, lst = py_connect(b.port)
    try:
        for body in ("x" * 200, "small"):
            rid = py_rid()
            conn.send("/topic/mps.t", body, headers={"receipt": rid})
            lst.wait_receipt(rid)
        # The 200-byte message is not sent to this client; the next one is.
        first, body = r.read_packet()
        assert first == 0x30 and body.endswith(b"small"), body
    finally:
        conn.disconnect()
        r.close()


def test_no_local_and_resubscribe(mq):
    _, port = mq
    # MQTT 5 subscription options 0x05: QoS 1, no-local.
    r = raw_connect(port, 5)
    r.send(packet(0x82, struct.pack(">H", 1) + b"\x00" + s("nl/t") + b"\x05"))
    assert r.read_packet() == (0x90, b"\x00\x01\x00\x01")
    other = Paho(port, mqtt.MQTTv5)
    try:
        r.send(packet(0x30, s("nl/t") + b"\x00" + b"mine"))  # its own: not delivered back
        other.publish("nl/t", b"theirs", 0)
        first, body = r.read_packet()
        assert first == 0x30 and body.endswith(b"theirs"), body
        # The same filter again replaces the options: QoS 0 now.
        r.send(packet(0x82, struct.pack(">H", 2) + b"\x00" + s("nl/t") + b"\x00"))
        assert r.read_packet() == (0x90, b"\x00\x02\x00\x00")
        other.publish("nl/t", b"again", 1)
        first, body = r.read_packet()
        assert first == 0x30 and body.endswith(b"again"), body  # QoS 0: no packet id
        r.close()
    finally:
        other.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_permissions(broker_factory, users_file, version):
    b = broker_factory(mqtt_listen="127.0.0.1:0", users_file=users_file, login_failure_delay=0)
    port = mqtt_port(b)
    carol = Paho(port, version, username="shop:carol", password="singer")
    alice = Paho(port, version, username="shop:alice", password="wonder")
    refused = 0x87 if version == mqtt.MQTTv5 else 0x80
    try:
        assert carol.rc == 0
        # No read permission on /topic/secret.x: refused in SUBACK.
        assert carol.subscribe("secret/x", 1) == [refused]
        # Read permission, but no configure to create the subscription.
        assert carol.subscribe("ok/x", 1) == [refused]
        # Refused by the broker, so not there: asking again is refused again.
        assert carol.subscribe("ok/x", 1) == [refused]
        alice.subscribe("ok/#", 1)
        alice.subscribe("secret/#", 1)
        carol.publish("ok/x", b"from carol", 1)  # write is allowed
        assert alice.get().payload == b"from carol"
        alice.publish("secret/x", b"hidden", 1)
        assert alice.get().payload == b"hidden"
        carol.none()
    finally:
        carol.close()
        alice.close()


def test_packets_sent_with_connect_wait_for_the_login(mq):
    _, port = mq
    watcher = Paho(port)
    try:
        watcher.subscribe("pipe/#", 0)
        r = Raw(port)
        # CONNECT, PUBLISH and PINGREQ in one write: the login is checked on
        # the authenticator's thread, and what follows CONNECT waits for it.
        r.send(connect_packet(4) + packet(0x30, s("pipe/x") + b"early") + b"\xc0\x00")
        assert r.read_packet() == (0x20, b"\x00\x00")
        assert r.read_packet() == (0xD0, b"")
        assert watcher.get().payload == b"early"
        r.close()
    finally:
        watcher.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_many_qos1_messages_arrive_in_order(mq, version):
    b, port = mq
    sub = Paho(port, version)
    pub = Paho(port, version)
    conn, lst = py_connect(b.port)
    try:
        sub.subscribe("bulk/+", 1)
        rid = py_rid()
        conn.subscribe("/topic/bulk.*", id="s", ack="auto", headers={"receipt": rid})
        lst.wait_receipt(rid)
        n = 2000
        infos = [pub.client.publish("bulk/%d" % (i % 7), b"%d" % i, 1) for i in range(n)]
        for info in infos:
            info.wait_for_publish(WAIT)
            assert info.is_published()
        got = [int(sub.get().payload) for _ in range(n)]
        assert got == list(range(n))
        assert [int(lst.get().body) for _ in range(n)] == list(range(n))
        sub.none()
    finally:
        sub.close()
        pub.close()
        conn.disconnect()


def test_stomp_topic_names_mqtt_cannot_carry_are_skipped(mq):
    b, port = mq
    sub = Paho(port, mqtt.MQTTv5)
    conn, lst = py_connect(b.port)
    try:
        sub.subscribe("#", 1)
        for dest, body in (("/topic/odd+name", "skipped"), ("/topic/fine.name", "delivered")):
            rid = py_rid()
            conn.send(dest, body, headers={"receipt": rid})
            lst.wait_receipt(rid)
        m = sub.get()
        assert (m.topic, m.payload) == ("fine/name", b"delivered")
        assert sub.client.is_connected()
    finally:
        sub.close()
        conn.disconnect()


def test_wildcard_first_filters_do_not_match_dollar_topics(mq):
    _, port = mq
    everything = Paho(port)
    system = Paho(port)
    pub = Paho(port)
    try:
        everything.subscribe("#", 0)
        system.subscribe("$SYS/#", 0)
        pub.publish("$SYS/broker/load", b"1", 1)  # spec 4.7.2-1
        pub.publish("plain/topic", b"2", 1)
        m = everything.get()
        assert (m.topic, m.payload) == ("plain/topic", b"2")
        m = system.get()
        assert (m.topic, m.payload) == ("$SYS/broker/load", b"1")
    finally:
        everything.close()
        system.close()
        pub.close()



def publish_properties(**values):
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    p = Properties(PacketTypes.PUBLISH)
    for k, v in values.items():
        setattr(p, k, v)
    return p


def test_mqtt5_properties_become_stomp_headers_and_back(mq):
    """Request/reply between MQTT 5 and STOMP: user properties are headers,
    content type is content-type, the response topic is reply-to, correlation
    data is correlation-id, the message expiry interval is expires."""
    b, port = mq
    requester = Paho(port, mqtt.MQTTv5)
    conn, lst = py_connect(b.port)
    try:
        requester.subscribe("answers/+", 1)
        rid = py_rid()
        conn.subscribe("/topic/requests.#", id="r", ack="auto", headers={"receipt": rid})
        lst.wait_receipt(rid)
        before = int(time.time() * 1000)
        requester.publish("requests/price", b'{"sku": 7}', 1, publish_properties(
            UserProperty=[("region", "eu"), ("trace", "t-1")], ContentType="application/json",
            ResponseTopic="answers/client-1", CorrelationData=b"req-42", MessageExpiryInterval=60))
        f = lst.get()
        h = f.headers
        assert (h["region"], h["trace"], h["content-type"]) == ("eu", "t-1", "application/json")
        assert (h["reply-to"], h["correlation-id"]) == ("/topic/answers.client-1", "req-42")
        assert before + 59_000 <= int(h["expires"]) <= int(time.time() * 1000) + 60_000
        # The STOMP side answers to reply-to, with the correlation id.
        rid = py_rid()
        conn.send(h["reply-to"], "42.50", headers={"receipt": rid, "correlation-id": h["correlation-id"],
                                                   "content-type": "text/plain", "currency": "EUR",
                                                   "expires": str(int(time.time() * 1000) + 30_000)})
        lst.wait_receipt(rid)
        m = requester.get()
        assert (m.topic, m.payload) == ("answers/client-1", b"42.50")
        assert m.properties.CorrelationData == b"req-42"
        assert m.properties.ContentType == "text/plain"
        assert ("currency", "EUR") in m.properties.UserProperty
        assert 1 <= m.properties.MessageExpiryInterval <= 30
    finally:
        requester.close()
        conn.disconnect()


def test_stomp_reply_to_a_topic_is_the_response_topic(mq):
    b, port = mq
    responder = Paho(port, mqtt.MQTTv5)
    conn, lst = py_connect(b.port)
    try:
        responder.subscribe("jobs/#", 1)
        rid = py_rid()
        conn.send("/topic/jobs.resize", "img-1", headers={"receipt": rid, "reply-to": "/topic/done.stomp-1"})
        lst.wait_receipt(rid)
        m = responder.get()
        assert m.properties.ResponseTopic == "done/stomp-1"
        assert not hasattr(m.properties, "UserProperty") or all(k != "reply-to" for k, _ in m.properties.UserProperty)
    finally:
        responder.close()
        conn.disconnect()


@pytest.mark.parametrize("version", VERSIONS)
def test_a_second_connection_with_the_client_id_takes_over(mq, version):
    b, port = mq
    first = Paho(port, version, client_id="device-7")
    second = None
    try:
        assert first.subscribe("takeover/#", 1) == [1]
        second = Paho(port, version, client_id="device-7")
        assert second.rc == 0
        rc = first.gone.get(timeout=WAIT)  # the first connection is closed
        if version == mqtt.MQTTv5:
            assert rc == 0x8E  # DISCONNECT: Session taken over
        assert second.subscribe("takeover/#", 1) == [1]
        second.publish("takeover/x", b"to the new one", 1)
        assert second.get().payload == b"to the new one"
        first.none()
        # And a third takes over from the second.
        third = Paho(port, version, client_id="device-7")
        assert third.rc == 0
        rc = second.gone.get(timeout=WAIT)
        if version == mqtt.MQTTv5:
            assert rc == 0x8E
        third.close()
    finally:
        first.client.loop_stop()
        if second:
            second.close()


def test_connack_of_mqtt5(mq):
    """CONNACK properties: an assigned client id for an empty one, no
    session expiry (the one asked for applies: test_mqtt_sessions.py), retain
    shared subscriptions and subscription identifiers available, Topic Alias
    Maximum 10, the maximum packet size."""
    _, port = mq
    r = Raw(port)
    r.send(connect_packet(5, client_id="", properties=b"\x11" + struct.pack(">I", 3600)))
    first, body = r.read_packet()
    assert first == 0x20 and body[:2] == b"\x00\x00"
    props, i, end = {}, 3, 3 + body[2]  # property length < 128 here
    while i < end:
        pid = body[i]
        if pid == 0x12:
            n = struct.unpack(">H", body[i + 1:i + 3])[0]
            props[pid] = body[i + 3:i + 3 + n].decode()
            i += 3 + n
        elif pid in (0x11, 0x27):
            props[pid] = struct.unpack(">I", body[i + 1:i + 5])[0]
            i += 5
        elif pid == 0x22:
            props[pid] = struct.unpack(">H", body[i + 1:i + 3])[0]
            i += 3
        else:
            props[pid] = body[i + 1]
            i += 2
    assert props[0x12].startswith("ferry-")  # Assigned Client Identifier
    assert 0x11 not in props                 # Session Expiry Interval: as asked
    assert 0x25 not in props                 # Retain Available: yes
    assert 0x2A not in props                 # Shared Subscription Available: yes
    assert 0x29 not in props                 # Subscription Identifiers Available: yes
    assert props[0x22] == 10                 # Topic Alias Maximum
    assert props[0x27] == 16 * 1024 * 1024   # Maximum Packet Size: max-frame-size
    r.close()
