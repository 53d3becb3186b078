"""Users, passwords and permissions (docs/security.md): login/passcode on
CONNECT with python stomp.py, PHP and raw frames; one ERROR for an unknown
user and a wrong password, sent after login-failure-delay; the per-address
limit; guest only from loopback; each permission refused with an ERROR
naming it; the `ferry user` / `ferry vhost` commands end to end."""
from __future__ import annotations

import re
import socket
import subprocess
import time

import pytest

from support import (RawClient, StompError, client, ferry_bin, py_rid, run_ferry, run_php, unique)

def msg(f) -> str:
    """The ERROR's message header, unescaped (STOMP 1.2: \\c is a colon)."""
    v = f.get("message") or ""
    return re.sub(r"\\(.)", lambda m: {"c": ":", "n": "\n", "r": "\r", "\\": "\\"}.get(m.group(1), m.group(0)), v)


COST = "1000"  # PBKDF2 iterations for test users: the minimum, to keep tests quick


def ferry_ok(*args, input: bytes | None = None):
    r = run_ferry(*args, input=input)
    assert r.returncode == 0, "ferry %s failed: %s" % (" ".join(args), r.stderr.decode())
    return r


@pytest.fixture
def users_file(tmp_path):
    """vhosts / and shop; alice: everything in shop; bob: may only write
    /queue/orders in shop; carol: may read /queue/... in shop, create nothing;
    guest as built in (/ only)."""
    path = str(tmp_path / "users.toml")
    ferry_ok("vhost", "add", "shop", "--users-file", path)
    ferry_ok("user", "add", "alice", "--password", "wonder", "--iterations", COST, "--users-file", path)
    ferry_ok("user", "add", "bob", "--password", "builder", "--iterations", COST, "--users-file", path)
    ferry_ok("user", "add", "carol", "--password", "singer", "--iterations", COST, "--users-file", path)
    ferry_ok("user", "set-permissions", "alice", "--vhost", "shop", "--configure", ".*", "--write", ".*",
             "--read", ".*", "--users-file", path)
    ferry_ok("user", "set-permissions", "bob", "--vhost", "shop", "--configure", "", "--write",
             "^/queue/orders", "--read", "", "--users-file", path)
    ferry_ok("user", "set-permissions", "carol", "--vhost", "shop", "--configure", "", "--write", "",
             "--read", "^/queue/", "--users-file", path)
    return path


def login(port: int, user: str | None, passcode: str | None, host: str | None = "shop",
          timeout: float = 5.0) -> tuple[RawClient, object]:
    """CONNECT with login/passcode; returns (client, CONNECTED or ERROR frame)."""
    c = RawClient(port)
    headers = [("accept-version", "1.2")]
    if host is not None:
        headers.append(("host", host))
    if user is not None:
        headers.append(("login", user))
    if passcode is not None:
        headers.append(("passcode", passcode))
    c.send_frame("CONNECT", headers)
    c.version = "1.2"  # the ERROR of a refused CONNECT is escaped as 1.2 too
    f = c.read_frame(timeout)
    if f.command == "CONNECTED":
        c.connected = f
    return c, f


def refused(port: int, user, passcode, host="shop", timeout: float = 5.0):
    c, f = login(port, user, passcode, host, timeout)
    assert f.command == "ERROR", "login %s/%s should be refused: %r" % (user, passcode, f)
    c.close()
    return f


# ------------------------------------------------------------------ logins

def test_right_password_connects(broker_factory, users_file):
    b = broker_factory(users_file=users_file)
    c, f = login(b.port, "alice", "wonder")
    assert f.command == "CONNECTED", f
    dest = "/queue/" + unique()
    c.subscribe(dest, "s1")
    c.send(dest, "hi alice")
    assert c.read_message().body == b"hi alice"
    c.close()


