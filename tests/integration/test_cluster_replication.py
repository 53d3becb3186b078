"""Replicated streams (docs/cluster.md, "Replicated streams"): three real etcd
members, three real brokers with cluster-listen on port 0. A stream's SEND
is receipted by its leader only once the in-sync set has it; a SEND to
another broker gets an ERROR naming the leader; kill -9 of the leader under
load: another in-sync member leads within seconds and has every receipted
message (confirmed-lost must be 0); kill -9 of the leader and its restart at
once: it is fenced (another member leads), nothing receipted is lost, and it
fetches the log again. Skipped where etcd cannot be installed."""
from __future__ import annotations

import threading

import pytest

from cluster_support import etcd_cluster, wait_for  # noqa: F401 - fixtures
from mgmt import Api
from support import StompError, client, restart, run_ferry, unique

TTL = 3  # seconds: short, so that failover happens within a test


def start_replicated(broker_factory, endpoints: str, name: str, nodes=("a", "b", "c"), **opts):
    return {n: broker_factory(cluster_etcd=endpoints, node_name=n, cluster_name=name, cluster_lease_ttl=TTL,
                              cluster_listen="127.0.0.1:0", **opts)
            for n in nodes}


def view(broker) -> dict:
    return Api(broker).get("/api/cluster")


def ready(brokers) -> bool:
    """Every broker sees every member with its replication address, and a controller."""
    views = [view(b) for b in brokers]
    return all(v["coordination"] == "ok" and v["controller"] is not None and len(v["members"]) == len(brokers)
               and all(m["cluster"] for m in v["members"]) for v in views)


def log_state(broker, log: str) -> dict | None:
    for entry in view(broker)["logs"]:
        if entry["log"] == log:
            return entry
    return None


def leader_of(brokers: dict, log: str, exclude=()) -> str | None:
    """The broker that leads `log` by its own account, in the highest epoch seen."""
    best = None
    for n, b in brokers.items():
        if n in exclude:
            continue
        s = log_state(b, log)
        if s and s["role"] == "leader" and (best is None or s["leader_epoch"] > best[1]):
            best = (n, s["leader_epoch"])
    return best[0] if best else None


def create_stream(brokers: dict, dest: str, log: str) -> str:
    """The first SEND makes the controller create the log; answered by its
    leader (RECEIPT) or with an ERROR naming it. Returns the leader."""
    c = client(brokers["a"].port)
    try:
        c.send(dest, "first")
    except StompError:
        pass  # led elsewhere: the ERROR names it (tested below)
    return wait_for("a leader for " + log, lambda: leader_of(brokers, log))


def read_stream(port: int, dest: str, expected: int) -> list[str]:
    c = client(port)
    c.subscribe(dest, "r", headers={"x-stream-offset": "first", "prefetch-count": "1000"})
    bodies = []
    while len(bodies) < expected:
        f = c.read_frame()
        assert f.command == "MESSAGE", f
        bodies.append(f.body.decode())
    return bodies


def test_send_to_a_replicated_stream_is_receipted_by_its_leader_and_refused_elsewhere(broker_factory, etcd_cluster):
    brokers = start_replicated(broker_factory, etcd_cluster.endpoints, unique("r"))
    wait_for("3 members with replication addresses", lambda: ready(list(brokers.values())))
    name = unique("s")
    dest, log = "/stream/" + name, "stream/%2F/" + name
    leader = create_stream(brokers, dest, log)

    c = client(brokers[leader].port)
    for i in range(20):
        assert c.send(dest, "m-%d" % i).command == "RECEIPT"
    # Receipted means every in-sync replica has it: each follower applies it
    # into its own stream.
    for n, b in brokers.items():
        s = wait_for("%s holds the log" % n, lambda b=b: log_state(b, log))
        assert s["leader"] == leader
        assert sorted(s["isr"]) == ["a", "b", "c"]
        assert sorted(s["replicas"]) == ["a", "b", "c"]
        wait_for("%s applied the writes" % n, lambda b=b: log_state(b, log)["applied"] >= 20)

    # Another broker: an ERROR naming the leader and where clients reach it.
    other = next(n for n in brokers if n != leader)
    c = client(brokers[other].port)
    err = c.expect_error("SEND", {"destination": dest}, b"x")
    assert "the leader is %s" % leader in err.get("message") + err.body.decode(), err
    assert "127.0.0.1:%d" % brokers[leader].port in err.get("message") + err.body.decode(), err

    # ferry cluster status shows the log, its leader, epoch and ISR.
    p = run_ferry("cluster", "status", "--http", "127.0.0.1:%d" % brokers[leader].http_port)
    assert p.returncode == 0, p.stderr
    row = next(line.split() for line in p.stdout.decode().splitlines() if line.startswith(log))
    assert row[1] == leader, row
    assert sorted(row[3].split(",")) == ["a", "b", "c"], row
    assert row[4] == "leader", row


