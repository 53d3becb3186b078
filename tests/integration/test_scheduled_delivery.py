"""Scheduled delivery (issue 12): ActiveMQ's AMQ_SCHEDULED_DELAY /
AMQ_SCHEDULED_PERIOD / AMQ_SCHEDULED_REPEAT, the RabbitMQ delayed-message
plugin's x-delay, and Ferry's neutral delay / deliver-at headers on SEND.
A scheduled message reaches consumers only once due; its due time is fixed
at the SEND (or at COMMIT in a transaction), journaled with a persistent
message, and kept across a restart and kill -9; max-scheduled-messages
bounds how many wait. Raw frames, stomp.py and php-stomp; one and two shards.

Timing: a test never asserts how fast something happens, only that a
scheduled message is not delivered before its due time (the broker's own
deliver-at header, compared with the clock of this same machine)."""
from __future__ import annotations

import json
import time

import pytest

from support import QUIET, StompError, client, py_connect, py_rid, restart, run_php, unique

# Long enough that "not delivered yet" is checked well before it is due.
DELAY_MS = 2500


def now_ms() -> int:
    return int(time.time() * 1000)


def assert_not_early(m, sent_ms: int, delay_ms: int):
    """m arrived no earlier than its deliver-at, which is at least delay_ms after sent_ms."""
    due = int(m["deliver-at"])
    assert due >= sent_ms + delay_ms, (due, sent_ms, delay_ms)
    assert now_ms() >= due, "delivered %d ms before it was due" % (due - now_ms())


@pytest.mark.parametrize("header", ["AMQ_SCHEDULED_DELAY", "x-delay", "delay"])
def test_a_delayed_queue_message_is_held_until_due(broker, header):
    q = "/queue/" + unique("sched")
    c = client(broker.port)
    c.subscribe(q, "s", ack="client-individual")
    p = client(broker.port)
    sent = now_ms()
    p.send(q, "later", {header: str(DELAY_MS)})
    p.send(q, "now")
    first = c.read_message()
    assert first.text == "now", first
    c.assert_no_frame(timeout=QUIET, what="the scheduled message before its due time")
    m = c.read_message(timeout=DELAY_MS / 1000 + 5)
    assert m.text == "later" and m[header] == str(DELAY_MS), m
    assert_not_early(m, sent, DELAY_MS)
    assert m["redelivered"] == "false", m
    c.ack(m)


def test_deliver_at_in_the_past_is_delivered_at_once(broker):
    q = "/queue/" + unique("sched-past")
    p = client(broker.port)
    p.send(q, "overdue", {"deliver-at": str(now_ms() - 60_000)})
    c = client(broker.port)
    c.subscribe(q, "s")
    assert c.read_message().text == "overdue"


def test_a_delayed_topic_message_with_stomp_py(broker):
    t = "/topic/" + unique("sched-topic")
    conn, listener = py_connect(broker.port)
    try:
        rid = py_rid()
        conn.subscribe(t, id="1", ack="auto", headers={"receipt": rid})
        listener.wait_receipt(rid)
        sent = now_ms()
        rid = py_rid()
        conn.send(t, "delayed", headers={"x-delay": str(DELAY_MS), "receipt": rid})
        listener.wait_receipt(rid)
        conn.send(t, "plain")
        first = listener.get()
        assert first.body == "plain", first
        m = listener.get(timeout=DELAY_MS / 1000 + 5)
        assert m.body == "delayed", m
        due = int(m.headers["deliver-at"])
        assert due >= sent + DELAY_MS and now_ms() >= due, (due, sent)
    finally:
        conn.disconnect()


def test_php_activemq_delay(broker):
    name = unique("sched-php")
    q = "/queue/" + name
    sent = now_ms()
    r = run_php("dialect_headers.php", broker.port, q, "send", "from-php",
                json.dumps({"AMQ_SCHEDULED_DELAY": str(DELAY_MS)}))
    assert r["exception"] is None and r["sent"] is True, r
    c = client(broker.port)
    c.subscribe(q, "s")
    c.assert_no_frame(timeout=QUIET, what="PHP's scheduled message before its due time")
    m = c.read_message(timeout=DELAY_MS / 1000 + 5)
    assert m.text == "from-php", m
    assert_not_early(m, sent, DELAY_MS)


