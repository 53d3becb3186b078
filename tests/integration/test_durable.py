"""Durable topic subscriptions in each dialect: ActiveMQ (client-id +
activemq.subscriptionName), RabbitMQ (durable:true + auto-delete:false + id),
Artemis (client-id + durable-subscription-name). A subscription that is away
keeps collecting, across restarts (SIGTERM and kill -9); UNSUBSCRIBE with the
dialect's header deletes it; malformed requests get an ERROR; a subscription
in use refuses a second subscriber, except where sharing is asked for
(RabbitMQ's dialect, shared:true), and then only by its owner; another user
can neither attach to nor delete it, across restarts; a client-id is
connected once at a time. With raw frames, stomp.py and php-stomp."""
from __future__ import annotations

import json

import pytest

from support import PyListener, QUIET, RawClient, StompError, client, py_rid, restart, run_ferry, run_php, unique
from test_persistence import LONG, data_dir, work, work_root  # noqa: F401 (fixtures)

DIALECTS = ["activemq", "rabbitmq", "artemis"]


class Dialect:
    """How one dialect names a durable subscription."""

    def __init__(self, kind: str, client_id: str, name: str):
        self.kind = kind
        self.client_id = client_id
        self.name = name

    def connect_headers(self) -> dict:
        return {} if self.kind == "rabbitmq" else {"client-id": self.client_id}

    def sub_id(self) -> str:
        # RabbitMQ names the subscription by its id; the others by the header
        return self.name if self.kind == "rabbitmq" else "sub-" + unique("i")

    def sub_headers(self) -> dict:
        if self.kind == "activemq":
            return {"activemq.subscriptionName": self.name}
        if self.kind == "artemis":
            return {"durable-subscription-name": self.name}
        return {"durable": "true", "auto-delete": "false"}

    def unsub_headers(self) -> dict:
        if self.kind == "activemq":
            return {"activemq.subscriptionName": self.name}
        if self.kind == "artemis":
            return {"durable-subscription-name": self.name}
        return {"durable": "true"}


def dialect(kind: str) -> Dialect:
    return Dialect(kind, unique("cid"), unique("dur"))


def connect(port, d: Dialect, version="1.2"):
    return client(port, version, extra=d.connect_headers())


def subscribe(c, topic, d: Dialect, ack="client-individual") -> str:
    sid = d.sub_id()
    c.subscribe(topic, sid, ack=ack, headers=d.sub_headers())
    return sid


def publish(port, topic, bodies, headers=None):
    p = client(port)
    try:
        for body in bodies:
            p.send(topic, body, headers)  # with a RECEIPT: durable once it returns
    finally:
        p.close()


def barrier(port):
    """A receipted persistent SEND (to a queue of its own): the journal is
    written in order, so every record appended before it (acks, a deleted
    subscription) is on disk once its RECEIPT arrives."""
    publish(port, "/queue/" + unique("barrier"), ["barrier"])


def read_all(c, n, timeout=LONG):
    got = c.read_messages(n, timeout) if n else []
    for m in got:
        c.ack(m)
    extra = c.try_read_frame(QUIET * 2)
    assert extra is None, "more than %d messages: %r after %r" % (n, extra, [m.text for m in got])
    return [m.text for m in got]


# --------------------------------------------------------------------------
# collect while away (raw frames)
# --------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["none", "term", "kill"])
@pytest.mark.parametrize("kind", DIALECTS)
def test_durable_collects_while_away(broker_factory, work, kind, how):
    b = broker_factory(data_dir=data_dir(work))
    d = dialect(kind)
    topic = "/topic/" + unique("t")
    publish(b.port, topic, ["before-subscribe"])  # nobody subscribed: dropped

    c = connect(b.port, d)
    subscribe(c, topic, d)
    publish(b.port, topic, ["live-0"])
    assert read_all(c, 1) == ["live-0"]
    c.disconnect()

    publish(b.port, topic, ["away-%d" % i for i in range(5)])
    if how != "none":
        b = restart(broker_factory, b, how)
        publish(b.port, topic, ["away-after-restart"])

    c = connect(b.port, d)
    subscribe(c, topic, d)
    expected = ["away-%d" % i for i in range(5)] + (["away-after-restart"] if how != "none" else [])
    assert read_all(c, len(expected)) == expected
    c.disconnect()


