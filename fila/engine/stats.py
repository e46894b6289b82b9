"""Read-only views of the broker's live state, for GetStats, ListQueues and the CLI/TUI."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from fila.engine.broker import Broker
from fila.engine.queue import Queue


@dataclass
class KeyStats:
    key: str
    pending: int
    deficit: int
    weight: int
    delivered: int


@dataclass
class ThrottleStats:
    key: str
    tokens: float
    rate_per_second: float
    burst: float
    passed: int
    hits: int


@dataclass
class QueueView:
    name: str
    depth: int  # ready + delayed: everything not leased
    ready: int
    delayed: int
    in_flight: int
    consumers: int
    active_keys: int
    quantum: int
    drr_rounds: int
    dlq_of: str
    keys: list[KeyStats] = field(default_factory=list)
    throttles: list[ThrottleStats] = field(default_factory=list)


def queue_view(broker: Broker, name: str, with_keys: bool = True, key_limit: int = 1000) -> QueueView:
    q: Queue = broker._queue(name)
    view = QueueView(
        name=q.name,
        depth=q.drr.ready + q.delayed_count,
        ready=q.drr.ready,
        delayed=q.delayed_count,
        in_flight=len(q.leases),
        consumers=len(q.consumers),
        active_keys=len(q.drr.keys),
        quantum=q.drr.quantum,
        drr_rounds=q.drr.rounds,
        dlq_of=q.dlq_of,
    )
    if with_keys:
        biggest = sorted(q.drr.keys.values(), key=lambda fk: (-fk.count, fk.key))[:key_limit]
        view.keys = [
            KeyStats(fk.key, fk.count, fk.deficit, fk.weight, fk.delivered) for fk in biggest
        ]
        # Throttle keys are global: every configured bucket is shown with every queue.
        now = time.monotonic()
        for key, b in sorted(broker.config.throttles.buckets.items()):
            view.throttles.append(
                ThrottleStats(key, b.refill(now), b.rate, b.burst, b.passed, b.hits)
            )
    return view
