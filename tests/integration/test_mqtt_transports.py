"""MQTT over TLS (mqtt-tls-listen) and over WebSocket (mqtt-ws-listen,
mqtt-wss-listen: ws://HOST:PORT/mqtt, subprotocol "mqtt"), on the STOMP
listeners' TLS and WebSocket layers (docs/mqtt.md): mosquitto_pub and
mosquitto_sub with --cafile, Paho over TLS and over WebSocket (plain and
TLS), a raw WebSocket handshake for what the listener accepts. Every test
runs with 1 and 2 shards."""
from __future__ import annotations

import ssl
import subprocess

import pytest

from support import unique
from mgmt import Api
from transport_support import Certs, RawWs
from mqtt_support import Paho, mosquitto_pub, mqtt, mqtt_ports, start_mosquitto_sub


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return Certs(tmp_path_factory.mktemp("mqtt-certs"))


@pytest.fixture
def mq(broker_factory, certs):
    b = broker_factory(mqtt_listen="127.0.0.1:0", mqtt_tls_listen="127.0.0.1:0", mqtt_ws_listen="127.0.0.1:0",
                       mqtt_wss_listen="127.0.0.1:0", ws_listen="127.0.0.1:0",
                       **certs.server_opts())
    return b, mqtt_ports(b)


def client_tls(certs: Certs) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    return ctx


def test_every_mqtt_listener_is_logged_and_listed(mq):
    b, ports = mq
    assert set(ports) == {"MQTT", "MQTT/TLS", "MQTT/WebSocket", "MQTT/WebSocket+TLS"}, b.tail(30)
    o = Api(b).get("/api/overview")
    listeners = {l["protocol"]: l["address"] for l in o["listeners"]}
    assert listeners["mqtt"] == "127.0.0.1:%d" % ports["MQTT"]
    assert listeners["mqtt/ssl"] == "127.0.0.1:%d" % ports["MQTT/TLS"]
    assert listeners["http/web-mqtt"] == "127.0.0.1:%d" % ports["MQTT/WebSocket"]
    assert listeners["https/web-mqtt"] == "127.0.0.1:%d" % ports["MQTT/WebSocket+TLS"]


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_mosquitto_over_tls_meets_mosquitto_over_tcp(mq, certs, version):
    b, ports = mq
    topic = unique("tls") + "/temp"
    sub = start_mosquitto_sub(ports["MQTT/TLS"], version, topic, count=2, cafile=certs.ca)
    mosquitto_pub(ports["MQTT/TLS"], version, topic, "over-tls", cafile=certs.ca)
    mosquitto_pub(ports["MQTT"], version, topic, "over-tcp")
    out, _ = sub.communicate(timeout=30)
    got = [l for l in out.splitlines() if l.startswith(topic)]
    assert got == [topic + " over-tls", topic + " over-tcp"], out


def test_tls_listener_refuses_a_plain_client(mq):
    b, ports = mq
    r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(ports["MQTT/TLS"]), "-q", "1", "-t", "x",
                        "-m", "y", "-u", "guest", "-P", "guest"], capture_output=True, timeout=30)
    assert r.returncode != 0
    Paho(ports["MQTT"], keepalive=30, expect_rc=0).close()  # the broker serves on


@pytest.mark.parametrize("version", [mqtt.MQTTv311, mqtt.MQTTv5])
@pytest.mark.parametrize("kind", ["MQTT/WebSocket", "MQTT/WebSocket+TLS"])
def test_paho_over_websocket(mq, certs, version, kind):
    b, ports = mq
    tls = client_tls(certs) if kind.endswith("TLS") else None
    topic = unique("ws") + "/a"
    ws_sub = Paho(ports[kind], version=version, transport="websockets", tls=tls, keepalive=30, expect_rc=0)
    ws_sub.subscribe(topic + "/#", 1)
    tcp = Paho(ports["MQTT"], version=version, keepalive=30, expect_rc=0)
    tcp.subscribe(topic, 1)
    tcp.publish(topic + "/b", b"from-tcp", 1)
    m = ws_sub.get()
    assert (m.topic, m.payload, m.qos) == (topic + "/b", b"from-tcp", 1)
    # A message larger than one WebSocket frame's 125/65535-byte lengths.
    big = bytes(range(256)) * 400
    ws_pub = Paho(ports[kind], version=version, transport="websockets", tls=tls, keepalive=30, expect_rc=0)
    ws_pub.publish(topic, big, 1)
    m = tcp.get()
    assert (m.topic, m.payload) == (topic, big)
    for c in (ws_sub, ws_pub, tcp):
        c.close()


def test_paho_over_tls(mq, certs):
    b, ports = mq
    topic = unique("ptls") + "/x"
    c = Paho(ports["MQTT/TLS"], version=mqtt.MQTTv5, tls=client_tls(certs), keepalive=30, expect_rc=0)
    c.subscribe(topic, 2)
    c.publish(topic, b"exactly-once", 2)
    m = c.get()
    assert (m.topic, m.payload, m.qos) == (topic, b"exactly-once", 2)
    c.close()


def test_websocket_handshake_wants_the_mqtt_subprotocol(mq):
    b, ports = mq
    port = ports["MQTT/WebSocket"]
    ok = RawWs(port, path="/mqtt", protocols="mqtt")
    assert ok.status == 101 and ok.response_headers.get("sec-websocket-protocol") == "mqtt"
    # A STOMP client does not speak MQTT here; nor is there anything at /ws.
    assert RawWs(port, path="/mqtt", protocols="v12.stomp").status == 400
    assert RawWs(port, path="/ws", protocols="mqtt").status == 404
    # The STOMP WebSocket listener does not take MQTT (it has no MQTT session).
    assert RawWs(b.ws_port, path="/ws", protocols="mqtt").status == 400


def test_mqtt_over_tls_without_a_plain_listener(broker_factory, certs):
    b = broker_factory(mqtt_tls_listen="127.0.0.1:0", **certs.server_opts())
    ports = mqtt_ports(b)
    assert list(ports) == ["MQTT/TLS"], b.tail(30)
    c = Paho(ports["MQTT/TLS"], tls=client_tls(certs), keepalive=30, expect_rc=0)
    topic = unique("only") + "/tls"
    c.subscribe(topic, 1)
    c.publish(topic, b"x", 1)
    assert c.get().payload == b"x"
    c.close()


def test_ws_path_is_configurable(broker_factory):
    b = broker_factory(mqtt_ws_listen="127.0.0.1:0", mqtt_ws_path="/ws/mqtt")
    port = mqtt_ports(b)["MQTT/WebSocket"]
    assert RawWs(port, path="/mqtt", protocols="mqtt").status == 404
    c = Paho(port, transport="websockets", path="/ws/mqtt", keepalive=30, expect_rc=0)
    c.close()
