"""The web console (docs/console.md) in headless Chromium against the real
broker: login, overview chart, queues with depth and sparkline, message
browser, purge / move / delete with confirmation, create queue, topics,
closing a connection; the Users and Vhosts pages of an administrator (users
file made with the real `ferry user` CLI; grants proven with stomp.py
logins) and what a monitoring user does not get. Traffic comes from stomp.py (and the raw STOMP client
where a test needs NACK frames); effects are checked over STOMP and the
management API, not only on screen. Screenshots of each page land in
tests/integration/logs/screenshots/.

Needs node, npm and Debian's chromium (scripts/deps.sh); tests/browser's
playwright-core is installed on first use (tests/browser/setup.sh)."""
from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.parse
import urllib.request

import pytest

from console_ui import ConsoleUI, setup_browser_packages
from mgmt import Api
from support import WAIT, PyListener, client, py_connect, py_rid, run_ferry, unique


@pytest.fixture
def shards():
    """One broker per test, with two shards (the API gathers from both): the
    console's pages are the same whatever the shard count, and each
    Chromium test costs seconds. The API itself is tested with 1 and 2
    shards by test_management.py and test_users_api.py."""
    return 2


@pytest.fixture(scope="session")
def browser_packages():
    setup_browser_packages()


@pytest.fixture
def console(request, broker, browser_packages):
    """A Chromium page logged in to `broker`'s console (guest/guest)."""
    ui = ConsoleUI("http://127.0.0.1:%d" % broker.http_port, request.node.name)
    ui.expected_errors = []
    try:
        ui.login()
        ui.wait("main[data-page=overview]")
        yield ui
        problems = [e for e in ui.errors()
                    if not any(x in e for x in ui.expected_errors)]
    finally:
        ui.close()
    assert not problems, "browser console errors: %s" % problems


def send_py(broker, dest: str, bodies, headers=None):
    """Sends each body with stomp.py and waits for the last receipt."""
    conn, lst = py_connect(broker.port)
    try:
        for i, body in enumerate(bodies):
            extra = {}
            if i == len(bodies) - 1:
                extra["receipt"] = rid = py_rid()
            conn.send(dest, body, headers=dict(headers or {}), **extra)
        lst.wait_receipt(rid)
    finally:
        conn.disconnect()


def drain_py(broker, dest: str, n: int) -> list[bytes]:
    """Receives n messages (auto ack) with stomp.py and checks nothing follows."""
    conn, lst = py_connect(broker.port)
    try:
        conn.subscribe(dest, id="drain", ack="auto")
        got = [lst.get().body for _ in range(n)]
        lst.none()
        return [b.encode() if isinstance(b, str) else b for b in got]
    finally:
        conn.disconnect()


def row(name: str, col: str | None = None) -> str:
    sel = '[data-testid=queue-row][data-queue="%s"]' % name
    return sel + (" [data-col=%s]" % col if col else "")


# ------------------------------------------------------------- serving

def test_console_is_embedded_in_the_binary(broker):
    """GET / serves index.html from the binary, and every asset it links
    loads with its content type (no Node, no files on disk at run time)."""
    base = "http://127.0.0.1:%d" % broker.http_port
    with urllib.request.urlopen(base + "/", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/html")
        html = r.read().decode()
    assert '<div id="app">' in html
    assets = re.findall(r'(?:src|href)="\./(assets/[^"]+)"', html)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets), html
    for a in assets:
        with urllib.request.urlopen(base + "/" + a, timeout=10) as r:
            body = r.read()
            ctype = r.headers["Content-Type"]
        assert len(body) > 100, a
        assert ctype.startswith("text/javascript" if a.endswith(".js") else "text/css"), (a, ctype)
    assert "http" not in " ".join(assets), "the console must not load anything from elsewhere"


# ------------------------------------------------------------- login

def test_wrong_password_is_refused_then_guest_logs_in(broker, browser_packages, request):
    ui = ConsoleUI("http://127.0.0.1:%d" % broker.http_port, request.node.name)
    try:
        ui.goto("#/queues")
        ui.wait("[data-testid=login-form]")
        ui.fill("[data-testid=login-user]", "guest")
        ui.fill("[data-testid=login-password]", "not-the-password")
        ui.click("[data-testid=login-submit]")
        ui.wait_for("the login refused", lambda: ui.text("[data-testid=login-error]")
                    .startswith("Wrong user or password."))
        ui.shot("login-refused")
        ui.fill("[data-testid=login-password]", "guest")
        ui.click("[data-testid=login-submit]")
        # back to the page asked for before the login
        ui.wait("main[data-page=queues]")
        assert ui.text("[data-testid=who]") == "guest"
        ui.click("[data-testid=logout]")
        ui.wait("[data-testid=login-form]")
        errors = [e for e in ui.errors() if "401" not in e]
    finally:
        ui.close()
    assert errors == []


# ------------------------------------------------------------- overview

