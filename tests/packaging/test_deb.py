"""The Debian package, as an operator uses it: built by
packaging/build-deb.sh, installed with apt, its unit verified by
systemd-analyze, the broker started from it as the ferry user with the
packaged /etc/ferry/ferry.toml (data in /var/lib/ferry), a message sent and
received with the packaged CLI, then purged. Needs root (scripts/test.sh
runs it on its own, after the integration tests, since it installs into
the machine)."""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="installs a package: needs root")


def run(*args, check=True, **kw):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300, **kw)
    if check:
        assert p.returncode == 0, "%s: %s%s" % (" ".join(map(str, args)), p.stdout, p.stderr)
    return p


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    out = tmp_path_factory.mktemp("deb")
    deb = run("bash", REPO / "packaging" / "build-deb.sh", out, cwd=REPO).stdout.strip().splitlines()[-1]
    assert deb.endswith(".deb") and Path(deb).exists(), deb
    run("dpkg", "--purge", "ferry", check=False)
    run("apt-get", "install", "-y", "-qq", "--no-install-recommends", deb,
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    yield Path(deb)
    run("dpkg", "--purge", "ferry")
    assert not Path("/usr/bin/ferry").exists()
    assert not Path("/var/lib/ferry").exists(), "purge keeps no data"


def test_files_user_and_unit(installed):
    assert Path("/usr/bin/ferry").exists()
    sections = run("readelf", "-S", "/usr/bin/ferry").stdout
    assert ".debug_info" not in sections, "the packaged binary is not stripped"
    assert Path("/usr/bin/ferry").stat().st_size < 20 * 1024 * 1024
    conf = Path("/etc/ferry/ferry.toml").read_text()
    assert re.search(r'^data-dir = "/var/lib/ferry"$', conf, re.M), conf
    assert "/etc/ferry/ferry.toml" in run("dpkg-query", "-W", "-f=${Conffiles}", "ferry").stdout
    assert run("getent", "passwd", "ferry").stdout.startswith("ferry:")
    st = os.stat("/var/lib/ferry")
    assert st.st_uid == int(run("id", "-u", "ferry").stdout)
    assert Path("/usr/share/bash-completion/completions/ferry").exists()
    assert Path("/usr/share/doc/ferry/LICENSE").exists()
    p = run("systemd-analyze", "verify", "/usr/lib/systemd/system/ferry.service", check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert run("/usr/bin/ferry", "--version").stdout.startswith("ferry ")
    assert run("/usr/bin/ferry", "serve", "--config", "/etc/ferry/ferry.toml", "--check-config").returncode == 0


def test_broker_runs_from_the_package(installed):
    # A socket the ferry user can reach (pytest's tmp dirs are root's only).
    where = Path(tempfile.mkdtemp(prefix="ferry-notify-"))
    os.chmod(where, 0o755)
    notify = where / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    os.chmod(notify, 0o777)
    sock.settimeout(30)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
    env["NOTIFY_SOCKET"] = str(notify)
    # As the unit runs it: the ferry user, the packaged configuration, in
    # /var/lib/ferry; ports 0 so that nothing else on the machine matters.
    proc = subprocess.Popen(["/usr/bin/ferry", "serve", "--config", "/etc/ferry/ferry.toml",
                             "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"],
                            cwd="/var/lib/ferry", env=env, stderr=subprocess.PIPE, text=True,
                            user="ferry", group="ferry", extra_groups=[])
    try:
        assert "READY=1" in sock.recv(4096).decode()
        port = None
        deadline = time.monotonic() + 10
        lines = []
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            m = re.search(r"listening on 127\.0\.0\.1:(\d+) \(STOMP\)", line)
            if m:
                port = int(m.group(1))
        assert port, "".join(lines)
        assert any("configuration: /etc/ferry/ferry.toml" in l for l in lines), "".join(lines)
        server = "127.0.0.1:%d" % port
        run("/usr/bin/ferry", "send", "packaged", "from the package", "--server", server, env=env)
        r = run("/usr/bin/ferry", "recv", "packaged", "-n", "1", "--timeout", "10", "--server", server, env=env)
        assert r.stdout == "from the package\n"
        journal = list(Path("/var/lib/ferry").rglob("*"))
        assert journal, "no journal in /var/lib/ferry"
        assert all(p.stat().st_uid == os.stat("/var/lib/ferry").st_uid for p in journal)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        sock.close()
        shutil.rmtree(where, ignore_errors=True)
