"""Read-only views of the broker's live state, for GetStats, ListQueues, Explain and metrics."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from fila.engine.broker import Broker
from fila.engine.fair_share import Share, fair_shares
from fila.engine.instruments import HookStat
from fila.engine.queue import DLQ_SUFFIX, Breaker, Queue, QueueStats


@dataclass
class KeyStats:
    key: str
    pending: int
    deficit: int
    weight: int
    delivered: int
    delivery_rate: float
    fair_share: float
    actual_share: float
    fair_rate: float = 0.0  # msg/s it can get; 0: nothing bounds it
    limited_by: str = ""


@dataclass
class ThrottleStats:
    key: str
    tokens: float
    rate_per_second: float
    burst: float
    passed: int
    hits: int
    waiting: int = 0  # ready messages held back by this empty bucket


@dataclass
class HookView:
    hook: str
    configured: bool
    calls: int
    errors: int
    p50_us: float
    p99_us: float
    breaker_state: str
    breaker_openings: int


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
    dlq_depth: int
    totals: QueueStats
    delivery_rate: float
    enqueue_rate: float
    keys: list[KeyStats] = field(default_factory=list)
    throttles: list[ThrottleStats] = field(default_factory=list)
    hooks: list[HookView] = field(default_factory=list)


def _hook(name: str, configured: bool, stat: HookStat, breaker: Breaker, now: float) -> HookView:
    return HookView(
        hook=name, configured=configured, calls=stat.calls, errors=stat.errors,
        p50_us=stat.latency_us.quantile(0.5), p99_us=stat.latency_us.quantile(0.99),
        breaker_state=breaker.state(now), breaker_openings=breaker.openings,
    )


def held_back(broker: Broker, queues: list[Queue]) -> dict[str, int]:
    """Per throttle key: ready messages of parked fairness keys whose bucket is empty now."""
    now = time.monotonic()
    buckets = broker.config.throttles.buckets
    out: dict[str, int] = {}
    for q in queues:
        for fk in q.drr.parked.values():
            for tkeys, group in fk.groups.items():
                for tk in tkeys:
                    b = buckets.get(tk)
                    if b is not None and b.refill(now) < 1.0:
                        out[tk] = out.get(tk, 0) + len(group)
    return out


def key_shares(broker: Broker, q: Queue) -> dict[str, Share]:
    """The share of deliveries each active key of `q` can get (fila.engine.fair_share). The
    consumers count as a limit only while none of them is waiting for a message."""
    buckets = broker.config.throttles.buckets
    rates = {k: b.rate for k, b in buckets.items()}
    delivered = q.rates.rates.get("delivered", 0.0)
    capacity = delivered if q.consumers and not q.hungry and delivered > 0 else math.inf
    return fair_shares(((fk.key, fk.weight, [frozenset(t) for t in fk.groups])
                        for fk in q.drr.keys.values()),
                       rates, capacity)


def throttle_views(broker: Broker, queues: list[Queue] | None = None) -> list[ThrottleStats]:
    """Every configured bucket (throttle keys are global, shared by all queues), with what it
    holds back in `queues` (default: all)."""
    now = time.monotonic()
    waiting = held_back(broker, list(broker.queues.values()) if queues is None else queues)
    return [
        ThrottleStats(key, b.refill(now), b.rate, b.burst, b.passed, b.hits, waiting.get(key, 0))
        for key, b in sorted(broker.config.throttles.buckets.items())
    ]


def queue_view(broker: Broker, name: str, with_keys: bool = True, key_limit: int = 1000) -> QueueView:
    q: Queue = broker._queue(name)
    dlq = broker.queues.get(name + DLQ_SUFFIX)
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
        dlq_depth=(dlq.drr.ready + dlq.delayed_count + len(dlq.leases)) if dlq else 0,
        totals=q.stats,
        delivery_rate=q.rates.rates.get("delivered", 0.0),
        enqueue_rate=q.rates.rates.get("enqueued", 0.0),
    )
    if not with_keys:
        return view
    now = time.monotonic()
    view.hooks = [
        _hook("on_enqueue", q.rules.has_on_enqueue, q.on_enqueue_stat, q.enqueue_breaker, now),
        _hook("on_failure", q.rules.has_on_failure, q.on_failure_stat, q.failure_breaker, now),
    ]
    rates = q.key_rates.rates
    total_rate = sum(rates.values())
    shares = key_shares(broker, q)
    # The keys with the most pending messages first: bounded, however many keys there are.
    biggest = sorted(q.drr.keys.values(), key=lambda fk: (-fk.count, fk.key))[:key_limit]
    view.keys = [
        KeyStats(
            key=fk.key, pending=fk.count, deficit=fk.deficit, weight=fk.weight,
            delivered=fk.delivered, delivery_rate=rates.get(fk.key, 0.0),
            fair_share=shares[fk.key].share,
            actual_share=(rates.get(fk.key, 0.0) / total_rate) if total_rate else 0.0,
            fair_rate=0.0 if shares[fk.key].rate == math.inf else shares[fk.key].rate,
            limited_by=shares[fk.key].limited_by,
        )
        for fk in biggest
    ]
    view.throttles = throttle_views(broker, [q])
    return view
