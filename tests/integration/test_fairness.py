"""Fairness under bursts (issue 18 item 10): the broker bounds its work per
loop turn (frames parsed per connection, queues created, deliveries per
topic, delivery writes per shard) and goes on with the rest in later turns.
These tests check what must not change under those budgets: every message
arrives, once, in order per queue and per subscriber, and every RECEIPT comes
in frame order. (How long other clients wait is measured by bench/compare
scenario I, never asserted here.)"""
from __future__ import annotations

import struct

from support import client, encode_frame, unique
from transport_support import OP_CLOSE, OP_TEXT, RawWs, parse_stomp, stomp_bytes, ws_frame


def test_a_burst_past_every_budget_keeps_order_per_queue_and_receipts(broker_factory):
    """One write holding 2,000 SENDs (far past the frames parsed per turn),
    to 600 queues that do not exist yet (past the queues created per turn),
    each sent to twice, between SENDs to one existing queue."""
    b = broker_factory()
    main = "/queue/" + unique("burst-main")
    prefix = unique("burst-new")
    consumer = client(b.port)
    consumer.subscribe(main, "main")
    producer = client(b.port)
    frames, want_main, rids = [], [], []
    new_queues = 600
    n_main = 0

    def send(dest, body):
        rid = "r%d" % len(rids)
        rids.append(rid)
        frames.append(encode_frame("SEND", [("destination", dest), ("receipt", rid)], body))

    for i in range(new_queues):
        send("/queue/%s.%d" % (prefix, i), b"a%d" % i)
        send(main, b"m%d" % n_main); want_main.append(b"m%d" % n_main); n_main += 1
    for i in range(new_queues):
        send("/queue/%s.%d" % (prefix, i), b"b%d" % i)
        if i % 3 == 0:
            send(main, b"m%d" % n_main); want_main.append(b"m%d" % n_main); n_main += 1
    assert len(frames) > 1000
    producer.send_raw(b"".join(frames))

    got_rids = []
    while len(got_rids) < len(rids):
        f = producer.read_frame(timeout=60)
        assert f.command == "RECEIPT", f
        got_rids.append(f["receipt-id"])
    assert got_rids == rids  # every one, in frame order

    assert [m.body for m in consumer.read_messages(len(want_main), timeout=60)] == want_main
    consumer.assert_no_frame()

    # Each new queue holds its two messages in the order they were sent.
    reader = client(b.port)
    reader.send_raw(b"".join(encode_frame("SUBSCRIBE", [("destination", "/queue/%s.%d" % (prefix, i)),
                                                        ("id", "n%d" % i)])
                             for i in range(new_queues)))
    per_queue: dict[str, list[bytes]] = {}
    for m in reader.read_messages(2 * new_queues, timeout=60):
        per_queue.setdefault(m["subscription"], []).append(m.body)
    assert len(per_queue) == new_queues
    for i in range(new_queues):
        assert per_queue["n%d" % i] == [b"a%d" % i, b"b%d" % i], i
    reader.assert_no_frame()


def test_fan_out_to_more_connections_than_a_turn_writes_keeps_order(broker_factory):
    """A topic with subscribers on more connections than a shard writes to
    per loop turn (their writes wait for later turns), a burst of publishes
    in one write, and round trips on another queue meanwhile: every
    subscriber gets every message once, in publish order."""
    b = broker_factory()
    topic = "/topic/" + unique("fair")
    conns, count = 300, 60  # 150 a shard with 2 shards, > 64 writes a turn
    readers = []
    for _ in range(conns):
        r = client(b.port)
        r.subscribe(topic, "s")
        readers.append(r)
    producer = client(b.port)
    producer.send_raw(b"".join(encode_frame("SEND", [("destination", topic)], b"m%03d" % i)
                               for i in range(count)))
    other = client(b.port)
    probe = "/queue/" + unique("probe")
    for i in range(5):
        other.send(probe, "ping%d" % i)  # RECEIPT each: round trips meanwhile
    producer.send(topic, "end")
    want = [b"m%03d" % i for i in range(count)] + [b"end"]
    for r in readers:
        assert [m.body for m in r.read_messages(count + 1, timeout=60)] == want
    for r in readers[:10]:
        r.assert_no_frame()


def test_websocket_close_after_a_burst_waits_for_every_frame(broker_factory):
    """Over WebSocket: 700 SENDs (past the frames parsed per turn) and the
    client's close frame in one write. The frames left for later turns are
    all handled, and answered in order, before the close is."""
    b = broker_factory(ws_listen="127.0.0.1:0")
    dest = "/queue/" + unique("ws-burst")
    ws = RawWs(b.ws_port)
    assert ws.status == 101
    ws.send(stomp_bytes("CONNECT", {"accept-version": "1.2", "host": "/", "heart-beat": "0,0"}))
    assert parse_stomp(ws.read_message()[1])[0] == "CONNECTED"
    n = 700
    ws.send_raw(b"".join(ws_frame(OP_TEXT, stomp_bytes("SEND", {"destination": dest, "receipt": "r%d" % i},
                                                       "m%d" % i)) for i in range(n)) +
                ws_frame(OP_CLOSE, struct.pack("!H", 1000) + b"bye"))
    for i in range(n):
        op, payload = ws.read_message()
        assert op == OP_TEXT, (i, op, payload)
        assert parse_stomp(payload)[:2] == ("RECEIPT", {"receipt-id": "r%d" % i})
    code, _ = ws.read_close()
    assert code == 1000
    c = client(b.port)
    c.subscribe(dest, "1")
    assert [m.body for m in c.read_messages(n, timeout=60)] == [b"m%d" % i for i in range(n)]
    c.assert_no_frame()
