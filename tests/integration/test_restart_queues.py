"""Issue 16 item 5: a queue made by traffic (a SEND or SUBSCRIBE to a new
/queue/NAME, no PUT, no x- arguments) comes back after a restart, and after
kill -9 once the frame that made it was receipted, empty or not, as
RabbitMQ's durable queues do; a deleted one stays deleted
(<data-dir>/queues.log, docs/journal.md)."""
from __future__ import annotations

import os
import time

from mgmt import Api
from support import py_connect, py_rid, restart, unique


def _make_by_traffic(port):
    """stomp.py: one queue made by a non-persistent SEND and drained (empty
    again), one made by a SUBSCRIBE and never used; both receipted."""
    sent, subscribed = unique("sent"), unique("subscribed")
    conn, lst = py_connect(port)
    rid = py_rid()
    conn.send("/queue/" + sent, "gone", headers={"receipt": rid, "persistent": "false"})
    lst.wait_receipt(rid)
    rid = py_rid()
    conn.subscribe("/queue/" + sent, id="s1", ack="auto", headers={"receipt": rid})
    lst.wait_receipt(rid)
    assert lst.get().body == "gone"
    rid = py_rid()
    conn.subscribe("/queue/" + subscribed, id="s2", ack="auto", headers={"receipt": rid})
    lst.wait_receipt(rid)
    return conn, sent, subscribed


def test_an_empty_queue_made_by_traffic_survives_kill_9(broker_factory, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    b = broker_factory(data_dir=str(data))
    conn, sent, subscribed = _make_by_traffic(b.port)
    b = restart(broker_factory, b, "kill")  # no DISCONNECT: killed under the client
    api = Api(b)
    for name in (sent, subscribed):
        q = api.queue(name)
        assert q["messages"] == 0 and q["consumers"] == 0, q


def test_an_empty_queue_made_by_traffic_survives_a_restart_until_deleted(broker_factory, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    b = broker_factory(data_dir=str(data))
    conn, sent, subscribed = _make_by_traffic(b.port)
    conn.disconnect()
    b = restart(broker_factory, b)
    api = Api(b)
    assert api.queue(sent)["messages"] == 0
    assert api.queue(subscribed)["messages"] == 0
    # Deleted for good: a 204 means the deletion is durable, kill -9 or not.
    assert api.raw("DELETE", Api.q(sent))[0] == 204
    b = restart(broker_factory, b, "kill")
    api = Api(b)
    assert api.raw("GET", Api.q(sent))[0] == 404
    assert api.queue(subscribed)["messages"] == 0
    # ... and across the compaction of the next start.
    b = restart(broker_factory, b)
    api = Api(b)
    assert api.raw("GET", Api.q(sent))[0] == 404
    assert api.queue(subscribed)["messages"] == 0
    # Made again by traffic after its deletion: back again.
    conn, lst = py_connect(b.port)
    rid = py_rid()
    conn.send("/queue/" + sent, "again", headers={"receipt": rid, "persistent": "false"})
    lst.wait_receipt(rid)
    conn.disconnect()
    b = restart(broker_factory, b, "kill")
    assert Api(b).queue(sent)["messages"] == 0  # not persistent: the queue, not the message


def test_temporary_queues_are_not_remembered(broker_factory, tmp_path):
    """A /temp-queue/ goes with its connection; it must not come back."""
    data = tmp_path / "data"
    data.mkdir()
    b = broker_factory(data_dir=str(data))
    conn, lst = py_connect(b.port)
    rid = py_rid()
    conn.subscribe("/temp-queue/" + unique("t"), id="t1", headers={"receipt": rid})
    lst.wait_receipt(rid)
    conn.disconnect()
    time.sleep(0.5)  # the temporary queue goes with its connection
    before = {q["name"] for q in Api(b).get("/api/queues")}
    b = restart(broker_factory, b)
    assert {q["name"] for q in Api(b).get("/api/queues")} == before


def test_many_queues_made_by_traffic_cost_one_line_each(broker_factory, tmp_path):
    """100,000 queues must stay cheap: each costs one appended line (group
    commit), not a rewrite of a whole file. Prints the figures; asserts only
    sizes (never timings)."""
    data = tmp_path / "data"
    data.mkdir()
    b = broker_factory(data_dir=str(data))
    n = int(os.environ.get("FERRY_QUEUE_LOG_N", "2000"))
    prefix = unique("many")
    conn, lst = py_connect(b.port)
    start = time.monotonic()
    for i in range(n):
        conn.send("/queue/%s-%d" % (prefix, i), "", headers={"persistent": "false"})
    rid = py_rid()
    conn.send("/queue/%s-last" % prefix, "", headers={"receipt": rid, "persistent": "false"})
    lst.wait_receipt(rid, timeout=300)
    took = time.monotonic() - start
    size = (data / "queues.log").stat().st_size
    print("\n%d queues made by SENDs in %.2f s; queues.log %d bytes (%.0f per queue)" % (n + 1, took, size,
                                                                                      size / (n + 1)))
    assert size < (n + 1) * (40 + len(prefix) + 8)  # one short line per queue
    conn.disconnect()
    start = time.monotonic()
    b = restart(broker_factory, b, "kill")
    api = Api(b)
    print("restart with %d queues: %.2f s" % (n + 1, time.monotonic() - start))
    # Not persistent: the messages are gone, the queues stay.
    assert api.queue("%s-%d" % (prefix, n - 1))["messages"] == 0
    assert api.queue("%s-last" % prefix)["messages"] == 0
    assert len(api.get("/api/queues?page=1&page_size=10")["items"]) == 10
