"""Helpers for Ferry's integration tests: the broker process, a raw STOMP
socket client, a stomp.py wrapper and PHP/CLI runners.

Everything here talks to the REAL `ferry` binary over TCP.
"""
from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
LOG_DIR = HERE / "logs"
PHP_DIR = HERE / "php"
PYTHON = "/usr/bin/python3"

# Every ferry the tests start reads no ferry.toml unless a test names one
# (--config, or FERRY_CONFIG in its environment): `ferry serve` would read
# ./ferry.toml or /etc/ferry/ferry.toml otherwise. Set but empty means none.
os.environ["FERRY_CONFIG"] = ""

# Default time we wait for something that SHOULD happen (generous: CI is loaded).
WAIT = 5.0
# Time we wait to be reasonably sure something does NOT happen.
QUIET = 0.4


def ferry_bin() -> str:
    env = os.environ.get("FERRY_BIN")
    if env:
        return env
    for cand in (REPO / "build" / "ferry", REPO / "build" / "src" / "app" / "ferry"):
        if cand.exists():
            return str(cand)
    return str(REPO / "build" / "ferry")


# --------------------------------------------------------------------------
# Broker process
# --------------------------------------------------------------------------

# Every listener logs "listening on HOST:PORT (KIND)": the STOMP one after
# the other STOMP transports, the HTTP one (management API) after it, then
# the HTTPS one (https-listen).
_LISTENER_RE = re.compile(rb"listening on (\S+):(\d+) \((STOMP|TLS|WebSocket|WebSocket\+TLS|HTTPS|HTTP)\)")
_PORT_ATTR = {b"STOMP": "port", b"TLS": "tls_port", b"WebSocket": "ws_port",
              b"WebSocket+TLS": "wss_port", b"HTTP": "http_port", b"HTTPS": "https_port"}

# What AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer print
# when they find something (scripts/test-sanitizers.sh runs every test
# against a sanitized ferry; the same check costs nothing on a normal build).
_SANITIZER_RE = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|AddressSanitizer:|"
                           r"LeakSanitizer:|runtime error:|UndefinedBehaviorSanitizer")


# Set by scripts/test-sanitizers.sh: FERRY_BIN is an ASan build, whose memory
# use (shadow memory, the quarantine of freed blocks) says nothing about
# Ferry's own, so tests skip their RSS bounds (and only those).
SANITIZED = os.environ.get("FERRY_SANITIZED") == "1"


def sanitizer_report(text: str) -> str | None:
    """The sanitizer report in a process's output, from its first line; None if clean."""
    m = _SANITIZER_RE.search(text)
    if not m:
        return None
    start = text.rfind("\n", 0, m.start()) + 1
    return text[start:start + 6000]


def assert_no_sanitizer_report(text: str, what: str = "ferry"):
    report = sanitizer_report(text)
    assert report is None, "%s: sanitizer report:\n%s" % (what, report)


