"""Streams over STOMP (issue 13, first slice; docs/streams.md "Using streams
over STOMP"): /stream/NAME created on first use, SEND appends (RECEIPT once
the entry is on disk), SUBSCRIBE reads from x-stream-offset (first, last,
next, N, timestamp=T, an interval) with MESSAGE frames carrying
x-stream-offset, windows as on queues, readers following the tail, streams
surviving a restart and kill -9, and RabbitMQ's x-queue-type:stream dialect.
Raw frames, stomp.py and PHP."""
from __future__ import annotations

import os
import time

import pytest

import support
from support import client, end_broker, py_connect, py_rid, run_php, unique
from test_persistence import data_dir, work, work_root  # noqa: F401 (fixtures)
from test_auth import users_file  # noqa: F401 (fixture)
from stream_support import offsets, publish


def test_publish_with_receipts_and_read_from_each_offset_kind(broker):
    dest = "/stream/" + unique("s")
    p = client(broker.port)
    publish(p, dest, 5)
    cases = {
        "first": [0, 1, 2, 3, 4],
        "last": [4],            # each SEND is its own batch: the last batch is the last entry
        "2": [2, 3, 4],
        "timestamp=0": [0, 1, 2, 3, 4],
        "1h": [0, 1, 2, 3, 4],  # an interval: entries from the last hour
        "999": [],              # past the end: clamped to the end, waits for new entries
        "next": [],
    }
    readers = {}
    for i, (spec, want) in enumerate(cases.items()):
        c = client(broker.port)
        c.subscribe(dest, "r%d" % i, headers={"x-stream-offset": spec})
        got = c.read_messages(len(want)) if want else []
        assert offsets(got) == want, spec
        assert [m.body for m in got] == [b"e-%d" % o for o in want], spec
        for m in got:
            assert m["destination"] == dest
            assert m["subscription"] == "r%d" % i
        c.assert_no_frame()
        readers[spec] = c
    # Every reader is at the tail now: a new entry reaches each of them.
    publish(p, dest, 1, prefix="tail")
    for spec, c in readers.items():
        m = c.read_message()
        assert (int(m["x-stream-offset"]), m.body) == (5, b"tail-0"), spec
        c.close()
    p.close()


def test_default_is_next_and_headers_travel(broker):
    dest = "/stream/" + unique("s")
    p = client(broker.port)
    publish(p, dest, 2)
    c = client(broker.port)
    c.subscribe(dest, "s1")  # no x-stream-offset: next
    c.assert_no_frame()
    p.send(dest, "hello", headers={"color": "blue", "partition-key": "k1"})
    m = c.read_message()
    assert (m["x-stream-offset"], m.body, m["color"], m["partition-key"]) == ("2", b"hello", "blue", "k1")
    assert m["message-id"]
    c.close()
    p.close()


def test_timestamp_offset_starts_at_the_first_entry_at_or_after_it(broker):
    dest = "/stream/" + unique("s")
    p = client(broker.port)
    publish(p, dest, 3, prefix="before")
    # The next whole second after those appends: they are all before it.
    t = int(time.time()) + 1
    while time.time() < t:
        time.sleep(0.05)
    publish(p, dest, 2, prefix="after")
    c = client(broker.port)
    c.subscribe(dest, "ts", headers={"x-stream-offset": "timestamp=%d" % t})
    got = c.read_messages(2)
    assert (offsets(got), [m.body for m in got]) == ([3, 4], [b"after-0", b"after-1"])
    c.assert_no_frame()
    c.close()
    p.close()


def test_unsubscribed_reader_gets_nothing_more(broker):
    dest = "/stream/" + unique("s")
    p = client(broker.port)
    c = client(broker.port)
    c.subscribe(dest, "u", headers={"x-stream-offset": "first"})
    publish(p, dest, 1)
    assert offsets(c.read_messages(1)) == [0]
    c.unsubscribe("u")
    publish(p, dest, 2)
    c.assert_no_frame()
    # The same id again: a new reader, from where it says.
    c.subscribe(dest, "u", headers={"x-stream-offset": "1"})
    assert offsets(c.read_messages(2)) == [1, 2]
    c.close()
    p.close()


