"""Read-only views of the broker's live state: the one place that reads the scheduler's
internals for GetStats, ListQueues, Explain and /metrics. Values, never live objects.

Everything here runs on the broker's thread (callers read between turns), so a view is
consistent without locks.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

from fila.engine import key_ranking
from fila.engine.broker import Broker
from fila.engine.drr import IDLE
from fila.engine.fair_share import Share, fair_shares
from fila.engine.instruments import Histogram, HookStat
from fila.engine.message import Entry
from fila.engine.queue import Breaker, Queue, QueueSettings, QueueStats, dlq_name

STATS_KEY_LIMIT = 1000  # fairness keys GetStats lists, most pending first


@dataclass
class KeyStats:
    key: str
    pending: int
    deficit: int
    weight: int
    delivered: int  # leased since it was last active (GetStats) or since start (metrics)
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
    latency_us: Histogram | None = None
    breaker_open: bool = False


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
    other_keys: KeyStats | None = None  # the keys past the limit, summed (metrics)
    throttles: list[ThrottleStats] = field(default_factory=list)
    hooks: list[HookView] = field(default_factory=list)


@dataclass
class ThrottleWait:
    """A bucket a key's messages wait for."""

    key: str
    tokens: float
    rate: float
    burst: float
    next_token_s: float  # seconds until it holds a whole token (inf: never)
    promised: int  # messages of this queue waiting in line for its tokens


@dataclass
class KeyDetail:
    """The facts about one fairness key that Explain puts into words."""

    queue: str
    key: str
    pending: int = 0
    weight: int = 0
    in_flight: int = 0
    delayed: int = 0
    first_delayed_until_ms: int = 0
    first_delayed_attempts: int = 0
    active_keys: int = 0
    consumers: int = 0
    consumers_hungry: bool = False
    held_by_consumers: int = 0
    parked: bool = False
    in_line: int = 0  # keys in line (not waiting for a token)
    ahead: int = 0
    throttled_by: list[ThrottleWait] = field(default_factory=list)
    enqueue_breaker_open_s: float = 0.0  # how much longer the on_enqueue breaker stays open


def _now_s(broker: Broker) -> float:
    return broker.clock.mono_ms() / 1000.0


def _hook(name: str, configured: bool, stat: HookStat, breaker: Breaker, now: float) -> HookView:
    return HookView(
        hook=name, configured=configured, calls=stat.calls, errors=stat.errors,
        p50_us=stat.latency_us.quantile(0.5), p99_us=stat.latency_us.quantile(0.99),
        breaker_state=breaker.state(now), breaker_openings=breaker.openings,
        latency_us=stat.latency_us, breaker_open=breaker.is_open(now),
    )


def key_shares(broker: Broker, q: Queue) -> dict[str, Share]:
    """The share of deliveries each active key of `q` can get (fila.engine.fair_share). The
    consumers count as a limit only while none of them is waiting for a message."""
    rates = {k: b.rate for k, b in broker.config.throttles.buckets.items()}
    return fair_shares(((fk.key, fk.weight, fk.groups) for fk in q.drr.keys.values()), rates,
                       key_ranking.capacity(q))


def ranking_state(broker: Broker, name: str, limit: int = STATS_KEY_LIMIT) -> str:
    """How a view of queue `name` would list its keys: "direct" (few enough to rank now),
    "fresh" (a recent ranking covers it), "stale" (one that should be rebuilt: it is shown
    meanwhile) or "missing" (none yet: build one before reading, Broker.want_ranking)."""
    q = broker.queue(name)
    if key_ranking.candidates(q) <= key_ranking.DIRECT_KEYS:
        return "direct"
    r = q.ranking
    if r is None or r.limit < limit:
        return "missing"
    return "fresh" if _now_s(broker) - r.at_s < key_ranking.REFRESH_S else "stale"


def held_back(broker: Broker, queues: list[Queue]) -> dict[str, int]:
    """Per throttle key: ready messages of parked fairness keys whose bucket is empty now."""
    now = _now_s(broker)
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


def throttle_views(broker: Broker, queue: str | None = None) -> list[ThrottleStats]:
    """Configured buckets (throttle keys are global, shared by all queues) with what they hold
    back: of `queue`, the buckets its messages use (not other tenants'); by default every
    bucket, and what it holds back in every queue."""
    now = _now_s(broker)
    queues = list(broker.queues.values()) if queue is None else [broker.queue(queue)]
    waiting = held_back(broker, queues)
    buckets = broker.config.throttles.buckets
    names = sorted(buckets) if queue is None else sorted(
        k for k in queues[0].drr.throttle_keys_seen if k in buckets)
    return [
        ThrottleStats(k, buckets[k].refill(now), buckets[k].rate, buckets[k].burst,
                      buckets[k].passed, buckets[k].hits, waiting.get(k, 0))
        for k in names
    ]


