"""Helpers for the WebSocket and TLS tests: test certificates (openssl
CLI), a raw RFC 6455 client over a real socket (to send what a library
would not: split frames, unmasked frames, oversize messages), and the
Node @stomp/stompjs client of tests/js.

Everything talks to the REAL `ferry` binary.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import subprocess
import threading
from pathlib import Path

from support import REPO, WAIT

JS_DIR = REPO / "tests" / "js"
_setup_lock = threading.Lock()
_setup_done = False


# --------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------

class Certs:
    """A test CA, a server certificate for 127.0.0.1/localhost and a client
    certificate, all signed by the CA; plus a client certificate from an
    unrelated CA (must be refused)."""

    def __init__(self, directory: Path):
        self.dir = directory
        d = directory
        self.ca_key, self.ca = d / "ca.key", d / "ca.pem"
        self.server_key, self.server = d / "server.key", d / "server.pem"
        self.client_key, self.client = d / "client.key", d / "client.pem"
        self.rogue_key, self.rogue = d / "rogue.key", d / "rogue.pem"
        rogue_ca_key, rogue_ca = d / "rogue-ca.key", d / "rogue-ca.pem"
        self._ca(self.ca_key, self.ca, "Ferry Test CA")
        self._ca(rogue_ca_key, rogue_ca, "Rogue CA")
        ext = d / "server.ext"
        ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
        self._signed(self.server_key, self.server, "localhost", self.ca_key, self.ca, ext)
        cext = d / "client.ext"
        cext.write_text("extendedKeyUsage=clientAuth\n")
        self._signed(self.client_key, self.client, "test-client", self.ca_key, self.ca, cext)
        self._signed(self.rogue_key, self.rogue, "rogue-client", rogue_ca_key, rogue_ca, cext)

    @staticmethod
    def _run(args):
        subprocess.run(["openssl"] + args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _ca(self, key: Path, cert: Path, cn: str):
        self._run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                   "-days", "2", "-subj", "/CN=" + cn])

    def _signed(self, key: Path, cert: Path, cn: str, ca_key: Path, ca: Path, ext: Path):
        csr = cert.with_suffix(".csr")
        self._run(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
                   "-subj", "/CN=" + cn])
        self._run(["x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
                   "-out", str(cert), "-days", "2", "-extfile", str(ext)])

    def server_opts(self, **extra) -> dict:
        """broker_factory options for a TLS listener with these certificates."""
        return dict(tls_cert_file=str(self.server), tls_key_file=str(self.server_key), **extra)

    def client_context(self, with_cert: bool = False, rogue: bool = False) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca))
        if with_cert:
            ctx.load_cert_chain(str(self.client), str(self.client_key))
        if rogue:
            ctx.load_cert_chain(str(self.rogue), str(self.rogue_key))
        return ctx


# --------------------------------------------------------------------------
# Raw WebSocket client
# --------------------------------------------------------------------------

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def ws_frame(opcode: int, payload: bytes, fin: bool = True, mask: bool = True, rsv: int = 0) -> bytes:
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    m = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        head += bytes([m | n])
    elif n <= 0xFFFF:
        head += bytes([m | 126]) + struct.pack("!H", n)
    else:
        head += bytes([m | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i & 3] for i, b in enumerate(payload))


class WsClosed(Exception):
    pass


class RawWs:
    """A WebSocket client on a plain (or TLS) socket, speaking frames by hand."""

    def __init__(self, port: int, path: str = "/ws", protocols: str | None = "v12.stomp,v11.stomp,v10.stomp",
                 ssl_context: ssl.SSLContext | None = None, extra_headers: str = "", handshake: bool = True,
                 timeout: float = WAIT):
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if ssl_context is not None:
            sock = ssl_context.wrap_socket(sock, server_hostname="127.0.0.1")
        self.sock = sock
        self.buf = b""
        self.status = None
        self.response_headers: dict[str, str] = {}
        self.response_body = b""
        if handshake:
            key = base64.b64encode(os.urandom(16)).decode()
            req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n" % (path, port, key))
            if protocols is not None:
                req += "Sec-WebSocket-Protocol: %s\r\n" % protocols
            req += extra_headers + "\r\n"
            self.sock.sendall(req.encode())
            self.read_response()
            if self.status == 101:
                want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                                                     .encode()).digest()).decode()
                assert self.response_headers.get("sec-websocket-accept") == want, self.response_headers

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise WsClosed("connection closed")
        self.buf += data

    def read_response(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split(" ")[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.response_headers[name.strip().lower()] = value.strip()
        n = int(self.response_headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        self.response_body, self.buf = self.buf[:n], self.buf[n:]

    @property
    def protocol(self) -> str | None:
        return self.response_headers.get("sec-websocket-protocol")

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def send(self, payload: bytes | str, opcode: int = OP_TEXT, **kw):
        if isinstance(payload, str):
            payload = payload.encode()
        self.sock.sendall(ws_frame(opcode, payload, **kw))

    def read_frame(self) -> tuple[int, bool, bytes]:
        """(opcode, fin, payload) of the next server frame; raises WsClosed at EOF."""
        while len(self.buf) < 2:
            self._fill()
        b0, b1 = self.buf[0], self.buf[1]
        assert b1 & 0x80 == 0, "server frames must not be masked"
        n, at = b1 & 0x7F, 2
        if n == 126:
            while len(self.buf) < 4:
                self._fill()
            n, at = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            while len(self.buf) < 10:
                self._fill()
            n, at = struct.unpack("!Q", self.buf[2:10])[0], 10
        while len(self.buf) < at + n:
            self._fill()
        payload = self.buf[at:at + n]
        self.buf = self.buf[at + n:]
        return b0 & 0x0F, bool(b0 & 0x80), payload

    def read_message(self, skip_heartbeats: bool = True) -> tuple[int, bytes]:
        """The next data message (fragments joined); pings are answered."""
        while True:
            op, fin, payload = self.read_frame()
            if op == OP_PING:
                self.send(payload, OP_PONG)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                return op, payload
            while not fin:
                _, fin, more = self.read_frame()
                payload += more
            if skip_heartbeats and payload in (b"\n", b"\r\n"):
                continue
            return op, payload

    def read_close(self) -> tuple[int, str]:
        """Reads until the server's close frame; returns (code, reason)."""
        while True:
            op, payload = self.read_message()
            if op == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                return code, payload[2:].decode("utf-8", "replace")

    def wait_eof(self, timeout: float = WAIT) -> bool:
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False
        except OSError:
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def stomp_bytes(command: str, headers: dict | None = None, body: bytes | str = b"") -> bytes:
    if isinstance(body, str):
        body = body.encode()
    out = command + "\n" + "".join("%s:%s\n" % kv for kv in (headers or {}).items()) + "\n"
    return out.encode() + body + b"\0"


