"""Issue 16 item 6: a queue's rate history on its page, as RabbitMQ gives it:
GET /api/queues/VHOST/NAME?msg_rates_age=S&msg_rates_incr=S (and
lengths_age/lengths_incr) answers `samples` (newest first), `avg` and
`avg_rate` in message_stats' publish/deliver_get/ack details and in the
lengths' details; the broker keeps one minute of them per queue (docs/
management.md)."""
from __future__ import annotations

import time

from mgmt import Api
from support import client, unique


def _history(api, name, query):
    return api.get(Api.q(name) + "?" + query)


def test_a_queue_page_answers_its_rate_history(broker):
    api = Api(broker)
    name = unique("hist")
    c = client(broker.port)
    for i in range(3):
        c.send("/queue/" + name, "m%d" % i)
    c.subscribe("/queue/" + name, "s", ack="client-individual")
    for m in c.read_messages(2):
        c.ack(m)
    # One sample per 5 s slot: wait for two (the second after the acks).
    query = "msg_rates_age=60&msg_rates_incr=5&lengths_age=60&lengths_incr=5"
    deadline = time.monotonic() + 30
    while True:
        q = _history(api, name, query)
        samples = q["message_stats"]["publish_details"].get("samples", [])
        if len(samples) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(samples) >= 2, q
    stamps = [s["timestamp"] for s in samples]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    assert all(t % 5000 == 0 for t in stamps)
    assert all(a - b == 5000 for a, b in zip(stamps, stamps[1:]))
    ms = q["message_stats"]
    assert ms["publish_details"]["samples"][0]["sample"] == 3
    assert ms["deliver_get_details"]["samples"][0]["sample"] == 3
    assert ms["ack_details"]["samples"][0]["sample"] == 2
    assert "rate" in ms["ack_details"] and "avg_rate" in ms["publish_details"]
    # Lengths: 1 unacknowledged (delivered, not acked), 0 ready.
    assert q["messages_unacknowledged_details"]["samples"][0]["sample"] == 1
    assert q["messages_ready_details"]["samples"][0]["sample"] == 0
    assert q["messages_details"]["samples"][0]["sample"] == 1
    # Without the parameters: no samples (as RabbitMQ), the rates only.
    plain = api.queue(name)
    assert "samples" not in plain["message_stats"]["publish_details"]
    # A half-given range is refused, as on the overview.
    assert api.raw("GET", Api.q(name) + "?msg_rates_age=60")[0] == 400
    c.close()


def test_a_queue_that_never_moved_has_no_samples(broker):
    """The history costs nothing for a queue no message went through."""
    api = Api(broker)
    name = unique("still")
    assert api.raw("PUT", Api.q(name))[0] == 201
    time.sleep(1.5)
    q = _history(api, name, "msg_rates_age=60&msg_rates_incr=5")
    assert q["message_stats"]["publish_details"]["samples"] == []