class Broker:
    """A running `ferry serve` on a free port."""

    def __init__(self, shards: int, log_path: Path, env: dict | None = None, **opts):
        """opts become `--name value` flags; env: extra environment variables
        for the broker process (e.g. LD_PRELOAD of the fault-injection shim)."""
        self.shards = shards
        self.opts = opts
        self.log_path = log_path
        self.port: int | None = None       # STOMP over TCP (--listen)
        self.ws_port: int | None = None    # --ws-listen, when given
        self.tls_port: int | None = None   # --tls-listen, when given
        self.wss_port: int | None = None   # --wss-listen, when given
        # The management API (http-listen): on a free port unless the test
        # chooses (http_listen="" disables it; http_port stays None).
        self.http_port: int | None = None
        if "http_listen" not in opts:
            opts = dict(opts, http_listen="127.0.0.1:0")
        self.http_enabled = opts["http_listen"] != ""
        # The management API over TLS (https_listen="127.0.0.1:0"), when given.
        self.https_port: int | None = None
        self.https_enabled = bool(opts.get("https_listen"))
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        # Each broker gets its own journal directory unless the test passes
        # one (to restart a broker on the same data).
        self.killed = False
        self.own_data_dir = "data_dir" not in opts
        if self.own_data_dir:
            opts = dict(opts, data_dir=tempfile.mkdtemp(prefix="ferry-it-"))
        self.data_dir = opts["data_dir"]
        # listen="0.0.0.0:0" (a test reaching the broker from a non-loopback
        # address) replaces the loopback listener.
        opts = dict(opts)
        args = [ferry_bin(), "serve", "--listen", opts.pop("listen", "127.0.0.1:0"), "--shards", str(shards),
                "--log-level", "debug"]
        # start_timeout (seconds, default 15) is for the fixture, not a flag:
        # a broker recovering a journal of millions of messages needs longer.
        start_timeout = float(opts.get("start_timeout", 15))
        for key, val in opts.items():
            if key == "start_timeout":
                continue
            args += ["--" + key.replace("_", "-"), str(val)]
        self.args = args
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "wb")
        self._log.write(("# " + " ".join(args) + "\n").encode())
        self._log.flush()
        self.env = dict(env or {})
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.PIPE,
                                     env=dict(os.environ, **self.env) if self.env else None)
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        if not self._ready.wait(start_timeout):
            self.kill()
            raise RuntimeError("ferry did not print 'listening on 127.0.0.1:PORT' within %.0f s;"
                               " log tail:\n%s" % (start_timeout, self.tail()))
        if self.port is None:
            raise RuntimeError("ferry exited before listening (rc=%s); log tail:\n%s"
                               % (self.proc.poll(), self.tail()))

    def _read_stderr(self):
        for raw in iter(self.proc.stderr.readline, b""):
            self._log.write(raw)
            self._log.flush()
            with self._lock:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
            if self.port is None:
                m = _LISTENER_RE.search(raw)
                if m:
                    setattr(self, _PORT_ATTR[m.group(3)], int(m.group(2)))
            elif ((self.http_port is None and self.http_enabled) or
                  (self.https_port is None and self.https_enabled)):
                m = _LISTENER_RE.search(raw)
                if m and m.group(3) in (b"HTTP", b"HTTPS"):
                    setattr(self, _PORT_ATTR[m.group(3)], int(m.group(2)))
            if (self.port is not None and (self.http_port is not None or not self.http_enabled) and
                    (self.https_port is not None or not self.https_enabled)):
                self._ready.set()
        self._ready.set()

    @property
    def addr(self) -> str:
        return "127.0.0.1:%d" % self.port

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, n: int = 60) -> str:
        with self._lock:
            return "\n".join(self.lines[-n:])

    def wait_for_log(self, pred, what: str = "", timeout: float = WAIT) -> str:
        """The first log line for which pred(line) holds (a str: the line
        contains it), waiting for it: stderr is read by a thread, so a line
        the broker has written may not be in `lines` yet."""
        if isinstance(pred, str):
            text = pred
            pred = lambda l: text in l
            what = what or repr(text)
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = next((l for l in self.lines if pred(l)), None)
            if found is not None:
                return found
            assert time.monotonic() < deadline, "no log line %s; tail:\n%s" % (what, self.tail())
            time.sleep(0.05)

    def sanitizer_report(self) -> str | None:
        """What a sanitizer printed on this broker's stderr, if anything."""
        with self._lock:
            return sanitizer_report("\n".join(self.lines))

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._reader.join(2)
                self._log.close()
                return -999  # hung
        self._reader.join(5)
        try:
            self._log.close()
        except Exception:
            pass
        return self.proc.returncode

    def kill(self):
        """SIGKILL (no clean shutdown) and wait."""
        self.killed = True
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def cleanup(self):
        if self.own_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


# --------------------------------------------------------------------------
# Raw STOMP client
# --------------------------------------------------------------------------


def end_broker(b: Broker, how: str):
    """Stop a broker on purpose: 'term' (SIGTERM, must exit 0) or 'kill' (-9)."""
    if how == "kill":
        b.kill()
        return
    rc = b.stop()
    assert rc == 0, "broker exited %s on SIGTERM; log tail:\n%s" % (rc, b.tail())
    b.killed = True  # ended on purpose: the fixture must not report it as died