def test_overview_chart_shows_live_rates(broker, console):
    dest = "/queue/" + unique("rates")
    stop = threading.Event()
    sent = [0]

    def traffic():
        conn, lst = py_connect(broker.port)
        conn.subscribe(dest, id="c", ack="auto")
        try:
            while not stop.is_set():
                conn.send(dest, "tick %d" % sent[0])
                sent[0] += 1
                time.sleep(0.02)
        finally:
            conn.disconnect()

    t = threading.Thread(target=traffic, daemon=True)
    t.start()
    try:
        chart = "[data-testid=rates-chart]"
        console.wait_for("3 points on the rates chart",
                         lambda: int(console.attr(chart, "data-points") or 0) >= 3)
        console.wait_for("a publish rate above 0",
                         lambda: float(console.attr(chart, "data-last-publish") or 0) > 0)
        console.wait_for("a deliver rate above 0",
                         lambda: float(console.attr(chart, "data-last-deliver") or 0) > 0)
        # the chart is drawn (uPlot's canvas), the counters follow the traffic
        assert console.count(chart + " canvas") >= 1
        console.wait_for("total published counting up", lambda: int(
            console.text("[data-testid=total-publish]").replace(",", "")) >= 20)
        assert int(console.text("[data-testid=count-connections]")) >= 1
        assert console.text("[data-testid=memory]")
        assert console.text("[data-testid=disk]")
        console.shot("overview")
    finally:
        stop.set()
        t.join(WAIT)


def test_overview_charts_start_with_the_brokers_history(broker, browser_packages, request):
    """A console opened (or reloaded) after traffic draws the broker's last
    minutes at once, from /api/overview?msg_rates_age=...: points older
    than the page itself, with the publish rate the history recorded."""
    dest = "/queue/" + unique("past")
    send_py(broker, dest, ["before %d" % i for i in range(50)])
    api = Api(broker)
    path = "/api/overview?msg_rates_age=600&msg_rates_incr=5"

    def recorded():  # two samples around the traffic: a rate above 0 between them
        s = api.get(path)["message_stats"]["publish_details"]["samples"]
        return len(s) >= 2 and s[0]["sample"] >= 50 and s[-1]["sample"] < 50
    deadline = time.monotonic() + 30
    while not recorded():
        assert time.monotonic() < deadline, "no history sample after the traffic"
        time.sleep(0.2)
    opened = time.time()
    ui = ConsoleUI("http://127.0.0.1:%d" % broker.http_port, request.node.name)
    try:
        ui.login()
        ui.wait("main[data-page=overview]")
        chart = "[data-testid=rates-chart]"
        ui.wait_for("points from before the page opened",
                    lambda: float(ui.attr(chart, "data-first") or opened) < opened)
        # the history's rate of the 50 messages is among the points
        assert int(ui.attr(chart, "data-points")) >= 2
        assert float(ui.attr(chart, "data-max-publish") or 0) > 0
        ui.shot("overview-history")
        errors = ui.errors()
    finally:
        ui.close()
    assert errors == []


# ------------------------------------------------------------- queues

def test_queues_table_shows_depth_and_sparkline(broker, console):
    name = unique("depth")
    send_py(broker, "/queue/" + name, ["m%d" % i for i in range(7)])
    console.click("[data-testid=nav-queues]")
    console.wait("main[data-page=queues]")
    console.wait_text(row(name, "depth"), "7")
    assert console.text(row(name, "ready")) == "7"
    assert console.text(row(name, "unacked")) == "0"
    assert console.text(row(name, "consumers")) == "0"
    send_py(broker, "/queue/" + name, ["more%d" % i for i in range(3)])
    console.wait_text(row(name, "depth"), "10")
    spark = row(name, "sparkline") + " svg"
    console.wait_for("a sparkline of 2+ polls",
                     lambda: int(console.attr(spark, "data-points") or 0) >= 2)
    assert console.attr(spark, "data-last") == "10"
    console.shot("queues")


def test_create_and_delete_queue(broker, console):
    api = Api(broker)
    name = unique("made")
    console.click("[data-testid=nav-queues]")
    console.fill("[data-testid=create-name]", name)
    console.click("[data-testid=create-queue] button")
    console.wait_text(row(name, "depth"), "0")
    assert api.queue(name)["depth"] == 0
    send_py(broker, "/queue/" + name, ["x"])
    console.wait_text(row(name, "depth"), "1")
    console.click(row(name) + " [data-testid=delete]")
    console.cancel()
    assert api.queue(name)["depth"] == 1, "cancel must not delete"
    console.click(row(name) + " [data-testid=delete]")
    console.confirm(shot="delete-dialog")
    console.wait(row(name), state="detached")
    api.queue(name, expect=404)


def test_message_browser_shows_bodies_without_consuming(broker, console):
    name = unique("browse")
    dest = "/queue/" + name
    sent = ["first plain text", "grüße — ünïcödé ✓", '{"order": 42, "items": ["a", "b"]}']
    send_py(broker, dest, sent, headers={"x-note": "from-stomp.py"})
    binary = b"\x00\x01\xffbinary"
    raw = client(broker.port)
    raw.send(dest, binary)
    raw.close()
    console.click("[data-testid=nav-queues]")
    console.click(row(name) + " [data-testid=queue-link]")
    console.wait("main[data-page=messages]")
    console.wait_for("4 message rows", lambda: console.count("[data-testid=message-row]") == 4)
    bodies = console.texts("[data-testid=message-body]")
    assert bodies[:3] == sent
    # a body that is not UTF-8 is shown as base64, and says so
    assert bodies[3] == base64.b64encode(binary).decode()
    assert console.attr("[data-testid=message-row] >> nth=3 >> [data-testid=message-body]",
                        "data-encoding") == "base64"
    assert console.text("[data-testid=queue-depth]") == "4"
    console.click("[data-testid=message-row] summary")
    assert "from-stomp.py" in console.text("[data-testid=message-row] dl.headers")
    console.shot("message-browser")
    # browsing did not consume: all four are still there, in order
    c = client(broker.port)
    c.subscribe(dest, "d", ack="auto")
    assert [m.body for m in c.read_messages(4)] == [x.encode() for x in sent] + [binary]
    c.assert_no_frame()
    c.close()