def test_unknown_user_and_wrong_password_get_the_same_error_after_the_delay(broker_factory, users_file):
    b = broker_factory(users_file=users_file, login_failure_delay=800)
    answers = []
    for user, pw in [("alice", "wrong"), ("nobody", "wrong"), ("nobody", "wonder"), ("alice", "")]:
        t0 = time.monotonic()
        f = refused(b.port, user, pw)
        elapsed = time.monotonic() - t0
        assert elapsed >= 0.75, "a refused login must wait login-failure-delay (%.2fs)" % elapsed
        answers.append((msg(f), f.body))
    assert answers[0][0] == "access refused: wrong login or passcode", answers
    assert all(a == answers[0] for a in answers), "the ERROR must not tell whether the user exists: %r" % answers


def test_delay_does_not_stall_other_clients(broker_factory, users_file):
    """A refused login waits on a timer, not on the event loop: others carry on."""
    b = broker_factory(users_file=users_file, login_failure_delay=3000)
    bad = RawClient(b.port)
    bad.send_frame("CONNECT", [("accept-version", "1.2"), ("host", "shop"), ("login", "alice"),
                               ("passcode", "wrong")])
    bad.version = "1.2"
    time.sleep(0.2)
    t0 = time.monotonic()
    c, f = login(b.port, "alice", "wonder")
    assert f.command == "CONNECTED"
    dest = "/queue/" + unique()
    c.subscribe(dest, "s1")
    c.send(dest, "meanwhile")
    assert c.read_message().body == b"meanwhile"
    assert time.monotonic() - t0 < 2.0
    c.close()
    err = bad.expect_error_frame(timeout=6)
    assert msg(err) == "access refused: wrong login or passcode"
    bad.close()


def test_frames_pipelined_after_connect_wait_for_the_login(broker_factory, users_file):
    b = broker_factory(users_file=users_file)
    dest = "/queue/" + unique()
    c = RawClient(b.port)
    c.send_raw(b"CONNECT\naccept-version:1.2\nhost:shop\nlogin:alice\npasscode:wonder\n\n\x00"
               b"SUBSCRIBE\nid:s1\ndestination:" + dest.encode() + b"\n\n\x00"
               b"SEND\ndestination:" + dest.encode() + b"\nreceipt:r1\n\npipelined\x00")
    c.version = "1.2"
    assert c.read_frame().command == "CONNECTED"
    c.connected = True
    frames = [c.read_frame(), c.read_frame()]
    assert sorted(f.command for f in frames) == ["MESSAGE", "RECEIPT"], frames
    assert [f.body for f in frames if f.command == "MESSAGE"] == [b"pipelined"]
    c.close()


def test_failed_logins_per_address_are_limited(broker_factory, users_file):
    b = broker_factory(users_file=users_file, login_failure_delay=0, max_login_failures=3)
    for _ in range(3):
        f = refused(b.port, "alice", "guess")
        assert msg(f) == "access refused: wrong login or passcode"
    t0 = time.monotonic()
    f = refused(b.port, "alice", "wonder")  # even the right password, unchecked
    assert "too many failed logins" in msg(f) and "max-login-failures" in msg(f), f
    assert time.monotonic() - t0 < 1.0


def test_login_less_connect_is_covered_by_the_failure_limit(broker_factory, users_file):
    """issue 18.8: after max-login-failures an address is refused with any
    password; a CONNECT without login (the default-user, guest here) from
    that address was still let in. The limit covers every login from the
    address."""
    b = broker_factory(users_file=users_file, login_failure_delay=0, max_login_failures=3)
    c, f = login(b.port, None, None, host="/")
    assert f.command == "CONNECTED", "default-user before any failure: %r" % f
    c.close()
    for _ in range(3):
        refused(b.port, "alice", "guess")
    f = refused(b.port, None, None, host="/")
    assert "too many failed logins" in msg(f) and "max-login-failures" in msg(f), f
    # with a login too (as before), and over stomp.py's default CONNECT
    f = refused(b.port, "guest", "guest", host="/")
    assert "too many failed logins" in msg(f), f


