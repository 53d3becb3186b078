"""A stream's own arguments (issue 13; docs/streams.md "Per-stream
arguments"): RabbitMQ's x-max-age, x-max-length-bytes and
x-stream-max-segment-size-bytes on the SEND or SUBSCRIBE that creates a
stream override the broker's options for it, are kept across restarts, and
a later frame naming one with another value is refused with RabbitMQ's
inequivalent-arg words. Raw frames and stomp.py."""
from __future__ import annotations

import os
import time

from support import client, end_broker, py_connect, py_rid, unique
from test_persistence import data_dir, work, work_root  # noqa: F401 (fixtures)
from stream_support import offsets, publish, stream_reader

SMALL = {"x-stream-max-segment-size-bytes": "4096", "x-max-length-bytes": "8192"}


def first_offset(port, dest) -> int:
    c = stream_reader(port, dest, "r", headers={"x-stream-offset": "first"})
    first = int(c.read_message()["x-stream-offset"])
    c.close()
    return first


def wait_first_above_zero(port, dest) -> int:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        first = first_offset(port, dest)
        if first > 0:
            return first
        time.sleep(0.3)
    return 0


def test_declared_retention_applies_to_that_stream_only(broker):
    """The broker keeps everything (no stream-max-* options); the stream
    declared with 4 KiB segments and 8 KiB loses its oldest segments, the
    other keeps all."""
    declared = "/stream/" + unique("decl")
    plain = "/stream/" + unique("plain")
    p = client(broker.port)
    r = p.send(declared, "x" * 1000, headers=SMALL)  # creates it with its arguments
    assert r.command == "RECEIPT", r
    publish(p, declared, 39, prefix="x" * 1000)
    publish(p, plain, 40, prefix="x" * 1000)
    first = wait_first_above_zero(broker.port, declared)
    assert first > 0, "retention deleted nothing"
    assert first_offset(broker.port, plain) == 0
    c = client(broker.port)
    c.subscribe(declared, "r", headers={"x-stream-offset": "first"})
    got = c.read_messages(40 - first)
    assert offsets(got) == list(range(first, 40))
    # The declaration is not data: the entry carries no argument headers.
    assert "x-max-length-bytes" not in got[-1] and "x-stream-max-segment-size-bytes" not in got[-1]
    c.close()
    p.close()


def test_redeclare_must_be_equivalent(broker):
    dest = "/stream/" + unique("eq")
    c = client(broker.port)
    c.subscribe(dest, "a", headers={"x-max-age": "7D", "x-max-length-bytes": "1000000"})
    # The same values again, the same age in other units, or none: fine.
    c.send(dest, "one", headers={"x-max-age": "7D"})
    c.send(dest, "two", headers={"x-max-age": "168h", "x-max-length-bytes": "1000000"})
    c.send(dest, "three")
    d = client(broker.port)
    d.subscribe(dest, "b", headers={"x-max-length-bytes": "1000000", "x-stream-offset": "first"})
    assert [m.body for m in d.read_messages(3)] == [b"one", b"two", b"three"]
    d.close()
    for hs, arg, received, current in (
            ({"x-max-age": "1h"}, "x-max-age", "'1h'", "'7D'"),
            ({"x-max-length-bytes": "5"}, "x-max-length-bytes", "'5'", "'1000000'"),
            ({"x-stream-max-segment-size-bytes": "8192"}, "x-stream-max-segment-size-bytes", "'8192'", "none")):
        for command in ("SEND", "SUBSCRIBE"):
            e = client(broker.port)
            items = [("destination", dest)] + ([("id", "x")] if command == "SUBSCRIBE" else []) + list(hs.items())
            err = e.expect_error(command, items)
            # (the raw client keeps STOMP 1.2's header escapes: ':' is '\\c')
            assert err["message"].replace("\\c", ":") == ("PRECONDITION_FAILED - inequivalent arg '%s' for stream '%s' in vhost '/': "
                                      "received %s but current is %s"
                                      % (arg, dest[len("/stream/"):], received, current)), err
    c.close()