def restart(broker_factory, b: Broker, how: str = "term", **extra) -> Broker:
    """End `b` (how: 'term' = SIGTERM, 'kill' = kill -9) and start a new broker
    on its data dir with the same options (plus `extra`)."""
    end_broker(b, how)
    opts = dict(b.opts)
    opts.update(extra)
    opts["data_dir"] = b.data_dir
    return broker_factory(**opts)


class Frame:
    def __init__(self, command: str, headers: list[tuple[str, str]], body: bytes, raw: bytes = b""):
        self.command = command
        self.header_list = headers  # raw (still escaped) values, wire order
        self.body = body
        self.raw = raw

    def get(self, name: str, default=None):
        """First occurrence of a header (raw, not unescaped)."""
        for k, v in self.header_list:
            if k == name:
                return v
        return default

    def __getitem__(self, name):
        v = self.get(name)
        if v is None:
            raise KeyError("%s frame has no %r header: %r" % (self.command, name, self.header_list))
        return v

    def __contains__(self, name):
        return self.get(name) is not None

    def names(self):
        return [k for k, _ in self.header_list]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        body = self.body if len(self.body) < 200 else self.body[:200] + b"..."
        return "Frame(%s, %r, %r)" % (self.command, self.header_list, body)


class Closed(Exception):
    """The server closed the connection."""


class StompError(AssertionError):
    def __init__(self, frame: Frame):
        super().__init__("unexpected ERROR frame: %r" % (frame,))
        self.frame = frame


def encode_frame(command: str, headers=None, body: bytes | str = b"", *, content_length=None,
                 eol: bytes = b"\n") -> bytes:
    """Build a frame. headers: dict or list of (name, value) -- values are sent AS IS
    (callers escape themselves). content_length: None = add when body non-empty,
    True = always, False = never."""
    if isinstance(body, str):
        body = body.encode()
    items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    has_cl = any(k == "content-length" for k, _ in items)
    if not has_cl and (content_length is True or (content_length is None and body)):
        items.append(("content-length", str(len(body))))
    lines = [command.encode()] + [("%s:%s" % (k, v)).encode() for k, v in items]
    return eol.join(lines) + eol + eol + body + b"\0"