def _session_shard(frame) -> str:
    """The shard of a connection, from CONNECTED's session header (ferry-<shard>-<id>)."""
    return frame.get("session").split("-")[1]


def test_pathological_permission_pattern_does_not_stall_the_shard(broker_factory, tmp_path):
    """issue 18.4: permissions were matched with std::regex on the event
    loop; a grant like ^/queue/(a*)*b$ and one refused SEND to a name of
    a's held the shard for minutes (exponential backtracking), stalling every
    client of that shard. With RE2 (linear time) the refusal comes at once,
    and a round trip on another connection of the same shard answers
    within the usual wait."""
    path = str(tmp_path / "users.toml")
    ferry_ok("user", "add", "rex", "--password", "pw", "--iterations", COST, "--users-file", path)
    ferry_ok("user", "set-permissions", "rex", "--vhost", "/", "--configure", ".*", "--write",
             "^/queue/(a*)*b$", "--read", ".*", "--users-file", path)
    b = broker_factory(users_file=path, login_failure_delay=0)
    other = client(b.port)  # guest, the default-user
    shard = _session_shard(other.connected)
    bad = None
    for _ in range(8):  # connections are spread over the shards: find one on other's
        c, f = login(b.port, "rex", "pw", host="/")
        assert f.command == "CONNECTED", f
        if _session_shard(f) == shard:
            bad = c
            break
        c.close()
    assert bad is not None, "no connection landed on shard %s" % shard
    # std::regex needs about 8 s for 16 a's here, and ~2.8x more per a.
    name = "/queue/" + "a" * 24
    err = bad.expect_error("SEND", [("destination", name)], body=b"x")
    assert "write permission" in msg(err), err
    bad.close()
    dest = "/queue/" + unique()
    other.send(dest, "round trip")  # waits for its RECEIPT (WAIT)
    other.subscribe(dest, "s1")
    assert other.read_message().body == b"round trip"
    other.close()
    c, f = login(b.port, "rex", "pw", host="/")
    c.send("/queue/" + "a" * 24 + "b", "allowed")  # the grant still grants what it should
    c.close()


def test_patterns_re2_refuses_are_refused_where_permissions_are_set(broker_factory, tmp_path):
    """A pattern RE2 cannot run (a backreference, lookahead) is refused with
    an error naming it by `ferry user set-permissions`, by the management
    API and in a users file; it never becomes a grant that matches
    everything or nothing."""
    from mgmt import Api
    path = str(tmp_path / "users.toml")
    ferry_ok("user", "add", "rex", "--password", "pw", "--iterations", COST, "--users-file", path)
    ferry_ok("user", "set-permissions", "rex", "--vhost", "/", "--configure", "", "--write", "^/queue/ok$",
             "--read", "", "--users-file", path)
    before = open(path).read()
    backref = r"^/queue/(a)\1$"
    r = run_ferry("user", "set-permissions", "rex", "--vhost", "/", "--configure", "", "--write", backref,
                  "--read", "", "--users-file", path)
    assert r.returncode != 0, "a backreference was accepted: %r" % r.stdout
    assert backref.encode() in r.stderr and b"RE2" in r.stderr, r.stderr
    assert open(path).read() == before, "the file changed although the edit was refused"

    b = broker_factory(users_file=path, login_failure_delay=0)
    api = Api(b)
    status, _, body = api.raw("PUT", "/api/permissions/%2F/rex",
                              '{"configure":"","write":"^/queue/(?=x)","read":""}')
    assert status == 400 and b"(?=x)" in body, (status, body)
    assert api.get("/api/permissions/%2F/rex")["write"] == "^/queue/ok$"

    bad = tmp_path / "bad.toml"
    bad.write_text(before.replace("^/queue/ok$", "^/queue/(?!tmp)"))
    r = run_ferry("serve", "--listen", "127.0.0.1:0", "--users-file", str(bad), "--data-dir",
                  str(tmp_path / "d"), timeout=15)
    assert r.returncode != 0 and b"(?!tmp)" in r.stderr and str(bad).encode() in r.stderr, r.stderr


