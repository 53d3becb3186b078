"""QoS 2 towards subscribers (docs/mqtt.md): PUBLISH, PUBREC, PUBREL,
PUBCOMP, with mosquitto_sub/mosquitto_pub (3.1.1 and 5), Paho, stomp.py,
and raw packets for the order of the handshake, Receive Maximum (a QoS 2
PUBLISH counts until its PUBCOMP) and the reason codes."""
from __future__ import annotations

import socket
import struct
import subprocess

import pytest

from support import py_connect, unique
from mqtt_support import VERSIONS, PahoSession, Raw, expect, mosquitto_pub, packet, raw_connect, raw_publish, s


def connect(port: int, level: int, receive_maximum: int | None = None) -> Raw:
    props = b"" if receive_maximum is None else b"\x21" + struct.pack(">H", receive_maximum)
    return raw_connect(port, level, client_id=unique("q2"), properties=props)


def subscribe(r: Raw, flt: str, qos: int = 2):
    body = struct.pack(">H", 1) + (b"\x00" if r.level == 5 else b"") + s(flt) + bytes([qos])
    r.send(packet(0x82, body))
    first, ack = r.read_packet()
    assert first == 0x90 and ack[-1] == qos, "SUBACK %r" % ack


def response(r: Raw, kind: int, pid: int, reason: int | None = None):
    body = struct.pack(">H", pid) + (b"" if reason is None else bytes([reason]))
    r.send(packet(kind, body))


def nothing(r: Raw, timeout: float = 0.5):
    try:
        got = r.read_packet(timeout=timeout)
    except (socket.timeout, TimeoutError):
        return
    raise AssertionError("unexpected packet %r" % (got,))


def pub(port: int, version: str, topic: str, message: str, qos: int = 2):
    mosquitto_pub(port, version, topic, message, qos)


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_mosquitto_receives_qos2(mq, version):
    _, port = mq
    topic = unique("m2") + "/t"
    p = subprocess.Popen(["stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-V", version,
                          "-q", "2", "-t", topic, "-F", "%q %p", "-C", "3", "-W", "20", "-d",
                          "-u", "guest", "-P", "guest"], stdout=subprocess.PIPE, text=True)
    for line in p.stdout:
        if "received SUBACK" in line:
            break
    for i in range(3):
        pub(port, version, topic, "m%d" % i)
    out, _ = p.communicate(timeout=30)
    lines = [l for l in out.splitlines() if not l.startswith(("Client ", "Subscribed"))]
    assert lines == ["2 m0", "2 m1", "2 m2"], out
    # mosquitto_sub -d logs the handshake: one PUBREL from Ferry per message.
    assert out.count("received PUBREL") == 3 and out.count("sending PUBCOMP") == 3, out


@pytest.mark.parametrize("level", [4, 5])
def test_the_handshake_in_order(mq, level):
    """PUBLISH (QoS 2) -> PUBREC -> PUBREL -> PUBCOMP; the message is not
    sent again once PUBREC came; a STOMP message goes at the granted QoS 2."""
    b, port = mq
    topic = unique("hs")
    r = connect(port, level)
    subscribe(r, topic + "/#")
    pub(port, "mqttv5", topic + "/a", "one")
    first, t, pid, payload = raw_publish(r)
    assert ((first >> 1) & 3, first & 0x08, payload) == (2, 0, b"one")
    response(r, 0x50, pid)  # PUBREC
    expect(r, 0x62, pid)    # PUBREL
    response(r, 0x70, pid)  # PUBCOMP
    conn, _ = py_connect(b.port)
    conn.send("/topic/%s.b" % topic, "from stomp", headers={"receipt": "r1"})
    conn.disconnect()
    first, t, pid2, payload = raw_publish(r)
    assert ((first >> 1) & 3, t, payload) == (2, topic + "/b", b"from stomp")
    response(r, 0x50, pid2)
    expect(r, 0x62, pid2)
    response(r, 0x70, pid2)
    nothing(r)
    r.close()


def test_receive_maximum_counts_until_pubcomp(mq):
    """MQTT 5 Receive Maximum 1: the second QoS 2 PUBLISH waits for the
    first one's PUBCOMP, not its PUBREC."""
    _, port = mq
    topic = unique("rm") + "/t"
    r = connect(port, 5, receive_maximum=1)
    subscribe(r, topic)
    pub(port, "mqttv5", topic, "first")
    pub(port, "mqttv5", topic, "second")
    _, _, pid, payload = raw_publish(r)
    assert payload == b"first"
    nothing(r)
    response(r, 0x50, pid)
    expect(r, 0x62, pid)
    nothing(r)
    response(r, 0x70, pid)
    _, _, pid2, payload = raw_publish(r)
    assert payload == b"second"
    r.close()


def test_unknown_pubrec_gets_pubrel_not_found(mq):
    """MQTT 5: a PUBREC for a packet id not waiting for it is answered with
    PUBREL 0x92 (Packet Identifier not found); a stray PUBCOMP is ignored."""
    _, port = mq
    r = connect(port, 5)
    response(r, 0x70, 77)
    response(r, 0x50, 42)
    body = expect(r, 0x62, 42)
    assert body[2] == 0x92
    r.send(b"\xc0\x00")  # PINGREQ: still connected
    assert r.read_packet()[0] == 0xD0
    r.close()


def test_pubrec_with_an_error_ends_the_flow(mq):
    """MQTT 5: a PUBREC with a reason code >= 0x80 ends the flow (no PUBREL)
    and frees the packet id."""
    _, port = mq
    topic = unique("er") + "/t"
    r = connect(port, 5, receive_maximum=1)
    subscribe(r, topic)
    pub(port, "mqttv5", topic, "refused")
    pub(port, "mqttv5", topic, "next")
    _, _, pid, _ = raw_publish(r)
    response(r, 0x50, pid, 0x80)
    _, _, pid2, payload = raw_publish(r)  # no PUBREL first: the next PUBLISH
    assert payload == b"next"
    r.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_persistent_session_gets_qos2(mq, version):
    """QoS 2 messages published while a persistent session's client is away
    come at QoS 2 on its return (Paho completes the handshake)."""
    _, port = mq
    cid, topic = unique("p2"), unique("p2") + "/t"
    c = PahoSession(port, version, cid)
    c.subscribe(topic, 2)
    c.close()
    pub(port, "mqttv311", topic, "away")
    c = PahoSession(port, version, cid)
    assert c.session_present
    m = c.get()
    assert (m.payload, m.qos) == (b"away", 2)
    c.none()
    c.close()
