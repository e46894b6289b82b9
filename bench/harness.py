"""What every scenario shares: settings, result rows, server subprocesses, measured windows.

A scenario is an `async def (Settings) -> list[Row]`. It starts its own server (a fresh
`fila serve` on a temp data dir, or the bare gRPC ceiling server), runs load for a warm-up
and then a measured window, and reports rows of (name, value, unit, notes). The load itself
usually runs in worker processes (bench/workers.py); their counters and CPU are read here.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import NamedTuple, Protocol

from bench import profile

ROOT = Path(__file__).resolve().parent.parent
_LISTENING = re.compile(r"listening on (\S+):(\d+)")
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class Row(NamedTuple):
    name: str
    value: float
    unit: str
    notes: str = ""


@dataclass(frozen=True)
class Settings:
    warmup_s: float = 2.0  # load runs this long before the measured window opens
    measure_s: float = 10.0  # the measured window
    producers: int = 64  # old clients: single-message Enqueue RPCs in flight at once
    consumers: int = 8  # old clients: Consume streams
    consume_fill: int = 100_000  # old clients' consume+ack: messages pre-filled
    batch_producers: int = 4  # batched: EnqueueBatch calls in flight (tasks)
    batch_consumers: int = 2  # batched: Lease streams
    credit_batches: int = 4  # batched: a Lease stream's credit, in batches (credit = this * N)
    sdk_tasks: int = 64  # AsyncClient.enqueue() callers
    payload_bytes: int = 100
    big_payload_bytes: int = 64 * 1024
    big_batch: int = 20  # messages per RPC with big payloads
    fairness_keys: int = 1000
    latency_rate: float = 200.0  # msg/s, paced
    latency_s: float = 10.0  # measured latency samples span this long
    fairness_k: int = 30_000  # deliveries counted by the fairness check
    drr_measure_s: float = 5.0  # DRR cost: the window of each measured run
    drr_rounds: int = 2  # DRR cost: runs per configuration, alternating; the best counts
    pending: int = 1_000_000  # messages held for the memory / restart check
    big_keys: int = 1_000_000  # big-keys: fairness keys of one queue
    many_queues: int = 10_000  # many-queues: idle queues beside the probed one


FULL = Settings()
QUICK = Settings(warmup_s=0.3, measure_s=1.0, consume_fill=5_000, latency_s=1.0,
                 fairness_k=3000, drr_measure_s=1.0, drr_rounds=1, pending=50_000,
                 big_keys=20_000, many_queues=300)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of values; nan if there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


# -- processes ---------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU process `pid` has used so far (Linux /proc), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def rss_bytes(pid: int) -> int | None:
    """Resident set size of process `pid` (Linux /proc), or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


# -- server subprocesses ----------------------------------------------------------------------


class ServerProcess:
    """A subprocess that logs "listening on HOST:PORT", run in its own temp dir."""

    name = "server"

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.addr = ""
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.log_path = Path()
        self.started_at = 0.0  # perf_counter() when the process was spawned

    def command(self, workdir: Path) -> list[str]:
        raise NotImplementedError

    def start(self, timeout_s: float = 30.0) -> ServerProcess:
        self._tmp = tempfile.TemporaryDirectory(prefix=f"fila-bench-{self.name}-")
        workdir = Path(self._tmp.name)
        self.log_path = workdir / "server.log"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        self.started_at = time.perf_counter()
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.command(workdir), stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=env
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            m = _LISTENING.search(self.log_text())
            if m:
                self.addr = f"127.0.0.1:{m.group(2)}"
                return self
            if self.proc.poll() is not None:
                text = self.log_text()
                self.stop()
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{text}")
            time.sleep(0.02)
        text = self.log_text()
        self.stop()
        raise TimeoutError(f"{self.name} did not start in {timeout_s}s:\n{text}")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def cpu_seconds(self) -> float | None:
        """User + system CPU the server has used so far (Linux /proc), or None."""
        return None if self.proc is None else cpu_seconds(self.proc.pid)

    def rss_bytes(self) -> int | None:
        return None if self.proc is None else rss_bytes(self.proc.pid)

    def kill(self) -> None:
        """SIGKILL the server (no shutdown at all: a crash) and wait for it to be gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> ServerProcess:
        return self if self.addr else self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        if e is not None and self.proc is not None:
            tail = self.log_text()[-3000:]
            print(f"--- {self.name} log (tail) ---\n{tail}", file=sys.stderr, flush=True)
        self.stop()


class Broker(ServerProcess):
    """A real `fila serve` on a free loopback port ($FILA_BIN if set), on a fresh data dir in
    its temp dir, or on `data_dir` if given (which outlives the process: restarts use it)."""

    name = "fila"

    def __init__(self, data_dir: Path | None = None) -> None:
        super().__init__()
        self.data_dir = data_dir

    def command(self, workdir: Path) -> list[str]:
        binary = os.environ.get("FILA_BIN")
        cmd = [binary] if binary else [sys.executable, "-m", "fila"]
        data = self.data_dir or workdir / "data"
        return [*cmd, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data),
                "--metrics-listen", "127.0.0.1:0"]


# -- counting and measured windows ------------------------------------------------------------


class Counted(Protocol):
    """Anything with a running count `n`: a Counter here, or a worker process's counter."""

    @property
    def n(self) -> int: ...


