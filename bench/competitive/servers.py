"""RabbitMQ and Redis as throwaway servers: loopback, a free port, a temp dir, stopped after.

Each runs in its own session (so its helper processes can be found and counted); its CPU is
the sum over the processes of that session. Nothing is installed here: `missing()` says what
is not on this machine, and how to get it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from bench.harness import _CLK_TCK, ServerProcess

RABBIT_LAUNCHER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")  # Debian's, runs as this user
APT_HINT = "apt-get install -y rabbitmq-server redis-server"
PIP_HINT = ".venv/bin/pip install pika redis"
START_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def package_version(deb: str) -> str:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", deb], capture_output=True,
                             text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return "?"
    version = out.stdout.strip()
    return version.split(":", 1)[-1] if version else "?"  # without the Debian epoch


def missing(kind: str) -> list[str]:
    """What `kind` ("rabbitmq" or "redis") needs and this machine lacks."""
    if kind == "rabbitmq":
        out = [] if shutil.which("rabbitmq-server") and RABBIT_LAUNCHER.exists() else [
            "the rabbitmq-server binary (Debian package rabbitmq-server)"]
        return out + ([] if importlib.util.find_spec("pika") else ["the pika package"])
    out = [] if shutil.which("redis-server") else ["the redis-server binary (Debian package)"]
    return out + ([] if importlib.util.find_spec("redis") else ["the redis package"])


def _session_cpu(sid: int) -> float | None:
    """CPU seconds used so far by every process of session `sid`."""
    total, found = 0.0, False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # field 6 of stat: the session id
            total += (int(fields[11]) + int(fields[12])) / _CLK_TCK
            found = True
    return total if found else None


class External(ServerProcess):
    """A server binary run in its own session and temp dir; ready once `ready()` says so."""

    def __init__(self) -> None:
        super().__init__()
        self.port = 0

    def env(self, workdir: Path) -> dict[str, str]:
        return dict(os.environ)

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout_s: float = START_TIMEOUT_S) -> External:
        self._tmp = tempfile.TemporaryDirectory(prefix=f"fila-bench-{self.name}-")
        workdir = Path(self._tmp.name)
        self.log_path = workdir / "server.log"
        self.port = free_port()
        cmd = self.command(workdir)
        self.started_at = time.perf_counter()
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
                                         env=self.env(workdir), start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                text = self.log_text()
                self.stop()
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{text}")
            if self.ready():
                self.addr = f"127.0.0.1:{self.port}"
                return self
            time.sleep(0.2)
        text = self.log_text()
        self.stop()
        raise TimeoutError(f"{self.name} did not start in {timeout_s}s:\n{text[-3000:]}")

    def cpu_seconds(self) -> float | None:
        return None if self.proc is None else _session_cpu(self.proc.pid)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.after_stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def after_stop(self) -> None:
        pass


class RabbitMQ(External):
    name = "rabbitmq"

    def __init__(self) -> None:
        super().__init__()
        self.epmd_port = free_port()
        self.dist_port = free_port()

    def command(self, workdir: Path) -> list[str]:
        (workdir / "enabled_plugins").write_text("[].\n")  # no management plugin
        (workdir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n")
        return [str(RABBIT_LAUNCHER)]

    def env(self, workdir: Path) -> dict[str, str]:
        w = str(workdir)
        return {
            **os.environ,
            "HOME": w,  # the Erlang cookie lands here
            "RABBITMQ_NODENAME": f"fila-bench-{self.port}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": f"{w}/mnesia",
            "RABBITMQ_LOG_BASE": f"{w}/log",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{w}/enabled_plugins",
            "RABBITMQ_CONFIG_FILE": f"{w}/rabbitmq",
            "RABBITMQ_ADVANCED_CONFIG_FILE": f"{w}/advanced.config",
            "RABBITMQ_CONF_ENV_FILE": f"{w}/rabbitmq-env.conf",
        }

    def ready(self) -> bool:
        import pika
        import pika.exceptions

        try:
            pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.port)).close()
        except pika.exceptions.AMQPError:
            return False
        return True

    def after_stop(self) -> None:
        # Erlang started its port mapper (epmd) as a daemon on our private port: stop it.
        if shutil.which("epmd"):
            subprocess.run(["epmd", "-port", str(self.epmd_port), "-kill"],
                           capture_output=True, timeout=10, check=False)


class Redis(External):
    name = "redis"

    def command(self, workdir: Path) -> list[str]:
        return ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(workdir), "--appendonly", "yes", "--appendfsync", "always",
                "--save", "", "--daemonize", "no", "--protected-mode", "no"]

    def ready(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False
