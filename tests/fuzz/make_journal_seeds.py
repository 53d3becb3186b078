#!/usr/bin/env python3
"""Writes the seed corpus of journal_segment_fuzz (tests/fuzz/corpus/journal_segment).

Raw seeds (flags byte 0x00 / 0x01 + segment files joined by "|SEG|") are real
journals: the script starts `ferry serve` on a fresh data directory, sends
persistent messages, acknowledges some, commits a transaction, makes a
durable subscription, stops the broker and packs the segment files.
Framed seeds (flags byte 0x02..) hold broker record payloads that the fuzz
target frames itself (see journal_segment_fuzz.cc), so mutations reach the
record decoders.

    /usr/bin/python3 tests/fuzz/make_journal_seeds.py build/ferry
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "corpus" / "journal_segment"
MARKER = b"|SEG|"


def s32(b: bytes) -> bytes:
    return struct.pack("<I", len(b)) + b


def message_record(queue: bytes, msg_id: int, body: bytes, headers=(), deliveries=0, stamp=1) -> bytes:
    """broker/message_codec.cc encode_message_record, format 1."""
    out = bytes([1]) + s32(queue) + struct.pack("<QQ", stamp, msg_id)
    out += s32(b"ID:seed-%d" % msg_id) + s32(b"/queue/" + queue.split(b"\n")[-1])
    out += bytes([4]) + struct.pack("<Q", 0) + bytes([1]) + struct.pack("<II", deliveries, len(headers))
    for k, v in headers:
        out += s32(k) + s32(v)
    return out + s32(body)


def message_ref(queue: bytes, msg_id: int, deliveries=0) -> bytes:
    return s32(queue) + struct.pack("<QI", msg_id, deliveries)


def entry(op: int, payload: bytes) -> bytes:
    return bytes([op]) + struct.pack("<H", len(payload)) + payload


def framed_seeds() -> dict[str, bytes]:
    q = b"q:/\norders"
    sub = b"/\nnews\nclient-1:sub-a"
    m1 = message_record(q, 1, b"order 1", [(b"content-type", b"text/plain")])
    m2 = message_record(q, 2, b"order 2", deliveries=1, stamp=2)
    batch = entry(1, message_record(q, 3, b"in tx", stamp=3)) + entry(2, message_ref(q, 1))
    return {
        "framed_messages_acks": bytes([0x02]) + entry(1, m1) + entry(1, m2) + entry(3, message_ref(q, 2, 2))
        + entry(2, message_ref(q, 1)),
        "framed_batch": bytes([0x02]) + entry(0x40 | 6, batch) + entry(1, m2),
        "framed_durable": bytes([0x02]) + entry(4, sub) + entry(1, message_record(b"d:" + sub, 7, b"news"))
        + entry(5, sub),
        "framed_two_segments": bytes([0x02]) + entry(1, m1) + entry(0x80 | 1, m2) + entry(2, message_ref(q, 1)),
        "framed_corrupt_middle_skip": bytes([0x03]) + entry(1, m1) + entry(0x20 | 1, m2) + entry(1, m1),
        "framed_torn_tail": bytes([0x02 | 0x04 | (5 << 3)]) + entry(1, m1) + entry(1, m2),
        "framed_compacted_copy": bytes([0x02]) + entry(1, m1) + entry(0x80 | 1, message_record(q, 1, b"order 1"))
        + entry(2, message_ref(q, 1)),
    }


class Stomp:
    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.send("CONNECT", {"accept-version": "1.2", "host": "/", "client-id": "client-1"})
        assert self.read().startswith(b"CONNECTED")

    def send(self, cmd: str, headers: dict, body: bytes = b""):
        head = "".join("%s:%s\n" % kv for kv in headers.items())
        self.sock.sendall(("%s\n%s\n" % (cmd, head)).encode() + body + b"\0")

    def read(self) -> bytes:
        while b"\0" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        frame, self.buf = self.buf.split(b"\0", 1)
        return frame.lstrip(b"\r\n")

    def receipt(self, cmd: str, headers: dict, body: bytes = b""):
        self.send(cmd, dict(headers, receipt="r"), body)
        f = self.read()
        assert f.startswith(b"RECEIPT"), f


def real_journal() -> list[bytes]:
    ferry = sys.argv[1] if len(sys.argv) > 1 else "build/ferry"
    data = tempfile.mkdtemp(prefix="ferry-seed-")
    try:
        p = subprocess.Popen([ferry, "serve", "--listen", "127.0.0.1:0", "--shards", "1", "--data-dir", data,
                              "--segment-size", "1KiB", "--max-deliveries", "2"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        port = None
        for line in p.stderr:
            m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        assert port, "ferry did not start"
        c = Stomp(port)
        c.receipt("SUBSCRIBE", {"destination": "/topic/news", "id": "d1", "activemq.subscriptionName": "sub-a"})
        c.receipt("UNSUBSCRIBE", {"id": "d1"})  # away: the durable subscription keeps collecting
        for i in range(6):
            c.receipt("SEND", {"destination": "/queue/orders", "content-type": "text/plain", "priority": str(i)},
                      b"order %d " % i + b"x" * 300)
        c.receipt("SEND", {"destination": "/topic/news"}, b"headline")
        c.receipt("BEGIN", {"transaction": "t1"})
        c.send("SEND", {"destination": "/queue/orders", "transaction": "t1"}, b"in tx 1")
        c.send("SEND", {"destination": "/queue/orders", "transaction": "t1"}, b"in tx 2")
        c.receipt("COMMIT", {"transaction": "t1"})
        c.receipt("SUBSCRIBE", {"destination": "/queue/orders", "id": "s1", "ack": "client-individual",
                                "activemq.prefetchSize": "3"})
        acked = 0
        while acked < 3:
            f = c.read()
            if f.startswith(b"MESSAGE"):
                ack = re.search(rb"\nack:([^\n]*)", f).group(1).decode()
                c.send("ACK", {"id": ack})
                acked += 1
        c.send("SEND", {"destination": "/queue/after", "receipt": "last"}, b"after the acks")
        while not c.read().startswith(b"RECEIPT"):
            pass
        c.sock.close()  # unacked deliveries go back, with their counts journaled
        time.sleep(0.5)
        p.send_signal(signal.SIGTERM)
        p.wait(30)
        jdir = Path(data) / "journal"
        return [f.read_bytes() for f in sorted(jdir.glob("*.seg"))]
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name, blob in framed_seeds().items():
        (OUT / name).write_bytes(blob)
    segs = real_journal()
    # Segment files are renumbered 1.. by the target; keep a run that starts
    # at the first (older ones may have been deleted by the broker).
    (OUT / "real_journal").write_bytes(b"\x00" + MARKER.join(segs))
    (OUT / "real_journal_first_segment").write_bytes(b"\x00" + segs[0])
    torn = segs[-1][:-7] if len(segs[-1]) > 40 else segs[-1]
    (OUT / "real_journal_torn_tail").write_bytes(b"\x00" + MARKER.join(segs[:-1] + [torn]))
    flipped = bytearray(segs[0])
    flipped[len(flipped) // 2] ^= 0x10
    (OUT / "real_journal_flipped_bit_skip").write_bytes(b"\x01" + MARKER.join([bytes(flipped)] + segs[1:]))
    print("wrote %d seeds to %s (%d real segments)" % (len(list(OUT.iterdir())), OUT, len(segs)))


if __name__ == "__main__":
    main()
