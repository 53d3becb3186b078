"""Helpers shared by the stream integration tests (test_stream*.py): publish
entries with receipts, read their offsets, open a reader on a stream. The
fixtures they use (work, data_dir, ...) stay in test_persistence.py."""
from __future__ import annotations

from support import client


def offsets(frames) -> list[int]:
    return [int(f["x-stream-offset"]) for f in frames]


def publish(c, dest: str, n: int, prefix: str = "e", headers=None):
    for i in range(n):
        r = c.send(dest, "%s-%d" % (prefix, i), headers=headers)
        assert r.command == "RECEIPT", r


def stream_reader(port: int, dest: str, sub_id: str, ack: str | None = None, headers=None):
    """A new connection subscribed to `dest` with these headers (x-stream-offset,
    prefetch-count, group, ...)."""
    c = client(port)
    c.subscribe(dest, sub_id, ack=ack, headers=headers)
    return c
