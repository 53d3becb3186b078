"""vhosts (docs/security.md): the CONNECT host header selects a vhost by
name, anything else means default-vhost; destinations of different vhosts
are separate (queues, topics, durable subscriptions), also after a restart;
a user sees only the vhosts it has grants on."""
from __future__ import annotations

import socket

import pytest

from support import RawClient, client, end_broker, py_connect, py_rid, run_ferry, unique
from test_auth import COST, ferry_ok, login, msg


@pytest.fixture
def vhosts_file(tmp_path):
    """vhosts / , red and blue; guest (built in) has full grants on all three;
    rita: red only."""
    path = str(tmp_path / "users.toml")
    for v in ("red", "blue"):
        ferry_ok("vhost", "add", v, "--users-file", path)
        ferry_ok("user", "set-permissions", "guest", "--vhost", v, "--configure", ".*", "--write", ".*",
                 "--read", ".*", "--users-file", path)
    ferry_ok("user", "add", "rita", "--password", "red!", "--iterations", COST, "--users-file", path)
    ferry_ok("user", "set-permissions", "rita", "--vhost", "red", "--configure", ".*", "--write", ".*",
             "--read", ".*", "--users-file", path)
    return path


def test_same_queue_name_in_two_vhosts_is_two_queues(broker_factory, vhosts_file):
    b = broker_factory(users_file=vhosts_file)
    dest = "/queue/" + unique()
    red, blue, slash = client(b.port, host="red"), client(b.port, host="blue"), client(b.port, host="/")
    red.send(dest, "in red")
    blue.send(dest, "in blue")
    slash.send(dest, "in slash")
    for c, body in ((red, b"in red"), (blue, b"in blue"), (slash, b"in slash")):
        c.subscribe(dest, "s1")
        assert c.read_message().body == body
        c.assert_no_frame()
        c.close()


def test_topics_are_per_vhost(broker_factory, vhosts_file):
    b = broker_factory(users_file=vhosts_file)
    topic = "/topic/" + unique()
    red, blue = client(b.port, host="red"), client(b.port, host="blue")
    red.subscribe(topic, "s1")
    blue.subscribe(topic, "s1")
    blue.send(topic, "blue news")
    assert blue.read_message().body == b"blue news"
    red.assert_no_frame()
    red.close()
    blue.close()


def test_durable_subscriptions_are_per_vhost(broker_factory, vhosts_file):
    b = broker_factory(users_file=vhosts_file)
    topic = "/topic/" + unique()
    durable = [("durable", "true"), ("auto-delete", "false")]
    for v in ("red", "blue"):
        c = client(b.port, host=v)
        c.subscribe(topic, "keep", headers=durable)
        c.unsubscribe("keep")
        c.close()
    red = client(b.port, host="red")
    red.send(topic, "only red")
    red.close()
    blue = client(b.port, host="blue")
    blue.subscribe(topic, "keep", headers=durable)
    blue.assert_no_frame()
    blue.close()
    red = client(b.port, host="red")
    red.subscribe(topic, "keep", headers=durable)
    assert red.read_message().body == b"only red"
    red.close()


def test_host_names_and_no_host_mean_the_default_vhost(broker_factory, vhosts_file):
    b = broker_factory(users_file=vhosts_file)
    dest = "/queue/" + unique()
    c = client(b.port, host="/")
    c.send(dest, "in default")
    c.close()
    for host in (None, "localhost", socket.gethostname(), "127.0.0.1", "not-a-vhost"):
        c = client(b.port, host=host)
        c.subscribe(dest, "s1", ack="client")
        m = c.read_message()
        assert m.body == b"in default", host
        c.close()  # unacked: back to the queue for the next one


def test_default_vhost_option(broker_factory, vhosts_file):
    b = broker_factory(users_file=vhosts_file, default_vhost="blue")
    dest = "/queue/" + unique()
    c = client(b.port, host="localhost")
    c.send(dest, "landed in blue")
    c.close()
    c = client(b.port, host="blue")
    c.subscribe(dest, "s1")
    assert c.read_message().body == b"landed in blue"
    c.close()