def _key_rows(broker: Broker, q: Queue, limit: int, recent: bool) -> tuple[list[KeyStats], KeyStats | None]:
    """Per-key rows, the busiest first (most pending, fastest, most recently delivered), at
    most `limit`; the rest summed. With `recent`, keys that drained within the retention
    (fila.engine.instruments) are listed too, with the deliveries counted since start. A
    queue of many keys lists the keys of its latest ranking (fila.engine.key_ranking)."""
    kr = q.key_rates
    rates = kr.rates
    fks = q.drr.keys
    ranking = q.ranking
    if key_ranking.candidates(q) > key_ranking.DIRECT_KEYS and ranking is not None:
        top, shares = ranking.keys[:limit], ranking.shares
        rest_size = max(0, len(fks) + len(rates) - len(top))
    else:
        last_seen = kr.last_seen
        names = set(fks) | set(rates)
        if recent:
            names |= kr.recent(_now_s(broker))
        top = heapq.nsmallest(limit, names, key=lambda k: key_ranking.busiest_first(
            k, fks, rates, last_seen))
        rest_size = len(names) - len(top)
        shares = key_shares(broker, q)
    total_rate = sum(rates.values())
    rows = []
    for k in top:
        fk = fks.get(k)
        rate = rates.get(k, 0.0)
        share = shares.get(k)
        rows.append(KeyStats(
            key=k, pending=fk.count if fk else 0, deficit=fk.deficit if fk else 0,
            weight=fk.weight if fk else 0,
            delivered=kr.total(k) if recent else (fk.delivered if fk else 0),
            delivery_rate=rate, fair_share=share.share if share else 0.0,
            actual_share=rate / total_rate if total_rate else 0.0,
            fair_rate=share.rate if share and share.rate != math.inf else 0.0,
            limited_by=share.limited_by if share else "",
        ))
    other = None
    if rest_size:  # the rest, as totals less what the rows hold: no walk over the rest
        other_rate = max(0.0, total_rate - sum(r.delivery_rate for r in rows))
        delivered = sum(kr.totals.values()) + sum(kr.window.values())
        other = KeyStats(
            key="", pending=max(0, q.drr.ready - sum(r.pending for r in rows)), deficit=0,
            weight=0, delivered=max(0, delivered - sum(kr.total(k) for k in top)),
            delivery_rate=other_rate,
            fair_share=max(0.0, 1.0 - sum(r.fair_share for r in rows)) if fks else 0.0,
            actual_share=other_rate / total_rate if total_rate else 0.0,
        )
    return rows, other


def queue_view(broker: Broker, name: str, with_keys: bool = True,
               key_limit: int = STATS_KEY_LIMIT, recent_keys: bool = False) -> QueueView:
    """A queue's numbers; with_keys adds its fairness keys (up to key_limit; `recent_keys`:
    also those that drained lately), throttles and hooks."""
    q = broker.queue(name)
    dlq = broker.queues.get(dlq_name(name))
    view = QueueView(
        name=q.name, depth=q.depth, ready=q.drr.ready, delayed=q.delayed_count,
        in_flight=len(q.leases), consumers=len(q.consumers), active_keys=len(q.drr.keys),
        quantum=q.drr.quantum, drr_rounds=q.drr.rounds, dlq_of=q.dlq_of,
        dlq_depth=dlq.held if dlq else 0, totals=q.stats,
        delivery_rate=q.rates.rates.get("delivered", 0.0),
        enqueue_rate=q.rates.rates.get("enqueued", 0.0),
    )
    if not with_keys:
        return view
    now = _now_s(broker)
    view.hooks = [
        _hook("on_enqueue", q.rules.has_on_enqueue, q.on_enqueue_stat, q.enqueue_breaker, now),
        _hook("on_failure", q.rules.has_on_failure, q.on_failure_stat, q.failure_breaker, now),
    ]
    view.keys, view.other_keys = _key_rows(broker, q, key_limit, recent_keys)
    view.throttles = throttle_views(broker, name)
    return view


def queue_settings(broker: Broker, name: str, field_name: str = "name") -> tuple[QueueSettings, str]:
    """A queue's settings in force, and for a DLQ the queue it serves."""
    q = broker.queue(name, field_name)
    return q.settings, q.dlq_of


def key_detail(broker: Broker, queue: str, key: str) -> KeyDetail:
    """What holds fairness key `key` of `queue` back, as facts (fila.engine.explain words them)."""
    q = broker.queue(queue)
    now = _now_s(broker)
    fk = q.drr.keys.get(key)
    delayed = [e for _, _, e in q.delayed if e.state == Entry.DELAYED and e.fkey == key]
    d = KeyDetail(
        queue=q.name, key=key, pending=fk.count if fk else 0, weight=fk.weight if fk else 0,
        in_flight=sum(1 for e in q.leases.values() if e.fkey == key), delayed=len(delayed),
        active_keys=len(q.drr.keys), consumers=len(q.consumers), consumers_hungry=bool(q.hungry),
        held_by_consumers=sum(c.leased for c in q.consumers.values()),
    )
    if q.enqueue_breaker.is_open(now):
        d.enqueue_breaker_open_s = q.enqueue_breaker.open_until - now
    if delayed:
        first = min(delayed, key=lambda e: e.ready_at_ms)
        d.first_delayed_until_ms, d.first_delayed_attempts = first.ready_at_ms, first.attempts
    if fk is not None:
        d.parked = key in q.drr.parked
        d.in_line = len(q.drr.keys) - len(q.drr.parked)
        if not d.parked and fk.where != IDLE:
            d.ahead = q.drr.ahead_of(fk)
        throttles = broker.config.throttles
        seen = set()
        for tkeys in fk.groups:
            for tk in tkeys:
                b = throttles.buckets.get(tk)
                if b is None or tk in seen:
                    continue
                seen.add(tk)
                claimed = tk in throttles.claimants
                if b.refill(now) < 1.0 or claimed:
                    d.throttled_by.append(ThrottleWait(tk, b.tokens, b.rate, b.burst,
                                                       b.next_token_s(now) - now,
                                                       q.drr.claims.waiting(tk)))
    return d