@pytest.mark.parametrize("kind", DIALECTS)
def test_durable_keeps_collecting_across_several_restarts(broker_factory, work, kind):
    b = broker_factory(data_dir=data_dir(work))
    d = dialect(kind)
    topic = "/topic/" + unique("t")
    c = connect(b.port, d)
    subscribe(c, topic, d)
    c.disconnect()
    expected = []
    for i, how in enumerate(["kill", "term", "kill"]):
        publish(b.port, topic, ["r%d-%d" % (i, j) for j in range(3)])
        expected += ["r%d-%d" % (i, j) for j in range(3)]
        b = restart(broker_factory, b, how)
    c = connect(b.port, d)
    subscribe(c, topic, d)
    assert read_all(c, len(expected)) == expected
    c.disconnect()


@pytest.mark.parametrize("kind", DIALECTS)
def test_durable_unacked_come_back_after_kill(broker_factory, work, kind):
    """Messages delivered to a durable subscriber but not acked are there
    again after kill -9; acked ones are not."""
    b = broker_factory(data_dir=data_dir(work))
    d = dialect(kind)
    topic = "/topic/" + unique("t")
    c = connect(b.port, d)
    subscribe(c, topic, d)
    publish(b.port, topic, ["m-%d" % i for i in range(4)])
    got = c.read_messages(4, LONG)
    assert [m.text for m in got] == ["m-%d" % i for i in range(4)]
    c.ack(got[0])
    c.ack(got[1])
    barrier(b.port)
    b2 = restart(broker_factory, b, "kill")
    c.close()
    c = connect(b2.port, d)
    subscribe(c, topic, d)
    assert read_all(c, 2) == ["m-2", "m-3"]
    c.disconnect()


def test_non_durable_subscriber_gets_nothing_while_away(broker_factory, work):
    """Control: a plain topic subscription does not collect while away."""
    b = broker_factory(data_dir=data_dir(work))
    topic = "/topic/" + unique("t")
    c = client(b.port, extra={"client-id": unique("cid")})
    c.subscribe(topic, "plain", ack="client-individual")
    c.disconnect()
    publish(b.port, topic, ["lost"])
    c = client(b.port)
    c.subscribe(topic, "plain", ack="client-individual")
    c.assert_no_frame(QUIET * 2)
    c.close()


# --------------------------------------------------------------------------
# deletion
# --------------------------------------------------------------------------

@pytest.mark.parametrize("restart_how", ["none", "kill"])
@pytest.mark.parametrize("kind", DIALECTS)
def test_unsubscribe_with_dialect_header_deletes(broker_factory, work, kind, restart_how):
    b = broker_factory(data_dir=data_dir(work))
    d = dialect(kind)
    topic = "/topic/" + unique("t")
    c = connect(b.port, d)
    sid = subscribe(c, topic, d)
    c.disconnect()
    publish(b.port, topic, ["old-1", "old-2"])  # collected while away...
    c = connect(b.port, d)
    sid = subscribe(c, topic, d)
    got = c.read_messages(2, LONG)  # delivered but not acked
    assert [m.text for m in got] == ["old-1", "old-2"]
    c.request("UNSUBSCRIBE", dict({"id": sid}, **d.unsub_headers()))  # ...and deleted
    c.disconnect()
    publish(b.port, topic, ["while-deleted"])
    if restart_how != "none":
        b = restart(broker_factory, b, restart_how)
    c = connect(b.port, d)
    subscribe(c, topic, d)  # a NEW subscription: nothing old
    extra = c.try_read_frame(QUIET * 2)
    assert extra is None, "deleted durable subscription still delivered %r" % extra
    publish(b.port, topic, ["new"])
    assert read_all(c, 1) == ["new"]
    c.disconnect()


