"""`ferry serve` as a service: which ferry.toml it reads (and says so), paths
relative to that file, --check-config and --print-config, SIGHUP, and
systemd's readiness notification (Type=notify)."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from support import WAIT, client, ferry_bin, run_ferry, unique


def serve_env(**extra):
    """The environment without FERRY_CONFIG (so the lookup runs) plus extra."""
    env = {k: v for k, v in os.environ.items() if k != "FERRY_CONFIG"}
    env.update(extra)
    return env


class Serve:
    """`ferry serve` started directly, its stderr collected line by line."""

    def __init__(self, args, cwd, env):
        self.lines: list[str] = []
        self.port = None
        self._seen = threading.Condition()
        self.proc = subprocess.Popen([ferry_bin(), "serve"] + args, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        threading.Thread(target=self._read, daemon=True).start()
        line = self.wait_for(r"listening on 127\.0\.0\.1:(\d+) \(STOMP\)")
        self.port = int(re.search(r":(\d+) \(STOMP\)", line).group(1))

    def _read(self):
        for raw in self.proc.stderr:
            with self._seen:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    def wait_for(self, pattern, timeout=WAIT * 2):
        deadline = time.monotonic() + timeout
        with self._seen:
            while True:
                for line in self.lines:
                    if re.search(pattern, line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no line matching %r; log:\n%s" % (pattern, "\n".join(self.lines[-30:])))
                self._seen.wait(min(left, 0.2))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(15)


def write_config(path: Path, **values):
    lines = ['listen = "127.0.0.1:0"', 'http-listen = ""', 'shards = 1']
    lines += ['%s = "%s"' % (k.replace("_", "-"), v) for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n")


def test_reads_ferry_toml_of_the_working_directory_and_says_so(tmp_path):
    write_config(tmp_path / "ferry.toml", data_dir="journal-here")
    s = Serve([], cwd=tmp_path, env=serve_env())
    try:
        assert "configuration: ferry.toml" in s.wait_for(r"configuration: ")
        c = client(s.port)
        c.send("/queue/" + unique(), "x")
        c.close()
        assert (tmp_path / "journal-here").is_dir(), "data-dir of the file was not used"
    finally:
        assert s.stop() == 0


def test_ferry_config_names_the_file_and_its_relative_paths_follow_it(tmp_path):
    conf_dir = tmp_path / "etc"
    conf_dir.mkdir()
    write_config(conf_dir / "broker.toml", data_dir="data")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    s = Serve([], cwd=elsewhere, env=serve_env(FERRY_CONFIG=str(conf_dir / "broker.toml")))
    try:
        assert str(conf_dir / "broker.toml") in s.wait_for(r"configuration: ")
        assert (conf_dir / "data").is_dir(), "a relative data-dir is relative to its ferry.toml"
        assert not (elsewhere / "data").exists()
    finally:
        assert s.stop() == 0


def test_no_file_means_built_in_defaults_and_says_so(tmp_path):
    s = Serve(["--listen", "127.0.0.1:0", "--http-listen", "", "--data-dir", str(tmp_path / "d")],
              cwd=tmp_path, env=serve_env(FERRY_CONFIG=""))
    try:
        assert "built-in defaults" in s.wait_for(r"configuration: ")
    finally:
        assert s.stop() == 0


def test_check_config(tmp_path):
    write_config(tmp_path / "good.toml")
    p = run_ferry("serve", "--config", tmp_path / "good.toml", "--check-config")
    assert p.returncode == 0, p.stderr
    assert "configuration ok: " + str(tmp_path / "good.toml") in p.stdout.decode()
    write_config(tmp_path / "bad-value.toml", max_connections="many")
    p = run_ferry("serve", "--config", tmp_path / "bad-value.toml", "--check-config")
    assert p.returncode == 2 and "max-connections" in p.stderr.decode(), p.stderr
    write_config(tmp_path / "bad-users.toml", users_file=str(tmp_path / "missing-users.toml"))
    p = run_ferry("serve", "--config", tmp_path / "bad-users.toml", "--check-config")
    assert p.returncode == 2 and "users file" in p.stderr.decode(), p.stderr
    write_config(tmp_path / "bad-tls.toml", tls_listen="127.0.0.1:0", tls_cert_file=str(tmp_path / "no.pem"),
                 tls_key_file=str(tmp_path / "no.key"))
    p = run_ferry("serve", "--config", tmp_path / "bad-tls.toml", "--check-config")
    assert p.returncode == 2 and "TLS" in p.stderr.decode(), p.stderr


def test_print_config_shows_every_option_and_its_source(tmp_path):
    write_config(tmp_path / "f.toml", max_connections="77")
    p = run_ferry("serve", "--config", tmp_path / "f.toml", "--print-config", "--max-frame-size", "2MiB")
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    assert re.search(r'^max-connections = "77"  # .*f\.toml$', out, re.M), out
    assert re.search(r'^max-frame-size = "2MiB"  # --max-frame-size$', out, re.M), out
    assert re.search(r'^log-level = "info"  # default$', out, re.M), out
    # The output is itself a usable ferry.toml.
    (tmp_path / "printed.toml").write_text(out)
    p = run_ferry("serve", "--config", tmp_path / "printed.toml", "--check-config")
    assert p.returncode == 0, p.stderr


def test_sighup_reloads_what_it_can_and_names_the_rest(tmp_path):
    conf = tmp_path / "ferry.toml"
    write_config(conf, log_level="info", data_dir="d", max_connections="100")
    s = Serve(["--config", str(conf)], cwd=tmp_path, env=serve_env())
    try:
        assert not any(" debug " in line for line in s.lines)
        write_config(conf, log_level="debug", data_dir="d", max_connections="50")
        s.proc.send_signal(signal.SIGHUP)
        s.wait_for(r"SIGHUP: log-level is now debug")
        line = s.wait_for(r"takes effect at the next restart")
        assert "max-connections" in line and "log-level" not in line, line
        assert s.proc.poll() is None, "SIGHUP ended the broker"
        c = client(s.port)
        c.send("/queue/" + unique(), "still serving")
        c.close()
        # A file that no longer parses is reported; nothing changes.
        conf.write_text("this is = = not toml\n")
        s.proc.send_signal(signal.SIGHUP)
        s.wait_for(r"SIGHUP: the configuration was not reloaded")
        assert s.proc.poll() is None
    finally:
        assert s.stop() == 0


def test_notifies_systemd_when_ready_and_when_stopping(tmp_path):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(WAIT * 2)
    s = Serve(["--listen", "127.0.0.1:0", "--http-listen", "", "--data-dir", str(tmp_path / "d")],
              cwd=tmp_path, env=serve_env(NOTIFY_SOCKET=path, FERRY_CONFIG=""))
    try:
        msg = sock.recv(4096).decode()
        assert "READY=1" in msg.splitlines(), msg
        # Ready means accepting clients.
        c = client(s.port)
        c.send("/queue/" + unique(), "x")
        c.close()
    finally:
        assert s.stop() == 0
    assert "STOPPING=1" in sock.recv(4096).decode()
    sock.close()