def test_stomp_py_login(broker_factory, users_file):
    import stomp
    b = broker_factory(users_file=users_file)
    conn = stomp.Connection12([("127.0.0.1", b.port)], vhost="shop", heartbeats=(0, 0), reconnect_attempts_max=1)
    from support import PyListener
    lst = PyListener()
    conn.set_listener("t", lst)
    conn.connect("alice", "wonder", wait=True)
    dest = "/queue/" + unique()
    conn.subscribe(dest, id="s1", ack="auto")
    rid = py_rid()
    conn.send(dest, "py as alice", headers={"receipt": rid})
    lst.wait_receipt(rid)
    assert lst.get().body in ("py as alice", b"py as alice")
    conn.disconnect()

    bad = stomp.Connection12([("127.0.0.1", b.port)], vhost="shop", heartbeats=(0, 0), reconnect_attempts_max=1)
    bad_lst = PyListener()
    bad.set_listener("t", bad_lst)
    with pytest.raises(Exception):
        bad.connect("alice", "nope", wait=True)
    err = bad_lst.errors.get(timeout=5)
    assert err.headers.get("message") == "access refused: wrong login or passcode"


def test_php_login(broker_factory, users_file):
    # PHP sends no host header: the default vhost "/". Give alice a grant there.
    ferry_ok("user", "set-permissions", "alice", "--vhost", "/", "--configure", ".*", "--write", ".*",
             "--read", ".*", "--users-file", users_file)
    b = broker_factory(users_file=users_file)
    dest = "/queue/" + unique()
    r = run_php("login.php", b.port, "alice", "wonder", dest)
    assert r["connected"] and r["sent"] is True and r["body"] == "from php as alice", r
    r = run_php("login.php", b.port, "alice", "wrong", dest)
    assert not r["connected"] and r["exception"], r
    assert "wrong login or passcode" in r["exception"] + str(r.get("details")), r


# ------------------------------------------------------------------ guest

def test_guest_login_with_password_from_loopback(broker):
    c, f = login(broker.port, "guest", "guest", host="/")
    assert f.command == "CONNECTED", f
    c.close()
    f = refused(broker.port, "guest", "wrong", host="/")
    assert msg(f) == "access refused: wrong login or passcode"


def _own_address() -> str | None:
    """A non-loopback IPv4 address of this machine, if it has one."""
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    for a in out:
        if "." in a and not a.startswith("127."):
            return a
    return None


def _connect_from_afar(addr: str, port: int, headers) -> object:
    s = socket.create_connection((addr, port), timeout=5)
    assert s.getsockname()[0] == addr, "the connection must come from a non-loopback address"
    c = RawClient.__new__(RawClient)
    RawClient.__init__(c, port)  # builds the helper state; replace its socket
    c.sock.close()
    c.sock = s
    c.send_frame("CONNECT", headers)
    c.version = "1.2"
    f = c.read_frame(5)
    c.close()
    return f


def test_guest_is_refused_from_a_non_loopback_address(broker_factory):
    addr = _own_address()
    if addr is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    b = broker_factory(listen="0.0.0.0:0", login_failure_delay=0)
    base = [("accept-version", "1.2"), ("host", "/")]
    # No login: the default user (guest) from afar.
    f = _connect_from_afar(addr, b.port, base)
    assert f.command == "ERROR", f
    assert "loopback-users" in msg(f), f
    # Explicit guest/guest from afar.
    f = _connect_from_afar(addr, b.port, base + [("login", "guest"), ("passcode", "guest")])
    assert f.command == "ERROR" and "loopback-users" in msg(f), f
    # The same from loopback works.
    c = client(b.port)
    c.close()


