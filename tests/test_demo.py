"""`fila demo` (what ./scripts/demo.sh runs) on a busy machine: it starts its broker on free
ports, whatever holds 5555 and 9464, and points at the right log when the broker fails."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

DEMO = [sys.executable, "-m", "fila", "demo"]


@contextmanager
def busy(*ports: int) -> Iterator[None]:
    """Hold these loopback ports (one already taken by something else is just as busy)."""
    with ExitStack() as stack:
        for port in ports:
            s = stack.enter_context(socket.socket())
            try:
                s.bind(("127.0.0.1", port))
                s.listen()
            except OSError:
                pass
        yield


def test_the_demo_runs_when_the_default_ports_are_taken(tmp_path: Path) -> None:
    with busy(5555, 9464):
        r = subprocess.run(DEMO, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Broker stopped." in r.stdout
    assert (tmp_path / "fila-demo.log").exists()  # the log it names, in .gitignore
    assert (tmp_path / "fila-data").is_dir()  # the default data dir


def test_a_broker_that_cannot_start_is_reported_with_its_log(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where the data dir should be")
    r = subprocess.run([*DEMO, "--data-dir", "data"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1
    assert "the broker did not start; see data.log" in r.stdout
    assert "data" in (tmp_path / "data.log").read_text()
