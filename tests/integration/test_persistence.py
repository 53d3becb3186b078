"""The journal: persistent messages survive a restart (SIGTERM) and a crash
(kill -9), acks / delivery counts / DLQ moves / transactions are journaled,
one broker per data directory, a torn tail is cut off, disk space comes back.

Every test restarts a broker on the SAME data directory (a scratch dir of its own),
so it can see what the first one wrote."""
from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from support import QUIET, assert_no_sanitizer_report, client, end_broker, ferry_bin, restart, unique

# Waiting for something that must happen after a restart on a loaded machine.
LONG = 20.0


# --------------------------------------------------------------------------
# helpers (also imported by test_durable.py / test_crash.py)
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def work_root():
    """One scratch directory per module, removed after the module's tests (and
    so after every broker of it has stopped). Not pytest's tmp_path: a
    concurrent pytest run of the same user rotates /tmp/pytest-of-USER and
    could delete a journal under a running test."""
    root = tempfile.mkdtemp(prefix="ferry-pt-")
    yield Path(root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def work(work_root) -> Path:
    """A fresh scratch directory for one test."""
    return Path(tempfile.mkdtemp(prefix="t-", dir=work_root))


def data_dir(work: Path) -> str:
    d = work / "data"
    d.mkdir(exist_ok=True)
    return str(d)


def send_all(port, dest, bodies, headers=None, version="1.2"):
    """Send every body with a receipt (each RECEIPT = durable)."""
    c = client(port, version)
    try:
        for body in bodies:
            c.send(dest, body, headers)
    finally:
        c.close()


def drain(port, dest, n, timeout=LONG, sub_headers=None, ack="client-individual"):
    """Subscribe, read exactly n messages (acking each with a receipt), then
    make sure nothing more comes. Returns the MESSAGE frames."""
    c = client(port)
    try:
        c.subscribe(dest, "drain", ack=ack, headers=sub_headers)
        got = c.read_messages(n, timeout) if n else []
        if ack != "auto":
            for m in got:
                c.ack(m)
        extra = c.try_read_frame(QUIET * 2)
        assert extra is None, "more than the %d expected messages on %s: %r (got %r)" % (
            n, dest, extra, [m.body for m in got])
        return got
    finally:
        c.close()


def barrier(c, tag="barrier"):
    """A persistent SEND with a RECEIPT on connection c: the journal is written
    in order, so once this RECEIPT arrives every record the broker appended
    for c's earlier frames (acks, returns) is on disk too."""
    c.send("/queue/" + unique(tag), "barrier")


def journal_files(ddir) -> list[Path]:
    return sorted((Path(ddir) / "journal").glob("*.seg"))


def journal_bytes(ddir) -> int:
    return sum(p.stat().st_size for p in journal_files(ddir))


# --- the segment format of docs/journal.md, to damage it precisely ---------

SEG_HEADER = 24
K_MESSAGE = 1


def parse_segment(data: bytes):
    """[(offset, total_size, type)] of the records of a segment (stops at the
    first record that does not fit; CRCs are not checked here)."""
    assert data[:8] == b"FERRYJ01", "not a ferry segment: %r" % data[:24]
    out = []
    o = SEG_HEADER
    while o + 9 <= len(data):
        (length,) = struct.unpack_from("<I", data, o)
        if length < 1 or o + 8 + length > len(data):
            break
        out.append((o, 8 + length, data[o + 8]))
        o += 8 + length
    return out


# --------------------------------------------------------------------------
# survive restart / crash
# --------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["term", "kill"])
def test_receipted_messages_survive_restart_in_order(broker_factory, work, how):
    b = broker_factory(data_dir=data_dir(work))
    qa, qb = "/queue/" + unique("pa"), "/queue/" + unique("pb")
    n = 40
    c = client(b.port)
    for i in range(n):
        c.send(qa, "a-%03d" % i)
        c.send(qb, "b-%03d" % i, {"persistent": "true", "x-seq": str(i)})
    c.close()

    b2 = restart(broker_factory, b, how)
    ga = drain(b2.port, qa, n)
    gb = drain(b2.port, qb, n)
    assert [m.text for m in ga] == ["a-%03d" % i for i in range(n)]
    assert [m.text for m in gb] == ["b-%03d" % i for i in range(n)]
    assert [m.get("x-seq") for m in gb] == [str(i) for i in range(n)], "custom header lost"
    for m in ga + gb:
        assert m.get("persistent") == "true", "recovered MESSAGE without persistent:true: %r" % m
        assert m.get("redelivered") in (None, "false"), \
            "never-delivered message marked redelivered after restart: %r" % m


def test_message_frames_say_persistent(broker_factory, work):
    b = broker_factory(data_dir=data_dir(work))
    q = "/queue/" + unique()
    send_all(b.port, q, ["dflt"])
    send_all(b.port, q, ["yes"], {"persistent": "true"})
    send_all(b.port, q, ["no"], {"persistent": "false"})
    got = drain(b.port, q, 3)
    flags = {m.text: m.get("persistent") for m in got}
    assert flags["dflt"] == "true" and flags["yes"] == "true", flags
    assert flags["no"] in (None, "false"), flags


@pytest.mark.parametrize("how", ["term", "kill"])
def test_non_persistent_messages_do_not_survive(broker_factory, work, how):
    b = broker_factory(data_dir=data_dir(work))
    q = "/queue/" + unique()
    c = client(b.port)
    for i in range(10):
        c.send(q, "keep-%d" % i)
        c.send(q, "lose-%d" % i, {"persistent": "false"})
    c.close()
    b2 = restart(broker_factory, b, how)
    got = drain(b2.port, q, 10)
    assert [m.text for m in got] == ["keep-%d" % i for i in range(10)]


def test_persistent_default_pattern_is_configurable(broker_factory, work):
    """With persistent-default limited to /queue/keep/>, other queues are
    in-memory unless the SEND says persistent:true (segments are split at "/")."""
    b = broker_factory(data_dir=data_dir(work), persistent_default="/queue/keep/>")
    qk, qo = "/queue/keep/" + unique(), "/queue/" + unique("other")
    send_all(b.port, qk, ["k1"])
    send_all(b.port, qo, ["o-default"])
    send_all(b.port, qo, ["o-explicit"], {"persistent": "true"})
    b2 = restart(broker_factory, b, "kill")
    assert [m.text for m in drain(b2.port, qk, 1)] == ["k1"]
    assert [m.text for m in drain(b2.port, qo, 1)] == ["o-explicit"]


def _hold_unacked(port, q, n_total, n_acked):
    """Deliver n_total messages to a client-individual subscriber, ack the
    first n_acked (with receipts) and keep the rest unacked. Returns the
    open client (the caller crashes the broker under it)."""
    c = client(port)
    c.subscribe(q, "holder", ack="client-individual", headers={"prefetch-count": str(n_total)})
    got = c.read_messages(n_total, LONG)
    assert [m.text for m in got] == ["m-%d" % i for i in range(n_total)]
    for m in got[:n_acked]:
        c.ack(m)
    return c


@pytest.mark.parametrize("how", ["term", "kill"])
def test_acked_messages_never_come_back(broker_factory, work, how):
    b = broker_factory(data_dir=data_dir(work))
    q = "/queue/" + unique()
    send_all(b.port, q, ["m-%d" % i for i in range(8)])
    c = _hold_unacked(b.port, q, 8, 3)
    b2 = restart(broker_factory, b, how)
    c.close()
    got = drain(b2.port, q, 5)
    assert [m.text for m in got] == ["m-%d" % i for i in range(3, 8)]
    # and once acked after the restart, they are gone for good
    b3 = restart(broker_factory, b2, "kill")
    drain(b3.port, q, 0)


@pytest.mark.parametrize("how", ["term", "kill"])
def test_unacked_deliveries_come_back_redelivered(broker_factory, work, how):
    """Delivered but unacknowledged when the broker went down: after the
    restart they come back in order, marked redelivered:true, and
    x-delivery-count counts the delivery before the crash."""
    b = broker_factory(data_dir=data_dir(work))
    q = "/queue/" + unique()
    send_all(b.port, q, ["m-%d" % i for i in range(6)])
    c = _hold_unacked(b.port, q, 4, 1)  # m-0 acked, m-1..m-3 held, m-4, m-5 never delivered
    b2 = restart(broker_factory, b, how)
    c.close()
    got = drain(b2.port, q, 5)
    assert [m.text for m in got] == ["m-%d" % i for i in range(1, 6)]
    report = [(m.text, m.get("redelivered"), m.get("x-delivery-count")) for m in got]
    for m in got[:3]:
        assert m.get("redelivered") == "true", \
            "unacked delivery came back without redelivered:true after %s: %r" % (how, report)
    # m-4 took the window slot m-0's ACK freed, so it may have been delivered
    # (unread) before the broker went down; m-5 never was.
    assert got[4].get("redelivered") in (None, "false"), \
        "never-delivered message marked redelivered: %r" % report


def test_nack_delivery_count_survives_restart(broker_factory, work):
    """A message NACKed (returned) before the crash comes back redelivered:true
    with its delivery count (kDeliveries is journaled on return)."""
    b = broker_factory(data_dir=data_dir(work))
    q = "/queue/" + unique()
    send_all(b.port, q, ["once"])
    c = client(b.port)
    c.subscribe(q, "s", ack="client-individual", headers={"prefetch-count": "1"})
    m1 = c.read_message(LONG)
    c.nack(m1)
    m2 = c.read_message(LONG)
    assert m2.get("redelivered") == "true"
    count_before = int(m2.get("x-delivery-count", "0"))
    c.unsubscribe("s")  # returned again: the new count is journaled
    barrier(c)
    c.close()
    b2 = restart(broker_factory, b, "kill")
    got = drain(b2.port, q, 1)
    assert got[0].text == "once"
    assert got[0].get("redelivered") == "true", got[0]
    assert int(got[0].get("x-delivery-count", "0")) > count_before, \
        "x-delivery-count did not survive the restart: before %d, after %r" % (count_before, got[0])


@pytest.mark.parametrize("how", ["term", "kill"])
def test_max_deliveries_holds_across_restart(broker_factory, work, how):
    """--max-deliveries 3: NACK twice, restart, NACK once more -> the message
    is in /queue/DLQ.NAME (not delivered a 4th time), and the DLQ'd message
    survives another restart."""
    b = broker_factory(data_dir=data_dir(work), max_deliveries=3)
    name = unique("md")
    q, dlq = "/queue/" + name, "/queue/DLQ." + name
    send_all(b.port, q, ["poison"])
    c = client(b.port)
    c.subscribe(q, "s", ack="client-individual", headers={"prefetch-count": "1"})
    for i in range(2):
        m = c.read_message(LONG)
        assert m.text == "poison"
        c.nack(m)
    barrier(c)  # both returns are on disk
    # the broker redelivers at once (3rd delivery in flight); the journal
    # has 2 returns. A kill loses the in-flight delivery; SIGTERM may not.
    third = c.try_read_frame(LONG)
    b2 = restart(broker_factory, b, how)
    c.close()

    c = client(b2.port)
    c.subscribe(q, "s", ack="client-individual", headers={"prefetch-count": "1"})
    seen = []
    deadline = time.monotonic() + LONG
    while time.monotonic() < deadline:
        f = c.try_read_frame(1.0)
        if f is None:
            # not (re)delivered any more: it should be in the DLQ now
            break
        assert f.command == "MESSAGE", f
        seen.append((f.get("redelivered"), f.get("x-delivery-count")))
        c.nack(f)
    c.close()
    assert len(seen) <= 1, ("with max-deliveries 3, after 2 NACKs and a restart the message "
                            "was delivered %d more times: %r (in flight at restart: %r)"
                            % (len(seen), seen, third))
    assert drain(b2.port, q, 0) == []
    # check the DLQ without consuming it, then restart and consume
    d = client(b2.port)
    d.subscribe(dlq, "d", ack="client-individual")
    m = d.read_message(LONG)
    d.close()  # unacked: stays in the DLQ
    assert m.text == "poison"
    assert m.get("original-destination") in (q, name), m
    assert m.get("dead-letter-reason"), m
    b3 = restart(broker_factory, b2, "kill")
    got = drain(b3.port, dlq, 1)
    assert got[0].text == "poison"
    assert got[0].get("original-destination") == m.get("original-destination")
    drain(b3.port, q, 0)


@pytest.mark.parametrize("how", ["term", "kill"])
def test_dead_lettered_message_survives_restart(broker_factory, work, how):
    b = broker_factory(data_dir=data_dir(work))
    name = unique("dl")
    q, dlq = "/queue/" + name, "/queue/DLQ." + name
    send_all(b.port, q, ["bad", "good"])
    c = client(b.port)
    c.subscribe(q, "s", ack="client-individual", headers={"prefetch-count": "1"})
    m = c.read_message(LONG)
    assert m.text == "bad"
    c.nack(m, extra={"requeue": "false"})
    m = c.read_message(LONG)
    assert m.text == "good"
    c.ack(m)
    c.close()
    b2 = restart(broker_factory, b, how)
    drain(b2.port, q, 0)
    got = drain(b2.port, dlq, 1)
    assert got[0].text == "bad"
    assert got[0].get("dead-letter-reason"), got[0]
    assert got[0].get("persistent") == "true", got[0]


@pytest.mark.parametrize("how", ["term", "kill"])
def test_transactions_all_or_nothing_after_restart(broker_factory, work, how):
    b = broker_factory(data_dir=data_dir(work))
    q = "/queue/" + unique()
    pre = "/queue/" + unique("pre")
    send_all(b.port, pre, ["p0", "p1", "p2"])

    c = client(b.port)
    c.request("BEGIN", [("transaction", "t1")])
    for i in range(5):
        c.send(q, "committed-%d" % i, {"transaction": "t1"})
    c.request("COMMIT", [("transaction", "t1")])  # RECEIPT: all 5 durable
    # a transactional ACK that is committed: p0 gone for good;
    # one that is not: p1 comes back
    c.subscribe(pre, "pre", ack="client-individual", headers={"prefetch-count": "3"})
    ms = c.read_messages(3, LONG)
    c.request("BEGIN", [("transaction", "t2")])
    c.ack(ms[0], extra={"transaction": "t2"})
    c.request("COMMIT", [("transaction", "t2")])
    c.request("BEGIN", [("transaction", "t3")])
    for i in range(5):
        c.send(q, "open-%d" % i, {"transaction": "t3"})
    c.ack(ms[1], extra={"transaction": "t3"})
    c.ack(ms[2])  # plain ack, not in a transaction
    # t3 never commits
    b2 = restart(broker_factory, b, how)
    c.close()
    got = drain(b2.port, q, 5)
    assert [m.text for m in got] == ["committed-%d" % i for i in range(5)]
    assert [m.text for m in drain(b2.port, pre, 1)] == ["p1"]


# --------------------------------------------------------------------------
# data directory lock
# --------------------------------------------------------------------------

def test_second_broker_on_same_data_dir_refuses(broker_factory, work):
    b = broker_factory(data_dir=data_dir(work))
    q = "/queue/" + unique()
    send_all(b.port, q, ["before"])
    p = subprocess.run([ferry_bin(), "serve", "--listen", "127.0.0.1:0", "--data-dir", b.data_dir,
                        "--log-level", "info", "--http-listen", ""],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert_no_sanitizer_report(out)
    assert p.returncode != 0, "second broker on the same data dir exited 0:\n" + out
    assert "in use" in out, "refusal does not say the data dir is in use:\n" + out
    assert "listening on" not in out, "second broker listened before refusing:\n" + out
    # the first broker is unharmed and its journal intact
    assert b.alive()
    b2 = restart(broker_factory, b, "kill")
    assert [m.text for m in drain(b2.port, q, 1)] == ["before"]


def test_lock_released_after_kill(broker_factory, work):
    """kill -9 leaves the LOCK file behind; flock is gone with the process,
    so a new broker starts (no stale-lock refusal)."""
    b = broker_factory(data_dir=data_dir(work))
    b2 = restart(broker_factory, b, "kill")
    assert b2.alive()


# --------------------------------------------------------------------------
# torn / corrupt tail
# --------------------------------------------------------------------------

def _damage_cases(records, rng):
    """(label, truncate_at or None, flip_at or None, first_bad_record_index)
    for damage inside the last few records of a segment."""
    cases = []
    last = len(records) - 1
    tail = list(range(max(0, last - 5), last + 1))
    for _ in range(4):  # truncation inside one of the last records
        k = rng.choice(tail)
        off, size, _t = records[k]
        cut = off + rng.randrange(1, size)  # at least one byte of record k is missing
        cases.append(("truncate rec %d at +%d" % (k, cut - off), cut, None, k))
    off, size, _t = records[last]  # the very first byte of a record is cut
    cases.append(("truncate at start of rec %d" % last, off + 1, None, last))
    for _ in range(2):  # a flipped byte in the last record
        pos = off + rng.randrange(0, size)
        cases.append(("flip byte +%d of last rec %d" % (pos - off, last), None, pos, last))
    # truncate inside record k and flip a byte in record k-1: both are the tail
    k = rng.choice(tail[1:]) if len(tail) > 1 else last
    off_k, size_k, _ = records[k]
    off_p, size_p, _ = records[k - 1]
    cases.append(("flip rec %d + truncate rec %d" % (k - 1, k), off_k + rng.randrange(1, size_k),
                  off_p + rng.randrange(0, size_p), k - 1))
    return cases


def test_torn_tail_recovers_every_intact_record(broker_factory, work):
    """After kill -9, damage the end of the last segment (truncate at random
    offsets inside its last records, flip a byte): the broker starts, cuts the
    tail, and delivers exactly the messages whose records are intact, in
    order, byte for byte."""
    seed = int(os.environ.get("FERRY_TORN_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    b = broker_factory(data_dir=data_dir(work))
    q = "/queue/" + unique("torn")
    sent = []
    c = client(b.port)
    for i in range(30):
        body = ("msg-%03d-" % i) + "".join(rng.choice("abcdefghij") for _ in range(rng.randrange(5, 400)))
        c.send(q, body)
        sent.append(body)
    c.close()
    b.kill()

    pristine = work / "pristine"
    shutil.copytree(b.data_dir, pristine)
    segs = journal_files(pristine)
    assert segs, "no segment files in %s" % pristine
    last = segs[-1]
    data = last.read_bytes()
    records = parse_segment(data)
    msg_recs = [i for i, r in enumerate(records) if r[2] == K_MESSAGE]
    assert len(segs) == 1 and len(msg_recs) == len(sent), \
        "expected one segment with %d message records, found %d segments, records %r" % (
            len(sent), len(segs), records)
    assert records[-1][0] + records[-1][1] == len(data), "bytes after the last record"

    failures = []
    for n, (label, cut, flip, bad) in enumerate(_damage_cases(records, rng)):
        ddir = work / ("case%d" % n)
        shutil.copytree(pristine, ddir)
        seg = journal_files(ddir)[-1]
        raw = bytearray(seg.read_bytes())
        if flip is not None:
            raw[flip] ^= 1 << rng.randrange(8)
        if cut is not None:
            raw = raw[:cut]
        seg.write_bytes(bytes(raw))
        expected = sent[:sum(1 for i in msg_recs if i < bad)]
        try:
            b2 = broker_factory(data_dir=str(ddir))
        except RuntimeError as e:
            failures.append("%s: broker did not start: %s" % (label, e))
            continue
        try:
            got = drain(b2.port, q, len(expected))
            texts = [m.text for m in got]
            if texts != expected:
                failures.append("%s: delivered %d messages, expected the first %d (diff at %r)"
                                % (label, len(texts), len(expected),
                                   next((i for i, (x, y) in enumerate(zip(texts, expected)) if x != y),
                                        None)))
        except AssertionError as e:
            failures.append("%s: expected the first %d messages: %s" % (label, len(expected),
                                                                        str(e)[:400]))
        end_broker(b2, "kill")
        shutil.rmtree(ddir, ignore_errors=True)
    assert not failures, "seed %d:\n%s" % (seed, "\n".join(failures))


def test_corrupt_record_in_the_middle_refuses_to_start(broker_factory, work):
    """A flipped byte in a record followed by valid records is not a torn
    tail: the broker refuses to start (naming the position) unless
    --skip-corrupt true."""
    b = broker_factory(data_dir=data_dir(work))
    q = "/queue/" + unique()
    send_all(b.port, q, ["m-%d-%s" % (i, "x" * 50) for i in range(10)])
    b.kill()
    seg = journal_files(b.data_dir)[-1]
    raw = bytearray(seg.read_bytes())
    recs = parse_segment(bytes(raw))
    off, size, _ = recs[3]
    raw[off + 8 + size // 2] ^= 0x40  # inside record 3's payload
    seg.write_bytes(bytes(raw))
    p = subprocess.run([ferry_bin(), "serve", "--listen", "127.0.0.1:0", "--data-dir", b.data_dir,
                        "--http-listen", ""],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert_no_sanitizer_report(out)
    assert p.returncode != 0 and "listening on" not in out, \
        "broker started on a journal corrupt in the middle:\n" + out
    assert "corrupt" in out, out
    b2 = broker_factory(data_dir=b.data_dir, skip_corrupt="true")
    got = drain(b2.port, q, 9)
    assert [m.text.split("-")[1] for m in got] == [str(i) for i in range(10) if i != 3]


# --------------------------------------------------------------------------
# disk space
# --------------------------------------------------------------------------

def test_disk_usage_falls_after_drain(broker_factory, work):
    seg_size = 1 << 20
    b = broker_factory(data_dir=data_dir(work), segment_size="1MiB")
    q = "/queue/" + unique()
    n = 400
    body = "x" * 10240
    c = client(b.port)
    for i in range(n):
        c.send(q, "%04d" % i + body, receipt=(i % 20 == 19 or i == n - 1))
    c.close()
    full = journal_bytes(b.data_dir)
    nseg = len(journal_files(b.data_dir))
    assert full > n * 10240 * 0.9, "journal holds only %d bytes for %d x 10 KB" % (full, n)
    assert nseg >= 3, "segments did not roll at 1 MiB: %d files" % nseg

    c = client(b.port)
    c.subscribe(q, "s", ack="client-individual", headers={"prefetch-count": "50"})
    for i in range(n):
        m = c.read_message(LONG)
        assert m.text[:4] == "%04d" % i
        c.ack(m, receipt=(i == n - 1))
    c.close()

    deadline = time.monotonic() + LONG
    while time.monotonic() < deadline:
        files = journal_files(b.data_dir)
        if len(files) <= 1 and journal_bytes(b.data_dir) <= seg_size + 64 * 1024:
            break
        time.sleep(0.1)
    files = journal_files(b.data_dir)
    sizes = [(p.name, p.stat().st_size) for p in files]
    assert len(files) <= 1 and journal_bytes(b.data_dir) <= seg_size + 64 * 1024, \
        "journal did not shrink after draining: was %d bytes in %d segments, now %r" % (full, nseg, sizes)

    # and a restart on the drained journal has nothing to deliver
    b2 = restart(broker_factory, b, "kill")
    drain(b2.port, q, 0)


# --------------------------------------------------------------------------
# transactions with topic sends: one atomic batch with the queue sends
# --------------------------------------------------------------------------

def _everything(port, dest, sub_headers=None, extra=None, wait=3.0):
    """Every message waiting on dest (a queue, or a durable subscription via
    sub_headers/extra), acknowledged; stops after `wait` s of silence."""
    c = client(port, extra=extra) if extra else client(port)
    try:
        c.subscribe(dest, "all", ack="client-individual",
                    headers=dict({"prefetch-count": "1000"}, **(sub_headers or {})))
        out = []
        while True:
            f = c.try_read_frame(wait if not out else 1.0)
            if f is None:
                break
            if f.command == "MESSAGE":
                out.append(f)
                c.ack(f, receipt=False)
        barrier(c)
        return [m.text for m in out]
    finally:
        c.close()


@pytest.mark.parametrize("delay", [0.0, 0.001, 0.004, "receipt"])
def test_transaction_with_topic_sends_is_all_or_nothing_after_kill(broker_factory, work, delay):
    """A transaction sends persistent messages to a queue and to a topic with
    two durable subscribers; the broker is killed -9 right after the COMMIT
    goes out (at a few delays, or after its RECEIPT). After the restart the
    queue and both durable subscriptions hold all of the transaction's
    messages or none of them, never a part; after a RECEIPT, all."""
    b = broker_factory(data_dir=data_dir(work))
    q = "/queue/" + unique("txq")
    topic = "/topic/" + unique("txt")
    subs = [("reader-a", "sa"), ("reader-b", "sb")]
    for cid, name in subs:
        c = client(b.port, extra=[("client-id", cid)])
        c.subscribe(topic, "d", ack="client-individual", headers={"activemq.subscriptionName": name})
        c.close()
    n = 30
    c = client(b.port)
    c.request("BEGIN", [("transaction", "tx")])
    for i in range(n):
        c.send(q, "q-%02d" % i, {"transaction": "tx"}, receipt=False)
        c.send(topic, "t-%02d" % i, {"transaction": "tx"}, receipt=False)
    if delay == "receipt":
        c.request("COMMIT", [("transaction", "tx")])
    else:
        c.send_frame("COMMIT", [("transaction", "tx")])
        time.sleep(delay)
    b2 = restart(broker_factory, b, "kill")
    c.close()
    in_queue = _everything(b2.port, q)
    in_subs = [_everything(b2.port, topic, {"activemq.subscriptionName": name}, [("client-id", cid)])
               for cid, name in subs]
    all_q = ["q-%02d" % i for i in range(n)]
    all_t = ["t-%02d" % i for i in range(n)]
    print("delay %s: queue %d, durable subscriptions %s of %d" % (delay, len(in_queue),
                                                               [len(s) for s in in_subs], n))
    if delay == "receipt" or in_queue:
        assert in_queue == all_q, in_queue
        assert in_subs == [all_t, all_t], "the queue has the transaction, the durable subscriptions %r" % in_subs
    else:
        assert in_subs == [[], []], "the queue lacks the transaction, the durable subscriptions have %r" % in_subs


def test_transaction_topic_send_reaches_non_durable_subscribers(broker_factory, work):
    """Committed persistent topic sends still reach the topic's non-durable
    subscribers (after the batch is durable), and an aborted one reaches
    nobody."""
    b = broker_factory(data_dir=data_dir(work))
    topic = "/topic/" + unique("txnd")
    live = client(b.port)
    live.subscribe(topic, "live")
    c = client(b.port)
    c.request("BEGIN", [("transaction", "a")])
    c.send(topic, "aborted", {"transaction": "a"}, receipt=False)
    c.request("ABORT", [("transaction", "a")])
    c.request("BEGIN", [("transaction", "k")])
    for i in range(3):
        c.send(topic, "kept-%d" % i, {"transaction": "k"}, receipt=False)
    c.request("COMMIT", [("transaction", "k")])
    got = [m.text for m in live.read_messages(3, LONG)]
    assert got == ["kept-0", "kept-1", "kept-2"], got
    live.assert_no_frame(what="message of the aborted transaction")
    c.close()
    live.close()
