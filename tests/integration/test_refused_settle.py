"""An ACK, NACK, dead-letter move or COMMIT that cannot be made durable (the
data disk is full) changes nothing: the message stays with its consumer and
returns to the queue when the consumer goes, exactly as if the frame had
never arrived; and the journal segment holding it is not released, so it is
still there after kill -9.

The disk fills through libferry_faultfs.so (see test_disk_faults.py). Each
test lays the journal out so that the held message's segment has nothing
else live in it: before the fix, the refused ACK released that segment at
once, it was deleted, and the message was gone for good (issue: "A refused
ACK still removes the message").
"""
from __future__ import annotations

import pytest

from support import Closed, QUIET, client, restart, unique
from test_disk_faults import body_of, check_body, faultfs_env
from test_persistence import data_dir, work, work_root  # noqa: F401 (fixtures)


def _setup(broker_factory, work):
    ddir = data_dir(work)
    control = work / "faultfs.ctl"
    control.write_text("")
    b = broker_factory(data_dir=ddir, segment_size="64KiB", env=faultfs_env(ddir, control))
    return b, control


def _fill(port, q, n_held, n_fill=60):
    """n_held messages 'h' first, then fillers 'f' (about two 64 KiB segments
    of them, so the segment of the held ones is no longer written), each
    receipted; then every filler is consumed and acked, so the held ones are
    the only live records of their segment."""
    c = client(port)
    for i in range(n_held):
        c.send(q, body_of("h", i), [("persistent", "true")])
    for i in range(n_fill):
        c.send(q, body_of("f", i), [("persistent", "true")])
    c.close()


def _ack_fillers(port, q, skip):
    """Consumes what is waiting on q, acking every filler (the held ones are
    with another consumer)."""
    c = client(port)
    c.subscribe(q, "fill", ack="client-individual", headers={"prefetch-count": "100"})
    n = 0
    while True:
        f = c.try_read_frame(1.0)
        if f is None:
            break
        assert check_body(f.body).startswith("f-"), "a held message was redelivered: %r" % f.body[:10]
        c.ack(f)
        n += 1
    c.close()
    assert n == skip, "expected %d fillers, got %d" % (skip, n)


def _expect_refused(c, command, headers, rid):
    """Sends the frame with a receipt; the answer must be an ERROR for it
    naming the full disk, and no RECEIPT may follow."""
    c.send_frame(command, headers + [("receipt", rid)])
    f = c.read_frame(10)
    assert f.command == "ERROR", "%s on a full disk answered %r" % (command, f)
    assert f.get("receipt-id") == rid, f
    assert "disk full" in f.get("message", ""), f
    rest = c.read_until_closed()
    assert all(x.command != "RECEIPT" for x in rest), "a RECEIPT after the ERROR: %r" % rest
    assert all(x.command != "MESSAGE" for x in rest), "a MESSAGE after the ERROR: %r" % rest


def _held_keys_after(port, q, n, what):
    """Subscribes anew and returns the keys of the first n messages, each of
    which must be a held one, marked redelivered."""
    c = client(port)
    try:
        c.subscribe(q, "again", ack="client-individual", headers={"prefetch-count": str(n)})
        got = []
        for _ in range(n):
            f = c.try_read_frame(5)
            assert f is not None, "%s: only %r came back; the rest was lost" % (what, got)
            k = check_body(f.body)
            assert k.startswith("h-"), "%s: %s came before the held messages" % (what, k)
            assert f.get("redelivered") == "true", "%s: %s not marked redelivered" % (what, f)
            got.append(k)
        return sorted(got)
    finally:
        c.close()


def _check_kept(broker_factory, b, control, q, keys):
    """The held messages are back in the queue now, and after kill -9."""
    control.write_text("")  # the disk has room again
    assert _held_keys_after(b.port, q, len(keys), "before restart") == keys
    b2 = restart(broker_factory, b, "kill")
    assert _held_keys_after(b2.port, q, len(keys), "after kill -9") == keys


def test_refused_ack_keeps_the_message(broker_factory, work):
    b, control = _setup(broker_factory, work)
    q = "/queue/" + unique("ack")
    _fill(b.port, q, 1)
    w = client(b.port)
    w.subscribe(q, "w", ack="client-individual", headers={"prefetch-count": "1"})
    m = w.read_message()
    assert check_body(m.body) == "h-00000"
    _ack_fillers(b.port, q, 60)
    control.write_text("enospc\n")
    _expect_refused(w, "ACK", [("id", m["ack"])], "ack-1")
    _check_kept(broker_factory, b, control, q, ["h-00000"])


def test_refused_cumulative_ack_keeps_every_message_it_named(broker_factory, work):
    b, control = _setup(broker_factory, work)
    q = "/queue/" + unique("cumulative")
    _fill(b.port, q, 3)
    w = client(b.port)
    w.subscribe(q, "w", ack="client", headers={"prefetch-count": "3"})
    ms = w.read_messages(3)
    _ack_fillers(b.port, q, 60)
    control.write_text("enospc\n")
    _expect_refused(w, "ACK", [("id", ms[-1]["ack"])], "ack-all")
    _check_kept(broker_factory, b, control, q, ["h-00000", "h-00001", "h-00002"])


