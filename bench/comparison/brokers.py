"""The three brokers under test, each started as a child process of this
script with its own configuration and data directories under a work
directory, on its own loopback port. Nothing under /etc or /var is written:
the Debian packages only provide the programs.

A broker object is started once per scenario group and stopped (by PID)
before the next broker starts, so each one runs alone on the machine.
"""
from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from . import stomp_check

# File descriptors for the children (mode G holds 10,000 connections).
NOFILE = 65536


def raise_nofile():
    """Raise this process's open-file limit; children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = NOFILE if hard == resource.RLIM_INFINITY else max(NOFILE, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def descendants(pid: int) -> list[int]:
    """pid and every process below it (from /proc, children of children)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_kib(pid: int) -> int:
    """VmRSS of pid and all its descendants, in KiB (0 for a gone process)."""
    total = 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def stomp_ready(port: int, login: str, passcode: str, timeout: float = 2.0) -> bool:
    """True once the port answers a STOMP CONNECT with CONNECTED."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"CONNECT\naccept-version:1.2\nhost:/\nlogin:{login}\n"
                      f"passcode:{passcode}\n\n\0".encode())
            data = b""
            while b"\0" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    return False
                data += chunk
            return data.lstrip(b"\r\n").startswith(b"CONNECTED")
    except OSError:
        return False


class Broker:
    name = "?"
    login = "guest"
    passcode = "guest"
    # One sentence: what a RECEIPT to a persistent SEND means on this broker.
    durability = ""

    def __init__(self, work: Path, port: int):
        self.work = work / self.name
        self.port = port
        self.proc: subprocess.Popen | None = None
        self.log_path = self.work / "broker.log"
        self.settings: list[str] = []  # what this run configured, for the doc

    # --- subclass hooks -------------------------------------------------
    def command(self) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def prepare(self):
        """Write configuration files into self.work (fresh each start)."""

    def version(self) -> str:
        raise NotImplementedError

    def cleanup(self):
        """Stop helper processes started next to the broker."""

    def queue_destination(self, name: str) -> str:
        """The STOMP destination `ferry bench` uses for queue `name`."""
        return f"/queue/{name}"

    # --- common ---------------------------------------------------------
    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, fresh: bool = True, timeout: float = 120.0, ready_marker: str | None = None):
        """Starts the broker and waits until it answers STOMP, or (ready_marker)
        until that text appears in its log; ready_at - started_at is then the
        start-up time, to within 20 ms."""
        if fresh and self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.prepare()
        cmd, env = self.command()
        full_env = dict(os.environ)
        full_env.update(env)
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.log = open(self.log_path, "ab")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(cmd, env=full_env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=self.work, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; "
                                   f"log {self.log_path}:\n{self.tail_log()}")
            if ready_marker is not None:
                with open(self.log_path, "rb") as f:
                    f.seek(log_offset)
                    if ready_marker.encode() in f.read():
                        self.ready_at = time.monotonic()
                        return
                time.sleep(0.02)
                continue
            if stomp_ready(self.port, self.login, self.passcode):
                self.ready_at = time.monotonic()
                return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer STOMP on port {self.port} "
                           f"within {timeout:.0f} s; log {self.log_path}:\n{self.tail_log()}")

    def tail_log(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 60.0):
        """SIGTERM the broker's process group, then SIGKILL what is left."""
        if self.proc is None:
            return
        pids = descendants(self.proc.pid)
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        for p in pids:  # anything of ours still alive (a JVM that ignored TERM)
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None
        self.log.close()
        self.cleanup()