class RawClient:
    """A STOMP client over a plain socket; we control every byte."""

    def __init__(self, port: int, *, rcvbuf: int | None = None, timeout: float = WAIT):
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False
        self.heartbeats = 0  # EOLs seen between frames (not the one EOL that may follow a frame's NUL)
        self._after_nul = False  # the next EOL directly follows a frame's NUL
        self.stash: list[Frame] = []  # frames read while waiting for something else
        self.version = None
        self.connected: Frame | None = None
        self._rid = 0

    # ---- low level ----
    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def send_frame(self, command, headers=None, body=b"", **kw):
        self.send_raw(encode_frame(command, headers, body, **kw))

    def close(self):
        try:
            self.sock.close()
        except Exception:
            pass

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            raise Closed("connection closed by server")
        self.buf += data

    def _parse_one(self) -> Frame | None:
        """Parse one frame from self.buf or return None if incomplete."""
        # skip heart-beat EOLs between frames
        # (one EOL right after a frame's NUL is part of that frame's ending,
        # as ActiveMQ and Ferry write it, and is not a heart-beat)
        while True:
            if self.buf.startswith(b"\r\n"):
                self.buf = self.buf[2:]
            elif self.buf.startswith(b"\n"):
                self.buf = self.buf[1:]
            else:
                if self.buf:
                    self._after_nul = False
                break
            if self._after_nul:
                self._after_nul = False
            else:
                self.heartbeats += 1
        if self.buf == b"\r":
            return None
        # find the end of the header block line by line (handles mixed EOLs)
        pos = 0
        lines = []
        while True:
            nl = self.buf.find(b"\n", pos)
            if nl < 0:
                return None
            line = self.buf[pos:nl]
            if line.endswith(b"\r"):
                line = line[:-1]
            pos = nl + 1
            if not line and lines:
                break
            if not line and not lines:
                continue
            lines.append(line)
        command = lines[0].decode("utf-8", "replace")
        headers = []
        for line in lines[1:]:
            k, sep, v = line.partition(b":")
            headers.append((k.decode("utf-8", "replace"), v.decode("utf-8", "replace")))
        cl = None
        for k, v in headers:
            if k == "content-length":
                cl = int(v)
                break
        if cl is not None:
            if len(self.buf) < pos + cl + 1:
                return None
            body = self.buf[pos:pos + cl]
            if self.buf[pos + cl:pos + cl + 1] != b"\0":
                raise AssertionError("frame body not followed by NUL: %r" % self.buf[:pos + cl + 10])
            raw = self.buf[:pos + cl + 1]
            self.buf = self.buf[pos + cl + 1:]
        else:
            nul = self.buf.find(b"\0", pos)
            if nul < 0:
                return None
            body = self.buf[pos:nul]
            raw = self.buf[:nul + 1]
            self.buf = self.buf[nul + 1:]
        self._after_nul = True
        return Frame(command, headers, body, raw)

    def _check_encoding(self, f: Frame) -> None:
        """Server frames on 1.1/1.2 connections must be escaped correctly:
        no raw ':' in a header value, only defined escapes (CONNECTED excepted)."""
        if self.version not in ("1.1", "1.2") or f.command == "CONNECTED":
            return
        allowed = "cn\\r" if self.version == "1.2" else "cn\\"
        for k, v in f.header_list:
            assert ":" not in v, "unescaped ':' in %s header %s:%r" % (f.command, k, v)
            i = 0
            while i < len(v):
                if v[i] == "\\":
                    assert i + 1 < len(v) and v[i + 1] in allowed, \
                        "invalid escape in %s header %s:%r (STOMP %s)" % (f.command, k, v, self.version)
                    i += 2
                else:
                    i += 1

    def read_frame(self, timeout: float = WAIT, *, use_stash: bool = True) -> Frame:
        """Next frame (raises socket.timeout, Closed)."""
        if use_stash and self.stash:
            return self.stash.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            f = self._parse_one()
            if f is not None:
                self._check_encoding(f)
                return f
            self._fill(deadline)

    def try_read_frame(self, timeout: float = QUIET) -> Frame | None:
        """A frame if one arrives within timeout, else None (EOF -> Closed)."""
        try:
            return self.read_frame(timeout)
        except socket.timeout:
            return None

    def assert_no_frame(self, timeout: float = QUIET, what: str = "frame"):
        f = self.try_read_frame(timeout)
        assert f is None, "expected no %s within %.1fs, got %r" % (what, timeout, f)

    def read_until_closed(self, timeout: float = WAIT) -> list[Frame]:
        """Read frames until the server closes; returns them. Fails if still open."""
        frames = list(self.stash)
        self.stash.clear()
        deadline = time.monotonic() + timeout
        while True:
            try:
                f = self._parse_one()
                if f is not None:
                    self._check_encoding(f)
                    frames.append(f)
                    continue
                self._fill(deadline)
            except Closed:
                return frames
            except socket.timeout:
                raise AssertionError("server did not close the connection within %.1fs; frames: %r"
                                     % (timeout, frames))

    def next_rid(self) -> str:
        self._rid += 1
        return "r-%d-%s" % (self._rid, uuid.uuid4().hex[:6])

    # ---- protocol helpers ----
    def connect(self, version: str | None = "1.2", heart_beat: str | None = None,
                command: str = "CONNECT", host: str | None = "/", extra=None) -> Frame:
        headers = []
        if version is not None:
            headers.append(("accept-version", version))
        if host is not None:
            headers.append(("host", host))
        if heart_beat is not None:
            headers.append(("heart-beat", heart_beat))
        headers += list((extra or {}).items()) if isinstance(extra, dict) else list(extra or [])
        self.send_frame(command, headers)
        f = self.read_frame()
        if f.command != "CONNECTED":
            raise StompError(f)
        self.connected = f
        self.version = f.get("version", "1.0")
        return f

    def wait_receipt(self, rid: str, timeout: float = WAIT) -> Frame:
        """Read until RECEIPT rid; other frames are stashed; ERROR raises."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("no RECEIPT %s within %.1fs (stash: %r)" % (rid, timeout, self.stash))
            try:
                f = self.read_frame(remaining, use_stash=False)
            except socket.timeout:
                raise AssertionError("no RECEIPT %s within %.1fs (stash: %r)" % (rid, timeout, self.stash))
            if f.command == "RECEIPT" and f.get("receipt-id") == rid:
                return f
            if f.command == "ERROR":
                raise StompError(f)
            self.stash.append(f)

    def request(self, command, headers=None, body=b"", timeout: float = WAIT, **kw) -> Frame:
        """Send a frame with a receipt and wait for that RECEIPT."""
        items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        rid = self.next_rid()
        items.append(("receipt", rid))
        self.send_frame(command, items, body, **kw)
        return self.wait_receipt(rid, timeout)

    def expect_error(self, command, headers=None, body=b"", *, receipt=True, parse_level=False,
                     **kw) -> Frame:
        """Send a frame that must be refused: ERROR (with receipt-id if asked), then close.
        parse_level=True: the frame is refused while being parsed (limits, bad escapes),
        when its receipt header may not have been read: receipt-id is then optional
        (but must match if present)."""
        items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        rid = None
        if receipt:
            rid = self.next_rid()
            items.insert(0, ("receipt", rid)) if parse_level else items.append(("receipt", rid))
        self.send_frame(command, items, body, **kw)
        return self.expect_error_frame(rid, require_receipt_id=not parse_level)

    def expect_error_frame(self, rid: str | None = None, timeout: float = WAIT,
                           require_receipt_id: bool = True) -> Frame:
        frames = self.read_until_closed(timeout)
        errors = [f for f in frames if f.command == "ERROR"]
        assert errors, "expected an ERROR frame before close, got %r" % frames
        err = errors[-1]
        assert err.get("message"), "ERROR without message header: %r" % err
        if rid is not None and (require_receipt_id or err.get("receipt-id") is not None):
            assert err.get("receipt-id") == rid, "ERROR receipt-id should be %s: %r" % (rid, err)
        assert not [f for f in frames if f.command == "RECEIPT" and rid and f.get("receipt-id") == rid], \
            "bad frame was acknowledged with a RECEIPT: %r" % frames
        return err

    def send(self, dest: str, body: bytes | str = b"", headers=None, receipt: bool = True, **kw):
        items = [("destination", dest)]
        items += list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        if receipt:
            return self.request("SEND", items, body, **kw)
        self.send_frame("SEND", items, body, **kw)

    def subscribe(self, dest: str, sub_id: str | None = "s1", ack: str | None = None, headers=None,
                  receipt: bool = True):
        items = [("destination", dest)]
        if sub_id is not None:
            items.append(("id", sub_id))
        if ack is not None:
            items.append(("ack", ack))
        items += list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        if receipt:
            return self.request("SUBSCRIBE", items)
        self.send_frame("SUBSCRIBE", items)

    def unsubscribe(self, sub_id: str):
        return self.request("UNSUBSCRIBE", [("id", sub_id)])

    def read_message(self, timeout: float = WAIT) -> Frame:
        """Next MESSAGE (RECEIPTs in between are ignored, ERROR raises)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                f = self.read_frame(max(remaining, 0.001))
            except socket.timeout:
                raise AssertionError("no MESSAGE within %.1fs" % timeout)
            if f.command == "MESSAGE":
                return f
            if f.command == "ERROR":
                raise StompError(f)

    def read_messages(self, n: int, timeout: float = WAIT) -> list[Frame]:
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("got only %d of %d messages: %r" % (len(out), n, [m.body for m in out]))
            try:
                out.append(self.read_message(remaining))
            except AssertionError as e:
                if "no MESSAGE" in str(e):
                    raise AssertionError("got only %d of %d messages: %r"
                                         % (len(out), n, [m.body for m in out]))
                raise
        return out

    def ack(self, msg: Frame, how: str = "auto", command: str = "ACK", extra=None, receipt=True):
        """ACK/NACK a MESSAGE. how: 'id' (1.2 ack value in `id`), 'ack' (value in `ack`),
        'message-id', 'message-id+sub', 'auto' (by version)."""
        if how == "auto":
            how = "id" if self.version == "1.2" else "message-id+sub"
        if how == "id":
            items = [("id", msg["ack"])]
        elif how == "ack":
            items = [("ack", msg["ack"])]
        elif how == "message-id":
            items = [("message-id", msg["message-id"])]
        elif how == "message-id+sub":
            items = [("message-id", msg["message-id"]), ("subscription", msg["subscription"])]
        else:
            raise ValueError(how)
        items += list(extra.items()) if isinstance(extra, dict) else list(extra or [])
        if receipt:
            return self.request(command, items)
        self.send_frame(command, items)

    def nack(self, msg: Frame, how: str = "auto", extra=None, receipt=True):
        return self.ack(msg, how, "NACK", extra, receipt)

    def disconnect(self):
        try:
            rid = self.next_rid()
            self.send_frame("DISCONNECT", [("receipt", rid)])
            self.wait_receipt(rid)
        finally:
            self.close()


