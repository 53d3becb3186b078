"""Runs the scenarios against one broker after another and appends one JSON
line per run to the results file. The brokers are started and stopped here;
the load comes from `ferry bench`."""
from __future__ import annotations

import json
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import brokers, stomp_check
from .scenarios import Scenario


@dataclass
class Plan:
    ferry_bin: str
    duration: float
    repeat: int
    hold: float
    scenarios: dict[str, Scenario]


class Results:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(path, "a")

    def write(self, line: dict):
        line.setdefault("time", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        self.file.write(json.dumps(line) + "\n")
        self.file.flush()


def say(text: str):
    print(text, flush=True)


class RssWatch:
    """Samples a broker's RSS (its whole process tree) while a run goes on."""

    def __init__(self, pid: int, every: float = 0.25):
        self.pid, self.every = pid, every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, brokers.rss_kib(self.pid))
            self._stop.wait(self.every)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def run_bench(plan: Plan, extra: list[str], label: str, timeout: float) -> tuple[dict | None, str]:
    """Runs ferry bench; returns (its last-line JSON or None, error text)."""
    cmd = [plan.ferry_bin, "bench", "--label", label, *extra]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s: {' '.join(cmd)}"
    lines = [l for l in out.stdout.splitlines() if l.strip()]
    if lines:
        try:
            result = json.loads(lines[-1])
            if out.returncode != 0:
                result.setdefault("exit_code", out.returncode)
            return result, ""
        except json.JSONDecodeError:
            pass
    return None, (f"exit {out.returncode}: {' '.join(cmd)}\n" + out.stderr[-2000:]
                  + out.stdout[-1000:])


def server_args(b: brokers.Broker) -> list[str]:
    return ["--server", f"127.0.0.1:{b.port}", "--login", b.login, "--passcode", b.passcode]


def load_args(sc: Scenario, b: brokers.Broker, name: str) -> list[str]:
    out = []
    for a in sc.args:
        if a == "/queue/{dest}":
            a = b.queue_destination(name)
        out.append(a.replace("{dest}", name))
    return out


def tcp_ceiling(plan: Plan, results: Results):
    """Raw loopback TCP with 64 KB writes, no broker: F's yardstick, and the
    ceiling C's bytes are compared with (stored once, as scenario F's)."""
    for run in range(plan.repeat):
        res, err = run_bench(plan, ["--tcp-ceiling", "--size", "65536",
                                    "--duration", str(plan.duration)],
                             f"tcp-F-{run}", plan.duration + 60)
        results.write({"type": "run", "broker": "tcp", "scenario": "F", "run": run,
                       "result": res, "error": err})
        say(f"  tcp ceiling run {run}: " + (f"{res.get('mb_per_s')} MB/s" if res else err))


def tcp_relay(plan: Plan, results: Results):
    """Mode D's floor: 1 KB at 2,000 msg/s through a relay thread over
    loopback TCP, no broker (two hops, as producer -> broker -> consumer)."""
    for run in range(plan.repeat):
        res, err = run_bench(plan, ["--tcp-relay", "--size", "1024", "--rate", "2000",
                                    "--duration", str(plan.duration)],
                             f"relay-D-{run}", plan.duration + 60)
        results.write({"type": "run", "broker": "relay", "scenario": "D", "run": run,
                       "result": res, "error": err})
        lat = (res or {}).get("latency_us") or {}
        say(f"  tcp relay run {run}: " + (f"p50/p99 {lat.get('p50')}/{lat.get('p99')} µs" if res else err))


def load_runs(plan: Plan, b: brokers.Broker, sc: Scenario, results: Results):
    for run in range(plan.repeat):
        label = f"{b.name}-{sc.key}-{run}"
        dest = f"cmp.{sc.key}.{b.name}.{run}.{int(time.time())}"
        watch = RssWatch(b.pid)
        res, err = run_bench(plan, [*server_args(b), *load_args(sc, b, dest),
                                    "--duration", str(plan.duration)],
                             label, plan.duration + 180)
        peak = watch.stop()
        alive = b.proc is not None and b.proc.poll() is None
        results.write({"type": "run", "broker": b.name, "scenario": sc.key, "run": run,
                       "result": res, "error": err, "rss_peak_kib": peak,
                       "broker_alive": alive})
        say(f"  {label}: " + (summary(sc, res) if res else "FAILED " + err))
        if not alive:
            raise RuntimeError(f"{b.name} died during {label}:\n{b.tail_log()}")


def summary(sc: Scenario, res: dict) -> str:
    lat = res.get("latency_us") or {}

    def n(v):
        return f"{v:,.0f}" if isinstance(v, (int, float)) else str(v)
    return (f"send {n(res.get('send_rate'))} recv {n(res.get('recv_rate'))} msg/s, "
            f"{n(res.get('mb_per_s'))} MB/s, p50/p99 {n(lat.get('p50'))}/{n(lat.get('p99'))} µs, "
            f"lost {res.get('lost')} dup {res.get('duplicates')} err {res.get('errors')}")


def idle_runs(plan: Plan, b: brokers.Broker, sc: Scenario, results: Results):
    """Mode G: a fresh broker each run; RSS settled before, peak while held."""
    for run in range(plan.repeat):
        b.stop()
        b.start()
        time.sleep(3)
        samples = []
        for _ in range(3):
            time.sleep(0.3)
            samples.append(brokers.rss_kib(b.pid))
        before = min(samples)
        watch = RssWatch(b.pid, every=0.5)
        res, err = run_bench(plan, [*server_args(b), *sc.args, "--hold", str(plan.hold)],
                             f"{b.name}-G-{run}", plan.hold + 600)
        held = watch.stop()
        line = {"type": "run", "broker": b.name, "scenario": "G", "run": run, "result": res,
                "error": err, "rss_before_kib": before, "rss_held_kib": held}
        if res and res.get("connected"):
            res["kib_per_connection"] = round((held - before) / res["connected"], 2)
        results.write(line)
        say(f"  {b.name}-G-{run}: " + (
            f"{res.get('connected')}/{res.get('connections')} connected, RSS {before} → "
            f"{held} KiB, {res.get('kib_per_connection')} KiB/connection" if res else err))