def test_queue_page_publishes_and_lists_consumers(broker, console):
    """The queue page's publish form sends through amq.default (body,
    headers, persistent) and shows the "routed" answer; the message is then
    in the browser and reaches a STOMP consumer, which the page lists with
    its subscription id, ack mode and prefetch."""
    name = unique("pub")
    dest = "/queue/" + name
    send_py(broker, dest, ["already here"])
    console.click("[data-testid=nav-queues]")
    console.click(row(name) + " [data-testid=queue-link]")
    console.wait("main[data-page=messages]")
    console.wait_for("1 message row", lambda: console.count("[data-testid=message-row]") == 1)
    assert console.count("[data-testid=consumer-row]") == 0
    console.click("[data-testid=publish] summary")
    console.fill("[data-testid=publish-body]", "from the console ✓")
    console.fill("[data-testid=publish-header-key]", "x-origin")
    console.fill("[data-testid=publish-header-value]", "web form")
    console.click("[data-testid=publish-submit]")
    console.wait_for("the routed answer",
                     lambda: console.attr("[data-testid=publish-result]", "data-routed") == "true")
    assert name in console.text("[data-testid=publish-result]")
    console.wait_for("2 message rows", lambda: console.count("[data-testid=message-row]") == 2)
    assert console.texts("[data-testid=message-body]") == ["already here", "from the console ✓"]
    assert console.attr("[data-testid=message-row] >> nth=1", "data-id")
    console.shot("published")

    # A raw STOMP subscriber, client-individual with a window of 5: listed.
    c = client(broker.port)
    c.subscribe(dest, "console-watch", ack="client-individual", headers={"prefetch-count": "5"})
    got = c.read_messages(2)
    assert got[1].body == "from the console ✓".encode()
    assert got[1].get("x-origin") == "web form"
    assert got[1].get("persistent") == "true"
    tag = '[data-testid=consumer-row][data-tag="console-watch"]'
    console.wait(tag)
    assert console.text(tag + " [data-col=ack]") == "client-individual"
    assert console.text(tag + " [data-col=prefetch]") == "5"
    console.wait_text(tag + " [data-col=unacked]", "2")
    assert "127.0.0.1:" in console.text(tag + " [data-col=connection]")
    console.shot("consumers")
    c.close()
    console.wait_for("no consumer once it left", lambda: console.count("[data-testid=consumer-row]") == 0)


def test_queue_page_draws_the_brokers_rate_history(broker, console):
    """Issue 16: the queue page draws the queue's last minute as the broker
    keeps it (GET /api/queues/V/NAME?msg_rates_age=60&...; one sample every
    5 s): a page opened after the traffic shows the publish rate and the
    queued messages from before it opened, in two SVG charts."""
    name = unique("qhist")
    dest = "/queue/" + name
    api = Api(broker)
    path = Api.q(name) + "?msg_rates_age=60&msg_rates_incr=5&lengths_age=60&lengths_incr=5"

    def samples():
        return api.get(path)["message_stats"]["publish_details"]["samples"]

    def wait_history(what, probe):
        deadline = time.monotonic() + 30
        while not probe(samples()):
            assert time.monotonic() < deadline, "no history sample: " + what
            time.sleep(0.25)

    send_py(broker, dest, ["first"])
    wait_history("after the first message", lambda s: len(s) >= 1)
    send_py(broker, dest, ["m%d" % i for i in range(20)])
    # three samples: 1 message, then 21 (a rate above 0 between them), then one more
    wait_history("after the next 20", lambda s: len(s) >= 3 and s[1]["sample"] == 21)
    opened = time.time()
    console.click("[data-testid=nav-queues]")
    console.click(row(name) + " [data-testid=queue-link]")
    console.wait("main[data-page=messages]")
    rates, lengths = "[data-testid=queue-rates-chart]", "[data-testid=queue-lengths-chart]"
    console.wait_for("rate points", lambda: int(console.attr(rates, "data-points") or 0) >= 2)
    assert float(console.attr(rates, "data-first")) < opened, "points from before the page opened"
    assert float(console.attr(rates, "data-max-publish")) > 0
    assert console.count(rates + " polyline") == 4  # publish, deliver, ack, redeliver
    assert int(console.attr(lengths, "data-points")) >= 3
    assert console.attr(lengths, "data-last-ready") == "21"
    assert console.attr(lengths, "data-last-unacked") == "0"
    assert console.count(lengths + " polyline") == 2
    console.shot("queue-history")


