"""Turns a results file (bench/results/<timestamp>.jsonl) into
docs/benchmarks.md and docs/benchmarks.png: the median of each scenario per
broker, Ferry's ratio to each peer, and whether the issue's target is met."""
from __future__ import annotations

import json
import statistics
from pathlib import Path

from .scenarios import Scenario, all_scenarios, metric_of

PEERS = ("rabbitmq", "activemq")
NAMES = {"ferry": "Ferry", "rabbitmq": "RabbitMQ", "activemq": "ActiveMQ", "tcp": "raw TCP",
         "relay": "raw relay, no broker"}
# Yardsticks measured without a broker, in the session that measured Ferry:
# raw TCP throughput for F, the two-hop relay's latency for D.
YARDSTICKS = {"F": "tcp", "D": "relay"}
# Scenarios whose bytes are also compared with the raw TCP of the same
# session (stored as F's runs): C moves every subscriber's copy.
CEILING_OF = ("C",)


def ceiling_share(t: "Table", key: str, broker: str):
    """A broker's bytes/s in scenario `key` as a fraction of raw loopback
    TCP's (64 KB writes, the session that measured Ferry), or None."""
    tcp = t.median("F", "tcp", "mb_per_s")
    mine = t.median(key, broker, "mb_per_s")
    return ratio(mine, tcp)


def ceiling_text(t: "Table", key: str) -> str:
    """"N% of raw loopback TCP (M MB/s)", with each peer's share beside it."""
    tcp = t.median("F", "tcp", "mb_per_s")
    ferry = ceiling_share(t, key, "ferry")
    if tcp is None or ferry is None:
        return ""
    text = f"{100 * ferry:.0f}% of raw loopback TCP ({fmt(tcp)} MB/s)"
    peers = [f"{NAMES[p]} {100 * ceiling_share(t, key, p):.0f}%" for p in PEERS
             if ceiling_share(t, key, p) is not None]
    if peers:
        text += f" (peers: {', '.join(peers)})"
    return text


def load(path: Path) -> tuple[dict, list[dict]]:
    meta, runs = {}, []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        if d.get("type") == "meta":
            meta = d
        elif d.get("type") in ("run", "check"):
            runs.append(d)
    return meta, runs


def med(values):
    values = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(values) if values else None


def fmt(v, unit=""):
    if v is None:
        return "—"
    if isinstance(v, float) and abs(v) < 100:
        s = f"{v:,.2f}"
    else:
        s = f"{v:,.0f}"
    return s + (f" {unit}" if unit else "")


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


class Table:
    """Medians per (scenario, broker) from the run lines."""

    def __init__(self, runs: list[dict], scenarios: dict[str, Scenario]):
        self.runs = [r for r in runs if r.get("type") == "run"]
        self.checks = {r["broker"]: r["problems"] for r in runs if r.get("type") == "check"}
        self.scenarios = scenarios

    def of(self, key: str, broker: str) -> list[dict]:
        return [r for r in self.runs if r["scenario"] == key and r["broker"] == broker]

    @staticmethod
    def valid(r: dict) -> bool:
        """A run whose figures count: it answered, and no connection got an
        ERROR or was lost (such a run is listed with its first error instead)."""
        res = r.get("result")
        return bool(res) and not res.get("errors") and not res.get("connections_lost")

    def median(self, key: str, broker: str, metric: str):
        return med([metric_of(r["result"], metric) for r in self.of(key, broker)
                    if self.valid(r)])

    def total(self, key: str, broker: str, field: str):
        vals = [r["result"].get(field) for r in self.of(key, broker) if r["result"]]
        vals = [v for v in vals if isinstance(v, (int, float))]
        return sum(vals) if vals else None

    def failures(self, key: str, broker: str) -> int:
        return sum(1 for r in self.of(key, broker) if not r["result"])

    def brokers(self, key: str) -> list[str]:
        return [b for b in ("ferry", *PEERS) if self.of(key, b)]