def parse_stomp(payload: bytes) -> tuple[str, dict, bytes]:
    head, _, rest = payload.partition(b"\n\n")
    lines = head.decode().split("\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.setdefault(k, v)
    # The broker sends the EOL after the NUL in the same message (17.2).
    for end in (b"\0\r\n", b"\0\n", b"\0"):
        if rest.endswith(end):
            return lines[0], headers, rest[:-len(end)]
    return lines[0], headers, rest


# --------------------------------------------------------------------------
# Node: @stomp/stompjs
# --------------------------------------------------------------------------

def ensure_js():
    """Installs tests/js's packages (npm ci) once per process."""
    global _setup_done
    with _setup_lock:
        if not _setup_done:
            subprocess.run([str(JS_DIR / "setup.sh")], check=True, timeout=300)
            _setup_done = True


def read_json_lines(stream, lines: list, cv: threading.Condition):
    """A scripted client's stdout, one JSON event per line, appended to
    `lines` (a line that is not JSON becomes a "garbage" event), waking `cv`'s
    waiters after each and once more at the end of the stream."""
    for raw in iter(stream.readline, b""):
        try:
            ev = json.loads(raw)
        except ValueError:
            ev = {"event": "garbage", "text": raw.decode("utf-8", "replace")}
        with cv:
            lines.append(ev)
            cv.notify_all()
    with cv:
        cv.notify_all()


class NodeClient:
    """tests/js/stomp_client.mjs (or another script there) in a subprocess;
    events() are its JSON lines."""

    def __init__(self, script: str = "stomp_client.mjs", **cfg):
        ensure_js()
        env = dict(os.environ)
        self.proc = subprocess.Popen(["node", str(JS_DIR / script), json.dumps(cfg)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(JS_DIR), env=env)
        self.lines: list[dict] = []
        self._cv = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        read_json_lines(self.proc.stdout, self.lines, self._cv)

    def wait_event(self, name: str, timeout: float = 10.0) -> dict:
        import time
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for ev in self.lines:
                    if ev.get("event") == name:
                        return ev
                if self.proc.poll() is not None and not self._reader.is_alive():
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cv.wait(min(left, 0.2))
        raise AssertionError("node client: no %r event; events %r; stderr %s"
                             % (name, self.lines, self.stderr()))

    def finish(self, timeout: float = 15.0) -> int:
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._reader.join(5)
        return rc

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(running)"
        return self.proc.stderr.read().decode("utf-8", "replace")[-3000:]

    def events(self, name: str) -> list[dict]:
        with self._cv:
            return [e for e in self.lines if e.get("event") == name]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
