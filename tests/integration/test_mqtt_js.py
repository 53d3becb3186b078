"""The npm `mqtt` client (MQTT.js, tests/js/mqtt_client.mjs) against Ferry
(docs/mqtt.md): MQTT 3.1.1 and 5, over TCP (mqtt-listen) and WebSocket
(ws://HOST:PORT/mqtt on mqtt-ws-listen, and on the STOMP WebSocket
listener), publishing to and receiving from a stomp.py client on the same
topic. Installed from tests/js's lock file as the other Node clients are
(tests/js/setup.sh)."""
from __future__ import annotations

import pytest

from support import WAIT, py_connect, unique
from transport_support import NodeClient
from mqtt_support import mqtt_ports


@pytest.fixture
def mq(broker_factory):
    b = broker_factory(mqtt_listen="127.0.0.1:0", mqtt_ws_listen="127.0.0.1:0", ws_listen="127.0.0.1:0")
    return b, mqtt_ports(b)


def url_of(b, ports: dict, transport: str) -> str:
    if transport == "tcp":
        return "mqtt://127.0.0.1:%d" % ports["MQTT"]
    if transport == "ws":
        return "ws://127.0.0.1:%d/mqtt" % ports["MQTT/WebSocket"]
    return "ws://127.0.0.1:%d/mqtt" % b.ws_port  # the STOMP WebSocket listener serves /mqtt too


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize("transport", ["tcp", "ws", "stomp-ws"])
def test_mqtt_js_and_stomp_on_the_same_topics(mq, transport, version):
    b, ports = mq
    base = unique("js")
    conn, lst = py_connect(b.port)
    conn.subscribe("/topic/%s.from-mqtt" % base, id="s1")
    node = NodeClient("mqtt_client.mjs", url=url_of(b, ports, transport), version=version,
                      client_id=unique("mqttjs"), subscribe=base + "/from-stomp/#", qos=1, expect=1,
                      publish=[{"topic": base + "/from-mqtt", "payload": "hello from MQTT.js", "qos": 1,
                                "user_properties": {"x-color": "blue"}}])
    try:
        assert node.wait_event("subscribed")["granted"] == [1]
        # MQTT.js -> STOMP: topic a/b is /topic/a.b; MQTT 5 user properties are headers.
        f = lst.get(WAIT)
        assert f.body == "hello from MQTT.js"
        assert f.headers["x-mqtt-publish-qos"] == "1"
        if version == 5:
            assert f.headers.get("x-color") == "blue"
        # STOMP -> MQTT.js, through its wildcard subscription.
        conn.send("/topic/%s.from-stomp.room1" % base, "hello from STOMP", headers={"x-shape": "round"})
        m = node.wait_event("message")
        assert (m["topic"], m["payload"]) == (base + "/from-stomp/room1", "hello from STOMP")
        assert m["qos"] == 1  # the subscription's granted QoS
        if version == 5:
            assert m["user_properties"].get("x-shape") == "round"
        node.wait_event("done")
        assert node.finish() == 0, node.stderr()
    finally:
        node.kill()
        conn.disconnect()


@pytest.mark.parametrize("version", [4, 5])
def test_mqtt_js_qos2_between_two_clients(mq, version):
    """QoS 2 both ways between two MQTT.js clients, one over TCP and one over
    WebSocket: the message arrives once, at QoS 2."""
    b, ports = mq
    topic = unique("js2") + "/q2"
    sub = NodeClient("mqtt_client.mjs", url=url_of(b, ports, "ws"), version=version, client_id=unique("sub"),
                     subscribe=topic, qos=2, expect=1)
    try:
        assert sub.wait_event("subscribed")["granted"] == [2]
        pub = NodeClient("mqtt_client.mjs", url=url_of(b, ports, "tcp"), version=version, client_id=unique("pub"),
                         publish=[{"topic": topic, "payload": "exactly once", "qos": 2}])
        assert pub.finish() == 0, pub.stderr()
        m = sub.wait_event("message")
        assert (m["payload"], m["qos"]) == ("exactly once", 2)
        sub.wait_event("done")
        assert sub.finish() == 0, sub.stderr()
        assert len(sub.events("message")) == 1
    finally:
        sub.kill()
