"""Nothing follows an ERROR frame on a connection: deliveries that reach the
connection after its ERROR (while it flushes and closes) are not written; the
queue takes a client-mode one back (it is redelivered to the next consumer),
an auto-mode one was consumed when it was handed out.
"""
from __future__ import annotations

import threading

import pytest

from support import client, unique


@pytest.mark.parametrize("ack", ["auto", "client-individual"])
def test_no_frame_after_error_while_messages_stream_in(broker_factory, ack):
    b = broker_factory()
    q = "/queue/" + unique("stream")
    stop = threading.Event()

    def produce():
        p = client(b.port)
        try:
            i = 0
            while not stop.is_set():
                p.send(q, "m%d" % i, [("persistent", "false")], receipt=(i % 200 == 0))
                i += 1
        finally:
            p.close()

    t = threading.Thread(target=produce, daemon=True)
    t.start()
    try:
        for round_ in range(10):
            c = client(b.port)
            c.subscribe(q, "s", ack=ack, headers={"prefetch-count": "1000"})
            c.read_messages(50)
            # A protocol error while deliveries keep arriving.
            c.send_frame("ACK", [("id", "no-such-delivery-%d" % round_)])
            frames = c.read_until_closed(10)
            commands = [f.command for f in frames]
            assert "ERROR" in commands, commands[-5:]
            after = commands[commands.index("ERROR") + 1:]
            assert after == [], "round %d: %d frames after the ERROR: %r" % (
                round_, len(after), after[:5])
    finally:
        stop.set()
        t.join(10)
