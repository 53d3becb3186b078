"""Disk full for real: the data directory is an 8 MiB tmpfs (mounted by the
test; needs root and a kernel/container that allows mount). Persistent
SENDs get an ERROR naming the full disk once it fills, nothing receipted is
lost or damaged, the journal recovers after a restart, and sending works
again once consumers have freed space (segments of consumed messages are
deleted). Without permission to mount the test is skipped, saying why; the
injected-ENOSPC tests (test_disk_faults.py) cover the same path through an
LD_PRELOAD shim."""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from support import Closed, client, fill_until_refused, restart, unique
from test_persistence import drain, work, work_root  # noqa: F401 (fixtures)

SIZE = "8m"
BODY = "t" * 8000


@pytest.fixture
def tiny_dir():
    """An 8 MiB tmpfs, always unmounted at teardown."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (running as uid %d)" % os.geteuid())
    mnt = Path(tempfile.mkdtemp(prefix="ferry-tiny-"))
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + SIZE, "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        mnt.rmdir()
        pytest.skip("cannot mount a tmpfs here: %s" % (p.stderr.strip() or p.stdout.strip()))
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
        try:
            mnt.rmdir()
        except OSError:
            pass


def _fill_until_refused(port, dest, limit=5000):
    return fill_until_refused(port, dest, BODY, limit, " (is the tmpfs %s?)" % SIZE)


def test_full_tmpfs_refuses_keeps_everything_and_recovers(broker_factory, tiny_dir):
    ddir = tiny_dir / "data"
    ddir.mkdir()
    # Small segments, so that consuming frees whole segments.
    b = broker_factory(data_dir=str(ddir), segment_size="512KiB")
    q = "/queue/" + unique("tiny")
    sent, err = _fill_until_refused(b.port, q)
    assert "disk full" in err.get("message"), err
    assert len(sent) > 100, "refused early: %d messages of 8 KB on an 8 MiB disk" % len(sent)
    assert b.alive(), "broker died on a full disk"
    # Non-persistent messages need no disk.
    c = client(b.port)
    c.send("/queue/" + unique("np"), "in memory", {"persistent": "false"})
    c.close()

    # Restart (kill -9) on the full disk: every receipted message, exact.
    # Drained with ack:auto: a client ACK needs its record on disk (a
    # receipted ACK is durable), so on a full disk it would get an ERROR;
    # consuming frees the space either way.
    b2 = restart(broker_factory, b, "kill")
    got = drain(b2.port, q, len(sent), timeout=60, ack="auto",
                sub_headers={"prefetch-count": str(len(sent))})
    assert [m.body.decode() for m in got] == sent, "receipted messages lost or damaged after a full disk"

    # Consumed: the segments are deleted and persistent SENDs work again.
    c = client(b2.port)
    q2 = "/queue/" + unique("after")
    again = ["again-%d-%s" % (i, BODY) for i in range(50)]
    for body in again:
        c.send(q2, body)  # raises on ERROR: each needs a RECEIPT
    c.close()
    b3 = restart(broker_factory, b2, "term")
    assert [m.body.decode() for m in drain(b3.port, q2, len(again))] == again
    assert drain(b3.port, q, 0) == []
