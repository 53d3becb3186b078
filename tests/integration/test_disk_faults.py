"""Disk faults under the real broker: the data disk fills up (ENOSPC), the
device fails writes (EIO) or loses them at fsync (EIO from fdatasync).

The faults come from libferry_faultfs.so (tests/faultfs/faultfs.c), an
LD_PRELOAD shim that fails write/pwrite/fsync/fdatasync/fallocate (and file
creation, for ENOSPC) on files under the broker's data-dir while a control
file says so. Each test:

1. healthy: persistent SENDs with receipts; a consumer acks some of them;
2. fault on: persistent SENDs (plain, larger than 4 KiB so the shim writes
   half and then fails, and a transaction's COMMIT) get an ERROR naming the
   disk failure, never a RECEIPT; non-persistent SENDs still work; a
   consumer keeps receiving; the shim proves it injected failures;
3. fault cleared: persistent SENDs are accepted again on new connections;
4. kill -9 and restart without the shim: the journal opens without cutting
   anything, every receipted and not acknowledged message is there exactly
   once with its exact body, no refused message ever appears.

(--disk-limit, the configured refusal, is tests/integration/test_disk_limit.py;
the journal's own fault handling is tests/store/journal_fault_test.cc.)
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from mgmt import Api
from support import Closed, QUIET, StompError, assert_broker_serves, client, ferry_bin, restart, unique
from test_persistence import data_dir, work, work_root  # noqa: F401 (fixtures)

ERROR_TEXT = {"enospc": "disk full", "eio-write": "journal write failed",
              "eio-fsync": "journal write failed"}


def faultfs_lib() -> Path:
    env = os.environ.get("FERRY_FAULTFS")
    if env:
        return Path(env)
    return Path(ferry_bin()).resolve().parent / "tests" / "faultfs" / "libferry_faultfs.so"


def faultfs_env(ddir: str, control: Path) -> dict:
    lib = faultfs_lib()
    if not lib.exists():
        pytest.fail("fault-injection shim not built: %s (cmake target ferry_faultfs)" % lib)
    preload = [str(lib)]
    # A sanitizer build's runtime must come first in the preload list.
    ldd = subprocess.run(["ldd", ferry_bin()], capture_output=True, text=True).stdout
    for line in ldd.splitlines():
        if "libasan" in line and "=>" in line:
            preload.insert(0, line.split("=>")[1].split()[0])
    return {"LD_PRELOAD": ":".join(preload), "FERRY_FAULTFS_DIR": ddir,
            "FERRY_FAULTFS_CONTROL": str(control)}


def body_of(tag: str, i: int, size: int = 2000) -> bytes:
    """A body whose content proves its identity: tag, index, then a digest
    chain the checker recomputes."""
    head = ("%s-%05d-" % (tag, i)).encode()
    filler = hashlib.sha256(head).hexdigest().encode()
    return head + (filler * (size // len(filler) + 1))[:size - len(head)]


def check_body(b: bytes) -> str:
    tag, i, _ = b.split(b"-", 2)
    expect = body_of(tag.decode(), int(i), len(b))
    assert b == expect, "corrupted body for %s-%s" % (tag, i)
    return "%s-%05d" % (tag.decode(), int(i))


def send_until_refused(port, dest, tag, start, n, size=2000):
    """Persistent SENDs with receipts on one connection. Returns (receipted
    keys, refused key or None, the ERROR frame or None)."""
    c = client(port)
    ok = []
    try:
        for i in range(start, start + n):
            rid = "r%d" % i
            c.send_frame("SEND", [("destination", dest), ("receipt", rid), ("persistent", "true")],
                         body_of(tag, i, size))
            f = c.read_frame(15)
            if f.command == "ERROR":
                assert f.get("receipt-id") == rid, "ERROR does not name the refused SEND: %r" % f
                assert all(x.command != "RECEIPT" for x in c.read_until_closed()), \
                    "a RECEIPT after the ERROR"
                return ok, "%s-%05d" % (tag, i), f
            assert f.command == "RECEIPT" and f["receipt-id"] == rid, f
            ok.append("%s-%05d" % (tag, i))
    finally:
        c.close()
    return ok, None, None


def injected(control: Path) -> int:
    p = Path(str(control) + ".count")
    return int(p.read_text()) if p.exists() else 0


def drain_all(port, dest, idle=2.0, timeout=60):
    """Every message on dest (client-individual, each acked), until `idle`
    seconds pass without one. Returns (keys in order, redelivered keys)."""
    c = client(port)
    keys, redelivered = [], set()
    try:
        c.subscribe(dest, "drain", ack="client-individual", headers={"prefetch-count": "100"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            f = c.try_read_frame(idle)
            if f is None:
                break
            if f.command != "MESSAGE":
                raise AssertionError("unexpected frame while draining: %r" % f)
            k = check_body(f.body)
            keys.append(k)
            if f.get("redelivered") == "true":
                redelivered.add(k)
            c.ack(f)
    finally:
        c.close()
    return keys, redelivered


@pytest.mark.parametrize("mode", ["enospc", "eio-write", "eio-fsync"])
def test_disk_fault_refuses_then_resumes_without_loss(broker_factory, work, mode):
    ddir = data_dir(work)
    control = work / "faultfs.ctl"
    control.write_text("")
    b = broker_factory(data_dir=ddir, segment_size="64KiB", env=faultfs_env(ddir, control))
    q = "/queue/" + unique("fault")

    # 1. healthy
    receipted, refused_key, err = send_until_refused(b.port, q, "a", 0, 60)
    assert refused_key is None, "refused with no fault on: %r" % err
    acked = set()
    c = client(b.port)
    c.subscribe(q, "c", ack="client-individual", headers={"prefetch-count": "10"})
    for m in c.read_messages(10):
        c.ack(m)
        acked.add(check_body(m.body))
    c.close()

    # 2. fault on
    control.write_text(mode + "\n")
    refused = []
    errors = []
    for tag, size in (("b", 2000), ("c", 20000), ("d", 200)):
        ok, key, err = send_until_refused(b.port, q, tag, 0, 3, size)
        assert not ok, "%s: %d persistent SENDs receipted with the disk failing (%s)" % (
            mode, len(ok), ok)
        assert key is not None
        refused.append(key)
        errors.append(err)
    for err in errors:
        assert ERROR_TEXT[mode] in err.get("message", ""), err
        assert "disk limit" not in err.get("message", ""), "not the --disk-limit refusal: %r" % err
    # a transaction's persistent sends: the COMMIT is refused
    t = client(b.port)
    t.request("BEGIN", [("transaction", "tx")])
    for i in range(2):
        t.send(q, body_of("t", i), [("transaction", "tx"), ("persistent", "true")])
    refused += ["t-00000", "t-00001"]
    with pytest.raises(StompError) as exc:
        t.request("COMMIT", [("transaction", "tx")])
    assert ERROR_TEXT[mode] in exc.value.frame.get("message", ""), exc.value.frame
    t.close()
    # non-persistent messages do not touch the disk
    mem = "/queue/" + unique("mem")
    m = client(b.port)
    m.subscribe(mem, "m")
    m.send(mem, "in memory", [("persistent", "false")])
    assert m.read_message().body == b"in memory"
    m.close()
    # a consumer still receives what is queued (availability first: its
    # delivery count could not be journaled, so it may come back unmarked
    # after a crash); its ACKs need the disk and may be refused
    c = client(b.port)
    c.subscribe(q, "c2", ack="client-individual", headers={"prefetch-count": "5"})
    held = c.read_messages(5)
    ack_unsure = set()  # an ACK refused with an ERROR: it may or may not count
    for msg in held:
        k = check_body(msg.body)
        assert k not in refused, "a refused message was delivered: %s" % k
        try:
            c.ack(msg)
            acked.add(k)  # receipted ACK: the ack record is on disk
        except (StompError, Closed, AssertionError):
            ack_unsure.add(k)
            break
    c.close()  # the rest of `held` goes back to the queue
    faults = injected(control)
    assert faults > 0, "the shim injected nothing: is it loaded? (LD_PRELOAD)"
    assert b.alive()

    # 3. fault cleared: service resumes
    control.write_text("")
    ok, key, err = send_until_refused(b.port, q, "e", 0, 40)
    assert key is None, "still refused after the fault cleared: %r" % err
    receipted += ok
    assert_broker_serves(b)
    b.wait_for_log("failing appends until it works")
    b.wait_for_log("writes succeed again")

    # 4. crash and recover without the shim: nothing receipted is lost
    b2 = restart(broker_factory, b, "kill")
    log2 = "\n".join(b2.lines)
    assert "cut torn" not in log2 and "corrupt" not in log2, log2
    got, redelivered = drain_all(b2.port, q)
    assert len(got) == len(set(got)), "duplicates after recovery: %r" % sorted(
        k for k in set(got) if got.count(k) > 1)
    got_set = set(got)
    for k in refused:
        assert k not in got_set, "%s: a refused message (%s) was stored" % (mode, k)
    must = set(receipted) - acked - ack_unsure
    lost = sorted(must - got_set)
    assert not lost, "%s: receipted messages lost: %r" % (mode, lost)
    extra = got_set - must
    assert extra <= ack_unsure, "%s: unexpected messages: %r" % (mode, sorted(extra - ack_unsure))
    print("%s: %d receipted, %d refused, %d acked, %d faults injected, %d recovered"
          % (mode, len(receipted), len(refused), len(acked), faults, len(got)))


def test_a_queue_deletion_that_cannot_be_recorded_is_refused_and_changes_nothing(broker_factory, work):
    """Issue 16: DELETE /api/queues/V/NAME writes the deletion first
    (queues.log for a queue made by traffic, declared-queues.json for one
    made by PUT) and drops the queue only once that is durable. With the
    disk failing writes the answer is RabbitMQ's 500 {"error","reason"} and
    the queue is still there, messages and all, also after a kill -9; once
    the disk works the same DELETE is 204 and the queue stays gone."""
    ddir = data_dir(work)
    control = work / "faultfs.ctl"
    control.write_text("")
    b = broker_factory(data_dir=ddir, env=faultfs_env(ddir, control))
    api = Api(b)
    by_traffic, by_put = unique("traffic"), unique("put")
    api.call("PUT", Api.q(by_put), {}, expect=201)
    c = client(b.port)
    for name in (by_traffic, by_put):
        c.send("/queue/" + name, "kept " + name, headers={"persistent": "true"})  # receipted
    c.close()

    control.write_text("eio-write\n")
    for name in (by_traffic, by_put):
        status, _, data = api.raw("DELETE", Api.q(name))
        assert status == 500, (name, status, data)
        err = json.loads(data)
        assert err["error"] == "internal_error" and "not deleted" in err["reason"], err
        assert api.queue(name)["messages"] == 1, "a refused DELETE must leave %s as it was" % name
    assert injected(control) > 0, "the shim injected nothing: is it loaded? (LD_PRELOAD)"
    control.write_text("")

    b2 = restart(broker_factory, b, "kill")
    api2 = Api(b2)
    for name in (by_traffic, by_put):
        assert api2.queue(name)["messages"] == 1, "%s lost after the refused DELETE and a kill -9" % name
        api2.call("DELETE", Api.q(name), expect=204)
    b3 = restart(broker_factory, b2, "kill")
    for name in (by_traffic, by_put):
        Api(b3).queue(name, expect=404)


class _BusyJournal:
    """Keeps the broker's journal in a slow sync (faultfs "slow-fsync"):
    persistent SENDs with receipts, one after another, from a thread, so
    any record appended meanwhile waits behind a sync before it is even
    written."""

    def __init__(self, port):
        import threading
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(port,), daemon=True)
        self.thread.start()

    def _run(self, port):
        try:
            c = client(port)
            while not self.stop.is_set():
                c.send("/queue/" + unique("busy"), "busy", headers={"persistent": "true"})
        except Exception:  # the broker is killed under it
            pass

    def end(self):
        self.stop.set()
        self.thread.join(10)


@pytest.mark.parametrize("how", ["delete", "purge", "get"])
def test_an_answer_that_says_messages_are_gone_holds_after_a_kill(broker_factory, work, how):
    """DELETE /api/queues/V/NAME, DELETE .../contents and a POST .../get with
    ackmode ack_requeue_false answer that the queue's messages are gone;
    a kill -9 right after the answer must not bring them back. Their ack
    records are written without a client waiting on them, so the answer
    waits for them (ShardBroker::after_journal). The journal's syncs are
    slowed so that those records queue behind one: before, the answer came
    at once and the kill found them unwritten (a deleted queue came back,
    messages and all, after a 204)."""
    ddir = data_dir(work)
    control = work / "faultfs.ctl"
    control.write_text("")
    b = broker_factory(data_dir=ddir, env=faultfs_env(ddir, control))
    api = Api(b)
    name = unique(how)
    c = client(b.port)
    for i in range(3):
        c.send("/queue/" + name, "m%d" % i, headers={"persistent": "true"})  # receipted
    c.close()
    assert api.queue(name)["messages"] == 3

    control.write_text("slow-fsync 1500\n")
    busy = _BusyJournal(b.port)
    time.sleep(0.3)  # a sync is under way
    if how == "delete":
        api.call("DELETE", Api.q(name), expect=204)
    elif how == "purge":
        api.call("DELETE", Api.q(name) + "/contents", expect=(200, 204))
    else:
        got = api.call("POST", Api.q(name) + "/get", {"count": 3, "ackmode": "ack_requeue_false",
                                                       "encoding": "auto"})
        assert [m["payload"] for m in got] == ["m0", "m1", "m2"], got
    b2 = restart(broker_factory, b, "kill")
    busy.end()
    control.write_text("")
    if how == "delete":
        Api(b2).queue(name, expect=404)
    else:
        assert Api(b2).queue(name)["messages"] == 0, "%s: messages back after the answer and a kill -9" % how


@pytest.mark.parametrize("made_by", ["put", "traffic"])
def test_an_x_expires_deletion_that_cannot_be_recorded_keeps_the_queue(broker_factory, work, made_by):
    """x-expires deletes an unused queue as DELETE does: its deletion is
    recorded first (queues.log; declared-queues.json for a declared one).
    With the disk failing writes the queue stays, messages and all (before,
    it vanished from the running broker and came back after a restart);
    once the disk works it expires and stays gone after a kill -9."""
    ddir = data_dir(work)
    control = work / "faultfs.ctl"
    control.write_text("")
    b = broker_factory(data_dir=ddir, env=faultfs_env(ddir, control))
    api = Api(b)
    name = unique("expiring")
    c = client(b.port)
    if made_by == "put":
        api.call("PUT", Api.q(name), {"arguments": {"x-expires": 800}}, expect=201)
        c.send("/queue/" + name, "kept", headers={"persistent": "true"})
    else:
        c.send("/queue/" + name, "kept", headers={"persistent": "true", "x-expires": "800"})
    c.close()
    assert api.queue(name)["messages"] == 1

    control.write_text("eio-write\n")
    time.sleep(2.0)  # more than twice its x-expires
    assert injected(control) > 0, "the shim injected nothing: is it loaded? (LD_PRELOAD)"
    assert api.queue(name)["messages"] == 1, "expired although its deletion could not be recorded"
    control.write_text("")

    deadline = time.monotonic() + 10
    while api.raw("GET", Api.q(name))[0] != 404:
        assert time.monotonic() < deadline, "not expired once the disk works"
        time.sleep(0.1)
    b2 = restart(broker_factory, b, "kill")
    Api(b2).queue(name, expect=404)