def test_policies_page_sets_and_deletes_a_policy(broker, console):
    """Issue 12/16: the Policies page lists /api/policies, sets one (the
    queues matching it follow it) and deletes it after a confirmation; a
    definition the broker refuses shows its reason."""
    api = Api(broker)
    q, pname = unique("pol"), unique("limits")
    api.call("PUT", api.q(q), {}, expect=(201, 204))
    console.click("[data-testid=nav-policies]")
    console.wait("main[data-page=policies]")
    console.fill("[data-testid=policy-name]", pname)
    console.fill("[data-testid=policy-pattern]", "^%s$" % q)
    console.fill("[data-testid=policy-priority]", "3")
    console.fill("[data-testid=policy-definition]", '{"max-length": 2}')
    console.click("[data-testid=set-policy-submit]")
    prow = '[data-testid=policy-row][data-policy="%s"]' % pname
    console.wait_text(prow + " [data-col=queues]", "1")
    assert console.text(prow + " [data-col=pattern]") == "^%s$" % q
    assert console.text(prow + " [data-col=apply-to]") == "queues"
    p = api.get("/api/policies/%%2F/%s" % pname)
    assert p["definition"] == {"max-length": 2} and p["priority"] == 3 and p["apply-to"] == "queues", p
    assert api.queue(q)["policy"] == pname
    console.shot("policies")
    # A key Ferry does not know: refused with the broker's reason, nothing set.
    console.expected_errors.append("400")
    console.fill("[data-testid=policy-name]", "refused")
    console.fill("[data-testid=policy-definition]", '{"ha-mode": "all"}')
    console.click("[data-testid=set-policy-submit]")
    console.wait_for("the refusal's reason",
                     lambda: "not a policy key" in console.text("[data-testid=notice]"))
    assert api.raw("GET", "/api/policies/%2F/refused")[0] == 404
    console.click(prow + " [data-testid=delete-policy]")
    console.confirm()
    console.wait(prow, state="detached")
    assert api.raw("GET", "/api/policies/%%2F/%s" % pname)[0] == 404
    assert api.queue(q)["policy"] is None


def test_purge_with_confirmation_empties_the_queue(broker, console):
    api = Api(broker)
    name = unique("purge")
    send_py(broker, "/queue/" + name, ["p%d" % i for i in range(5)])
    console.click("[data-testid=nav-queues]")
    console.wait_text(row(name, "depth"), "5")
    console.click(row(name) + " [data-testid=purge]")
    console.cancel()
    time.sleep(0.3)
    assert api.queue(name)["depth"] == 5, "cancel must not purge"
    console.click(row(name) + " [data-testid=purge]")
    console.confirm(shot="purge-dialog")
    console.wait_for("the purge notice",
                     lambda: "Purged 5 messages" in console.text("[data-testid=notice]"))
    # depth 0, or gone: the broker may drop an empty queue nobody uses
    console.wait_for("the queue emptied", lambda: console.count(row(name)) == 0
                     or console.text(row(name, "depth")) == "0")
    status, _, body = api.raw("GET", api.q(name))
    assert status == 404 or json.loads(body)["depth"] == 0, (status, body)
    console.shot("purged")
    assert drain_py(broker, "/queue/" + name, 0) == []


def test_move_from_dead_letter_queue_back(broker, console):
    """Messages rejected (NACK requeue:false) land in DLQ.<name>; the Move
    dialog suggests <name> as the target and moves them back."""
    name = unique("orders")
    dest = "/queue/" + name
    send_py(broker, dest, ["order-%d" % i for i in range(3)])
    c = client(broker.port)
    c.subscribe(dest, "s", ack="client-individual")
    for _ in range(3):
        c.nack(c.read_message(), extra=[("requeue", "false")])
    c.close()
    dlq = "DLQ." + name
    console.click("[data-testid=nav-queues]")
    console.wait_text(row(dlq, "depth"), "3")
    # (the emptied, unused queue itself may be gone: the move recreates it)
    console.click(row(dlq) + " [data-testid=move]")
    console.wait("[data-testid=dialog-to]")
    assert console.call("attr", sel="[data-testid=dialog-to]", name="value") == name
    console.confirm(shot="move-dialog")
    console.wait_for("the move notice",
                     lambda: "Moved 3 messages" in console.text("[data-testid=notice]"))
    # the emptied DLQ shows depth 0 until the broker drops the unused queue
    console.wait_for("the DLQ emptied", lambda: console.count(row(dlq)) == 0
                     or console.text(row(dlq, "depth")) == "0")
    console.wait_text(row(name, "depth"), "3")
    console.shot("moved")
    assert sorted(drain_py(broker, dest, 3)) == [b"order-0", b"order-1", b"order-2"]


# ------------------------------------------------------------- topics

def test_topics_page_lists_subscribers_and_published(broker, console):
    name = unique("news")
    conn, lst = py_connect(broker.port)
    try:
        conn.subscribe("/topic/" + name, id="t", ack="auto")
        time.sleep(0.2)
        send_py(broker, "/topic/" + name, ["a", "b"])
        lst.get()
        lst.get()
        console.click("[data-testid=nav-topics]")
        topic = '[data-testid=topic-row][data-topic="%s"]' % name
        console.wait_text(topic + " [data-col=subscribers]", "1")
        console.wait_text(topic + " [data-col=published]", "2")
        console.shot("topics")
    finally:
        conn.disconnect()


# ------------------------------------------------------------- exchanges