def client(port: int, version: str | None = "1.2", **kw) -> RawClient:
    c = RawClient(port)
    c.connect(version, **kw)
    return c


def unique(prefix: str = "q") -> str:
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def assert_broker_serves(broker: Broker):
    """The broker is alive and a FRESH client can send and receive."""
    assert broker.alive(), "broker process died (rc=%s); log tail:\n%s" % (broker.proc.poll(), broker.tail())
    dest = "/queue/" + unique("alive")
    c = client(broker.port)
    try:
        c.subscribe(dest, "alive", ack="auto")
        c.send(dest, "still-alive")
        m = c.read_message()
        assert m.body == b"still-alive"
    finally:
        c.close()
    assert broker.alive()


def bodies(frames) -> list[bytes]:
    return [f.body for f in frames]


# --------------------------------------------------------------------------
# stomp.py wrapper
# --------------------------------------------------------------------------

class PyListener:
    def __init__(self):
        self.messages: "queue.Queue" = queue.Queue()
        self.errors: "queue.Queue" = queue.Queue()
        self.receipts: set[str] = set()
        self.cond = threading.Condition()
        self.connected_frame = None
        self.disconnected = threading.Event()

    # stomp.py 8 listener API
    def on_connecting(self, host_and_port): pass
    def on_connected(self, frame): self.connected_frame = frame
    def on_disconnecting(self): pass
    def on_disconnected(self): self.disconnected.set()
    def on_heartbeat_timeout(self): pass
    def on_before_message(self, frame): pass
    def on_message(self, frame): self.messages.put(frame)
    def on_error(self, frame): self.errors.put(frame)
    def on_send(self, frame): pass
    def on_heartbeat(self): pass
    def on_receiver_loop_completed(self, frame): pass

    def on_receipt(self, frame):
        with self.cond:
            self.receipts.add(frame.headers.get("receipt-id"))
            self.cond.notify_all()

    def wait_receipt(self, rid, timeout=WAIT):
        with self.cond:
            ok = self.cond.wait_for(lambda: rid in self.receipts, timeout)
        if not ok:
            errs = []
            while not self.errors.empty():
                errs.append(self.errors.get())
            raise AssertionError("stomp.py: no RECEIPT %s (errors: %r)" % (rid, [(e.headers, e.body) for e in errs]))

    def get(self, timeout=WAIT):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("stomp.py: no MESSAGE within %.1fs" % timeout)

    def none(self, timeout=QUIET):
        try:
            m = self.messages.get(timeout=timeout)
        except queue.Empty:
            return
        raise AssertionError("stomp.py: unexpected MESSAGE %r %r" % (m.headers, m.body))


