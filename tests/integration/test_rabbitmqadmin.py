"""RabbitMQ's own management CLI, rabbitmqadmin (taken from Debian's
rabbitmq-server package by scripts/debian-tool.sh, not installed), against
Ferry's management API: the list/show columns it prints come from
RabbitMQ's JSON field names; declare, publish, get, purge, delete, export
and import work as with RabbitMQ. Also the API's paging parameters and a
definitions round trip with a RabbitMQ-hashed user who then logs in over
STOMP."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mgmt import Api
from support import RawClient, client, run_ferry, unique

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rabbitmqadmin() -> str:
    r = subprocess.run(["bash", str(ROOT / "scripts" / "debian-tool.sh"), "rabbitmq-server",
                        "usr/bin/rabbitmqadmin"], capture_output=True, text=True)
    assert r.returncode == 0, "scripts/debian-tool.sh failed: " + r.stderr
    return r.stdout.strip().splitlines()[-1]


def admin(tool, broker, *args, user=("guest", "guest"), ok=True) -> str:
    r = subprocess.run(["python3", tool, "-H", "127.0.0.1", "-P", str(broker.http_port), "-u", user[0],
                        "-p", user[1], *args], capture_output=True, text=True, timeout=30)
    if ok:
        assert r.returncode == 0, "rabbitmqadmin %s: %s%s" % (" ".join(args), r.stdout, r.stderr)
    return r.stdout + r.stderr


def tsv(tool, broker, *args):
    """`-f tsv` output as a list of dicts (first line: the column names)."""
    lines = admin(tool, broker, "-f", "tsv", *args).strip("\n").splitlines()
    if not lines:
        return []
    head = lines[0].split("\t")
    return [dict(zip(head, l.split("\t"))) for l in lines[1:]]


def test_list_show_declare_publish_get_purge_delete(broker, rabbitmqadmin):
    q = unique()
    assert "queue declared" in admin(rabbitmqadmin, broker, "declare", "queue", "name=" + q, "durable=true")
    assert "Message published" in admin(rabbitmqadmin, broker, "publish", "routing_key=" + q, "payload=one",
                                        'properties={"delivery_mode": 2, "headers": {"x-app": "a1"}}')
    assert "Message published" in admin(rabbitmqadmin, broker, "publish", "exchange=amq.default",
                                        "routing_key=" + q, "payload=two")
    # The default exchange routes to queues that exist only.
    assert "NOT routed" in admin(rabbitmqadmin, broker, "publish", "routing_key=" + unique("none"), "payload=x")
    rows = {r["name"]: r for r in tsv(rabbitmqadmin, broker, "list", "queues", "vhost", "name", "messages",
                                      "messages_ready", "messages_unacknowledged", "consumers")}
    assert rows[q] == {"vhost": "/", "name": q, "messages": "2", "messages_ready": "2",
                       "messages_unacknowledged": "0", "consumers": "0"}
    vhosts = {r["name"]: r for r in tsv(rabbitmqadmin, broker, "list", "vhosts", "name", "messages")}
    assert vhosts["/"]["messages"] == "2"
    overview = tsv(rabbitmqadmin, broker, "show", "overview", "queue_totals.messages", "object_totals.queues")
    assert overview == [{"queue_totals.messages": "2", "object_totals.queues": "1"}]

    # A STOMP consumer's connection: RabbitMQ's "peer -> local" name, user, one channel.
    c = client(broker.port)
    c.subscribe("/queue/" + unique(), "s")
    conns = tsv(rabbitmqadmin, broker, "list", "connections", "name", "user", "channels", "state")
    local = "127.0.0.1:%d" % c.sock.getsockname()[1]
    assert conns == [{"name": "%s -> 127.0.0.1:%d" % (local, broker.port), "user": "guest", "channels": "1",
                      "state": "running"}]
    c.close()

    # get, requeued: both stay; then acknowledged: the first leaves.
    got = json.loads(admin(rabbitmqadmin, broker, "-f", "raw_json", "get", "queue=" + q,
                           "ackmode=ack_requeue_true", "count=2"))
    assert [m["payload"] for m in got] == ["one", "two"]
    assert got[0]["properties"]["delivery_mode"] == 2 and got[0]["properties"]["headers"]["x-app"] == "a1"
    assert got[0]["routing_key"] == q and got[0]["exchange"] == ""
    got = json.loads(admin(rabbitmqadmin, broker, "-f", "raw_json", "get", "queue=" + q,
                           "ackmode=ack_requeue_false"))
    assert [m["payload"] for m in got] == ["one"] and got[0]["message_count"] == 1
    assert Api(broker).queue(q)["messages"] == 1
    assert "queue purged" in admin(rabbitmqadmin, broker, "purge", "queue", "name=" + q)
    assert Api(broker).queue(q)["messages"] == 0
    assert "queue deleted" in admin(rabbitmqadmin, broker, "delete", "queue", "name=" + q)
    assert q not in {r["name"] for r in tsv(rabbitmqadmin, broker, "list", "queues", "name")}


def test_published_message_reaches_a_stomp_consumer_with_its_properties(broker, rabbitmqadmin):
    q = unique()
    admin(rabbitmqadmin, broker, "declare", "queue", "name=" + q)
    admin(rabbitmqadmin, broker, "publish", "routing_key=" + q, "payload=hello",
          'properties={"delivery_mode": 2, "priority": 7, "correlation_id": "c-1", "reply_to": "/queue/r",'
          ' "content_type": "text/plain", "headers": {"tenant": "t9"}}')
    c = client(broker.port)
    c.subscribe("/queue/" + q, "s")
    m = c.read_message()
    assert m.body == b"hello"
    assert m.get("persistent") == "true" and m.get("priority") == "7"
    assert m.get("correlation-id") == "c-1" and m.get("reply-to") == "/queue/r"
    assert m.get("content-type") == "text/plain" and m.get("tenant") == "t9"
    c.close()


def test_persistent_publish_survives_restart(broker_factory, tmp_path, rabbitmqadmin):
    data = tmp_path / "data"
    b = broker_factory(data_dir=str(data))
    q = unique()
    admin(rabbitmqadmin, b, "declare", "queue", "name=" + q)
    admin(rabbitmqadmin, b, "publish", "routing_key=" + q, "payload=kept", 'properties={"delivery_mode": 2}')
    admin(rabbitmqadmin, b, "publish", "routing_key=" + q, "payload=lost", 'properties={"delivery_mode": 1}')
    b.kill()
    b2 = broker_factory(data_dir=str(data))
    got = json.loads(admin(rabbitmqadmin, b2, "-f", "raw_json", "get", "queue=" + q, "ackmode=ack_requeue_true",
                           "count=5"))
    assert [m["payload"] for m in got] == ["kept"]


def test_bad_publish_and_get_are_refused(broker, rabbitmqadmin):
    api = Api(broker)
    q = unique()
    api.call("PUT", api.q(q), {}, expect=(201, 204))
    base = "/api/exchanges/%2F/amq.default/publish"
    for body, why in (({"payload": "x"}, "routing_key"),
                      ({"routing_key": q}, "payload"),
                      ({"routing_key": q, "payload": "x", "payload_encoding": "rot13"}, "payload_encoding"),
                      ({"routing_key": q, "payload": "%%%", "payload_encoding": "base64"}, "base64"),
                      ({"routing_key": q, "payload": "x", "properties": {"delivery_mode": 3}}, "delivery_mode"),
                      ({"routing_key": q, "payload": "x", "properties": {"headers": {"destination": "/queue/y"}}},
                       "destination")):
        status, _, data = api.raw("POST", base, json.dumps(body))
        assert status == 400 and why in data.decode(), (body, status, data)
    status, _, data = api.raw("POST", "/api/exchanges/%2F/no.such/publish", json.dumps({"routing_key": q, "payload": "x"}))
    assert status == 404
    get = api.q(q) + "/get"
    for body in ({"count": 0, "ackmode": "ack_requeue_true"}, {"count": 1, "ackmode": "keep"},
                 {"count": 1, "ackmode": "ack_requeue_true", "encoding": "utf16"}):
        assert api.raw("POST", get, json.dumps(body))[0] == 400, body
    assert api.raw("POST", api.q(unique("none")) + "/get", json.dumps({"count": 1, "ackmode": "ack_requeue_true"}))[0] == 404
    assert api.queue(q)["messages"] == 0  # nothing got in


def test_paging_sorting_and_name_filter(broker):
    api = Api(broker)
    prefix = unique("pg")
    for i in range(7):
        api.call("PUT", api.q("%s-%d" % (prefix, i)), {}, expect=(201, 204))
    c = client(broker.port)
    for i in range(7):
        for _ in range(i):
            c.send("/queue/%s-%d" % (prefix, i), "m")
    page = api.get("/api/queues?page=2&page_size=3&name=%s&sort=messages&sort_reverse=true" % prefix)
    assert page["page"] == 2 and page["page_size"] == 3 and page["page_count"] == 3
    assert page["filtered_count"] == 7 and page["item_count"] == 3 and page["total_count"] == 7
    assert [q["messages"] for q in page["items"]] == [3, 2, 1]
    regex = api.get("/api/queues?page=1&name=%s-[35]$&use_regex=true" % prefix)
    assert sorted(q["name"] for q in regex["items"]) == ["%s-3" % prefix, "%s-5" % prefix]
    # columns: only those fields, nested as they were.
    cols = api.get("/api/queues?name=%s-6&columns=name,message_stats.publish" % prefix)
    assert cols == [{"name": "%s-6" % prefix, "message_stats": {"publish": 6}}]
    # Without page: the plain list, filtered and sorted.
    plain = api.get("/api/queues?name=%s&sort=name" % prefix)
    assert [q["name"] for q in plain] == ["%s-%d" % (prefix, i) for i in range(7)]
    for bad in ("page=0", "page=9&name=" + prefix, "page=1&page_size=501", "page=1&name=(&use_regex=true"):
        assert api.raw("GET", "/api/queues?" + bad)[0] == 400, bad
    c.close()


def test_export_and_import_definitions(broker_factory, tmp_path, rabbitmqadmin):
    """rabbitmqadmin export from one Ferry, import into another (users file,
    vhost, grants, queues); and a RabbitMQ export whose user has RabbitMQ's
    sha256 hash: that user then logs in over STOMP with the password."""
    users = tmp_path / "users.toml"
    r = run_ferry("user", "add", "root", "--password", "r00t", "--tags", "administrator", "--iterations", "1000",
                  "--users-file", str(users))
    assert r.returncode == 0, r.stderr
    run_ferry("vhost", "add", "shop", "--users-file", str(users))
    for v in ("/", "shop"):
        assert run_ferry("user", "set-permissions", "root", "--vhost", v, "--configure", ".*", "--write", ".*",
                         "--read", ".*", "--users-file", str(users)).returncode == 0
    src = broker_factory(users_file=str(users))
    root = ("root", "r00t")
    q = unique()
    admin(rabbitmqadmin, src, "-V", "shop", "declare", "queue", "name=" + q, 'arguments={"x-max-length": 10}',
          user=root)
    admin(rabbitmqadmin, src, "-V", "shop", "declare", "exchange", "name=orders", "type=topic", user=root)
    admin(rabbitmqadmin, src, "-V", "shop", "declare", "binding", "source=orders", "destination=" + q,
          "routing_key=eu.#", user=root)
    exported = tmp_path / "defs.json"
    admin(rabbitmqadmin, src, "export", str(exported), user=root)
    defs = json.loads(exported.read_text())
    assert {"name": "shop"} in defs["vhosts"]
    root_def = [u for u in defs["users"] if u["name"] == "root"]
    assert root_def and root_def[0]["hashing_algorithm"] == "ferry_pbkdf2_sha256"
    assert root_def[0]["password_hash"].startswith("pbkdf2-sha256$") and root_def[0]["tags"] == ["administrator"]
    assert {"name": q, "vhost": "shop", "durable": True, "auto_delete": False,
            "arguments": {"x-max-length": 10}} in defs["queues"], defs["queues"]
    assert {"name": "orders", "vhost": "shop", "type": "topic", "durable": True, "auto_delete": False,
            "internal": False, "arguments": {}} in defs["exchanges"]
    assert not [x for x in defs["exchanges"] if x["name"].startswith("amq.")]
    assert {"source": "orders", "vhost": "shop", "destination": q, "destination_type": "queue",
            "routing_key": "eu.#", "arguments": {}} in defs["bindings"]

    # A RabbitMQ export: its documented example hash of "test12".
    defs["users"].append({"name": "rabbit", "password_hash": "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR",
                          "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ""})
    defs["permissions"].append({"user": "rabbit", "vhost": "shop", "configure": ".*", "write": ".*", "read": ".*"})
    exported.write_text(json.dumps(defs))
    dst_users = tmp_path / "dst-users.toml"
    assert run_ferry("user", "add", "root", "--password", "r00t", "--tags", "administrator", "--iterations", "1000",
                     "--users-file", str(dst_users)).returncode == 0
    dst = broker_factory(users_file=str(dst_users))
    out = admin(rabbitmqadmin, dst, "import", str(exported), user=root)
    assert "Uploaded definitions" in out or "Imported definitions" in out, out
    api = Api(dst, auth=root)
    assert api.get("/api/vhosts/shop")["name"] == "shop"
    assert api.get(Api.q(q, "shop"))["arguments"] == {"x-max-length": 10}
    # The imported exchange routes into the imported queue.
    routed = api.call("POST", "/api/exchanges/shop/orders/publish",
                      {"routing_key": "eu.de", "payload": "x", "properties": {}})
    assert routed == {"routed": True}
    assert api.get(Api.q(q, "shop"))["messages"] == 1
    c = RawClient(dst.port)
    c.send_frame("CONNECT", [("accept-version", "1.2"), ("host", "shop"), ("login", "rabbit"), ("passcode", "test12")])
    assert c.read_frame(5.0).command == "CONNECTED"
    c.close()
    c = RawClient(dst.port)
    c.send_frame("CONNECT", [("accept-version", "1.2"), ("host", "shop"), ("login", "rabbit"), ("passcode", "wrong")])
    assert c.read_frame(5.0).command == "ERROR"
    c.close()

    # A bad import changes nothing.
    status, _, data = api.raw("POST", "/api/definitions", json.dumps(
        {"vhosts": [{"name": "new-vhost"}],
         "users": [{"name": "md5", "password_hash": "abc", "hashing_algorithm": "rabbit_password_hashing_md5"}]}))
    assert status == 400 and b"md5" in data
    # Importing the queue again with other arguments: RabbitMQ's refusal.
    status, _, data = api.raw("POST", "/api/definitions", json.dumps(
        {"queues": [{"name": q, "vhost": "shop", "durable": True, "arguments": {"x-max-length": 5}}]}))
    assert status == 406 and b"inequivalent arg 'x-max-length'" in data, data
    assert api.get(Api.q(q, "shop"))["arguments"] == {"x-max-length": 10}
    assert api.raw("GET", "/api/vhosts/new-vhost")[0] == 404


def test_exchanges_and_bindings_with_rabbitmqadmin(broker, rabbitmqadmin):
    """declare exchange / binding, publish through it, list both; and a
    publish to amq.topic reaches a STOMP /topic/ subscriber (RabbitMQ's
    /topic/ is amq.topic)."""
    x, q = unique("x"), unique()
    assert "exchange declared" in admin(rabbitmqadmin, broker, "declare", "exchange", "name=" + x, "type=direct")
    admin(rabbitmqadmin, broker, "declare", "queue", "name=" + q)
    assert "binding declared" in admin(rabbitmqadmin, broker, "declare", "binding", "source=" + x,
                                       "destination=" + q, "routing_key=k1")
    exchanges = {r["name"]: r for r in tsv(rabbitmqadmin, broker, "list", "exchanges", "name", "type")}
    assert exchanges[x]["type"] == "direct" and exchanges["amq.topic"]["type"] == "topic"
    bindings = tsv(rabbitmqadmin, broker, "list", "bindings", "source", "destination", "routing_key")
    assert {"source": x, "destination": q, "routing_key": "k1"} in bindings
    assert "Message published" in admin(rabbitmqadmin, broker, "publish", "exchange=" + x, "routing_key=k1",
                                        "payload=via-exchange", 'properties={"delivery_mode": 2}')
    assert "NOT routed" in admin(rabbitmqadmin, broker, "publish", "exchange=" + x, "routing_key=other",
                                 "payload=nowhere")
    assert Api(broker).queue(q)["messages"] == 1
    assert "Not found" in admin(rabbitmqadmin, broker, "publish", "exchange=" + unique("nox"), "routing_key=k",
                                "payload=x", ok=False)
    t = unique("t")
    c = client(broker.port)
    c.subscribe("/topic/" + t, "s", receipt=True)
    assert "Message published" in admin(rabbitmqadmin, broker, "publish", "exchange=amq.topic",
                                        "routing_key=" + t, "payload=to-topic")
    assert c.read_message().body == b"to-topic"
    c.close()
