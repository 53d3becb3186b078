"""`ferry queues`, `ferry purge`, `ferry move`, ... : the admin subcommands,
run as the real binary against a real broker's management API."""
from __future__ import annotations

import json
import time

from mgmt import Api
from support import QUIET, client, run_ferry, unique


def admin(broker, *args):
    return run_ferry(*args, "--http", "127.0.0.1:%d" % broker.http_port)


def out(p) -> str:
    return p.stdout.decode()


def test_queues_table_and_json(broker):
    name = unique()
    c = client(broker.port)
    for i in range(3):
        c.send("/queue/" + name, "m%d" % i)
    p = admin(broker, "queues")
    assert p.returncode == 0, p.stderr
    lines = out(p).splitlines()
    assert lines[0].split()[:4] == ["vhost", "name", "ready", "unacked"]
    row = [l for l in lines if name in l]
    assert row and row[0].split()[:4] == ["/", name, "3", "0"]
    p = admin(broker, "queues", "--json")
    assert p.returncode == 0
    data = {q["name"]: q for q in json.loads(p.stdout)}
    assert data[name]["ready"] == 3
    c.close()


def test_overview_topics_connections_subscriptions(broker):
    c = client(broker.port, extra={"login": "guest", "passcode": "guest"})
    t = unique("t")
    c.subscribe("/topic/" + t, "sub-1")
    p = admin(broker, "overview")
    assert p.returncode == 0 and "connections 1" in out(p)
    p = admin(broker, "topics")
    assert p.returncode == 0 and t in out(p)
    p = admin(broker, "connections")
    assert p.returncode == 0 and "guest" in out(p) and "STOMP 1.2" in out(p)
    p = admin(broker, "subscriptions", "--json")
    subs = json.loads(p.stdout)
    assert [s["id"] for s in subs] == ["sub-1"]
    p = admin(broker, "subscriptions")
    assert "sub-1" in out(p) and "/topic/" + t in out(p)
    c.close()


def test_subscriptions_show_an_away_durable_subscribers_backlog(broker):
    """Issue 16 item 6: the messages waiting for a durable subscription whose
    client is away are a column of `ferry subscriptions` (not only the
    API's raw JSON)."""
    t = unique("t")
    c = client(broker.port, extra={"client-id": "app1"})
    c.subscribe("/topic/" + t, "ts", headers={"activemq.subscriptionName": "dur"})
    c.close()
    api = Api(broker)

    def away():
        return [s for s in api.get("/api/subscriptions") if s["name"] == "app1:dur" and s["connection"] is None]
    deadline = time.monotonic() + 10
    while not away():
        assert time.monotonic() < deadline, "the subscription stayed attached"
        time.sleep(0.05)
    p = client(broker.port)
    for i in range(3):
        p.send("/topic/" + t, "m%d" % i)
    p.close()
    r = admin(broker, "subscriptions")
    assert r.returncode == 0, r.stderr
    lines = out(r).splitlines()
    header = lines[0].split()
    assert "backlog" in header, lines[0]
    rows = [l.split() for l in lines[1:] if "app1:dur" in l]
    assert len(rows) == 1, out(r)
    assert rows[0][header.index("backlog")] == "3", out(r)
    assert rows[0][header.index("connection")] == "-"


def test_purge_move_create_delete(broker_factory):
    b = broker_factory(max_deliveries=1)
    api = Api(b)
    name = unique()
    p = admin(b, "create-queue", name)
    assert p.returncode == 0 and "created /queue/" + name in out(p)
    p = admin(b, "create-queue", "/queue/" + name)
    assert p.returncode == 0 and "already exists" in out(p)
    c = client(b.port)
    for i in range(4):
        c.send("/queue/" + name, "m%d" % i)
    p = admin(b, "move", name, "other-" + name, "--count", "1")
    assert p.returncode == 0 and "moved 1 messages" in out(p), p.stderr
    p = admin(b, "purge", name)
    assert p.returncode == 0 and "purged 3 messages" in out(p)
    p = admin(b, "browse", "other-" + name)
    assert p.returncode == 0 and "m0" in out(p)
    p = admin(b, "delete-queue", name)
    assert p.returncode == 0
    assert api.raw("GET", Api.q(name))[0] == 404
    p = admin(b, "delete-queue", name)
    assert p.returncode == 1 and "HTTP 404" in p.stderr.decode()
    c.close()


def test_close_connection(broker):
    c = client(broker.port)
    conn = Api(broker).get("/api/connections")[0]["id"]
    p = admin(broker, "close-connection", conn)
    assert p.returncode == 0, p.stderr
    err = c.expect_error_frame()
    assert err["message"] == "closed by administrator"


def test_wrong_credentials_and_unreachable(broker):
    p = run_ferry("queues", "--http", "127.0.0.1:%d" % broker.http_port, "--password", "nope")
    assert p.returncode == 1 and "HTTP 401" in p.stderr.decode()
    p = run_ferry("queues", "--http", "127.0.0.1:1")
    assert p.returncode == 1 and "cannot reach the management API" in p.stderr.decode()


def test_users_vhosts_permissions_over_the_api(broker_factory, tmp_path):
    path = str(tmp_path / "users.toml")
    for args in (("vhost", "add", "shop"),
                 ("user", "add", "ops", "--password", "pw", "--tags", "administrator,monitoring",
                  "--iterations", "1000"),
                 ("user", "add", "watch", "--password", "pw", "--tags", "monitoring", "--iterations", "1000"),
                 ("user", "set-permissions", "ops", "--vhost", "shop", "--configure", "^/queue/a",
                  "--write", ".*", "--read", "")):
        r = run_ferry(*args, "--users-file", path)
        assert r.returncode == 0, r.stderr
    b = broker_factory(users_file=path)
    login = ("--user", "ops", "--password", "pw")
    p = admin(b, "users", *login)
    assert p.returncode == 0, p.stderr
    rows = [l.split() for l in out(p).splitlines()]
    assert rows[0] == ["name", "tags"] and ["ops", "administrator,monitoring"] in rows and ["watch", "monitoring"] in rows
    p = admin(b, "vhosts", *login)
    assert [l.strip() for l in out(p).splitlines()] == ["name", "/", "shop"]
    p = admin(b, "permissions", *login, "--json")
    assert {"user": "ops", "vhost": "shop", "configure": "^/queue/a", "write": ".*", "read": ""} in json.loads(p.stdout)
    # monitoring may list vhosts but not users: exit 1 with the API's reason.
    assert admin(b, "vhosts", "--user", "watch", "--password", "pw").returncode == 0
    p = admin(b, "users", "--user", "watch", "--password", "pw")
    assert p.returncode == 1 and "administrator" in p.stderr.decode() and "HTTP 403" in p.stderr.decode()
