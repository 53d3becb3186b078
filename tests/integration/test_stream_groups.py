"""Consumer groups on streams (issue 13; docs/streams.md "Consumer groups"):
SUBSCRIBE group:NAME on /stream/NAME; one active member per group (the
others stand by and take over when it leaves); the group's committed offset
moves with the active member's ACKs (client, client-individual) or as
entries are sent (auto), is kept on disk (a RECEIPT for an ACK once it is),
and a member that becomes active, after a disconnect, a restart or kill -9,
resumes there. Raw frames, stomp.py and PHP."""
from __future__ import annotations

import os

import pytest

from support import client, end_broker, py_connect, py_rid, run_php, unique
from test_persistence import data_dir, work, work_root  # noqa: F401 (fixtures)
from stream_support import offsets, publish, stream_reader


def member(port, dest, group, sub_id="g", ack="client-individual", **headers):
    return stream_reader(port, dest, sub_id, ack, {"group": group, "prefetch-count": "3", **headers})


def test_member_resumes_after_the_last_acked_entry(broker):
    dest = "/stream/" + unique("s")
    p = client(broker.port)
    publish(p, dest, 10)
    a = member(broker.port, dest, "billing", **{"x-stream-offset": "first"})
    got = a.read_messages(3)
    assert offsets(got) == [0, 1, 2]
    a.ack(got[0])
    a.ack(got[1])  # 2 delivered, never acknowledged
    a.close()
    # The group's next member starts after the last acknowledged entry,
    # whatever its own x-stream-offset says: 2 comes again (at-least-once).
    b = member(broker.port, dest, "billing", **{"x-stream-offset": "next"})
    got = b.read_messages(3)
    assert offsets(got) == [2, 3, 4]
    for m in got:
        b.ack(m)
    b.close()
    # Another group, and a plain reader, are apart from it.
    c = member(broker.port, dest, "audit", **{"x-stream-offset": "first"})
    assert offsets(c.read_messages(3)) == [0, 1, 2]
    d = client(broker.port)
    d.subscribe(dest, "plain", headers={"x-stream-offset": "last"})
    assert offsets(d.read_messages(1)) == [9]
    e = member(broker.port, dest, "billing")
    assert offsets(e.read_messages(3)) == [5, 6, 7]
    for x in (c, d, e, p):
        x.close()


def test_without_a_commit_the_member_starts_where_it_says(broker):
    dest = "/stream/" + unique("s")
    p = client(broker.port)
    publish(p, dest, 4)
    a = member(broker.port, dest, "g1", **{"x-stream-offset": "2"})
    assert offsets(a.read_messages(2)) == [2, 3]
    a.close()  # nothing acknowledged: nothing committed
    b = member(broker.port, dest, "g1", **{"x-stream-offset": "first"})
    assert offsets(b.read_messages(3)) == [0, 1, 2]
    b.close()
    c = member(broker.port, dest, "g1")  # default next: only new entries
    c.assert_no_frame()
    publish(p, dest, 1, prefix="new")
    assert offsets(c.read_messages(1)) == [4]
    c.close()
    p.close()


def test_one_active_member_the_others_stand_by_and_take_over(broker):
    dest = "/stream/" + unique("s")
    p = client(broker.port)
    a = member(broker.port, dest, "workers", "a", **{"x-stream-offset": "first"})
    b = member(broker.port, dest, "workers", "b", **{"x-stream-offset": "first"})
    c = member(broker.port, dest, "workers", "c", **{"x-stream-offset": "first"})
    publish(p, dest, 6)
    got = a.read_messages(3)
    assert offsets(got) == [0, 1, 2]
    b.assert_no_frame()
    c.assert_no_frame()
    for m in got[:2]:
        a.ack(m)
    assert offsets(a.read_messages(2)) == [3, 4]  # its window's room again; not acknowledged
    a.unsubscribe("a")
    # b subscribed next: it takes over from the committed offset.
    got = b.read_messages(3)
    assert offsets(got) == [2, 3, 4]
    assert all(m["subscription"] == "b" for m in got)
    c.assert_no_frame()
    for m in got:
        b.ack(m)
    b.close()  # a connection that goes is a member that leaves
    got = c.read_messages(1)
    assert offsets(got) == [5]
    a.assert_no_frame()
    for x in (a, c, p):
        x.close()