def test_kill_9_of_the_leader_loses_no_receipted_message(broker_factory, etcd_cluster):
    brokers = start_replicated(broker_factory, etcd_cluster.endpoints, unique("r"))
    wait_for("3 members with replication addresses", lambda: ready(list(brokers.values())))
    name = unique("s")
    dest, log = "/stream/" + name, "stream/%2F/" + name
    leader = create_stream(brokers, dest, log)
    first_epoch = log_state(brokers[leader], log)["leader_epoch"]

    receipted: list[str] = []
    stop = threading.Event()

    def produce():
        # Receipted appends until the leader dies under it.
        c = client(brokers[leader].port)
        i = 0
        try:
            while not stop.is_set():
                body = "m-%d" % i
                c.send(dest, body)
                receipted.append(body)
                i += 1
        except Exception:  # noqa: BLE001 - the leader was killed: what was receipted counts
            pass

    t = threading.Thread(target=produce)
    t.start()
    wait_for("writes receipted", lambda: len(receipted) >= 100, timeout=60)
    brokers[leader].kill()  # kill -9: no lease revoke
    brokers[leader].killed = True
    t.join(timeout=60)
    stop.set()
    assert not t.is_alive()
    rest = {n: b for n, b in brokers.items() if n != leader}

    # Within the TTL plus polling; the deadline is generous, not a measurement.
    new = wait_for("another leader", lambda: leader_of(rest, log), timeout=TTL * 5 + 15)
    s = log_state(rest[new], log)
    assert s["leader_epoch"] > first_epoch
    assert leader not in s["isr"]
    assert new in s["isr"]

    # The checker: every receipted message is in the new leader's stream,
    # once, in order (plus at most the writes in flight when it died:
    # written, never receipted).
    wait_for("the new leader applied every receipted write",
             lambda: log_state(rest[new], log)["applied"] >= len(receipted), timeout=30)
    end = log_state(rest[new], log)["applied"]
    bodies = read_stream(rest[new].port, dest, end)
    got = [b for b in bodies if b != "first"]  # the creating SEND, receipted or refused
    lost = [b for b in receipted if b not in set(got)]
    assert lost == [], "confirmed-lost: %d of %d" % (len(lost), len(receipted))
    assert got[:len(receipted)] == receipted  # in order, no duplicate among them
    assert len(got) - len(receipted) <= 1  # at most the one in flight

    # And the new leader takes writes (the remaining two are min-insync).
    c = client(rest[new].port)
    assert c.send(dest, "after").command == "RECEIPT"


def test_below_min_insync_a_send_gets_an_error_and_is_not_written(broker_factory, etcd_cluster):
    # Two brokers: replication factor capped at 2, min-insync 2. With the
    # follower dead, the leader takes it out of the in-sync set (after the
    # replica lag time, 10 s) and refuses writes rather than confirm them
    # unreplicated.
    brokers = start_replicated(broker_factory, etcd_cluster.endpoints, unique("r"), nodes=("a", "b"))
    wait_for("2 members with replication addresses", lambda: ready(list(brokers.values())))
    name = unique("s")
    dest, log = "/stream/" + name, "stream/%2F/" + name
    leader = create_stream(brokers, dest, log)
    c = client(brokers[leader].port)
    assert c.send(dest, "kept").command == "RECEIPT"
    follower = next(n for n in brokers if n != leader)
    brokers[follower].kill()
    brokers[follower].killed = True
    wait_for("the follower out of the in-sync set",
             lambda: log_state(brokers[leader], log)["isr"] == [leader], timeout=60)
    end = log_state(brokers[leader], log)["log_end"]
    c = client(brokers[leader].port)
    with pytest.raises(StompError) as refused:
        c.send(dest, "refused")
    err = refused.value.frame
    text = err.get("message") + err.body.decode()
    assert "not enough in-sync replicas: 1 in sync, min-insync 2" in text, err
    assert log_state(brokers[leader], log)["log_end"] == end  # nothing written


def test_a_leader_restarted_at_once_is_fenced_and_no_receipted_message_is_lost(broker_factory, etcd_cluster):
    # kill -9 of the leader and a new process on the same options at once,
    # within its lease: its replica log is empty (memory-only) while etcd
    # still names it leader and in sync. It must not lead on it (its
    # followers would truncate to match): the controller sees its new
    # incarnation, elects another in-sync member, and the restarted broker
    # fetches the log again before it is back in sync.
    brokers = start_replicated(broker_factory, etcd_cluster.endpoints, unique("r"))
    wait_for("3 members with replication addresses", lambda: ready(list(brokers.values())))
    name = unique("s")
    dest, log = "/stream/" + name, "stream/%2F/" + name
    leader = create_stream(brokers, dest, log)
    first_epoch = log_state(brokers[leader], log)["leader_epoch"]
    c = client(brokers[leader].port)
    receipted = []
    for i in range(30):
        assert c.send(dest, "m-%d" % i).command == "RECEIPT"
        receipted.append("m-%d" % i)

    brokers[leader] = restart(broker_factory, brokers[leader], how="kill")
    new = wait_for("another leader", lambda: leader_of(brokers, log, exclude=(leader,)), timeout=TTL * 5 + 15)
    s = log_state(brokers[new], log)
    assert s["leader_epoch"] > first_epoch
    assert leader_of(brokers, log) == new  # the restarted broker leads nothing

    c = client(brokers[new].port)
    for i in range(10):
        assert c.send(dest, "after-%d" % i).command == "RECEIPT"
        receipted.append("after-%d" % i)
    # Every write was answered, so the whole log is committed: applied up
    # to its end (the creating SEND included if it was the leader's).
    wait_for("the new leader applied its whole log",
             lambda: (lambda s: s["applied"] >= len(receipted) and s["applied"] == s["log_end"])(
                 log_state(brokers[new], log)), timeout=30)
    end = log_state(brokers[new], log)["applied"]
    got = [b for b in read_stream(brokers[new].port, dest, end) if b != "first"]
    assert got == receipted  # every one, once, in order

    # The restarted broker fetched the whole log again and is back in sync.
    wait_for("the restarted broker back in the in-sync set",
             lambda: sorted(log_state(brokers[new], log)["isr"]) == ["a", "b", "c"], timeout=30)
    wait_for("the restarted broker holds the whole log",
             lambda: (log_state(brokers[leader], log) or {}).get("log_end", 0) >= end, timeout=30)
    assert log_state(brokers[leader], log)["role"] == "follower"