def test_loopback_users_empty_lets_guest_in_from_afar(broker_factory):
    addr = _own_address()
    if addr is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    b = broker_factory(listen="0.0.0.0:0", loopback_users="")
    f = _connect_from_afar(addr, b.port, [("accept-version", "1.2"), ("host", "/")])
    assert f.command == "CONNECTED", f


def test_other_users_may_connect_from_afar(broker_factory, users_file):
    addr = _own_address()
    if addr is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    b = broker_factory(listen="0.0.0.0:0", users_file=users_file)
    f = _connect_from_afar(addr, b.port, [("accept-version", "1.2"), ("host", "shop"), ("login", "alice"),
                                          ("passcode", "wonder")])
    assert f.command == "CONNECTED", f


def test_empty_default_user_requires_a_login(broker_factory, users_file):
    b = broker_factory(users_file=users_file, default_user="", login_failure_delay=0)
    f = refused(b.port, None, None, host="/")
    assert msg(f) == "access refused: wrong login or passcode"
    assert "login header is required" in f.body.decode()


def test_users_file_without_guest_has_no_guest(broker_factory, users_file):
    ferry_ok("user", "delete", "guest", "--users-file", users_file)
    b = broker_factory(users_file=users_file, login_failure_delay=0)
    f = refused(b.port, None, None, host="/")  # default-user guest no longer exists
    assert msg(f) == "access refused: wrong login or passcode"
    f = refused(b.port, "guest", "guest", host="/")
    assert msg(f) == "access refused: wrong login or passcode"


def test_user_without_grant_on_the_vhost_is_refused(broker_factory, users_file):
    b = broker_factory(users_file=users_file, login_failure_delay=0)
    f = refused(b.port, "alice", "wonder", host="/")
    assert msg(f) == "access refused: no permissions on this vhost", f
    assert "'/'" in f.body.decode()


# ------------------------------------------------------------------ permissions

def _error_of(c: RawClient, command: str, headers) -> object:
    return c.expect_error(command, headers)


def test_write_is_needed_to_send(broker_factory, users_file):
    b = broker_factory(users_file=users_file)
    bob, f = login(b.port, "bob", "builder")
    assert f.command == "CONNECTED"
    err = _error_of(bob, "SEND", [("destination", "/queue/invoices")])
    assert msg(err) == "access refused: write permission needed (SEND)", err
    assert "/queue/invoices" in err.body.decode() and "bob" in err.body.decode()


def test_configure_is_needed_to_create_a_queue(broker_factory, users_file):
    b = broker_factory(users_file=users_file)
    dest = "/queue/orders"
    bob, _ = login(b.port, "bob", "builder")
    err = _error_of(bob, "SEND", [("destination", dest)])
    assert msg(err).startswith("access refused: configure permission needed"), err
    assert "configure" in msg(err)
    # Once alice (configure .*) has created it, bob may send to it.
    alice, _ = login(b.port, "alice", "wonder")
    alice.send(dest, "first")
    bob, _ = login(b.port, "bob", "builder")
    bob.send(dest, "from bob")
    alice.subscribe(dest, "s1")
    assert [m.body for m in alice.read_messages(2)] == [b"first", b"from bob"]
    alice.close()
    bob.close()


def test_read_is_needed_to_subscribe(broker_factory, users_file):
    b = broker_factory(users_file=users_file)
    bob, _ = login(b.port, "bob", "builder")
    err = _error_of(bob, "SUBSCRIBE", [("destination", "/queue/orders"), ("id", "s1")])
    assert msg(err) == "access refused: read permission needed (SUBSCRIBE)", err
    carol, _ = login(b.port, "carol", "singer")
    err = _error_of(carol, "SUBSCRIBE", [("destination", "/topic/news"), ("id", "s1")])
    assert msg(err) == "access refused: read permission needed (SUBSCRIBE)", err


