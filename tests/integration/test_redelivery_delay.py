"""Redelivery delay with exponential backoff (issue 12 item 4; ActiveMQ's
redeliveryPolicy; docs/routing.md, "Redelivery delay"): a message given back
by NACK or by a consumer that left is not delivered again before the delay.
Only "not before" is asserted (a loaded machine may deliver later, never
earlier); the broker's clock starts at the latest when the NACK is sent."""
from __future__ import annotations

import time

from mgmt import Api
from support import client, py_connect, py_rid, unique

DELAY = 0.8  # seconds
# The broker may see a moment earlier than this client's clock; a little
# slack that a delivery without the delay (at once) never reaches.
SLACK = 0.1


def test_nack_waits_the_delay_with_backoff_and_others_are_not_held(broker):
    name = unique("redeliver")
    args = {"x-redelivery-delay": str(int(DELAY * 1000)), "x-redelivery-backoff-multiplier": "2"}
    c = client(broker.port)
    c.subscribe("/queue/" + name, "s", ack="client-individual", headers=args)
    c.send("/queue/" + name, "slow", args)
    m = c.read_message()
    started = time.monotonic()
    c.nack(m)
    c.send("/queue/" + name, "other")
    assert c.read_message().text == "other"  # not held behind the waiting one
    again = c.read_message(timeout=30)
    assert again.text == "slow" and again["redelivered"] == "true", again
    assert time.monotonic() - started >= DELAY - SLACK, "redelivered before x-redelivery-delay"
    # The second redelivery waits twice as long.
    started = time.monotonic()
    c.nack(again)
    third = c.read_message(timeout=30)
    assert third.text == "slow"
    assert time.monotonic() - started >= 2 * DELAY - SLACK, "no exponential backoff"
    c.ack(third)


def test_a_consumer_that_leaves_gives_back_with_the_delay(broker):
    name = unique("redeliver-gone")
    args = {"x-redelivery-delay": str(int(DELAY * 1000))}
    c = client(broker.port)
    c.subscribe("/queue/" + name, "s", ack="client", headers=args)
    c.send("/queue/" + name, "held")
    c.read_message()
    started = time.monotonic()
    c.close()  # the connection is lost with the message unacknowledged
    other = client(broker.port)
    other.subscribe("/queue/" + name, "s")
    m = other.read_message(timeout=30)
    assert m.text == "held" and m["redelivered"] == "true", m
    assert time.monotonic() - started >= DELAY - SLACK, "redelivered before x-redelivery-delay"


def test_redelivery_delay_by_policy_and_from_stomp_py(broker):
    api = Api(broker)
    prefix = unique("redeliver-policy")
    api.call("PUT", "/api/policies/%2F/" + prefix, {"pattern": "^" + prefix,
                                                     "definition": {"redelivery-delay": int(DELAY * 1000)}},
             expect=201)
    name = prefix + ".q"
    conn, lst = py_connect(broker.port)
    conn.subscribe("/queue/" + name, id="s", ack="client-individual")
    rid = py_rid()
    conn.send("/queue/" + name, "p", headers={"receipt": rid})
    lst.wait_receipt(rid)
    first = lst.get()
    assert api.queue(name)["effective_arguments"].get("x-redelivery-delay") == int(DELAY * 1000)
    started = time.monotonic()
    conn.nack(first.headers["ack"])
    again = lst.get(timeout=30)
    assert again.body == "p"
    assert time.monotonic() - started >= DELAY - SLACK, "redelivered before the policy's delay"
    conn.ack(again.headers["ack"])
    conn.disconnect()


def test_bad_redelivery_arguments_are_refused(broker):
    c = client(broker.port)
    err = c.expect_error("SUBSCRIBE", {"destination": "/queue/" + unique(), "id": "s",
                                       "x-redelivery-backoff-multiplier": "0"})
    assert err["message"] == "invalid queue argument x-redelivery-backoff-multiplier", err