def test_refused_commit_keeps_the_transaction_s_acked_message(broker_factory, work):
    b, control = _setup(broker_factory, work)
    q = "/queue/" + unique("tx")
    _fill(b.port, q, 1)
    w = client(b.port)
    w.subscribe(q, "w", ack="client-individual", headers={"prefetch-count": "1"})
    m = w.read_message()
    _ack_fillers(b.port, q, 60)
    w.request("BEGIN", [("transaction", "t1")])
    w.request("ACK", [("id", m["ack"]), ("transaction", "t1")])
    control.write_text("enospc\n")
    _expect_refused(w, "COMMIT", [("transaction", "t1")], "commit-1")
    _check_kept(broker_factory, b, control, q, ["h-00000"])


def test_refused_dead_letter_nack_keeps_the_message_where_it_was(broker_factory, work):
    b, control = _setup(broker_factory, work)
    q_name = unique("nack")
    q = "/queue/" + q_name
    _fill(b.port, q, 1)
    w = client(b.port)
    w.subscribe(q, "w", ack="client-individual", headers={"prefetch-count": "1"})
    m = w.read_message()
    _ack_fillers(b.port, q, 60)
    control.write_text("enospc\n")
    _expect_refused(w, "NACK", [("id", m["ack"]), ("requeue", "false")], "nack-1")
    control.write_text("")
    # Not in the dead-letter queue: the move did not happen.
    d = client(b.port)
    d.subscribe("/queue/DLQ." + q_name, "dlq")
    assert d.try_read_frame(QUIET * 3) is None, "the refused move reached the dead-letter queue"
    d.close()
    _check_kept(broker_factory, b, control, q, ["h-00000"])


def test_acks_sent_just_before_a_close_are_final(broker_factory, work):
    """ACKs without receipts followed at once by the client's close: the
    broker settles them (their records are written while the connection
    ends) and none of those messages is redelivered, also after kill -9.
    (A consumer that is removed while its ACK's record is being written is
    covered by tests/broker/queue_test.cc: the delivery is kept aside until
    the record's outcome.)"""
    b, control = _setup(broker_factory, work)
    q = "/queue/" + unique("leave")
    c = client(b.port)
    for i in range(200):
        c.send(q, body_of("h", i, 300), [("persistent", "true")], receipt=(i == 199))
    c.close()
    w = client(b.port)
    w.subscribe(q, "w", ack="client-individual", headers={"prefetch-count": "200"})
    ms = w.read_messages(200)
    for m in ms:
        w.send_frame("ACK", [("id", m["ack"])])
    w.close()  # at once, while the last ACKs are being written
    r = client(b.port)
    r.subscribe(q, "r")
    extra = r.try_read_frame(1.5)
    assert extra is None, "an acknowledged message came back: %r" % (extra.body[:12],)
    r.close()
    b2 = restart(broker_factory, b, "kill")
    r = client(b2.port)
    r.subscribe(q, "r")
    extra = r.try_read_frame(1.5)
    assert extra is None, "an acknowledged message came back after kill -9: %r" % (extra.body[:12],)


def test_auto_ack_removals_refused_by_a_full_disk_are_written_when_space_returns(broker_factory, work):
    """ack:auto consumes a message the moment it is sent, with no ACK to
    refuse: its removal record is written without a client waiting. When
    the disk refuses that record, the message must still never come back
    after a restart (a duplicate of one already consumed): the broker keeps
    the record and writes it once the disk has room. The messages share
    their segment with one that stays live, so the segment survives and a
    missing record would bring them back."""
    b, control = _setup(broker_factory, work)
    q = "/queue/" + unique("auto")
    keep = "/queue/" + unique("keep")
    c = client(b.port)
    for i in range(5):
        c.send(q, body_of("h", i), [("persistent", "true")])
    c.send(keep, body_of("k", 0), [("persistent", "true")])
    c.close()
    _fill(b.port, "/queue/" + unique("filler"), 0)  # the segment above is no longer written

    control.write_text("enospc\n")
    w = client(b.port)
    w.subscribe(q, "w", ack="auto", headers={"prefetch-count": "5"})
    assert [check_body(m.body) for m in w.read_messages(5)] == ["h-%05d" % i for i in range(5)]
    w.close()
    b.wait_for_log("removal record could not be written")
    control.write_text("")  # room again: the next housekeeping tick writes them
    b.wait_for_log("delayed removal record(s) written")

    b2 = restart(broker_factory, b, "kill")
    c = client(b2.port)
    c.subscribe(q, "again", ack="auto")
    f = c.try_read_frame(QUIET * 3)
    assert f is None, "a message consumed with ack:auto came back after a restart: %r" % f.body[:10]
    c.subscribe(keep, "keep", ack="auto")
    assert check_body(c.read_message().body) == "k-00000"
    c.close()