def test_exchanges_page_declares_binds_and_deletes(broker, console):
    """Declare a topic exchange and bind a queue on the Exchanges page; a
    STOMP SEND to /exchange/NAME/KEY then reaches the queue; unbind and
    delete after confirmations; an inequivalent redeclare shows the
    broker's reason."""
    x, q = unique("x"), unique()
    api = Api(broker)
    api.call("PUT", api.q(q), {}, expect=(201, 204))
    console.click("[data-testid=nav-exchanges]")
    console.wait('[data-testid=exchange-row][data-exchange="amq.topic"]')
    console.fill("[data-testid=exchange-name]", x)
    console.select("[data-testid=exchange-type]", "topic")
    console.click("[data-testid=declare-exchange-submit]")
    row = '[data-testid=exchange-row][data-exchange="%s"]' % x
    console.wait_text(row + " [data-col=type]", "topic")
    assert api.get("/api/exchanges/%%2F/%s" % x)["type"] == "topic"
    console.fill("[data-testid=binding-source]", x)
    console.fill("[data-testid=binding-queue]", q)
    console.fill("[data-testid=binding-key]", "eu.#")
    console.click("[data-testid=add-binding-submit]")
    brow = '[data-testid=binding-row][data-source="%s"]' % x
    console.wait_text(brow + " [data-col=key]", "eu.#")
    console.wait_text(row + " [data-col=bindings]", "1")
    c = client(broker.port)
    c.send("/exchange/%s/eu.de" % x, "routed")
    c.subscribe("/queue/" + q, "s")
    assert c.read_message().body == b"routed"
    c.close()
    # The same name as another type: the broker's reason is shown.
    console.expected_errors.append("406")
    console.fill("[data-testid=exchange-name]", x)
    console.select("[data-testid=exchange-type]", "fanout")
    console.click("[data-testid=declare-exchange-submit]")
    console.wait_for("the inequivalent-arg notice",
                     lambda: "inequivalent arg" in console.text("[data-testid=notice]"))
    console.shot("exchanges")
    console.click(brow + " [data-testid=delete-binding]")
    console.confirm()
    console.wait(brow, state="detached")
    assert api.get("/api/bindings/%2F") == [] or all(b["source"] != x for b in api.get("/api/bindings/%2F"))
    console.click(row + " [data-testid=delete-exchange]")
    console.confirm()
    console.wait(row, state="detached")
    assert api.raw("GET", "/api/exchanges/%%2F/%s" % x)[0] == 404


# ------------------------------------------------------------- connections

def test_close_connection_with_confirmation(broker, console):
    conn, lst = py_connect(broker.port)
    host, port = conn.transport.socket.getsockname()[:2]
    addr = "%s:%d" % (host, port)
    conn.subscribe("/queue/" + unique("held"), id="s1", ack="client")
    sel = '[data-testid=connection-row][data-client="%s"]' % addr
    try:
        console.click("[data-testid=nav-connections]")
        console.wait_text(sel + " [data-col=subscriptions]", "1")
        console.shot("connections")
        console.click(sel + " [data-testid=close]")
        console.cancel()
        time.sleep(0.3)
        assert not lst.disconnected.is_set(), "cancel must not close"
        console.click(sel + " [data-testid=close]")
        console.confirm(shot="close-dialog")
        err = lst.errors.get(timeout=WAIT)
        assert "closed by administrator" in (err.headers.get("message", "") + str(err.body)), \
            (err.headers, err.body)
        assert lst.disconnected.wait(WAIT), "the client was not disconnected"
        console.wait(sel, state="detached")
    finally:
        if conn.is_connected():
            conn.disconnect()


def test_connections_page_shows_an_away_durable_subscribers_backlog(broker, console):
    """Issue 16 item 6: the subscriptions table shows the backlog of a
    durable subscription whose client is away."""
    t = unique("t")
    c = client(broker.port, extra={"client-id": "app2"})
    c.subscribe("/topic/" + t, "ts", headers={"activemq.subscriptionName": "dur"})
    c.close()
    api = Api(broker)
    deadline = time.monotonic() + 10
    while not [s for s in api.get("/api/subscriptions") if s["name"] == "app2:dur" and s["connection"] is None]:
        assert time.monotonic() < deadline, "the subscription stayed attached"
        time.sleep(0.05)
    send_py(broker, "/topic/" + t, ["m%d" % i for i in range(4)])
    console.click("[data-testid=nav-connections]")
    console.wait("main[data-page=connections]")
    sub = '[data-testid=subscription-row][data-destination="/topic/%s"]' % t
    console.wait_text(sub + " [data-col=backlog]", "4")
    assert "(offline)" in console.text(sub)
    console.shot("away-backlog")


def test_connections_page_shows_a_blocked_producer(broker_factory, console_as):
    """A producer held by flow control shows state "blocked" (RabbitMQ's
    word), the others "running"."""
    from support import client
    b = broker_factory(memory_limit="16KiB", memory_policy="block", producer_window_size="16KiB")
    ui = console_as(b, "guest", "guest")
    idle = client(b.port)
    p = client(b.port)
    dest = "/queue/" + unique()
    for _ in range(20):  # not persistent: past the memory limit these are parked
        p.send(dest, b"x" * 4000, headers={"persistent": "false"}, receipt=False)
    p_addr = "127.0.0.1:%d" % p.sock.getsockname()[1]
    i_addr = "127.0.0.1:%d" % idle.sock.getsockname()[1]
    ui.click("[data-testid=nav-connections]")
    ui.wait_text('[data-testid=connection-row][data-client="%s"] [data-col=state]' % p_addr, "blocked")
    ui.wait_text('[data-testid=connection-row][data-client="%s"] [data-col=state]' % i_addr, "running")
    ui.shot("connections-blocked")
    idle.close()
    p.close()


