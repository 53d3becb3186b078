"""RabbitMQ's policies (issue 12, routing3 item 1): PUT/GET/DELETE
/api/policies/VHOST/NAME with pattern, apply-to, priority and a definition
of queue arguments; applied to existing and new matching queues (the
queue's own arguments win as RabbitMQ's classic queues decide: the lower
limit, the queue's own overflow / dead-letter settings); shown as `policy`
and `effective_policy_definition` in /api/queues; kept across restarts
(SIGTERM and kill -9); in /api/definitions export and import; bounded by
max-policies; patterns RE2 (linear time). Raw frames, stomp.py, php-stomp
and HTTP; each test runs with one and two shards."""
from __future__ import annotations

import json
import subprocess
import urllib.parse

import pytest

from mgmt import Api
from support import client, py_connect, py_rid, restart, run_php, unique


def texts(frames):
    return [f.text for f in frames]


def policy_path(name: str, vhost: str = "/") -> str:
    return "/api/policies/%s/%s" % (urllib.parse.quote(vhost, safe=""), urllib.parse.quote(name, safe=""))


def put_policy(api, name, pattern, definition, expect=201, **extra):
    body = dict({"pattern": pattern, "definition": definition}, **extra)
    return api.call("PUT", policy_path(name), body, expect=expect)


def test_put_get_delete_in_rabbitmq_shape(broker):
    api = Api(broker)
    name = unique("pol")
    put_policy(api, name, "^orders\\.", {"max-length": 10, "overflow": "reject-publish"}, priority=3,
               **{"apply-to": "queues"})
    got = api.get(policy_path(name))
    assert got == {"vhost": "/", "name": name, "pattern": "^orders\\.", "apply-to": "queues", "priority": 3,
                   "definition": {"max-length": 10, "overflow": "reject-publish"}}, got
    assert got in api.get("/api/policies") and got in api.get("/api/policies/%2F")
    # Replaced: 204.
    put_policy(api, name, "^orders\\.", {"max-length": 5}, expect=204)
    assert api.get(policy_path(name))["definition"] == {"max-length": 5}
    api.call("DELETE", policy_path(name), expect=204)
    api.get(policy_path(name), expect=404)
    api.call("DELETE", policy_path(name), expect=404)


@pytest.mark.parametrize("body,why", [
    ({"pattern": "(a", "definition": {"max-length": 1}}, "invalid policy pattern"),
    ({"pattern": "^(a)\\1$", "definition": {"max-length": 1}}, "invalid policy pattern"),  # backreference
    ({"pattern": "x", "definition": {"max-length": -1}}, "x-max-length"),
    ({"pattern": "x", "definition": {"overflow": "explode"}}, "x-overflow"),
    ({"pattern": "x", "definition": {"max-priority": 5}}, "'max-priority' is not a policy key"),
    ({"pattern": "x", "definition": {"alternate-exchange": ""}}, "alternate-exchange"),
    ({"pattern": "x", "definition": {}}, "definition"),
    ({"pattern": "x", "definition": {"max-length": 1}, "apply-to": "streams"}, "apply-to"),
    ({"pattern": "x", "definition": {"dead-letter-routing-key": ""}}, "x-dead-letter-routing-key"),
    ({"definition": {"max-length": 1}}, "pattern"),
])
def test_bad_policies_are_refused_naming_what_is_wrong(broker, body, why):
    api = Api(broker)
    status, _, data = api.raw("PUT", policy_path(unique("bad")), json.dumps(body))
    assert status == 400 and why in data.decode(), (body, status, data)
    assert api.get("/api/policies") == []


def test_a_pathological_pattern_does_not_hold_the_shard(broker):
    # The pattern that held a shard for minutes under a backtracking
    # engine (auth/permissions.h); RE2 decides it in linear time.
    api = Api(broker)
    put_policy(api, unique("evil"), "^(a*)*b$", {"max-length": 1})
    p = client(broker.port)
    name = "a" * 200
    for i in range(3):
        p.send("/queue/" + name, "m%d" % i)
    assert api.queue(name)["policy"] is None
    assert api.queue(name)["messages"] == 3


