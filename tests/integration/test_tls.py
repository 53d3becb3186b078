"""STOMP over TLS (--tls-listen) and over WebSocket+TLS (--wss-listen):
stomp.py with set_ssl, php-stomp with ssl://, @stomp/stompjs over wss://,
client certificates (tls-verify-client), startup errors. The test CA and
certificates are made with the openssl CLI. Every test runs with 1 and 2
shards."""
from __future__ import annotations

import socket
import ssl
import tempfile
import time
from pathlib import Path

import pytest

from support import WAIT, assert_broker_serves, py_rid, run_ferry, run_php, unique
from support import PyListener
from transport_support import Certs, NodeClient, RawWs, parse_stomp, stomp_bytes

TLS = dict(tls_listen="127.0.0.1:0")


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return Certs(tmp_path_factory.mktemp("certs"))


def py_connect_ssl(port: int, certs: Certs, with_cert: bool = False):
    """stomp.py 1.2 over TLS, verifying the server against the test CA."""
    import stomp
    conn = stomp.Connection12([("127.0.0.1", port)], heartbeats=(0, 0), vhost="/", reconnect_attempts_max=1)
    kw = dict(for_hosts=[("127.0.0.1", port)], ca_certs=str(certs.ca))
    if with_cert:
        kw.update(cert_file=str(certs.client), key_file=str(certs.client_key))
    conn.set_ssl(**kw)
    lst = PyListener()
    conn.set_listener("t", lst)
    conn.connect(wait=True)
    return conn, lst


