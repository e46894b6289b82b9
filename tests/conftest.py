from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fila.client import Client
from tests.fila_process import FilaProcess


@pytest.fixture(scope="session", autouse=True)
def _no_stray_brokers() -> Iterator[None]:
    """Whatever a failing test left running is killed at the end of the session."""
    yield
    for proc in FilaProcess.started:
        proc.kill()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FilaProcess]:
    """A real `fila serve` on a free loopback port with a temporary data dir."""
    proc = FilaProcess(tmp_path / "data").start()
    yield proc
    proc.kill()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., FilaProcess]]:
    started: list[FilaProcess] = []

    def make(name: str = "data", **kw: object) -> FilaProcess:
        proc = FilaProcess(tmp_path / name, **kw).start()  # type: ignore[arg-type]
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.kill()


@pytest.fixture
def client(server: FilaProcess) -> Iterator[Client]:
    with Client(server.addr, timeout_s=10) as c:
        yield c


def wait_for(predicate: Callable[[], object], timeout_s: float = 10.0, what: str = "condition") -> object:
    """Poll until predicate() is truthy (and return it), or fail after a deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.01)


def take(client: Client, queue: str, n: int, timeout_s: float = 10.0, ack: bool = False,
         credit: int | None = None) -> list:
    """Read up to n messages from a fresh lease stream of credit n (so exactly what is read is
    leased), or of `credit`; stop early after timeout_s."""
    import threading

    out: list = []
    stream = client.lease(queue, credit=credit or max(1, min(n, 10_000)))
    timer = threading.Timer(timeout_s, stream.close)
    timer.start()
    try:
        for msg in stream:
            out.append(msg)
            if ack:
                client.ack(queue, msg.id)
            if len(out) >= n:
                break
    finally:
        timer.cancel()
        stream.close()
    return out
