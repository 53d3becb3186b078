"""Topic aliases from the server to an MQTT 5 client (docs/mqtt.md): as
many as the client's Topic Alias Maximum (CONNECT) allows, at most 32; the
first PUBLISH to a topic sets an alias, the next ones carry it with an
empty topic; past the maximum, topics go in full. Raw packets: neither
Debian client resolves aliases from a server (libmosquitto 2.0.11 treats
the empty topic as a protocol error even when told to send Topic Alias
Maximum; Paho 1.6.1 has no aliases), and neither asks for them by default,
which test_no_aliases_without_a_topic_alias_maximum covers. Every test runs
with 1 and 2 shards."""
from __future__ import annotations

import struct
import time

from support import py_connect, unique
from mqtt_support import Raw, packet, raw_connect, read_vbi, s


def connect(port: int, alias_maximum: int | None) -> Raw:
    props = b"" if alias_maximum is None else b"\x22" + struct.pack(">H", alias_maximum)
    return raw_connect(port, 5, client_id=unique("al"), properties=props)


def subscribe(r: Raw, flt: str):
    r.send(packet(0x82, struct.pack(">H", 1) + b"\x00" + s(flt) + b"\x00"))
    first, ack = r.read_packet()
    assert first == 0x90 and ack[-1] == 0


def publish_on_wire(r: Raw) -> tuple[str, int | None, bytes]:
    """The next PUBLISH (QoS 0): (topic as sent, its Topic Alias, payload)."""
    first, body = r.read_packet()
    assert first & 0xF0 == 0x30, "not a PUBLISH: %x" % first
    tl = struct.unpack(">H", body[:2])[0]
    topic = body[2:2 + tl].decode()
    n, i = read_vbi(body, 2 + tl)
    end = i + n
    alias = None
    while i < end:
        pid = body[i]
        i += 1
        if pid == 0x23:
            alias = struct.unpack(">H", body[i:i + 2])[0]
            i += 2
        elif pid == 0x01:
            i += 1
        elif pid == 0x02:
            i += 4
        elif pid == 0x0B:
            _, i = read_vbi(body, i)
        elif pid in (0x03, 0x08, 0x09):
            i += 2 + struct.unpack(">H", body[i:i + 2])[0]
        elif pid == 0x26:
            for _ in range(2):
                i += 2 + struct.unpack(">H", body[i:i + 2])[0]
        else:
            raise AssertionError("unexpected property %x" % pid)
    return topic, alias, body[end:]


def stomp_send(port: int, topics_and_bodies):
    conn, _ = py_connect(port)
    for t, body in topics_and_bodies:
        conn.send("/topic/" + t.replace("/", "."), body, headers={"receipt": unique("r")})
    time.sleep(0.2)
    conn.disconnect()


def test_aliases_up_to_the_clients_maximum(mq):
    b, port = mq
    base = unique("al")
    r = connect(port, 2)
    subscribe(r, base + "/#")
    sends = [("a", "1"), ("a", "2"), ("b", "3"), ("c", "4"), ("a", "5"), ("c", "6"), ("b", "7")]
    stomp_send(b.port, [(base + "/" + t, body) for t, body in sends])
    got = [publish_on_wire(r) for _ in sends]
    a, bb, c = base + "/a", base + "/b", base + "/c"
    assert got == [(a, 1, b"1"), ("", 1, b"2"), (bb, 2, b"3"), (c, None, b"4"), ("", 1, b"5"),
                   (c, None, b"6"), ("", 2, b"7")], got


def test_no_aliases_without_a_topic_alias_maximum(mq):
    b, port = mq
    base = unique("na")
    r = connect(port, None)
    subscribe(r, base + "/#")
    stomp_send(b.port, [(base + "/x", "1"), (base + "/x", "2")])
    assert [publish_on_wire(r) for _ in range(2)] == [(base + "/x", None, b"1"), (base + "/x", None, b"2")]
