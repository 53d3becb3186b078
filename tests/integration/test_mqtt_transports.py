"""MQTT over TLS (mqtt-tls-listen) and over WebSocket (mqtt-ws-listen,
mqtt-wss-listen: ws://HOST:PORT/mqtt, subprotocol "mqtt"), on the STOMP
listeners' TLS and WebSocket layers (docs/mqtt.md): mosquitto_pub and
mosquitto_sub with --cafile, Paho over TLS and over WebSocket (plain and
TLS), a raw WebSocket handshake for what the listener accepts. Every test
runs with 1 and 2 shards."""
from __future__ import annotations

import ssl
import subprocess
import time

import pytest

from support import WAIT, py_connect, unique
from mgmt import Api
from transport_support import Certs, RawWs
from mqtt_support import Paho, mosquitto_pub, mqtt, mqtt_ports, start_mosquitto_sub
from test_metrics import scrape, value


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return Certs(tmp_path_factory.mktemp("mqtt-certs"))


@pytest.fixture
def mq(broker_factory, certs):
    b = broker_factory(mqtt_listen="127.0.0.1:0", mqtt_tls_listen="127.0.0.1:0", mqtt_ws_listen="127.0.0.1:0",
                       mqtt_wss_listen="127.0.0.1:0", ws_listen="127.0.0.1:0", wss_listen="127.0.0.1:0",
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
    # The STOMP WebSocket listener's ws-path stays STOMP's (MQTT is at /mqtt there).
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


# ------------------------------------------------------------------ MQTT on the STOMP WebSocket listeners

def mqtt_connections(api: Api) -> dict[str, dict]:
    return {c["client_properties"]["client_id"]: c for c in api.get("/api/connections")
            if (c.get("protocol") or "").startswith("MQTT")}


@pytest.mark.parametrize("version", [mqtt.MQTTv311, mqtt.MQTTv5])
@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
def test_mqtt_at_slash_mqtt_on_the_stomp_websocket_listener(mq, certs, version, tls):
    """ws://HOST:PORT/mqtt and wss://HOST:PORT/mqtt on the STOMP WebSocket
    listeners (ws-listen, wss-listen) speak MQTT (subprotocol mqtt), as
    ActiveMQ serves both on one port: Paho there meets MQTT over TCP and a
    STOMP client; ws-path (/ws) on the same port stays STOMP."""
    b, ports = mq
    port = b.wss_port if tls else b.ws_port
    ctx = client_tls(certs) if tls else None
    topic = unique("sws") + "/a"
    ws = Paho(port, version=version, transport="websockets", tls=ctx, keepalive=30, expect_rc=0)
    assert ws.subscribe(topic + "/+", 1) == [1]
    tcp = Paho(ports["MQTT"], version=version, keepalive=30, expect_rc=0)
    tcp.subscribe(topic, 1)
    tcp.publish(topic + "/b", b"from-tcp", 1)
    m = ws.get()
    assert (m.topic, m.payload, m.qos) == (topic + "/b", b"from-tcp", 1)
    ws.publish(topic, b"from-stomp-port", 1)
    assert tcp.get().payload == b"from-stomp-port"
    # STOMP on the same listener at ws-path, and a STOMP SEND reaching the
    # MQTT client there.
    assert RawWs(port, path="/ws", ssl_context=ctx).protocol == "v12.stomp"
    stomp, _ = py_connect(b.port)
    stomp.send("/topic/%s.c" % topic.replace("/", "."), "from-stomp", headers={"receipt": "r1"})
    m = ws.get()
    assert (m.topic, m.payload) == (topic + "/c", b"from-stomp")
    stomp.disconnect()
    for c in (ws, tcp):
        c.close()


def test_slash_mqtt_on_the_stomp_listener_wants_the_mqtt_subprotocol(mq):
    b, _ = mq
    ok = RawWs(b.ws_port, path="/mqtt", protocols="mqtt")
    assert ok.status == 101 and ok.protocol == "mqtt"
    assert RawWs(b.ws_port, path="/mqtt", protocols="v12.stomp").status == 400
    assert RawWs(b.ws_port, path="/other", protocols="mqtt").status == 404
    assert RawWs(b.ws_port, path="/ws").protocol == "v12.stomp"


def test_no_mqtt_on_the_stomp_websocket_listener_while_mqtt_is_off(broker_factory):
    b = broker_factory(ws_listen="127.0.0.1:0")
    assert RawWs(b.ws_port, path="/mqtt", protocols="mqtt").status == 404
    assert RawWs(b.ws_port, path="/ws").status == 101


def test_mqtt_on_the_stomp_websocket_listener_in_the_api(mq):
    """Listed with the other MQTT connections (protocol, client id), and
    DELETE closes that one (MQTT 5: DISCONNECT 0x98), not another."""
    b, ports = mq
    api = Api(b)
    victim = Paho(b.ws_port, version=mqtt.MQTTv5, transport="websockets", keepalive=30, expect_rc=0)
    # The MQTT listener's connections are numbered apart: one with the same
    # number must survive.
    others = [Paho(ports["MQTT"], version=mqtt.MQTTv5, keepalive=30, expect_rc=0) for _ in range(3)]
    deadline = time.monotonic() + WAIT
    while victim.client_id not in mqtt_connections(api):
        assert time.monotonic() < deadline, "not listed"
        time.sleep(0.1)
    conn = mqtt_connections(api)[victim.client_id]
    assert conn["protocol"] == "MQTT 5.0"
    api.call("DELETE", "/api/connections/" + conn["id"], expect=204)
    assert victim.gone.get(timeout=WAIT) == 0x98
    listed = mqtt_connections(api)
    for o in others:
        assert o.client_id in listed
        o.close()
    victim.client.loop_stop()


def test_mqtt_on_the_stomp_websocket_listener_counts_as_mqtt(mq):
    """/metrics' ferry_connections_by_protocol counts an MQTT client at
    /mqtt on the STOMP WebSocket listener as MQTT, not STOMP (it was listed
    as MQTT but counted as STOMP); the total counts every connection once,
    and after it closes it is nowhere."""
    b, _ = mq
    on_ws = Paho(b.ws_port, version=mqtt.MQTTv5, transport="websockets", keepalive=30, expect_rc=0)
    stomp, _ = py_connect(b.port)
    deadline = time.monotonic() + WAIT
    while True:
        f = scrape(b)
        if value(f, "ferry_connections") == 2:
            break
        assert time.monotonic() < deadline, "not counted: %r" % [
            (s.name, s.labels, s.value) for k, m in f.items() if "connections" in k for s in m.samples]
        time.sleep(0.05)
    assert value(f, "ferry_connections_by_protocol", protocol="mqtt") == 1
    assert value(f, "ferry_connections_by_protocol", protocol="stomp") == 1
    on_ws.close()
    deadline = time.monotonic() + WAIT
    while value(scrape(b), "ferry_connections") != 1:
        assert time.monotonic() < deadline, "still counted after the close"
        time.sleep(0.05)
    f = scrape(b)
    assert value(f, "ferry_connections_by_protocol", protocol="mqtt") == 0
    assert value(f, "ferry_connections_by_protocol", protocol="stomp") == 1
    stomp.disconnect()


def test_mqtts_listen_is_mqtt_tls_listen(broker_factory, certs):
    """mqtts-listen, the spelling of the mqtts:// scheme, is the same
    listener as mqtt-tls-listen."""
    b = broker_factory(mqtts_listen="127.0.0.1:0", **certs.server_opts())
    ports = mqtt_ports(b)
    assert list(ports) == ["MQTT/TLS"], b.tail(30)
    topic = unique("mqtts") + "/t"
    sub = start_mosquitto_sub(ports["MQTT/TLS"], "mqttv5", topic, count=1, cafile=certs.ca)
    mosquitto_pub(ports["MQTT/TLS"], "mqttv311", topic, "over-mqtts", cafile=certs.ca)
    out, _ = sub.communicate(timeout=30)
    assert topic + " over-mqtts" in out.splitlines(), out
