"""The collector is tuned for a broker's many long-lived objects (fila.server.gc_tuning):
while a backlog builds, it rarely walks the older generations, where the held messages are.
Run in a fresh interpreter each, so the thresholds and counts are the script's own."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent("""
    import gc, sys
    from fila.engine import Broker, QueueSettings, Storage
    from fila.server import gc_tuning

    if sys.argv[2] == "tuned":
        gc_tuning.tune()
    older = 0

    def count(phase, info):
        global older
        older += phase == "stop" and info["generation"] >= 1

    gc.callbacks.append(count)
    storage = Storage(sys.argv[1])
    b = Broker(storage)
    b.create_queue("q", QueueSettings())
    for i in range(100_000):  # nobody consumes: a backlog of 100,000 messages builds
        b.enqueue("q", {"tenant": str(i % 100)}, b"x")
        if i % 100 == 99:
            b.turn()
    assert b.queues["q"].depth == 100_000
    storage.close()
    print(older)
""")


@pytest.mark.parametrize("gc_setting", ["default", "tuned"])
def test_a_growing_backlog_is_rarely_walked_by_the_collector(tmp_path: Path,
                                                             gc_setting: str) -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "data"), gc_setting],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    older_collections = int(out.stdout)
    if gc_setting == "tuned":
        assert older_collections <= 3
    else:  # CPython's defaults, for contrast: what the tuning saves
        assert older_collections >= 10
