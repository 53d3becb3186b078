"""`ferry bench` against the real broker: each scenario runs the load
generator as a subprocess, parses the JSON line it prints last, and checks the
counts. Timings are printed by the bench, never asserted here (only that the
latency percentiles are ordered and that pacing never sends more than asked)."""
import json

import pytest

from support import run_ferry, unique

# Keys of the JSON line that bench/compare relies on (docs/bench.md).
LOAD_KEYS = {"label", "destination", "producers", "consumers", "size", "persistent", "receipt_window",
             "ack", "prefetch", "rate", "duration_s", "sent", "confirmed", "received", "expected", "lost",
             "duplicates", "corrupt", "errors", "stalls", "send_rate", "recv_rate", "mb_per_s", "latency_us"}


def bench(*args, timeout=60.0):
    r = run_ferry("bench", *args, timeout=timeout)
    out = r.stdout.decode()
    assert r.returncode == 0, "ferry bench exited %d\nstdout:\n%s\nstderr:\n%s" % (
        r.returncode, out, r.stderr.decode())
    last = out.rstrip("\n").splitlines()[-1]
    assert last.startswith("{"), out
    return json.loads(last)


def load(broker, *args):
    res = bench("--server", broker.addr, "--drain-timeout", "5", *args)
    assert LOAD_KEYS <= set(res), sorted(LOAD_KEYS - set(res))
    assert set(res["latency_us"]) == {"p50", "p99", "p999", "max"}
    return res


def assert_clean(res):
    assert res["lost"] == 0, res
    assert res["duplicates"] == 0, res
    assert res["corrupt"] == 0, res
    assert res["errors"] == 0, res


def test_queue_non_persistent_count(broker):
    dest = "/queue/" + unique()
    res = load(broker, "--destination", dest, "--count", "3000", "--size", "512", "--label", "it-queue")
    assert res["label"] == "it-queue" and res["destination"] == dest
    assert res["sent"] == 3000
    assert res["expected"] == 3000
    assert res["received"] == 3000
    assert res["out_of_order"] == 0  # one consumer sees the producer's order
    assert res["persistent"] is False and res["ack"] == "auto" and res["size"] == 512
    assert_clean(res)


def test_persistent_receipt_window_client_individual(broker):
    res = load(broker, "--count", "1500", "--persistent", "--receipt-window", "64",
               "--ack", "client-individual", "--prefetch", "32")
    assert res["persistent"] is True and res["receipt_window"] == 64 and res["prefetch"] == 32
    assert res["sent"] == 1500
    assert res["confirmed"] == 1500  # every SEND got its RECEIPT
    assert res["received"] == res["expected"] == 1500
    assert_clean(res)


def test_client_ack_many_producers_and_consumers(broker):
    res = load(broker, "--count", "800", "--producers", "3", "--consumers", "2", "--ack", "client",
               "--prefetch", "50")
    assert res["sent"] == 2400
    assert res["received"] == res["expected"] == 2400
    assert_clean(res)


def test_topic_fan_out_to_three_consumers(broker):
    res = load(broker, "--destination", "/topic/" + unique(), "--consumers", "3", "--count", "1000")
    assert res["sent"] == 1000
    assert res["expected"] == 3000
    assert res["received"] == 3 * res["sent"]
    assert_clean(res)


def test_rate_limited_run_reports_ordered_latency(broker):
    res = load(broker, "--rate", "400", "--duration", "1", "--producers", "2")
    assert 0 < res["sent"] <= 400 + 2  # pacing never runs ahead of the rate
    assert res["received"] == res["sent"]
    lat = res["latency_us"]
    assert 0 < lat["p50"] <= lat["p99"] <= lat["p999"] <= lat["max"], lat
    assert res["rate"] == 400
    assert_clean(res)


def test_duration_run_stops_by_itself(broker):
    res = load(broker, "--duration", "0.5", "--size", "100")
    assert res["sent"] > 0
    assert res["received"] == res["sent"]
    assert_clean(res)


def test_idle_connections_with_heart_beats(broker_factory):
    # The broker asks for beats every 500 ms and drops a client silent for
    # 1 s; holding 2 s proves the bench keeps every connection alive.
    b = broker_factory(heart_beat="500,500")
    res = bench("--server", b.addr, "--idle-connections", "200", "--heart-beat", "500", "--hold", "2")
    assert res["mode"] == "idle"
    assert res["connections"] == 200
    assert res["connected"] == 200 and res["failed"] == 0
    assert res["dropped"] == 0 and res["open_at_end"] == 200
    assert res["heartbeats_sent"] >= 200
    assert res["errors"] == 0


def test_slow_load_run_keeps_heart_beats(broker_factory):
    # Two messages a second leave gaps longer than the broker's 1 s grace:
    # only the bench's own heart-beats keep producer and consumer connected.
    b = broker_factory(heart_beat="500,500")
    res = load(b, "--rate", "2", "--duration", "2.5", "--heart-beat", "500")
    assert res["connections_lost"] == 0, res["first_error"]
    assert res["sent"] > 0 and res["received"] == res["sent"]
    assert_clean(res)