class Ferry(Broker):
    name = "ferry"
    durability = ("`fsync = always` (the default): the RECEIPT of a persistent SEND is sent "
                  "after the fdatasync that covers its journal record (group commit)")

    def __init__(self, work: Path, port: int, binary: str):
        super().__init__(work, port)
        self.binary = binary
        self.settings = ["fsync = always (the default)", "shards = one per core",
                         "max-connections 20000",
                         "other options at their defaults"]

    def command(self):
        return ([self.binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--http-listen", "",
                 "--data-dir", str(self.work / "data"), "--max-connections", "20000",
                 "--log-level", "info"], {})

    def version(self) -> str:
        try:
            out = subprocess.run([self.binary, "--version"], capture_output=True,
                                 text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip().splitlines()[0]
        except OSError:
            pass
        # No --version: the commit of the checkout the binary was built in
        # (build/ferry sits one level below it).
        repo = Path(self.binary).resolve().parent.parent
        rev = subprocess.run(["git", "-C", str(repo), "describe", "--always", "--dirty"],
                             capture_output=True, text=True).stdout.strip()
        branch = subprocess.run(["git", "-C", str(repo), "rev-parse", "--abbrev-ref", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        return f"ferry, git {rev} ({branch})" if rev else "ferry (version unknown)"



class RabbitMQ(Broker):
    name = "rabbitmq"
    durability = ("a RECEIPT to a SEND is sent on the publisher confirm; for a persistent "
                  "message on a durable queue that is after the message store / queue index "
                  "has fsynced it (fsyncs are batched; a message consumed and acked before "
                  "it reaches disk may be confirmed without being written)")
    ERLANG_PORT_MAPPER = 4371  # epmd of our own, not the default 4369

    def __init__(self, work: Path, port: int):
        super().__init__(work, port)
        self.epmd: subprocess.Popen | None = None
        self.settings = ["classic queues (the default); each queue is declared as `/queue/x` "
                         "declares it (durable) and loaded through `/amq/queue/x` (see Notes)",
                         "STOMP plugin on 127.0.0.1 only, AMQP listener off",
                         "other settings at their defaults (vm_memory_high_watermark 0.4)"]

    def prepare(self):
        (self.work / "rabbitmq.conf").write_text(
            "listeners.tcp = none\n"
            f"stomp.listeners.tcp.1 = 127.0.0.1:{self.port}\n"
            "loopback_users.guest = true\n"
            "stomp.default_user = guest\n"
            "stomp.default_pass = guest\n"
            "log.console = true\n"
            "log.console.level = info\n"
            "log.file = false\n")
        (self.work / "enabled_plugins").write_text("[rabbitmq_stomp].\n")
        (self.work / "rabbitmq-env.conf").write_text("")
        # Our own epmd in the foreground, so it can be stopped by PID.
        epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
        self.epmd = subprocess.Popen([epmd, "-port", str(self.ERLANG_PORT_MAPPER)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        time.sleep(0.3)

    def env(self) -> dict[str, str]:
        w = str(self.work)
        return {
            "HOME": w,  # the Erlang cookie is created here
            "RABBITMQ_NODENAME": "ferrybench@localhost",
            "RABBITMQ_DIST_PORT": "25714",
            "ERL_EPMD_PORT": str(self.ERLANG_PORT_MAPPER),
            "RABBITMQ_CONFIG_FILE": f"{w}/rabbitmq.conf",
            "RABBITMQ_ADVANCED_CONFIG_FILE": f"{w}/advanced.config",
            "RABBITMQ_CONF_ENV_FILE": f"{w}/rabbitmq-env.conf",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{w}/enabled_plugins",
            "RABBITMQ_MNESIA_BASE": f"{w}/mnesia",
            "RABBITMQ_LOG_BASE": f"{w}/log",
            "RABBITMQ_PID_FILE": f"{w}/rabbitmq.pid",
            "RABBITMQ_LOGS": "-",
        }

    def command(self):
        return (["/usr/lib/rabbitmq/bin/rabbitmq-server"], self.env())

    def version(self) -> str:
        return dpkg_version("rabbitmq-server")

    def queue_destination(self, name: str) -> str:
        # RabbitMQ reads a SEND's `persistent` header on /queue/x as the queue's
        # durability too: persistent:false from a producer re-declares the
        # durable queue the consumer made, and the broker answers ERROR
        # resource_locked. So the queue is declared once here, the way /queue/x
        # declares it (durable), and the run uses /amq/queue/x, which routes to
        # that existing queue without declaring anything.
        stomp_check.declare_queue(self.port, self.login, self.passcode, f"/queue/{name}")
        return f"/amq/queue/{name}"

    def cleanup(self):
        if self.epmd is not None:
            self.epmd.terminate()
            try:
                self.epmd.wait(10)
            except subprocess.TimeoutExpired:
                self.epmd.kill()
            self.epmd = None


class ActiveMQ(Broker):
    name = "activemq"
    login = "admin"
    passcode = "admin"
    durability = ("KahaDB with `enableJournalDiskSyncs=true` (the default): a SEND with a "
                  "receipt is sent synchronously and the RECEIPT follows the journal write "
                  "and its disk sync")
    HEAP = "1G"

    def __init__(self, work: Path, port: int):
        super().__init__(work, port)
        self.settings = [f"JVM heap -Xms{self.HEAP} -Xmx{self.HEAP}",
                         "`stomp+nio` transport (the one meant for many connections), "
                         "`transport.tcpNoDelay=true` (the default false delays small frames)",
                         "KahaDB at its defaults; JMX off; no producer flow-control changes"]

    def prepare(self):
        conf = self.work / "conf"
        conf.mkdir(exist_ok=True)
        (self.work / "data").mkdir(exist_ok=True)
        (self.work / "tmp").mkdir(exist_ok=True)
        (conf / "activemq.xml").write_text(f"""<beans
  xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
  http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="ferrybench"
          useJmx="false" dataDirectory="{self.work}/data" schedulePeriodForDestinationPurge="0">
    <persistenceAdapter>
      <kahaDB directory="{self.work}/data/kahadb" enableJournalDiskSyncs="true"/>
    </persistenceAdapter>
    <transportConnectors>
      <transportConnector name="stomp"
        uri="stomp+nio://127.0.0.1:{self.port}?transport.tcpNoDelay=true&amp;transport.closeAsync=false&amp;wireFormat.maxFrameSize=104857600"/>
    </transportConnectors>
  </broker>
</beans>
""")
        # Debian's ActiveMQ logs through log4j 1.2.
        (conf / "log4j.properties").write_text(
            "log4j.rootLogger=INFO, out\n"
            "log4j.appender.out=org.apache.log4j.ConsoleAppender\n"
            "log4j.appender.out.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.out.layout.ConversionPattern=%d %-5p %m%n\n")

    def command(self):
        w = self.work
        return (["java", f"-Xms{self.HEAP}", f"-Xmx{self.HEAP}",
                 f"-Dlog4j.configuration=file:{w}/conf/log4j.properties",
                 "-Dactivemq.classpath=/usr/share/activemq/lib",
                 "-Dactivemq.home=/usr/share/activemq", f"-Dactivemq.base={w}",
                 f"-Dactivemq.conf={w}/conf", f"-Dactivemq.data={w}/data",
                 f"-Djava.io.tmpdir={w}/tmp",
                 "-jar", "/usr/share/activemq/bin/activemq.jar",
                 "start", f"xbean:file:{w}/conf/activemq.xml"], {})

    def version(self) -> str:
        return dpkg_version("activemq")


def dpkg_version(package: str) -> str:
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}", package],
                         capture_output=True, text=True)
    return out.stdout.strip() or f"{package} (not installed)"


def pick(names: list[str], work: Path, ferry_bin: str, ports: dict[str, int]) -> list[Broker]:
    made = {"ferry": lambda: Ferry(work, ports["ferry"], ferry_bin),
            "rabbitmq": lambda: RabbitMQ(work, ports["rabbitmq"]),
            "activemq": lambda: ActiveMQ(work, ports["activemq"])}
    return [made[n]() for n in names]