def test_memory_alarm_banner_shows_while_memory_limit_is_reached(broker_factory, console_as):
    """Issue 16 item 6: a resource alarm shows as a banner on every page
    while it lasts (the overview's `alarms`, as /api/health/checks/alarms),
    and goes once consumers bring memory back under the limit."""
    from support import client
    b = broker_factory(memory_limit="16KiB", memory_policy="block", producer_window_size="16KiB")
    ui = console_as(b, "guest", "guest")
    assert not ui.visible("[data-testid=alarm]")
    p = client(b.port)
    dest = "/queue/" + unique()
    for _ in range(20):  # not persistent: past the memory limit these are parked
        p.send(dest, b"x" * 4000, headers={"persistent": "false"}, receipt=False)
    ui.wait("[data-testid=alarm]")
    assert ui.attr("[data-testid=alarm]", "data-alarms") == "memory"
    assert "Memory alarm" in ui.text("[data-testid=alarm]")
    assert Api(b).get("/api/overview")["alarms"] == ["memory"]
    ui.click("[data-testid=nav-queues]")
    assert ui.visible("[data-testid=alarm]")  # on every page
    ui.shot("memory-alarm")
    drain_py(b, dest, 20)
    ui.wait("[data-testid=alarm]", state="hidden")
    assert Api(b).get("/api/overview")["alarms"] == []
    p.close()


# ------------------------------------------------------------- users, vhosts, permissions

COST = "1000"  # PBKDF2 iterations for users made with the CLI: the minimum, to keep tests quick
ADMIN = ("admin", "admin-secret")
WATCHER = ("watcher", "watch-secret")


def ferry_ok(*args):
    r = run_ferry(*args)
    assert r.returncode == 0, "ferry %s failed: %s" % (" ".join(map(str, args)), r.stderr.decode())
    return r


@pytest.fixture
def users_file(tmp_path):
    """Made with the real CLI: guest as built in; admin (administrator) and
    watcher (monitoring), both with every permission in vhost /."""
    path = str(tmp_path / "users.toml")
    for (name, password), tags in ((ADMIN, "administrator"), (WATCHER, "monitoring")):
        ferry_ok("user", "add", name, "--password", password, "--tags", tags,
                 "--iterations", COST, "--users-file", path)
        ferry_ok("user", "set-permissions", name, "--vhost", "/", "--configure", ".*",
                 "--write", ".*", "--read", ".*", "--users-file", path)
    return path


@pytest.fixture
def console_as(request, browser_packages):
    """console_as(broker, user, password): a Chromium page signed in to the
    broker's console as that user. Fails the test on browser errors other
    than those listed in ui.expected_errors (e.g. an expected 403)."""
    opened: list[ConsoleUI] = []

    def open_(broker, user, password) -> ConsoleUI:
        ui = ConsoleUI("http://127.0.0.1:%d" % broker.http_port,
                       "%s-%s" % (request.node.name, user))
        ui.expected_errors = []
        opened.append(ui)
        ui.login(user, password)
        ui.wait("main[data-page=overview]")
        assert ui.text("[data-testid=who]") == user
        return ui

    yield open_
    problems = []
    for ui in opened:
        try:
            problems += [e for e in ui.errors() if not any(x in e for x in ui.expected_errors)]
        finally:
            ui.close()
    assert not problems, "browser console errors: %s" % problems


def user_row(name: str, inner: str = "") -> str:
    return '[data-testid=user-row][data-user="%s"]%s' % (name, " " + inner if inner else "")


def perm(user: str, vhost: str, col: str | None = None) -> str:
    sel = user_row(user, '[data-testid=perm][data-vhost="%s"]' % vhost)
    return sel + (" [data-col=%s]" % col if col else "")


def py_login(port: int, user: str, password: str, vhost: str = "/"):
    """stomp.py CONNECT with login/passcode: (connection, listener) or raises."""
    import stomp
    conn = stomp.Connection12([("127.0.0.1", port)], vhost=vhost, heartbeats=(0, 0),
                              reconnect_attempts_max=1)
    lst = PyListener()
    conn.set_listener("t", lst)
    conn.connect(user, password, wait=True)
    return conn, lst


def py_refused(port: int, user: str, password: str, vhost: str = "/") -> str:
    """The ERROR message a refused stomp.py login gets."""
    import stomp
    conn = stomp.Connection12([("127.0.0.1", port)], vhost=vhost, heartbeats=(0, 0),
                              reconnect_attempts_max=1)
    lst = PyListener()
    conn.set_listener("t", lst)
    with pytest.raises(Exception):
        conn.connect(user, password, wait=True)
    return lst.errors.get(timeout=WAIT).headers.get("message", "")


def notice_error(ui: ConsoleUI, contains: str) -> str:
    sel = "[data-testid=notice]"
    ui.wait_for("an error notice with %r" % contains,
                lambda: ui.attr(sel, "data-kind") == "error" and contains in ui.text(sel))
    return ui.text(sel)