def test_two_readers_at_their_own_positions(broker):
    dest = "/stream/" + unique("s")
    p = client(broker.port)
    publish(p, dest, 6)
    a = client(broker.port)
    b = client(broker.port)
    a.subscribe(dest, "a", ack="client-individual", headers={"x-stream-offset": "first", "prefetch-count": "2"})
    b.subscribe(dest, "b", headers={"x-stream-offset": "4"})
    first_two = a.read_messages(2)
    assert offsets(first_two) == [0, 1]
    assert offsets(b.read_messages(2)) == [4, 5]
    a.assert_no_frame()  # its window is full
    for m in first_two:
        a.ack(m)
    assert offsets(a.read_messages(2)) == [2, 3]
    publish(p, dest, 1, prefix="new")
    assert offsets(b.read_messages(1)) == [6]
    b.assert_no_frame()
    for c in (a, b, p):
        c.close()


def test_window_respected_and_acks_move_nothing(broker):
    dest = "/stream/" + unique("s")
    p = client(broker.port)
    publish(p, dest, 10)
    c = client(broker.port)
    c.subscribe(dest, "w", ack="client", headers={"x-stream-offset": "first", "activemq.prefetchSize": "3"})
    got = c.read_messages(3)
    assert offsets(got) == [0, 1, 2]
    c.assert_no_frame()
    c.ack(got[0])  # frees one slot
    assert offsets(c.read_messages(1)) == [3]
    c.assert_no_frame()
    c.ack(got[2])  # cumulative (client mode): takes 1 and 2 too
    assert offsets(c.read_messages(2)) == [4, 5]
    c.close()
    # A new reader from first still sees everything: acks removed nothing.
    d = client(broker.port)
    d.subscribe(dest, "again", headers={"x-stream-offset": "first"})
    assert offsets(d.read_messages(10)) == list(range(10))
    d.close()
    p.close()


def test_nack_frees_the_slot_and_redelivers_nothing(broker):
    dest = "/stream/" + unique("s")
    p = client(broker.port)
    publish(p, dest, 3)
    c = client(broker.port)
    c.subscribe(dest, "n", ack="client-individual", headers={"x-stream-offset": "first", "prefetch-count": "1"})
    m0 = c.read_message()
    assert m0["x-stream-offset"] == "0"
    c.assert_no_frame()
    c.nack(m0)
    m1 = c.read_message()
    assert m1["x-stream-offset"] == "1"
    c.close()
    p.close()


def test_acks_out_of_order_each_free_one_slot(broker):
    dest = "/stream/" + unique("s")
    p = client(broker.port)
    publish(p, dest, 8)
    c = client(broker.port)
    c.subscribe(dest, "o", ack="client-individual", headers={"x-stream-offset": "first", "prefetch-count": "3"})
    m0, m1, m2 = c.read_messages(3)
    c.ack(m1)
    assert offsets(c.read_messages(1)) == [3]
    c.assert_no_frame()
    c.ack(m2)
    m4 = c.read_message()
    assert m4["x-stream-offset"] == "4"
    c.assert_no_frame()
    c.ack(m0)
    assert offsets(c.read_messages(1)) == [5]
    c.assert_no_frame()
    c.close()
    p.close()


def test_auto_ack_window_credit(broker):
    # An auto-ack reader with a small window gets everything: credit comes
    # back as frames are written.
    dest = "/stream/" + unique("s")
    p = client(broker.port)
    publish(p, dest, 50)
    c = client(broker.port)
    c.subscribe(dest, "auto", headers={"x-stream-offset": "first", "prefetch-count": "4"})
    assert offsets(c.read_messages(50)) == list(range(50))
    c.close()
    p.close()


def test_long_replay_and_many_entries(broker):
    # More entries than one turn's budget (512) and than the default window.
    dest = "/stream/" + unique("s")
    p = client(broker.port)
    for i in range(1500):
        p.send(dest, "x%d" % i, receipt=(i == 1499))
    c = client(broker.port)
    c.subscribe(dest, "long", headers={"x-stream-offset": "first"})
    got = c.read_messages(1500, timeout=60)
    assert offsets(got) == list(range(1500))
    assert got[-1].body == b"x1499"
    c.close()
    p.close()


