"""Log compaction (issue 13; docs/streams.md "Compaction"): a stream declared
with x-cleanup-policy:compact (or Kafka's cleanup.policy:compact) keeps, in
its sealed segments, the last entry of each key at its offset; readers and
consumer groups at a removed offset go on at the next kept one; a keyed
entry with an empty body (a tombstone) deletes its key after
x-delete-retention-ms. Raw frames and stomp.py."""
from __future__ import annotations

import time

from support import client, py_connect, py_rid, unique
from test_persistence import data_dir, end_broker, work, work_root  # noqa: F401 (fixtures)
from stream_support import stream_reader

COMPACT = {"x-cleanup-policy": "compact", "x-stream-max-segment-size-bytes": "4096"}
KEYS = 5
PAD = "p" * 400


def fill(c, dest: str, n: int, headers=None) -> dict[int, tuple[str, bytes]]:
    """n entries cycling over keys k0..k4, each ~400 bytes (about 9 to a
    4 KiB segment); offset -> (key, body)."""
    sent = {}
    for i in range(n):
        key = "k%d" % (i % KEYS)
        body = "%s=%d;%s" % (key, i, PAD)
        r = c.send(dest, body, headers=dict(headers or {}, **{"partition-key": key}))
        assert r.command == "RECEIPT", r
        sent[i] = (key, body.encode())
    return sent


def read_through(port: int, dest: str, last: int, start: str = "first") -> list:
    """Every entry from `start` up to offset `last` (which is always kept)."""
    c = stream_reader(port, dest, "r", headers={"x-stream-offset": start, "prefetch-count": "1000"})
    got = []
    while True:
        m = c.read_message()
        got.append(m)
        if int(m["x-stream-offset"]) >= last:
            break
    c.close()
    return got


def wait_compacted(port: int, dest: str, last: int, below: int, gone: int | None = None) -> list:
    """Reads until fewer than `below` entries are left and offset `gone` is
    not among them (the shard asks for a compaction about once a second)."""
    deadline = time.monotonic() + 30
    while True:
        got = read_through(port, dest, last)
        offs = {int(m["x-stream-offset"]) for m in got}
        if (len(got) < below and gone not in offs) or time.monotonic() > deadline:
            return got
        time.sleep(0.3)


def check_kept(got, sent):
    """Kept entries are the ones sent at their offsets, in order; only
    superseded ones are gone; each key's last entry is there."""
    offs = [int(m["x-stream-offset"]) for m in got]
    assert offs == sorted(set(offs)), offs
    last_of = {}
    for off, (key, _) in sent.items():
        last_of[key] = off
    for m in got:
        off = int(m["x-stream-offset"])
        assert m.body == sent[off][1], off
        assert "x-cleanup-policy" not in m  # a declaration, not data
    kept = set(offs)
    for off, (key, _) in sent.items():
        if off not in kept:
            assert last_of[key] > off, (off, key)
    assert set(last_of.values()) <= kept
    return kept


def test_compaction_keeps_the_last_entry_per_key(broker):
    dest = "/stream/" + unique("compact")
    p = client(broker.port)
    sent = fill(p, dest, 80, headers=COMPACT)
    got = wait_compacted(broker.port, dest, 79, 80)
    assert len(got) < 80, "nothing was compacted"
    kept = check_kept(got, sent)
    # A reader starting at a removed offset begins at the next kept one
    # (compaction may go on meanwhile: it only ever removes more).
    removed = min(set(sent) - kept)
    again = read_through(broker.port, dest, 79, start=str(removed))
    assert int(again[0]["x-stream-offset"]) >= min(o for o in kept if o > removed)
    check_kept(again, sent)
    # New entries go on at the next offset.
    r = p.send(dest, "after", headers={"partition-key": "k0"})
    assert r.command == "RECEIPT", r
    c = stream_reader(broker.port, dest, "t", headers={"x-stream-offset": "last"})
    m = c.read_message()
    assert (m.body, m["x-stream-offset"]) == (b"after", "80")
    c.close()
    p.close()


def test_a_stream_without_the_policy_is_not_compacted(broker):
    dest = "/stream/" + unique("plain")
    p = client(broker.port)
    fill(p, dest, 40, headers={"x-stream-max-segment-size-bytes": "4096"})
    time.sleep(2.5)  # two compaction ticks would have passed
    assert len(read_through(broker.port, dest, 39)) == 40
    p.close()


