"""The data side of `fila top`: what it asks the broker, and what it remembers between polls.

The app reads the broker through a `StatsSource`, a few of the admin calls of
`fila.client.AsyncClient`: `ClientSource` in real life, `fila.tui.fixtures.FixedSource` in
tests and screenshots. `fetch()` asks for one round of stats; `History` turns each round into
a `Snapshot`, adding what needs two polls to see: DRR rounds per second, the share of throttle
checks refused since the last poll, and the delivery-rate series behind the sparklines.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from fila.client import DLQ_SUFFIX, AsyncClient, QueueInfo, QueueStats, ThrottleStats
from fila.errors import FilaError, NotFound

HISTORY_POLLS = 60
MAX_CONCURRENT_STATS = 8  # GetStats calls in flight at once, however many queues there are

T = TypeVar("T")


class StatsSource(Protocol):
    """The admin calls `fila top` makes (an `AsyncClient` has them all)."""

    async def list_queues(self) -> list[QueueInfo]: ...

    async def get_stats(self, queue: str) -> QueueStats: ...

    async def redrive(self, dlq_queue: str, count: int = 0) -> int: ...

    async def set_throttle(
        self, key: str, rate_per_second: float, burst: float | None = None
    ) -> None: ...


class ClientSource:
    """An `AsyncClient` opened on first use and opened afresh after the broker went away.

    A gRPC channel that lost its server waits out an exponential reconnect backoff (up to two
    minutes) before it tries again; a new channel connects at once, so `fila top` notices a
    broker that came back on its next poll.
    """

    RECONNECT_CODES = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED"})

    def __init__(self, addr: str, timeout_s: float = 3.0, **client_options: Any) -> None:
        self.addr = addr
        self.timeout_s = timeout_s
        self.client_options = client_options  # api_key, tls, ca_file, cert_file, key_file
        self._client: AsyncClient | None = None

    async def _call(self, call: Callable[[AsyncClient], Awaitable[T]]) -> T:
        if self._client is None:  # created here, inside the app's event loop
            # reconnect=None: the poller shows the broker unreachable and tries again by itself
            self._client = AsyncClient(self.addr, timeout_s=self.timeout_s, reconnect=None,
                                       **self.client_options)
        client = self._client
        try:
            return await call(client)
        except FilaError as exc:
            if exc.code_name in self.RECONNECT_CODES and self._client is client:
                self._client = None
                await client.close()
            raise

    async def list_queues(self) -> list[QueueInfo]:
        return await self._call(lambda c: c.list_queues())

    async def get_stats(self, queue: str) -> QueueStats:
        return await self._call(lambda c: c.get_stats(queue))

    async def redrive(self, dlq_queue: str, count: int = 0) -> int:
        return await self._call(lambda c: c.redrive(dlq_queue, count))

    async def set_throttle(
        self, key: str, rate_per_second: float, burst: float | None = None
    ) -> None:
        await self._call(lambda c: c.set_throttle(key, rate_per_second, burst))

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()


def is_dlq(name: str, names: set[str]) -> bool:
    """A dead-letter queue: shown as its queue's DLQ column, not as a row of its own."""
    return name.endswith(DLQ_SUFFIX) and name[: -len(DLQ_SUFFIX)] in names


async def fetch(source: StatsSource) -> dict[str, QueueStats]:
    """One round of stats: every queue except dead-letter queues, in ListQueues order."""
    infos = await source.list_queues()
    names = {q.name for q in infos}
    wanted = [q.name for q in infos if not is_dlq(q.name, names)]
    gate = asyncio.Semaphore(MAX_CONCURRENT_STATS)

    async def one(name: str) -> QueueStats | None:
        async with gate:
            try:
                return await source.get_stats(name)
            except NotFound:  # deleted between ListQueues and GetStats
                return None

    results = await asyncio.gather(*(one(n) for n in wanted))
    return {name: s for name, s in zip(wanted, results, strict=True) if s is not None}


@dataclass(frozen=True)
class Snapshot:
    """One poll's stats plus what it takes two polls to know."""

    stats: dict[str, QueueStats]
    throttles: list[ThrottleStats]
    delivery_history: dict[str, tuple[float, ...]] = field(default_factory=dict)
    drr_rounds_per_s: dict[str, float | None] = field(default_factory=dict)
    hit_rates: dict[str, float | None] = field(default_factory=dict)
    polls: int = 0

    def throttle(self, key: str) -> ThrottleStats | None:
        return next((t for t in self.throttles if t.key == key), None)


class History:
    """The last `length` polls' delivery rates, and the previous poll's counters."""

    def __init__(self, length: int = HISTORY_POLLS) -> None:
        self.length = length
        self.polls = 0
        self._series: dict[str, deque[float]] = {}
        self._prev: Snapshot | None = None
        self._prev_at_s = 0.0

    def add(self, stats: dict[str, QueueStats], now_s: float) -> Snapshot:
        """Record one poll taken at `now_s` (a monotonic clock) and return its Snapshot."""
        for name in list(self._series):
            if name not in stats:
                del self._series[name]
        for name, s in stats.items():
            self._series.setdefault(name, deque(maxlen=self.length)).append(s.delivery_rate)
        # Throttle buckets are broker-wide: every queue's stats carry all of them.
        throttles = next((s.throttles for s in stats.values()), [])
        prev, elapsed_s = self._prev, now_s - self._prev_at_s
        rounds: dict[str, float | None] = {}
        hit_rates: dict[str, float | None] = {}
        for name, s in stats.items():
            before = prev.stats.get(name) if prev else None
            rounds[name] = _per_s(s.drr_rounds, before.drr_rounds if before else None, elapsed_s)
        for t in throttles:
            old = prev.throttle(t.key) if prev else None
            hit_rates[t.key] = _hit_rate(t, old)
        self.polls += 1
        snap = Snapshot(
            stats=stats,
            throttles=throttles,
            delivery_history={n: tuple(d) for n, d in self._series.items()},
            drr_rounds_per_s=rounds,
            hit_rates=hit_rates,
            polls=self.polls,
        )
        self._prev, self._prev_at_s = snap, now_s
        return snap


def _per_s(now: int, before: int | None, elapsed_s: float) -> float | None:
    """A counter's rate since the last poll; None when unknown (first poll, broker restarted)."""
    if before is None or now < before or elapsed_s <= 0:
        return None
    return (now - before) / elapsed_s


def _hit_rate(now: ThrottleStats, before: ThrottleStats | None) -> float | None:
    """hits / (hits + passed) since the last poll; None when nothing was checked."""
    if before is None:
        return None
    hits, passed = now.hits - before.hits, now.passed - before.passed
    if hits < 0 or passed < 0 or hits + passed == 0:
        return None
    return hits / (hits + passed)
