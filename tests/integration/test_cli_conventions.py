"""The command line's conventions: --version, help, bare `ferry`, exit codes
(2 usage, 1 failure), FERRY_* environment variables, one spelling of the
connection flags, bare queue names, errors printed once and unescaped."""
import os
import re
import subprocess

from support import REPO, client, ferry_bin, run_ferry, unique


def ferry_env(*args, env=None, input=None):
    full = dict(os.environ)
    for k in list(full):
        if k.startswith("FERRY_") and k != "FERRY_BIN":
            del full[k]
    full.update(env or {})
    return subprocess.run([ferry_bin()] + [str(a) for a in args], input=input, env=full,
                          capture_output=True, timeout=30)


def project_version():
    m = re.search(r"project\(ferry VERSION (\S+)", (REPO / "CMakeLists.txt").read_text())
    return m.group(1)


def test_version_flag():
    p = run_ferry("--version")
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().strip() == "ferry " + project_version()


def test_bare_ferry_and_help_list_the_subcommands():
    for args in ((), ("help",), ("--help",)):
        p = run_ferry(*args)
        assert p.returncode == 0, (args, p.stderr)
        text = p.stdout.decode()
        for sub in ("serve", "send", "recv", "bench", "queues", "purge", "user"):
            assert re.search(r"^\s+%s\s" % sub, text, re.M), (args, sub, text)
    p = run_ferry("help", "send")
    assert p.returncode == 0 and "--server" in p.stdout.decode() and "FERRY_SERVER" in p.stdout.decode()
    p = run_ferry("help", "no-such-command")
    assert p.returncode == 2 and "no-such-command" in p.stderr.decode()


def test_usage_errors_exit_2_and_say_so_once():
    for args in (("serve", "--no-such-option"), ("send",), ("recv", "q", "--ack", "sometimes"),
                 ("no-such-command",), ("serve", "--max-frame-size", "lots", "--listen", "127.0.0.1:0"),
                 ("send", "q", "x", "-H", "no-colon", "-s", "127.0.0.1:1")):
        p = run_ferry(*args)
        err = p.stderr.decode()
        assert p.returncode == 2, (args, p.returncode, err)
        first = err.splitlines()[0]
        assert first.startswith("ferry"), (args, err)
        assert err.count(first) == 1, (args, err)


def test_failures_exit_1():
    p = run_ferry("send", "/queue/x", "x", "-s", "127.0.0.1:1")
    assert p.returncode == 1, p.stderr
    assert "cannot connect" in p.stderr.decode()


def test_bare_names_are_queues_and_stdin_loses_its_last_line_end(broker):
    name = unique("bare")
    assert run_ferry("send", name, "-s", broker.addr, input=b"order 1\n").returncode == 0
    c = client(broker.port)
    c.subscribe("/queue/" + name, "s")
    m = c.read_message()
    assert m.body == b"order 1", m.body
    assert m["destination"] == "/queue/" + name
    c.close()
    assert run_ferry("send", "/queue/" + name, "two\nlines\n\n", "-s", broker.addr).returncode == 0
    r = run_ferry("recv", name, "-n", "1", "-s", broker.addr, "--timeout", "5")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"two\nlines\n\n\n", "a body given as an argument is sent as is"


def test_environment_variables_and_one_spelling(broker):
    name = unique("env")
    env = {"FERRY_SERVER": broker.addr, "FERRY_VHOST": "/"}
    p = ferry_env("send", name, "from env", env=env)
    assert p.returncode == 0, p.stderr
    r = ferry_env("recv", name, "-n", "1", "--timeout", "5", env=env)
    assert r.returncode == 0 and r.stdout == b"from env\n", r
    # The same flags in send, recv and bench; the old spellings still work.
    for sub in ("send", "recv", "bench"):
        text = run_ferry("help", sub).stdout.decode()
        for flag in ("--server", "--vhost", "--user", "--password"):
            assert flag in text, (sub, flag)
    p = run_ferry("send", name, "old spelling", "-s", broker.addr, "--host", "/", "--login", "",
                  "--passcode", "")
    assert p.returncode == 0, p.stderr


def test_refused_login_is_printed_once_unescaped(broker):
    p = ferry_env("send", unique("q"), "x", env={"FERRY_SERVER": broker.addr, "FERRY_USER": "nobody",
                                                 "FERRY_PASSWORD": "wrong"})
    err = p.stderr.decode()
    assert p.returncode == 1, err
    assert "\\c" not in err and "\\n" not in err, "protocol escapes in: %r" % err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, "the error is printed once, on one line: %r" % err
    assert "refused" in err.lower() or "access" in err.lower(), err


def complete(*words):
    """What packaging/ferry.bash-completion offers for the command line
    `words` (the last one being completed)."""
    script = ('source "%s"; COMP_WORDS=(%s); COMP_CWORD=%d; _ferry; printf "%%s\\n" "${COMPREPLY[@]}"'
              % (REPO / "packaging" / "ferry.bash-completion", " ".join("'%s'" % w for w in words),
                 len(words) - 1))
    env = dict(os.environ, PATH=os.path.dirname(ferry_bin()) + os.pathsep + os.environ["PATH"])
    p = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 0, p.stderr
    return set(p.stdout.split())


def test_bash_completion():
    assert {"send", "serve"} <= complete("ferry", "se")
    assert "recv" not in complete("ferry", "se")
    assert {"--server", "--user", "--password", "--vhost"} <= complete("ferry", "send", "--")
    assert "--check-config" in complete("ferry", "serve", "--check")
    assert "--version" in complete("ferry", "--v")
