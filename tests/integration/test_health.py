"""Health endpoints: /healthz and /readyz (no credentials), RabbitMQ's health
checks with RabbitMQ's JSON (alarms, local-alarms, port-listener,
virtual-hosts, aliveness-test), and `ferry ping` / `ferry check`."""
from __future__ import annotations

import json

from mgmt import Api
from support import client, run_ferry, unique
from test_persistence import work, work_root  # noqa: F401 (fixtures)


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


def test_readyz_says_recovering_during_a_slow_recovery(broker_factory, work):
    """The management port answers while the journal is replayed: /healthz
    200, /readyz 503 "recovering" with the progress, the API 503; then ready
    and everything recovered. The disk is made slow (faultfs "slow-read")."""
    import re
    import subprocess
    import threading
    import time
    import urllib.request
    from support import end_broker, ferry_bin
    from test_disk_faults import faultfs_env
    from test_persistence import data_dir

    ddir = data_dir(work)
    control = work / "faultfs.ctl"
    control.write_text("")
    env = faultfs_env(ddir, control)
    b = broker_factory(data_dir=ddir, segment_size="64KiB", env=env)
    q = "/queue/" + unique("recover")
    c = client(b.port)
    for i in range(300):
        c.send(q, "%04d" % i + "x" * 2000, [("persistent", "true")], receipt=(i % 50 == 49))
    c.close()
    end_broker(b, "kill")
    control.write_text("slow-read 100\n")
    proc = subprocess.Popen([ferry_bin(), "serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                             "--data-dir", ddir, "--segment-size", "64KiB", "--shards", "1"],
                            env=dict(__import__("os").environ, **env), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines, http_port, stomp_port = [], [], []

    def read():
        for line in proc.stderr:
            lines.append(line)
            m = re.search(r"health checks answered on 127\.0\.0\.1:(\d+) during recovery", line)
            if m:
                http_port.append(int(m.group(1)))
            m = re.search(r"listening on 127\.0\.0\.1:(\d+) \(STOMP\)", line)
            if m:
                stomp_port.append(int(m.group(1)))

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + 20
        while not http_port:
            assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
            time.sleep(0.01)
        base = "http://127.0.0.1:%d" % http_port[0]

        def get(path):
            try:
                with urllib.request.urlopen(base + path, timeout=5) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        seen = []
        while True:
            status, body = get("/readyz")
            seen.append((status, body))
            if status == 200:
                break
            assert status == 503 and body["status"] == "recovering", body
            assert 0 <= body["progress"] <= 1, body
            assert get("/healthz") == (200, {"status": "ok"})
            assert get("/api/overview")[0] in (503, 401)
            assert time.monotonic() < deadline + 40, "never ready: %r" % seen[-3:]
            time.sleep(0.02)
        recovering = [b for s, b in seen if s == 503]
        assert recovering, "recovery was never seen (too fast?): %r" % seen
        control.write_text("")
        while not stomp_port:
            time.sleep(0.01)
        c = client(stomp_port[0])
        c.subscribe(q, "all", headers={"prefetch-count": "1000"})
        got = len(c.read_messages(300, timeout=30))
        c.close()
        assert got == 300
    finally:
        proc.terminate()
        assert proc.wait(20) == 0, "".join(lines[-20:])
