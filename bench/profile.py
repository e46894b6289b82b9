"""Where the server's time goes during a measured window: py-spy samples the server process
(`python -m bench --profile`), and a row's notes get its top frames by own time.

py-spy attaches from outside (no change to the server, so the figures stay the server's) and
samples every thread at PROFILE_RATE Hz. A frame is a function and its file; "own" is the
share of samples where it was the innermost frame. Threads waiting in the OS (the gRPC poller,
the group commit in fsync) show up too, by their waiting frame: that is wall-clock, not CPU.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

PROFILE_RATE = 250  # samples per second: enough for a ranking, cheap for the server
TOP_FRAMES = 8
ENV = "FILA_BENCH_PROFILE"  # set by `python -m bench --profile`; read by measured windows


def enabled() -> bool:
    return os.environ.get(ENV) == "1"


def _py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


class Sampling:
    """py-spy recording one process for a number of seconds."""

    def __init__(self, pid: int, seconds: float) -> None:
        exe = _py_spy()
        if exe is None:
            raise RuntimeError("--profile needs py-spy (pip install py-spy; it is a dev dependency)")
        self._dir = tempfile.TemporaryDirectory(prefix="fila-bench-profile-")
        self._out = Path(self._dir.name) / "samples.txt"
        self._proc = subprocess.Popen(
            [exe, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
             "--rate", str(PROFILE_RATE), "--format", "raw", "--nonblocking",
             "--output", str(self._out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def top(self, n: int = TOP_FRAMES) -> list[tuple[float, str]]:
        """Wait for the recording to end; the n frames with the most own samples, as
        (share of all samples, "function (file)")."""
        try:
            _, err = self._proc.communicate(timeout=60)
            if self._proc.returncode != 0 or not self._out.exists():
                raise RuntimeError(f"py-spy failed: {err.decode(errors='replace').strip()[-500:]}")
            return top_frames(self._out.read_text(), n)
        finally:
            self._dir.cleanup()


def top_frames(raw: str, n: int = TOP_FRAMES) -> list[tuple[float, str]]:
    """py-spy's raw (collapsed stacks) output -> the n innermost frames with most samples."""
    own: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        total += int(count)
        own[_short(stack.rsplit(";", 1)[-1])] += int(count)
    return [(k / total, frame) for frame, k in own.most_common(n)] if total else []


def _short(frame: str) -> str:
    """"Broker.enqueue (fila/engine/broker.py:282)" -> "Broker.enqueue (engine/broker.py)"."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    return f"{name} ({'/'.join(path.split('/')[-2:])})" if path else name


def note(frames: list[tuple[float, str]]) -> str:
    return "profile (own samples): " + ", ".join(f"{share:.0%} {frame}" for share, frame in frames)