class Counter:
    """Counts events (messages); `reached` fires once the count gets to `target` (if set)."""

    __slots__ = ("n", "target", "reached")

    def __init__(self, target: int = 0) -> None:
        self.n = 0
        self.target = target
        self.reached = asyncio.Event()

    def add(self, k: int = 1) -> None:
        self.n += k
        if self.target and self.n >= self.target:
            self.reached.set()


class _Snapshot(NamedTuple):
    t: float
    counts: list[int]
    server_cpu: float | None
    client_cpu: float


def _snapshot(counters: Sequence[Counted], server: ServerProcess | None,
              clients: Sequence[int]) -> _Snapshot:
    """Counts and CPU now; client CPU is this process's plus that of the `clients` pids."""
    return _Snapshot(
        time.perf_counter(),
        [c.n for c in counters],
        server.cpu_seconds() if server else None,
        time.process_time() + sum(cpu_seconds(pid) or 0.0 for pid in clients),
    )


@dataclass
class Window:
    """What happened between two snapshots."""

    seconds: float
    counts: list[int]
    server_cpu_s: float | None
    client_cpu_s: float
    complete: bool = True  # False: the work ran out before the window was over
    profile: list[tuple[float, str]] = field(default_factory=list)  # top server frames (--profile)

    @classmethod
    def between(cls, a: _Snapshot, b: _Snapshot, complete: bool) -> Window:
        cpu = None if a.server_cpu is None or b.server_cpu is None else b.server_cpu - a.server_cpu
        counts = [y - x for x, y in zip(a.counts, b.counts, strict=True)]
        return cls(b.t - a.t, counts, cpu, b.client_cpu - a.client_cpu, complete)

    def rate(self, i: int = 0) -> float:
        return self.counts[i] / self.seconds if self.seconds > 0 else 0.0

    def notes(self, i: int = 0, what: str = "msg") -> str:
        """Counts, duration and CPU cost, for a row's notes."""
        n = self.counts[i]
        parts = [f"{n:,} {what}s in {self.seconds:.2f} s"]
        if self.server_cpu_s is not None and self.seconds > 0:
            per = f", {self.server_cpu_s / n * 1e6:.0f} us/{what}" if n else ""
            parts.append(f"server {self.server_cpu_s / self.seconds:.2f} cores{per}")
        if self.seconds > 0:
            parts.append(f"client {self.client_cpu_s / self.seconds:.2f} cores")
        if not self.complete:
            parts.append("ran out of work early")
        if self.profile:
            parts.append(profile.note(self.profile))
        return "; ".join(parts)


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`; True if `event` fired first."""
    try:
        await asyncio.wait_for(event.wait(), timeout=max(seconds, 0.0))
    except TimeoutError:
        return event.is_set()
    return True


async def measure(
    counters: Sequence[Counted],
    server: ServerProcess | None,
    warmup_s: float,
    measure_s: float,
    done: asyncio.Event | None = None,
    clients: Sequence[int] = (),
) -> Window:
    """Let the running load warm up, then count events in the measured window.

    If `done` fires (the work ran out) the window ends there; if it fires during warm-up, the
    window covers the whole run, warm-up included, and is marked incomplete. `clients` are
    the pids of load worker processes, whose CPU counts as the client's.
    """
    done = done or asyncio.Event()
    start = _snapshot(counters, server, clients)
    if await _wait(done, warmup_s):
        return Window.between(start, _snapshot(counters, server, clients), complete=False)
    sampling = None
    if profile.enabled() and server is not None and server.proc is not None:
        sampling = profile.Sampling(server.proc.pid, measure_s)
    opened = _snapshot(counters, server, clients)
    ran_out = await _wait(done, measure_s)
    window = Window.between(opened, _snapshot(counters, server, clients), complete=not ran_out)
    if sampling is not None:
        window.profile = await asyncio.to_thread(sampling.top)
    return window