def test_client_mode_ack_commits_cumulatively(broker):
    dest = "/stream/" + unique("s")
    p = client(broker.port)
    publish(p, dest, 6)
    a = member(broker.port, dest, "g", ack="client", **{"x-stream-offset": "first"})
    got = a.read_messages(3)
    a.ack(got[2])  # takes 0, 1 and 2
    assert offsets(a.read_messages(3)) == [3, 4, 5]
    a.close()
    b = member(broker.port, dest, "g", ack="client")
    assert offsets(b.read_messages(3)) == [3, 4, 5]
    b.close()
    p.close()


def test_client_individual_commits_only_up_to_the_first_unacked(broker):
    dest = "/stream/" + unique("s")
    p = client(broker.port)
    publish(p, dest, 5)
    a = member(broker.port, dest, "g", **{"x-stream-offset": "first"})
    got = a.read_messages(3)
    a.ack(got[0])
    a.ack(got[2])  # 1 is still out: the group is committed up to 1
    a.close()
    b = member(broker.port, dest, "g")
    assert offsets(b.read_messages(3)) == [1, 2, 3]
    b.close()
    p.close()


def test_nack_in_a_group_delivers_from_that_entry_again(broker):
    dest = "/stream/" + unique("s")
    p = client(broker.port)
    publish(p, dest, 5)
    a = member(broker.port, dest, "g", **{"x-stream-offset": "first"})
    got = a.read_messages(3)
    a.ack(got[0])
    assert offsets(a.read_messages(1)) == [3]  # the slot 0 gave back
    a.nack(got[1])  # 1 and everything after it (2, 3) come again
    again = a.read_messages(3)
    assert offsets(again) == [1, 2, 3]
    assert again[0].body == b"e-1"
    for m in again:
        a.ack(m)
    a.close()
    b = member(broker.port, dest, "g")
    assert offsets(b.read_messages(1)) == [4]
    b.close()
    p.close()


def test_auto_ack_commits_as_entries_are_sent(broker):
    dest = "/stream/" + unique("s")
    p = client(broker.port)
    publish(p, dest, 4)
    a = client(broker.port)
    a.subscribe(dest, "g", headers={"group": "auto", "x-stream-offset": "first"})
    assert offsets(a.read_messages(4)) == [0, 1, 2, 3]
    a.disconnect()
    publish(p, dest, 2, prefix="later")
    b = client(broker.port)
    b.subscribe(dest, "g", headers={"group": "auto", "x-stream-offset": "first"})
    got = b.read_messages(2)
    assert (offsets(got), got[0].body) == ([4, 5], b"later-0")
    b.assert_no_frame()
    b.close()
    p.close()


@pytest.mark.parametrize("how", ["term", "kill"])
def test_committed_offsets_survive_restart_and_kill9(broker_factory, work, how):
    """Every ACK answered with a RECEIPT is on disk: after a restart (or
    kill -9) the group resumes right after the last receipted ACK; no
    committed entry comes again, none is skipped."""
    ddir = data_dir(work)
    b = broker_factory(data_dir=ddir)
    dest = "/stream/" + unique("s")
    p = client(b.port)
    publish(p, dest, 12)
    a = member(b.port, dest, "durable", **{"x-stream-offset": "first", "prefetch-count": "10"})
    got = a.read_messages(10)
    for m in got[:7]:
        r = a.ack(m)
        assert r.command == "RECEIPT", r
    end_broker(b, how)
    stream_dir = os.path.join(ddir, "streams", "%2F", dest[len("/stream/"):])
    with open(os.path.join(stream_dir, "group-offsets")) as f:
        assert f.read() == "ferry-stream-offsets 1\n7 durable\n"
    b2 = broker_factory(data_dir=ddir)
    c = member(b2.port, dest, "durable", **{"x-stream-offset": "first"})
    assert offsets(c.read_messages(3)) == [7, 8, 9]
    c.close()