def test_reader_without_configure_may_consume_but_not_create(broker_factory, users_file):
    b = broker_factory(users_file=users_file)
    carol, _ = login(b.port, "carol", "singer")
    err = _error_of(carol, "SUBSCRIBE", [("destination", "/queue/" + unique()), ("id", "s1")])
    assert "configure" in msg(err), err
    dest = "/queue/" + unique()
    alice, _ = login(b.port, "alice", "wonder")
    alice.send(dest, "for carol")
    carol, _ = login(b.port, "carol", "singer")
    carol.subscribe(dest, "s1")
    assert carol.read_message().body == b"for carol"
    err = _error_of(carol, "SEND", [("destination", dest)])
    assert msg(err) == "access refused: write permission needed (SEND)"
    alice.close()


def test_durable_subscription_needs_configure(broker_factory, users_file):
    ferry_ok("user", "set-permissions", "carol", "--vhost", "shop", "--configure", "", "--write", "",
             "--read", ".*", "--users-file", users_file)
    b = broker_factory(users_file=users_file)
    topic = "/topic/" + unique()
    alice, _ = login(b.port, "alice", "wonder")
    alice.subscribe(topic, "keep")  # the topic exists now
    carol, _ = login(b.port, "carol", "singer")
    carol.subscribe(topic, "plain")  # a plain subscription to an existing topic: read is enough
    carol.close()
    carol, _ = login(b.port, "carol", "singer")
    err = _error_of(carol, "SUBSCRIBE", [("destination", topic), ("id", "d1"), ("durable", "true"),
                                         ("auto-delete", "false")])
    assert "configure" in msg(err), err
    alice.close()


def test_transactional_send_needs_configure(broker_factory, users_file):
    b = broker_factory(users_file=users_file)
    dest = "/queue/orders"
    alice, _ = login(b.port, "alice", "wonder")
    alice.send(dest, "exists")
    bob, _ = login(b.port, "bob", "builder")
    bob.request("BEGIN", [("transaction", "t1")])
    err = _error_of(bob, "SEND", [("destination", dest), ("transaction", "t1")])
    assert "configure" in msg(err), err
    alice.close()


def test_denied_operation_loses_nothing(broker_factory, users_file):
    """An ERROR for a denied SEND does not take earlier messages with it."""
    b = broker_factory(users_file=users_file)
    dest = "/queue/orders"
    alice, _ = login(b.port, "alice", "wonder")
    alice.send(dest, "a1")
    bob, _ = login(b.port, "bob", "builder")
    bob.send(dest, "b1")
    _error_of(bob, "SEND", [("destination", "/queue/elsewhere")])
    alice.subscribe(dest, "s1")
    assert [m.body for m in alice.read_messages(2)] == [b"a1", b"b1"]
    alice.close()


# ------------------------------------------------------------------ commands

