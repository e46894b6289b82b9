"""Batch many single calls into one RPC: the SDK's answer to per-RPC cost.

Callers `await submit(key, item)`; items with the same key gather until `max_batch` of them
wait or `linger_ms` has passed since the first, then one call carries them all and each
caller gets its own result (or its own exception). Several batches may be in flight.
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
    def __init__(self, send: SendFn, linger_ms: float, max_batch: int) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._send = send
        self._linger_s = max(0.0, linger_ms) / 1000.0
        self._max = max_batch
        self._pending: dict[Hashable, list[tuple[Item, asyncio.Future[Any]]]] = {}
        self._timers: dict[Hashable, asyncio.TimerHandle] = {}
        self._inflight: set[asyncio.Task[None]] = set()

    async def submit(self, key: Hashable, item: Item) -> Any:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        pending = self._pending.setdefault(key, [])
        pending.append((item, fut))
        if len(pending) >= self._max:
            self._flush(key)
        elif len(pending) == 1:
            if self._linger_s == 0:
                loop.call_soon(self._flush, key)
            else:
                self._timers[key] = loop.call_later(self._linger_s, self._flush, key)
        return await fut

    def _flush(self, key: Hashable) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        batch = self._pending.pop(key, None)
        if not batch:
            return
        task = asyncio.get_running_loop().create_task(self._run(key, batch))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

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
        for (_, fut), result in zip(batch, results, strict=True):
            if fut.done():
                continue
            if isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                fut.set_result(result)

    async def flush_all(self) -> None:
        """Send everything pending now and wait for every call in flight."""
        for key in list(self._pending):
            self._flush(key)
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
