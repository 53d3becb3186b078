"""Helpers shared by the MQTT integration tests (test_mqtt_*.py): the
listeners' ports, a Paho wrapper, mosquitto_sub and mosquitto_pub runners,
and raw MQTT packets over a socket. The `mq` fixture is in conftest.py
(a file can override it, as test_mqtt_transports.py does). Importing this
skips the importing test file when Debian's python3-paho-mqtt is missing."""
from __future__ import annotations

import json
import queue
import re
import socket
import ssl
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from support import WAIT, unique

mqtt = pytest.importorskip("paho.mqtt.client")  # Debian python3-paho-mqtt

import select  # noqa: E402


class _PollSelect:
    """paho-mqtt's network loop watches its sockets with select.select(),
    which refuses a file descriptor >= 1024 (FD_SETSIZE): in a test process
    that has that many open (an xdist worker late in the whole suite) every
    new client's loop failed at once and no CONNACK ever arrived. The same
    call over poll(), which has no such limit, returning the objects it was
    given as select() does."""

    error = OSError

    @staticmethod
    def select(rlist, wlist, xlist, timeout=None):
        poller = select.poll()
        wanted: dict[int, int] = {}
        for objs, flag in ((rlist, select.POLLIN), (wlist, select.POLLOUT)):
            for o in objs:
                fd = o if isinstance(o, int) else o.fileno()
                if fd < 0:
                    raise ValueError("file descriptor cannot be a negative integer")
                wanted[fd] = wanted.get(fd, 0) | flag
        for fd, flags in wanted.items():
            poller.register(fd, flags)
        ready = dict(poller.poll(None if timeout is None else max(0.0, timeout) * 1000.0))

        def of(objs, flag):
            out = []
            for o in objs:
                ev = ready.get(o if isinstance(o, int) else o.fileno(), 0)
                if ev & (flag | select.POLLERR | select.POLLHUP | select.POLLNVAL):
                    out.append(o)
            return out

        return of(rlist, select.POLLIN), of(wlist, select.POLLOUT), []


mqtt.select = _PollSelect

from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402
from paho.mqtt.subscribeoptions import SubscribeOptions  # noqa: E402

VERSIONS = [pytest.param(mqtt.MQTTv311, id="v311"), pytest.param(mqtt.MQTTv5, id="v5")]
MOSQUITTO = ["mqttv311", "mqttv5"]

_MQTT_LINE = re.compile(r"listening on \S+:(\d+) \(MQTT\)")
_MQTT_ANY_LINE = re.compile(r"listening on \S+:(\d+) \((MQTT[^)]*)\)")


def mqtt_port(b) -> int:
    """The MQTT listener's port, from the broker's log (logged before STOMP's)."""
    for line in list(b.lines):
        m = _MQTT_LINE.search(line)
        if m:
            return int(m.group(1))
    raise AssertionError("no 'listening on ... (MQTT)' line in the log:\n" + b.tail(20))


def mqtt_ports(b) -> dict[str, int]:
    """The MQTT listeners' ports by kind ("MQTT", "MQTT/TLS", ...), from the log."""
    out = {}
    for line in list(b.lines):
        m = _MQTT_ANY_LINE.search(line)
        if m:
            out[m.group(2)] = int(m.group(1))
    return out


# ------------------------------------------------------------------ Paho

