"""MQTT connections as operators see them (docs/mqtt.md, docs/management.md):
/api/connections lists them with RabbitMQ's fields (protocol "MQTT 3.1.1" /
"MQTT 5.0", user, vhost, client_properties.client_id), DELETE closes one
(MQTT 5: DISCONNECT 0x98 Administrative action), /metrics counts them by
protocol, a persistent session's queue names its consumer's connection,
and the console's connections page shows them. Paho clients. Every test
runs with 1 and 2 shards."""
from __future__ import annotations

import time

import pytest

from console_ui import ConsoleUI, setup_browser_packages  # noqa: F401 (the fixtures below)
from mgmt import Api
from support import WAIT, py_connect, unique
from test_console import browser_packages, console_as  # noqa: F401 (fixtures)
from test_metrics import scrape, value
from mqtt_support import Paho, mqtt


def mqtt_connections(api: Api) -> dict[str, dict]:
    """The MQTT connections of /api/connections by client id."""
    out = {}
    for c in api.get("/api/connections"):
        if (c.get("protocol") or "").startswith("MQTT"):
            out[c["client_properties"]["client_id"]] = c
    return out


def wait_for(what, pred, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def test_connections_api_lists_mqtt_beside_stomp(mq):
    b, port = mq
    api = Api(b)
    v3 = Paho(port, mqtt.MQTTv311, keepalive=30, expect_rc=0)
    v5 = Paho(port, mqtt.MQTTv5, keepalive=30, expect_rc=0)
    stomp, _ = py_connect(b.port)
    conns = wait_for("both MQTT connections", lambda: (lambda m: m if len(m) == 2 else None)(mqtt_connections(api)))
    assert conns[v3.client_id]["protocol"] == "MQTT 3.1.1"
    assert conns[v5.client_id]["protocol"] == "MQTT 5.0"
    for c in conns.values():
        assert c["user"] == "guest" and c["vhost"] == "/" and c["transport"] == "tcp"
        assert c["peer_host"] == "127.0.0.1" and c["port"] == port
        # GET of one connection by its id
        one = api.get("/api/connections/" + c["id"])
        assert one["client_properties"] == {"client_id": c["client_properties"]["client_id"]}
    ids = [c["id"] for c in api.get("/api/connections")]
    assert len(ids) == len(set(ids)) == 3, ids  # MQTT and STOMP ids never collide
    stomp_rows = [c for c in api.get("/api/connections") if c["protocol"].startswith("STOMP")]
    assert len(stomp_rows) == 1
    f = scrape(b)
    assert value(f, "ferry_connections_by_protocol", protocol="mqtt") == 2
    assert value(f, "ferry_connections_by_protocol", protocol="stomp") == 1
    assert value(f, "ferry_connections") == 3
    assert api.get("/api/overview")["object_totals"]["connections"] == 3
    stomp.disconnect()
    v3.close()
    v5.close()


@pytest.mark.parametrize("version", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_delete_closes_an_mqtt_connection(mq, version):
    b, port = mq
    api = Api(b)
    victim = Paho(port, version, keepalive=30, expect_rc=0)
    other = Paho(port, version, keepalive=30, expect_rc=0)
    stomp, lst = py_connect(b.port)
    conn = wait_for("the connection", lambda: mqtt_connections(api).get(victim.client_id))
    api.call("DELETE", "/api/connections/" + conn["id"], expect=204)
    rc = victim.gone.get(timeout=WAIT)
    if version == mqtt.MQTTv5:
        assert rc == 0x98, rc  # Administrative action
    else:
        assert rc != 0
    wait_for("the connection to go", lambda: victim.client_id not in mqtt_connections(api))
    # the others stay
    assert other.client_id in mqtt_connections(api)
    assert stomp.is_connected()
    api.call("DELETE", "/api/connections/" + conn["id"], expect=404)
    stomp.disconnect()
    other.close()
    victim.client.loop_stop()


def test_session_queue_names_its_mqtt_consumer(mq):
    b, port = mq
    api = Api(b)
    c = Paho(port, mqtt.MQTTv311, clean=False, keepalive=30, expect_rc=0)
    c.subscribe(unique("op") + "/t", 1)
    qname = "mqtt-subscription-%sqos1" % c.client_id
    conn = wait_for("the connection", lambda: mqtt_connections(api).get(c.client_id))
    details = wait_for("consumer details", lambda: api.queue(qname).get("consumer_details"))
    assert details[0]["channel_details"]["connection_name"] == conn["name"], (details, conn)
    c.close()


def test_console_shows_mqtt_connections(mq, console_as):
    b, port = mq
    c = Paho(port, mqtt.MQTTv5, keepalive=30, expect_rc=0)
    addr = "127.0.0.1:%d" % c.client.socket().getsockname()[1]
    ui = console_as(b, "guest", "guest")
    ui.click("[data-testid=nav-connections]")
    sel = '[data-testid=connection-row][data-client="%s"]' % addr
    ui.wait(sel)
    assert "MQTT 5.0" in ui.text(sel)
    ui.shot("connections-mqtt")
    c.close()