def raw_tls_stomp(port: int, ctx: ssl.SSLContext) -> bytes:
    """TLS handshake, CONNECT, and the first reply's bytes (b"" if closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    try:
        t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
        t.sendall(stomp_bytes("CONNECT", {"accept-version": "1.2", "host": "/"}))
        data = b""
        while b"\0" not in data:
            chunk = t.recv(4096)
            if not chunk:
                break
            data += chunk
        return data
    finally:
        s.close()


def test_listener_ports_are_logged(broker_factory, certs):
    b = broker_factory(wss_listen="127.0.0.1:0", **TLS, **certs.server_opts())
    assert b.tls_port and b.wss_port and len({b.port, b.tls_port, b.wss_port}) == 3
    assert any("listening on 127.0.0.1:%d (TLS)" % b.tls_port in l for l in b.lines)
    assert any("listening on 127.0.0.1:%d (WebSocket+TLS)" % b.wss_port in l for l in b.lines)


def test_stomp_py_over_tls_meets_php_over_tcp(broker_factory, certs):
    b = broker_factory(**TLS, **certs.server_opts())
    dest = "/queue/" + unique("tls")
    conn, lst = py_connect_ssl(b.tls_port, certs)
    try:
        assert lst.connected_frame is not None or conn.is_connected()
        for i in range(3):
            rid = py_rid()
            conn.send(dest, "secret-%d" % i, receipt=rid)
            lst.wait_receipt(rid)
        r = run_php("consume.php", b.port, dest, 3)
        assert [f["body"] for f in r["frames"]] == ["secret-0", "secret-1", "secret-2"], r
        # and back: PHP over TCP sends, stomp.py over TLS receives
        conn.subscribe(dest, id="s", ack="auto")
        assert run_php("produce.php", b.port, dest, 1, "plain")["sent"] == 1
        m = lst.get()
        assert m.body == "plain-0"
    finally:
        conn.disconnect()
    assert any("(tls)" in l and "opened from" in l for l in b.lines)


def test_no_session_tickets_after_the_handshake(broker_factory, certs):
    """The broker sends no TLS 1.3 session ticket: a ticket arriving while a
    client that reads and writes on two threads (stomp.py) is writing its
    CONNECT lost that CONNECT now and then. With no ticket, the client's TLS
    session after a full exchange is not resumable."""
    b = broker_factory(**TLS, **certs.server_opts())
    ctx = certs.client_context()
    s = socket.create_connection(("127.0.0.1", b.tls_port), timeout=WAIT)
    try:
        t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
        assert t.version() == "TLSv1.3"
        t.sendall(stomp_bytes("CONNECT", {"accept-version": "1.2", "host": "/"}))
        data = b""
        while b"\0" not in data:
            chunk = t.recv(4096)
            assert chunk, "closed before CONNECTED"
            data += chunk
        assert data.startswith(b"CONNECTED\n"), data
        # Any ticket sent after the handshake precedes CONNECTED, so it has
        # been read by now.
        assert t.session is None or not t.session.has_ticket
    finally:
        s.close()


def test_php_over_tls_streams(broker_factory, certs):
    b = broker_factory(**TLS, **certs.server_opts())
    dest = "/queue/" + unique("php-tls")
    r = run_php("tls_stream.php", b.tls_port, dest, str(certs.ca))
    assert r["error"] is None, r
    assert [f["command"] for f in r["frames"]] == ["CONNECTED", "RECEIPT", "MESSAGE"], r
    assert r["frames"][2]["body"] == "php over tls"


def test_php_stomp_over_ssl_url(broker_factory, certs):
    b = broker_factory(**TLS, **certs.server_opts())
    dest = "/queue/" + unique("php-ssl")
    r = run_php("url_roundtrip.php", "ssl://127.0.0.1:%d" % b.tls_port, dest, 2)
    if r["error"] == "SSL DISABLED":
        pytest.skip("this php-stomp build has no SSL support (Debian 12's is built without it)")
    assert r["error"] is None, r
    assert r["sent"] == 2 and r["bodies"] == ["php-0", "php-1"], r


def test_large_message_over_tls(broker_factory, certs):
    b = broker_factory(**TLS, **certs.server_opts())
    dest = "/queue/" + unique("big")
    conn, lst = py_connect_ssl(b.tls_port, certs)
    try:
        body = "x" * (3 << 20)  # many TLS records each way
        conn.subscribe(dest, id="s", ack="auto")
        conn.send(dest, body)
        m = lst.get(timeout=15)
        assert len(m.body) == len(body)
    finally:
        conn.disconnect()


@pytest.mark.parametrize("size,count", [(1024, 20000), (40000, 600)])
def test_bench_over_tls_loses_and_corrupts_nothing(broker_factory, certs, size, count):
    """`ferry bench --tls`: small messages (the broker gathers many frames'
    buffers into each TLS record) and messages over a record (written from
    the message's own buffer, a record at a time), two producers and two
    consumers; every body carries its checksum."""
    import json
    b = broker_factory(**TLS, **certs.server_opts())
    r = run_ferry("bench", "--server", "127.0.0.1:%d" % b.tls_port, "--tls", "--producers", "2",
                  "--consumers", "2", "--size", str(size), "--count", str(count), "--drain-timeout", "10",
                  timeout=120)
    out = r.stdout.decode()
    assert r.returncode == 0, out + r.stderr.decode()
    res = json.loads(out.rstrip("\n").splitlines()[-1])
    assert res["sent"] == 2 * count and res["received"] == res["expected"] == 2 * count, res
    assert res["lost"] == res["duplicates"] == res["corrupt"] == res["errors"] == 0, res


def test_client_certificate_required(broker_factory, certs):
    b = broker_factory(tls_ca_file=str(certs.ca), tls_verify_client="required", **TLS, **certs.server_opts())
    # with a certificate from the CA: served
    assert raw_tls_stomp(b.tls_port, certs.client_context(with_cert=True)).startswith(b"CONNECTED")
    conn, lst = py_connect_ssl(b.tls_port, certs, with_cert=True)
    conn.disconnect()
    # without one, or with one from another CA: refused during the handshake
    for ctx in (certs.client_context(), certs.client_context(rogue=True)):
        with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)) as e:
            data = raw_tls_stomp(b.tls_port, ctx)
            if data == b"":  # TLS 1.3: the refusal may show up as a closed stream
                raise ssl.SSLError("closed: " + repr(data))
        assert e.value is not None
    # PHP (TLS streams): with the client certificate served, without it refused
    r = run_php("tls_stream.php", b.tls_port, "/queue/" + unique("php-cert"), str(certs.ca),
                str(certs.client), str(certs.client_key))
    assert [f["command"] for f in r["frames"]] == ["CONNECTED", "RECEIPT", "MESSAGE"], r
    r = run_php("tls_stream.php", b.tls_port, "/queue/x", str(certs.ca))
    assert r["error"] is not None or r["frames"][0] is None, r
    assert_broker_serves(b)
    assert raw_tls_stomp(b.tls_port, certs.client_context(with_cert=True)).startswith(b"CONNECTED")


def test_client_certificate_optional(broker_factory, certs):
    b = broker_factory(tls_ca_file=str(certs.ca), tls_verify_client="optional", **TLS, **certs.server_opts())
    assert raw_tls_stomp(b.tls_port, certs.client_context()).startswith(b"CONNECTED")
    assert raw_tls_stomp(b.tls_port, certs.client_context(with_cert=True)).startswith(b"CONNECTED")
    # a certificate that does not verify is still refused
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        if raw_tls_stomp(b.tls_port, certs.client_context(rogue=True)) == b"":
            raise ssl.SSLError("closed")


def test_plaintext_on_tls_port_is_dropped(broker_factory, certs):
    b = broker_factory(**TLS, **certs.server_opts())
    s = socket.create_connection(("127.0.0.1", b.tls_port), timeout=WAIT)
    s.sendall(stomp_bytes("CONNECT", {"accept-version": "1.2", "host": "/"}))
    data = s.recv(4096)
    assert b"CONNECTED" not in data
    s.close()
    assert raw_tls_stomp(b.tls_port, certs.client_context()).startswith(b"CONNECTED")


def test_tls_handshake_timeout_is_connect_timeout(broker_factory, certs):
    b = broker_factory(connect_timeout="300", **TLS, **certs.server_opts())
    s = socket.create_connection(("127.0.0.1", b.tls_port), timeout=WAIT)
    start = time.monotonic()
    assert s.recv(100) == b""  # closed without a word
    assert time.monotonic() - start < WAIT
    s.close()


def test_stompjs_over_wss(broker_factory, certs):
    b = broker_factory(wss_listen="127.0.0.1:0", ws_listen="127.0.0.1:0", **certs.server_opts())
    dest = "/queue/" + unique("wss")
    n = NodeClient(url="wss://127.0.0.1:%d/ws" % b.wss_port, ca=str(certs.ca), subscribe=dest, expect=2)
    n.wait_event("subscribed")
    # a second stompjs over plain ws:// sends to it
    s = NodeClient(url="ws://127.0.0.1:%d/ws" % b.ws_port,
                   send=[{"destination": dest, "body": "over ws"}, {"destination": dest, "body": "to wss"}])
    assert s.finish() == 0, (s.lines, s.stderr())
    assert n.finish() == 0, (n.lines, n.stderr())
    assert [m["body"] for m in n.events("message")] == ["over ws", "to wss"]
    assert n.events("upgrade")[0]["protocol"] == "v12.stomp"
    assert any("(wss)" in l and "opened from" in l for l in b.lines)


def test_raw_wss_client_with_required_certificate(broker_factory, certs):
    b = broker_factory(wss_listen="127.0.0.1:0", tls_ca_file=str(certs.ca), tls_verify_client="required",
                       **certs.server_opts())
    ws = RawWs(b.wss_port, ssl_context=certs.client_context(with_cert=True))
    assert ws.status == 101
    ws.send(stomp_bytes("CONNECT", {"accept-version": "1.2", "host": "/"}))
    op, payload = ws.read_message()
    assert parse_stomp(payload)[0] == "CONNECTED"
    ws.close()
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError, Exception)):
        RawWs(b.wss_port, ssl_context=certs.client_context())


@pytest.mark.parametrize("case", ["no-cert", "no-key", "bad-cert", "verify-without-ca", "bad-verify"])
def test_tls_startup_errors(case, certs, tmp_path):
    args = ["serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"),
            "--tls-listen", "127.0.0.1:0"]
    expect = {
        "no-cert": "tls-cert-file",
        "no-key": "tls-key-file",
        "bad-cert": "tls-cert-file",
        "verify-without-ca": "tls-ca-file",
        "bad-verify": "tls-verify-client",
    }[case]
    if case == "no-key":
        args += ["--tls-cert-file", str(certs.server)]
    elif case == "bad-cert":
        bogus = tmp_path / "bogus.pem"
        bogus.write_text("not a certificate\n")
        args += ["--tls-cert-file", str(bogus), "--tls-key-file", str(certs.server_key)]
    elif case == "verify-without-ca":
        args += ["--tls-cert-file", str(certs.server), "--tls-key-file", str(certs.server_key),
                 "--tls-verify-client", "required"]
    elif case == "bad-verify":
        args += ["--tls-verify-client", "sometimes"]
    p = run_ferry(*args, timeout=20)
    out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
    assert p.returncode != 0, out
    assert expect in out, out
    assert "listening on" not in out, out


# ---------------------------------------------------------------- ssl-cert-login

def _tls_session(port: int, ctx: ssl.SSLContext, headers: dict, frames=()) -> list[bytes]:
    """TLS, CONNECT with `headers`, then each (command, headers, body) of
    `frames`; returns every frame the broker sent until it closed or went
    quiet for a second."""
    s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    try:
        t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
        t.sendall(stomp_bytes("CONNECT", dict({"accept-version": "1.2", "host": "/"}, **headers)))
        for command, h, body in frames:
            t.sendall(stomp_bytes(command, h, body))
        t.settimeout(1.0)
        data = b""
        try:
            while True:
                chunk = t.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ssl.SSLError, ConnectionResetError):
            pass
        return [f.lstrip(b"\n") for f in data.split(b"\0") if f.strip(b"\n")]
    finally:
        s.close()


@pytest.fixture
def cert_users(tmp_path) -> str:
    """A users file where the client certificate's CN (test-client) is a user
    who may only write /queue/cert-*; guest as built in."""
    path = str(tmp_path / "users.toml")
    for args in (("user", "add", "test-client", "--password", "unused-" + unique(), "--iterations", "1000"),
                 ("user", "set-permissions", "test-client", "--vhost", "/", "--configure", ".*",
                  "--write", "^/queue/cert-", "--read", ".*")):
        r = run_ferry(*args, "--users-file", path)
        assert r.returncode == 0, r.stderr
    return path


def test_ssl_cert_login_takes_the_user_from_the_certificate(broker_factory, certs, cert_users):
    b = broker_factory(tls_ca_file=str(certs.ca), tls_verify_client="optional", ssl_cert_login="true",
                       users_file=cert_users, default_user="", login_failure_delay=0,
                       wss_listen="127.0.0.1:0", **TLS, **certs.server_opts())
    ok = unique("cert-")
    send = lambda dest: ("SEND", {"destination": "/queue/" + dest, "receipt": "r1"}, "x")
    # With the certificate and no login: test-client, held to its grants.
    frames = _tls_session(b.tls_port, certs.client_context(with_cert=True), {}, [send(ok)])
    assert frames[0].startswith(b"CONNECTED") and frames[1].startswith(b"RECEIPT"), frames
    frames = _tls_session(b.tls_port, certs.client_context(with_cert=True), {}, [send(unique("other"))])
    assert frames[0].startswith(b"CONNECTED") and frames[1].startswith(b"ERROR"), frames
    assert b"write permission" in frames[1] and b"test-client" in frames[1]
    # No certificate and no login: a login is required (default-user "").
    frames = _tls_session(b.tls_port, certs.client_context(), {})
    assert frames and frames[0].startswith(b"ERROR"), frames
    # A login given wins over the certificate (guest may write anywhere).
    frames = _tls_session(b.tls_port, certs.client_context(with_cert=True),
                          {"login": "guest", "passcode": "guest"}, [send(unique("other"))])
    assert frames[0].startswith(b"CONNECTED") and frames[1].startswith(b"RECEIPT"), frames
    # Over wss:// the same.
    ws = RawWs(b.wss_port, ssl_context=certs.client_context(with_cert=True))
    ws.send(stomp_bytes("CONNECT", {"accept-version": "1.2", "host": "/"}))
    assert parse_stomp(ws.read_message()[1])[0] == "CONNECTED"
    ws.send(stomp_bytes("SEND", {"destination": "/queue/" + unique("nope"), "receipt": "r"}, "x"))
    command, headers, _ = parse_stomp(ws.read_message()[1])
    assert command == "ERROR" and "write permission" in headers["message"], headers
    ws.close()


def test_without_ssl_cert_login_a_certificate_logs_nobody_in(broker_factory, certs, cert_users):
    b = broker_factory(tls_ca_file=str(certs.ca), tls_verify_client="required", users_file=cert_users,
                       default_user="", login_failure_delay=0, **TLS, **certs.server_opts())
    frames = _tls_session(b.tls_port, certs.client_context(with_cert=True), {})
    assert frames and frames[0].startswith(b"ERROR") and b"login" in frames[0], frames


def test_ssl_cert_login_needs_the_certificate_user_to_exist(broker_factory, certs, tmp_path):
    path = str(tmp_path / "users.toml")
    assert run_ferry("vhost", "add", "shop", "--users-file", path).returncode == 0  # no test-client
    b = broker_factory(tls_ca_file=str(certs.ca), tls_verify_client="required", ssl_cert_login="true",
                       users_file=path, default_user="", login_failure_delay=0, **TLS, **certs.server_opts())
    frames = _tls_session(b.tls_port, certs.client_context(with_cert=True), {})
    assert frames and frames[0].startswith(b"ERROR") and b"access refused" in frames[0], frames
