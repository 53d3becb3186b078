"""Streams declared and deleted through the management API (issue 13;
docs/streams.md "Declared through the management API"), as RabbitMQ's
HTTP API does it: PUT /api/queues/VHOST/NAME with arguments
{"x-queue-type": "stream", ...} makes the stream (with its partitions and
retention), DELETE removes it and its files."""
from __future__ import annotations

import os
import time

import pytest

from support import WAIT, client, end_broker, py_connect, py_rid, unique
from test_persistence import data_dir, work, work_root  # noqa: F401 (fixtures)
from stream_support import offsets, publish


def test_put_declares_a_stream_and_delete_removes_its_files(broker_factory, work):
    from mgmt import Api
    ddir = data_dir(work)
    b = broker_factory(data_dir=ddir)
    api = Api(b)
    name = unique("api")
    body = {"durable": True, "arguments": {"x-queue-type": "stream", "x-max-age": "7D",
                                           "x-stream-max-segment-size-bytes": 100000, "x-stream-partitions": 2}}
    api.call("PUT", api.q(name), body, expect=201)
    stream_dir = os.path.join(ddir, "streams", "%2F", name)
    assert sorted(os.listdir(stream_dir)) == ["0", "1", "arguments"]
    # Again with the same arguments: there already (204); other ones: 400 in RabbitMQ's words.
    api.call("PUT", api.q(name), body, expect=204)
    other = {"arguments": {"x-queue-type": "stream", "x-max-age": "1h"}}
    err = api.call("PUT", api.q(name), other, expect=400)
    assert "inequivalent arg 'x-max-age'" in err["reason"], err
    s = api.queue(name)
    assert (s["type"], s["partitions"]) == ("stream", 2), s
    assert s["arguments"] == {"x-queue-type": "stream", "x-max-age": "7D",
                              "x-stream-max-segment-size-bytes": 100000, "x-stream-partitions": 2}
    # STOMP clients use it as declared.
    p = client(b.port)
    publish(p, "/stream/" + name, 4, headers={"partition-key": "k"})
    conn, lst = py_connect(b.port)
    rid = py_rid()
    conn.subscribe("/queue/" + name, id="r", headers={"x-queue-type": "stream", "x-stream-offset": "first",
                                                       "receipt": rid})
    lst.wait_receipt(rid)
    got = [lst.get() for _ in range(4)]
    assert [m.body for m in got] == ["e-%d" % i for i in range(4)]
    # Not while it has a reader.
    err = api.call("DELETE", api.q(name), expect=409)
    assert "in use" in err["reason"], err
    conn.disconnect()
    # The reader goes with its connection, on its own shard: DELETE is
    # refused until that has happened, then removes the stream.
    deadline = time.monotonic() + WAIT
    while True:
        status, _, data = api.raw("DELETE", api.q(name))
        if status != 409 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert status == 204, (status, data)
    assert not os.path.exists(stream_dir)
    assert not [d for d in os.listdir(os.path.dirname(stream_dir)) if name in d or d.startswith(".deleted")]
    api.call("GET", api.q(name), expect=404)
    api.call("DELETE", api.q(name), expect=404)
    # The name is free: a new stream starts at offset 0, with the defaults.
    publish(p, "/stream/" + name, 1, prefix="new")
    c = client(b.port)
    c.subscribe("/stream/" + name, "s", headers={"x-stream-offset": "first"})
    got = c.read_messages(1)
    assert (got[0].body, offsets(got), "partition" in got[0].names()) == (b"new-0", [0], False)
    for x in (p, c):
        x.close()


@pytest.mark.parametrize("how", ["term", "kill"])
def test_a_declared_stream_survives_restart_and_a_deleted_one_stays_gone(broker_factory, work, how):
    from mgmt import Api
    ddir = data_dir(work)
    b = broker_factory(data_dir=ddir)
    api = Api(b)
    kept, gone = unique("kept"), unique("gone")
    api.call("PUT", api.q(kept), {"arguments": {"x-queue-type": "stream", "x-stream-partitions": 3}}, expect=201)
    api.call("PUT", api.q(gone), {"arguments": {"x-queue-type": "stream"}}, expect=201)
    p = client(b.port)
    publish(p, "/stream/" + gone, 2)
    api.call("DELETE", api.q(gone), expect=204)
    p.close()
    end_broker(b, how)
    b2 = broker_factory(data_dir=ddir)
    api2 = Api(b2)
    s = api2.queue(kept)
    assert (s["type"], s["partitions"], s["messages"]) == ("stream", 3, 0), s
    api2.call("GET", api2.q(gone), expect=404)


def test_bad_stream_arguments_are_refused(broker_factory):
    from mgmt import Api
    b = broker_factory(max_stream_partitions=4)
    api = Api(b)
    name = unique("bad")
    for args in ({"x-stream-partitions": 0}, {"x-stream-partitions": 5}, {"x-max-age": "soon"},
                 {"x-max-length": 10}, {"x-stream-partitions": True}):
        args = dict(args, **{"x-queue-type": "stream"})
        err = api.call("PUT", api.q(name), {"arguments": args}, expect=400)
        assert "invalid stream argument" in err["reason"], (args, err)
    api.call("GET", api.q(name), expect=404)


def test_files_of_a_deletion_cut_short_are_removed_at_start(broker_factory, work):
    """A crash between the rename and the removal (StreamStore::remove)
    leaves <vhost>/.deleted-...: ignored as a stream, removed at start-up."""
    ddir = data_dir(work)
    b = broker_factory(data_dir=ddir)
    dest = "/stream/" + unique("s")
    p = client(b.port)
    publish(p, dest, 2)
    p.close()
    end_broker(b, "kill")
    vhost_dir = os.path.join(ddir, "streams", "%2F")
    name = dest[len("/stream/"):]
    trash = os.path.join(vhost_dir, ".deleted-0-1-1")
    os.rename(os.path.join(vhost_dir, name), trash)
    b2 = broker_factory(data_dir=ddir)
    assert not os.path.exists(trash)
    c = client(b2.port)
    c.subscribe(dest, "s", headers={"x-stream-offset": "first"})
    c.assert_no_frame()  # not a stream any more: a new, empty one
    c.close()
