"""Runs the broker core on the asyncio loop: schedules its turns, and answers when durable.

gRPC handlers call the broker directly (it never awaits, so a call is atomic with respect
to every other handler) and then `poke()` so a turn (`Broker.turn()`) runs once the current
burst of callbacks is done. Everything handlers staged in between goes out as one RocksDB
write, and one group-commit fsync covers all batches written while the previous one ran. A
handler that must not answer before its effect is on disk awaits `durable(n)`. Under load,
turns and fsyncs are paced so each carries more (fila.server.pacing).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from fila.engine import Broker, GroupCommitter, Storage, TurnResult, views
from fila.errors import Unavailable
from fila.server.metrics import StorageStats
from fila.server.pacing import Pacer

log = logging.getLogger("fila.server")

FAILED_KEPT = 10_000


class CoreLoop:
    def __init__(self, broker: Broker, storage: Storage, stats: StorageStats | None = None,
                 pacer: Pacer | None = None) -> None:
        self.broker = broker
        self.stats = stats or StorageStats()
        self._loop = asyncio.get_running_loop()
        self._scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._durable = 0
        self.pacer = pacer or Pacer()
        self.stats.pace = self.pacer.pace  # for /metrics: whether it paces now
        self._last_turn = 0.0  # loop time of the last turn (paced turns are PACE_S apart)
        self._committer = GroupCommitter(storage, self._from_thread_durable, self._from_thread_error,
                                         self.pacer.pace)
        self._closed = False
        self._sync_started: dict[int, float] = {}  # batch number -> when it was handed to sync
        self._failed: dict[int, Exception] = {}  # batch numbers whose write failed, recent

    # -- turns ------------------------------------------------------------------------------

    def poke(self) -> None:
        """Ask for a turn soon (coalesced: many pokes, one turn)."""
        if not self._scheduled and not self._closed:
            self._scheduled = True
            pace = self.pacer.pace()
            if pace:
                at = self._last_turn + pace
                if at > self._loop.time():
                    self._loop.call_at(at, self._turn)  # what is staged meanwhile joins it
                    return
            self._loop.call_soon(self._turn)

    def _turn(self) -> None:
        self._scheduled = False
        self._last_turn = self._loop.time()
        self._settle(self.broker.turn())

    def _settle(self, result: TurnResult) -> None:
        """Hand written batches to the group commit, fail the waiters of batches that did not
        write, and set the timer for the next turn."""
        for w in result.written:
            self.stats.batch_size.observe(w.ops)
            self.stats.write_ms.observe(w.write_ms)
            self._sync_started.setdefault(w.batch_no, time.perf_counter())
            self._committer.submit(w.batch_no)
        for n, exc in result.failed:
            self._fail_batch(n, exc)
        delay = result.next_in_s
        if delay is None:
            return
        if delay <= 0:
            self.poke()
            return
        at = self._loop.time() + delay
        if self._timer is not None:
            if self._timer_at <= at and not self._timer.cancelled():
                return
            self._timer.cancel()
        self._timer_at = at
        self._timer = self._loop.call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.poke()

    # -- views of big queues ----------------------------------------------------------------

    async def ranked(self, names: list[str], limit: int) -> None:
        """Before a view of these queues: have the keys of each queue too big to rank at once
        ranked between turns (fila.engine.key_ranking). Waits only where no ranking exists
        yet; a stale one is shown while the next is built."""
        b = self.broker
        wanted = wait = False
        for name in names:
            state = views.ranking_state(b, name, limit)
            if state in ("stale", "missing"):
                b.want_ranking(name, limit)
                wanted, wait = True, wait or state == "missing"
        if not wait:
            if wanted:
                self.poke()  # the refresh runs on the next turns
            return
        fut: asyncio.Future[None] = self._loop.create_future()

        def done() -> None:
            if not fut.done():
                fut.set_result(None)

        b.when_chores_done(done)
        self.poke()
        await fut

    # -- durability -------------------------------------------------------------------------

    async def settled(self) -> None:
        """Return once everything staged so far (or, with nothing staged, everything written
        so far) is on disk: what a handler awaits before it answers."""
        b = self.broker
        await self.durable(b.pending_batch if b.staged else b.batch_no)

    async def durable(self, n: int) -> None:
        """Return once batch n is on disk; raise Unavailable if writing or syncing it failed."""
        failed = self._failed.get(n)
        if failed is not None:
            raise Unavailable(f"not persisted: {failed}")
        if n <= self._durable:
            return
        fut: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append((n, fut))
        self.poke()
        await fut

    def _from_thread_durable(self, n: int) -> None:
        self._loop.call_soon_threadsafe(self._resolve, n, None)

    def _from_thread_error(self, n: int, exc: Exception) -> None:
        log.error("storage sync failed", extra={"error": str(exc)})
        self._loop.call_soon_threadsafe(self._resolve, n, exc)

    def _resolve(self, n: int, exc: Exception | None) -> None:
        if exc is None:
            self._durable = max(self._durable, n)
        started = [m for m in self._sync_started if m <= n]
        if started:
            first = min(started)
            self.stats.sync_ms.observe((time.perf_counter() - self._sync_started[first]) * 1000)
            for m in started:
                del self._sync_started[m]
        waiters = self._waiters
        answered = 0
        while waiters and waiters[0][0] <= n:
            _, fut = waiters.popleft()
            answered += 1
            if not fut.done():
                if exc is None:
                    fut.set_result(None)
                else:
                    fut.set_exception(Unavailable(f"not persisted: {exc}"))
        self.pacer.synced(answered)

    def _fail_batch(self, n: int, exc: Exception) -> None:
        log.error("storage write failed", extra={"error": str(exc)})
        self._failed[n] = exc  # for whoever asks about batch n later (a batch RPC's slices)
        while len(self._failed) > FAILED_KEPT:
            del self._failed[next(iter(self._failed))]
        keep: deque[tuple[int, asyncio.Future[None]]] = deque()
        for m, fut in self._waiters:
            if m == n:
                if not fut.done():
                    fut.set_exception(Unavailable(f"not persisted: {exc}"))
            else:
                keep.append((m, fut))
        self._waiters = keep

    # -- shutdown ---------------------------------------------------------------------------

    async def close(self) -> None:
        """Write what is staged, wait for it to be durable, stop the committer."""
        self._settle(self.broker.flush())
        if self._waiters:
            last = self._waiters[-1][0]
            try:
                await asyncio.wait_for(self.durable(last), timeout=5)
            except (TimeoutError, Unavailable):
                pass
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        await asyncio.to_thread(self._committer.stop)
