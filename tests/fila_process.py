"""Start and stop a real `fila serve` process for tests.

The server listens on port 0 (the OS picks a free loopback port) and the test reads the port
from its "listening on" log line, polling with a deadline. `FILA_BIN` points the tests at a
built executable instead of this checkout's Python package.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

_LISTENING = re.compile(r"listening on (\S+):(\d+)")
_METRICS = re.compile(r"metrics on http://(\S+):(\d+)/metrics")


def fila_command() -> list[str]:
    binary = os.environ.get("FILA_BIN")
    if binary:
        return [binary]
    return [sys.executable, "-m", "fila"]


class FilaProcess:
    """One broker process on a data dir; can be killed and restarted on the same dir."""

    started: list[FilaProcess] = []  # every instance that ran, so a session can clean up

    def __init__(self, data_dir: Path, extra_args: list[str] | None = None,
                 env: dict[str, str] | None = None, config_file: Path | None = None) -> None:
        self.data_dir = data_dir
        self.extra_args = extra_args or []
        self.env = env or {}
        self.config_file = config_file
        self.proc: subprocess.Popen[bytes] | None = None
        self.addr = ""
        self.port = 0
        self.metrics_url = ""
        self.log_path = data_dir.parent / f"{data_dir.name}.log"
        self._log_offset = 0
        self.starts = 0

    def start(self, timeout_s: float = 20.0) -> FilaProcess:
        args = [*fila_command(), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir),
                "--metrics-listen", "127.0.0.1:0"]
        if self.config_file:
            args += ["--config", str(self.config_file)]
        args += self.extra_args
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        env = {**os.environ, **self.env}
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, env=env,
                                     cwd=self.data_dir.parent)
        log.close()
        self.starts += 1
        FilaProcess.started.append(self)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.log_text()
            m = _LISTENING.search(text)
            if m:
                self.port = int(m.group(2))
                self.addr = f"127.0.0.1:{self.port}"
                metrics = _METRICS.search(text)
                self.metrics_url = f"http://127.0.0.1:{metrics.group(2)}/metrics" if metrics else ""
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"fila serve exited with {self.proc.returncode}:\n{self.log_text()}")
            time.sleep(0.02)
        self.kill()
        raise TimeoutError(f"fila serve did not start in {timeout_s}s:\n{self.log_text()}")

    def log_text(self) -> str:
        """What this run (since the last start) has logged."""
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as f:
            f.seek(self._log_offset)
            return f.read().decode(errors="replace")

    def kill(self) -> None:
        """kill -9: no chance to flush or close anything."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout_s: float = 10.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout_s)

    def restart(self) -> FilaProcess:
        self.kill()
        return self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
