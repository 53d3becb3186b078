"""The README's five-minute tour, run as pasted against a real broker: the
command-line block line by line, the PHP producer and worker, the stomp.py
worker. Only the port changes (the snippets name 61613; the test's broker
has a free port: FERRY_SERVER for the CLI, the address in the PHP and
Python code) and `recv --timeout 10` waits 1 s."""
from __future__ import annotations

import json
import os
import re
import subprocess
import time

from support import PYTHON, REPO, client, ferry_bin


def tour_blocks():
    text = (REPO / "README.md").read_text()
    tour = text[text.index("## A five-minute tour"):text.index("## What Ferry does")]
    return re.findall(r"```(\w+)\n(.*?)```", tour, re.S)


def blocks(lang):
    return [body for kind, body in tour_blocks() if kind == lang]


def wait_for_output(proc, needle, timeout=15.0):
    deadline = time.monotonic() + timeout
    seen = ""
    os.set_blocking(proc.stdout.fileno(), False)
    while time.monotonic() < deadline:
        chunk = proc.stdout.read()
        if chunk:
            seen += chunk.decode("utf-8", "replace")
            if needle in seen:
                return seen
        elif proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError("%r not printed; output: %r; stderr: %r" % (needle, seen, proc.stderr.read()))


def test_command_line_block_runs_as_pasted(broker):
    sh = [b for b in blocks("sh") if "./build/ferry" in b]
    assert sh, "the tour has no command-line block"
    env = dict(os.environ, FERRY_SERVER=broker.addr)
    outputs = []
    for line in sh[0].strip().splitlines():
        line = line.split("  #")[0].replace("./build/ferry", ferry_bin()).replace("--timeout 10", "--timeout 1")
        p = subprocess.run(["bash", "-c", line], env=env, capture_output=True, timeout=30)
        assert p.returncode == 0, (line, p.stderr)
        outputs.append(p.stdout.decode())
    # recv -n 3 printed the three orders, the urgent one (priority 9) first.
    assert outputs[3].splitlines() == ["urgent", "order 1", "order 2"], outputs


def test_php_producer_and_worker_run_as_pasted(broker):
    producer, worker = [b.replace("61613", str(broker.port)) for b in blocks("php")]
    p = subprocess.run(["php", "-r", producer.replace("<?php", "", 1)], capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    w = subprocess.Popen(["php", "-r", worker.replace("<?php", "", 1)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        wait_for_output(w, "handling order 42")
    finally:
        w.kill()
        w.wait(10)
    # The worker acknowledged it: nothing is left.
    c = client(broker.port)
    c.subscribe("/queue/orders", "check")
    left = c.try_read_frame(0.5)
    assert left is None or json.loads(left.body) != {"id": 42}, left
    c.close()


def test_python_worker_runs_as_pasted(broker):
    code = blocks("python")[0].replace("61613", str(broker.port))
    w = subprocess.Popen([PYTHON, "-u", "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out = wait_for_output(w, "got order 3")
        assert w.poll() is None, "the worker exited instead of waiting for more: %r" % out
    finally:
        w.kill()
        w.wait(10)
