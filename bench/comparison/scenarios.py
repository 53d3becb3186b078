"""Scenarios A–H of the comparison: what `ferry bench` is asked to do, which
figure of its JSON answer is compared, and which way is better.

Every run uses a destination of its own (the run's label in the name), so a
run never sees messages left over by another.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Scenario:
    key: str
    title: str
    # ferry bench arguments (without --server/--login/--duration/--label);
    # "{dest}" is replaced by a unique name per run.
    args: list[str] = field(default_factory=list)
    metric: str = "recv_rate"   # key in the bench JSON (dotted for latency_us.p99)
    unit: str = "msg/s"
    higher_is_better: bool = True
    target: str = ""
    kind: str = "load"          # load | tcp | idle | recovery | fairness


def all_scenarios(idle_connections: int, recovery_messages: int,
                  fair_subscribers: int = 2000, fair_rate: int = 100) -> dict[str, Scenario]:
    kb = ["--size", "1024"]
    s = [
        Scenario("A", "queue, non-persistent, 1 producer → 1 consumer, 1 KB",
                 ["--destination", "/queue/{dest}", "--producers", "1", "--consumers", "1", *kb],
                 target="≥ 10× the faster peer"),
        Scenario("B", "queue, persistent, receipts (window 256), client-individual acks, "
                      "prefetch 256, 1 → 1, 1 KB",
                 ["--destination", "/queue/{dest}", "--producers", "1", "--consumers", "1", *kb,
                  "--persistent", "--receipt-window", "256", "--ack", "client-individual",
                  "--prefetch", "256"],
                 target="≥ 10× the faster peer, with receipts sent after fdatasync"),
        Scenario("C", "topic fan-out, 1 producer → 10 subscribers, 1 KB (deliveries/s)",
                 ["--destination", "/topic/{dest}", "--producers", "1", "--consumers", "10", *kb],
                 target="≥ 10× the faster peer"),
        Scenario("D", "latency at 2,000 msg/s, queue 1 → 1, 1 KB",
                 ["--destination", "/queue/{dest}", "--producers", "1", "--consumers", "1", *kb,
                  "--rate", "2000"],
                 metric="latency_us.p99", unit="µs (p99)", higher_is_better=False,
                 target="p99 ≤ 1/10 of the better peer's"),
        Scenario("E", "queue, 4 producers → 4 consumers, 1 KB",
                 ["--destination", "/queue/{dest}", "--producers", "4", "--consumers", "4", *kb],
                 target="≥ 10× the faster peer"),
        Scenario("F", "64 KB messages, queue 1 → 1, against raw loopback TCP",
                 ["--destination", "/queue/{dest}", "--producers", "1", "--consumers", "1",
                  "--size", "65536"],
                 metric="mb_per_s", unit="MB/s", target="≥ 50% of raw loopback TCP"),
        Scenario("G", f"{idle_connections:,} idle connections with heart-beats (10 s): "
                      "broker RSS per connection",
                 ["--idle-connections", str(idle_connections), "--heart-beat", "10000"],
                 metric="kib_per_connection", unit="KiB/connection", higher_is_better=False,
                 target="≤ 10 KB per idle connection", kind="idle"),
        Scenario("H", f"recovery of a journal holding {recovery_messages:,} persistent 1 KB "
                      "messages (start → listening)",
                 ["--destination", "/queue/{dest}", "--producers", "4", "--consumers", "0", *kb,
                  "--persistent", "--receipt-window", "256",
                  "--count", str(recovery_messages // 4)],  # per producer
                 metric="recovery_s", unit="s", higher_is_better=False, target="< 3 s",
                 kind="recovery"),
        # Fairness (issue 18 item 10): a topic with many subscribers and a
        # steady publisher must not stall the broker's other clients. The
        # figure is the round trip of SEND + RECEIPT (persistent:false) on
        # another queue, from a separate connection, while the fan-out runs.
        Scenario("I", f"fairness: SEND+receipt round trip on another queue while a topic fans "
                      f"{fair_rate:,} msg/s out to {fair_subscribers:,} subscribers, 1 KB",
                 ["--destination", "/topic/{dest}", "--producers", "1",
                  "--consumers", str(fair_subscribers), *kb, "--rate", str(fair_rate)],
                 metric="rtt_ms.p99", unit="ms (p99 round trip)", higher_is_better=False,
                 target="p99 < 50 ms, max < 250 ms", kind="fairness"),
    ]
    return {x.key: x for x in s}


def metric_of(result: dict, metric: str):
    """The figure named by a dotted key, or None."""
    value = result
    for part in metric.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value