def test_bad_argument_values_are_errors(broker):
    for name, value in (("x-max-age", "7d"), ("x-max-age", "soon"), ("x-max-length-bytes", "0"),
                        ("x-max-length-bytes", "-5"), ("x-stream-max-segment-size-bytes", "100"),
                        ("x-stream-max-segment-size-bytes", "9999999999")):
        dest = "/stream/" + unique("bad")
        for command in ("SEND", "SUBSCRIBE"):
            c = client(broker.port)
            items = [("destination", dest), (name, value)] + ([("id", "x")] if command == "SUBSCRIBE" else [])
            err = c.expect_error(command, items)
            assert err["message"].startswith("invalid stream argument"), (name, value, err)
    # A refused declaration made nothing.
    c = client(broker.port)
    c.subscribe("/stream/" + unique("bad"), "ok", headers={"x-max-age": "10s"})
    c.close()


def test_arguments_survive_a_restart(broker_factory, work):
    ddir = data_dir(work)
    b = broker_factory(data_dir=ddir)
    dest = "/stream/" + unique("keep")
    p = client(b.port)
    p.send(dest, "first", headers={"x-max-age": "12h", "x-stream-max-segment-size-bytes": "4096"})
    p.close()
    end_broker(b, "kill")
    name = dest[len("/stream/"):]
    with open(os.path.join(ddir, "streams", "%2F", name, "arguments")) as f:
        assert f.read() == "ferry-stream-arguments 1\nx-max-age 12h\nx-stream-max-segment-size-bytes 4096\n"
    b2 = broker_factory(data_dir=ddir)
    c = client(b2.port)
    err = c.expect_error("SEND", [("destination", dest), ("x-max-age", "1D")])
    assert "inequivalent arg 'x-max-age'" in err["message"] and "current is '12h'" in err["message"], err
    q = client(b2.port)
    publish(q, dest, 8, prefix="y" * 1000, headers={"x-stream-max-segment-size-bytes": "4096"})
    q.close()
    # 4 KiB segments: the files show it.
    segs = [f for f in os.listdir(os.path.join(ddir, "streams", "%2F", name, "0")) if f.endswith(".log")]
    assert len(segs) >= 2, segs


def test_rabbitmq_stream_queue_declared_from_stomp_py(broker):
    """As RabbitMQ's STOMP plugin: the queue arguments of a SUBSCRIBE with
    x-queue-type:stream declare the stream; another value is refused."""
    name = unique("rmq")
    conn, lst = py_connect(broker.port)
    rid = py_rid()
    conn.subscribe("/queue/" + name, id="s", ack="client-individual",
                   headers={"x-queue-type": "stream", "x-max-age": "7D", "x-max-length-bytes": "20000000000",
                            "x-stream-max-segment-size-bytes": "100000000", "prefetch-count": "10",
                            "receipt": rid})
    lst.wait_receipt(rid)
    rid = py_rid()
    conn.send("/queue/" + name, "m", headers={"x-queue-type": "stream", "x-max-age": "7D", "receipt": rid})
    lst.wait_receipt(rid)
    assert lst.get().body == "m"
    conn.disconnect()
    c = client(broker.port)
    err = c.expect_error("SUBSCRIBE", [("destination", "/queue/" + name), ("id", "x"),
                                       ("x-queue-type", "stream"), ("x-max-age", "1D")])
    assert err["message"].startswith("PRECONDITION_FAILED - inequivalent arg 'x-max-age'"), err


def test_a_declaration_left_without_its_partition_does_not_apply(broker_factory, work):
    """A crash after the arguments file was written and before the
    partition was made leaves <stream>/arguments alone: a later undeclared
    creation of that stream must not take it (after a restart either)."""
    ddir = data_dir(work)
    name = unique("orphan")
    sdir = os.path.join(ddir, "streams", "%2F", name)
    os.makedirs(sdir)
    with open(os.path.join(sdir, "arguments"), "w") as f:
        f.write("ferry-stream-arguments 1\nx-max-age 12h\n")
    b = broker_factory(data_dir=ddir)
    p = client(b.port)
    publish(p, "/stream/" + name, 1)
    p.close()
    end_broker(b, "kill")
    b2 = broker_factory(data_dir=ddir)
    c = client(b2.port)
    err = c.expect_error("SEND", [("destination", "/stream/" + name), ("x-max-age", "12h")])
    assert "inequivalent arg 'x-max-age'" in err["message"] and "current is none" in err["message"], err
