"""The cluster's coordination through etcd (docs/cluster.md): three real etcd
members, three real brokers. Membership, the controller election and its
epoch, failover after kill -9, and what a broker says when etcd is gone.
Skipped (with the reason) where etcd cannot be installed."""
from __future__ import annotations

import json
import socket
import time

from cluster_support import etcd_cluster, etcd_factory, wait_for  # noqa: F401 - fixtures
from mgmt import Api
from support import client, run_ferry, unique

TTL = 3  # seconds: short, so that failover happens within a test


def start_cluster(broker_factory, endpoints: str, name: str, nodes=("a", "b", "c")):
    return {n: broker_factory(cluster_etcd=endpoints, node_name=n, cluster_name=name, cluster_lease_ttl=TTL)
            for n in nodes}


def view(broker) -> dict:
    return Api(broker).get("/api/cluster")


def settled(brokers) -> dict | None:
    """The view all brokers agree on (all members seen, one controller), or None."""
    views = [view(b) for b in brokers]
    if any(v["coordination"] != "ok" or len(v["members"]) != len(brokers) or v["controller"] is None
           for v in views):
        return None
    if len({(v["controller"], v["controller_epoch"]) for v in views}) != 1:
        return None
    if sum(1 for v in views if v["is_controller"]) != 1:
        return None
    return views[0]


def test_three_brokers_see_three_members_and_one_controller(broker_factory, etcd_cluster):
    name = unique("c")
    brokers = start_cluster(broker_factory, etcd_cluster.endpoints, name)
    v = wait_for("3 members and one controller", lambda: settled(list(brokers.values())))
    assert sorted(m["node"] for m in v["members"]) == ["a", "b", "c"]
    assert v["cluster"] == name
    assert v["controller"] in brokers
    assert v["controller_epoch"] >= 1
    by_node = {m["node"]: m for m in v["members"]}
    for n, b in brokers.items():  # each member key carries the addresses clients reach it on
        assert by_node[n]["stomp"] == "127.0.0.1:%d" % b.port
        assert by_node[n]["http"] == "127.0.0.1:%d" % b.http_port
        assert by_node[n]["controller"] == (n == v["controller"])

    # ferry cluster status: the same, as a table
    b = brokers["a"]
    p = run_ferry("cluster", "status", "--http", "127.0.0.1:%d" % b.http_port)
    assert p.returncode == 0, p.stderr
    text = p.stdout.decode()
    assert "3 member(s), controller %s (epoch %d)" % (v["controller"], v["controller_epoch"]) in text
    assert "this node: a, coordination ok" in text
    rows = {line.split()[0]: line.split() for line in text.splitlines()[3:]}
    assert sorted(rows) == ["a", "b", "c"]
    assert rows[v["controller"]][1] == "*"
    p = run_ferry("cluster", "status", "--json", "--http", "127.0.0.1:%d" % b.http_port)
    assert p.returncode == 0 and json.loads(p.stdout)["controller"] == v["controller"]

    # /metrics on every broker
    for n, b in brokers.items():
        status, _, body = Api(b).raw("GET", "/metrics")
        assert status == 200
        metrics = dict(line.rsplit(" ", 1) for line in body.decode().splitlines()
                       if line.startswith("ferry_cluster_"))
        assert metrics["ferry_cluster_members"] == "3"
        assert metrics["ferry_cluster_is_controller"] == ("1" if n == v["controller"] else "0")
        assert metrics["ferry_cluster_coordination_ok"] == "1"


def test_api_cluster_is_for_administrators(broker_factory, etcd_cluster, tmp_path):
    users = tmp_path / "users.toml"
    p = run_ferry("user", "add", "watcher", "--password", "pw", "--tags", "monitoring", "--users-file", str(users))
    assert p.returncode == 0, p.stderr
    b = broker_factory(cluster_etcd=etcd_cluster.endpoints, node_name="solo", cluster_name=unique("c"),
                       cluster_lease_ttl=TTL, users_file=str(users))
    status, _, _ = Api(b, auth=("watcher", "pw")).raw("GET", "/api/cluster")
    assert status == 403
    status, _, _ = Api(b, auth=None).raw("GET", "/api/cluster")
    assert status == 401


def test_killed_controller_is_replaced_with_a_higher_epoch(broker_factory, etcd_cluster):
    brokers = start_cluster(broker_factory, etcd_cluster.endpoints, unique("c"))
    first = wait_for("a controller", lambda: settled(list(brokers.values())))
    old = first["controller"]
    brokers[old].kill()  # kill -9: no lease revoke, etcd ends the lease after its TTL
    rest = [b for n, b in brokers.items() if n != old]

    def replaced():
        views = [view(b) for b in rest]
        if all(v["controller"] not in (None, old) for v in views) and len({v["controller"] for v in views}) == 1:
            return views[0]
        return None

    # Within the TTL plus polling; the deadline is generous, not a measurement.
    v = wait_for("another controller", replaced, timeout=TTL * 5 + 10)
    assert v["controller_epoch"] > first["controller_epoch"]
    v = wait_for("the dead member gone", lambda: settled(rest))
    assert sorted(m["node"] for m in v["members"]) == sorted(n for n in brokers if n != old)


