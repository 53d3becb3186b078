"""MQTT persistent sessions (docs/mqtt.md, "Persistent sessions") with real
clients: Paho (python3-paho-mqtt), mosquitto_sub/mosquitto_pub, stomp.py,
and raw packets where a client library hides what is checked (the DUP flag,
the session present flag). A session that outlives its connection (3.1.1
clean session 0, MQTT 5 Session Expiry Interval > 0) is the queue
mqtt-subscription-CLIENTIDqos1 with its subscriptions as bindings of
amq.topic: it keeps collecting while the client is away, across restarts
and kill -9, until it expires."""
from __future__ import annotations

import struct
import subprocess
import time

import pytest

from support import WAIT, py_connect, unique
from mqtt_support import (MOSQUITTO, VERSIONS, PahoSession, Raw, connect_packet, disconnect, disconnect_reason,
                          mosquitto_pub, mqtt, mqtt_port, packet, props, puback, raw_publish, raw_session,
                          raw_subscribe, session_connect_packet, session_queue)


# ------------------------------------------------------------------ helpers

def pub(port: int, version: str, topic: str, message: str, qos: int = 1):
    mosquitto_pub(port, version, topic, message, qos)


def session_sub(port: int, version: str, client_id: str, topic: str, *extra: str, count: int | None = None,
                exit_after_suback: bool = False) -> list[str]:
    """mosquitto_sub with a persistent session (-c): subscribes (-E: then
    leaves) or reads `count` messages."""
    args = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-V", version, "-c", "-i", client_id, "-q", "1",
            "-t", topic, "-v", "-u", "guest", "-P", "guest", "-W", "20", *extra]
    if exit_after_suback:
        args.append("-E")
    if count is not None:
        args += ["-C", str(count)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=40)
    assert r.returncode == 0, "mosquitto_sub failed (rc %d): %s %s" % (r.returncode, r.stdout, r.stderr)
    return r.stdout.splitlines()


# ------------------------------------------------------------------ tests

@pytest.mark.parametrize("version", VERSIONS)
def test_subscriptions_and_messages_wait_for_the_client(mq, version):
    """Paho leaves with a persistent session; QoS 1 messages published while
    it is away (by MQTT and by STOMP) wait, and come on its return without a
    new SUBSCRIBE; CONNACK says the session was there."""
    b, port = mq
    cid, base = unique("ps"), unique("ps")
    c = PahoSession(port, version, cid)
    assert not c.session_present
    c.subscribe(base + "/+/t", 1)
    c.close()
    pub(port, "mqttv311", base + "/a/t", "while away 1")
    stomp, _ = py_connect(b.port)
    stomp.send("/topic/%s.b.t" % base, "while away 2", headers={"persistent": "true", "receipt": "r1"})
    stomp.disconnect()
    pub(port, "mqttv311", base + "/a/other", "not subscribed")
    c = PahoSession(port, version, cid)
    assert c.session_present
    got = sorted((m.topic, m.payload, m.qos) for m in (c.get(), c.get()))
    assert got == [(base + "/a/t", b"while away 1", 1), (base + "/b/t", b"while away 2", 1)]
    c.none()
    # The subscription is still there: a message published now arrives too.
    pub(port, "mqttv5", base + "/c/t", "now")
    m = c.get()
    assert (m.topic, m.payload) == (base + "/c/t", b"now")
    c.close()


@pytest.mark.parametrize("level", [4, 5])
def test_unacknowledged_publish_comes_again_with_dup(mq, level):
    """A QoS 1 PUBLISH the client did not PUBACK before it went is sent
    again, DUP set, on its next connection; once PUBACKed, never again."""
    _, port = mq
    cid, topic = unique("dup"), unique("dup") + "/x"
    expiry = 600 if level == 5 else None
    r, present, _ = raw_session(port, cid, level, expiry=expiry)
    r.level = level
    assert not present
    raw_subscribe(r, level, topic, 1)
    pub(port, "mqttv311", topic, "first")
    first, t, pid, payload = raw_publish(r)
    assert (t, payload, first & 0x08, (first >> 1) & 3) == (topic, b"first", 0, 1)
    r.close()  # gone without PUBACK (nor DISCONNECT)

    r, present, _ = raw_session(port, cid, level, expiry=expiry)
    r.level = level
    assert present
    first, t, pid, payload = raw_publish(r)
    assert (t, payload) == (topic, b"first")
    assert first & 0x08, "DUP not set on the PUBLISH sent again: %x" % first
    puback(r, pid)
    disconnect(r)

    r, present, _ = raw_session(port, cid, level, expiry=expiry)
    r.level = level
    assert present
    pub(port, "mqttv311", topic, "second")
    first, t, pid, payload = raw_publish(r)
    assert (payload, first & 0x08) == (b"second", 0), "the PUBACKed message came again"
    puback(r, pid)
    disconnect(r)


