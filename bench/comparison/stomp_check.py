"""A smoke check that a broker speaks STOMP: one message through a queue and
one through a topic, over raw sockets (no client library), before any load
is sent. Returns a list of problems (empty = fine)."""
from __future__ import annotations

import socket
import time


def _frame(command: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    head = "".join(f"{k}:{v}\n" for k, v in headers.items())
    return f"{command}\n{head}\n".encode() + body + b"\0"


class _Conn:
    def __init__(self, port: int, login: str, passcode: str):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.send("CONNECT", {"accept-version": "1.2", "host": "/", "login": login,
                              "passcode": passcode})
        cmd, _, _ = self.read()
        if cmd != "CONNECTED":
            raise RuntimeError(f"CONNECT answered with {cmd}")

    def send(self, command, headers, body=b""):
        self.sock.sendall(_frame(command, headers, body))

    def read(self):
        while True:
            self.buf = self.buf.lstrip(b"\r\n")  # heart-beats
            end = self.buf.find(b"\0")
            if end >= 0:
                raw, self.buf = self.buf[:end], self.buf[end + 1:]
                head, _, body = raw.partition(b"\n\n")
                lines = head.decode().split("\n")
                headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
                return lines[0], headers, body
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed")
            self.buf += chunk

    def close(self):
        try:
            self.send("DISCONNECT", {})
        finally:
            self.sock.close()


def check(port: int, login: str, passcode: str) -> list[str]:
    problems = []
    tag = str(int(time.time() * 1000))
    for dest in (f"/queue/ferrybench.check.{tag}", f"/topic/ferrybench.check.{tag}"):
        try:
            sub = _Conn(port, login, passcode)
            sub.send("SUBSCRIBE", {"id": "1", "destination": dest, "ack": "auto",
                                   "receipt": "sub"})
            cmd, headers, _ = sub.read()
            if cmd != "RECEIPT":
                raise RuntimeError(f"SUBSCRIBE answered with {cmd} {headers}")
            pub = _Conn(port, login, passcode)
            body = f"hello {dest}".encode()
            pub.send("SEND", {"destination": dest, "receipt": "r1",
                              "content-length": str(len(body))}, body)
            cmd, headers, _ = pub.read()
            if cmd != "RECEIPT":
                raise RuntimeError(f"SEND answered with {cmd} {headers}")
            cmd, headers, got = sub.read()
            if cmd != "MESSAGE" or got != body:
                raise RuntimeError(f"expected the MESSAGE back, got {cmd} {headers} {got!r}")
            pub.close()
            sub.close()
        except (OSError, RuntimeError) as e:
            problems.append(f"{dest}: {e}")
    return problems


def declare_queue(port: int, login: str, passcode: str, dest: str):
    """Subscribes to dest and unsubscribes again, so that a broker that
    declares queues on first use (RabbitMQ) has it afterwards."""
    c = _Conn(port, login, passcode)
    c.send("SUBSCRIBE", {"id": "0", "destination": dest, "ack": "auto", "receipt": "s"})
    cmd, headers, _ = c.read()
    if cmd != "RECEIPT":
        raise RuntimeError(f"SUBSCRIBE {dest} answered with {cmd} {headers}")
    c.send("UNSUBSCRIBE", {"id": "0", "receipt": "u"})
    c.read()
    c.close()