def test_group_header_is_checked_and_groups_are_bounded(broker_factory):
    b = broker_factory(max_stream_groups=2)
    dest = "/stream/" + unique("s")
    c = client(b.port)
    err = c.expect_error("SUBSCRIBE", [("destination", dest), ("id", "x"), ("group", "g" * 256)])
    assert err["message"] == "invalid stream group", err
    ok = [member(b.port, dest, g, **{"x-stream-offset": "first"}) for g in ("g1", "g2")]
    more = client(b.port)
    err = more.expect_error("SUBSCRIBE", [("destination", dest), ("id", "x"), ("group", "g3")])
    assert err["message"].startswith("too many stream groups"), err
    assert "max-stream-groups (2)" in err["message"], err
    # A second member of a group that exists is no new group.
    again = member(b.port, dest, "g1")
    # A group that committed keeps its place after its members leave;
    # one that never did is gone with them.
    p = client(b.port)
    publish(p, dest, 1)
    m = ok[0].read_message()
    ok[0].ack(m)
    for x in ok + [again]:
        x.close()
    g3 = member(b.port, dest, "g3", **{"x-stream-offset": "first"})
    assert offsets(g3.read_messages(1)) == [0]
    g4 = client(b.port)
    err = g4.expect_error("SUBSCRIBE", [("destination", dest), ("id", "x"), ("group", "g4")])
    assert err["message"].startswith("too many stream groups"), err
    for x in (g3, p):
        x.close()


def test_group_from_stomp_py_with_the_rabbitmq_dialect(broker):
    """A RabbitMQ stream user's stomp.py code (x-queue-type:stream on
    /queue/NAME) with Kafka's group.id: the second connection resumes."""
    name = unique("rmq")
    conn, lst = py_connect(broker.port)
    for i in range(6):
        rid = py_rid()
        conn.send("/queue/" + name, "m%d" % i, headers={"x-queue-type": "stream", "receipt": rid})
        lst.wait_receipt(rid)
    rid = py_rid()
    conn.subscribe("/queue/" + name, id="w", ack="client-individual",
                   headers={"x-queue-type": "stream", "x-stream-offset": "first", "prefetch-count": "4",
                            "group.id": "orders-service", "receipt": rid})
    lst.wait_receipt(rid)
    got = [lst.get() for _ in range(4)]
    assert [int(m.headers["x-stream-offset"]) for m in got] == [0, 1, 2, 3]
    for m in got[:3]:
        rid = py_rid()
        conn.ack(m.headers["ack"], receipt=rid)
        lst.wait_receipt(rid)
    conn.disconnect()
    conn, lst = py_connect(broker.port)
    rid = py_rid()
    conn.subscribe("/queue/" + name, id="w", ack="client-individual",
                   headers={"x-queue-type": "stream", "prefetch-count": "4", "group.id": "orders-service",
                            "receipt": rid})
    lst.wait_receipt(rid)
    got = [lst.get() for _ in range(3)]
    assert [m.body for m in got] == ["m3", "m4", "m5"]
    conn.disconnect()


def test_php_workers_share_a_group(broker):
    dest = "/stream/" + unique("php")
    r = run_php("produce.php", broker.port, dest, 7, "php")
    assert r["sent"] == 7
    hdrs = '{"group":"php-workers","x-stream-offset":"first","ack":"client-individual","prefetch-count":"1"}'
    first = run_php("consume.php", broker.port, dest, 3, hdrs)["frames"]
    assert [f["body"] for f in first] == ["php-0", "php-1", "php-2"]
    rest = run_php("consume.php", broker.port, dest, 4, hdrs)["frames"]
    assert [f["body"] for f in rest] == ["php-3", "php-4", "php-5", "php-6"]
    assert [int(f["headers"]["x-stream-offset"]) for f in rest] == [3, 4, 5, 6]


