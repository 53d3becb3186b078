"""etcd for the cluster tests: members started by scripts/etcd.sh on free
loopback ports, data in a temporary directory. Tests that need etcd skip
with the script's message when it cannot be installed.

    from cluster_support import etcd_cluster, etcd_factory  # the fixtures
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "etcd.sh"


class Etcd:
    """N etcd members (scripts/etcd.sh start); a context manager that stops
    them and removes their data."""

    def __init__(self, members: int = 3):
        self.dir = tempfile.mkdtemp(prefix="ferry-etcd-")
        p = subprocess.run(["bash", str(SCRIPT), "start", self.dir, str(members)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180)
        if p.returncode == 3:
            shutil.rmtree(self.dir, ignore_errors=True)
            pytest.skip("etcd is not available: " + p.stderr.decode().strip())
        if p.returncode != 0:
            logs = "".join(f.read_text(errors="replace")[-2000:] for f in Path(self.dir).glob("member-*.log"))
            shutil.rmtree(self.dir, ignore_errors=True)
            raise RuntimeError("scripts/etcd.sh start failed: %s\n%s" % (p.stderr.decode(), logs))
        self.endpoints = p.stdout.decode().strip()
        self.running = True

    def kill_member(self, i: int):
        """kill -9 of member i (the others keep a quorum when there are 3)."""
        pid_file = Path(self.dir) / ("member-%d.pid" % i)
        pid = int(pid_file.read_text())
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        pid_file.unlink()  # stop() leaves it alone

    def stop(self):
        if self.running:
            subprocess.run(["bash", str(SCRIPT), "stop", self.dir], timeout=60, check=False)
            self.running = False

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture(scope="module")
def etcd_cluster():
    """Three etcd members shared by a module's tests: each test uses a
    cluster-name of its own (unique()), so their keys never meet."""
    with Etcd(3) as e:
        yield e


@pytest.fixture
def etcd_factory():
    """etcd_factory(n) starts n members for one test (one that stops them)."""
    started: list[Etcd] = []

    def start(members: int = 3) -> Etcd:
        e = Etcd(members)
        started.append(e)
        return e

    yield start
    for e in started:
        e.close()


def wait_for(what: str, check, timeout: float = 30.0, interval: float = 0.2):
    """Polls check() until it returns something true, within a generous
    deadline (never a timing assertion); returns that value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as e:  # noqa: BLE001 - a broker between states may answer oddly: poll on
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError("%s: not within %.0f s (last: %r)" % (what, timeout, last))
