"""More real clients against Ferry (issue 17): ruby-stomp and Perl Net::Stomp
(Debian), stompit over TCP and webstomp-client over WebSocket (npm,
tests/js), each scripted (clients/stomp_client.rb, clients/stomp_client.pl,
tests/js/stompit_client.mjs, tests/js/webstomp_client.mjs: one JSON config
in, one JSON line per event out); and syslog-ng's STOMP destination as a
log pipeline into a queue that stomp.py consumes, also across a broker
restart.

Each client: a queue round trip with receipts and client acks (nothing left
after, everything back when not acked), messages to and from stomp.py / raw
frames with bodies and headers checked exactly, and a topic round trip."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from support import HERE, LOG_DIR, WAIT, client, py_connect, py_rid, unique
from transport_support import JS_DIR, ensure_js, read_json_lines

CLIENTS_DIR = HERE / "clients"

# How each client is run, and what it speaks: Net::Stomp is a STOMP 1.0
# client (its ack() sends only message-id), so it acks with `client`; the
# others negotiate 1.2 and ack one message at a time.
CLIENTS = {
    "ruby": dict(cmd=["ruby", str(CLIENTS_DIR / "stomp_client.rb")], ack="client-individual", version="1.2"),
    # ruby-stomp at 1.1: acks by message-id + subscription
    "ruby-1.1": dict(cmd=["ruby", str(CLIENTS_DIR / "stomp_client.rb")], ack="client-individual", version="1.1",
                     accept_version="1.1"),
    "perl": dict(cmd=["perl", str(CLIENTS_DIR / "stomp_client.pl")], ack="client", version="1.0"),
    "stompit": dict(cmd=["node", str(JS_DIR / "stompit_client.mjs")], ack="client-individual", version="1.2",
                    node=True),
    "webstomp": dict(cmd=["node", str(JS_DIR / "webstomp_client.mjs")], ack="client-individual", version="1.2",
                     node=True, ws=True),
}

# Bodies with a NUL-free mix of ASCII, a colon, a newline and UTF-8.
BODIES = ["hello: first", "wörld ✓\nsecond line"]


def escaping_headers(kind: str) -> dict:
    """A header whose value needs STOMP 1.1/1.2 escaping (':' and '\\'),
    except for webstomp-client, which neither escapes header values it sends
    nor unescapes those it receives (a client defect: its users see
    message-id `ID\\cferry-...`; acks still work, 1.2 acks by `ack`)."""
    return {} if kind == "webstomp" else {"x-escaped": "key: C:\\dir"}


def _require(tool: str):
    # fail, not skip: these clients are part of the suite (scripts/deps.sh)
    if shutil.which(tool) is None:
        pytest.fail("%s not installed: run scripts/deps.sh" % tool)


class ScriptClient:
    """One of the scripted clients in a subprocess; events() are its JSON lines."""

    def __init__(self, kind: str, broker, timeout: float = 10.0, **cfg):
        spec = CLIENTS[kind]
        _require(spec["cmd"][0])
        if spec.get("node"):
            ensure_js()
        if spec.get("accept_version"):
            cfg["version"] = spec["accept_version"]
        if spec.get("ws"):
            cfg["url"] = "ws://127.0.0.1:%d/ws" % broker.ws_port
        else:
            cfg["port"] = broker.port
        # each script bounds its own run; the test bounds the process too
        if spec.get("node"):
            cfg["timeout_ms"] = int(timeout * 1000)
        else:
            cfg["timeout"] = timeout
        self.kind = kind
        self.timeout = timeout
        self.proc = subprocess.Popen(spec["cmd"] + [json.dumps(cfg)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=str(JS_DIR if spec.get("node") else CLIENTS_DIR))
        self.lines: list[dict] = []
        self._err = b""
        self._cv = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._err_reader = threading.Thread(target=self._read_err, daemon=True)
        self._err_reader.start()

    def _read(self):
        read_json_lines(self.proc.stdout, self.lines, self._cv)

    def _read_err(self):
        self._err = self.proc.stderr.read()

    def __repr__(self):
        return "%s client: events %r, stderr %r" % (self.kind, self.lines, self._err[-2000:])

    def wait_event(self, name: str, timeout: float = WAIT * 2) -> dict:
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for ev in self.lines:
                    if ev.get("event") == name:
                        return ev
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    break
                self._cv.wait(min(left, 0.2))
        self.kill()
        raise AssertionError("no %r event; %r" % (name, self))

    def events(self, name: str) -> list[dict]:
        with self._cv:
            return [e for e in self.lines if e.get("event") == name]

    def finish(self) -> "ScriptClient":
        """Waits for the run to end; it must have ended with `done` and exit 0."""
        try:
            rc = self.proc.wait(self.timeout + 5)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = "killed"
        self._reader.join(5)
        self._err_reader.join(5)
        assert rc == 0 and self.events("done"), "exit %s; %r" % (rc, self)
        return self

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def messages(self) -> list[dict]:
        return self.events("message")


@pytest.fixture(params=list(CLIENTS))
def kind(request):
    return request.param


@pytest.fixture
def running(request):
    """Kills every ScriptClient a test leaves running."""
    started: list[ScriptClient] = []
    yield started
    for c in started:
        c.kill()


def _start(running, kind, broker, **cfg) -> ScriptClient:
    c = ScriptClient(kind, broker, **cfg)
    running.append(c)
    return c


def _broker(broker_factory, kind):
    return broker_factory(ws_listen="127.0.0.1:0") if CLIENTS[kind].get("ws") else broker_factory()


def _check_message(m: dict, dest: str, body: str, headers: dict, sub_id: str | None):
    assert m["body"] == body, m
    h = m["headers"]
    assert h["destination"] == dest, m
    for k, v in headers.items():
        assert h.get(k) == v, (k, m)
    assert h.get("message-id"), m
    if sub_id is not None:
        assert h.get("subscription") == sub_id, m
    assert "receipt" not in h and "transaction" not in h, m


def _queue_left(port: int, dest: str, expect_n: int) -> list:
    """What a fresh raw subscriber gets from dest: expect_n messages, then nothing."""
    c = client(port)
    try:
        c.subscribe(dest, "left", ack="auto")
        got = c.read_messages(expect_n) if expect_n else []
        c.assert_no_frame(what="message left on %s" % dest)
        return got
    finally:
        c.close()


# --------------------------------------------------------------------------
# The clients
# --------------------------------------------------------------------------

def test_queue_round_trip_with_receipts_and_client_acks(broker_factory, running, kind):
    """The client subscribes with client acks, sends with receipts, gets its
    own messages back in order and acks them: nothing left on the queue."""
    b = _broker(broker_factory, kind)
    spec = CLIENTS[kind]
    dest = "/queue/" + unique(kind)
    hdrs = {"x-client": kind, "x-note": "two words", **escaping_headers(kind)}
    c = _start(running, kind, b, subscribe={"destination": dest, "ack": spec["ack"]},
               send=[{"destination": dest, "body": body, "headers": hdrs} for body in BODIES],
               expect=len(BODIES), ack=True).finish()
    connected = c.events("connected")[0]
    assert connected["headers"]["version"] == spec["version"], c
    assert len(c.events("receipt")) == len(BODIES), c
    msgs = c.messages()
    sub_id = None if spec["version"] == "1.0" else "sub-1"
    for m, body in zip(msgs, BODIES):
        _check_message(m, dest, body, hdrs, sub_id)
    assert [m["body"] for m in msgs] == BODIES, c
    _queue_left(b.port, dest, 0)


def test_unacked_messages_go_back_to_the_queue(broker_factory, running, kind):
    """Received with client acks but not acked before DISCONNECT: the next
    consumer gets them, marked redelivered."""
    b = _broker(broker_factory, kind)
    dest = "/queue/" + unique(kind)
    c = _start(running, kind, b, subscribe={"destination": dest, "ack": CLIENTS[kind]["ack"]},
               send=[{"destination": dest, "body": body} for body in BODIES],
               expect=len(BODIES), ack=False).finish()
    assert [m["body"] for m in c.messages()] == BODIES, c
    left = _queue_left(b.port, dest, len(BODIES))
    assert [f.text for f in left] == BODIES
    assert all(f.get("redelivered") == "true" for f in left), left


def test_client_sends_stomp_py_receives(broker_factory, running, kind):
    b = _broker(broker_factory, kind)
    dest = "/queue/" + unique(kind)
    hdrs = {"x-client": kind, "content-type": "text/plain", "x-dash": "-", **escaping_headers(kind)}
    c = _start(running, kind, b,
               send=[{"destination": dest, "body": body, "headers": hdrs} for body in BODIES]).finish()
    assert len(c.events("receipt")) == len(BODIES), c
    conn, lst = py_connect(b.port)
    try:
        rid = py_rid()
        conn.subscribe(dest, id="py", ack="client-individual", headers={"receipt": rid})
        lst.wait_receipt(rid)
        got = [lst.get() for _ in BODIES]
        for m, body in zip(got, BODIES):
            assert m.body == body
            assert m.headers["destination"] == dest
            assert m.headers["subscription"] == "py"
            for k, v in hdrs.items():
                assert m.headers[k] == v, (k, m.headers)
            assert "receipt" not in m.headers
        for m in got:
            rid = py_rid()
            conn.ack(m.headers["ack"], receipt=rid)
            lst.wait_receipt(rid)
    finally:
        conn.disconnect()
    _queue_left(b.port, dest, 0)


def test_raw_frames_send_client_receives(broker_factory, running, kind):
    """Raw SENDs (every header byte ours) to a queue; the client consumes
    with acks and sees bodies and headers as sent."""
    b = _broker(broker_factory, kind)
    dest = "/queue/" + unique(kind)
    hdrs = {"x-from": "raw", "content-type": "text/plain;charset=utf-8", "x-number": "4"}
    wire = dict(hdrs)
    if escaping_headers(kind):
        # sent escaped at 1.2; the client gets it unescaped (or raw at 1.0)
        wire["x-escaped"] = "key\\c C\\c\\\\dir"
        hdrs.update(escaping_headers(kind))
    raw = client(b.port)
    try:
        for body in BODIES:
            raw.send(dest, body, wire)
    finally:
        raw.close()
    c = _start(running, kind, b, subscribe={"destination": dest, "ack": CLIENTS[kind]["ack"]},
               expect=len(BODIES), ack=True).finish()
    msgs = c.messages()
    sub_id = None if CLIENTS[kind]["version"] == "1.0" else "sub-1"
    for m, body in zip(msgs, BODIES):
        _check_message(m, dest, body, hdrs, sub_id)
    assert [m["body"] for m in msgs] == BODIES, c
    _queue_left(b.port, dest, 0)


def test_stomp_py_sends_client_receives_on_a_topic(broker_factory, running, kind):
    """Topic round trip: the client subscribes and publishes to the topic
    itself (gets its own message), stomp.py publishes once the client's
    subscription is receipted and also subscribes: both get both."""
    b = _broker(broker_factory, kind)
    dest = "/topic/" + unique(kind)
    conn, lst = py_connect(b.port)
    try:
        rid = py_rid()
        conn.subscribe(dest, id="py", ack="auto", headers={"receipt": rid})
        lst.wait_receipt(rid)
        c = _start(running, kind, b, subscribe={"destination": dest, "ack": "auto"},
                   send=[{"destination": dest, "body": "from " + kind, "headers": {"x-client": kind}}],
                   expect=2)
        c.wait_event("subscribed")
        rid = py_rid()
        conn.send(dest, "from stomp.py ✓", headers={"x-client": "stomp.py"}, receipt=rid)
        lst.wait_receipt(rid)
        c.finish()
        got = sorted([lst.get(), lst.get()], key=lambda m: m.body)
        lst.none()
    finally:
        conn.disconnect()
    both = sorted([("from " + kind, kind), ("from stomp.py ✓", "stomp.py")])
    assert [(m.body, m.headers["x-client"]) for m in got] == both
    msgs = sorted(c.messages(), key=lambda m: m["body"])
    assert [(m["body"], m["headers"]["x-client"]) for m in msgs] == both, c
    for m in msgs:
        assert m["headers"]["destination"] == dest, m


# --------------------------------------------------------------------------
# syslog-ng's STOMP destination: the log pipeline
# --------------------------------------------------------------------------

SYSLOG_NG = "/usr/sbin/syslog-ng"


class SyslogNg:
    """syslog-ng in the foreground with its own config, persist file, pid
    file and control socket in a temp dir: a unix-stream source (no-parse:
    each line is $MSG) into a stomp() destination on the broker."""

    def __init__(self, port: int, dest: str, log_path: Path):
        if not os.path.exists(SYSLOG_NG):
            pytest.fail("syslog-ng not installed: run scripts/deps.sh (syslog-ng-core, syslog-ng-mod-stomp)")
        self.dir = Path(tempfile.mkdtemp(prefix="ferry-sng-"))
        self.sock = self.dir / "in.sock"
        conf = self.dir / "syslog-ng.conf"
        conf.write_text("""@version: 3.38