class Paho:
    """A connected Paho client whose messages land in a queue.

    clean=False asks for a persistent session (3.1.1 clean_session=False;
    MQTT 5 clean_start=False with Session Expiry Interval `session_expiry`).
    transport/tls/path: "websockets", an SSLContext, the WebSocket path.
    expect_rc: if set, CONNACK's code must be that (the rest keep it in .rc)."""

    def __init__(self, port: int, version: int = mqtt.MQTTv311, username: str | None = "guest",
                 password: str | None = "guest", client_id: str = "", keepalive: int = 60, will=None, *,
                 clean: bool | None = None, session_expiry: int = 300, transport: str = "tcp",
                 tls: ssl.SSLContext | None = None, path: str = "/mqtt", expect_rc: int | None = None):
        self.version = version
        kw = {"clean_session": clean} if clean is not None and version != mqtt.MQTTv5 else {}
        self.client_id = client_id or unique("paho")
        self.client = mqtt.Client(client_id=self.client_id, protocol=version, transport=transport,
                                  reconnect_on_failure=False, **kw)
        if username is not None:
            self.client.username_pw_set(username, password)
        if will:
            self.client.will_set(*will)
        if transport == "websockets":
            self.client.ws_set_options(path=path)
        if tls is not None:
            self.client.tls_set_context(tls)
        self.messages: queue.Queue = queue.Queue()
        self.connack = queue.Queue()
        self.subacks: dict[int, list] = {}
        self.sub_event = threading.Condition()
        self.client.on_message = lambda c, u, m: self.messages.put(m)
        # DISCONNECT reason codes (MQTT 5) or rc values (3.1.1) of closes.
        self.gone: queue.Queue = queue.Queue()
        if version == mqtt.MQTTv5:
            self.client.on_disconnect = lambda c, u, rc, p=None: self.gone.put(rc.value if hasattr(rc, "value") else rc)
        else:
            self.client.on_disconnect = lambda c, u, rc: self.gone.put(rc)
        if version == mqtt.MQTTv5:
            self.client.on_connect = lambda c, u, f, rc, p=None: self.connack.put(rc.value if hasattr(rc, "value") else rc)
            self.client.on_subscribe = lambda c, u, mid, codes, p=None: self._subacked(mid, [x.value for x in codes])
        else:
            self.client.on_connect = lambda c, u, f, rc: self.connack.put(rc)
            self.client.on_subscribe = lambda c, u, mid, granted: self._subacked(mid, list(granted))
        if version == mqtt.MQTTv5 and clean is not None:
            props = Properties(PacketTypes.CONNECT)
            if not clean:
                props.SessionExpiryInterval = session_expiry
            self.client.connect("127.0.0.1", port, keepalive, clean_start=clean, properties=props)
        else:
            self.client.connect("127.0.0.1", port, keepalive)
        self.client.loop_start()
        self.rc = self.connack.get(timeout=WAIT)
        if expect_rc is not None:
            assert self.rc == expect_rc, "CONNACK %s" % self.rc

    def _subacked(self, mid, codes):
        with self.sub_event:
            self.subacks[mid] = codes
            self.sub_event.notify_all()

    def subscribe(self, topic: str, qos: int = 0, **options) -> list:
        """Waits for the SUBACK and returns its codes; options: MQTT 5
        subscription options (no_local, retainAsPublished, retainHandling)."""
        if options:
            rc, mid = self.client.subscribe(topic, options=SubscribeOptions(qos=qos, **options))
        else:
            rc, mid = self.client.subscribe(topic, qos)
        assert rc == mqtt.MQTT_ERR_SUCCESS
        with self.sub_event:
            assert self.sub_event.wait_for(lambda: mid in self.subacks, WAIT), "no SUBACK"
            return self.subacks[mid]

    def publish(self, topic: str, payload, qos: int = 0, properties=None):
        info = self.client.publish(topic, payload, qos, properties=properties)
        info.wait_for_publish(WAIT)
        assert info.is_published(), "PUBLISH QoS %d not acknowledged" % qos

    def get(self, timeout: float = WAIT):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("paho: no message within %.1fs" % timeout)

    def none(self, timeout: float = 0.5):
        try:
            m = self.messages.get(timeout=timeout)
        except queue.Empty:
            return
        raise AssertionError("paho: unexpected message %s %r retain=%s" % (m.topic, m.payload, m.retain))

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


class PahoSession(Paho):
    """A Paho client with a persistent session: 3.1.1 clean_session=False,
    MQTT 5 clean_start=False and a Session Expiry Interval (sent even with
    clean=True). Keeps CONNACK's session present flag; subscribe() wants the
    SUBACK to grant the QoS asked for. Its own __init__ (CONNACK's flags
    differ); get/none/close: Paho's."""

    def __init__(self, port: int, version: int, client_id: str, expiry: int = 300, clean: bool = False):
        self.client = mqtt.Client(client_id=client_id, protocol=version, reconnect_on_failure=False,
                                  **({} if version == mqtt.MQTTv5 else {"clean_session": clean}))
        self.client.username_pw_set("guest", "guest")
        self.messages: queue.Queue = queue.Queue()
        self.connack: queue.Queue = queue.Queue()
        self.subacked: queue.Queue = queue.Queue()
        self.client.on_message = lambda c, u, m: self.messages.put(m)
        if version == mqtt.MQTTv5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = expiry
            self.client.on_connect = lambda c, u, f, rc, p=None: self.connack.put((rc.value, f["session present"]))
            self.client.on_subscribe = lambda c, u, mid, codes, p=None: self.subacked.put([x.value for x in codes])
            self.client.connect("127.0.0.1", port, 60, clean_start=clean, properties=props)
        else:
            self.client.on_connect = lambda c, u, f, rc: self.connack.put((rc, f["session present"]))
            self.client.on_subscribe = lambda c, u, mid, granted: self.subacked.put(list(granted))
            self.client.connect("127.0.0.1", port, 60)
        self.client.loop_start()
        rc, present = self.connack.get(timeout=WAIT)
        assert rc == 0, "CONNACK %s" % rc
        self.session_present = bool(present)

    def subscribe(self, topic: str, qos: int = 1):
        self.client.subscribe(topic, qos)
        assert self.subacked.get(timeout=WAIT) == [qos]