def py_connect(port: int, version: str = "1.2", heartbeats=(0, 0)):
    """A connected stomp.py connection + its listener."""
    import stomp  # Debian python3-stomp (stomp.py 8)
    cls = {"1.0": stomp.Connection10, "1.1": stomp.Connection11, "1.2": stomp.Connection12}[version]
    kwargs = dict(reconnect_attempts_max=1)
    if version != "1.0":
        kwargs["heartbeats"] = heartbeats
        # stomp.py 1.2 sends host:<hostname>, which Ferry takes as the vhost; use the
        # default vhost so every client in a test shares the same destinations.
        kwargs["vhost"] = "/"
    conn = cls([("127.0.0.1", port)], **kwargs)
    lst = PyListener()
    conn.set_listener("t", lst)
    conn.connect(wait=True)
    deadline = time.monotonic() + WAIT  # listeners are notified after connect() returns
    while lst.connected_frame is None and time.monotonic() < deadline:
        time.sleep(0.005)
    return conn, lst


def py_rid() -> str:
    return "py-" + uuid.uuid4().hex[:8]


# --------------------------------------------------------------------------
# PHP + CLI runners
# --------------------------------------------------------------------------

def run_php(script: str, *args, timeout: float = 30.0, check: bool = True):
    """Run tests/integration/php/<script> with args; returns parsed JSON from its stdout."""
    cmd = ["php", str(PHP_DIR / script)] + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    out = p.stdout.decode("utf-8", "replace")
    if check and p.returncode != 0:
        raise AssertionError("php %s failed rc=%d\nstdout:\n%s\nstderr:\n%s"
                             % (script, p.returncode, out, p.stderr.decode("utf-8", "replace")))
    try:
        return json.loads(out.strip().splitlines()[-1])
    except Exception:
        raise AssertionError("php %s printed no JSON\nstdout:\n%s\nstderr:\n%s"
                             % (script, out, p.stderr.decode("utf-8", "replace")))