@pytest.mark.parametrize("kind", DIALECTS)
def test_unsubscribe_inactive_durable_by_destination(broker_factory, work, kind):
    """Deleting a subscription that is away: UNSUBSCRIBE with its topic in
    `destination` and the dialect's header, from a new connection."""
    b = broker_factory(data_dir=data_dir(work))
    d = dialect(kind)
    topic = "/topic/" + unique("t")
    c = connect(b.port, d)
    sid = subscribe(c, topic, d)
    c.disconnect()
    publish(b.port, topic, ["old"])
    c = connect(b.port, d)
    c.request("UNSUBSCRIBE", dict({"id": sid, "destination": topic}, **d.unsub_headers()))
    c.disconnect()
    barrier(b.port)
    b = restart(broker_factory, b, "kill")
    c = connect(b.port, d)
    subscribe(c, topic, d)
    c.assert_no_frame(QUIET * 2, "message of a deleted durable subscription")
    c.close()


@pytest.mark.parametrize("kind", DIALECTS)
def test_plain_unsubscribe_only_detaches(broker_factory, work, kind):
    """UNSUBSCRIBE without the dialect's durable header ends this session's
    use of the subscription; it keeps collecting."""
    b = broker_factory(data_dir=data_dir(work))
    d = dialect(kind)
    topic = "/topic/" + unique("t")
    c = connect(b.port, d)
    sid = subscribe(c, topic, d)
    c.unsubscribe(sid)
    publish(b.port, topic, ["kept"])
    sid = subscribe(c, topic, d)
    assert read_all(c, 1) == ["kept"]
    c.disconnect()


# --------------------------------------------------------------------------
# malformed requests, exclusive use
# --------------------------------------------------------------------------

@pytest.mark.parametrize("case", [
    "activemq-no-client-id", "artemis-no-client-id", "activemq-empty-name",
    "rabbit-auto-delete-true", "rabbit-durable-not-bool", "rabbit-1.0-no-id",
])
def test_malformed_durable_request_gets_error(broker, case):
    topic = "/topic/" + unique("t")
    version, extra, headers = "1.2", None, {"destination": topic, "id": "s1"}
    if case == "activemq-no-client-id":
        headers["activemq.subscriptionName"] = "n"
    elif case == "artemis-no-client-id":
        headers["durable-subscription-name"] = "n"
    elif case == "activemq-empty-name":
        extra = {"client-id": unique("cid")}
        headers["activemq.subscriptionName"] = ""
    elif case == "rabbit-auto-delete-true":
        headers.update({"durable": "true", "auto-delete": "true"})
    elif case == "rabbit-durable-not-bool":
        headers.update({"durable": "yes", "auto-delete": "false"})
    elif case == "rabbit-1.0-no-id":
        version = "1.0"
        del headers["id"]
        headers.update({"durable": "true", "auto-delete": "false"})
    c = client(broker.port, version, extra=extra)
    err = c.expect_error("SUBSCRIBE", headers)
    assert "durable" in (err.get("message", "") + err.text).lower(), err
    # refused outright (never silently a non-durable subscription); the broker serves on
    publish(broker.port, topic, ["x"])


@pytest.mark.parametrize("kind", ["activemq", "artemis"])
def test_durable_in_use_refuses_second_subscriber(broker_factory, work, kind):
    """The client-id dialects are exclusive: a second connection with the
    client-id is refused at CONNECT (ActiveMQ's rule), and a second
    SUBSCRIBE to the name on the same connection gets "in use". (RabbitMQ's
    dialect shares: test_two_sharers_of_a_durable_subscription_each_get_a_part.)"""
    b = broker_factory(data_dir=data_dir(work))
    d = dialect(kind)
    topic = "/topic/" + unique("t")
    first = connect(b.port, d)
    subscribe(first, topic, d)
    with pytest.raises(StompError) as refused:
        client(b.port, extra=d.connect_headers())
    assert "already connected" in refused.value.frame.text, refused.value.frame
    # the first subscriber is unaffected
    publish(b.port, topic, ["for-first"])
    assert read_all(first, 1) == ["for-first"]
    items = dict({"destination": topic, "id": d.sub_id(), "ack": "client-individual"}, **d.sub_headers())
    err = first.expect_error("SUBSCRIBE", items)
    assert "in use" in err.get("message", "") + err.text, err
    # once it is gone, the name can be used again (and kept collecting)
    publish(b.port, topic, ["queued"])
    c = connect(b.port, d)
    subscribe(c, topic, d)
    assert read_all(c, 1) == ["queued"]
    c.disconnect()


