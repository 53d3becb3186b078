"""Partitioned streams (issue 13; docs/streams.md "Using streams over STOMP", "Partitions"):
`x-stream-partitions:N` declares a stream of N partition logs; a SEND's
`partition-key` (or Kafka's `key`) picks its partition with Kafka's murmur2
partitioner, keyless SENDs go in sticky batches; a plain reader reads one
partition (`partition:P`) or all; a consumer group's members share the
partitions (Kafka's range assignment, rebalanced as members join and
leave) with a committed offset per group and partition, kept across a
restart and kill -9. Raw frames, stomp.py and PHP."""
from __future__ import annotations

import os

import pytest

from support import client, end_broker, py_connect, py_rid, run_php, unique
from test_persistence import data_dir, work, work_root  # noqa: F401 (fixtures)
from stream_support import offsets, stream_reader


def murmur2(data: bytes) -> int:
    """Kafka's Utils.murmur2, as an unsigned 32-bit value."""
    m, r = 0x5BD1E995, 24
    n = len(data)
    h = (0x9747B28C ^ n) & 0xFFFFFFFF
    for i in range(n // 4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = n & ~3
    rest = n % 4
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def kafka_partition(key: str, partitions: int) -> int:
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def test_the_python_partitioner_is_kafkas():
    # The values src/stream/partitioner_test.cc pins (Kafka's own).
    assert kafka_partition("order-42", 6) == 0
    assert kafka_partition("order-42", 10) == 4
    assert kafka_partition("customer-7", 6) == 1
    assert kafka_partition("hello", 10) == 9


def send_keyed(c, dest, keys, header="partition-key", extra=None):
    for i, k in enumerate(keys):
        hs = {header: k}
        hs.update(extra or {})
        r = c.send(dest, "%s:%d" % (k, i), headers=hs)
        assert r.command == "RECEIPT", r


def reader(port, dest, sub_id="r", **headers):
    return stream_reader(port, dest, sub_id, headers={"x-stream-offset": "first", "prefetch-count": "200", **headers})


KEYS = ["order-%d" % (i % 9) for i in range(45)]


def test_a_key_picks_its_partition_and_order_per_key_holds(broker):
    dest = "/stream/" + unique("p")
    p = client(broker.port)
    r = p.send(dest, "declare", headers={"x-stream-partitions": "4", "partition-key": "order-0"})
    assert r.command == "RECEIPT", r
    send_keyed(p, dest, KEYS[:30])
    send_keyed(p, dest, KEYS[30:], header="key")  # Kafka users' spelling
    expected = {q: [] for q in range(4)}
    for i, k in enumerate(["order-0"] + KEYS):
        expected[kafka_partition(k, 4)].append("declare" if i == 0 else "%s:%d" % (k, (i - 1) % 30 if i <= 30 else i - 31))
    for q in range(4):
        c = reader(broker.port, dest, **{"partition": str(q)})
        got = c.read_messages(len(expected[q])) if expected[q] else []
        c.assert_no_frame()
        assert [f.body.decode() for f in got] == expected[q], q
        assert offsets(got) == list(range(len(got)))  # each partition its own offsets
        assert all(f["partition"] == str(q) for f in got)
        c.close()
    # All partitions: every entry once, each with its partition; per key in order.
    c = reader(broker.port, dest)
    got = c.read_messages(46)
    c.assert_no_frame()
    per_key = {}
    for f in got:
        body = f.body.decode()
        key = "order-0" if body == "declare" else body.split(":")[0]
        assert int(f["partition"]) == kafka_partition(key, 4), f
        per_key.setdefault(key, []).append(int(f["x-stream-offset"]))
    assert sum(len(v) for v in per_key.values()) == 46
    for key, offs in per_key.items():
        assert offs == sorted(offs), key
    # A reader at the tail of every partition gets new entries from each.
    tail = reader(broker.port, dest, "t", **{"x-stream-offset": "next"})
    send_keyed(p, dest, ["order-1", "order-2", "order-3"])
    got = tail.read_messages(3)
    assert sorted(f.body.decode() for f in got) == ["order-1:0", "order-2:1", "order-3:2"]
    for x in (p, c, tail):
        x.close()


def test_keyless_sends_fill_partitions_in_sticky_batches(broker):
    dest = "/stream/" + unique("p")
    p = client(broker.port)
    for i in range(64):
        r = p.send(dest, "e-%d" % i, headers={"x-stream-partitions": "4"})
        assert r.command == "RECEIPT", r
    counts = []
    for q in range(4):
        c = reader(broker.port, dest, **{"partition": str(q)})
        got = c.read_messages(16)
        c.assert_no_frame()
        # 16 in a row to one partition, then the next (Kafka's sticky partitioner).
        assert [f.body.decode() for f in got] == ["e-%d" % i for i in range(16 * q, 16 * q + 16)]
        counts.append(len(got))
        c.close()
    assert counts == [16, 16, 16, 16]
    p.close()


def test_partition_arguments_are_checked(broker_factory):
    b = broker_factory(max_stream_partitions=8)
    dest = "/stream/" + unique("p")
    c = client(b.port)
    for bad in ("0", "x", "4097"):
        err = c.expect_error("SEND", [("destination", dest), ("x-stream-partitions", bad)])
        assert err["message"].startswith("invalid stream argument"), err
        c = client(b.port)
    err = c.expect_error("SEND", [("destination", dest), ("x-stream-partitions", "9")])
    assert "max-stream-partitions (8)" in err["message"], err
    c = client(b.port)
    r = c.send(dest, "x", headers={"x-stream-partitions": "8"})
    assert r.command == "RECEIPT", r
    err = c.expect_error("SUBSCRIBE", [("destination", dest), ("id", "a"), ("partition", "8")])
    assert err["message"].startswith("invalid stream partition"), err
    c = client(b.port)
    err = c.expect_error("SUBSCRIBE", [("destination", dest), ("id", "a"), ("partition", "one")])
    assert err["message"].startswith("invalid stream partition"), err
    c = client(b.port)
    err = c.expect_error("SUBSCRIBE", [("destination", dest), ("id", "a"), ("partition", "1"), ("group", "g")])
    assert err["message"].startswith("invalid stream partition"), err
    c = client(b.port)
    err = c.expect_error("SUBSCRIBE", [("destination", dest), ("id", "a"), ("x-stream-partitions", "4")])
    assert "inequivalent arg 'x-stream-partitions'" in err["message"], err
    assert "received '4' but current is '8'" in err["message"], err


def group_member(port, dest, group, sub_id):
    return stream_reader(port, dest, sub_id, "client-individual",
                         {"group": group, "prefetch-count": "100", "x-stream-offset": "first"})


def drain(c):
    """Every MESSAGE the member gets now, by partition."""
    got = {}
    while True:
        f = c.try_read_frame()
        if f is None:
            return got
        assert f.command == "MESSAGE", f
        got.setdefault(int(f["partition"]), []).append(f)


def ack_all(m, by_partition):
    for frames in by_partition.values():
        for f in frames:
            r = m.ack(f)
            assert r.command == "RECEIPT", r


def fill(p, dest, partitions, per_partition):
    """per_partition entries in each partition (keys chosen by the partitioner)."""
    keys = {}
    i = 0
    while len(keys) < partitions:
        k = "k%d" % i
        keys.setdefault(kafka_partition(k, partitions), k)
        i += 1
    for n in range(per_partition):
        for q in range(partitions):
            r = p.send(dest, "%d-%d" % (q, n), headers={"partition-key": keys[q]})
            assert r.command == "RECEIPT", r
    return keys


def test_a_group_shares_partitions_and_rebalances_as_members_join_and_leave(broker):
    """3 members over 6 partitions: two each (Kafka's range assignment in
    subscription order). One leaves without acknowledging: its partitions
    go to the others, who get its unacknowledged entries again. A new
    member takes partitions from the others."""
    dest = "/stream/" + unique("p")
    p = client(broker.port)
    p.send(dest, "declare", headers={"x-stream-partitions": "6", "partition-key": "x"})
    a = group_member(broker.port, dest, "workers", "a")
    b = group_member(broker.port, dest, "workers", "b")
    c = group_member(broker.port, dest, "workers", "c")
    for m in (a, b, c):
        ack_all(m, drain(m))  # the declaring entry, wherever it went
    keys = fill(p, dest, 6, 2)
    got = {name: drain(m) for name, m in (("a", a), ("b", b), ("c", c))}
    assert sorted(got["a"]) == [0, 1] and sorted(got["b"]) == [2, 3] and sorted(got["c"]) == [4, 5], got
    ack_all(a, got["a"])
    ack_all(b, got["b"])
    # c acknowledged none of them and its connection drops: 4 and 5 go to
    # b (a 0-2, b 3-5) with their entries again (at-least-once); a takes
    # 2 from b, who had acknowledged all of it: nothing comes again there.
    c.close()
    again_a, again_b = drain(a), drain(b)
    assert again_a == {}, again_a
    assert sorted(again_b) == [4, 5], again_b
    for q in (4, 5):
        assert [f.body.decode() for f in again_b[q]] == ["%d-0" % q, "%d-1" % q]
    ack_all(b, again_b)
    for q in range(6):
        r = p.send(dest, "%d-new" % q, headers={"partition-key": keys[q]})
        assert r.command == "RECEIPT", r
    new_a, new_b = drain(a), drain(b)
    assert sorted(new_a) == [0, 1, 2] and sorted(new_b) == [3, 4, 5], (new_a, new_b)
    assert [f.body.decode() for f in new_a[2]] == ["2-new"]
    ack_all(a, new_a)
    ack_all(b, new_b)
    # A third and fourth join: 6 over 4 members is 2, 2, 1, 1.
    d = group_member(broker.port, dest, "workers", "d")
    e = group_member(broker.port, dest, "workers", "e")
    fill(p, dest, 6, 1)
    parts = {name: sorted(drain(m)) for name, m in (("a", a), ("b", b), ("d", d), ("e", e))}
    assert parts == {"a": [0, 1], "b": [2, 3], "d": [4], "e": [5]}, parts
    for x in (a, b, d, e, p):
        x.close()


@pytest.mark.parametrize("how", ["term", "kill"])
def test_offsets_per_partition_survive_restart_and_kill9(broker_factory, work, how):
    ddir = data_dir(work)
    b = broker_factory(data_dir=ddir)
    name = unique("p")
    dest = "/stream/" + name
    p = client(b.port)
    p.send(dest, "declare", headers={"x-stream-partitions": "3", "partition-key": "x"})
    keys = fill(p, dest, 3, 4)
    m = group_member(b.port, dest, "durable", "m")
    got = drain(m)
    assert sorted(got) == [0, 1, 2]
    # Acknowledge the first two entries of partition 0, three of 1, none of 2.
    acked = {0: 2, 1: 3, 2: 0}
    for q, n in acked.items():
        for f in got[q][:n]:
            assert m.ack(f).command == "RECEIPT"
    first = {q: int(got[q][0]["x-stream-offset"]) for q in got}
    end_broker(b, how)
    stream_dir = os.path.join(ddir, "streams", "%2F", name)
    assert os.path.exists(os.path.join(stream_dir, "group-offsets"))
    assert os.path.exists(os.path.join(stream_dir, "1", "group-offsets"))
    b2 = broker_factory(data_dir=ddir)
    m2 = group_member(b2.port, dest, "durable", "m")
    resumed = drain(m2)
    for q in range(3):
        # Right after the last receipted ACK of each partition; nothing skipped.
        want = [f.body for f in got[q][acked[q]:]]
        assert [f.body for f in resumed[q]] == want, q
        assert int(resumed[q][0]["x-stream-offset"]) == first[q] + acked[q]
    # The keys still pick the same partitions after the restart.
    p2 = client(b2.port)
    r = p2.send(dest, "after", headers={"partition-key": keys[2]})
    assert r.command == "RECEIPT"
    late = m2.read_message()
    assert (late.body, late["partition"]) == (b"after", "2")
    for x in (m2, p2):
        x.close()


def test_rabbitmq_dialect_and_stomp_py(broker):
    """A RabbitMQ user's stream queue with partitions, from stomp.py."""
    name = unique("rmq")
    conn, lst = py_connect(broker.port)
    for i, k in enumerate(["a", "b", "c", "a", "b", "c"]):
        rid = py_rid()
        conn.send("/queue/" + name, "m%d-%s" % (i, k),
                  headers={"x-queue-type": "stream", "x-stream-partitions": "2", "partition-key": k,
                           "receipt": rid})
        lst.wait_receipt(rid)
    q = kafka_partition("a", 2)
    rid = py_rid()
    conn.subscribe("/queue/" + name, id="r", ack="client-individual",
                   headers={"x-queue-type": "stream", "x-stream-offset": "first", "partition": str(q),
                            "prefetch-count": "10", "receipt": rid})
    lst.wait_receipt(rid)
    want = [b for b in ("m0-a", "m1-b", "m2-c", "m3-a", "m4-b", "m5-c")
            if kafka_partition(b.split("-")[1], 2) == q]
    got = [lst.get() for _ in want]
    assert [m.body for m in got] == want
    assert all(m.headers["partition"] == str(q) for m in got)
    conn.disconnect()


def test_php_reads_one_partition(broker):
    dest = "/stream/" + unique("php")
    p = client(broker.port)
    p.send(dest, "declare", headers={"x-stream-partitions": "2", "partition-key": "k1"})
    send_keyed(p, dest, ["k1", "k2", "k3", "k4"])
    q = kafka_partition("k1", 2)
    want = ["declare"] + ["k%d:%d" % (i + 1, i) for i in range(4) if kafka_partition("k%d" % (i + 1), 2) == q]
    hdrs = '{"x-stream-offset":"first","partition":"%d","ack":"client-individual"}' % q
    frames = run_php("consume.php", broker.port, dest, len(want), hdrs)["frames"]
    assert [f["body"] for f in frames] == want
    assert {f["headers"]["partition"] for f in frames} == {str(q)}
    p.close()


def test_partitioned_stream_in_the_management_api(broker):
    from mgmt import Api
    name = unique("api")
    dest = "/stream/" + name
    p = client(broker.port)
    p.send(dest, "x", headers={"x-stream-partitions": "3", "partition-key": "a"})
    fill(p, dest, 3, 2)
    m = group_member(broker.port, dest, "g", "m")
    got = drain(m)
    f = got[0][0]
    assert m.ack(f).command == "RECEIPT"
    rows = [r for r in Api(broker).get("/api/queues") if r["name"] == name]
    assert len(rows) == 1, rows
    s = rows[0]
    assert s["partitions"] == 3
    assert s["arguments"] == {"x-queue-type": "stream", "x-stream-partitions": 3}
    assert (s["first_offset"], s["end_offset"], s["messages"]) == (0, 7, 7)
    # Committed over partitions: 1 in partition 0, none in the others (their first offsets).
    assert s["groups"] == [{"name": "g", "members": 1, "committed_offset": 1, "lag": 6}]
    m.close()
    p.close()


def test_kill9_during_keyed_appends_keeps_every_receipted_entry(broker_factory, work):
    """Producers append keyed entries to 4 partitions with receipts while
    the broker is killed: after the restart every receipted entry is in
    its key's partition, each partition's offsets are contiguous from 0,
    and per key the order holds."""
    import threading
    ddir = data_dir(work)
    b = broker_factory(data_dir=ddir)
    dest = "/stream/" + unique("crash")
    setup = client(b.port)
    r = setup.send(dest, "declare", headers={"x-stream-partitions": "4", "partition-key": "k0"})
    assert r.command == "RECEIPT", r
    setup.close()
    receipted = {i: [] for i in range(3)}
    started = threading.Event()

    def produce(i):
        try:
            c = client(b.port)
            n = 0
            while True:
                key = "k%d" % (n % 5)
                f = c.send(dest, "%d-%d-%s" % (i, n, key), headers={"partition-key": key})
                if f.command != "RECEIPT":
                    return
                receipted[i].append((key, "%d-%d-%s" % (i, n, key)))
                n += 1
                if n == 20:
                    started.set()
        except Exception:
            return  # the broker went away

    threads = [threading.Thread(target=produce, args=(i,), daemon=True) for i in range(3)]
    for t in threads:
        t.start()
    assert started.wait(10)
    b.kill()
    for t in threads:
        t.join(10)
    b2 = broker_factory(data_dir=ddir)
    kept = {}
    for q in range(4):
        c = client(b2.port)
        c.subscribe(dest, "r", headers={"x-stream-offset": "first", "partition": str(q), "prefetch-count": "1000"})
        frames = []
        while True:
            f = c.try_read_frame()
            if f is None:
                break
            frames.append(f)
        c.close()
        assert offsets(frames) == list(range(len(frames))), q
        for f in frames:
            body = f.body.decode()
            if body != "declare":
                assert kafka_partition(body.split("-")[2], 4) == q, body
            kept[body] = int(f["x-stream-offset"])
    for i, sent in receipted.items():
        assert sent, i
        prev = {}
        for key, body in sent:
            assert body in kept, body  # receipted: on disk
            q = kafka_partition(key, 4)
            assert kept[body] > prev.get(q, -1)  # order per key (and per producer) holds
            prev[q] = kept[body]
