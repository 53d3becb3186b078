"""bench/compare --mqtt: Ferry and Debian's mosquitto side by side over MQTT.

Each broker runs as a child process (its own config and data under a temp
dir, fixed loopback ports), loaded by the same clients, Debian's
mosquitto_pub and mosquitto_sub (C, libmosquitto), so that the figures differ
by the broker only:

  M0  QoS 0 publish -> subscribe, 1 -> 1
  M1  QoS 1 publish -> subscribe, 1 -> 1 (libmosquitto's 20 in flight)
  F0  QoS 0, 1 -> --fanout subscribers (100), deliveries per second
  F1  QoS 1, 1 -> --fanout subscribers (100), deliveries per second

(fan-out runs publish a tenth of --messages).

A run starts mosquitto_sub on a topic of its own, then pipes --messages
lines of --size bytes into `mosquitto_pub -l`; its figure is messages
received per second, from the publisher's start to the last message
received (QoS 0 may lose messages: they are counted, not waited for, and
the report says how many arrived). Each scenario runs --repeat times per
broker, interleaved; the report gives each broker's median and the ratio
Ferry / mosquitto, from the same run. Figures only: nothing is asserted.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from comparison import brokers  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
STOMP_PORT = 61723   # Ferry's STOMP listener (its readiness check)
FERRY_MQTT = 18830
MOSQUITTO_MQTT = 18831


class FerryMqtt(brokers.Ferry):
    def command(self):
        cmd, env = super().command()
        return cmd + ["--mqtt-listen", f"127.0.0.1:{FERRY_MQTT}"], env


class Mosquitto(brokers.Broker):
    name = "mosquitto"

    def prepare(self):
        conf = self.work / "mosquitto.conf"
        conf.write_text(
            f"listener {MOSQUITTO_MQTT} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "log_dest stdout\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n")
        self.settings = ["listener on loopback, allow_anonymous true, persistence false",
                         "other options at their defaults (max_queued_messages 1000, max_inflight_messages 20)"]

    def command(self):
        # stdbuf: its log lines reach the file as they come (start() waits for "running").
        return (["stdbuf", "-oL", "/usr/sbin/mosquitto", "-c", str(self.work / "mosquitto.conf")], {})

    def version(self) -> str:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "mosquitto"], capture_output=True, text=True)
        return "mosquitto " + (out.stdout.strip() or "?")


def one_run(port: int, qos: int, messages: int, size: int, label: str, timeout: float,
            subscribers: int = 1) -> dict:
    topic = f"bench/{label}"
    subs = [subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", str(qos), "-t", topic,
                              "-C", str(messages), "-W", str(int(timeout)), "-u", "guest", "-P", "guest",
                              "-i", f"sub-{label}-{i}"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) for i in range(subscribers)]
    counts = [0] * subscribers
    last = [0.0]

    def count(i: int):
        for _ in subs[i].stdout:
            counts[i] += 1
            last[0] = time.monotonic()

    readers = [threading.Thread(target=count, args=(i,), daemon=True) for i in range(subscribers)]
    for r in readers:
        r.start()
    time.sleep(1.0 + subscribers / 50)  # subscriptions in place (mosquitto_sub says nothing without -d)
    payload = (b"x" * (size - 1)) + b"\n"
    data = payload * messages
    started = time.monotonic()
    pub = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", str(qos), "-t", topic, "-l",
                          "-u", "guest", "-P", "guest", "-i", "pub-" + label],
                         input=data, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
    for sub in subs:
        sub.wait(timeout=timeout + 5)
    for r in readers:
        r.join(5)
    elapsed = (last[0] or time.monotonic()) - started
    received = sum(counts)
    return {"received": received, "sent": messages * subscribers, "seconds": elapsed,
            "rate": received / elapsed if elapsed > 0 else 0.0, "pub_rc": pub.returncode}


def parse(argv):
    p = argparse.ArgumentParser(prog="bench/compare --mqtt", description=__doc__.split("\n")[0])
    p.add_argument("--ferry-bin", default=str(REPO / "build" / "ferry"), help="ferry binary (build/ferry)")
    p.add_argument("--messages", type=int, default=200000, help="messages per run (200000)")
    p.add_argument("--size", type=int, default=1024, help="payload bytes (1024)")
    p.add_argument("--repeat", type=int, default=3, help="runs per scenario and broker (3); median reported")
    p.add_argument("--scenarios", default="M0,M1,F0,F1", help="M0, M1 (QoS 0, 1; 1 -> 1), F0, F1 (fan-out)")
    p.add_argument("--fanout", type=int, default=100, help="subscribers of F0 and F1 (100)")
    p.add_argument("--quick", action="store_true", help="smoke mode: 20000 messages, 1 repeat")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds a run may take (120)")
    return p.parse_args(argv)


def main(argv) -> int:
    args = parse(argv)
    if args.quick:
        args.messages, args.repeat = 20000, 1
    qos_of = {"M0": 0, "M1": 1, "F0": 0, "F1": 1}
    scenarios = [s for s in args.scenarios.split(",") if s]
    brokers.raise_nofile()
    with tempfile.TemporaryDirectory(prefix="ferry-mqtt-compare-") as tmp:
        work = Path(tmp)
        ferry = FerryMqtt(work, STOMP_PORT, args.ferry_bin)
        mosq = Mosquitto(work, MOSQUITTO_MQTT)
        results: dict[tuple[str, str], list[dict]] = {}
        try:
            ferry.start()
            mosq.start(ready_marker="running")
            print(f"ferry: {ferry.version()}; {mosq.version()}; {args.messages} messages of {args.size} bytes, "
                  f"{args.repeat} run(s) each, interleaved", flush=True)
            for sc in scenarios:
                for i in range(args.repeat):
                    for b, port in ((ferry, FERRY_MQTT), (mosq, MOSQUITTO_MQTT)):
                        fan = sc.startswith("F")
                        r = one_run(port, qos_of[sc], args.messages // 10 if fan else args.messages, args.size,
                                    f"{sc}-{b.name}-{i}", args.timeout, args.fanout if fan else 1)
                        results.setdefault((sc, b.name), []).append(r)
                        print(f"  {sc} {b.name:9} run {i + 1}: {r['rate']:>10.0f} msg/s "
                              f"({r['received']}/{r['sent']} received in {r['seconds']:.2f} s)", flush=True)
        finally:
            ferry.stop()
            mosq.stop()
    print()
    print("(msg/s: messages received per second, all subscribers together)")
    print("| scenario | Ferry (median msg/s) | mosquitto (median msg/s) | Ferry / mosquitto | received (Ferry, mosquitto) |")
    print("|---|---|---|---|---|")
    for sc in scenarios:
        f = results[(sc, "ferry")]
        m = results[(sc, "mosquitto")]
        fm = statistics.median(r["rate"] for r in f)
        mm = statistics.median(r["rate"] for r in m)
        title = {"M0": "M0 QoS 0, 1 → 1", "M1": "M1 QoS 1, 1 → 1", "F0": f"F0 QoS 0, 1 → {args.fanout}",
                 "F1": f"F1 QoS 1, 1 → {args.fanout}"}[sc]
        ratio = f"{fm / mm:.2f}×" if mm > 0 else "—"
        sent = f[0]["sent"]
        recv = f"{min(r['received'] for r in f)}/{sent}, {min(r['received'] for r in m)}/{sent}"
        print(f"| {title}, {args.size} B | {fm:,.0f} | {mm:,.0f} | {ratio} | {recv} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