def test_policy_applies_to_new_and_existing_queues(broker):
    api = Api(broker)
    prefix = unique("lim")
    old = prefix + ".old"
    p = client(broker.port)
    for i in range(5):
        p.send("/queue/" + old, "o%d" % i)
    name = unique("maxlen")
    put_policy(api, name, "^" + prefix + "\\.", {"max-length": 2})
    # The existing queue is cut to 2 at once (drop-head), as RabbitMQ does.
    assert api.queue(old)["messages"] == 2
    q = api.queue(old)
    assert q["policy"] == name and q["effective_policy_definition"] == {"max-length": 2}, q
    assert q["arguments"] == {}, q  # declared arguments stay as declared
    # A new queue follows it from its first message.
    new = prefix + ".new"
    for i in range(4):
        p.send("/queue/" + new, "n%d" % i)
    c = client(broker.port)
    c.subscribe("/queue/" + new, "s")
    assert texts(c.read_messages(2)) == ["n2", "n3"]
    c.assert_no_frame(what="a message beyond the policy's max-length")
    # Other queues are left alone.
    other = unique("other")
    for i in range(3):
        p.send("/queue/" + other, "x%d" % i)
    assert api.queue(other)["policy"] is None and api.queue(other)["messages"] == 3
    # Deleted: the queue no longer follows it.
    api.call("DELETE", policy_path(name), expect=204)
    q = api.queue(new)
    assert q["policy"] is None and q["effective_policy_definition"] == {}, q
    later = prefix + ".later"
    for i in range(3):
        p.send("/queue/" + later, "m%d" % i)
    assert api.queue(later)["policy"] is None and api.queue(later)["messages"] == 3


def test_reject_publish_from_a_policy_answers_the_send_with_an_error(broker):
    api = Api(broker)
    q = unique("rp")
    put_policy(api, unique("rp-pol"), "^" + q + "$", {"max-length": 1, "overflow": "reject-publish"})
    p = client(broker.port)
    p.send("/queue/" + q, "a")
    err = p.expect_error("SEND", {"destination": "/queue/" + q}, b"b")
    assert "is full" in err["message"] and "x-max-length 1" in err["message"], err


def test_highest_priority_wins(broker):
    api = Api(broker)
    q = unique("prio")
    put_policy(api, unique("low"), q, {"max-length": 7}, priority=1)
    high = unique("high")
    put_policy(api, high, "^" + q + "$", {"max-length": 3}, priority=10)
    client(broker.port).send("/queue/" + q, "x")
    got = api.queue(q)
    assert got["policy"] == high and got["effective_policy_definition"] == {"max-length": 3}, got


def test_apply_to_exchanges_leaves_queues_alone(broker):
    api = Api(broker)
    q = unique("ex-only")
    put_policy(api, unique("ex"), q, {"max-length": 1}, **{"apply-to": "exchanges"})
    p = client(broker.port)
    for i in range(3):
        p.send("/queue/" + q, "m%d" % i)
    assert api.queue(q)["policy"] is None and api.queue(q)["messages"] == 3


