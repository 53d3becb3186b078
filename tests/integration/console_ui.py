"""Drives the web console in Debian's headless Chromium for test_console.py.

ConsoleUI starts tests/browser/driver.mjs (Node + playwright-core, one page)
and sends it one JSON command per step; every failed step leaves a
screenshot. Screenshots go to tests/integration/logs/screenshots/ (git-ignored
with the rest of logs/), named <test>__<step>.png.
"""
from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

from support import LOG_DIR, REPO

BROWSER_DIR = REPO / "tests" / "browser"
SHOT_DIR = LOG_DIR / "screenshots"
CHROMIUM = os.environ.get("FERRY_CHROMIUM", "/usr/bin/chromium")

# Slower than the protocol tests: a poll every 2 s, a loaded CI machine.
UI_WAIT = 20.0


def setup_browser_packages():
    """npm ci in tests/browser once (setup.sh skips it when up to date)."""
    assert shutil.which("node"), "node is missing (scripts/deps.sh installs nodejs and npm)"
    assert os.path.exists(CHROMIUM), "%s is missing (scripts/deps.sh installs chromium)" % CHROMIUM
    r = subprocess.run([str(BROWSER_DIR / "setup.sh")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, "tests/browser/setup.sh failed:\n%s%s" % (r.stdout, r.stderr)


class UiError(AssertionError):
    pass


class ConsoleUI:
    def __init__(self, base_url: str, test_name: str):
        self.base_url = base_url.rstrip("/")
        self.prefix = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)[:120]
        SHOT_DIR.mkdir(parents=True, exist_ok=True)
        self.shots: list[Path] = []
        self._id = 0
        self._lines: "queue.Queue[str | None]" = queue.Queue()
        self._stderr: list[str] = []
        self.proc = subprocess.Popen(
            ["node", str(BROWSER_DIR / "driver.mjs")], cwd=str(BROWSER_DIR),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, FERRY_CHROMIUM=CHROMIUM))
        threading.Thread(target=self._read, args=(self.proc.stdout, True), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, False), daemon=True).start()
        hello = self._answer(0, 60.0)
        self.chromium_version = hello["value"]["chromium"]

    def _read(self, stream, is_stdout):
        for line in iter(stream.readline, ""):
            if is_stdout:
                self._lines.put(line)
            else:
                self._stderr.append(line.rstrip("\n"))
        if is_stdout:
            self._lines.put(None)

    def _answer(self, want_id, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise UiError("browser driver: no answer to command %s within %.0f s; stderr:\n%s"
                              % (want_id, timeout, "\n".join(self._stderr[-20:])))
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise UiError("browser driver exited (rc=%s); stderr:\n%s"
                              % (self.proc.poll(), "\n".join(self._stderr[-20:])))
            msg = json.loads(line)
            if msg.get("id") == want_id:
                return msg

    def call(self, op: str, timeout_ms: int = 10000, shoot_on_error: bool = True, **kw):
        self._id += 1
        cmd = dict(kw, id=self._id, op=op, timeout=timeout_ms)
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        msg = self._answer(self._id, timeout_ms / 1000.0 + 30.0)
        if not msg["ok"]:
            if shoot_on_error:
                try:
                    self.shot("FAILED-%s" % op)
                except Exception:
                    pass
            raise UiError("browser: %s %s failed: %s" % (op, kw, msg["error"]))
        return msg["value"]

    # ---- steps ---------------------------------------------------------
    def goto(self, hash_: str = ""):
        self.call("goto", url=self.base_url + "/" + hash_)

    def route(self, hash_: str):
        self.call("hash", hash=hash_)

    def click(self, sel: str):
        self.call("click", sel=sel)

    def fill(self, sel: str, value):
        self.call("fill", sel=sel, value=value)

    def select(self, sel: str, value: str):
        """Picks the option with this value in a <select>."""
        self.call("select", sel=sel, value=value)

    def visible(self, sel: str) -> bool:
        """True when the first match exists and is shown (no waiting)."""
        return self.call("visible", sel=sel)

    def text(self, sel: str) -> str:
        return self.call("text", sel=sel)

    def texts(self, sel: str) -> list[str]:
        return self.call("texts", sel=sel)

    def attr(self, sel: str, name: str):
        return self.call("attr", sel=sel, name=name)

    def count(self, sel: str) -> int:
        return self.call("count", sel=sel)

    def wait(self, sel: str, state: str = "visible", timeout: float = UI_WAIT):
        self.call("wait", sel=sel, state=state, timeout_ms=int(timeout * 1000))

    def wait_for(self, what: str, probe, timeout: float = UI_WAIT):
        """Polls probe() until it returns a truthy value; returns it."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = probe()
            except UiError as e:
                last = e
            else:
                if last:
                    return last
            time.sleep(0.25)
        self.shot("FAILED-wait")
        raise UiError("console: %s not seen within %.0f s (last: %r)" % (what, timeout, last))

    def wait_text(self, sel: str, expected: str, timeout: float = UI_WAIT) -> str:
        return self.wait_for("%s == %r" % (sel, expected),
                             lambda: self.text(sel) == expected and expected, timeout)

    def shot(self, name: str) -> Path:
        path = SHOT_DIR / ("%s__%s.png" % (self.prefix, re.sub(r"[^A-Za-z0-9_.-]+", "_", name)))
        self.call("screenshot", path=str(path), shoot_on_error=False)
        self.shots.append(path)
        return path

    def login(self, user: str = "guest", password: str = "guest"):
        self.goto("#/overview")
        self.wait("[data-testid=login-form]")
        self.fill("[data-testid=login-user]", user)
        self.fill("[data-testid=login-password]", password)
        self.click("[data-testid=login-submit]")

    def confirm(self, shot: str | None = None, **fields):
        """Fills the open confirmation dialog's fields, screenshots it, confirms."""
        self.wait("[data-testid=confirm-dialog]")
        for name, value in fields.items():
            self.fill("[data-testid=dialog-%s]" % name, value)
        if shot:
            self.shot(shot)
        self.click("[data-testid=confirm-ok]")
        self.wait("[data-testid=confirm-dialog]", state="detached")

    def cancel(self):
        self.wait("[data-testid=confirm-dialog]")
        self.click("[data-testid=confirm-cancel]")
        self.wait("[data-testid=confirm-dialog]", state="detached")

    def errors(self) -> list[str]:
        return self.call("errors")

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"id": "x", "op": "close"}) + "\n")
                self.proc.stdin.flush()
                self.proc.stdin.close()
                self.proc.wait(20)
            except Exception:
                self.proc.kill()
                self.proc.wait()
