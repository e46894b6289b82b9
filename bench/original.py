"""The original Fila broker (Rust, faiscadev/fila at aafee2f) beside Fila, in the same run, on
the path its own SDKs use: one RPC per message (`Enqueue`; `Consume` streams acking each
message with a unary `Ack`). Same workers, same workload, same machine.

The original answers before its writes are synced (RocksDB without fsync); Fila answers after
the group-commit fsync. The rows say so. The binary is ../shared/peers/ (xz-compressed, built
on this kind of machine) or $FILA_ORIGINAL_BIN; without it the scenario reports nothing.
"""

from __future__ import annotations

import lzma
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

from bench import load
from bench.harness import ROOT, Broker, Row, ServerProcess, Settings, measure
from bench.load import Job
from bench.workers import Load

PEER_XZ = ROOT.parent / "shared" / "peers" / "fila-server-original-aafee2f.xz"
NOT_SYNCED = "the original answers before syncing to disk; Fila after its group-commit fsync"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Original(ServerProcess):
    """The original broker: fila.toml in its working directory names the port; it logs no
    "listening" line at warn level, so readiness is the port accepting connections."""

    name = "original"

    def __init__(self, binary: Path) -> None:
        super().__init__()
        self.binary = binary

    def start(self, timeout_s: float = 30.0) -> Original:
        self._tmp = tempfile.TemporaryDirectory(prefix="fila-bench-original-")
        work = Path(self._tmp.name)
        exe = work / "fila-server-original"
        if self.binary.suffix == ".xz":
            with lzma.open(self.binary) as src, exe.open("wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            shutil.copy(self.binary, exe)
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
        port = _free_port()
        (work / "fila.toml").write_text(f'[server]\nlisten_addr = "127.0.0.1:{port}"\n')
        self.log_path = work / "server.log"
        env = {**os.environ, "FILA_DATA_DIR": str(work / "db"), "RUST_LOG": "warn"}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen([str(exe)], cwd=work, env=env, stdout=log,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                text = self.log_text()
                self.stop()
                raise RuntimeError(f"the original broker exited:\n{text}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    self.addr = f"127.0.0.1:{port}"
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"the original broker did not listen within {timeout_s} s")


def peer_binary() -> Path | None:
    given = os.environ.get("FILA_ORIGINAL_BIN")
    if given:
        return Path(given)
    return PEER_XZ if PEER_XZ.exists() else None


async def _rate(s: Settings, server: ServerProcess, jobs: list[Job]) -> tuple[float, str]:
    """Job 0's rate and notes over a measured window, on a fresh queue of `server`."""
    with server:
        await load.setup_queue(server.addr)
        async with Load(jobs) as running:
            w = await measure(running.counters, server, s.warmup_s, s.measure_s,
                              clients=running.pids)
    return w.rate(0), w.notes(0)


def _jobs(s: Settings, addr: str, lifecycle: bool) -> list[Job]:
    enqueue = Job("enqueue", addr, tasks=s.producers, keys=s.fairness_keys,
                  payload_bytes=s.payload_bytes)
    return [Job("consume", addr, tasks=s.consumers), enqueue] if lifecycle else [enqueue]


async def original(s: Settings) -> list[Row]:
    binary = peer_binary()
    if binary is None:
        return [Row("original broker", float("nan"), "msg/s",
                    f"not measured: no {PEER_XZ.name} (or $FILA_ORIGINAL_BIN)")]
    shape = (f"{s.producers} Enqueue in flight; lifecycle adds {s.consumers} Consume streams "
             f"acking each message with a unary Ack; {load.shape(s)}")
    rows = []
    # A fresh broker for each figure: the lifecycle must not drain the enqueue run's backlog.
    for label, make in (("Fila", Broker), ("original", lambda: Original(binary))):
        for lifecycle, what in ((False, "enqueue"), (True, "lifecycle acked")):
            server = make()
            server.start()
            rate, notes = await _rate(s, server, _jobs(s, server.addr, lifecycle))
            rows.append(Row(f"{label}: {what}, 1 msg/RPC", rate, "msg/s",
                            f"{shape}; {NOT_SYNCED}; {notes}"))
    return rows