def test_kafka_spelling_and_tombstones_from_stomp_py(broker):
    """cleanup.policy and delete.retention.ms as Kafka users write them, the
    `key` header, and an empty body deleting its key."""
    name = unique("kafka")
    dest = "/stream/" + name
    conn, lst = py_connect(broker.port)
    declare = {"cleanup.policy": "compact", "delete.retention.ms": "0",
               "x-stream-max-segment-size-bytes": "4096"}
    for i in range(40):
        rid = py_rid()
        conn.send(dest, "v%d;%s" % (i, PAD), headers=dict(declare, key="k%d" % (i % 4), receipt=rid))
        lst.wait_receipt(rid)
    rid = py_rid()
    conn.send(dest, "", headers={"key": "k1", "receipt": rid})  # k1's tombstone: offset 40
    lst.wait_receipt(rid)
    for i in range(40):  # seal the tombstone's segment
        rid = py_rid()
        conn.send(dest, "w%d;%s" % (i, PAD), headers={"key": "k9", "receipt": rid})
        lst.wait_receipt(rid)
    deadline = time.monotonic() + 30
    while True:
        got = read_through(broker.port, dest, 80)
        k1 = [m for m in got if m.get("key") == "k1"]
        if not k1 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert k1 == [], [m["x-stream-offset"] for m in k1]
    for k in ("k0", "k2", "k3"):
        assert [m for m in got if m.get("key") == k], k
    conn.disconnect()
    # A bad policy is refused.
    c = client(broker.port)
    err = c.expect_error("SEND", [("destination", "/stream/" + unique("bad")), ("x-cleanup-policy", "shrink")])
    assert err["message"].startswith("invalid stream argument"), err


def test_a_group_resumes_after_its_committed_offset_once_that_was_compacted_away(broker):
    dest = "/stream/" + unique("grp")
    p = client(broker.port)
    sent = fill(p, dest, 80, headers=COMPACT)
    # The group ACKs 0..10: its committed offset is 11 (the next to read).
    g = stream_reader(broker.port, dest, "g", ack="client-individual",
                      headers={"group": "billing", "x-stream-offset": "first", "prefetch-count": "11"})
    msgs = g.read_messages(11)
    assert int(msgs[-1]["x-stream-offset"]) == 10
    for m in msgs:
        g.ack(m)
    g.disconnect()
    got = wait_compacted(broker.port, dest, 79, 80, gone=11)
    kept = check_kept(got, sent)
    assert 11 not in kept, "the committed offset (11: k1, superseded by 16) was not compacted away"
    h = stream_reader(broker.port, dest, "h", ack="client-individual", headers={"group": "billing"})
    m = h.read_message()
    first = int(m["x-stream-offset"])
    # The next kept entry after it (compaction only removes more meanwhile).
    assert first >= min(o for o in kept if o > 11)
    assert m.body == sent[first][1]
    h.close()
    p.close()


def test_compacted_segments_survive_kill_9(broker_factory, work):
    ddir = data_dir(work)
    b = broker_factory(data_dir=ddir)
    dest = "/stream/" + unique("crash")
    p = client(b.port)
    sent = fill(p, dest, 80, headers=COMPACT)
    got = wait_compacted(b.port, dest, 79, 80)
    assert len(got) < 80
    p.close()
    end_broker(b, "kill")
    b2 = broker_factory(data_dir=ddir)
    again = read_through(b2.port, dest, 79)
    check_kept(again, sent)
    assert [m["x-stream-offset"] for m in again] == [m["x-stream-offset"] for m in got] or len(again) < len(got)


def compacted(got, part: str) -> bool:
    """Fewer entries than offsets in that partition (its last entry, the
    highest offset, is never removed)."""
    offs = [int(m["x-stream-offset"]) for m in got if m["partition"] == part]
    return bool(offs) and len(offs) < max(offs) + 1


def test_every_partition_of_a_partitioned_stream_is_compacted(broker):
    """x-stream-partitions with compaction: each partition keeps the last
    entry of each of its keys (a key lives in one partition)."""
    dest = "/stream/" + unique("parts")
    p = client(broker.port)
    declare = dict(COMPACT, **{"x-stream-partitions": "2"})
    sent = {}  # (partition, offset) -> (key, body)
    last_of = {}
    for i in range(160):
        key = "k%d" % (i % 6)
        body = "%s=%d;%s" % (key, i, PAD)
        r = p.send(dest, body, headers=dict(declare, **{"partition-key": key}))
        assert r.command == "RECEIPT", r
        last_of[key] = body.encode()
    p.close()
    deadline = time.monotonic() + 30
    while True:
        c = stream_reader(broker.port, dest, "r", headers={"x-stream-offset": "first", "prefetch-count": "1000"})
        got = []
        while True:
            m = c.try_read_frame(timeout=1.0)
            if m is None:
                break
            got.append(m)
        c.close()
        if all(compacted(got, part) for part in ("0", "1")) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    for part in ("0", "1"):
        assert compacted(got, part), "partition %s was not compacted" % part
    # Each key's last entry is there, in the partition its key picks.
    bodies = {m.body for m in got}
    for key, body in last_of.items():
        assert body in bodies, key
    for part in ("0", "1"):
        offs = [int(m["x-stream-offset"]) for m in got if m["partition"] == part]
        assert offs == sorted(set(offs)), part