def test_idle_connections_over_the_broker_limit_fail(broker_factory):
    b = broker_factory(max_connections=50)
    res = bench("--server", b.addr, "--idle-connections", "60", "--hold", "0.2")
    assert res["connected"] == 50
    assert res["failed"] == 10


def test_tcp_ceiling_needs_no_broker():
    res = bench("--tcp-ceiling", "--duration", "0.3", "--size", "65536")
    assert res["mode"] == "tcp"
    assert res["mb_per_s"] > 0 and res["msgs_per_s"] > 0


def test_tcp_relay_measures_the_latency_floor_without_a_broker():
    # 0.5 s at 400 msg/s: every message sent is relayed and timed.
    res = bench("--tcp-relay", "--duration", "0.5", "--rate", "400", "--size", "1024")
    assert res["mode"] == "tcp-relay"
    assert 150 <= res["sent"] <= 201 and res["received"] == res["sent"], res
    lat = res["latency_us"]
    assert 0 < lat["p50"] <= lat["p99"] <= lat["p999"] <= lat["max"], lat


def test_bench_modes_are_exclusive():
    r = run_ferry("bench", "--tcp-relay", "--tcp-ceiling")
    assert r.returncode != 0
    assert b"separate modes" in r.stderr, r.stderr


def test_unreachable_broker_exits_non_zero():
    r = run_ferry("bench", "--server", "127.0.0.1:1", "--count", "1")
    assert r.returncode != 0
    assert b"ferry bench" in r.stderr


@pytest.mark.parametrize("args", [["--size", "10"], ["--producers", "0"], ["--ack", "sometimes"],
                                  ["--duration", "0"]])
def test_usage_errors_exit_non_zero(args):
    r = run_ferry("bench", "--server", "127.0.0.1:1", *args)
    assert r.returncode != 0


def test_refused_subscription_is_a_setup_error(broker):
    r = run_ferry("bench", "--server", broker.addr, "--destination", "/nowhere/x", "--count", "1")
    assert r.returncode == 2
    assert b"destination" in r.stderr.lower(), r.stderr


def test_steady_state_allocates_nothing_per_message(tmp_path):
    """The claim of docs/benchmarks.md, "no allocation per message": at a
    rate the broker keeps up with, a broker that delivered 2N messages made
    (almost) as many heap allocations as one that delivered N (jemalloc's
    own counters, bench/allocations). Before message pooling this was 9 per
    non-persistent and 35 per persistent message; a single allocation per
    message anywhere on the path reads as 1.0 here. Destination names are
    long enough to live outside std::string (they cost 4 allocations per
    message before a session parsed each destination once)."""
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    import support

    ferry = support.ferry_bin()
    linked = subprocess.run(["ldd", ferry], capture_output=True, text=True).stdout
    if "jemalloc" not in linked:
        pytest.skip("this ferry is not linked with jemalloc (sanitizer build): no allocation counters")
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "allocations.md"
    r = subprocess.run([sys.executable, str(root / "bench/allocations"), "--ferry-bin", ferry, "--count", "10000",
                        "--rate", "10000", "--steady-only", "--out", str(out)],
                       capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert r.returncode == 0, r.stdout + r.stderr
    rows = re.findall(r"^\| (.+?) \| ([\d,]+ msg/s) \| [\d,]+ \| [\d,]+ \| (-?[\d.]+) \|$", out.read_text(), re.M)
    assert len(rows) == 4, out.read_text()
    print(out.read_text())
    for title, rate, per_message in rows:
        if "TLS" in title:
            continue  # OpenSSL's record buffers (bench/allocations): reported, not claimed
        # A single allocation per message reads as 1.0 or more. What the
        # broker does per second rather than per message (journal syncs,
        # ticks) reads as a fraction that grows when the machine is loaded
        # (0.08 alone, up to 0.37 beside the rest of the suite on 2 cores).
        assert float(per_message) < 0.6, "%s at %s: %s allocations per delivered message" % (
            title, rate, per_message)


def test_progress_line_every_second_on_stderr(broker):
    args = ["bench", "--server", broker.addr, "--destination", "/queue/" + unique("progress"),
            "--duration", "2.5", "--rate", "500", "--drain-timeout", "5"]
    r = run_ferry(*args)
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stderr.decode().splitlines() if l.startswith("ferry bench:")]
    assert len(lines) >= 2, r.stderr
    first = lines[0].split()
    assert first[2:4] == ["1", "s"] and first[4] == "sent", lines
    assert int(lines[-1].split()[5]) > 0, "nothing sent by the last report: %r" % lines
    assert json.loads(r.stdout.decode().splitlines()[-1])["sent"] > 0
    q = run_ferry(*(args + ["--quiet"]))
    assert q.returncode == 0 and b"ferry bench:" not in q.stderr, q.stderr