# ------------------------------------------------------------------ management API

def api(b, path: str):
    """GET on the management API: the JSON, or None for 404."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (b.http_port, path))
    req.add_header("Authorization", "Basic Z3Vlc3Q6Z3Vlc3Q=")  # guest:guest
    try:
        with urllib.request.urlopen(req, timeout=WAIT) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def session_queue(b, client_id: str):
    return api(b, "/api/queues/%%2F/%s" % urllib.parse.quote("mqtt-subscription-%sqos1" % client_id, safe=""))


# ------------------------------------------------------------------ mosquitto

def start_mosquitto_sub(port: int, version: str, *topics: str, count: int, qos: int = 1,
                        cafile: str | None = None) -> subprocess.Popen:
    """mosquitto_sub -d: its debug lines tell when the SUBACK came. cafile:
    over TLS, trusting that CA."""
    # stdbuf: its debug lines (to a pipe) unbuffered, read as they come.
    args = ["stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", str(port)]
    if cafile is not None:
        args += ["--cafile", str(cafile)]
    args += ["-V", version, "-d", "-v", "-q", str(qos), "-C", str(count), "-W", "20", "-u", "guest", "-P", "guest"]
    for t in topics:
        args += ["-t", t]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        lines.append(line)
        if "received SUBACK" in line:
            return p
        if not line:
            break
    p.kill()
    raise AssertionError("mosquitto_sub did not subscribe: %s" % "".join(lines))


def mosquitto_pub(port: int, version: str, topic: str, message: str | None, qos: int = 1, *extra: str,
                  cafile: str | None = None):
    """message None: an empty message (-n); extra: more options (-r ...)."""
    args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port)]
    if cafile is not None:
        args += ["--cafile", str(cafile)]
    args += ["-V", version, "-q", str(qos), "-t", topic]
    args += ["-n"] if message is None else ["-m", message]
    r = subprocess.run(args + ["-u", "guest", "-P", "guest", *extra], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, "mosquitto_pub failed: %s %s" % (r.stdout, r.stderr)


def received(p: subprocess.Popen) -> list[str]:
    out, _ = p.communicate(timeout=30)
    return [l for l in out.splitlines() if l and not l.startswith(("Client ", "Subscribed "))]


# ------------------------------------------------------------------ raw packets

def vbi(n: int) -> bytes:
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def read_vbi(b: bytes, i: int) -> tuple[int, int]:
    """The variable byte integer at b[i]: (its value, the index after it)."""
    n, mult = 0, 1
    while True:
        n += (b[i] & 0x7F) * mult
        mult *= 128
        i += 1
        if b[i - 1] & 0x80 == 0:
            return n, i


def s(x: bytes | str) -> bytes:
    x = x.encode() if isinstance(x, str) else x
    return struct.pack(">H", len(x)) + x


def packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + vbi(len(body)) + body


def props(body: bytes = b"") -> bytes:
    """MQTT 5 properties with their length."""
    return vbi(len(body)) + body


def expiry_property(expiry: int | None) -> bytes:
    """A Session Expiry Interval property, or none."""
    return b"" if expiry is None else b"\x11" + struct.pack(">I", expiry)


def connect_packet(level: int = 4, keep_alive: int = 60, client_id: str | None = None, will: tuple | None = None,
                   user: str | None = "guest", password: str | None = "guest", properties: bytes = b"", *,
                   clean: bool = True, will_properties: bytes = b"") -> bytes:
    """properties: MQTT 5 CONNECT properties (without their length); will:
    (topic, payload[, qos]) with MQTT 5 will_properties."""
    flags = 0x02 if clean else 0
    payload = s(client_id if client_id is not None else unique("raw"))  # one client id per connection
    if level == 5:
        props = vbi(len(properties)) + properties
    if will:
        flags |= 0x04 | ((will[2] if len(will) > 2 else 0) << 3)
        payload += (vbi(len(will_properties)) + will_properties if level == 5 else b"") + s(will[0]) + s(will[1])
    if user is not None:
        flags |= 0x80
        payload += s(user)
    if password is not None:
        flags |= 0x40
        payload += s(password)
    head = s("MQTT") + bytes([level, flags]) + struct.pack(">H", keep_alive) + (props if level == 5 else b"")
    return packet(0x10, head + payload)


def session_connect_packet(client_id: str, level: int = 4, clean: bool = True, expiry: int | None = None) -> bytes:
    """CONNECT for a session: clean start or not, MQTT 5 Session Expiry Interval."""
    return connect_packet(level, client_id=client_id, clean=clean, properties=expiry_property(expiry))


class Raw:
    def __init__(self, port: int, level: int = 4):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.buf = b""
        self.level = level  # the protocol level, for helpers that build packets
        self.connack = b""  # CONNACK's body, once raw_connect saw it

    def send(self, data: bytes):
        self.sock.sendall(data)

    def read_packet(self, timeout: float = WAIT) -> tuple[int, bytes] | None:
        """(first byte, body), or None when the server closed the connection."""
        self.sock.settimeout(timeout)
        while True:
            if len(self.buf) >= 2:
                n, mult, i = 0, 1, 1
                while i < len(self.buf) and i <= 4:
                    n += (self.buf[i] & 0x7F) * mult
                    mult *= 128
                    if self.buf[i] & 0x80 == 0:
                        break
                    i += 1
                else:
                    i = None
                if i is not None and i < len(self.buf) and len(self.buf) >= i + 1 + n:
                    first, body = self.buf[0], self.buf[i + 1:i + 1 + n]
                    self.buf = self.buf[i + 1 + n:]
                    return first, body
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk

    def closed(self, timeout: float = WAIT) -> bool:
        """True if the server closes the connection (after any packets)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.read_packet(deadline - time.monotonic()) is None:
                    return True
            except (socket.timeout, TimeoutError):
                return False
            except ConnectionResetError:
                return True
        return False

    def close(self):
        self.sock.close()