def test_queue_arguments_win_as_rabbitmq_decides(broker):
    """Limits: the lower of argument and policy; overflow and dead-letter
    settings: the queue's own argument."""
    api = Api(broker)
    q = unique("prec")
    dlq = unique("prec-dead")
    put_policy(api, unique("prec-pol"), "^" + q + "$",
               {"max-length": 5, "message-ttl": 60000, "overflow": "reject-publish",
                "dead-letter-exchange": "", "dead-letter-routing-key": "elsewhere"})
    api.call("PUT", api.q(q), {"arguments": {"x-max-length": 10, "x-message-ttl": 1000, "x-overflow": "drop-head",
                                             "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq}},
             expect=201)
    got = api.queue(q)
    assert got["arguments"]["x-max-length"] == 10, got
    eff = got["effective_arguments"]
    assert eff["x-max-length"] == 5 and eff["x-message-ttl"] == 1000, eff
    assert eff["x-overflow"] == "drop-head" and eff["x-dead-letter-routing-key"] == dlq, eff
    # Redeclaring with the declared arguments is fine; with the policy's
    # values is a mismatch (compared with what was declared).
    api.call("PUT", api.q(q), {"arguments": got["arguments"]}, expect=204)
    status, _, data = api.raw("PUT", api.q(q), json.dumps({"arguments": {"x-max-length": 5}}))
    assert status == 400 and b"x-max-length" in data, data
    # drop-head with the lower max-length: 6 sent, the oldest one goes to dlq.
    p = client(broker.port)
    for i in range(6):
        p.send("/queue/" + q, "m%d" % i)
    c = client(broker.port)
    c.subscribe("/queue/" + dlq, "d")
    m = c.read_message()
    assert m.text == "m0" and m["dead-letter-reason"] == "maxlen", m


def test_policy_dead_letters_expired_messages_from_stomp_py(broker):
    api = Api(broker)
    q, dlq = unique("py-ttl"), unique("py-ttl-dead")
    put_policy(api, unique("ttl"), "^" + q + "$",
               {"message-ttl": 50, "dead-letter-exchange": "", "dead-letter-routing-key": dlq})
    conn, lst = py_connect(broker.port)
    conn.subscribe("/queue/" + dlq, id="d", ack="auto")
    rid = py_rid()
    conn.send("/queue/" + q, "soon gone", headers={"receipt": rid})
    lst.wait_receipt(rid)
    m = lst.get()
    assert m.body == "soon gone" and m.headers["dead-letter-reason"] == "expired", m.headers
    conn.disconnect()


def test_policy_from_php_producer(broker):
    api = Api(broker)
    q = unique("php-pol")
    put_policy(api, unique("php"), "^" + q + "$", {"max-length": 1, "overflow": "reject-publish"})
    res = run_php("dialect_headers.php", broker.port, "/queue/" + q, "send", "one", "{}")
    assert res["exception"] is None and res["sent"] is True, res
    res = run_php("dialect_headers.php", broker.port, "/queue/" + q, "send", "two", "{}")
    assert res["sent"] is False and "is full (x-max-length 1, x-overflow reject-publish)" in res["error"], res


def test_max_policies(broker_factory):
    b = broker_factory(max_policies=2)
    api = Api(b)
    put_policy(api, "p1", "a", {"max-length": 1})
    put_policy(api, "p2", "b", {"max-length": 1})
    put_policy(api, "p2", "c", {"max-length": 2}, expect=204)  # replacing is not one more
    status, _, data = api.raw("PUT", policy_path("p3"), json.dumps({"pattern": "d", "definition": {"expires": 1000}}))
    assert status == 409 and b"max-policies 2" in data, data
    assert [p["name"] for p in api.get("/api/policies")] == ["p1", "p2"]


@pytest.mark.parametrize("how", ["term", "kill"], ids=["sigterm", "kill9"])
def test_policies_survive_a_restart(broker_factory, tmp_path, how):
    b = broker_factory(data_dir=str(tmp_path / "data"))
    api = Api(b)
    q = unique("keep")
    name = unique("keep-pol")
    put_policy(api, name, "^" + q + "$", {"max-length": 2}, priority=4)
    p = client(b.port)
    for i in range(4):
        p.send("/queue/" + q, "m%d" % i, {"persistent": "true"})
    p.close()
    before = api.get(policy_path(name))
    b = restart(broker_factory, b, how)
    api = Api(b)
    assert api.get(policy_path(name)) == before
    got = api.queue(q)
    assert got["policy"] == name and got["messages"] == 2, got
    p = client(b.port)
    p.send("/queue/" + q, "m4", {"persistent": "true"})
    c = client(b.port)
    c.subscribe("/queue/" + q, "s")
    assert texts(c.read_messages(2)) == ["m3", "m4"]
    c.assert_no_frame(what="a message beyond the policy's max-length after the restart")


def test_definitions_export_and_import(broker_factory):
    a = broker_factory()
    api = Api(a)
    name = unique("def")
    put_policy(api, name, "^def\\.", {"max-length": 3, "dead-letter-exchange": ""}, priority=2,
               **{"apply-to": "queues"})
    exported = api.get("/api/definitions")
    assert [p for p in exported["policies"] if p["name"] == name] == [api.get(policy_path(name))]
    assert api.get("/api/definitions/%2F")["policies"] == exported["policies"]
    b = broker_factory()
    api_b = Api(b)
    api_b.call("POST", "/api/definitions", {"policies": exported["policies"],
                                            "queues": [{"name": "def.q", "vhost": "/", "durable": True,
                                                        "arguments": {}}]}, expect=204)
    assert api_b.get(policy_path(name)) == api.get(policy_path(name))
    assert api_b.queue("def.q")["policy"] == name  # the imported queue follows the imported policy
    bad = {"policies": [{"name": "x", "vhost": "/", "pattern": "(", "definition": {"max-length": 1}}]}
    status, _, data = api_b.raw("POST", "/api/definitions", json.dumps(bad))
    assert status == 400 and b"policies: x" in data, data
    bad = {"policies": [{"name": "x", "vhost": "nope", "pattern": "a", "definition": {"max-length": 1}}]}
    status, _, data = api_b.raw("POST", "/api/definitions", json.dumps(bad))
    assert status == 400 and b"no vhost 'nope'" in data, data


def _declare_exchange(api, name, type_="direct", **fields):
    api.call("PUT", "/api/exchanges/%%2F/%s" % urllib.parse.quote(name, safe=""), dict({"type": type_}, **fields),
             expect=201)


def _bind(api, source, queue, key=""):
    api.call("POST", "/api/bindings/%%2F/e/%s/q/%s" % (urllib.parse.quote(source, safe=""),
                                                        urllib.parse.quote(queue, safe="")),
             {"routing_key": key}, expect=201)


def test_alternate_exchange_from_a_policy(broker):
    """An exchange without its own alternate-exchange argument follows a
    policy's (apply-to exchanges); its own argument wins."""
    api = Api(broker)
    src, own, ae, own_ae = unique("ae-src"), unique("ae-own"), unique("ae-target"), unique("ae-own-target")
    unrouted, own_q = unique("ae-unrouted"), unique("own-unrouted")
    _declare_exchange(api, src)
    _declare_exchange(api, own, arguments={"alternate-exchange": own_ae})
    _declare_exchange(api, ae, "fanout")
    _declare_exchange(api, own_ae, "fanout")
    for q in (unrouted, own_q):
        api.call("PUT", api.q(q), expect=201)
    _bind(api, ae, unrouted)
    _bind(api, own_ae, own_q)
    p = client(broker.port)
    p.send("/exchange/%s/nobody" % src, "before")  # no policy yet: unroutable, dropped
    put_policy(api, unique("ae-pol"), "^ae-", {"alternate-exchange": ae}, **{"apply-to": "exchanges"})
    p.send("/exchange/%s/nobody" % src, "after")
    p.send("/exchange/%s/nobody" % own, "own")
    c = client(broker.port)
    c.subscribe("/queue/" + unrouted, "u")
    assert c.read_message().text == "after"
    c.assert_no_frame(what="a message routed before the policy existed")
    c.subscribe("/queue/" + own_q, "o")
    assert c.read_message().text == "own"
    # A policy that applies to exchanges leaves a queue its pattern matches alone.
    assert api.queue(unrouted)["policy"] is None


def test_rabbitmqadmin_declares_lists_and_deletes_policies(broker):
    # RabbitMQ's own CLI (taken from Debian's package, as test_rabbitmqadmin does).
    from test_rabbitmqadmin import ROOT, admin, tsv
    r = subprocess.run(["bash", str(ROOT / "scripts" / "debian-tool.sh"), "rabbitmq-server",
                        "usr/bin/rabbitmqadmin"], capture_output=True, text=True)
    assert r.returncode == 0, "scripts/debian-tool.sh failed: " + r.stderr
    tool = r.stdout.strip().splitlines()[-1]
    name, q = unique("admin-pol"), unique("admin-q")
    out = admin(tool, broker, "declare", "policy", "name=" + name, "pattern=^" + q + "$",
                'definition={"max-length": 1}', "priority=2", "apply-to=queues")
    assert "policy declared" in out, out
    rows = {row["name"]: row for row in tsv(tool, broker, "list", "policies", "vhost", "name", "pattern",
                                            "apply-to", "priority")}
    assert rows[name]["pattern"] == "^" + q + "$" and rows[name]["apply-to"] == "queues", rows
    assert rows[name]["priority"] == "2", rows
    p = client(broker.port)
    p.send("/queue/" + q, "a")
    p.send("/queue/" + q, "b")
    assert Api(broker).queue(q)["messages"] == 1
    assert "policy deleted" in admin(tool, broker, "delete", "policy", "name=" + name)
    assert Api(broker).get("/api/policies") == []