def test_same_name_different_client_ids_are_different(broker_factory, work):
    b = broker_factory(data_dir=data_dir(work))
    topic = "/topic/" + unique("t")
    d1, d2 = dialect("activemq"), dialect("activemq")
    d2.name = d1.name
    c1, c2 = connect(b.port, d1), connect(b.port, d2)
    subscribe(c1, topic, d1)
    subscribe(c2, topic, d2)
    c1.disconnect()
    c2.disconnect()
    publish(b.port, topic, ["both"])
    for d in (d1, d2):
        c = connect(b.port, d)
        subscribe(c, topic, d)
        assert read_all(c, 1) == ["both"]
        c.disconnect()


# --------------------------------------------------------------------------
# ownership (issue 18.5), one connection per client-id, sharing (issue 17.9)
# --------------------------------------------------------------------------

PASSWORDS = {"alice": "a-pw", "bob": "b-pw"}


@pytest.fixture
def two_users(work):
    """A users file with alice and bob, each with every permission on "/"
    (and the built-in guest, the default-user, who publishes here)."""
    path = str(work / "users.toml")
    for user, pw in PASSWORDS.items():
        for args in (("user", "add", user, "--password", pw, "--iterations", "1000"),
                     ("user", "set-permissions", user, "--vhost", "/", "--configure", ".*", "--write", ".*",
                      "--read", ".*")):
            r = run_ferry(*args, "--users-file", path)
            assert r.returncode == 0, r.stderr
    return path


def as_user(port, user, d: Dialect | None = None, extra=None):
    headers = {"login": user, "passcode": PASSWORDS[user]}
    headers.update(d.connect_headers() if d else {})
    headers.update(extra or {})
    return client(port, extra=headers)


def refused_frames(c, command, headers):
    """Send a frame that must be refused; returns (the ERROR, every frame
    that came before the connection closed)."""
    rid = c.next_rid()
    c.send_frame(command, list(headers.items()) + [("receipt", rid)])
    frames = c.read_until_closed()
    errors = [f for f in frames if f.command == "ERROR"]
    assert errors, "expected an ERROR, got %r" % frames
    return errors[-1], frames


@pytest.mark.parametrize("how", ["none", "kill"])
@pytest.mark.parametrize("kind", DIALECTS)
def test_another_user_may_not_attach_to_or_delete_a_durable_subscription(broker_factory, work, two_users,
                                                                         kind, how):
    """issue 18.5: bob reusing alice's client-id and subscription name (or
    RabbitMQ id) attached to her durable subscription and consumed her
    messages. Now he gets an ERROR naming it and nothing is delivered; his
    UNSUBSCRIBE cannot delete it either. The owner is journaled: after a
    kill -9 it still holds."""
    b = broker_factory(data_dir=data_dir(work), users_file=two_users, login_failure_delay=0)
    d = dialect(kind)
    topic = "/topic/" + unique("t")
    alice = as_user(b.port, "alice", d)
    subscribe(alice, topic, d)
    alice.disconnect()
    publish(b.port, topic, ["secret-%d" % i for i in range(3)])
    if how != "none":
        b = restart(broker_factory, b, how)
    from mgmt import Api
    import time
    deadline = time.monotonic() + 5
    while True:  # alice's consumer leaves as her connection closes, just after its RECEIPT
        listed = [s for s in Api(b).get("/api/subscriptions") if s["destination"] == topic]
        if [s["connection"] for s in listed] == [None] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert [s["owner"] for s in listed] == ["alice"], listed

    bob = as_user(b.port, "bob", d)
    items = dict({"destination": topic, "id": d.sub_id(), "ack": "client-individual"}, **d.sub_headers())
    err, frames = refused_frames(bob, "SUBSCRIBE", items)
    assert not [f for f in frames if f.command == "MESSAGE"], "bob got alice's messages: %r" % frames
    assert "access refused" in err.text and d.name in err.text, err
    bob = as_user(b.port, "bob", d)
    err, _ = refused_frames(bob, "UNSUBSCRIBE", dict({"id": d.sub_id(), "destination": topic},
                                                     **d.unsub_headers()))
    assert "access refused" in err.text and d.name in err.text, err

    alice = as_user(b.port, "alice", d)
    subscribe(alice, topic, d)
    assert read_all(alice, 3) == ["secret-%d" % i for i in range(3)]
    alice.disconnect()


