"""Health endpoints: /healthz and /readyz (no credentials), RabbitMQ's health
checks with RabbitMQ's JSON (alarms, local-alarms, port-listener,
virtual-hosts, aliveness-test), and `ferry ping` / `ferry check`."""
from __future__ import annotations

import json

from mgmt import Api
from support import client, run_ferry, unique


def test_healthz_and_readyz_need_no_credentials(broker):
    api = Api(broker, auth=None)
    status, _, body = api.raw("GET", "/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    status, _, body = api.raw("GET", "/readyz")
    assert status == 200, body
    ready = json.loads(body)
    assert ready["status"] == "ready"
    assert "stomp 127.0.0.1:%d" % broker.port in ready["listeners"]
    # Everything else still needs them.
    status, _, _ = api.raw("GET", "/api/health/checks/alarms")
    assert status == 401


def test_rabbitmq_health_checks(broker):
    api = Api(broker)
    assert api.get("/api/health/checks/alarms") == {"status": "ok"}
    assert api.get("/api/health/checks/local-alarms") == {"status": "ok"}
    assert api.get("/api/health/checks/virtual-hosts") == {"status": "ok"}
    assert api.get("/api/health/checks/port-listener/%d" % broker.port) == {"status": "ok", "port": broker.port}
    free = api.get("/api/health/checks/port-listener/1", expect=503)
    assert free["status"] == "failed" and free["missing"] == 1 and broker.port in free["ports"], free
    api.get("/api/health/checks/port-listener/notaport", expect=400)
    assert api.get("/api/aliveness-test/%2F") == {"status": "ok"}
    # The aliveness test leaves nothing behind.
    q = api.get("/api/queues/%2F/aliveness-test", expect=(200, 404))
    assert q is None or q.get("depth", 0) == 0


def test_memory_alarm_fails_the_alarm_checks(broker_factory):
    b = broker_factory(memory_limit="64KiB", memory_policy="reject")
    api = Api(b)
    assert api.get("/api/health/checks/alarms") == {"status": "ok"}
    c = client(b.port)
    q = "/queue/" + unique("fill")
    refused = None
    for i in range(200):
        c.send_frame("SEND", [("destination", q), ("persistent", "false"), ("receipt", "r%d" % i)], "x" * 2048)
        f = c.read_frame()
        if f.command == "ERROR":
            refused = f
            break
    assert refused is not None, "never refused past memory-limit"
    failed = api.get("/api/health/checks/alarms", expect=503)
    assert failed["status"] == "failed", failed
    assert {"resource": "memory"}.items() <= failed["alarms"][0].items(), failed
    api.get("/api/health/checks/local-alarms", expect=503)
    # Drained: the alarm clears.
    api.call("DELETE", Api.q(q[len("/queue/"):]) + "/contents", expect=(200, 204))
    assert api.get("/api/health/checks/alarms") == {"status": "ok"}


def test_ferry_ping_and_check(broker):
    http = "127.0.0.1:%d" % broker.http_port
    p = run_ferry("ping", "--http", http)
    assert p.returncode == 0 and "pong" in p.stdout.decode(), p.stderr
    p = run_ferry("check", "--http", http)
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout.decode()
    assert "ready" in out and "alarms: none" in out, out
    p = run_ferry("ping", "--http", "127.0.0.1:1")
    assert p.returncode == 1


def test_ferry_check_fails_on_an_alarm(broker_factory):
    b = broker_factory(memory_limit="64KiB", memory_policy="reject")
    c = client(b.port)
    q = "/queue/" + unique("fill")
    for i in range(200):
        c.send_frame("SEND", [("destination", q), ("persistent", "false"), ("receipt", "r%d" % i)], "x" * 2048)
        if c.read_frame().command == "ERROR":
            break
    p = run_ferry("check", "--http", "127.0.0.1:%d" % b.http_port)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "memory" in p.stdout.decode() + p.stderr.decode()