def test_failed_offsets_write_is_an_error_never_a_receipt(broker_factory, work):
    from test_disk_faults import faultfs_env, injected
    ddir = data_dir(work)
    control = work / "faultfs.ctl"
    control.write_text("")
    b = broker_factory(data_dir=ddir, env=faultfs_env(ddir, control))
    dest = "/stream/" + unique("fault")
    p = client(b.port)
    publish(p, dest, 4)
    a = member(b.port, dest, "g", **{"x-stream-offset": "first"})
    got = a.read_messages(3)
    assert a.ack(got[0]).command == "RECEIPT"  # committed 1
    control.write_text("eio-fsync\n")
    err = a.expect_error("ACK", [("id", got[1]["ack"])])
    assert err["message"].startswith("cannot write group offsets"), err
    assert injected(control) > 0
    control.write_text("")
    p.close()
    b.kill()
    b2 = broker_factory(data_dir=ddir)
    c = member(b2.port, dest, "g")
    assert offsets(c.read_messages(3)) == [1, 2, 3]  # the refused ACK committed nothing
    c.close()


def test_streams_and_their_groups_in_the_management_api(broker):
    """GET /api/queues lists a stream as RabbitMQ lists a stream queue
    ("type": "stream", messages = entries kept), with its offsets, segments,
    arguments and each group's committed offset, members and lag."""
    from mgmt import Api
    name = unique("api")
    dest = "/stream/" + name
    p = client(broker.port)
    p.send(dest, "e-0", headers={"x-max-age": "7D"})
    publish(p, dest, 4)
    a = member(broker.port, dest, "billing", **{"x-stream-offset": "first"})
    got = a.read_messages(3)
    a.ack(got[0])
    a.ack(got[1])
    idle = member(broker.port, dest, "fresh")  # next: no commit yet
    api = Api(broker)
    rows = [r for r in api.get("/api/queues") if r["name"] == name]
    assert len(rows) == 1, rows
    s = rows[0]
    assert (s["type"], s["destination"], s["vhost"], s["durable"]) == ("stream", dest, "/", True)
    assert (s["messages"], s["messages_ready"], s["messages_unacknowledged"]) == (5, 5, 0)
    assert (s["first_offset"], s["end_offset"], s["consumers"]) == (0, 5, 2)
    assert s["segments"] >= 1 and s["disk_bytes"] > 0
    assert s["arguments"] == {"x-queue-type": "stream", "x-max-age": "7D"}
    assert s["groups"] == [
        {"name": "billing", "members": 1, "committed_offset": 2, "lag": 3},
        {"name": "fresh", "members": 1, "committed_offset": None, "lag": None},
    ]
    # Per vhost too, and beside the queues.
    assert [r["name"] for r in api.get("/api/queues/%2F") if r["name"] == name] == [name]
    # And on its own (the console's queue page links there), as listed.
    one = api.get("/api/queues/%2F/" + name)
    assert (one["type"], one["messages"], one["groups"]) == ("stream", 5, s["groups"]), one
    assert api.raw("GET", "/api/queues/%2F/" + unique("nothing"))[0] == 404
    for x in (a, idle, p):
        x.close()


def test_stream_and_group_metrics(broker):
    from test_metrics import scrape, value
    name = unique("met")
    dest = "/stream/" + name
    p = client(broker.port)
    publish(p, dest, 6)
    a = member(broker.port, dest, "billing", **{"x-stream-offset": "first"})
    got = a.read_messages(3)
    a.ack(got[0])
    a.ack(got[1])
    f = scrape(broker)
    assert value(f, "ferry_stream_messages", vhost="/", stream=name) == 6
    assert value(f, "ferry_stream_end_offset", vhost="/", stream=name) == 6
    assert value(f, "ferry_stream_consumers", vhost="/", stream=name) == 1
    assert value(f, "ferry_stream_segments", vhost="/", stream=name) >= 1
    assert value(f, "ferry_stream_group_committed_offset", vhost="/", stream=name, group="billing") == 2
    assert value(f, "ferry_stream_group_lag", vhost="/", stream=name, group="billing") == 4
    a.close()
    p.close()
