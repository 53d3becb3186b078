"""What clients can make the broker log (issue 18.6): a value from a client
(destination, transaction id, user name, ...) cannot end a log line and
forge another, and a flood of misbehaving connections writes a bounded
number of lines plus a "suppressed N similar lines" summary. Every test runs
with 1 and 2 shards."""
from __future__ import annotations

import time

from support import WAIT, RawClient, assert_broker_serves, client, unique

FORGED = "2026-01-01T00:00:00.000Z info  connection 1: user 'admin' logged in"


def test_escaped_newline_in_a_header_forges_no_line(broker_factory):
    b = broker_factory()
    c = client(b.port)
    # STOMP 1.2 header escaping: "\n" arrives as a real newline in the value.
    c.expect_error("COMMIT", {"transaction": "tx\\n" + FORGED})
    c.close()
    c = client(b.port)
    dest = "/queue/" + unique("q") + "\\n" + FORGED
    c.send(dest, "x")  # the queue is created (logged at debug)
    c.close()
    c = RawClient(b.port)
    c.send_frame("CONNECT", {"accept-version": "1.2", "host": "/", "login": "nobody\\n" + FORGED,
                             "passcode": "wrong"})
    c.read_until_closed()
    c.close()
    deadline = time.monotonic() + WAIT
    while not any("nobody" in l for l in b.lines):
        assert time.monotonic() < deadline, b.tail()
        time.sleep(0.05)
    assert not [l for l in b.lines if l.startswith("2026-01-01")], "a client forged a log line:\n" + b.tail()
    escaped = "\\n" + FORGED
    assert any("unknown transaction" in l and escaped in l for l in b.lines), b.tail()
    assert any("created" in l and escaped in l for l in b.lines), b.tail()


def test_a_flood_of_bad_connections_writes_a_bounded_log(broker_factory):
    b = broker_factory()
    n = 150
    for i in range(n):
        c = RawClient(b.port)
        c.send_raw(b"BOGUS\n\n\0")
        c.read_until_closed()
        c.close()
    deadline = time.monotonic() + 10  # a window is 5 s; the summary follows within a second
    while not any("suppressed" in l and "(ERROR frames sent)" in l for l in b.lines):
        assert time.monotonic() < deadline, "no 'suppressed' summary:\n" + b.tail()
        time.sleep(0.1)
    errors = [l for l in b.lines if ": ERROR " in l]
    # 20 per 5 s window, however long the flood took (at most a few windows)
    assert 20 <= len(errors) < n // 2, len(errors)
    summaries = [l for l in b.lines if "(ERROR frames sent)" in l and "suppressed" in l]
    total = len(errors) + sum(int(l.split("suppressed ")[1].split(" ")[0]) for l in summaries)
    assert total == n, (len(errors), summaries)
    assert_broker_serves(b)


def test_connections_opened_and_closed_are_logged_with_the_reason(broker_factory):
    """Issue 16 item 6: connection open and close at info, the close with
    its user and its reason (as RabbitMQ logs "accepting"/"closing")."""
    b = broker_factory()
    c = client(b.port)  # logged in as guest
    c.disconnect()
    line = b.wait_for_log(lambda l: "the client sent DISCONNECT" in l, "for the DISCONNECT")
    assert " info " in line and "user 'guest'" in line and "closed after" in line, line
    assert any(" opened from 127.0.0.1:" in l for l in b.lines), b.tail()

    bad = RawClient(b.port)
    bad.send_raw(b"BOGUS\n\n\0")
    bad.read_until_closed()
    bad.close()
    line = b.wait_for_log(lambda l: "the broker sent an ERROR frame" in l, "for the refused frame")
    assert "user '" not in line, line  # it never logged in

    quiet = RawClient(b.port)
    quiet.close()
    b.wait_for_log(lambda l: "the client closed" in l, "for a client that closed its socket")
