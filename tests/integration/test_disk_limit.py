"""Disk full, as a size-limited data directory (--disk-limit): persistent
SENDs past the limit get an ERROR naming it, nothing already receipted is
lost or corrupted, and the broker accepts again once consumers free space.
(The journal's own ENOSPC/EIO handling is tested with injected faults in
tests/store/journal_fault_test.cc.)"""
from __future__ import annotations

from support import Closed, client, fill_until_refused, restart, unique
from test_persistence import data_dir, drain, work, work_root  # noqa: F401 (fixtures)

BODY = "d" * 8000


def _fill_until_refused(port, dest, limit=2000):
    return fill_until_refused(port, dest, BODY, limit, "")


def test_disk_limit_refuses_then_recovers(broker_factory, work):
    b = broker_factory(data_dir=data_dir(work), disk_limit="512KiB", segment_size="64KiB")
    q = "/queue/" + unique("full")
    sent, err = _fill_until_refused(b.port, q)
    assert "disk limit" in err.get("message"), err
    assert err.get("receipt-id") is not None, "the refused SEND's receipt is named: %r" % err
    assert 40 <= len(sent) <= 80, "refused at an odd place: %d messages of 8 KB" % len(sent)
    # Non-persistent messages do not touch the disk: still accepted.
    c = client(b.port)
    c.send("/queue/" + unique("mem"), "fine", [("persistent", "false")])
    c.close()
    # Nothing receipted is lost or garbled, even across a kill -9.
    b2 = restart(broker_factory, b, "kill")
    got = drain(b2.port, q, len(sent))
    assert [m.body.decode() for m in got] == sent
    # Draining freed the segments: persistent SENDs are accepted again.
    c = client(b2.port)
    c.send(q, "after", [("persistent", "true")])
    c.close()
    assert [m.body for m in drain(b2.port, q, 1)] == [b"after"]