@pytest.mark.parametrize("how", ["term", "kill"])
def test_stream_survives_restart(broker_factory, work, how):
    ddir = data_dir(work)
    b = broker_factory(data_dir=ddir)
    dest = "/stream/" + unique("s") + "/with:odd%chars"
    p = client(b.port)
    publish(p, dest, 20)
    # Some sent without receipts right before the crash: they may or may
    # not be there, but offsets stay contiguous.
    for i in range(20):
        p.send(dest, "late-%d" % i, receipt=False)
    if how == "term":
        p.close()
    end_broker(b, how)
    b2 = broker_factory(data_dir=ddir)
    c = client(b2.port)
    c.subscribe(dest, "after", headers={"x-stream-offset": "first"})
    got = c.read_messages(20)
    more = []
    while True:
        f = c.try_read_frame(1.0)
        if f is None:
            break
        more.append(f)
    allf = got + more
    assert offsets(allf) == list(range(len(allf)))  # contiguous from 0
    assert [m.body for m in got] == [b"e-%d" % i for i in range(20)]  # every receipted entry
    # Appends go on after the last entry.
    q = client(b2.port)
    q.send(dest, "after-restart")
    m = c.read_message()
    assert (int(m["x-stream-offset"]), m.body) == (len(allf), b"after-restart")
    for x in (c, q):
        x.close()
    # Stored under <data-dir>/streams/<vhost escaped>/<name escaped>/0.
    vhost_dir = os.path.join(ddir, "streams", "%2F")
    assert os.path.isdir(vhost_dir), os.listdir(os.path.join(ddir, "streams"))
    names = os.listdir(vhost_dir)
    assert any(n.endswith("%2Fwith%3Aodd%25chars") for n in names), names


def test_bad_stream_offset_is_an_error(broker):
    dest = "/stream/" + unique("s")
    for bad in ("sometime", "timestamp=abc", "-1", "7X", ""):
        c = client(broker.port)
        err = c.expect_error("SUBSCRIBE", [("destination", dest), ("id", "s"), ("x-stream-offset", bad)])
        assert "x-stream-offset" in err["message"], (bad, err)
        c.close()
    support.assert_broker_serves(broker)


def test_browser_on_stream_is_refused(broker):
    dest = "/stream/" + unique("s")
    c = client(broker.port)
    err = c.expect_error("SUBSCRIBE", [("destination", dest), ("id", "s"), ("browser", "true")])
    assert "only a queue can be browsed" in err.body.decode()
    c.close()


def test_max_streams(broker_factory):
    b = broker_factory(max_streams=2)
    c = client(b.port)
    c.send("/stream/" + unique("a"), "1")
    c.send("/stream/" + unique("b"), "2")
    err = c.expect_error("SEND", [("destination", "/stream/" + unique("c"))], "3")
    assert err["message"].startswith("too many streams"), err
    c.close()
    # The existing ones still work.
    support.assert_broker_serves(b)


def test_stream_and_queue_of_same_name_are_apart(broker):
    name = unique("same")
    c = client(broker.port)
    c.send("/stream/" + name, "to-stream")
    c.send("/queue/" + name, "to-queue")
    c.subscribe("/queue/" + name, "q")
    m = c.read_message()
    assert m.body == b"to-queue" and "x-stream-offset" not in m
    c.subscribe("/stream/" + name, "s", headers={"x-stream-offset": "first"})
    m = c.read_message()
    assert m.body == b"to-stream" and m["x-stream-offset"] == "0"
    c.assert_no_frame()
    c.close()


# ------------------------------------------------------------ RabbitMQ's dialect