def test_user_commands_end_to_end(tmp_path):
    path = str(tmp_path / "u.toml")
    # A new file starts as the built-in configuration: guest on "/".
    r = ferry_ok("user", "list", "--users-file", path)
    assert r.stdout.decode().splitlines()[0].startswith("guest"), r.stdout
    # Password from stdin (not a terminal).
    ferry_ok("user", "add", "dave", "--tags", "monitoring,ops", "--iterations", COST, "--users-file", path,
             input=b"from-stdin\n")
    r = run_ferry("user", "add", "dave", "--password", "x", "--users-file", path)
    assert r.returncode != 0 and b"already exists" in r.stderr
    ferry_ok("vhost", "add", "v1", "--users-file", path)
    r = run_ferry("vhost", "add", "v1", "--users-file", path)
    assert r.returncode != 0 and b"already exists" in r.stderr
    ferry_ok("user", "set-permissions", "dave", "--vhost", "v1", "--configure", "^$", "--write", "^/queue/d",
             "--read", ".*", "--users-file", path)
    r = run_ferry("user", "set-permissions", "dave", "--vhost", "v1", "--configure", "([", "--write", "",
                  "--read", "", "--users-file", path)
    assert r.returncode != 0 and b"invalid regular expression" in r.stderr, r.stderr
    r = run_ferry("user", "set-permissions", "dave", "--vhost", "nowhere", "--configure", "", "--write", "",
                  "--read", "", "--users-file", path)
    assert r.returncode != 0 and b"no vhost" in r.stderr
    out = ferry_ok("user", "list", "--users-file", path).stdout.decode()
    assert "dave [monitoring,ops]" in out and "vhost v1: configure '^$' write '^/queue/d' read '.*'" in out, out
    assert ferry_ok("vhost", "list", "--users-file", path).stdout.decode().split() == ["/", "v1"]
    text = open(path).read()
    assert "from-stdin" not in text and "pbkdf2-sha256$1000$" in text, text

    # The broker takes the file: dave logs in with the password from stdin.
    p = subprocess.Popen([ferry_bin(), "serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--users-file", path,
                          "--data-dir", str(tmp_path / "data"), "--shards", "1"],
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        port = None
        deadline = time.monotonic() + 15
        while port is None and time.monotonic() < deadline:
            line = p.stderr.readline().decode()
            if "listening on 127.0.0.1:" in line:
                port = int(line.rsplit(":", 1)[1].split()[0])
        assert port, "broker did not start"
        c, f = login(port, "dave", "from-stdin", host="v1")
        assert f.command == "CONNECTED", f
        c.close()
    finally:
        p.terminate()
        assert p.wait(15) == 0

    ferry_ok("vhost", "delete", "v1", "--users-file", path)
    out = ferry_ok("user", "list", "--users-file", path).stdout.decode()
    assert "v1" not in out, "deleting a vhost deletes its grants: %s" % out
    ferry_ok("user", "delete", "dave", "--users-file", path)
    assert "dave" not in ferry_ok("user", "list", "--users-file", path).stdout.decode()
    r = run_ferry("user", "delete", "dave", "--users-file", path)
    assert r.returncode != 0 and b"no user" in r.stderr


def test_users_file_comes_from_ferry_toml(tmp_path):
    (tmp_path / "ferry.toml").write_text('users-file = "mine.toml"\n')
    r = run_ferry("vhost", "add", "x", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "mine.toml").exists()
    r = run_ferry("vhost", "list", "--config", str(tmp_path / "nothing.toml"), cwd=tmp_path)
    assert r.returncode != 0 and b"--users-file" in r.stderr


def test_bad_users_file_stops_the_broker_with_a_clear_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[users.x]\npassword-hash = "plain-text"\n')
    r = run_ferry("serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--users-file", str(bad), "--data-dir",
                  str(tmp_path / "d"), timeout=15)
    assert r.returncode != 0
    assert b"users.x" in r.stderr and b"password-hash" in r.stderr, r.stderr
    r = run_ferry("serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--default-vhost", "nowhere", "--data-dir",
                  str(tmp_path / "d"), timeout=15)
    assert r.returncode != 0 and b"default-vhost" in r.stderr, r.stderr


def test_ferry_send_and_recv_log_in(broker_factory, users_file):
    b = broker_factory(users_file=users_file, login_failure_delay=0)
    dest = "/queue/" + unique()
    r = run_ferry("send", dest, "as alice", "-s", b.addr, "--host", "shop", "--login", "alice",
                  "--passcode", "wonder")
    assert r.returncode == 0, r.stderr
    r = run_ferry("recv", dest, "-n", "1", "-s", b.addr, "--host", "shop", "-u", "alice", "--passcode",
                  "wonder", "--timeout", "5")
    assert r.returncode == 0 and r.stdout.decode().splitlines() == ["as alice"], r
    r = run_ferry("send", dest, "x", "-s", b.addr, "--host", "shop", "--login", "alice", "--passcode", "nope")
    assert r.returncode != 0 and b"wrong login or passcode" in r.stderr, r.stderr
