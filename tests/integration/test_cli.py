"""`ferry send` / `ferry recv` and `ferry serve` command-line behaviour."""
import re
import signal
import subprocess
import time

import pytest

from support import Broker, RawClient, assert_no_sanitizer_report, client, ferry_bin, run_ferry, unique


def test_send_recv_round_trip(broker):
    dest = "/queue/" + unique()
    s = run_ferry("send", dest, "hello cli", "-s", broker.addr)
    assert s.returncode == 0, s.stderr
    r = run_ferry("recv", dest, "-n", "1", "--ack", "client", "-s", broker.addr, "--timeout", "5")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == ["hello cli"]
    # acked: gone
    c = client(broker.port)
    c.subscribe(dest, "s")
    c.assert_no_frame()
    c.close()


def test_send_body_from_stdin(broker):
    dest = "/queue/" + unique()
    s = run_ferry("send", dest, "-s", broker.addr, input=b"from stdin")
    assert s.returncode == 0, s.stderr
    c = client(broker.port)
    c.subscribe(dest, "s")
    assert c.read_message().body.rstrip(b"\n") == b"from stdin"
    c.close()


def test_send_custom_headers(broker):
    dest = "/queue/" + unique()
    s = run_ferry("send", dest, "h", "-s", broker.addr, "-H", "x-one:1", "-H", "content-type:text/x")
    assert s.returncode == 0, s.stderr
    c = client(broker.port)
    c.subscribe(dest, "s")
    m = c.read_message()
    assert m.get("x-one") == "1" and m.get("content-type") == "text/x"
    c.close()


def test_send_error_exits_nonzero(broker):
    s = run_ferry("send", "/nowhere/x", "x", "-s", broker.addr)
    assert s.returncode != 0
    assert b"destination" in s.stderr.lower(), s.stderr


def test_send_no_broker_exits_nonzero():
    s = run_ferry("send", "/queue/x", "x", "-s", "127.0.0.1:1")
    assert s.returncode != 0


def test_recv_n_client_ack_leaves_rest(broker):
    dest = "/queue/" + unique()
    for i in range(3):
        assert run_ferry("send", dest, "b%d" % i, "-s", broker.addr).returncode == 0
    r = run_ferry("recv", dest, "-n", "2", "--ack", "client", "-s", broker.addr, "--timeout", "5")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == ["b0", "b1"]
    r = run_ferry("recv", dest, "--ack", "client-individual", "-s", broker.addr, "--timeout", "0.5")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == ["b2"]


def test_recv_fewer_than_n_exits_1(broker):
    dest = "/queue/" + unique()
    assert run_ferry("send", dest, "only", "-s", broker.addr).returncode == 0
    r = run_ferry("recv", dest, "-n", "2", "-s", broker.addr, "--timeout", "0.5")
    assert r.returncode == 1
    assert r.stdout.decode().splitlines() == ["only"]


def test_recv_headers(broker):
    dest = "/queue/" + unique()
    assert run_ferry("send", dest, "with-headers", "-s", broker.addr, "-H", "x-show:me").returncode == 0
    r = run_ferry("recv", dest, "-n", "1", "--headers", "-s", broker.addr, "--timeout", "5")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "x-show:me" in out
    assert "destination:" + dest in out
    assert out.rstrip("\n").endswith("with-headers")


