"""Durable state in RocksDB (rocksdict), behind a small interface the broker can rely on.

The key layout is fila.engine.keys. Durability is a group commit: the broker writes each
turn's batch with sync off (cheap, holds the GIL), and one background thread loops
`flush_wal(sync=True)` (releases the GIL) and then reports the highest batch number now on
disk. Everyone waiting on that batch or an earlier one is answered together: many producers
share one fsync.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import rocksdict

from fila.engine.staging import WriteBatch
from fila.errors import FailedPrecondition, Unavailable

log = logging.getLogger("fila.engine")


class Storage:
    """The RocksDB database of one data dir.

    Only the broker's thread writes; the group-commit thread only syncs the WAL.
    """

    # After a failed write RocksDB refuses every later write until it is reopened; try that at
    # most this often while the fault lasts (disk full, say), so recovery is automatic.
    REOPEN_INTERVAL_S = 0.5

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise Unavailable(f"cannot create data dir {self.path}: {exc.strerror}") from exc
        self._db = self._open()
        self._nosync = rocksdict.WriteOptions()
        self._nosync.sync = False
        self._closed = False
        self._handle_lock = threading.Lock()  # the committer thread syncs while we may reopen
        self.fault: str | None = None  # why writes fail, while they do
        self._next_reopen = 0.0

    def _open(self) -> rocksdict.Rdict:
        opts = rocksdict.Options(raw_mode=True)
        opts.create_if_missing(True)
        try:
            return rocksdict.Rdict(str(self.path), opts)
        except Exception as exc:  # rocksdict raises plain exceptions; translate at the boundary
            text = str(exc)
            if "lock" in text.lower():
                raise FailedPrecondition(
                    f"data dir {self.path} is in use by another Fila process ({text})"
                ) from exc
            raise Unavailable(f"cannot open data dir {self.path}: {text}") from exc

    def _try_reopen(self) -> None:
        now = time.monotonic()
        if now < self._next_reopen:
            raise Unavailable(f"storage cannot write: {self.fault}")
        self._next_reopen = now + self.REOPEN_INTERVAL_S
        with self._handle_lock:
            try:
                self._db.close()
            except Exception:  # closing a DB in an error state may complain; reopen anyway
                pass
            self._db = self._open()
        log.warning("storage reopened after a write fault", extra={"fault": self.fault})

    # -- writing ---------------------------------------------------------------------------

    def write(self, batch: WriteBatch) -> None:
        """Apply a batch (from `new_batch`) atomically, to the memtable and the OS's copy of
        the WAL."""
        if self.fault is not None:
            self._try_reopen()
        try:
            self._db.write(cast(rocksdict.WriteBatch, batch), self._nosync)
        except Exception as exc:
            first = self.fault is None
            self.fault = str(exc)
            if first:
                log.error("storage write failed", extra={"error": self.fault})
            raise Unavailable(f"storage cannot write: {exc}") from exc
        if self.fault is not None:
            log.warning("storage writes again")
            self.fault = None

    def sync_wal(self) -> None:
        """Make everything written so far durable. Releases the GIL while it waits."""
        try:
            with self._handle_lock:
                self._db.flush_wal(True)
        except Exception as exc:
            raise Unavailable(f"storage sync failed: {exc}") from exc

    @staticmethod
    def new_batch() -> rocksdict.WriteBatch:
        return rocksdict.WriteBatch(raw_mode=True)

    # -- reading (recovery and admin paths only) --------------------------------------------

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """All (key, value) pairs whose key starts with prefix, in key order."""
        for pair in self.items_from(prefix):
            if not pair[0].startswith(prefix):
                return
            yield pair

    def items_from(self, start: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) pair from `start` on, in key order, to the end: the caller
        stops where its prefix ends. rocksdict hands out the pairs without a Python step
        between them, which a loop over a million messages feels (recovery). No iterate
        upper bound: rocksdict does not keep a ReadOptions' bound alive for its iterator."""
        return cast(Iterator[tuple[bytes, bytes]], self._db.items(from_key=start))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with self._handle_lock:
                try:
                    self._db.flush_wal(True)
                except Exception as exc:  # e.g. disk full: what was confirmed is already synced
                    log.error("final WAL sync failed", extra={"error": str(exc)})
                finally:
                    self._db.close()


class GroupCommitter:
    """Background thread that fsyncs the WAL and reports which batches are durable.

    `submit(n)` says batch n has been written; `on_durable(n)` is called (from the committer
    thread) once batch n and every earlier one are on disk, or `on_error(n, exc)` if the sync
    failed. One fsync covers every batch submitted while the previous one ran. If `pace`
    says so (seconds, fila.server.pacing), a sync first waits that long for more batches.
    """

    def __init__(
        self,
        storage: Storage,
        on_durable: Callable[[int], None],
        on_error: Callable[[int, Exception], None],
        pace: Callable[[], float] | None = None,
    ) -> None:
        self._storage = storage
        self._pace = pace
        self._on_durable = on_durable
        self._on_error = on_error
        self._cond = threading.Condition()
        self._submitted = 0
        self._synced = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="fila-group-commit", daemon=True)
        self._thread.start()

    def submit(self, batch_no: int) -> None:
        with self._cond:
            if batch_no > self._submitted:
                self._submitted = batch_no
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._submitted <= self._synced and not self._stopping:
                    self._cond.wait()
                if self._submitted <= self._synced and self._stopping:
                    return
                target = self._submitted
            wait = self._pace() if self._pace is not None else 0.0
            if wait > 0:
                time.sleep(wait)  # under load: more batches join this fsync
                with self._cond:
                    target = self._submitted
            try:
                self._storage.sync_wal()
            except Exception as exc:  # report and carry on: the next sync may succeed
                self._synced = target
                self._on_error(target, exc)
                continue
            self._synced = target
            self._on_durable(target)

    def stop(self) -> None:
        """Sync whatever is outstanding, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout=10)