def start_php(script: str, *args, ready: bool = False) -> subprocess.Popen:
    """Start a PHP script in the background; ready=True waits for its READY line."""
    cmd = ["php", str(PHP_DIR / script)] + [str(a) for a in args]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.early_out = b""
    if ready:
        line = p.stdout.readline()
        if line.strip() != b"READY":
            p.kill()
            out, err = p.communicate()
            raise AssertionError("php %s did not get ready: %r\nstdout:\n%s\nstderr:\n%s"
                                 % (script, line, out.decode("utf-8", "replace"),
                                    err.decode("utf-8", "replace")))
        p.early_out = line
    return p


def finish_php(p: subprocess.Popen, timeout: float = 60.0):
    out, err = p.communicate(timeout=timeout)
    out = out.decode("utf-8", "replace")
    if p.returncode != 0:
        raise AssertionError("php failed rc=%d\nstdout:\n%s\nstderr:\n%s"
                             % (p.returncode, out, err.decode("utf-8", "replace")))
    return json.loads(out.strip().splitlines()[-1])


def run_ferry(*args, input: bytes | None = None, timeout: float = 30.0, cwd=None,
              env: dict | None = None) -> subprocess.CompletedProcess:
    """Runs the ferry command line with extra environment variables `env`."""
    p = subprocess.run([ferry_bin()] + [str(a) for a in args], input=input,
                       capture_output=True, timeout=timeout, cwd=cwd,
                       env=dict(os.environ, **env) if env else None)
    assert_no_sanitizer_report(p.stderr.decode("utf-8", "replace"), "ferry %s" % " ".join(map(str, args)))
    return p


def fill_until_refused(port: int, dest: str, body: str, limit: int, hint: str = ""):
    """Persistent SENDs (body prefixed with a counter) with receipts until the
    broker refuses one: returns (bodies receipted, the ERROR frame)."""
    c = client(port)
    sent = []
    for i in range(limit):
        text = "%05d-%s" % (i, body)
        c.send_frame("SEND", [("destination", dest), ("receipt", "r%d" % i)], text)
        try:
            f = c.read_frame(15)
        except Closed:
            raise AssertionError("connection closed without ERROR after %d sends" % len(sent))
        if f.command == "ERROR":
            c.close()
            return sent, f
        assert f.command == "RECEIPT" and f.get("receipt-id") == "r%d" % i, f
        sent.append(text)
    raise AssertionError("never refused after %d sends%s" % (limit, hint))