def test_period_and_repeat_deliver_separate_messages(broker):
    q = "/queue/" + unique("sched-repeat")
    c = client(broker.port)
    c.subscribe(q, "s", ack="client-individual")
    p = client(broker.port)
    sent = now_ms()
    p.send(q, "tick", {"AMQ_SCHEDULED_DELAY": "300", "AMQ_SCHEDULED_PERIOD": "400",
                       "AMQ_SCHEDULED_REPEAT": "2"})
    ms = c.read_messages(3, timeout=10)
    assert [m.text for m in ms] == ["tick"] * 3
    dues = [int(m["deliver-at"]) for m in ms]
    assert dues == [dues[0], dues[0] + 400, dues[0] + 800], dues
    assert dues[0] >= sent + 300
    assert len({m["message-id"] for m in ms}) == 3, "each repetition is its own message"
    for m in ms:
        c.ack(m)
    c.assert_no_frame(timeout=QUIET, what="a fourth repetition")


def test_in_a_transaction_scheduling_starts_at_commit(broker):
    q = "/queue/" + unique("sched-tx")
    p = client(broker.port)
    p.request("BEGIN", {"transaction": "t1"})
    p.send(q, "tx-delayed", {"transaction": "t1", "AMQ_SCHEDULED_DELAY": "1000"})
    time.sleep(1.5)  # longer than the delay: it must count from the COMMIT
    committed = now_ms()
    p.request("COMMIT", {"transaction": "t1"})
    c = client(broker.port)
    c.subscribe(q, "s")
    m = c.read_message(timeout=10)
    assert m.text == "tx-delayed"
    assert int(m["deliver-at"]) >= committed + 1000, (m["deliver-at"], committed)
    assert now_ms() >= int(m["deliver-at"])


@pytest.mark.parametrize("headers,names", [
    ({"AMQ_SCHEDULED_DELAY": "-1"}, "AMQ_SCHEDULED_DELAY"),
    ({"x-delay": "soon"}, "x-delay"),
    ({"AMQ_SCHEDULED_REPEAT": "-1", "AMQ_SCHEDULED_PERIOD": "100"}, "AMQ_SCHEDULED_REPEAT"),
    ({"AMQ_SCHEDULED_CRON": "* * * * *"}, "AMQ_SCHEDULED_CRON"),
])
def test_what_cannot_be_honoured_is_refused(broker, headers, names):
    p = client(broker.port)
    err = p.expect_error("SEND", dict(headers, destination="/queue/" + unique("sched-bad")), b"x")
    assert names in err.text or names in err["message"], err


def test_max_scheduled_messages_bounds_them(broker_factory):
    b = broker_factory(max_scheduled_messages=2)
    q = "/queue/" + unique("sched-limit")
    p = client(b.port)
    p.send(q, "a", {"delay": "60000"})
    p.send(q, "b", {"delay": "60000"})
    err = p.expect_error("SEND", {"destination": q, "delay": "60000"}, b"c")
    assert "max-scheduled-messages" in err["message"], err
    # An unscheduled message is not limited by it.
    p2 = client(b.port)
    p2.send(q, "plain")
    # A repetition count the limit can never hold is refused too.
    err = p2.expect_error("SEND", {"destination": q, "AMQ_SCHEDULED_DELAY": "1",
                                   "AMQ_SCHEDULED_REPEAT": "5"}, b"r")
    assert "max-scheduled-messages" in err.text, err


@pytest.mark.parametrize("how", ["term", "kill"], ids=["sigterm", "kill9"])
def test_persistent_scheduled_messages_survive_a_restart(broker_factory, tmp_path, how):
    b = broker_factory(data_dir=str(tmp_path / "data"))
    q = "/queue/" + unique("sched-restart")
    p = client(b.port)
    delay = 6000
    sent = now_ms()
    p.send(q, "survives", {"AMQ_SCHEDULED_DELAY": str(delay), "persistent": "true"})
    p.send(q, "due-during-downtime", {"delay": "300", "persistent": "true"})
    p.send(q, "not-persistent", {"delay": "300", "persistent": "false"})
    b = restart(broker_factory, b, how)
    c = client(b.port)
    c.subscribe(q, "s", ack="client-individual")
    first = c.read_message()
    assert first.text == "due-during-downtime", first
    c.ack(first)
    c.assert_no_frame(timeout=QUIET, what="the scheduled message before its due time after a restart")
    m = c.read_message(timeout=delay / 1000 + 5)
    assert m.text == "survives", m
    assert int(m["deliver-at"]) >= sent + delay, "the due time is kept, not restarted"
    assert_not_early(m, sent, delay)
    c.ack(m)
    c.assert_no_frame(timeout=QUIET, what="the non-persistent scheduled message (gone with the restart)")