def test_recv_from_topic_waits_for_publish(broker):
    dest = "/topic/" + unique()
    p = subprocess.Popen([ferry_bin(), "recv", dest, "-n", "1", "-s", broker.addr, "--timeout", "10"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # publish until the receiver (subscribed asynchronously) gets one
    deadline = time.monotonic() + 10
    while p.poll() is None and time.monotonic() < deadline:
        run_ferry("send", dest, "news", "-s", broker.addr)
        time.sleep(0.1)
    out, err = p.communicate(timeout=10)
    assert p.returncode == 0, err
    assert out.decode().splitlines() == ["news"]


def test_serve_help_lists_options():
    r = run_ferry("serve", "--help")
    assert r.returncode == 0
    text = (r.stdout + r.stderr).decode()
    for opt in ["--listen", "--shards", "--config", "--log-level", "--max-frame-size", "--max-body-size",
                "--max-headers", "--max-header-length", "--max-connections", "--max-subscriptions",
                "--max-composite-destinations",
                "--max-unacked", "--default-prefetch", "--max-transactions", "--max-transaction-size",
                "--memory-limit", "--memory-policy", "--producer-window-size", "--max-deliveries",
                "--dead-letter-prefix", "--heart-beat", "--heart-beat-grace",
                "--topic-subscriber-buffer", "--slow-subscriber-policy",
                "--http-listen", "--http-max-connections"]:
        assert opt in text, "serve --help does not document %s" % opt


def test_serve_config_file(tmp_path, shards):
    cfg = tmp_path / "ferry.toml"
    cfg.write_text('max-deliveries = 1\ndead-letter-prefix = "CFG."\n')
    log = tmp_path / "serve.log"
    b = Broker(shards, log, config=str(cfg))
    try:
        dest_name = unique()
        c = client(b.port)
        c.send("/queue/" + dest_name, "x")
        c.subscribe("/queue/" + dest_name, "s", ack="client-individual")
        c.nack(c.read_message())
        d = client(b.port)
        d.subscribe("/queue/CFG." + dest_name, "d")
        m = d.read_message()
        assert m.get("dead-letter-reason") == "max-deliveries"
        c.close()
        d.close()
    finally:
        assert b.stop() == 0
        b.cleanup()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_stops_cleanly_on_signal(tmp_path, sig):
    b = Broker(2, tmp_path / "sig.log")
    c = client(b.port)
    c.subscribe("/queue/" + unique(), "s", ack="client")
    b.proc.send_signal(sig)
    assert b.proc.wait(10) == 0
    c.close()
    b.stop()
    b.cleanup()


def test_serve_bad_option_fails(tmp_path):
    r = run_ferry("serve", "--max-frame-size", "lots", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                  timeout=10, cwd=tmp_path)
    assert r.returncode != 0


def test_size_suffixes_accepted(broker_factory):
    b = broker_factory(max_body_size="2K", max_frame_size="1MB")
    c = client(b.port)
    c.send("/queue/" + unique(), b"x" * 2048)
    c.expect_error("SEND", [("destination", "/queue/" + unique())], b"y" * 2049, parse_level=True)


def test_send_no_receipt(broker):
    dest = "/queue/" + unique()
    c = client(broker.port)
    c.subscribe(dest, "s")
    s = run_ferry("send", dest, "fire-and-forget", "--no-receipt", "-s", broker.addr)
    assert s.returncode == 0, s.stderr
    assert c.read_message().body.rstrip(b"\n") == b"fire-and-forget"
    c.close()


def test_recv_auto_ack_consumes(broker):
    dest = "/queue/" + unique()
    assert run_ferry("send", dest, "auto-1", "-s", broker.addr).returncode == 0
    r = run_ferry("recv", dest, "-n", "1", "-s", broker.addr, "--timeout", "5")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == ["auto-1"]
    c = client(broker.port)
    c.subscribe(dest, "s")
    c.assert_no_frame()
    c.close()


def test_serve_missing_config_file_fails(tmp_path):
    r = run_ferry("serve", "--config", str(tmp_path / "nope.toml"), "--listen", "127.0.0.1:0",
                  "--http-listen", "127.0.0.1:0", timeout=10,
                  cwd=tmp_path)
    assert r.returncode != 0


def test_log_lines_format(broker):
    """stderr: one line per event, `<ISO-8601 UTC ms> <level> <text>`."""
    import re
    c = client(broker.port)
    c.send("/queue/" + unique(), "x")
    c.close()
    pat = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (trace|debug|info|warn|error) +\S")
    lines = list(broker.lines)
    assert lines
    bad = [l for l in lines if not pat.match(l)]
    assert not bad, bad[:5]
    assert any(" info " in l and "listening on 127.0.0.1:%d" % broker.port in l for l in lines)


def test_serve_stops_cleanly_with_blocked_producer_and_half_frames(tmp_path):
    """SIGTERM while a producer is blocked by the memory limit, a client is
    mid-frame and a subscriber holds unacked messages: still exit 0, promptly."""
    b = Broker(2, tmp_path / "busy.log", memory_limit="16KiB", memory_policy="block")
    dest = "/queue/" + unique()
    holder = client(b.port)
    holder.subscribe(dest, "h", ack="client-individual", headers=[("prefetch-count", "1")])
    p = client(b.port)
    for i in range(12):  # > 16 KiB: the producer ends up blocked
        p.send(dest, b"x" * 4000, receipt=False)
    half = client(b.port)
    half.send_raw(b"SEND\ndestination:/queue/x\ncontent-length:100\n\nabc")
    holder.read_message()
    t0 = time.monotonic()
    b.proc.send_signal(signal.SIGTERM)
    rc = b.proc.wait(10)
    assert rc == 0
    assert time.monotonic() - t0 < 5
    for x in (holder, p, half):
        x.close()
    b.stop()
    b.cleanup()


def test_recv_prefetch_one_client_ack(broker):
    dest = "/queue/" + unique()
    for i in range(3):
        assert run_ferry("send", dest, "q%d" % i, "-s", broker.addr).returncode == 0
    r = run_ferry("recv", dest, "-n", "3", "--ack", "client", "--prefetch", "1", "-s", broker.addr,
                  "--timeout", "5")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == ["q0", "q1", "q2"]
    c = client(broker.port)
    c.subscribe(dest, "s")
    c.assert_no_frame()
    c.close()


def skip_unless_free(host: str, port: int, what: str):
    """Skips the test (it checks a default port) when another program on
    this machine, say a RabbitMQ, holds that port."""
    import socket as _s
    probe = _s.socket()
    try:
        probe.bind((host, port))
    except OSError as e:
        pytest.skip("%s:%d (%s) is in use on this machine (%s); this test checks that default"
                    % (host, port, what, e.strerror))
    finally:
        probe.close()


def test_serve_default_http_listen_address(tmp_path):
    """With no --http-listen, the management API is on 127.0.0.1:15672
    (skipped if that port is taken, e.g. by RabbitMQ's management plugin)."""
    skip_unless_free("127.0.0.1", 15672, "the default management port")
    log = tmp_path / "default-http.log"
    with open(log, "wb") as f:
        p = subprocess.Popen([ferry_bin(), "serve", "--shards", "1", "--listen", "127.0.0.1:0",
                              "--data-dir", str(tmp_path / "data")], stdout=f, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and b"(HTTP)" not in log.read_bytes():
            if p.poll() is not None:
                break
            time.sleep(0.05)
        text = log.read_text(errors="replace")
        if p.poll() is not None and "in use" in text.lower():
            pytest.skip("port 15672 (the default management port) was taken meanwhile by another program")
        assert "listening on 127.0.0.1:15672 (HTTP)" in text, text
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:15672/", timeout=10) as r:  # the console (no login)
            assert r.status == 200
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(10)
        assert_no_sanitizer_report(log.read_text(errors="replace"))
        assert rc == 0


def test_serve_default_listen_address(tmp_path):
    """With no --listen, ferry serves STOMP on 0.0.0.0:61613 (skipped if that
    port is taken by another broker on this machine); guest from loopback works."""
    skip_unless_free("0.0.0.0", 61613, "the default STOMP port")
    log = tmp_path / "default.log"
    with open(log, "wb") as f:
        # Only the STOMP listener is at its default here: the management
        # port (15672) may be taken by a parallel test's broker.
        p = subprocess.Popen([ferry_bin(), "serve", "--shards", "1", "--http-listen", "127.0.0.1:0"], stdout=f, stderr=subprocess.STDOUT,
                             cwd=tmp_path)  # any default data directory lands in tmp
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and b"listening on" not in log.read_bytes():
            if p.poll() is not None:
                break
            time.sleep(0.05)
        text = log.read_text(errors="replace")
        if p.poll() is not None and "in use" in text.lower():
            pytest.skip("port 61613 (the default STOMP port) was taken meanwhile by another program")
        assert "listening on 0.0.0.0:61613" in text, text
        c = client(61613)
        assert c.connected.command == "CONNECTED"
        c.close()
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(10)
        assert_no_sanitizer_report(log.read_text(errors="replace"))
        assert rc == 0


def test_log_format_json_is_one_object_per_line(broker_factory):
    """log-format = json: every line a JSON object with time, level and msg,
    also when a client puts quotes, backslashes and control characters into
    a value that is logged (a refused login's user name)."""
    import json as json_module
    b = broker_factory(log_format="json")
    c = RawClient(b.port)
    c.send_frame("CONNECT", [("accept-version", "1.2"), ("host", "/"),
                             ("login", 'we"ird\\name\ttab'), ("passcode", "x")])
    assert c.read_frame(5.0).command == "ERROR"
    c.close()
    deadline = time.monotonic() + 5
    while not any("we" in l and "ird" in l for l in b.lines):
        assert time.monotonic() < deadline, "the refused login was not logged:\n" + b.tail()
        time.sleep(0.05)
    lines = [l for l in b.lines if l.strip()]
    objects = [json_module.loads(l) for l in lines]  # every line parses
    for o in objects:
        assert set(o) == {"time", "level", "msg"}, o
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["time"]), o
    assert any(o["msg"] == "ready" and o["level"] == "info" for o in objects)
    refused = [o["msg"] for o in objects if "ird" in o["msg"]]
    assert refused and 'we"ird' in refused[0], refused
    # The tab is escaped by log_safe before JSON (no raw control character).
    assert "\t" not in refused[0]