def verdict(t: Table, sc: Scenario) -> tuple[str, str]:
    """(figure that decides, met / not met / not measured) for the issue's target."""
    ferry = t.median(sc.key, "ferry", sc.metric)
    if ferry is None:
        return "Ferry not measured", "not measured"
    if sc.key in CEILING_OF and not any(t.of(sc.key, p) for p in PEERS) and ceiling_text(t, sc.key):
        return f"no peer measured; bytes: {ceiling_text(t, sc.key)}", "not measured"
    broken = [NAMES[p] for p in PEERS if t.of(sc.key, p) and t.median(sc.key, p, sc.metric) is None]
    if broken and sc.key in ("A", "B", "C", "D", "E"):
        return f"{' and '.join(broken)} had no valid run", "not decided"
    if sc.key in ("A", "B", "C", "E"):
        peers = [t.median(sc.key, p, sc.metric) for p in PEERS]
        peers = [p for p in peers if p]
        if not peers:
            return "no peer measured", "not measured"
        r = ferry / max(peers)
        text = f"{r:.2f}× the faster peer"
        if sc.key in CEILING_OF and ceiling_text(t, sc.key):
            text += f"; bytes: {ceiling_text(t, sc.key)}"
        return text, "met" if r >= 10 else "not met"
    if sc.key == "D":
        peers = [t.median(sc.key, p, sc.metric) for p in PEERS]
        peers = [p for p in peers if p]
        if not peers or not ferry:
            return "no peer measured", "not measured"
        r = min(peers) / ferry
        text = f"Ferry's p99 is 1/{r:.2f} of the better peer's"
        relay = t.median("D", "relay", sc.metric)
        if relay:
            text += (f" (target {min(peers) / 10:,.0f} µs; the raw relay with no broker, two loopback "
                     f"hops and nothing else, has a p99 of {relay:,.0f} µs here)")
        return text, "met" if r >= 10 else "not met"
    if sc.key == "F":
        tcp = t.median("F", "tcp", "mb_per_s")
        if not tcp:
            return "raw TCP not measured", "not measured"
        r = ferry / tcp
        return f"{100 * r:.0f}% of raw TCP", "met" if r >= 0.5 else "not met"
    if sc.key == "G":
        kb = ferry * 1024 / 1000
        return f"{kb:.1f} KB per connection", "met" if kb <= 10 else "not met"
    if sc.key == "H":
        return f"{ferry:.2f} s", "met" if ferry < 3 else "not met"
    return "", ""


