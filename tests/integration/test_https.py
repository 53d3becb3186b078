"""The management API, metrics and console over TLS (--https-listen): Python's
http.client and ssl against the HTTPS port, certificate checks both ways
(tls-ca-file, tls-verify-client), plain HTTP sent to the HTTPS port, the
shared connection limit, the admin subcommands (`ferry queues --http
https://...`) and one load of the console in headless Chromium. The certificates are made by the test with the openssl CLI
(transport_support.Certs). Every test runs with 1 and 2 shards."""
from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from console_ui import CHROMIUM
from support import WAIT, assert_broker_serves, client, run_ferry, unique
from transport_support import Certs

HTTPS = dict(https_listen="127.0.0.1:0")
GUEST = "Basic " + base64.b64encode(b"guest:guest").decode()


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return Certs(tmp_path_factory.mktemp("certs"))


def https(port: int, ctx: ssl.SSLContext, method: str = "GET", path: str = "/api/overview",
          body: bytes | None = None, auth: bool = True, headers=None) -> tuple[int, dict, bytes]:
    """One request over a new HTTPS connection; (status, headers, body)."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=WAIT, context=ctx)
    headers = dict(headers or {})
    if auth:
        headers["Authorization"] = GUEST
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def refused(port: int, ctx: ssl.SSLContext) -> bool:
    """True if the TLS handshake (or, with TLS 1.3, the first read after it)
    fails: the server refused the client, or the client the server."""
    try:
        status, _, _ = https(port, ctx)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
        return True
    return False


def test_listener_logged_and_listed_in_overview(broker_factory, certs):
    b = broker_factory(**HTTPS, **certs.server_opts())
    assert b.https_port and b.https_port not in (b.port, b.http_port)
    assert any("listening on 127.0.0.1:%d (HTTPS)" % b.https_port in l for l in b.lines)
    status, headers, data = https(b.https_port, certs.client_context())
    assert status == 200, data
    assert headers["content-type"].startswith("application/json")
    o = json.loads(data)
    listeners = {l["protocol"]: l["address"] for l in o["listeners"]}
    assert listeners["https"] == "127.0.0.1:%d" % b.https_port
    assert listeners["http"] == "127.0.0.1:%d" % b.http_port
    assert o["shards"] == b.shards


def test_put_delete_and_metrics_over_https(broker_factory, certs):
    b = broker_factory(**HTTPS, **certs.server_opts())
    ctx = certs.client_context()
    name = unique("hq")
    status, _, data = https(b.https_port, ctx, "PUT", "/api/queues/%2F/" + name)
    assert status == 201, data
    status, _, data = https(b.https_port, ctx, "GET", "/api/queues/%2F/" + name)
    assert status == 200 and json.loads(data)["name"] == name, data
    # what HTTPS created, plain HTTP sees (one API behind both listeners)
    conn = http.client.HTTPConnection("127.0.0.1", b.http_port, timeout=WAIT)
    conn.request("GET", "/api/queues/%2F/" + name, headers={"Authorization": GUEST})
    assert conn.getresponse().status == 200
    conn.close()
    status, _, data = https(b.https_port, ctx, "DELETE", "/api/queues/%2F/" + name)
    assert status == 204, data
    status, _, data = https(b.https_port, ctx, "GET", "/api/queues/%2F/" + name)
    assert status == 404, data
    status, headers, data = https(b.https_port, ctx, "GET", "/metrics", auth=False)
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert b"ferry_connections" in data


def test_keep_alive_serves_several_requests_on_one_connection(broker_factory, certs):
    b = broker_factory(**HTTPS, **certs.server_opts())
    conn = http.client.HTTPSConnection("127.0.0.1", b.https_port, timeout=WAIT, context=certs.client_context())
    try:
        for _ in range(3):
            conn.request("GET", "/api/overview", headers={"Authorization": GUEST})
            r = conn.getresponse()
            assert r.status == 200 and json.loads(r.read())["version"]
    finally:
        conn.close()


def test_request_limits_over_https(broker_factory, certs):
    b = broker_factory(**HTTPS, **certs.server_opts())
    ctx = certs.client_context()
    status, _, data = https(b.https_port, ctx, headers={"X-Big": "a" * 20000})
    assert status == 431 and json.loads(data)["error"] == "request_too_large"
    # A body over 1 MiB is refused from its Content-Length; the client has
    # sent part of it, which the server does not read: the 413 still arrives.
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", b.https_port), timeout=WAIT),
                        server_hostname="127.0.0.1")
    try:
        s.sendall(b"POST /api/queues/%2F/q/move HTTP/1.1\r\nHost: x\r\nAuthorization: " + GUEST.encode() +
                  b"\r\nContent-Length: 2000000\r\n\r\n" + b"x" * 65536)
        reply = b""
        try:
            while b"\r\n\r\n" not in reply:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        except (ssl.SSLError, ConnectionResetError):
            pass
        assert reply.startswith(b"HTTP/1.1 413"), reply
    finally:
        s.close()
    assert https(b.https_port, ctx)[0] == 200


def test_401_without_credentials(broker_factory, certs):
    b = broker_factory(**HTTPS, **certs.server_opts())
    status, headers, _ = https(b.https_port, certs.client_context(), auth=False)
    assert status == 401
    assert headers["www-authenticate"].startswith("Basic")


def test_server_certificate_from_another_ca_is_rejected_by_the_client(broker_factory, certs):
    b = broker_factory(**HTTPS, **certs.server_opts())
    wrong = ssl.create_default_context(cafile=str(certs.dir / "rogue-ca.pem"))
    with pytest.raises(ssl.SSLCertVerificationError):
        https(b.https_port, wrong)
    # the broker is unharmed
    assert https(b.https_port, certs.client_context())[0] == 200


def test_plain_http_to_the_https_port_gets_no_answer(broker_factory, certs):
    b = broker_factory(**HTTPS, **certs.server_opts())
    s = socket.create_connection(("127.0.0.1", b.https_port), timeout=WAIT)
    s.sendall(b"GET /api/overview HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + GUEST.encode() + b"\r\n\r\n")
    start = time.monotonic()
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    assert time.monotonic() - start < WAIT  # closed, not left hanging
    assert b"HTTP/" not in data and b"version" not in data, data
    s.close()
    b.wait_for_log("TLS handshake failed: http request")
    # a following HTTPS request, and the rest of the broker, work
    assert https(b.https_port, certs.client_context())[0] == 200
    assert_broker_serves(b)


def test_a_silent_connection_does_not_block_others(broker_factory, certs):
    b = broker_factory(**HTTPS, **certs.server_opts())
    idle = socket.create_connection(("127.0.0.1", b.https_port), timeout=WAIT)
    try:
        assert https(b.https_port, certs.client_context())[0] == 200
    finally:
        idle.close()


def test_client_certificate_required(broker_factory, certs):
    b = broker_factory(tls_ca_file=str(certs.ca), tls_verify_client="required", **HTTPS, **certs.server_opts())
    status, _, data = https(b.https_port, certs.client_context(with_cert=True))
    assert status == 200, data
    # without a certificate, or with one from another CA: refused in the handshake
    assert refused(b.https_port, certs.client_context())
    assert refused(b.https_port, certs.client_context(rogue=True))
    # the plain HTTP listener asks for no certificate (tls-verify-client is for TLS listeners)
    conn = http.client.HTTPConnection("127.0.0.1", b.http_port, timeout=WAIT)
    conn.request("GET", "/api/overview", headers={"Authorization": GUEST})
    assert conn.getresponse().status == 200
    conn.close()
    assert https(b.https_port, certs.client_context(with_cert=True))[0] == 200


def chromium_dom(url: str, spki: str | None) -> str:
    """The DOM of `url` after its scripts ran, from headless Chromium; with
    `spki`, the server certificate whose key has that SHA-256 (base64) is
    accepted (Chromium has no option for a CA file; Debian's chromium reads
    CAs from an NSS database only)."""
    assert os.path.exists(CHROMIUM), "%s is missing (scripts/deps.sh installs chromium)" % CHROMIUM
    with tempfile.TemporaryDirectory(prefix="ferry-chromium-") as profile:
        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile,
                "--virtual-time-budget=5000", "--dump-dom", url]
        if spki:
            args.insert(1, "--ignore-certificate-errors-spki-list=" + spki)
        p = subprocess.run(args, capture_output=True, timeout=120)
    return p.stdout.decode("utf-8", "replace")


def test_console_loads_in_chromium_over_https(broker_factory, certs):
    b = broker_factory(**HTTPS, **certs.server_opts())
    pub = subprocess.run(["openssl", "x509", "-in", str(certs.server), "-pubkey", "-noout"],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         capture_output=True, check=True).stdout
    spki = base64.b64encode(hashlib.sha256(der).digest()).decode()
    url = "https://127.0.0.1:%d/" % b.https_port
    dom = chromium_dom(url, spki)
    # index.html, its script and styles came over HTTPS: the script drew the login form
    assert "<title>Ferry console</title>" in dom, dom[:2000]
    assert 'data-testid="login-form"' in dom, dom[:2000]
    # an unknown certificate: Chromium shows nothing of the console
    assert "Ferry console" not in chromium_dom(url, None)
    assert_broker_serves(b)


def test_https_alone_with_http_listen_off(broker_factory, certs):
    b = broker_factory(http_listen="", **HTTPS, **certs.server_opts())
    assert b.http_port is None and b.https_port
    o = json.loads(https(b.https_port, certs.client_context())[2])
    assert [l["protocol"] for l in o["listeners"] if l["protocol"].startswith("http")] == ["https"]


def test_http_max_connections_counts_both_listeners(broker_factory, certs):
    b = broker_factory(http_max_connections="2", **HTTPS, **certs.server_opts())
    held = []
    try:
        # two connections held open on the plain listener (one request each, kept alive)
        for _ in range(2):
            c = http.client.HTTPConnection("127.0.0.1", b.http_port, timeout=WAIT)
            c.request("GET", "/api/overview", headers={"Authorization": GUEST})
            r = c.getresponse()
            r.read()
            assert r.status == 200
            held.append(c)
        # the HTTPS listener is full too: closed without a handshake
        assert refused(b.https_port, certs.client_context())
        b.wait_for_log("refusing HTTPS connection: http-max-connections (2) reached")
    finally:
        for c in held:
            c.close()
    deadline = time.monotonic() + WAIT
    while True:  # the server notices the closes a moment later
        try:
            if https(b.https_port, certs.client_context())[0] == 200:
                break
        except (ssl.SSLError, ConnectionResetError, http.client.RemoteDisconnected):
            pass
        assert time.monotonic() < deadline, "HTTPS not served after the HTTP connections closed"
        time.sleep(0.1)


def test_admin_cli_over_https(broker_factory, certs):
    b = broker_factory(**HTTPS, **certs.server_opts())
    name = unique("cli")
    c = client(b.port)
    for i in range(2):
        c.send("/queue/" + name, "m%d" % i)
    url = "https://127.0.0.1:%d" % b.https_port
    # verified against the test CA
    p = run_ferry("queues", "--http", url, "--ca-file", str(certs.ca))
    assert p.returncode == 0, p.stderr
    row = [l for l in p.stdout.decode().splitlines() if name in l]
    assert row and row[0].split()[:4] == ["/", name, "2", "0"], p.stdout
    # by the name in the certificate too
    p = run_ferry("queues", "--http", "https://localhost:%d" % b.https_port, "--ca-file", str(certs.ca), "--json")
    assert p.returncode == 0, p.stderr
    assert {q["name"]: q for q in json.loads(p.stdout)}[name]["ready"] == 2
    # not verified at all
    p = run_ferry("create-queue", unique("k"), "--http", url, "--insecure")
    assert p.returncode == 0 and "created /queue/" in p.stdout.decode(), p.stderr
    # the system trust store does not know the test CA; nor does another CA
    for extra in ([], ["--ca-file", str(certs.dir / "rogue-ca.pem")]):
        p = run_ferry("overview", "--http", url, *extra)
        err = p.stderr.decode()
        assert p.returncode == 1, (p.stdout, err)
        assert "certificate verify failed" in err and "--insecure" in err, err
    # an unreadable --ca-file is named
    p = run_ferry("overview", "--http", url, "--ca-file", str(certs.dir / "missing.pem"))
    assert p.returncode == 1 and "--ca-file" in p.stderr.decode(), p.stderr
    # https:// to the plain HTTP port: a clear failure, not a hang
    p = run_ferry("overview", "--http", "https://127.0.0.1:%d" % b.http_port, "--insecure")
    assert p.returncode == 1 and "TLS handshake" in p.stderr.decode(), p.stderr
    # http:// is the plain listener
    p = run_ferry("overview", "--http", "http://127.0.0.1:%d" % b.http_port)
    assert p.returncode == 0 and "connections 1" in p.stdout.decode(), p.stderr
    c.close()


def test_admin_cli_with_client_certificate(broker_factory, certs):
    b = broker_factory(tls_ca_file=str(certs.ca), tls_verify_client="required", **HTTPS, **certs.server_opts())
    base = ["overview", "--http", "https://127.0.0.1:%d" % b.https_port, "--ca-file", str(certs.ca)]
    # without one: refused by the broker, a clear failure
    p = run_ferry(*base)
    assert p.returncode == 1 and "management API" in p.stderr.decode(), (p.stdout, p.stderr)
    # with the client certificate signed by tls-ca-file: served
    p = run_ferry(*base, "--cert-file", str(certs.client), "--key-file", str(certs.client_key))
    assert p.returncode == 0 and "shard(s)" in p.stdout.decode(), p.stderr
    # with one from another CA: refused
    p = run_ferry(*base, "--cert-file", str(certs.rogue), "--key-file", str(certs.rogue_key))
    assert p.returncode == 1, p.stdout
    # half a pair, or a key that does not match, is named
    p = run_ferry(*base, "--cert-file", str(certs.client))
    assert p.returncode == 1 and "--cert-file and --key-file go together" in p.stderr.decode(), p.stderr
    p = run_ferry(*base, "--cert-file", str(certs.client), "--key-file", str(certs.rogue_key))
    err = p.stderr.decode()
    assert p.returncode == 1 and "--key-file" in err and "mismatch" in err, err
    assert_broker_serves(b)


@pytest.mark.parametrize("case", ["no-cert", "no-key", "verify-without-ca", "bad-address"])
def test_https_startup_errors(case, certs, tmp_path):
    args = ["serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
            "--data-dir", str(tmp_path / "data"), "--https-listen", "127.0.0.1:0"]
    expect = {"no-cert": "tls-cert-file", "no-key": "tls-key-file", "verify-without-ca": "tls-ca-file",
              "bad-address": "https-listen"}[case]
    if case == "no-key":
        args += ["--tls-cert-file", str(certs.server)]
    elif case == "verify-without-ca":
        args += ["--tls-cert-file", str(certs.server), "--tls-key-file", str(certs.server_key),
                 "--tls-verify-client", "required"]
    elif case == "bad-address":
        args[-1] = "no-port"
    p = run_ferry(*args, timeout=20)
    out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
    assert p.returncode != 0, out
    assert expect in out, out
    if case != "bad-address":
        assert "https-listen" in out, out
    assert "listening on" not in out, out