def test_rabbitmq_stream_queue_from_stomp_py(broker):
    """As a RabbitMQ stream user writes it with stomp.py: x-queue-type:stream
    on /queue/NAME (SEND and SUBSCRIBE), ack client-individual with a
    prefetch-count, x-stream-offset; /amq/queue/NAME names the same stream."""
    name = unique("rmq")
    conn, lst = py_connect(broker.port)
    for i in range(5):
        rid = py_rid()
        conn.send("/queue/" + name, "m%d" % i, headers={"x-queue-type": "stream", "receipt": rid})
        lst.wait_receipt(rid)
    rid = py_rid()
    conn.subscribe("/queue/" + name, id="sub-1", ack="client-individual",
                   headers={"x-queue-type": "stream", "x-stream-offset": "first", "prefetch-count": "10",
                            "receipt": rid})
    lst.wait_receipt(rid)
    got = [lst.get() for _ in range(5)]
    assert [int(m.headers["x-stream-offset"]) for m in got] == [0, 1, 2, 3, 4]
    assert [m.body for m in got] == ["m%d" % i for i in range(5)]
    for m in got:
        conn.ack(m.headers["ack"])  # stomp.py 1.2: the ack header's value
    rid = py_rid()
    conn.subscribe("/amq/queue/" + name, id="sub-2", ack="client-individual",
                   headers={"x-queue-type": "stream", "x-stream-offset": "3", "prefetch-count": "10",
                            "receipt": rid})
    lst.wait_receipt(rid)
    later = [lst.get() for _ in range(2)]
    assert sorted(int(m.headers["x-stream-offset"]) for m in later) == [3, 4]
    assert all(m.headers["subscription"] == "sub-2" for m in later)
    lst.none()
    conn.disconnect()
    # The same stream by its Ferry name.
    c = client(broker.port)
    c.subscribe("/stream/" + name, "s", headers={"x-stream-offset": "last"})
    assert offsets(c.read_messages(1)) == [4]
    c.close()


def test_rabbitmq_queue_without_stream_type_stays_a_queue(broker):
    name = unique("rmq")
    c = client(broker.port)
    c.send("/queue/" + name, "plain", headers={"x-queue-type": "classic"})
    c.subscribe("/queue/" + name, "q", headers={"x-stream-offset": "first"})  # ignored on a queue
    m = c.read_message()
    assert m.body == b"plain" and "x-stream-offset" not in m
    c.close()


# -------------------------------------------------------------------- PHP

def test_php_produces_and_replays(broker):
    dest = "/stream/" + unique("php")
    r = run_php("produce.php", broker.port, dest, 7, "php")
    assert r["sent"] == 7
    out = run_php("consume.php", broker.port, dest, 7,
                  '{"x-stream-offset":"first","ack":"client-individual","prefetch-count":"3"}')
    frames = out["frames"]
    assert [f["body"] for f in frames] == ["php-%d" % i for i in range(7)]
    assert [int(f["headers"]["x-stream-offset"]) for f in frames] == list(range(7))


# ----------------------------------------------------- retention, disk faults

def test_retention_by_size_deletes_old_segments(broker_factory):
    # 4 KiB segments, keep 8 KiB: after ~40 KiB of entries the oldest
    # segments go (the owning shard checks about once a second); readers
    # from `first` start at the new first offset, offsets go on.
    b = broker_factory(stream_max_segment_size="4KiB", stream_max_length_bytes="8KiB")
    dest = "/stream/" + unique("ret")
    p = client(b.port)
    publish(p, dest, 40, prefix="x" * 1000)
    deadline = time.monotonic() + 20
    first = 0
    while time.monotonic() < deadline:
        c = client(b.port)
        c.subscribe(dest, "r", headers={"x-stream-offset": "first"})
        m = c.read_message()
        first = int(m["x-stream-offset"])
        c.close()
        if first > 0:
            break
        time.sleep(0.3)
    assert first > 0, "retention deleted nothing"
    c = client(b.port)
    c.subscribe(dest, "r", headers={"x-stream-offset": "first"})
    got = c.read_messages(40 - first)
    assert offsets(got) == list(range(first, 40))
    c.assert_no_frame()
    c.close()
    p.close()