def scenario_section(t: Table, sc: Scenario) -> list[str]:
    out = [f"### {sc.key}. {sc.title}", ""]
    brokers = t.brokers(sc.key)
    if not brokers:
        return out + ["Not run.", ""]
    ferry = t.median(sc.key, "ferry", sc.metric)
    load = sc.kind == "load"
    head = ["broker", f"median {sc.unit}", "Ferry ÷ this" if sc.higher_is_better
            else "this ÷ Ferry (× better)"]
    if load:
        head += ["send msg/s", "recv msg/s", "MB/s", "p50 / p99 / p99.9 µs",
                 "lost", "dup", "errors", "stalls", "runs"]
    elif sc.kind == "idle":
        head += ["connected", "RSS before → held (MiB)", "runs"]
    elif sc.kind == "recovery":
        head += ["journal", "fill (msg/s)", "runs"]
    out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows = list(brokers)
    if sc.key in YARDSTICKS and t.of(sc.key, YARDSTICKS[sc.key]):
        rows.append(YARDSTICKS[sc.key])
    for b in rows:
        metric = "mb_per_s" if b == "tcp" else sc.metric
        v = t.median(sc.key, b, metric)
        if b in ("ferry", "tcp", "relay"):
            r = ""
            if b == "tcp":
                r = f"{ferry / v:.2f}" if ferry and v else "—"
        else:
            r = ratio(ferry, v) if sc.higher_is_better else ratio(v, ferry)
            r = f"{r:.2f}" if r is not None else "—"
        runs = t.of(sc.key, b)
        n_ok = sum(1 for x in runs if t.valid(x))
        cells = [NAMES[b], fmt(v), r]
        if b == "relay":
            lat = [fmt(t.median(sc.key, b, f"latency_us.{p}")) for p in ("p50", "p99", "p999")]
            cells += ["", "", "", " / ".join(lat), "", "", "", "", f"{n_ok}/{len(runs)}"]
        elif load and b != "tcp":
            lat = [fmt(t.median(sc.key, b, f"latency_us.{p}")) for p in ("p50", "p99", "p999")]
            cells += [fmt(t.median(sc.key, b, "send_rate")), fmt(t.median(sc.key, b, "recv_rate")),
                      fmt(t.median(sc.key, b, "mb_per_s")), " / ".join(lat),
                      fmt(t.total(sc.key, b, "lost")), fmt(t.total(sc.key, b, "duplicates")),
                      fmt(t.total(sc.key, b, "errors")), fmt(t.total(sc.key, b, "stalls")),
                      f"{n_ok}/{len(runs)}"]
        elif load:
            cells += ["", "", fmt(v), "", "", "", "", "", f"{n_ok}/{len(runs)}"]
        elif sc.kind == "idle":
            before = med([x.get("rss_before_kib") for x in runs])
            held = med([x.get("rss_held_kib") for x in runs])
            conn = med([x["result"].get("connected") for x in runs if x["result"]])
            asked = med([x["result"].get("connections") for x in runs if x["result"]])
            cells += [f"{fmt(conn)} of {fmt(asked)}",
                      f"{fmt(before and before / 1024)} → {fmt(held and held / 1024)}",
                      f"{n_ok}/{len(runs)}"]
        elif sc.kind == "recovery":
            jb = med([x["result"].get("journal_bytes") for x in runs if x["result"]])
            fill = runs[0].get("fill") or {}
            cells += [f"{jb / 1e9:.2f} GB" if jb else "—", fmt(fill.get("send_rate")),
                      f"{n_ok}/{len(runs)}"]
        out.append("| " + " | ".join(cells) + " |")
    figure, state = verdict(t, sc)
    out += ["", f"Target: {sc.target}. Measured: {figure}. **{state.capitalize()}.**", ""]
    if sc.key in CEILING_OF and ceiling_text(t, sc.key):
        shares = [f"{NAMES[b]} {fmt(t.median(sc.key, b, 'mb_per_s'))} MB/s = "
                  f"{100 * ceiling_share(t, sc.key, b):.0f}%" for b in brokers
                  if ceiling_share(t, sc.key, b) is not None]
        out += [f"Against the loopback ceiling (raw TCP, 64 KB writes, no broker, measured in the "
                f"same session: {fmt(t.median('F', 'tcp', 'mb_per_s'))} MB/s): " + "; ".join(shares)
                + ". Message bodies only; frame headers and the producer's copy are not counted.", ""]
    errs = [x for b in rows for x in t.of(sc.key, b) if not t.valid(x)]
    for x in errs[:4]:
        text = x.get("error") or (x.get("result") or {}).get("first_error") or "errors counted"
        first = " ".join(text.strip().splitlines()[:3])[:300].replace("`", "'")
        out.append(f"- {NAMES[x['broker']]} run {x['run']} left out of the median: `{first}`")
    if errs:
        out.append("")
    return out


