"""The soak test in CI: tests/soak/soak.py (mixed producers and consumers,
transactions, acks, NACKs, reconnects, abrupt disconnects, misbehaving
clients) against its own broker for FERRY_SOAK_SECONDS (default 120), then
its checker: nothing lost, duplicated or corrupted, no growth of the
broker's RSS or open descriptors. The hour-long run is the same script:

    /usr/bin/python3 tests/soak/soak.py --duration 3600 --ferry-bin build/ferry
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from support import LOG_DIR, PYTHON, SANITIZED, ferry_bin

# Under the sanitizers (scripts/test-sanitizers.sh) a shorter run, and no RSS
# trend: ASan's quarantine holds freed memory on purpose.
SECONDS = float(os.environ.get("FERRY_SOAK_SECONDS", "30" if SANITIZED else "120"))
SOAK = Path(__file__).resolve().parent.parent / "soak" / "soak.py"


def test_soak():
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / ("soak.%d.log" % os.getpid())
    args = [PYTHON, str(SOAK), "--duration", str(SECONDS), "--ferry-bin", ferry_bin(),
            "--log", str(log), "--report-every", "30"]
    if os.environ.get("FERRY_SOAK_SEED"):
        args += ["--seed", os.environ["FERRY_SOAK_SEED"]]
    p = subprocess.run(args, capture_output=True, text=True, timeout=SECONDS + 600)
    print(p.stdout[-4000:])
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    assert lines, "soak printed no summary (rc=%d)\nstdout:\n%s\nstderr:\n%s" % (
        p.returncode, p.stdout[-3000:], p.stderr[-3000:])
    s = json.loads(lines[-1])
    detail = "\n%s\nbroker log: %s" % (p.stdout[-3000:], log)
    assert s["lost"] == 0, "confirmed messages lost" + detail
    assert s["duplicated"] == 0, "duplicates" + detail
    assert s["corrupted"] == 0, "corrupted messages" + detail
    assert s["phantom"] == 0, "messages of aborted transactions delivered" + detail
    assert s["topic_missed"] == 0, "topic messages missed by stable subscribers" + detail
    assert s["unexpected_errors"] == 0, "unexpected ERRORs / worker failures" + detail
    assert "fd_growth" not in s, "descriptors grow: %s" % s["fd_growth"] + detail
    if SANITIZED:
        text = log.read_text(errors="replace") if log.exists() else ""
        for report in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            assert report not in text, "sanitizer report in the broker log" + detail
        assert s.get("broker_exit") in (0, None), "broker exit %s on SIGTERM" % s.get("broker_exit") + detail
        assert s["verdict"] == "ok" or s["verdict"] == "FAIL: RSS grows: %s" % s.get("rss_growth"), \
            s["verdict"] + detail
        return
    assert "rss_growth" not in s, "RSS grows: %s" % s["rss_growth"] + detail
    assert s["verdict"] == "ok", s["verdict"] + detail
    assert p.returncode == 0, detail
