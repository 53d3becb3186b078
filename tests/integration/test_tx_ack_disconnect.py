"""A message acknowledged inside a committed transaction never comes back,
however the frames are pipelined and wherever the queue and the connections
live (RabbitMQ's STOMP suite once saw one redelivered after a receipted
DISCONNECT with two shards: ack.TestAck12.test_ack_client_tx).

Each round: a persistent message on a fresh queue (so the queue's shard
varies with its name), a consumer that receives it, then BEGIN / ACK in the
transaction / COMMIT / DISCONNECT with receipt written in ONE send, then a new
subscriber on the same queue at once, on a new connection (so it may land on
either shard). No new subscriber may ever receive a message.
"""
from __future__ import annotations

import pytest

from support import client, encode_frame, unique

ROUNDS = 60


@pytest.mark.parametrize("ack", ["client", "client-individual"])
@pytest.mark.parametrize("persistent", ["true", "false"])
def test_tx_ack_commit_disconnect_then_new_subscriber(broker_factory, ack, persistent):
    b = broker_factory()
    watchers = []
    try:
        for i in range(ROUNDS):
            q = "/queue/" + unique("txack%d-" % i)
            p = client(b.port)
            p.send(q, "m%d" % i, [("persistent", persistent)])
            p.close()
            c = client(b.port)
            c.subscribe(q, "s", ack=ack, headers={"prefetch-count": "1"})
            m = c.read_message()
            t = "t%d" % i
            c.send_raw(encode_frame("BEGIN", [("transaction", t)])
                       + encode_frame("ACK", [("id", m["ack"]), ("transaction", t)])
                       + encode_frame("COMMIT", [("transaction", t)])
                       + encode_frame("DISCONNECT", [("receipt", "bye")]))
            frames = c.read_until_closed()
            assert [f.command for f in frames] == ["RECEIPT"], frames
            assert frames[0]["receipt-id"] == "bye"
            w = client(b.port)
            w.subscribe(q, "again", receipt=False)
            watchers.append((i, w))
        # Every watcher subscribed right after its round's DISCONNECT; none
        # may have got (or get) the acknowledged message.
        for i, w in watchers:
            f = w.try_read_frame(0.05)
            assert f is None, "round %d: the acknowledged message came back: %r" % (i, f)
        for i, w in watchers:
            f = w.try_read_frame(0.01)
            assert f is None, "round %d: the acknowledged message came back: %r" % (i, f)
    finally:
        for _, w in watchers:
            w.close()