def test_stomp_py_vhost(broker_factory, vhosts_file):
    import stomp
    from support import PyListener
    b = broker_factory(users_file=vhosts_file)
    dest = "/queue/" + unique()
    conn = stomp.Connection12([("127.0.0.1", b.port)], vhost="red", heartbeats=(0, 0), reconnect_attempts_max=1)
    lst = PyListener()
    conn.set_listener("t", lst)
    conn.connect("rita", "red!", wait=True)
    rid = py_rid()
    conn.send(dest, "py in red", headers={"receipt": rid})
    lst.wait_receipt(rid)
    conn.disconnect()
    # Another client in "/" does not see red's queue.
    other, olst = py_connect(b.port)
    other.subscribe(dest, id="s1", ack="auto")
    olst.none()
    other.disconnect()
    red = client(b.port, host="red")
    red.subscribe(dest, "s1")
    assert red.read_message().body == b"py in red"
    red.close()


def test_user_cannot_reach_another_vhost(broker_factory, vhosts_file):
    b = broker_factory(users_file=vhosts_file, login_failure_delay=0)
    c, f = login(b.port, "rita", "red!", host="blue")
    assert f.command == "ERROR" and msg(f) == "access refused: no permissions on this vhost", f
    c.close()
    # A host she may not use and that is no vhost lands in "/", where she has no grant either.
    c, f = login(b.port, "rita", "red!", host="localhost")
    assert f.command == "ERROR" and "'/'" in f.body.decode(), f
    c.close()
    # In red she only sees red's queue.
    dest = "/queue/" + unique()
    blue = client(b.port, host="blue")
    blue.send(dest, "blue secret")
    blue.close()
    c, f = login(b.port, "rita", "red!", host="red")
    assert f.command == "CONNECTED"
    c.subscribe(dest, "s1")
    c.assert_no_frame()
    c.close()


@pytest.mark.parametrize("how", ["term", "kill"])
def test_vhosts_stay_separate_across_a_restart(broker_factory, vhosts_file, tmp_path, how):
    data = str(tmp_path / "data")
    b = broker_factory(users_file=vhosts_file, data_dir=data)
    dest = "/queue/" + unique()
    topic = "/topic/" + unique()
    durable = [("durable", "true"), ("auto-delete", "false")]
    for v in ("/", "red", "blue"):
        c = client(b.port, host=v)
        c.subscribe(topic, "keep", headers=durable)
        c.unsubscribe("keep")
        c.send(dest, "queued in " + v)
        c.send(topic, "topic in " + v)
        c.close()
    end_broker(b, how)  # every SEND had its RECEIPT: on disk, kill -9 or not
    b2 = broker_factory(users_file=vhosts_file, data_dir=data)
    for v in ("blue", "/", "red"):
        c = client(b2.port, host=v)
        c.subscribe(dest, "s1")
        assert c.read_message().body == ("queued in " + v).encode()
        c.subscribe(topic, "keep", headers=durable)
        assert c.read_message().body == ("topic in " + v).encode()
        c.assert_no_frame()
        c.close()


def test_default_vhost_data_recovers_without_a_users_file(broker_factory, vhosts_file, tmp_path):
    """Data written with no users file (all in "/") is read the same with one,
    and the other way round: the default vhost's journal names do not change."""
    data = str(tmp_path / "data")
    b = broker_factory(data_dir=data)
    dest = "/queue/" + unique()
    c = client(b.port)
    c.send(dest, "before vhosts")
    c.close()
    end_broker(b, "term")
    b2 = broker_factory(users_file=vhosts_file, data_dir=data)
    c = client(b2.port, host="/")
    c.subscribe(dest, "s1", ack="client")
    assert c.read_message().body == b"before vhosts"
    c.close()
    red = client(b2.port, host="red")
    red.subscribe(dest, "s1")
    red.assert_no_frame()
    red.close()