def test_the_same_client_id_twice_at_once_is_refused(broker_factory, work, two_users):
    """ActiveMQ's rule: one connection per client-id (in a vhost); the
    second CONNECT gets ActiveMQ's text ("Broker: ... - Client: ID already
    connected from ..."), whoever it is. Once the first is gone the
    client-id is free again."""
    b = broker_factory(users_file=two_users, login_failure_delay=0)
    cid = unique("cid")
    first = as_user(b.port, "alice", extra={"client-id": cid})
    for user in ("alice", "bob"):
        with pytest.raises(StompError) as refused:
            as_user(b.port, user, extra={"client-id": cid})
        err = refused.value.frame
        assert "already connected" in err.text and cid in err.text, err
        if user == "bob":
            assert "127.0.0.1" not in err.text, "another user's address leaked: %r" % err
    # the first connection is unaffected
    q = "/queue/" + unique()
    first.send(q, "still here")
    first.subscribe(q, "s1")
    assert first.read_message().text == "still here"
    first.disconnect()
    again = as_user(b.port, "bob", extra={"client-id": cid})
    again.disconnect()


@pytest.mark.parametrize("how", ["rabbitmq", "shared-header"])
def test_two_sharers_of_a_durable_subscription_each_get_a_part(broker_factory, work, how):
    """issue 17.9: a second consumer of a durable subscription was refused
    "already in use". RabbitMQ's dialect (durable:true, named by id) and
    shared:true (with durable-subscription-name, no client-id needed: JMS
    2.0's shared durable subscription) share: messages are spread among the
    sharers, none lost, none twice; and it keeps collecting once they are
    gone."""
    b = broker_factory(data_dir=data_dir(work))
    topic = "/topic/" + unique("t")
    name = unique("dur")
    if how == "rabbitmq":
        sid, headers = name, {"durable": "true", "auto-delete": "false"}
    else:
        sid, headers = "s1", {"durable-subscription-name": name, "shared": "true"}
    headers["prefetch-count"] = "1"
    sharers = [client(b.port), client(b.port)]
    for c in sharers:
        c.subscribe(topic, sid, ack="client-individual", headers=headers)
    n = 20
    expected = ["m-%02d" % i for i in range(n)]
    publish(b.port, topic, expected)
    got = [[], []]
    idle = 0
    while sum(map(len, got)) < n and idle < 50:
        progress = False
        for i, c in enumerate(sharers):
            f = c.try_read_frame(0.1)
            if f is None:
                continue
            assert f.command == "MESSAGE", f
            got[i].append(f.text)
            c.ack(f)
            progress = True
        idle = 0 if progress else idle + 1
    assert sorted(got[0] + got[1]) == expected, got
    assert got[0] and got[1], "one sharer got everything: %r" % got
    for c in sharers:
        c.assert_no_frame(QUIET)
        c.disconnect()
    publish(b.port, topic, ["while-away"])
    c = client(b.port)
    c.subscribe(topic, sid, ack="client-individual", headers=headers)
    assert read_all(c, 1) == ["while-away"]
    c.disconnect()


def test_sharing_is_for_the_owner_only_and_never_with_an_exclusive_consumer(broker_factory, work, two_users):
    b = broker_factory(data_dir=data_dir(work), users_file=two_users, login_failure_delay=0)
    topic = "/topic/" + unique("t")
    name = unique("dur")
    shared = {"durable": "true", "auto-delete": "false"}
    a1 = as_user(b.port, "alice")
    a1.subscribe(topic, name, ack="client-individual", headers=shared)
    err, _ = refused_frames(as_user(b.port, "bob"), "SUBSCRIBE",
                            dict({"destination": topic, "id": name}, **shared))
    assert "access refused" in err.text and name in err.text, err
    # shared:false asks for exclusive use: not while a sharer is attached
    err, _ = refused_frames(as_user(b.port, "alice"), "SUBSCRIBE",
                            dict({"destination": topic, "id": name, "shared": "false"}, **shared))
    assert "in use" in err.text, err
    a2 = as_user(b.port, "alice")
    a2.subscribe(topic, name, ack="client-individual", headers=shared)
    publish(b.port, topic, ["x"])
    frames = [f for f in (a1.try_read_frame(1.0), a2.try_read_frame(QUIET)) if f is not None]
    assert [f.text for f in frames] == ["x"], frames
    a1.disconnect()
    a2.disconnect()


