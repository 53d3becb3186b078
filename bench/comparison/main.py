"""bench/compare: Ferry, RabbitMQ and ActiveMQ side by side over STOMP.

Run through the bench/compare shell script (it installs the packages and
builds ferry first). See --help.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from comparison import brokers, report, runner  # noqa: E402
from comparison.scenarios import all_scenarios  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PORTS = {"ferry": 61713, "rabbitmq": 61714, "activemq": 61715}


def machine() -> dict:
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {"cores": os.cpu_count(), "model": model, "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
            "kernel": f"Linux {platform.release()}"}


def parse(argv):
    p = argparse.ArgumentParser(prog="bench/compare", description=__doc__.split("\n")[0])
    p.add_argument("--ferry-bin", default=str(REPO / "build" / "ferry"),
                   help="ferry binary, used for `ferry serve` and `ferry bench` (build/ferry)")
    p.add_argument("--only", default="ferry,rabbitmq,activemq",
                   help="brokers to run, comma-separated (ferry,rabbitmq,activemq)")
    p.add_argument("--scenarios", default="A,B,C,D,E,F,G,H,I", help="scenarios to run (A,...,I)")
    p.add_argument("--fair-subscribers", type=int, default=2000, help="scenario I: topic subscribers (2000)")
    p.add_argument("--fair-rate", type=int, default=100, help="scenario I: messages/s published (100)")
    p.add_argument("--repeat", type=int, default=None, help="runs per scenario (3); median reported")
    p.add_argument("--duration", type=float, default=None, help="seconds per run (10)")
    p.add_argument("--idle-connections", type=int, default=None, help="mode G (10000)")
    p.add_argument("--hold", type=float, default=None, help="mode G: seconds they are held (10)")
    p.add_argument("--recovery-messages", type=int, default=None, help="mode H (1000000)")
    p.add_argument("--quick", action="store_true",
                   help="smoke mode: 2 s runs, 1 repeat, 1000 idle connections, 100000 messages")
    p.add_argument("--work-dir", help="brokers' config and data (default: a new temp dir)")
    p.add_argument("--keep-work", action="store_true",
                   help="keep the work dir (logs, journals) instead of removing it at the end")
    p.add_argument("--results", help="JSON lines file (bench/results/<timestamp>.jsonl)")
    p.add_argument("--doc", default=str(REPO / "docs" / "benchmarks.md"))
    p.add_argument("--chart", default=None, help="PNG (next to --doc, benchmarks.png)")
    p.add_argument("--pool", action="store_true",
                   help="with several --report files: pool the runs of every file whose "
                        "settings for a broker match the last one's")
    p.add_argument("--notes", help="a Markdown file whose text goes into the doc's Notes")
    p.add_argument("--report", metavar="JSONL", nargs="+",
                   help="only write the doc and chart from existing results files (for each "
                        "broker, the runs of the last file that has it)")
    a = p.parse_args(argv)
    q = a.quick
    a.repeat = a.repeat or (1 if q else 3)
    a.duration = a.duration or (2 if q else 10)
    a.idle_connections = a.idle_connections or (1000 if q else 10000)
    a.hold = a.hold or (3 if q else 10)
    a.recovery_messages = a.recovery_messages or (100000 if q else 1000000)
    a.chart = a.chart or str(Path(a.doc).with_suffix(".png"))
    return a


def main(argv=None) -> int:
    a = parse(argv if argv is not None else sys.argv[1:])
    notes = Path(a.notes).read_text() if a.notes else ""
    if a.report:
        report.write([Path(r) for r in a.report], Path(a.doc), Path(a.chart), notes, a.pool, a.notes or "")
        print(f"wrote {a.doc} and {a.chart}")
        return 0
    names = [n.strip() for n in a.only.split(",") if n.strip()]
    bad = [n for n in names if n not in PORTS]
    if bad:
        sys.exit(f"unknown broker(s) {bad}; choose from {list(PORTS)}")
    every = all_scenarios(a.idle_connections, a.recovery_messages, a.fair_subscribers, a.fair_rate)
    keys = [k.strip().upper() for k in a.scenarios.split(",") if k.strip()]
    if any(k not in every for k in keys):
        sys.exit(f"unknown scenario in {keys}; choose from {list(every)}")
    chosen = {k: every[k] for k in every if k in keys}

    probe = subprocess.run([a.ferry_bin, "bench", "--help"], capture_output=True, text=True)
    if probe.returncode != 0 or "--tcp-ceiling" not in probe.stdout:
        sys.exit(f"{a.ferry_bin} has no `ferry bench` (the load generator); build a checkout "
                 "that has it, or pass --ferry-bin PATH")
    brokers.raise_nofile()
    work = Path(a.work_dir or tempfile.mkdtemp(prefix="ferry-compare-", dir="/var/tmp"))
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    results_path = Path(a.results or REPO / "bench" / "results" / f"{stamp}.jsonl")
    results = runner.Results(results_path)
    chosen_brokers = brokers.pick(names, work, a.ferry_bin, PORTS)
    results.write({
        "type": "meta", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(), "idle_connections": a.idle_connections,
        "recovery_messages": a.recovery_messages,
        "options": {"repeat": a.repeat, "duration": a.duration, "quick": a.quick,
                    "hold": a.hold, "scenarios": list(chosen), "brokers": names},
        "brokers": [{"name": b.name, "version": b.version(), "port": b.port,
                     "durability": b.durability, "settings": b.settings}
                    for b in chosen_brokers],
    })
    print(f"results: {results_path}\nwork dir: {work}", flush=True)
    plan = runner.Plan(a.ferry_bin, a.duration, a.repeat, a.hold, chosen)
    if "F" in chosen or "C" in chosen:
        runner.say("== raw loopback TCP (the yardstick of F and C)")
        runner.tcp_ceiling(plan, results)
    if "D" in chosen:
        runner.say("== raw loopback relay (mode D's floor)")
        runner.tcp_relay(plan, results)
    for b in chosen_brokers:
        try:
            runner.run_broker(plan, b, results)
        except (RuntimeError, OSError) as e:
            runner.say(f"  {b.name}: {e}")
            results.write({"type": "check", "broker": b.name, "problems": [str(e)[:2000]]})
            b.stop()
    results.file.close()
    if a.work_dir is None and not a.keep_work:
        shutil.rmtree(work, ignore_errors=True)
    report.write(results_path, Path(a.doc), Path(a.chart), notes, notes_path=a.notes or "")
    print(f"wrote {a.doc}, {a.chart} and {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