def test_retention_by_age_deletes_old_segments(broker_factory):
    # stream-max-age 1s: once the first segments' newest entries are older
    # than a second, they go (never the active one, nor the last batch's).
    b = broker_factory(stream_max_segment_size="4KiB", stream_max_age="1s")
    dest = "/stream/" + unique("age")
    p = client(b.port)
    publish(p, dest, 20, prefix="y" * 1000)
    deadline = time.monotonic() + 20
    first = 0
    while time.monotonic() < deadline and first == 0:
        time.sleep(0.5)
        c = client(b.port)
        c.subscribe(dest, "r", headers={"x-stream-offset": "first"})
        first = int(c.read_message()["x-stream-offset"])
        c.close()
    assert first > 0, "retention by age deleted nothing"
    c = client(b.port)
    c.subscribe(dest, "r", headers={"x-stream-offset": "last"})
    assert offsets(c.read_messages(1)) == [19]  # the last batch is kept
    c.close()
    p.close()


def test_retention_options_are_checked():
    for opt, bad, why in (("--stream-max-age", "7X", "expected 0 or a number and one unit"),
                          ("--stream-max-segment-size", "100", "expected a size from 4KiB to 2GiB"),
                          ("--stream-max-length-bytes", "lots", "expected a size such as 10GiB, or 0"),
                          ("--max-streams", "-1", "expected a positive whole number")):
        r = support.run_ferry("serve", "--listen", "127.0.0.1:0", "--http-listen", "", opt, bad, timeout=30)
        out = r.stderr.decode() + r.stdout.decode()
        assert r.returncode != 0, (opt, bad)
        assert "invalid value '%s' for %s: %s" % (bad, opt.lstrip("-"), why) in out, (opt, out)


def test_failed_sync_is_an_error_never_a_receipt(broker_factory, work):
    from test_disk_faults import faultfs_env, injected
    ddir = data_dir(work)
    control = work / "faultfs.ctl"
    control.write_text("")
    b = broker_factory(data_dir=ddir, env=faultfs_env(ddir, control))
    dest = "/stream/" + unique("fault")
    p = client(b.port)
    publish(p, dest, 3, prefix="ok")
    reader = client(b.port)
    reader.subscribe(dest, "tail", headers={"x-stream-offset": "first"})
    assert offsets(reader.read_messages(3)) == [0, 1, 2]
    control.write_text("eio-fsync\n")
    c = client(b.port)
    err = c.expect_error("SEND", [("destination", dest)], "refused")
    assert "failed" in err["message"] or "disk" in err["message"], err
    assert injected(control) > 0
    c.close()
    reader.assert_no_frame()  # never committed: no reader sees it
    control.write_text("")
    q = client(b.port)
    publish(q, dest, 2, prefix="again")
    got = reader.read_messages(2)
    assert offsets(got) == [3, 4]  # the refused entry's offset was reused
    assert [m.body for m in got] == [b"again-0", b"again-1"]
    for x in (p, q, reader):
        x.close()
    b.kill()
    b2 = broker_factory(data_dir=ddir)
    r = client(b2.port)
    r.subscribe(dest, "after", headers={"x-stream-offset": "first"})
    got = r.read_messages(5)
    assert [m.body for m in got] == [b"ok-0", b"ok-1", b"ok-2", b"again-0", b"again-1"]
    assert offsets(got) == list(range(5))
    r.assert_no_frame()
    r.close()


# ------------------------------------------------------------- permissions

def test_permissions_apply_to_streams(broker_factory, users_file, work):
    """As for queues: write to SEND, read to SUBSCRIBE, configure to create
    (docs/security.md), matched against /stream/NAME."""
    from test_auth import COST, ferry_ok, login, msg
    ferry_ok("user", "add", "dave", "--password", "diver", "--iterations", COST, "--users-file", users_file)
    ferry_ok("user", "set-permissions", "dave", "--vhost", "shop", "--configure", "", "--write", "^/stream/",
             "--read", "^/stream/", "--users-file", users_file)
    b = broker_factory(users_file=users_file, data_dir=data_dir(work))
    dest = "/stream/" + unique("perm")
    dave, _ = login(b.port, "dave", "diver")
    err = dave.expect_error("SEND", [("destination", dest)], "x")
    assert msg(err).startswith("access refused: configure permission needed"), err
    dave, _ = login(b.port, "dave", "diver")
    err = dave.expect_error("SUBSCRIBE", [("destination", dest), ("id", "s")])
    assert msg(err).startswith("access refused: configure permission needed"), err
    alice, _ = login(b.port, "alice", "wonder")  # configure .* in shop: creates it
    assert alice.send(dest, "from alice").command == "RECEIPT"
    dave, _ = login(b.port, "dave", "diver")
    assert dave.send(dest, "from dave").command == "RECEIPT"
    dave.subscribe(dest, "s", headers={"x-stream-offset": "first"})
    assert [m.body for m in dave.read_messages(2)] == [b"from alice", b"from dave"]
    bob, _ = login(b.port, "bob", "builder")  # write ^/queue/orders only
    err = bob.expect_error("SEND", [("destination", dest)], "x")
    assert msg(err) == "access refused: write permission needed (SEND)", err
    for c in (alice, dave):
        c.close()
    # The vhost is part of the path: <data-dir>/streams/shop/<name>/0.
    assert os.path.isdir(os.path.join(b.data_dir, "streams", "shop", dest[len("/stream/"):], "0"))