# --------------------------------------------------------------------------
# stomp.py
# --------------------------------------------------------------------------

def _py_session(port, d: Dialect, topic, n, unsub=False, quiet=QUIET * 2):
    """A stomp.py 1.2 session: connect with client-id, subscribe durable,
    read n messages (acking each), optionally delete, disconnect."""
    import stomp
    conn = stomp.Connection12([("127.0.0.1", port)], heartbeats=(0, 0), vhost="/",
                              reconnect_attempts_max=1)
    lst = PyListener()
    conn.set_listener("t", lst)
    conn.connect(headers=d.connect_headers(), wait=True)
    sid = d.sub_id()
    rid = py_rid()
    conn.subscribe(topic, id=sid, ack="client-individual", headers=dict(d.sub_headers(), receipt=rid))
    lst.wait_receipt(rid, LONG)
    got = []
    for _ in range(n):
        m = lst.get(LONG)
        got.append(m.body)
        conn.ack(m.headers["ack"])
    if quiet:
        lst.none(quiet)
    if unsub:
        rid = py_rid()
        conn.unsubscribe(id=sid, headers=dict(d.unsub_headers(), receipt=rid))
        lst.wait_receipt(rid, LONG)
    rid = py_rid()
    conn.disconnect(receipt=rid)
    assert lst.errors.empty(), [(e.headers, e.body) for e in list(lst.errors.queue)]
    return got


@pytest.mark.parametrize("how", ["term", "kill"])
@pytest.mark.parametrize("kind", DIALECTS)
def test_stomp_py_durable_across_restart(broker_factory, work, kind, how):
    b = broker_factory(data_dir=data_dir(work))
    d = dialect(kind)
    topic = "/topic/" + unique("t")
    assert _py_session(b.port, d, topic, 0) == []
    publish(b.port, topic, ["py-%d" % i for i in range(4)])
    # read and ack two, leave two (delivered too: the window is open; they
    # go back at the disconnect) (stomp.py's DISCONNECT waits for its RECEIPT,
    # so both ACKs took effect: their records are in the journal)
    assert _py_session(b.port, d, topic, 2, quiet=None) == ["py-0", "py-1"]
    # a receipted persistent SEND after them: everything before it is on disk
    publish(b.port, topic, ["py-4"])
    b = restart(broker_factory, b, how)
    got = _py_session(b.port, d, topic, 3)
    assert got == ["py-2", "py-3", "py-4"], got
    assert _py_session(b.port, d, topic, 0, unsub=True) == []
    publish(b.port, topic, ["after-delete"])
    b = restart(broker_factory, b, "kill")
    assert _py_session(b.port, d, topic, 0) == []


def test_stomp_py_sharers_of_a_rabbitmq_durable_subscription(broker_factory, work):
    """Two stomp.py consumers subscribing with RabbitMQ's durable headers and
    the same id share the subscription (issue 17.9): each gets a part, every
    message once; a third stomp.py connection with another client's
    client-id of the ActiveMQ dialect is refused at CONNECT."""
    import stomp
    from support import py_connect
    b = broker_factory(data_dir=data_dir(work))
    topic = "/topic/" + unique("t")
    name = unique("dur")
    sharers = [py_connect(b.port) for _ in range(2)]
    for conn, lst in sharers:
        rid = py_rid()
        conn.subscribe(topic, id=name, ack="client-individual",
                       headers={"durable": "true", "auto-delete": "false", "prefetch-count": "1",
                                "receipt": rid})
        lst.wait_receipt(rid, LONG)
    n = 12
    publish(b.port, topic, ["py-%02d" % i for i in range(n)])
    got = [[], []]
    idle = 0
    while sum(map(len, got)) < n and idle < 50:
        progress = False
        for i, (conn, lst) in enumerate(sharers):
            try:
                m = lst.messages.get(timeout=0.1)
            except Exception:
                continue
            got[i].append(m.body)
            conn.ack(m.headers["ack"])
            progress = True
        idle = 0 if progress else idle + 1
    assert sorted(got[0] + got[1]) == ["py-%02d" % i for i in range(n)], got
    assert got[0] and got[1], "one sharer got everything: %r" % got
    for conn, lst in sharers:
        lst.none(QUIET)
        assert lst.errors.empty()
        conn.disconnect(receipt=py_rid())

    cid = unique("cid")
    holder = client(b.port, extra={"client-id": cid})
    conn = stomp.Connection12([("127.0.0.1", b.port)], heartbeats=(0, 0), vhost="/", reconnect_attempts_max=1)
    lst = PyListener()
    conn.set_listener("t", lst)
    try:
        conn.connect(headers={"client-id": cid}, wait=True)
    except Exception:
        pass  # stomp.py raises when the CONNECT is answered with an ERROR
    err = lst.errors.get(timeout=LONG)
    assert "already connected" in err.body, (err.headers, err.body)
    holder.disconnect()


