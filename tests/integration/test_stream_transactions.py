"""A SEND to a stream inside a STOMP transaction (issue 13; docs/streams.md
"Transactions"): nothing is appended before COMMIT; at COMMIT the
transaction's entries for each partition are appended as one batch (all
of them or none), its RECEIPT once they are on disk; ABORT appends
nothing. Raw frames, stomp.py and PHP; kill -9 after the COMMIT's RECEIPT."""
from __future__ import annotations

import pytest

from support import client, end_broker, py_connect, py_rid, run_php, unique
from test_persistence import data_dir, work, work_root  # noqa: F401 (fixtures)
from stream_support import offsets, publish, stream_reader


def read_all(port, dest, n, **headers):
    c = stream_reader(port, dest, "all", headers={"x-stream-offset": "first", "prefetch-count": "100", **headers})
    got = c.read_messages(n) if n else []
    c.assert_no_frame()
    c.close()
    return got


def test_sends_are_appended_at_commit_and_abort_appends_nothing(broker):
    dest = "/stream/" + unique("tx")
    p = client(broker.port)
    publish(p, dest, 1, prefix="before")
    tail = client(broker.port)
    tail.subscribe(dest, "t", headers={"x-stream-offset": "next", "prefetch-count": "100"})
    p.request("BEGIN", [("transaction", "t1")])
    for i in range(3):
        r = p.send(dest, "tx-%d" % i, headers={"transaction": "t1"})
        assert r.command == "RECEIPT", r
    tail.assert_no_frame()  # nothing before COMMIT
    assert [f.body for f in read_all(broker.port, dest, 1)] == [b"before-0"]
    r = p.request("COMMIT", [("transaction", "t1")])
    assert r.command == "RECEIPT", r
    got = tail.read_messages(3)
    assert [f.body for f in got] == [b"tx-0", b"tx-1", b"tx-2"]
    assert offsets(got) == [1, 2, 3]
    assert all("transaction" not in f.names() for f in got)
    # ABORT: nothing appended; the next entry takes the next offset.
    p.request("BEGIN", [("transaction", "t2")])
    p.send(dest, "gone", headers={"transaction": "t2"})
    r = p.request("ABORT", [("transaction", "t2")])
    assert r.command == "RECEIPT", r
    publish(p, dest, 1, prefix="after")
    got = tail.read_messages(1)
    assert (got[0].body, offsets(got)) == (b"after-0", [4])
    tail.assert_no_frame()
    for x in (p, tail):
        x.close()


def test_a_refused_commit_appends_nothing(broker):
    """The transaction's second SEND names the stream with another
    argument: the COMMIT is an ERROR and neither entry is in the stream."""
    dest = "/stream/" + unique("tx")
    p = client(broker.port)
    r = p.send(dest, "declared", headers={"x-max-age": "7D"})
    assert r.command == "RECEIPT", r
    p.request("BEGIN", [("transaction", "t1")])
    p.send(dest, "one", headers={"transaction": "t1"})
    p.send(dest, "two", headers={"transaction": "t1", "x-max-age": "1h"})
    err = p.expect_error("COMMIT", [("transaction", "t1")])
    assert "inequivalent arg 'x-max-age'" in err["message"], err
    assert [f.body for f in read_all(broker.port, dest, 1)] == [b"declared"]


def test_a_transaction_to_a_partitioned_stream_and_a_queue(broker):
    from test_stream_partitions import kafka_partition
    name = unique("tx")
    dest = "/stream/" + name
    queue = "/queue/" + unique("txq")
    p = client(broker.port)
    r = p.send(dest, "declare", headers={"x-stream-partitions": "3", "partition-key": "k0"})
    assert r.command == "RECEIPT", r
    q = client(broker.port)
    q.subscribe(queue, "q")
    p.request("BEGIN", [("transaction", "t1")])
    keys = ["k%d" % i for i in range(9)]
    for k in keys:
        p.send(dest, k, headers={"transaction": "t1", "partition-key": k})
    p.send(queue, "to-the-queue", headers={"transaction": "t1"})
    q.assert_no_frame()
    r = p.request("COMMIT", [("transaction", "t1")])
    assert r.command == "RECEIPT", r
    assert q.read_message().body == b"to-the-queue"
    for part in range(3):
        want = [b"declare"] if kafka_partition("k0", 3) == part else []
        want += [k.encode() for k in keys if kafka_partition(k, 3) == part]
        got = read_all(broker.port, dest, len(want), partition=str(part))
        assert [f.body for f in got] == want, part
    for x in (p, q):
        x.close()


@pytest.mark.parametrize("how", ["term", "kill"])
def test_committed_entries_survive_restart_and_kill9(broker_factory, work, how):
    ddir = data_dir(work)
    b = broker_factory(data_dir=ddir)
    dest = "/stream/" + unique("tx")
    p = client(b.port)
    p.request("BEGIN", [("transaction", "t1")])
    for i in range(5):
        p.send(dest, "e-%d" % i, headers={"transaction": "t1"})
    r = p.request("COMMIT", [("transaction", "t1")])
    assert r.command == "RECEIPT", r
    p.request("BEGIN", [("transaction", "t2")])
    p.send(dest, "never", headers={"transaction": "t2"})  # never committed
    end_broker(b, how)
    b2 = broker_factory(data_dir=ddir)
    got = read_all(b2.port, dest, 5)
    assert [f.body for f in got] == [b"e-%d" % i for i in range(5)]
    assert offsets(got) == [0, 1, 2, 3, 4]


def test_stomp_py_and_php_transactions(broker):
    dest = "/stream/" + unique("tx")
    conn, lst = py_connect(broker.port)
    tx = conn.begin()
    for i in range(3):
        conn.send(dest, "py-%d" % i, transaction=tx)
    rid = py_rid()
    conn.commit(tx, headers={"receipt": rid})
    lst.wait_receipt(rid)
    tx = conn.begin()
    conn.send(dest, "py-aborted", transaction=tx)
    rid = py_rid()
    conn.abort(tx, headers={"receipt": rid})
    lst.wait_receipt(rid)
    conn.disconnect()
    res = run_php("stream_tx.php", broker.port, dest)
    assert res["abort1"] and res["commit2"], res
    got = read_all(broker.port, dest, 6)
    assert [f.body.decode() for f in got] == ["py-0", "py-1", "py-2", "committed-0", "committed-1", "committed-2"]
