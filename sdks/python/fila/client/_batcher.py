"""Batch many single calls into one RPC: the SDK's answer to per-RPC cost.

Callers `await submit(key, item)`; each caller gets its own result (or its own exception).
Batching adapts to load, like Nagle's algorithm without its delay: when no call is in flight
for a key, what is waiting goes out at once (after the current burst of callbacks); while
calls are in flight, items gather and go out when one returns, when `max_batch` wait, or
after `linger_ms` at the latest. A lone caller never waits for company; many callers share
calls. At most `max_in_flight` calls per key are outstanding.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")

# send(key, items) -> one result per item, in order; a result that is an Exception is raised
# to that item's caller.
SendFn = Callable[[Any, list[Any]], Awaitable[list[Any]]]


class Batcher(Generic[Item]):
    def __init__(self, send: SendFn, linger_ms: float, max_batch: int,
                 max_in_flight: int = 4) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._send = send
        self._linger_s = max(0.0, linger_ms) / 1000.0
        self._max = max_batch
        self._max_in_flight = max(1, max_in_flight)
        self._pending: dict[Hashable, list[tuple[Item, asyncio.Future[Any]]]] = {}
        self._timers: dict[Hashable, asyncio.TimerHandle] = {}
        self._busy: dict[Hashable, int] = {}  # calls in flight per key
        self._inflight: set[asyncio.Task[None]] = set()

    async def submit(self, key: Hashable, item: Item) -> Any:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        pending = self._pending.setdefault(key, [])
        pending.append((item, fut))
        if len(pending) >= self._max:
            self._flush(key)
        elif len(pending) == 1:
            if not self._busy.get(key):
                loop.call_soon(self._flush, key)  # idle: go now, with whatever this burst adds
            else:
                self._timers[key] = loop.call_later(self._linger_s, self._flush, key)
        return await fut

    def _flush(self, key: Hashable) -> None:
        if self._busy.get(key, 0) >= self._max_in_flight:
            return  # a call will return soon and flush what waits
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        batch = self._pending.pop(key, None)
        if not batch:
            return
        self._busy[key] = self._busy.get(key, 0) + 1
        task = asyncio.get_running_loop().create_task(self._run(key, batch))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    def _done(self, key: Hashable) -> None:
        n = self._busy.get(key, 1) - 1
        if n:
            self._busy[key] = n
        else:
            self._busy.pop(key, None)
        if self._pending.get(key):
            self._flush(key)  # what gathered while the call was out goes now

    async def _run(self, key: Hashable, batch: list[tuple[Item, asyncio.Future[Any]]]) -> None:
        try:
            results = await self._send(key, [item for item, _ in batch])
        except BaseException as exc:  # the whole call failed: every caller hears it
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        finally:
            self._done(key)
        for (_, fut), result in zip(batch, results, strict=True):
            if fut.done():
                continue
            if isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                fut.set_result(result)

    async def flush_all(self) -> None:
        """Send everything pending and wait until every call has returned."""
        while self._pending or self._inflight:
            for key in list(self._pending):
                self._flush(key)
            if self._inflight:
                await asyncio.gather(*list(self._inflight), return_exceptions=True)
            elif self._pending:  # all keys at their in-flight limit: cannot happen idle
                await asyncio.sleep(0)