def test_users_page_adds_grants_edits_and_deletes_a_user(broker_factory, users_file, console_as):
    """An administrator adds a user on the Users page and grants it write on
    /queue/granted.* only: stomp.py as that user sends there and is refused
    elsewhere. A bad regex shows the broker's reason. After the delete
    (cancel first), the user's logins fail."""
    b = broker_factory(users_file=users_file, login_failure_delay=0)
    api = Api(b, auth=ADMIN)
    ui = console_as(b, *ADMIN)
    ui.expected_errors.append("status of 400")
    assert ui.visible("[data-testid=nav-users]") and ui.visible("[data-testid=nav-vhosts]")
    ui.click("[data-testid=nav-users]")
    ui.wait("main[data-page=users]")
    ui.wait_text(perm("admin", "/", "write"), ".*")
    assert ui.attr(user_row("admin", "[data-col=tags]"), "data-tags") == "administrator"
    assert ui.attr(user_row("watcher", "[data-col=tags]"), "data-tags") == "monitoring"

    ui.fill("[data-testid=new-user-name]", "carl")
    ui.fill("[data-testid=new-user-password]", "carl-secret")
    ui.click("[data-testid=add-user-submit]")
    ui.wait(user_row("carl"))
    carl = api.get("/api/users/carl")
    assert carl["name"] == "carl" and carl["tags"] == [], carl
    assert "none" in ui.text(user_row("carl", "[data-col=permissions]"))

    # A bad regular expression: refused with the broker's own reason, nothing saved.
    status, _, body = api.raw("PUT", "/api/permissions/%2F/carl",
                              json.dumps({"configure": "([", "write": "", "read": ""}))
    assert status == 400, (status, body)
    reason = json.loads(body)["reason"]
    ui.click(user_row("carl", "[data-testid=set-permissions]"))
    ui.select("[data-testid=dialog-vhost]", "/")
    ui.confirm(configure="([", write="", read="")
    assert reason in notice_error(ui, reason)
    api.get("/api/permissions/%2F/carl", expect=404)

    ui.click(user_row("carl", "[data-testid=set-permissions]"))
    ui.select("[data-testid=dialog-vhost]", "/")
    ui.confirm(shot="permissions-dialog", configure=".*", write=r"^/queue/granted\.", read=".*")
    ui.wait_text(perm("carl", "/", "write"), r"^/queue/granted\.")
    assert ui.text(perm("carl", "/", "configure")) == ".*"
    assert api.get("/api/permissions/%2F/carl") == {
        "user": "carl", "vhost": "/", "configure": ".*", "write": r"^/queue/granted\.", "read": ".*"}
    ui.shot("users")

    # Over STOMP: carl may send to /queue/granted.* (and read it back), nowhere else.
    granted = "/queue/granted." + unique()
    conn, lst = py_login(b.port, "carl", "carl-secret")
    try:
        conn.subscribe(granted, id="s", ack="auto")
        rid = py_rid()
        conn.send(granted, "from carl", headers={"receipt": rid})
        lst.wait_receipt(rid)
        assert lst.get().body in ("from carl", b"from carl")
        conn.send("/queue/" + unique("other"), "not allowed", headers={"receipt": py_rid()})
        err = lst.errors.get(timeout=WAIT)
        assert "write permission needed" in err.headers.get("message", ""), (err.headers, err.body)
    finally:
        if conn.is_connected():
            conn.disconnect()

    # Edit: tags (the password stays as it was).
    ui.click(user_row("carl", "[data-testid=edit-user]"))
    ui.confirm(tags="monitoring, ops")
    ui.wait_for("carl's new tags", lambda: ui.attr(user_row("carl", "[data-col=tags]"),
                                                   "data-tags") == "monitoring,ops")
    assert api.get("/api/users/carl")["tags"] == ["monitoring", "ops"]
    py_login(b.port, "carl", "carl-secret")[0].disconnect()
    carl_api = Api(b, auth=("carl", "carl-secret"))
    assert carl_api.raw("GET", "/api/overview")[0] == 200, "a monitoring user may read"

    # Delete: cancel changes nothing; confirm deletes, and carl's logins fail.
    ui.click(user_row("carl", "[data-testid=delete-user]"))
    ui.cancel()
    api.get("/api/users/carl")
    ui.click(user_row("carl", "[data-testid=delete-user]"))
    ui.confirm(shot="delete-user-dialog")
    ui.wait(user_row("carl"), state="detached")
    api.get("/api/users/carl", expect=404)
    assert py_refused(b.port, "carl", "carl-secret") == "access refused: wrong login or passcode"
    assert carl_api.raw("GET", "/api/overview")[0] == 401


def test_vhosts_page_adds_and_deletes_a_vhost(broker_factory, users_file, console_as):
    """A vhost added on the Vhosts page is real: once eve (no grant
    anywhere) has permissions in it (set on the Users page), stomp.py as eve
    connects to it. Deleted (after a cancel), eve's grant goes with it: her
    CONNECT naming it is refused (an unknown host means vhost /, where eve
    has no grant either)."""
    ferry_ok("user", "add", "eve", "--password", "eve-secret", "--iterations", COST,
             "--users-file", users_file)
    b = broker_factory(users_file=users_file, login_failure_delay=0)
    api = Api(b, auth=ADMIN)
    ui = console_as(b, *ADMIN)
    ui.click("[data-testid=nav-vhosts]")
    ui.wait("main[data-page=vhosts]")
    ui.wait_text('[data-testid=vhost-row][data-vhost="/"] [data-col=users]', "admin, guest, watcher")
    vhost = "shop/eu"  # a "/" in the name travels as %2F
    ui.fill("[data-testid=new-vhost-name]", vhost)
    ui.click("[data-testid=add-vhost-submit]")
    row_ = '[data-testid=vhost-row][data-vhost="%s"]' % vhost
    ui.wait_text(row_ + " [data-col=users]", "none")
    assert vhost in [v["name"] for v in api.get("/api/vhosts")]
    assert "access refused" in py_refused(b.port, "eve", "eve-secret", vhost=vhost)

    ui.click("[data-testid=nav-users]")
    ui.click(user_row("eve", "[data-testid=set-permissions]"))
    ui.select("[data-testid=dialog-vhost]", vhost)
    ui.confirm(configure=".*", write=".*", read=".*")
    ui.wait_text(perm("eve", vhost, "read"), ".*")
    conn, lst = py_login(b.port, "eve", "eve-secret", vhost=vhost)
    dest = "/queue/" + unique("in-vhost")
    conn.subscribe(dest, id="s", ack="auto")
    conn.send(dest, "hello vhost")
    assert lst.get().body in ("hello vhost", b"hello vhost")
    conn.disconnect()

    ui.click("[data-testid=nav-vhosts]")
    ui.wait_text(row_ + " [data-col=users]", "eve")
    ui.shot("vhosts")
    ui.click(row_ + " [data-testid=delete-vhost]")
    ui.cancel()
    assert vhost in [v["name"] for v in api.get("/api/vhosts")], "cancel must not delete"
    ui.click(row_ + " [data-testid=delete-vhost]")
    ui.confirm(shot="delete-vhost-dialog")
    ui.wait(row_, state="detached")
    assert vhost not in [v["name"] for v in api.get("/api/vhosts")]
    api.get("/api/permissions/%s/eve" % urllib.parse.quote(vhost, safe=""), expect=404)
    ui.click("[data-testid=nav-users]")
    ui.wait_for("eve without permissions",
                lambda: "none" in ui.text(user_row("eve", "[data-col=permissions]")))
    assert "access refused" in py_refused(b.port, "eve", "eve-secret", vhost=vhost)