def test_many_readers_on_one_connection_each_at_its_position(broker):
    dest = "/stream/" + unique("many")
    p = client(broker.port)
    publish(p, dest, 20)
    c = client(broker.port)
    for k in range(20):
        c.subscribe(dest, "r%d" % k, headers={"x-stream-offset": str(k)})
    want = {"r%d" % k: list(range(k, 20)) for k in range(20)}
    got: dict[str, list[int]] = {k: [] for k in want}
    for m in c.read_messages(sum(len(v) for v in want.values()), timeout=30):
        got[m["subscription"]].append(int(m["x-stream-offset"]))
    assert got == want
    c.assert_no_frame()
    c.close()
    p.close()


def test_large_entries_under_the_byte_window(broker_factory):
    # Entries of 1.5 MiB: an auto-ack reader's window is capped at
    # max-write-buffer bytes (here 2 MiB), so it gets them about one at a
    # time as they are written, every one whole.
    b = broker_factory(max_write_buffer="2MiB")
    dest = "/stream/" + unique("big")
    p = client(b.port)
    big = [bytes([65 + i]) * (1536 * 1024) for i in range(5)]
    for body in big:
        assert p.send(dest, body).command == "RECEIPT"
    c = client(b.port)
    c.subscribe(dest, "big", headers={"x-stream-offset": "first"})
    got = c.read_messages(5, timeout=30)
    assert offsets(got) == [0, 1, 2, 3, 4]
    assert [m.body for m in got] == big
    c.close()
    p.close()


def test_kill9_during_appends_keeps_every_receipted_entry(broker_factory, work):
    """kill -9 while a producer appends with receipts, three times: after
    each restart every receipted entry is there, in order, offsets from 0
    with no gap (entries not receipted may or may not be)."""
    import threading
    ddir = data_dir(work)
    dest = "/stream/" + unique("crash")
    receipted: list[bytes] = []
    b = broker_factory(data_dir=ddir)
    for cycle in range(3):
        stop = threading.Event()

        def produce(port=b.port, cycle=cycle):
            try:
                c = client(port)
                i = 0
                while not stop.is_set():
                    body = b"c%d-%06d" % (cycle, i)
                    c.send_frame("SEND", [("destination", dest), ("receipt", "r%d" % i)], body)
                    f = c.read_frame(10)
                    if f.command != "RECEIPT":
                        return
                    receipted.append(body)
                    i += 1
            except (support.Closed, OSError, AssertionError):
                return

        t = threading.Thread(target=produce)
        t.start()
        deadline = time.monotonic() + 10
        while len(receipted) < 50 * (cycle + 1) and time.monotonic() < deadline:
            time.sleep(0.01)
        b.kill()
        stop.set()
        t.join(15)
        b = broker_factory(data_dir=ddir)
        c = client(b.port)
        c.subscribe(dest, "check", headers={"x-stream-offset": "first"})
        got = []
        while True:
            f = c.try_read_frame(1.0)
            if f is None:
                break
            assert f.command == "MESSAGE", f
            got.append(f)
        c.close()
        assert offsets(got) == list(range(len(got)))
        bodies = [m.body for m in got]
        it = iter(bodies)
        missing = [r for r in receipted if not any(r == x for x in it)]
        assert not missing, "receipted entries lost (or out of order): %r" % missing[:5]
