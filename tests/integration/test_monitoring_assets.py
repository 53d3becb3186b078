"""The Grafana dashboard and Prometheus alert rules the repository ships
(packaging/monitoring/): every expression parses (Prometheus' own promtool,
taken from Debian's package by scripts/debian-tool.sh) and names only metrics a
running Ferry exports."""
from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from support import client, unique

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "packaging" / "monitoring"
RULES = ASSETS / "ferry-alerts.yml"
DASHBOARD = ASSETS / "ferry-dashboard.json"
# Series that do not come from Ferry: Prometheus' own scrape health.
NOT_FERRY = {"up"}


def promtool() -> str:
    r = subprocess.run(["bash", str(ROOT / "scripts" / "debian-tool.sh"), "prometheus", "usr/bin/promtool"],
                       capture_output=True, text=True)
    assert r.returncode == 0, "scripts/debian-tool.sh failed: " + r.stderr
    return r.stdout.strip().splitlines()[-1]


def dashboard_exprs() -> list[str]:
    d = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in d["panels"] for t in p["targets"]]
    exprs += [a["expr"] for a in d["annotations"]["list"] if "expr" in a]
    return exprs


def rule_exprs() -> list[str]:
    # promtool has parsed the file; a plain scan finds each `expr:` line.
    return [m.group(1) for m in re.finditer(r"^\s*expr:\s*(.+)$", RULES.read_text(), re.M)]


def metric_names(expr: str) -> set[str]:
    # A metric name is an identifier followed by `{`, `[`, whitespace, `)`
    # or the end, that is not a function, keyword, label or template.
    expr = re.sub(r'"[^"]*"', '""', expr)          # label values
    expr = re.sub(r"\{[^}]*\}", "{}", expr)       # label matchers
    names = set()
    for m in re.finditer(r"(?<![\w$.])([a-zA-Z_:][\w:]*)\s*(?=[{\[)\s]|$|[-+*/<>=!])", expr):
        word = m.group(1)
        after = expr[m.end():].lstrip()
        if after.startswith("("):
            continue  # a function call
        if word in {"by", "without", "on", "ignoring", "and", "or", "unless", "group_left", "group_right",
                    "offset", "bool", "le", "sum", "min", "max", "avg", "count", "topk", "bottomk", "group",
                    "quantile", "stddev", "stdvar", "count_values", "instance", "vhost", "topic", "subscription", "queue"}:
            continue
        names.add(word)
    return names


def exported(broker) -> set[str]:
    # Make every per-destination family non-empty: a queue, a topic, a
    # durable subscription, a journaled message (fsync histogram).
    c = client(broker.port, extra={"client-id": "mon"})
    c.subscribe("/topic/" + unique("t"), "d", headers={"activemq.subscriptionName": "s"})
    c.send("/queue/" + unique(), "x", headers={"persistent": "true"})
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % broker.http_port, timeout=10) as r:
        text = r.read().decode()
    c.close()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def test_alert_rules_pass_promtool():
    r = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_dashboard_expressions_parse(tmp_path):
    """Each panel's query, written as a recording rule, passes promtool (the
    dashboard's $instance variable is given a value as Grafana would)."""
    exprs = dashboard_exprs()
    assert len(exprs) >= 15
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": "dashboard:expr_%d" % i, "expr": e.replace("$instance", ".*")} for i, e in enumerate(exprs)]}]}
    f = tmp_path / "dashboard-rules.yml"
    f.write_text(json.dumps(rules))  # JSON is YAML
    r = subprocess.run([promtool(), "check", "rules", str(f)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_metric_named_is_exported(broker):
    names = exported(broker)
    used = set()
    for e in dashboard_exprs() + rule_exprs():
        used |= metric_names(e)
    assert {"ferry_queue_messages_ready", "process_open_fds", "ferry_journal_fsync_seconds_bucket"} <= used
    missing = sorted(used - names - NOT_FERRY)
    assert not missing, "named but not exported: %s" % missing