@pytest.mark.parametrize("version", MOSQUITTO)
@pytest.mark.parametrize("how", ["stop", "kill"])
def test_session_survives_a_restart(broker_factory, tmp_path, version, how):
    """mosquitto_sub -c subscribes and leaves; QoS 1 messages wait; the broker
    stops (or is killed with -9) and starts on the same data directory; the
    session is still there, with every message."""
    data = tmp_path / "data"
    data.mkdir()
    b = broker_factory(mqtt_listen="127.0.0.1:0", data_dir=str(data))
    port = mqtt_port(b)
    cid, base = unique("rs"), unique("rs")
    extra = ("-x", "3600") if version == "mqttv5" else ()
    session_sub(port, version, cid, base + "/#", *extra, exit_after_suback=True)
    for i in range(5):
        pub(port, version, "%s/m/%d" % (base, i), "msg %d" % i)
    if how == "kill":
        b.kill()
    else:
        assert b.stop() == 0
        b.killed = True  # ended on purpose
    b2 = broker_factory(mqtt_listen="127.0.0.1:0", data_dir=str(data))
    port = mqtt_port(b2)
    lines = session_sub(port, version, cid, base + "/#", *extra, count=5)
    assert lines == ["%s/m/%d msg %d" % (base, i, i) for i in range(5)]


def test_session_expiry_removes_the_session(mq):
    """MQTT 5: a session with a Session Expiry Interval of 1 s goes 1 s after
    its connection: its queue and its bindings (a message published after
    does not bring the queue back), and the next CONNECT finds none."""
    b, port = mq
    cid, topic = unique("exp"), unique("exp") + "/t"
    c = PahoSession(port, mqtt.MQTTv5, cid, expiry=1)
    c.subscribe(topic, 1)
    c.close()
    assert session_queue(b, cid) is not None
    deadline = time.monotonic() + 15
    while session_queue(b, cid) is not None:
        assert time.monotonic() < deadline, "the session's queue did not expire"
        time.sleep(0.2)
    pub(port, "mqttv5", topic, "after expiry")
    time.sleep(0.3)
    assert session_queue(b, cid) is None, "a binding of the expired session brought its queue back"
    c = PahoSession(port, mqtt.MQTTv5, cid, expiry=1)
    assert not c.session_present
    c.none()
    c.close()


@pytest.mark.parametrize("level", [4, 5])
def test_clean_start_discards_the_session(mq, level):
    b, port = mq
    cid, topic = unique("cs"), unique("cs") + "/t"
    expiry = 600 if level == 5 else None
    r, present, _ = raw_session(port, cid, level, expiry=expiry)
    r.level = level
    raw_subscribe(r, level, topic, 1)
    disconnect(r)
    r, present, _ = raw_session(port, cid, level, expiry=expiry)
    assert present, "no session to discard"
    disconnect(r)
    pub(port, "mqttv311", topic, "dropped")
    r, present, _ = raw_session(port, cid, level, clean=True, expiry=expiry)
    assert not present
    disconnect(r)
    r, present, _ = raw_session(port, cid, level, expiry=expiry)
    r.level = level
    if level == 4:
        assert not present
    # Either way the old subscription and its message are gone.
    pub(port, "mqttv311", topic, "not subscribed")
    try:
        got = r.read_packet(timeout=0.5)
    except (TimeoutError, OSError):
        got = None
    assert got is None, "a message of the discarded session: %r" % (got,)
    disconnect(r)


def test_mqtt5_session_expiry_zero_ends_with_the_connection(mq):
    """MQTT 5: clean start 0 with Session Expiry 0 resumes the session there
    is (session present), which then ends with the connection."""
    b, port = mq
    cid, topic = unique("z"), unique("z") + "/t"
    r, present, _ = raw_session(port, cid, 5, expiry=600)
    r.level = 5
    raw_subscribe(r, 5, topic, 1)
    disconnect(r)
    pub(port, "mqttv5", topic, "kept")
    r, present, _ = raw_session(port, cid, 5, expiry=0)
    r.level = 5
    assert present
    first, t, pid, payload = raw_publish(r)
    assert payload == b"kept"
    puback(r, pid)
    disconnect(r)
    deadline = time.monotonic() + WAIT
    while session_queue(b, cid) is not None:
        assert time.monotonic() < deadline, "the session's queue is still there"
        time.sleep(0.1)
    r, present, _ = raw_session(port, cid, 5, expiry=600)
    assert not present
    disconnect(r)


