"""Storage faults on a real filesystem: disk full, read-only, a corrupt WAL tail.

The disk-full and read-only cases mount a small tmpfs, which needs root (CI runs as root);
elsewhere they skip, but under CI (CI=true) a missing mount is a failure, not a skip.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fila.client import Client, Unavailable
from tests.conftest import take, wait_for
from tests.fila_process import FilaProcess


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs under CI: {r.stderr.strip()}")
        pytest.skip(f"needs root to mount a small tmpfs: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path: Path) -> None:
    with path.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass


def test_disk_full_is_unavailable_and_recovers(small_disk: Path) -> None:
    proc = FilaProcess(small_disk / "data")
    proc.log_path = small_disk.parent / "disk.log"  # keep the log off the full disk
    proc.start()
    try:
        with Client(proc.addr, timeout_s=5, reconnect=None) as c:  # no retries: it watches failures
            c.create_queue("q")
            confirmed = {c.enqueue("q", b"x" * 100) for _ in range(20)}
            fill(small_disk / "filler")
            refused = 0
            for _ in range(200):  # until the WAL cannot grow
                try:
                    confirmed.add(c.enqueue("q", b"y" * 2000))
                except Unavailable as exc:
                    assert "No space left" in str(exc)
                    refused += 1
                    break
            assert refused, "the disk never filled"
            # It keeps serving what it can: reads and deliveries work.
            assert c.get_stats("q").depth == len(confirmed)
            assert len(take(c, "q", 1)) == 1
            (small_disk / "filler").unlink()
            mid = wait_for(lambda: _try_enqueue(c), what="writes to recover")
            present = {m.id for m in c.peek("q", 10_000)}
            assert confirmed | {mid} <= present
    finally:
        proc.kill()
    proc.start()
    with Client(proc.addr, timeout_s=5, reconnect=None) as c:  # no retries: it watches failures
        assert confirmed <= {m.id for m in c.peek("q", 10_000)}
    proc.kill()


def _try_enqueue(c: Client) -> str | None:
    try:
        return c.enqueue("q", b"after")
    except Unavailable:
        return None


def test_read_only_data_dir_is_refused_at_start_with_the_reason(small_disk: Path) -> None:
    proc = FilaProcess(small_disk / "data")
    proc.log_path = small_disk.parent / "ro.log"
    proc.start()
    with Client(proc.addr, timeout_s=5, reconnect=None) as c:  # no retries: it watches failures
        c.create_queue("q")
    assert proc.terminate() == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        with pytest.raises(RuntimeError, match="(?i)read-only file system"):
            proc.start()
        assert proc.proc is not None and proc.proc.returncode == 2
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    proc.start()  # the fault is gone: it starts, and the queue is still there
    with Client(proc.addr, timeout_s=5, reconnect=None) as c:  # no retries: it watches failures
        assert "q" in {q.name for q in c.list_queues()}
    proc.kill()


def test_corrupt_wal_tail_after_a_crash(tmp_path: Path) -> None:
    proc = FilaProcess(tmp_path / "data").start()
    with Client(proc.addr, timeout_s=5, reconnect=None) as c:  # no retries: it watches failures
        c.create_queue("q")
        ids = {c.enqueue("q", str(i)) for i in range(50)}
    proc.kill()
    wal = max((tmp_path / "data").glob("*.log"), key=lambda p: p.stat().st_mtime)
    with wal.open("ab") as f:
        f.write(os.urandom(300))  # a torn, garbage tail
    proc.start()
    with Client(proc.addr, timeout_s=5, reconnect=None) as c:  # no retries: it watches failures
        assert {m.id for m in c.peek("q", 1000)} == ids
        c.enqueue("q", b"still writable")
    proc.kill()