options { stats-freq(0); time-reopen(1); };
source s_in { unix-stream("%s" flags(no-parse)); };
destination d_ferry {
  stomp(host("127.0.0.1") port(%d) destination("%s") body("$MSG")
        ack(yes) persistent(yes)
        value-pairs(scope(none) pair("x-pipeline" "syslog-ng")));
};
log { source(s_in); destination(d_ferry); };
""" % (self.sock, port, dest))
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [SYSLOG_NG, "-F", "-e", "--no-caps", "-f", str(conf), "-R", str(self.dir / "persist"),
             "-p", str(self.dir / "pid"), "-c", str(self.dir / "ctl")],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + WAIT * 2
        while not self.sock.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("syslog-ng did not open %s: %s" % (self.sock, self.output()))
            time.sleep(0.05)

    def feed(self, lines: list[str]):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(WAIT)
        try:
            s.connect(str(self.sock))
            s.sendall("".join(line + "\n" for line in lines).encode())
        finally:
            s.close()

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text("utf-8", "replace")[-3000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def syslog_ng(request):
    started: list[SyslogNg] = []

    def start(port: int, dest: str) -> SyslogNg:
        log = LOG_DIR / ("syslog-ng__%s.%d.log" % (request.node.name, os.getpid()))
        s = SyslogNg(port, dest, log)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def test_syslog_ng_log_pipeline(broker_factory, syslog_ng):
    """Log lines written to syslog-ng arrive, in order and whole, as
    messages on a queue (with the destination's value-pairs as headers);
    stomp.py consumes them with client acks."""
    b = broker_factory()
    dest = "/queue/" + unique("logs")
    sng = syslog_ng(b.port, dest)
    lines = ["line %02d: app=ferry level=info msg=\"ok ✓\"" % i for i in range(20)]
    sng.feed(lines)  # one connection: syslog-ng keeps its order
    conn, lst = py_connect(b.port)
    try:
        rid = py_rid()
        conn.subscribe(dest, id="logs", ack="client-individual", headers={"receipt": rid})
        lst.wait_receipt(rid)
        try:
            got = [lst.get(WAIT * 2) for _ in lines]
        except AssertionError as e:
            raise AssertionError("%s; syslog-ng output:\n%s" % (e, sng.output()))
        assert [m.body for m in got] == lines
        for m in got:
            assert m.headers["destination"] == dest
            assert m.headers["x-pipeline"] == "syslog-ng", m.headers
            rid = py_rid()
            conn.ack(m.headers["ack"], receipt=rid)
            lst.wait_receipt(rid)
        lst.none()
    finally:
        conn.disconnect()
    _queue_left(b.port, dest, 0)


def test_syslog_ng_keeps_lines_across_a_broker_restart(broker_factory, syslog_ng):
    """The pipeline outlives a broker restart: lines written while the broker
    is down wait in syslog-ng, which reconnects (time-reopen) to the broker
    restarted on the same port and data, and arrive once each, in order."""
    b = broker_factory()
    dest = "/queue/" + unique("logs")
    sng = syslog_ng(b.port, dest)

    def consume(port, expected):
        conn, lst = py_connect(port)
        try:
            rid = py_rid()
            conn.subscribe(dest, id="logs", ack="client-individual", headers={"receipt": rid})
            lst.wait_receipt(rid)
            try:
                got = [lst.get(WAIT * 3) for _ in expected]
            except AssertionError as e:
                raise AssertionError("%s; syslog-ng output:\n%s" % (e, sng.output()))
            for m in got:
                rid = py_rid()
                conn.ack(m.headers["ack"], receipt=rid)
                lst.wait_receipt(rid)
            lst.none()
        finally:
            conn.disconnect()
        assert [m.body for m in got] == expected

    before = ["before restart %d" % i for i in range(5)]
    sng.feed(before)
    consume(b.port, before)  # syslog-ng is connected and has been receipted
    assert b.stop() == 0, b.tail()
    b.killed = True  # stopped on purpose
    during = ["while the broker was down %d" % i for i in range(5)]
    sng.feed(during)
    # the same port (syslog-ng's config names it) and journal; the new
    # broker owns the data directory so it is removed after both stopped
    b2 = broker_factory(data_dir=b.data_dir, listen="127.0.0.1:%d" % b.port)
    b.own_data_dir, b2.own_data_dir = False, True
    consume(b2.port, during)
    _queue_left(b2.port, dest, 0)