def test_an_existing_session_keeps_its_expiry(mq):
    """MQTT 5: the expiry of a session's queue is fixed when it is made; a
    later CONNECT asking another is told in CONNACK which applies."""
    _, port = mq
    cid = unique("ke")
    r, present, props = raw_session(port, cid, 5, expiry=600)
    assert 0x11 not in props
    r.level = 5
    raw_subscribe(r, 5, unique("ke") + "/t", 1)
    disconnect(r)
    r, present, props = raw_session(port, cid, 5, expiry=30)
    assert present
    assert struct.unpack(">I", props[0x11])[0] == 600
    disconnect(r)


def test_persistent_sessions_count_against_max_queues(broker_factory):
    """Each persistent session is a queue: past max-queues a new one is
    refused (MQTT 5: CONNACK 0x97 Quota exceeded; 3.1.1: 3 Server
    unavailable); clean sessions are not."""
    b = broker_factory(mqtt_listen="127.0.0.1:0", max_queues=2)
    port = mqtt_port(b)
    held = []
    for i in range(2):
        r, _, _ = raw_session(port, unique("mq"), 4)
        held.append(r)
    for level, code in ((5, 0x97), (4, 3)):
        r = Raw(port)
        r.send(session_connect_packet(unique("mq"), level, clean=False, expiry=60 if level == 5 else None))
        first, body = r.read_packet()
        assert first == 0x20 and body[1] == code, "CONNACK %r" % body
        r.close()
    r, present, _ = raw_session(port, unique("mq"), 4, clean=True)
    disconnect(r)
    for r in held:
        disconnect(r)


# ------------------------------------------------------------------ session expiry at DISCONNECT

def disconnect_with_expiry(r: Raw, expiry: int):
    """MQTT 5 DISCONNECT 0x00 with a Session Expiry Interval."""
    r.send(packet(0xE0, b"\x00" + props(b"\x11" + struct.pack(">I", expiry))))


def test_session_expiry_raised_at_disconnect_applies(mq):
    """MQTT 5 (3.14.2.2.2): a Session Expiry Interval at DISCONNECT replaces
    the CONNECT's: a session made with 1 s and left with 600 s is still
    there after a 1 s session beside it has expired, and resumes."""
    b, port = mq
    cid, short, topic = unique("dx"), unique("dxs"), unique("dx") + "/t"
    r, present, _ = raw_session(port, cid, 5, expiry=1)
    r.level = 5
    raw_subscribe(r, 5, topic, 1)
    s2, _, _ = raw_session(port, short, 5, expiry=1)  # the yardstick
    disconnect_with_expiry(r, 600)
    assert r.closed()
    disconnect(s2)
    deadline = time.monotonic() + 15
    while session_queue(b, short) is not None:
        assert time.monotonic() < deadline, "the 1 s session did not expire"
        time.sleep(0.2)
    assert session_queue(b, cid) is not None, "the session expired with the CONNECT's interval"
    pub(port, "mqttv5", topic, "kept")
    r, present, props_ = raw_session(port, cid, 5, expiry=600)
    r.level = 5
    assert present
    _, t, pid, payload = raw_publish(r)
    assert payload == b"kept"
    puback(r, pid)
    disconnect(r)


def test_session_expiry_lowered_at_disconnect_applies(mq):
    """Left with 1 s after a CONNECT with 600 s: the session goes 1 s after."""
    b, port = mq
    cid, topic = unique("dl"), unique("dl") + "/t"
    r, present, _ = raw_session(port, cid, 5, expiry=600)
    r.level = 5
    raw_subscribe(r, 5, topic, 1)
    disconnect_with_expiry(r, 1)
    assert r.closed()
    deadline = time.monotonic() + 15
    while session_queue(b, cid) is not None:
        assert time.monotonic() < deadline, "the session did not expire 1 s after its DISCONNECT"
        time.sleep(0.2)
    r, present, _ = raw_session(port, cid, 5, expiry=600)
    assert not present
    disconnect(r)


def test_session_expiry_at_disconnect_after_zero_is_a_protocol_error(mq):
    """0 at CONNECT, non-zero at DISCONNECT: DISCONNECT 0x82 from the server,
    and the will goes out (the client did not end the connection normally)."""
    b, port = mq
    topic = unique("dz") + "/will"
    w = PahoSession(port, mqtt.MQTTv5, unique("dzw"), expiry=0, clean=True)
    w.subscribe(topic, 1)
    r = Raw(port, 5)
    r.send(connect_packet(5, will=(topic, "gone", 1)))
    first, body = r.read_packet()
    assert first == 0x20 and body[1] == 0
    r.level = 5
    disconnect_with_expiry(r, 60)
    assert disconnect_reason(r) == 0x82
    assert w.get().payload == b"gone"
    w.close()
