"""The management listener against slow and greedy clients (issue 18.7):
header and body read deadlines (http-header-timeout, http-body-timeout)
and a per-address connection limit (http-max-connections-per-address), so
that clients dribbling bytes cannot keep the API from answering others.
Slow clients are few and on loopback; a second loopback address
(127.0.0.2) stands for "another client". Every test runs with 1 and 2
shards."""
from __future__ import annotations

import socket
import time

import pytest

from mgmt import Api
from support import WAIT


def connect_from(port: int, source: str = "127.0.0.1") -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(WAIT)
    try:
        s.bind((source, 0))
    except OSError as e:
        s.close()
        pytest.skip("cannot bind a client socket to %s: %s" % (source, e))
    s.connect(("127.0.0.1", port))
    return s


def response_or_eof(s: socket.socket, timeout: float = WAIT) -> bytes:
    """What the server sends until it closes (b"" if it just closes)."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        return data


def is_open(s: socket.socket) -> bool:
    """True if the server has neither closed nor answered the connection."""
    s.settimeout(0.2)
    try:
        s.recv(1, socket.MSG_PEEK)  # an answer (503) or the close
        return False
    except socket.timeout:
        return True
    except OSError:
        return False


def test_per_address_limit_keeps_the_api_for_others(broker_factory):
    # Slow clients from one address (they never finish a request) fill
    # what http-max-connections allows them; before the fix they held every
    # slot and the API answered everybody else 503 until they went away.
    b = broker_factory(http_max_connections="8", http_max_connections_per_address="3",
                       http_header_timeout="60000")
    slow = []
    try:
        for _ in range(10):
            s = connect_from(b.http_port, "127.0.0.2")
            s.sendall(b"G")
            slow.append(s)
        held = [s for s in slow if is_open(s)]
        refused = [s for s in slow if s not in held]
        assert len(held) == 3, "%d slow connections from one address were kept" % len(held)
        for s in refused:
            assert response_or_eof(s).startswith(b"HTTP/1.1 503"), "over the per-address limit: 503"
        # Another address is answered at once.
        status, _, _ = Api(b).raw("GET", "/api/overview")
        assert status == 200
        assert any("http-max-connections-per-address (3) reached" in l for l in b.lines)
    finally:
        for s in slow:
            s.close()


def test_per_address_slot_is_given_back(broker_factory):
    b = broker_factory(http_max_connections_per_address="2")
    api = Api(b)
    for _ in range(6):  # closed connections do not count
        assert api.raw("GET", "/api/overview")[0] == 200
    a, c = connect_from(b.http_port), connect_from(b.http_port)
    try:
        third = connect_from(b.http_port)
        assert response_or_eof(third).startswith(b"HTTP/1.1 503")
        third.close()
    finally:
        a.close()
        c.close()
    deadline = time.monotonic() + WAIT
    while api.raw("GET", "/api/overview")[0] != 200:  # the server sees the closes
        assert time.monotonic() < deadline, "slots not given back after the clients closed"
        time.sleep(0.05)


def dribble_until_closed(s: socket.socket, data: bytes, interval: float = 0.1) -> bool:
    """Sends `data` a byte at a time; True if the server closed the
    connection before all of it was sent."""
    for i in range(len(data)):
        try:
            s.sendall(data[i:i + 1])
        except OSError:
            return True
        if not is_open(s):
            return True
        time.sleep(interval)
    return False


def test_header_deadline_closes_a_dribbling_client(broker_factory):
    # A request dribbled at about 3 bytes a second takes over 10 s: less
    # than the only deadline the server had before (30 s for the whole
    # request), far more than the 1 s asked for here.
    b = broker_factory(http_header_timeout="1000")
    s = connect_from(b.http_port)
    try:
        request = b"GET /api/overview HTTP/1.1\r\nHost: x\r\n\r\n"
        assert dribble_until_closed(s, request), "a client dribbling its headers was never cut off"
    finally:
        s.close()
    assert Api(b).raw("GET", "/api/overview")[0] == 200


def test_body_deadline_closes_a_dribbling_body(broker_factory):
    b = broker_factory(http_body_timeout="1000", http_header_timeout="60000")
    s = connect_from(b.http_port)
    try:
        s.sendall(b"PUT /api/queues/%2F/slowbody HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 40\r\n\r\n")
        assert dribble_until_closed(s, b" " * 40), "a client dribbling its body was never cut off"
    finally:
        s.close()
    assert Api(b).raw("GET", "/api/overview")[0] == 200


def test_keep_alive_requests_each_get_a_fresh_header_deadline(broker_factory):
    # The deadline runs per request: a keep-alive client sending requests
    # promptly is not cut off after http-header-timeout in total.
    b = broker_factory(http_header_timeout="1000")
    s = connect_from(b.http_port)
    try:
        auth = b"Authorization: Basic Z3Vlc3Q6Z3Vlc3Q=\r\n"
        deadline = time.monotonic() + 2.5
        n = 0
        while time.monotonic() < deadline:
            s.sendall(b"GET /api/overview HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(4096)
                assert chunk, "closed after %d requests" % n
                head += chunk
            assert head.startswith(b"HTTP/1.1 200"), head[:100]
            length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
            body = head.split(b"\r\n\r\n", 1)[1]
            while len(body) < length:
                body += s.recv(65536)
            n += 1
            time.sleep(0.2)
    finally:
        s.close()