def chart(t: Table, scenarios: dict[str, Scenario], png: Path):
    try:
        import matplotlib
    except ImportError:  # bench/compare installs it; main.py run by hand may lack it
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k, sc in scenarios.items() if t.brokers(k)]
    if not keys:
        return False
    cols = 4
    rows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.4 * rows), squeeze=False)
    colors = {"ferry": "#d9641e", "rabbitmq": "#7b7b7b", "activemq": "#4a78b0", "tcp": "#2f9e44",
              "relay": "#2f9e44"}
    for ax, key in zip(axes.flat, keys):
        sc = scenarios[key]
        extra = YARDSTICKS.get(key)
        names = t.brokers(key) + ([extra] if extra and t.of(key, extra) else [])
        vals = [t.median(key, b, "mb_per_s" if b == "tcp" else sc.metric) or 0 for b in names]
        bars = ax.bar([NAMES[b] for b in names], vals, color=[colors[b] for b in names])
        for bar, v in zip(bars, vals):
            ax.annotate(fmt(v), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8)
        better = "higher is better" if sc.higher_is_better else "lower is better"
        ax.set_title(f"{key}: {sc.unit} ({better})", fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.margins(y=0.15)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.suptitle("Ferry vs RabbitMQ vs ActiveMQ over STOMP (medians; see docs/benchmarks.md)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return True


def merge(paths: list[Path], pool: bool = False) -> tuple[dict, list[dict]]:
    """Several results files as one: for each broker (and raw TCP), the runs
    of the last file that has any (raw TCP: Ferry's file); meta from the
    first, with each broker's entry from the file its runs come from.
    pool: the runs of every file whose entry for that broker has the same
    settings as the last one (so a median is taken over more sessions)."""
    loaded = [load(p) for p in paths]
    meta = dict(loaded[0][0])
    meta["dates"] = [m.get("date", "?") for m, _ in loaded]
    source: dict[str, int] = {}
    for i, (_, runs) in enumerate(loaded):
        for r in runs:
            source[r["broker"]] = i
    if pool:
        def settings(i, name):
            for b in loaded[i][0].get("brokers", []):
                if b["name"] == name:
                    return b["settings"]
            return None
        pooled = []
        for name, last in source.items():
            # raw TCP counts from the sessions that measured Ferry
            like = "ferry" if name in ("tcp", "relay") and "ferry" in source else name
            files = [i for i, (_, rs) in enumerate(loaded)
                     if any(r["broker"] == name for r in rs)
                     and any(r["broker"] == like for r in rs)
                     and settings(i, like) == settings(source[like], like)]
            pooled += [r for i in files for r in loaded[i][1] if r["broker"] == name]
        entries = {b["name"]: b for i in range(len(loaded)) for b in loaded[i][0].get("brokers", [])
                   if source.get(b["name"]) == i}
        meta["brokers"] = [entries[n] for n in ["ferry", *PEERS] if n in entries]
        meta["sources"] = {n: paths[i].as_posix() for n, i in source.items()}
        meta["pooled"] = True
        return meta, pooled
    # F's yardstick is the raw TCP measured in the same session as Ferry.
    for yard in YARDSTICKS.values():
        if "ferry" in source and any(r["broker"] == yard for r in loaded[source["ferry"]][1]):
            source[yard] = source["ferry"]
    runs = [r for i, (_, rs) in enumerate(loaded) for r in rs if source.get(r["broker"]) == i]
    entries = {}
    for i, (m, _) in enumerate(loaded):
        for b in m.get("brokers", []):
            if source.get(b["name"], i) == i:
                entries[b["name"]] = b
    order = ["ferry", *PEERS]
    meta["brokers"] = [entries[n] for n in order if n in entries]
    if len(loaded) > 1:
        meta["sources"] = {n: paths[i].as_posix() for n, i in source.items()}
    return meta, runs


def write(results: Path | list[Path], doc: Path, png: Path, notes: str = "",
          pool: bool = False, notes_path: str = ""):
    paths = results if isinstance(results, list) else [results]
    meta, runs = merge(paths, pool)
    results = paths[0]
    scenarios = all_scenarios(meta.get("idle_connections", 10000),
                              meta.get("recovery_messages", 1000000))
    t = Table(runs, scenarios)
    have_chart = chart(t, scenarios, png)
    m = meta.get("machine", {})
    o = meta.get("options", {})
    out = [
        "# Benchmarks: Ferry, RabbitMQ and ActiveMQ side by side",
        "",
        "Produced by `bench/compare` (see the README's benchmark section); "
        "regenerate this page from the raw lines with "
        f"`bench/compare --report {' '.join(p.as_posix() for p in paths)}"
        f"{' --pool' if meta.get('pooled') else ''}{' --notes ' + notes_path if notes_path else ''}`.",
        "",
        (f"- Date: {meta.get('date', '?')}" if len(meta.get("dates", [])) < 2 else
         f"- Dates: {len(meta['dates'])} sessions, {meta['dates'][0]} to {meta['dates'][-1]}"),
        f"- Machine: {m.get('cores', '?')} cores ({m.get('model', '?')}), "
        f"{m.get('memory', '?')} memory, {m.get('kernel', '?')}. "
        "A shared VM: other jobs ran on the same two cores, so figures move by tens of "
        "percent between runs; the median of the repeats is reported.",
        f"- Runs: {o.get('repeat', '?')} per scenario and broker"
        + (" in each session" if meta.get("pooled") else "")
        + f", {o.get('duration', '?')} s each"
        + (" (quick mode: a smoke test, not a measurement)" if o.get("quick") else "") + ".",
        "- Load generator: `ferry bench` (C++, the same binary for every broker), on the same "
        "machine, over loopback. Each broker runs alone: started before its scenarios, "
        "stopped (by PID) before the next one starts.",
        "- Raw results (one JSON line per run): " + (
            "the runs of " + ", ".join(f"`{p.as_posix()}`" for p in paths) + ", pooled: for "
            "each broker, every file whose settings for it match the last file's"
            if meta.get("pooled") else
            ", ".join(f"`{p.as_posix()}`" for p in paths) if len(paths) == 1 else
            "; ".join(f"{', '.join(NAMES.get(n, n) for n in sorted(meta['sources']) if meta['sources'][n] == p.as_posix())}"
                      f" from `{p.as_posix()}`" for p in paths)) + ".",
        "",
        "## Brokers",
        "",
        "| broker | version | STOMP port | what a RECEIPT to a persistent SEND means | settings |",
        "|---|---|---|---|---|",
    ]
    for b in meta.get("brokers", []):
        problems = t.checks.get(b["name"])
        note = "" if not problems else f" (STOMP check failed: {'; '.join(problems)})"
        servers = sorted({r["result"].get("server") for r in t.runs
                          if r["broker"] == b["name"] and r.get("result")
                          and r["result"].get("server")})
        version = b["version"] + (f" (CONNECTED says {', '.join(servers)})" if servers else "")
        out.append(f"| {NAMES.get(b['name'], b['name'])} | {version} | {b['port']} | "
                   f"{b['durability']} | {'; '.join(b['settings'])}{note} |")
    out += ["", "## Targets (issue 4)", "", "| scenario | target | measured | state |",
            "|---|---|---|---|"]
    for key, sc in scenarios.items():
        if not t.brokers(key):
            continue
        figure, state = verdict(t, sc)
        out.append(f"| {key}. {sc.title} | {sc.target} | {figure} | {state} |")
    out += [""]
    if have_chart:
        out += [f"![medians per scenario]({png.name})", ""]
    if notes:
        out += ["## Notes", "", notes.strip(), ""]
    out += ["## How to read the figures", "",
            "- A, B, C, E and F are unpaced: the producers send as fast as the broker takes "
            "messages for the run's duration. *recv msg/s* is what the consumers received "
            "divided by the time from their first to their last message (for C it counts every "
            "subscriber's copy); it is the figure compared. *send msg/s* can be higher when "
            "the broker buffers what its consumers have not taken yet.",
            "- *lost* counts expected messages that had not arrived when the drain timeout "
            "(10 s after the producers stopped) ran out: a broker far behind its producers "
            "shows messages it still holds as lost. *dup*, *errors* (ERROR frames) and "
            "*stalls* are `ferry bench`'s counts; a run with an ERROR or a lost connection is "
            "left out of the median and named under its table.",
            "- The p50/p99 of unpaced runs are mostly time spent queued in the broker; "
            "D (paced at 2,000 msg/s) is the latency measurement.",
            "- G: the broker's resident memory (its whole process tree, from /proc) is read "
            "after start-up and then every 0.5 s while `ferry bench` holds the idle "
            "connections; the peak minus the start-up figure is divided by the connections "
            "that got CONNECTED. The broker is restarted before each run.",
            "- The load generator runs on the same cores as the broker, so a broker that "
            "needs fewer CPU cycles per message also leaves more to the generator.",
            ""]
    out += ["## Scenarios", "",
            "Each table gives the median of the runs; *Ferry ÷ this* is Ferry's figure over "
            "the peer's (above 1: Ferry is faster); for latency and memory it is the peer's "
            "over Ferry's (above 1: Ferry is lower). lost, dup, errors and stalls are totals "
            "over all runs as `ferry bench` counted them.", ""]
    for sc in scenarios.values():
        out += scenario_section(t, sc)
    # The micro-benchmarks have their own runner; their last results go here
    # so this page keeps them when it is regenerated.
    micro_dir = Path(__file__).resolve().parents[1] / "micro"
    for title, name, how in (("Micro-benchmarks: parser, encoder, journal append path", "RESULTS.md",
                              "bench/micro/run"),
                             ("Allocations per delivered message", "ALLOCATIONS.md", "bench/allocations")):
        f = micro_dir / name
        out += ["", f"## {title}", ""]
        out += [f.read_text().strip() if f.exists() else f"Not run yet: `{how}`.", ""]
    doc.write_text("\n".join(out).rstrip() + "\n")