def test_monitoring_user_sees_no_admin_pages_and_cannot_purge(broker_factory, users_file,
                                                              console_as):
    b = broker_factory(users_file=users_file, login_failure_delay=0)
    name = unique("watched")
    send_py(b, "/queue/" + name, ["w%d" % i for i in range(3)])
    ui = console_as(b, *WATCHER)
    ui.expected_errors.append("status of 403")
    assert ui.attr("[data-testid=who]", "data-tags") == "monitoring"
    assert not ui.visible("[data-testid=nav-users]")
    assert not ui.visible("[data-testid=nav-vhosts]")
    ui.click("[data-testid=nav-queues]")
    ui.wait_text(row(name, "depth"), "3")
    for action in ("purge", "move", "delete"):
        assert not ui.visible(row(name) + " [data-testid=%s]" % action), action
    assert not ui.visible("[data-testid=create-queue]")
    ui.shot("queues-read-only")
    ui.click(row(name) + " [data-testid=queue-link]")
    ui.wait("main[data-page=messages]")
    ui.wait_text("[data-testid=queue-depth]", "3")
    assert not ui.visible("[data-testid=purge]")
    assert not ui.visible("[data-testid=publish]")
    conn, _ = py_connect(b.port)
    try:
        ui.click("[data-testid=nav-connections]")
        ui.wait("[data-testid=connection-row]")
        assert ui.count("[data-testid=close]") >= 1
        assert ui.count("[data-testid=close]:visible") == 0
    finally:
        conn.disconnect()

    # Typing the address of the Users page: the broker's 403 reason is shown.
    ui.route("#/users")
    ui.wait("main[data-page=users]")
    ui.wait("[data-testid=admin-only]")
    assert not ui.visible("[data-testid=add-user]")
    notice_error(ui, "administrator")
    ui.shot("users-refused")
    # The broker refuses the purge itself too: nothing is purged.
    watcher = Api(b, auth=WATCHER)
    status, _, body = watcher.raw("DELETE", watcher.q(name) + "/contents")
    assert status == 403, (status, body)
    assert Api(b, auth=ADMIN).queue(name)["depth"] == 3


def test_user_changes_without_users_file_show_the_reason(broker, console):
    """Without --users-file there is only the built-in guest (an
    administrator): the Users page lists it; adding a user is refused with
    409 and the broker's reason is shown."""
    console.expected_errors.append("status of 409")
    assert console.visible("[data-testid=nav-users]")
    console.click("[data-testid=nav-users]")
    console.wait(user_row("guest"))
    status, _, body = Api(broker).raw("PUT", "/api/users/dora",
                                      json.dumps({"password": "x", "tags": ""}))
    assert status == 409, (status, body)
    reason = json.loads(body)["reason"]
    console.fill("[data-testid=new-user-name]", "dora")
    console.fill("[data-testid=new-user-password]", "dora-secret")
    console.click("[data-testid=add-user-submit]")
    text = notice_error(console, reason)
    assert "no_users_file" in text
    console.shot("no-users-file")
    assert console.count(user_row("dora")) == 0


def test_management_user_may_purge_but_sees_no_admin_pages(broker_factory, users_file, console_as):
    """The middle tier: `management` gets the purge button (and it works)
    but no Users / Vhosts entries."""
    ferry_ok("user", "add", "mia", "--password", "mia-secret", "--tags", "management",
             "--iterations", COST, "--users-file", users_file)
    ferry_ok("user", "set-permissions", "mia", "--vhost", "/", "--configure", ".*",
             "--write", ".*", "--read", ".*", "--users-file", users_file)
    b = broker_factory(users_file=users_file, login_failure_delay=0)
    name = unique("managed")
    send_py(b, "/queue/" + name, ["m%d" % i for i in range(4)])
    ui = console_as(b, "mia", "mia-secret")
    assert ui.attr("[data-testid=who]", "data-role") == "management"
    assert not ui.visible("[data-testid=nav-users]")
    assert not ui.visible("[data-testid=nav-vhosts]")
    ui.click("[data-testid=nav-queues]")
    ui.wait_text(row(name, "depth"), "4")
    assert ui.visible("[data-testid=create-queue]")
    ui.click(row(name) + " [data-testid=purge]")
    ui.confirm()
    ui.wait_for("the purge notice", lambda: "Purged 4 messages" in ui.text("[data-testid=notice]"))
    ui.shot("queues-management")
    assert drain_py(b, "/queue/" + name, 0) == []