def raw_connect(port: int, level: int = 4, **kw) -> Raw:
    """A raw connection whose CONNECT (connect_packet(level, **kw)) was accepted."""
    r = Raw(port, level)
    r.send(connect_packet(level, **kw))
    first, body = r.read_packet()
    assert first == 0x20 and body[1] == 0, "CONNACK refused: %r" % body
    r.connack = body
    return r


def raw_session(port: int, client_id: str, level: int = 4, clean: bool = False,
                expiry: int | None = None) -> tuple[Raw, bool, dict]:
    """Connects; returns the connection, CONNACK's session present flag, and
    (MQTT 5) CONNACK's properties as {id: raw bytes}."""
    r = Raw(port, level)
    r.send(session_connect_packet(client_id, level, clean, expiry))
    first, body = r.read_packet()
    assert first == 0x20 and body[1] == 0, "CONNACK refused: %r" % body
    r.connack = body
    found = {}
    if level == 5:
        n, i = read_vbi(body, 2)
        p = body[i:i + n]
        j = 0
        sizes = {0x11: 4, 0x21: 2, 0x22: 2, 0x24: 1, 0x25: 1, 0x27: 4, 0x28: 1, 0x29: 1, 0x2A: 1, 0x13: 2}
        while j < len(p):
            pid = p[j]
            j += 1
            if pid in sizes:
                found[pid] = p[j:j + sizes[pid]]
                j += sizes[pid]
            else:  # a string
                ln = struct.unpack(">H", p[j:j + 2])[0]
                found[pid] = p[j + 2:j + 2 + ln]
                j += 2 + ln
    return r, bool(body[0] & 1), found


def raw_subscribe(r: Raw, level: int, flt: str, qos: int = 1, packet_id: int = 1):
    body = struct.pack(">H", packet_id) + (b"\x00" if level == 5 else b"") + s(flt) + bytes([qos])
    r.send(packet(0x82, body))
    first, ack = r.read_packet()
    assert first == 0x90, "not a SUBACK: %x" % first
    assert ack[-1] == min(qos, 1), "SUBACK %r" % ack


def raw_publish(r: Raw) -> tuple[int, str, int, bytes]:
    """The next PUBLISH: (first byte, topic, packet id, payload)."""
    first, body = r.read_packet()
    assert first & 0xF0 == 0x30, "not a PUBLISH: %x %r" % (first, body)
    tl = struct.unpack(">H", body[:2])[0]
    topic = body[2:2 + tl].decode()
    i = 2 + tl
    pid = 0
    if first & 0x06:
        pid = struct.unpack(">H", body[i:i + 2])[0]
        i += 2
    if r.level == 5:
        n, i = read_vbi(body, i)
        i += n
    return first, topic, pid, body[i:]


def puback(r: Raw, pid: int):
    r.send(packet(0x40, struct.pack(">H", pid)))


def disconnect(r: Raw):
    r.send(b"\xe0\x00")
    assert r.closed(), "no close after DISCONNECT"
    r.close()


def disconnect_reason(r: Raw) -> int:
    """MQTT 5: the DISCONNECT's reason code; the connection then closes."""
    got = r.read_packet()
    assert got is not None and got[0] == 0xE0, "expected DISCONNECT, got %r" % (got,)
    assert r.read_packet() is None, "connection not closed after DISCONNECT"
    return got[1][0]


def expect(r: Raw, first: int, pid: int) -> bytes:
    """The next packet: of type `first` for packet id `pid`; its body."""
    got = r.read_packet()
    assert got is not None, "closed"
    assert got[0] == first and struct.unpack(">H", got[1][:2])[0] == pid, "got %x %r" % got
    return got[1]