# --------------------------------------------------------------------------
# php-stomp
# --------------------------------------------------------------------------

def _php_sub_headers(d: Dialect) -> dict:
    h = dict(d.sub_headers())
    if d.kind == "rabbitmq":
        h["id"] = d.name
    return h


def _php_unsub_headers(d: Dialect) -> dict:
    h = dict(d.unsub_headers())
    if d.kind == "rabbitmq":
        h["id"] = d.name
    return h


def _php(port, d: Dialect, topic, read=0, quiet=0.5, unsub=False, sub=True):
    cfg = {"client_id": d.connect_headers().get("client-id"), "topic": topic,
           "sub": _php_sub_headers(d) if sub else None, "read": read, "quiet": quiet,
           "unsub": _php_unsub_headers(d) if unsub else None}
    r = run_php("durable_client.php", port, json.dumps(cfg), timeout=90)
    assert r["error"] is None, r
    return r


@pytest.mark.parametrize("how", ["term", "kill"])
@pytest.mark.parametrize("kind", DIALECTS)
def test_php_durable_across_restart(broker_factory, work, kind, how):
    b = broker_factory(data_dir=data_dir(work))
    d = dialect(kind)
    topic = "/topic/" + unique("t")
    r = _php(b.port, d, topic)
    assert r["subscribed"] is True and r["frames"] == [] and r["extra"] is None, r
    publish(b.port, topic, ["php-%d" % i for i in range(3)], {"x-k": "v"})
    # away; the broker restarts; more arrives
    b = restart(broker_factory, b, how)
    publish(b.port, topic, ["php-3"])
    r = _php(b.port, d, topic, read=4)
    assert [f["body"] for f in r["frames"]] == ["php-%d" % i for i in range(4)], r
    assert r["extra"] is None, r
    for f in r["frames"]:
        assert f["headers"].get("persistent") == "true", f
    assert r["frames"][0]["headers"].get("x-k") == "v", r
    # all acked (each ACK receipted): a restart brings nothing back
    barrier(b.port)
    b = restart(broker_factory, b, "kill")
    r = _php(b.port, d, topic)
    assert r["frames"] == [] and r["extra"] is None, r


@pytest.mark.parametrize("kind", DIALECTS)
def test_php_unsubscribe_deletes_durable(broker_factory, work, kind):
    b = broker_factory(data_dir=data_dir(work))
    d = dialect(kind)
    topic = "/topic/" + unique("t")
    _php(b.port, d, topic)
    publish(b.port, topic, ["old"])
    r = _php(b.port, d, topic, read=1, unsub=True)
    assert [f["body"] for f in r["frames"]] == ["old"], r
    assert r["unsubscribed"] is True, r
    publish(b.port, topic, ["while-deleted"])
    b = restart(broker_factory, b, "kill")
    r = _php(b.port, d, topic, quiet=1.0)
    assert r["frames"] == [] and r["extra"] is None, "deleted subscription delivered: %r" % r


def test_php_durable_without_client_id_is_refused(broker):
    d = dialect("activemq")
    cfg = {"client_id": None, "topic": "/topic/" + unique("t"),
           "sub": _php_sub_headers(d), "read": 0, "quiet": 0, "unsub": None}
    r = run_php("durable_client.php", broker.port, json.dumps(cfg), timeout=60)
    assert r["error"] or r["subscribed"] is False, "durable SUBSCRIBE without client-id accepted: %r" % r
