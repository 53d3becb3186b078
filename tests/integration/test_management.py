"""The management HTTP API (docs/management.md): every endpoint against the
real broker, with real STOMP clients making the state the API reports."""
from __future__ import annotations

import base64
import json
import socket
import time
import urllib.parse

import pytest

from mgmt import Api
from support import Broker, QUIET, WAIT, client, restart, run_ferry, unique


def wait_for(fn, what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


# ---------------------------------------------------------------- listener, auth


def test_http_listener_logged_with_its_own_port(broker):
    assert broker.http_port and broker.http_port != broker.port
    assert any("(HTTP)" in l and str(broker.http_port) in l for l in broker.lines)


def test_http_listen_empty_disables_it(broker_factory):
    b = broker_factory(http_listen="")
    assert b.http_port is None
    assert not any("(HTTP)" in l for l in b.lines)
    c = client(b.port)  # STOMP still serves
    c.close()


def test_requests_without_credentials_get_401(broker):
    api = Api(broker, auth=None)
    status, headers, body = api.raw("GET", "/api/overview")
    assert status == 401
    assert headers["www-authenticate"].startswith("Basic")
    assert json.loads(body)["error"] == "not_authorised"


def test_wrong_password_gets_401(broker):
    api = Api(broker, auth=("guest", "nope"))
    assert api.raw("GET", "/api/queues")[0] == 401
    api = Api(broker, auth=("admin", "guest"))
    assert api.raw("GET", "/api/queues")[0] == 401
    # A malformed Authorization header is a failed login, not a crash.
    status, _, _ = Api(broker, auth=None).raw("GET", "/api/queues", headers={"Authorization": "Basic %%%"})
    assert status == 401


def test_api_users_come_from_the_users_file_and_need_a_management_tag(broker_factory, tmp_path):
    """HTTP Basic checks the broker's users: an administrator/management/
    monitoring user gets in, a user without such a tag does not, a wrong
    password never does (also right after a good one, which is remembered)."""
    path = str(tmp_path / "users.toml")
    for args in (("user", "add", "ops", "--password", "s3cret", "--tags", "administrator"),
                 ("user", "add", "watch", "--password", "eyes", "--tags", "monitoring"),
                 ("user", "add", "app", "--password", "pw")):
        r = run_ferry(*args, "--iterations", "1000", "--users-file", path)
        assert r.returncode == 0, r.stderr
    b = broker_factory(users_file=path)
    assert Api(b, auth=("ops", "s3cret")).raw("GET", "/api/overview")[0] == 200
    assert Api(b, auth=("ops", "s3cret")).raw("GET", "/api/queues")[0] == 200  # remembered
    assert Api(b, auth=("ops", "wrong")).raw("GET", "/api/queues")[0] == 401
    assert Api(b, auth=("watch", "eyes")).raw("GET", "/api/queues")[0] == 200
    assert Api(b, auth=("app", "pw")).raw("GET", "/api/queues")[0] == 401
    assert Api(b, auth=("nobody", "pw")).raw("GET", "/api/queues")[0] == 401


def test_metrics_and_console_need_no_credentials(broker):
    api = Api(broker, auth=None)
    status, headers, body = api.raw("GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    status, headers, body = api.raw("GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"Ferry" in body


def test_unknown_path_404_wrong_method_405(broker):
    api = Api(broker)
    status, _, body = api.raw("GET", "/api/nothing-here")
    assert status == 404 and json.loads(body)["error"] == "not_found"
    status, headers, body = api.raw("POST", "/api/overview", body="{}")
    assert status == 405 and "GET" in headers["allow"]
    assert json.loads(body)["error"] == "method_not_allowed"


# ---------------------------------------------------------------- overview


def test_overview(broker):
    api = Api(broker)
    c = client(broker.port)
    q = "/queue/" + unique()
    for i in range(3):
        c.send(q, "m%d" % i)
    o = api.get("/api/overview")
    assert o["version"] and o["node"].startswith("ferry@")
    assert o["shards"] == broker.shards
    assert o["uptime_ms"] >= 0
    assert o["connections"] == 1
    assert o["queues"] >= 1
    assert o["messages"]["ready"] == 3 and o["messages"]["total"] == 3
    assert o["totals"]["publish"] == 3
    assert set(o["rates"]) == {"publish", "deliver", "ack", "redeliver"}
    assert o["memory"]["rss_bytes"] > 0 and o["memory"]["queued_bytes"] > 0
    assert o["memory"]["limit_bytes"] == 1 << 30
    assert o["disk"]["journal_bytes"] > 0 and o["disk"]["free_bytes"] > 0
    listeners = {l["protocol"]: l["address"] for l in o["listeners"]}
    assert listeners["stomp"] == "127.0.0.1:%d" % broker.port
    assert listeners["http"] == "127.0.0.1:%d" % broker.http_port
    # Consuming shows up in the totals.
    c.subscribe(q, "s", ack="client-individual")
    msgs = c.read_messages(3)
    for m in msgs:
        c.ack(m)
    o = api.get("/api/overview")
    assert o["totals"]["deliver"] == 3 and o["totals"]["ack"] == 3
    assert o["messages"]["total"] == 0 and o["consumers"] == 1
    c.close()


def test_rates_are_per_second_over_recent_seconds(broker):
    api = Api(broker)
    c = client(broker.port)
    q = "/queue/" + unique()
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        c.send(q, "x", receipt=False)
        time.sleep(0.01)
    c.send(q, "last")  # receipt: every send before it has been accepted
    def rates():
        o = api.get("/api/overview")
        qs = api.queue(q[len("/queue/"):])
        return o["rates"]["publish"] > 0 and qs["rates"]["in"] > 0 and (o, qs)
    o, qs = wait_for(rates, "non-zero publish rates")
    assert qs["rates"]["out"] == 0
    c.close()


def test_overview_history_has_rabbitmq_samples(broker):
    """?msg_rates_age/incr and ?lengths_age/incr add RabbitMQ's samples
    (cumulative counters for message_stats, lengths for queue_totals),
    newest first on the increment's boundaries, from the broker's own
    history: a client that opens later still sees the past."""
    api = Api(broker)
    c = client(broker.port)
    q = "/queue/" + unique()
    for i in range(3):
        c.send(q, "m%d" % i)
    c.close()
    path = "/api/overview?msg_rates_age=600&msg_rates_incr=5&lengths_age=600&lengths_incr=5"

    def sampled():
        o = api.get(path)
        s = o["message_stats"]["publish_details"]["samples"]
        return s and s[0]["sample"] >= 3 and o
    o = wait_for(sampled, "a history sample with the 3 messages", timeout=WAIT + 10)
    for details in ("publish_details", "deliver_get_details", "ack_details", "redeliver_details"):
        d = o["message_stats"][details]
        assert {"rate", "samples", "avg", "avg_rate"} <= set(d), (details, d)
        stamps = [x["timestamp"] for x in d["samples"]]
        assert all(t % 5000 == 0 for t in stamps), stamps
        assert stamps == sorted(stamps, reverse=True)
        assert all(a - b == 5000 for a, b in zip(stamps, stamps[1:])), stamps
        assert abs(stamps[0] - time.time() * 1000) < 60000
        values = [x["sample"] for x in d["samples"]]
        assert values == sorted(values, reverse=True), (details, values)  # cumulative
    for details in ("messages_details", "messages_ready_details", "messages_unacknowledged_details"):
        d = o["queue_totals"][details]
        assert {"rate", "samples", "avg", "avg_rate"} <= set(d), (details, d)
    assert o["queue_totals"]["messages_ready_details"]["samples"][0]["sample"] >= 3
    assert o["queue_totals"]["messages_unacknowledged_details"]["samples"][0]["sample"] == 0
    # Only what is asked for: lengths without message rates, and no samples at all by default.
    o = api.get("/api/overview?lengths_age=60&lengths_incr=10")
    assert "samples" not in o["message_stats"]["publish_details"]
    assert all(x["timestamp"] % 10000 == 0 for x in o["queue_totals"]["messages_details"]["samples"])
    o = api.get("/api/overview")
    assert "samples" not in o["message_stats"]["publish_details"]
    assert "rate" in o["queue_totals"]["messages_details"]
    for bad in ("msg_rates_age=60", "msg_rates_age=60&msg_rates_incr=0", "lengths_age=x&lengths_incr=5"):
        status, _, body = api.raw("GET", "/api/overview?" + bad)
        assert status == 400 and json.loads(body)["error"] == "bad_request", (bad, body)


# ---------------------------------------------------------------- queues


def test_queue_list_and_show(broker):
    api = Api(broker)
    c = client(broker.port)
    name = unique()
    for i in range(4):
        c.send("/queue/" + name, "m%d" % i)
    q = api.queues()[name]
    assert q["vhost"] == "/" and q["destination"] == "/queue/" + name
    assert q["durable"] is True
    assert (q["depth"], q["ready"], q["unacked"], q["consumers"]) == (4, 4, 0, 0)
    assert q["enqueued"] == 4 and q["dequeued"] == 0
    for key in ("acked", "redelivered", "expired", "dead_lettered"):
        assert q[key] == 0
    assert set(q["rates"]) == {"in", "out"}
    # By vhost, and one queue.
    assert name in [x["name"] for x in api.get("/api/queues/%2F")]
    assert api.get("/api/queues/other-vhost") == []
    one = api.queue(name)
    assert one["ready"] == 4
    # Consumers and unacked messages.
    c.subscribe("/queue/" + name, "s", ack="client-individual", headers={"prefetch-count": "1"})
    m = c.read_message()
    one = api.queue(name)
    assert (one["ready"], one["unacked"], one["consumers"], one["dequeued"]) == (3, 1, 1, 1)
    c.nack(m)
    one = wait_for(lambda: (lambda x: x["redelivered"] >= 1 and x)(api.queue(name)), "a redelivery")
    assert one["redelivered"] == 1
    c.close()


def test_queue_lists_its_consumers_as_rabbitmq_does(broker):
    """consumer_details: each consumer with its connection (the name
    /api/connections gives it), its subscription id as consumer_tag, ack
    mode, prefetch and unacknowledged messages."""
    api = Api(broker)
    name = unique()
    producer = client(broker.port)
    for i in range(3):
        producer.send("/queue/" + name, "m%d" % i)
    assert api.queue(name)["consumer_details"] == []
    worker = client(broker.port)
    worker.subscribe("/queue/" + name, "worker-1", ack="client-individual", headers={"prefetch-count": "2"})
    worker.read_messages(2)
    watcher = client(broker.port)
    watcher.subscribe("/queue/" + name, "watch", ack="auto", headers={"activemq.exclusive": "true"})
    one = wait_for(lambda: (lambda x: len(x["consumer_details"]) == 2 and x)(api.queue(name)), "two consumers")
    by_tag = {c["consumer_tag"]: c for c in one["consumer_details"]}
    assert set(by_tag) == {"worker-1", "watch"}
    names = {c["name"] for c in api.get("/api/connections")}
    w = by_tag["worker-1"]
    assert w["ack_required"] is True and w["ack"] == "client-individual"
    assert w["prefetch_count"] == 2 and w["unacked"] == 2 and w["exclusive"] is False
    assert w["channel_details"]["connection_name"] in names
    assert w["channel_details"]["peer_host"] == "127.0.0.1"
    assert w["channel_details"]["user"] == "guest"
    assert w["queue"] == {"name": name, "vhost": "/"}
    x = by_tag["watch"]
    assert x["ack_required"] is False and x["exclusive"] is True
    assert x["channel_details"]["connection_name"] != w["channel_details"]["connection_name"]
    assert x["connection"] in [c["id"] for c in api.get("/api/connections")]
    worker.close()
    watcher.close()
    wait_for(lambda: api.queue(name)["consumer_details"] == [], "no consumers once they left")
    producer.close()


def test_unknown_queue_is_404(broker):
    api = Api(broker)
    status, _, body = api.raw("GET", Api.q(unique()))
    assert status == 404 and json.loads(body)["error"] == "not_found"
    for method, suffix in [("DELETE", ""), ("DELETE", "/contents"), ("GET", "/messages")]:
        assert api.raw(method, Api.q(unique()) + suffix)[0] == 404


def test_create_and_delete_queue(broker):
    api = Api(broker)
    name = unique()
    assert api.raw("PUT", Api.q(name))[0] == 201
    assert api.raw("PUT", Api.q(name))[0] == 204
    q = api.queue(name)
    assert q["depth"] == 0 and q["consumers"] == 0
    # An empty queue created through the API stays.
    time.sleep(0.5)
    assert api.queue(name)["depth"] == 0
    c = client(broker.port)
    c.send("/queue/" + name, "kept")
    assert api.raw("DELETE", Api.q(name))[0] == 204
    assert api.raw("DELETE", Api.q(name))[0] == 404
    assert api.raw("GET", Api.q(name))[0] == 404
    # Its message went with it.
    c.subscribe("/queue/" + name, "s")
    assert c.try_read_frame(QUIET) is None
    c.close()


def test_a_queue_made_by_traffic_stays_with_its_counters(broker):
    """Issue 16 item 5: a queue made by a SEND stays, empty and unused,
    with its counters, in the API and /metrics, until it is deleted (as in
    RabbitMQ and ActiveMQ); it used to vanish about 100 ms after it drained."""
    api = Api(broker)
    name = unique("kept")
    c = client(broker.port)
    for i in range(3):
        c.send("/queue/" + name, "m%d" % i)
    c.subscribe("/queue/" + name, "s")
    for _ in range(3):
        c.read_message()
    c.unsubscribe("s")
    c.close()
    time.sleep(1.5)  # several housekeeping ticks: it would have been dropped
    q = api.queue(name)
    assert q["messages"] == 0 and q["consumers"] == 0
    assert q["message_stats"]["publish"] == 3 and q["message_stats"]["deliver_get"] == 3, q
    metrics = api.raw("GET", "/metrics")[2].decode()
    assert 'queue="%s"' % name in metrics
    assert api.raw("DELETE", Api.q(name))[0] == 204
    assert api.raw("GET", Api.q(name))[0] == 404


def test_a_created_queue_survives_a_restart_until_deleted(broker_factory, tmp_path):
    """As a durable queue declared in RabbitMQ: a queue made through the API
    comes back after a restart (SIGTERM or kill -9), empty or with its
    persistent messages; once deleted it does not."""
    data = tmp_path / "data"
    data.mkdir()
    b = broker_factory(data_dir=str(data))
    api = Api(b)
    empty, full = unique("empty"), unique("full")
    assert api.raw("PUT", Api.q(empty))[0] == 201
    assert api.raw("PUT", Api.q(full))[0] == 201
    c = client(b.port)
    c.send("/queue/" + full, "kept", headers=[("persistent", "true")])
    c.close()
    b.kill()
    b.killed = True
    b = broker_factory(data_dir=str(data))
    api = Api(b)
    assert api.queue(empty)["depth"] == 0
    assert api.queue(full)["depth"] == 1
    assert api.raw("DELETE", Api.q(empty))[0] == 204
    assert b.stop() == 0
    b.killed = True
    b = broker_factory(data_dir=str(data))
    api = Api(b)
    assert api.raw("GET", Api.q(empty))[0] == 404
    assert api.queue(full)["depth"] == 1
    names = [e["name"] for e in json.loads((data / "declared-queues.json").read_text())]
    assert full in names and empty not in names


def test_a_queue_needs_an_existing_vhost(broker_factory, tmp_path):
    path = str(tmp_path / "users.toml")
    assert run_ferry("vhost", "add", "shop", "--users-file", path).returncode == 0
    b = broker_factory(users_file=path)
    api = Api(b)
    assert api.raw("PUT", "/api/queues/shop/" + unique())[0] == 201
    status, _, body = api.raw("PUT", "/api/queues/nowhere/" + unique())
    assert status == 404 and "nowhere" in json.loads(body)["reason"]


def test_delete_queue_with_consumers_is_refused(broker):
    api = Api(broker)
    name = unique()
    c = client(broker.port)
    c.subscribe("/queue/" + name, "s")
    status, _, body = api.raw("DELETE", Api.q(name))
    assert status == 409 and json.loads(body)["error"] == "in_use"
    c.send("/queue/" + name, "still works")
    assert c.read_message().body == b"still works"
    c.close()


def test_bad_queue_names(broker):
    api = Api(broker)
    status, _, _ = api.raw("PUT", "/api/queues/%2F/a%0Ab")
    assert status == 400
    status, _, _ = api.raw("GET", "/api/queues/%2F/bad%zz")
    assert status == 400


def test_purge_removes_waiting_messages_only(broker):
    api = Api(broker)
    name = unique()
    c = client(broker.port)
    for i in range(5):
        c.send("/queue/" + name, "m%d" % i)
    c.subscribe("/queue/" + name, "s", ack="client-individual", headers={"prefetch-count": "1"})
    held = c.read_message()
    assert api.call("DELETE", Api.q(name) + "/contents") == {"purged": 4}
    q = api.queue(name)
    assert (q["ready"], q["unacked"]) == (0, 1)
    # The held one is still the consumer's; nothing else arrives.
    c.ack(held)
    assert c.try_read_frame(QUIET) is None
    c.close()


def test_purge_survives_restart(broker_factory, tmp_path):
    b = broker_factory(data_dir=str(tmp_path / "data"))
    name = unique()
    c = client(b.port)
    for i in range(3):
        c.send("/queue/" + name, "m%d" % i)
    c.close()
    assert Api(b).call("DELETE", Api.q(name) + "/contents") == {"purged": 3}
    b2 = restart(broker_factory, b)
    # The queue stays (made by traffic: queues.log), empty: the purge holds.
    assert Api(b2).queue(name)["messages"] == 0
    d = client(b2.port)
    d.subscribe("/queue/" + name, "s")
    assert d.try_read_frame(QUIET) is None
    d.close()


def test_browse_does_not_consume(broker):
    api = Api(broker)
    name = unique()
    c = client(broker.port)
    c.send("/queue/" + name, "first", headers={"color": "red", "priority": "4"})
    c.send("/queue/" + name, b"\x00\x01\xffbinary")
    c.send("/queue/" + name, "third", headers={"persistent": "false"})
    msgs = api.get(Api.q(name) + "/messages?count=2")
    assert len(msgs) == 2
    a, b = msgs
    assert a["body"] == "first" and a["body_encoding"] == "utf8" and a["size"] == 5
    assert a["headers"]["color"] == "red"
    assert a["persistent"] is True and a["redelivered"] is False and a["priority"] == 4
    assert a["message_id"]
    assert b["body_encoding"] == "base64" and base64.b64decode(b["body"]) == b"\x00\x01\xffbinary"
    assert b["size"] == 9
    every = api.get(Api.q(name) + "/messages")
    assert [m["size"] for m in every] == [5, 9, 5]
    assert every[2]["persistent"] is False
    # Nothing was consumed.
    assert api.queue(name)["ready"] == 3
    c.subscribe("/queue/" + name, "s")
    assert [m.body for m in c.read_messages(3)] == [b"first", b"\x00\x01\xffbinary", b"third"]
    c.close()


def test_browse_count_is_bounded(broker):
    api = Api(broker)
    name = unique()
    c = client(broker.port)
    c.send("/queue/" + name, "x")
    for bad in ("0", "1001", "-1", "lots"):
        status, _, body = api.raw("GET", Api.q(name) + "/messages?count=" + bad)
        assert status == 400 and json.loads(body)["error"] == "bad_request", bad
    assert len(api.get(Api.q(name) + "/messages?count=1000")) == 1
    c.close()


def test_browse_reads_paged_out_messages(broker_factory):
    # A tiny memory limit pages persistent messages out to the journal; the
    # browser still sees their bodies.
    b = broker_factory(memory_limit="64KiB")
    api = Api(b)
    name = unique()
    c = client(b.port)
    body = "p" * 20000
    for i in range(8):
        c.send("/queue/" + name, "%d:%s" % (i, body))
    msgs = api.get(Api.q(name) + "/messages?count=8")
    assert [m["body"].split(":")[0] for m in msgs] == [str(i) for i in range(8)]
    assert all(m["size"] == len(body) + 2 for m in msgs)
    c.close()


def dead_letter(port: int, name: str, bodies: list[str]):
    """Sends `bodies` to /queue/name and NACKs each into DLQ.name
    (max-deliveries 1). Returns the consumer, still subscribed: an idle
    queue without consumers is dropped (with its counters)."""
    c = client(port)
    for body in bodies:
        c.send("/queue/" + name, body)
    c.subscribe("/queue/" + name, "s", ack="client-individual")
    for m in c.read_messages(len(bodies)):
        c.nack(m)
    return c


def test_move_from_dead_letter_queue_back(broker_factory):
    b = broker_factory(max_deliveries=1)
    api = Api(b)
    name = unique()
    nacker = dead_letter(b.port, name, ["a", "b", "c"])
    dlq = "DLQ." + name
    wait_for(lambda: api.raw("GET", Api.q(dlq))[0] == 200 and api.queue(dlq)["ready"] == 3, "3 dead letters")
    assert api.queue(name)["dead_lettered"] == 3
    nacker.close()
    assert api.call("POST", Api.q(dlq) + "/move", {"to": name, "count": 2}) == {"moved": 2}
    wait_for(lambda: api.queue(name)["ready"] == 2, "2 messages back")
    assert api.queue(dlq)["ready"] == 1
    assert api.call("POST", Api.q(dlq) + "/move", {"to": "/queue/" + name}) == {"moved": 1}
    wait_for(lambda: api.queue(name)["ready"] == 3, "all back")
    c = client(b.port)
    c.subscribe("/queue/" + name, "s", ack="client-individual")
    got = c.read_messages(3)
    assert sorted(m.body for m in got) == [b"a", b"b", b"c"]
    assert all(m["destination"] == "/queue/" + name for m in got)
    for m in got:
        c.ack(m)
    c.close()


def test_move_is_durable_no_loss_no_duplicate(broker_factory, tmp_path):
    data = str(tmp_path / "data")
    b = broker_factory(data_dir=data)
    api = Api(b)
    src, dst = unique("src"), unique("dst")
    c = client(b.port)
    for i in range(10):
        c.send("/queue/" + src, "m%d" % i)
    c.send("/queue/" + dst, "already")
    c.close()
    assert api.call("POST", Api.q(src) + "/move", {"to": dst, "count": 6}) == {"moved": 6}
    b2 = restart(broker_factory, b)
    d = client(b2.port)
    d.subscribe("/queue/" + src, "a")
    left = sorted(m.body for m in d.read_messages(4))
    assert d.try_read_frame(QUIET) is None
    d.subscribe("/queue/" + dst, "b")
    moved = sorted(m.body for m in d.read_messages(7))
    assert d.try_read_frame(QUIET) is None
    assert left == sorted(b"m%d" % i for i in range(6, 10))
    assert moved == sorted([b"already"] + [b"m%d" % i for i in range(6)])
    d.close()


def test_move_bad_requests(broker):
    api = Api(broker)
    name = unique()
    c = client(broker.port)
    c.send("/queue/" + name, "x")
    for body in ["not json", "{}", '{"to": 5}', '{"to": "%s"}' % name, '{"to": "y", "count": 0}',
                 '{"to": "y", "count": -3}']:
        status, _, data = api.raw("POST", Api.q(name) + "/move", body=body)
        assert status == 400, (body, data)
    assert api.raw("POST", Api.q(unique()) + "/move", body='{"to": "y"}')[0] == 404
    assert api.queue(name)["ready"] == 1  # nothing moved
    c.close()


# ---------------------------------------------------------------- connections


def test_connections_list_show_and_close(broker):
    api = Api(broker)
    c = client(broker.port, extra={"login": "guest", "passcode": "guest"})
    c.subscribe("/queue/" + unique(), "s1", ack="client")
    c.send("/queue/" + unique(), "hello")
    conns = api.get("/api/connections")
    assert len(conns) == 1
    conn = conns[0]
    assert conn["user"] == "guest" and conn["vhost"] == "/"
    assert conn["protocol"] == "STOMP 1.2" and conn["transport"] == "tcp"
    assert conn["client_address"].startswith("127.0.0.1:")
    local_port = c.sock.getsockname()[1]
    assert conn["client_address"] == "127.0.0.1:%d" % local_port
    assert conn["subscriptions"] == 1 and conn["messages_in"] == 1 and conn["unacked"] == 0
    assert abs(conn["connected_at"] / 1000 - time.time()) < 60
    assert set(conn["rates"]) == {"in", "out"}
    one = api.get("/api/connections/" + conn["id"])
    assert one["id"] == conn["id"] and one["user"] == "guest"
    # A client without login is the default-user (guest).
    d = client(broker.port)
    assert [x["user"] for x in api.get("/api/connections")] == ["guest", "guest"]
    # Close: the client gets ERROR "closed by administrator".
    assert api.raw("DELETE", "/api/connections/" + conn["id"])[0] == 204
    err = c.expect_error_frame()
    assert err["message"] == "closed by administrator"
    wait_for(lambda: len(api.get("/api/connections")) == 1, "the closed connection to go")
    assert api.raw("GET", "/api/connections/" + conn["id"])[0] == 404
    assert api.raw("DELETE", "/api/connections/" + conn["id"])[0] == 404
    for bad in ("abc", "99999999999999999999", "%2F"):
        assert api.raw("DELETE", "/api/connections/" + bad)[0] == 404
    d.close()


def test_connection_messages_out(broker):
    api = Api(broker)
    q = "/queue/" + unique()
    c = client(broker.port)
    c.subscribe(q, "s")
    c.send(q, "x")
    c.send(q, "y")
    c.read_messages(2)
    conn = api.get("/api/connections")[0]
    assert conn["messages_in"] == 2 and conn["messages_out"] == 2
    c.close()


# ---------------------------------------------------------------- topics, subscriptions


def test_topics(broker):
    api = Api(broker)
    t = unique("t")
    c = client(broker.port)
    c.subscribe("/topic/" + t, "s")
    for i in range(3):
        c.send("/topic/" + t, "n%d" % i)
    c.read_messages(3)
    topics = {x["name"]: x for x in api.get("/api/topics")}
    x = topics[t]
    assert x["destination"] == "/topic/" + t and x["vhost"] == "/"
    assert x["subscribers"] == 1 and x["durable_subscriptions"] == 0 and x["published"] == 3
    assert "in" in x["rates"]
    c.close()


def test_subscriptions(broker):
    api = Api(broker)
    q, t = unique(), unique("t")
    c = client(broker.port, extra={"client-id": "app1"})
    c.subscribe("/queue/" + q, "qs", ack="client-individual", headers={"prefetch-count": "7"})
    c.subscribe("/topic/" + t, "ts", headers={"activemq.subscriptionName": "dur"})
    subs = {s["id"]: s for s in api.get("/api/subscriptions")}
    conn_id = api.get("/api/connections")[0]["id"]
    s = subs["qs"]
    assert s["connection"] == conn_id and s["destination"] == "/queue/" + q
    assert s["ack"] == "client-individual" and s["prefetch"] == 7 and s["unacked"] == 0
    assert s["durable"] is False and s["name"] is None
    d = subs["ts"]
    assert d["durable"] is True and d["name"] == "app1:dur" and d["destination"] == "/topic/" + t
    # Once its consumer leaves, the durable subscription is listed without a connection.
    c.close()
    def detached():
        for s in api.get("/api/subscriptions"):
            if s["name"] == "app1:dur" and s["connection"] is None:
                return s
    s = wait_for(detached, "the durable subscription without a consumer")
    assert s["durable"] is True and s["destination"] == "/topic/" + t
    topic = {x["name"]: x for x in api.get("/api/topics")}[t]
    assert topic["durable_subscriptions"] == 1 and topic["subscribers"] == 0


# ---------------------------------------------------------------- limits


def raw_http(broker, data: bytes) -> bytes:
    s = socket.create_connection(("127.0.0.1", broker.http_port), timeout=WAIT)
    try:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk
    finally:
        s.close()


def test_request_limits(broker):
    api = Api(broker)
    status, _, body = api.raw("GET", "/api/overview", headers={"X-Big": "a" * 20000})
    assert status == 431 and json.loads(body)["error"] == "request_too_large"
    # A body over 1 MiB is refused from its Content-Length.
    reply = raw_http(broker, b"POST /api/queues/%2F/q/move HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Length: 2000000\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 413"), reply
    # Still serving.
    assert api.get("/api/overview")["shards"] == broker.shards


def test_malformed_request_gets_400(broker):
    s = socket.create_connection(("127.0.0.1", broker.http_port), timeout=WAIT)
    s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
    data = s.recv(4096)
    assert data.startswith(b"HTTP/1.1 400")
    s.close()


def test_keep_alive_serves_several_requests(broker):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", broker.http_port, timeout=WAIT)
    token = base64.b64encode(b"guest:guest").decode()
    for _ in range(3):
        conn.request("GET", "/api/overview", headers={"Authorization": "Basic " + token})
        r = conn.getresponse()
        assert r.status == 200
        json.loads(r.read())
    conn.close()


def test_http_max_connections(broker_factory):
    b = broker_factory(http_max_connections=2)
    held = [socket.create_connection(("127.0.0.1", b.http_port), timeout=WAIT) for _ in range(2)]
    time.sleep(0.2)
    extra = socket.create_connection(("127.0.0.1", b.http_port), timeout=WAIT)
    data = extra.recv(4096)
    assert data.startswith(b"HTTP/1.1 503"), data
    assert b"http-max-connections" in data
    extra.close()
    for s in held:
        s.close()
    # Slots come back.
    wait_for(lambda: Api(b).raw("GET", "/api/overview")[0] == 200, "a free slot")


def test_stop_while_requests_are_in_flight(broker_factory):
    # Requests being gathered from the shards when SIGTERM arrives: the
    # broker still exits 0 (the fixture checks it, and the sanitizer run
    # checks nothing is freed twice or leaked).
    b = broker_factory()
    c = client(b.port)
    for i in range(20):
        c.send("/queue/" + unique(), "x")
    token = base64.b64encode(b"guest:guest").decode()
    socks = []
    for i in range(30):
        s = socket.create_connection(("127.0.0.1", b.http_port), timeout=WAIT)
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n\r\n"
                   % ("/metrics" if i % 2 else "/api/queues", token)).encode())
        socks.append(s)
    assert b.stop() == 0
    b.killed = True  # stopped on purpose
    for s in socks:
        s.close()
    c.close()


def test_admin_actions_are_logged_with_their_user(broker):
    """Issue 16 item 6: what an operator changes through the API is logged at
    info with the user who did it and the answer; reads are not."""
    api = Api(broker)
    name = unique("audited")
    assert api.raw("PUT", Api.q(name))[0] == 201
    assert api.raw("DELETE", Api.q(name + "-missing"))[0] == 404
    api.get("/api/overview")
    deadline = time.monotonic() + WAIT
    want = ["management: user 'guest' (127.0.0.1)", "PUT /api/queues/%2F/" + name + ": 201",
            "DELETE /api/queues/%2F/" + name + "-missing: 404"]
    while True:
        lines = [l for l in broker.lines if "management: user" in l]
        if any(want[1] in l for l in lines) and any(want[2] in l for l in lines):
            break
        assert time.monotonic() < deadline, "no audit line:\n" + broker.tail()
        time.sleep(0.05)
    assert all(want[0] in l and " info " in l for l in lines), lines
    assert not [l for l in lines if "/api/overview" in l], lines
