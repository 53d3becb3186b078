"""pytest fixtures: start the real `ferry serve` for each test, once with one
shard and once with two, and check it exits cleanly at the end.

Run (from the repository root):
    FERRY_BIN=$PWD/build/ferry /usr/bin/python3 -m pytest tests/integration
    ... -k 1shard / -k 2shards        one shard count only
    ... tests/integration/test_php_client.py   one area
FERRY_BIN defaults to build/ferry. Each broker's stderr (debug level) goes to
tests/integration/logs/<module>__<test>__<n>.<pid>.log; a failing test's
report shows the tail of it. Use /usr/bin/python3 (Debian's, with stomp.py 8)."""
from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import support  # noqa: E402
from support import Broker  # noqa: E402


def pytest_configure(config):
    support.LOG_DIR.mkdir(parents=True, exist_ok=True)
    gi = support.LOG_DIR / ".gitignore"
    if not gi.exists():
        gi.write_text("*\n!.gitignore\n")
    # drop logs of earlier runs (older than an hour; a concurrent run keeps its own)
    cutoff = time.time() - 3600
    for f in support.LOG_DIR.glob("*.log"):
        try:
            if f.stat().st_mtime < cutoff:
                f.unlink()
        except OSError:
            pass


def _log_name(nodeid: str, n: int) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1])
    mod = Path(nodeid.split("::", 1)[0]).stem
    return "%s__%s__%d.%d.log" % (mod, name[:150], n, os.getpid())


# FERRY_TEST_SHARDS=1 runs only the one-shard variant of each test (the
# sanitizer run in CI does, to stay within its time budget).
_SHARDS = [int(n) for n in os.environ.get("FERRY_TEST_SHARDS", "1,2").split(",")]


@pytest.fixture(params=_SHARDS, ids=["%dshard%s" % (n, "" if n == 1 else "s") for n in _SHARDS])
def shards(request):
    return request.param


@pytest.fixture
def broker_factory(request, shards):
    """broker_factory(**opts) starts `ferry serve` with extra options
    (max_deliveries=3 -> --max-deliveries 3); env={...} adds environment
    variables for the broker process. Every broker is stopped with SIGTERM
    at teardown and must exit 0, and none may have printed a sanitizer
    report (ASan, LSan at exit, UBSan), killed ones included."""
    started: list[Broker] = []
    request.node._ferry_brokers = started

    if not os.path.exists(support.ferry_bin()):
        pytest.fail("ferry binary not found at %s (set FERRY_BIN)" % support.ferry_bin())

    def start(env=None, **opts) -> Broker:
        log = support.LOG_DIR / _log_name(request.node.nodeid, len(started))
        b = Broker(shards, log, env=env, **opts)
        started.append(b)
        return b

    yield start

    problems = []
    for b in started:
        before = len(problems)
        alive = b.alive()
        rc = b.stop()
        b.cleanup()
        report = b.sanitizer_report()
        if report:
            problems.append("broker %s: sanitizer report (rc=%s):\n%s" % (b.args, rc, report))
            continue
        if b.killed:
            continue  # the test killed it on purpose (crash tests)
        if not alive:
            why = ""
            if "signal" in b.tail(5):
                why = " -- it logged a signal: something outside this test (pkill?) stopped it"
            problems.append("broker %s died during the test (rc=%s)%s" % (b.args, rc, why))
        elif rc == -999:
            problems.append("broker %s did not exit within 15 s of SIGTERM (hung; killed)" % (b.args,))
        elif rc != 0:
            problems.append("broker %s exited %s on SIGTERM (expected 0)" % (b.args, rc))
        if len(problems) > before:
            problems.append("log %s tail:\n%s" % (b.log_path, b.tail(80)))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def mq(broker_factory):
    """The MQTT tests' broker (test_mqtt_*.py): one with an MQTT listener,
    as (broker, MQTT port). A file that needs other options overrides it."""
    from mqtt_support import mqtt_port  # here, not above: it needs Paho, which only MQTT tests do
    b = broker_factory(mqtt_listen="127.0.0.1:0")
    return b, mqtt_port(b)


@pytest.fixture
def broker(broker_factory) -> Broker:
    return broker_factory()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for b in getattr(item, "_ferry_brokers", []):
            rep.sections.append(("ferry log %s (%s)" % (b.log_path.name, rep.when),
                                 b.tail(40)))