def recovery_runs(plan: Plan, b: brokers.Broker, sc: Scenario, results: Results):
    """Mode H (Ferry): fill a journal, then restart and time start → listening."""
    if not isinstance(b, brokers.Ferry):
        return
    b.stop()
    b.start()
    t = time.monotonic()
    fill, err = run_bench(plan, [*server_args(b), *load_args(sc, b, "cmp.recovery")],
                          "ferry-H-fill", 3600)
    fill_s = time.monotonic() - t
    say(f"  ferry-H fill: {fill_s:.1f} s " + (summary(sc, fill) if fill else "FAILED " + err))
    for run in range(plan.repeat):
        b.stop()
        journal = sum(f.stat().st_size for f in (b.work / "data").rglob("*") if f.is_file())
        b.start(fresh=False, ready_marker="listening on", timeout=600)
        rec = round(b.ready_at - b.started_at, 3)
        results.write({"type": "run", "broker": b.name, "scenario": "H", "run": run,
                       "result": {"recovery_s": rec, "journal_bytes": journal},
                       "fill": fill, "fill_s": round(fill_s, 1), "error": err})
        say(f"  ferry-H-{run}: recovery {rec} s, journal {journal / 1e9:.2f} GB")


class RoundTrips:
    """Another client of the broker: SEND with a receipt to a queue of its
    own, one at a time, every `every` s, timing each until its RECEIPT."""

    def __init__(self, b: brokers.Broker, queue: str, every: float = 0.02):
        self.rtts_ms: list[float] = []
        self.error = ""
        self._stop = threading.Event()
        self._conn = stomp_check._Conn(b.port, b.login, b.passcode)
        self._queue, self._every = queue, every
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        n = 0
        try:
            while not self._stop.is_set():
                n += 1
                t = time.perf_counter()
                self._conn.send("SEND", {"destination": self._queue, "receipt": f"r{n}",
                                         "persistent": "false"}, b"ping")
                while True:
                    cmd, headers, _ = self._conn.read()
                    if cmd == "RECEIPT" and headers.get("receipt-id") == f"r{n}":
                        break
                    if cmd == "ERROR":
                        raise RuntimeError(f"ERROR {headers.get('message')}")
                self.rtts_ms.append((time.perf_counter() - t) * 1000)
                self._stop.wait(self._every)
        except (OSError, RuntimeError) as e:
            self.error = str(e)

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        try:
            self._conn.close()
        except OSError:
            pass
        r = sorted(self.rtts_ms)

        def pct(p):
            return round(r[min(len(r) - 1, int(p / 100 * len(r)))], 2) if r else None
        return {"count": len(r), "p50": pct(50), "p99": pct(99), "max": round(r[-1], 2) if r else None}


def fairness_runs(plan: Plan, b: brokers.Broker, sc: Scenario, results: Results):
    """Scenario I: the fan-out load from `ferry bench` and round trips from
    another connection at the same time; prints p50/p99/max (never asserted)."""
    for run in range(plan.repeat):
        label = f"{b.name}-{sc.key}-{run}"
        dest = f"cmp.{sc.key}.{b.name}.{run}.{int(time.time())}"
        probe_queue = b.queue_destination(f"cmp.{sc.key}.probe.{run}.{int(time.time())}")
        rtt = RoundTrips(b, probe_queue)
        res, err = run_bench(plan, [*server_args(b), *load_args(sc, b, dest),
                                    "--duration", str(plan.duration)],
                             label, plan.duration + 300)
        trips = rtt.stop()
        if res is not None:
            res["rtt_ms"] = trips
        alive = b.proc is not None and b.proc.poll() is None
        results.write({"type": "run", "broker": b.name, "scenario": sc.key, "run": run,
                       "result": res, "error": err or rtt.error, "broker_alive": alive})
        say(f"  {label}: " + (f"round trip p50/p99/max {trips['p50']}/{trips['p99']}/{trips['max']} ms "
                              f"over {trips['count']} SENDs; fan-out {summary(sc, res)}"
                              if res else "FAILED " + err) + (f" (prober: {rtt.error})" if rtt.error else ""))
        if not alive:
            raise RuntimeError(f"{b.name} died during {label}:\n{b.tail_log()}")


def run_broker(plan: Plan, b: brokers.Broker, results: Results):
    say(f"== {b.name}: starting")
    t = time.monotonic()
    b.start()
    say(f"  up in {time.monotonic() - t:.1f} s (pid {b.pid}, port {b.port})")
    problems = stomp_check.check(b.port, b.login, b.passcode)
    results.write({"type": "check", "broker": b.name, "problems": problems})
    if problems:
        say(f"  STOMP check failed: {problems}")
        b.stop()
        return
    try:
        for sc in plan.scenarios.values():
            if sc.kind == "load":
                load_runs(plan, b, sc, results)
            elif sc.kind == "fairness":
                fairness_runs(plan, b, sc, results)
        for sc in plan.scenarios.values():
            if sc.kind == "idle":
                idle_runs(plan, b, sc, results)
            elif sc.kind == "recovery":
                recovery_runs(plan, b, sc, results)
    finally:
        b.stop()
        say(f"== {b.name}: stopped")


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None