def test_a_stopped_controller_hands_over_at_once(broker_factory, etcd_cluster):
    # SIGTERM revokes the lease: the controller key goes now, not after the TTL.
    brokers = start_cluster(broker_factory, etcd_cluster.endpoints, unique("c"), nodes=("a", "b"))
    first = wait_for("a controller", lambda: settled(list(brokers.values())))
    old = first["controller"]
    assert brokers[old].stop() == 0
    brokers[old].killed = True  # stopped on purpose (its exit code is checked here): not the fixture's business
    other = next(b for n, b in brokers.items() if n != old)
    v = wait_for("the other one controller", lambda: settled([other]))
    assert v["controller_epoch"] == first["controller_epoch"] + 1


def test_brokers_report_lost_coordination_when_etcd_stops(broker_factory, etcd_factory):
    etcd = etcd_factory(3)
    brokers = start_cluster(broker_factory, etcd.endpoints, unique("c"))
    first = wait_for("a controller", lambda: settled(list(brokers.values())))
    leases = {n: view(b)["lease"]["id"] for n, b in brokers.items()}

    # One etcd member of three gone (the first endpoint, the one every broker
    # starts with): the others keep a quorum and the brokers move to them,
    # keeping their leases and the controller.
    etcd.kill_member(0)
    time.sleep(TTL * 2)  # an observation window, not a measurement: a lease would lapse if renewals failed
    v = wait_for("coordination through the other members", lambda: settled(list(brokers.values())))
    assert (v["controller"], v["controller_epoch"]) == (first["controller"], first["controller_epoch"])
    assert {n: view(b)["lease"]["id"] for n, b in brokers.items()} == leases

    etcd.stop()

    def all_lost():
        views = [view(b) for b in brokers.values()]
        return views if all(v["coordination"] == "lost" for v in views) else None

    views = wait_for("every broker reports coordination lost", all_lost, timeout=TTL * 5 + 10)
    for v in views:
        assert not v["is_controller"]  # nobody may act as controller on a lease it cannot prove
        assert v["controller"] is None
        assert v["last_error"]
    b = brokers["a"]
    p = run_ferry("cluster", "status", "--http", "127.0.0.1:%d" % b.http_port)
    assert p.returncode == 1
    assert "coordination lost" in p.stdout.decode()
    status, _, body = Api(b).raw("GET", "/metrics")
    assert "ferry_cluster_coordination_ok 0" in body.decode()
    assert "ferry_cluster_is_controller 0" in body.decode()
    # The brokers themselves keep serving STOMP as single brokers.
    c = client(b.port)
    c.send("/queue/" + unique(), "still here")
    c.close()


def test_single_broker_without_cluster_etcd(broker):
    v = Api(broker).get("/api/cluster")
    assert v["enabled"] is False
    assert v["members"] == []
    p = run_ferry("cluster", "status", "--http", "127.0.0.1:%d" % broker.http_port)
    assert p.returncode == 0, p.stderr
    assert "not a cluster" in p.stdout.decode()
    status, _, body = Api(broker).raw("GET", "/metrics")
    assert "ferry_cluster_" not in body.decode()


def test_bad_cluster_options_are_refused():
    for args, text in ((["--cluster-etcd", "https://127.0.0.1:2379"], "https"),
                       (["--cluster-etcd", "127.0.0.1"], "HOST:PORT"),
                       (["--node-name", "a/b"], "letters"),
                       (["--cluster-lease-ttl", "0"], "positive")):
        p = run_ferry("serve", "--check-config", *args)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert text in p.stderr.decode(), (args, p.stderr)


def test_a_broker_that_cannot_reach_etcd_serves_and_says_so(broker_factory):
    # Nothing listens on the port: the broker starts, serves its clients as a
    # single broker would, and reports that it has not joined.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = "http://127.0.0.1:%d" % s.getsockname()[1]
    s.close()
    b = broker_factory(cluster_etcd=dead, node_name="alone", cluster_lease_ttl=TTL)
    v = wait_for("an etcd error", lambda: (lambda v: v if v["last_error"] else None)(view(b)))
    assert v["coordination"] == "starting"
    assert v["members"] == [] and v["controller"] is None and not v["is_controller"]
    assert "etcd unreachable" in v["last_error"]
    p = run_ferry("cluster", "status", "--http", "127.0.0.1:%d" % b.http_port)
    assert p.returncode == 1
    assert "coordination starting" in p.stdout.decode()
    c = client(b.port)
    c.send("/queue/" + unique(), "served anyway")
    c.close()
