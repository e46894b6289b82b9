"""Plain Python views of what the broker returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.protobuf import timestamp_pb2

from fila.v1 import admin_pb2, messages_pb2


def _ms(ts: timestamp_pb2.Timestamp) -> int:
    return int(ts.seconds) * 1000 + int(ts.nanos) // 1_000_000


@dataclass(frozen=True)
class Message:
    """A leased (or peeked) message."""

    id: str
    queue: str
    headers: dict[str, str]
    payload: bytes
    fairness_key: str
    weight: int
    throttle_keys: tuple[str, ...]
    attempt_count: int
    enqueued_at_ms: int
    leased_at_ms: int
    last_error: str = ""
    lease_id: str = ""  # pass back to ack/nack to be sure you still hold the lease

    @property
    def enqueued_at(self) -> datetime | None:
        return _dt(self.enqueued_at_ms)

    @property
    def leased_at(self) -> datetime | None:
        return _dt(self.leased_at_ms)

    @classmethod
    def from_proto(cls, m: messages_pb2.Message) -> Message:
        md = m.metadata
        ts = m.timestamps
        return cls(
            m.id, md.queue_id, dict(m.headers), m.payload, md.fairness_key, md.weight,
            tuple(md.throttle_keys), md.attempt_count, _ms(ts.enqueued_at), _ms(ts.leased_at),
            md.last_error, md.lease_id,
        )


def _dt(ms: int) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms else None


@dataclass(frozen=True)
class QueueConfig:
    """A queue's settings; 0 or "" means the broker's default."""

    on_enqueue_script: str = ""
    on_failure_script: str = ""
    visibility_timeout_ms: int = 0
    max_attempts: int = 0
    retry_backoff_base_ms: int = 0
    retry_backoff_max_ms: int = 0
    lua_instruction_budget: int = 0
    lua_memory_bytes: int = 0
    lua_time_limit_ms: int = 0

    def to_proto(self) -> admin_pb2.QueueConfig:
        return admin_pb2.QueueConfig(**self.__dict__)

    @classmethod
    def from_proto(cls, c: admin_pb2.QueueConfig) -> QueueConfig:
        return cls(**{k: getattr(c, k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class KeyStats:
    """One fairness key of a queue: pending, DRR deficit and weight, delivery rate, shares.

    `fair_share` is the part of the queue's deliveries the key can get (its weighted share of
    the throttles it uses and of the consumers), `fair_rate` the same in msg/s (0 when nothing
    bounds it) and `limited_by` what binds it: throttle keys, "consumers", or ""."""

    key: str
    pending: int
    deficit: int
    weight: int
    delivered: int = 0
    delivery_rate: float = 0.0
    fair_share: float = 0.0
    actual_share: float = 0.0
    fair_rate: float = 0.0
    limited_by: str = ""


@dataclass(frozen=True)
class ThrottleStats:
    """One token bucket: tokens, rate, burst, passes and hits, messages it holds back."""

    key: str
    tokens: float
    rate_per_second: float
    burst: float
    passed: int = 0
    hits: int = 0
    waiting: int = 0  # ready messages held back now by this empty bucket


@dataclass(frozen=True)
class HookStats:
    """One Lua hook of a queue: calls, errors, p50/p99 latency and circuit-breaker state."""

    hook: str
    configured: bool
    calls: int
    errors: int
    p50_us: float
    p99_us: float
    breaker_state: str
    breaker_openings: int


@dataclass(frozen=True)
class QueueStats:
    """GetStats of one queue, as Python values."""

    depth: int
    in_flight: int
    active_fairness_keys: int
    active_consumers: int
    quantum: int
    keys: list[KeyStats] = field(default_factory=list)
    throttles: list[ThrottleStats] = field(default_factory=list)
    ready: int = 0
    delayed: int = 0
    dlq_depth: int = 0
    drr_rounds: int = 0
    hooks: list[HookStats] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    delivery_rate: float = 0.0
    enqueue_rate: float = 0.0

    @classmethod
    def from_proto(cls, r: admin_pb2.GetStatsResponse) -> QueueStats:
        return cls(
            depth=r.depth,
            in_flight=r.in_flight,
            active_fairness_keys=r.active_fairness_keys,
            active_consumers=r.active_consumers,
            quantum=r.quantum,
            keys=[KeyStats(k.key, k.pending_count, k.current_deficit, k.weight, k.delivered,
                           k.delivery_rate, k.fair_share, k.actual_share, k.fair_rate,
                           k.limited_by)
                  for k in r.per_key_stats],
            throttles=[ThrottleStats(t.key, t.tokens, t.rate_per_second, t.burst, t.passed, t.hits,
                                     t.waiting)
                       for t in r.per_throttle_stats],
            ready=r.ready,
            delayed=r.delayed,
            dlq_depth=r.dlq_depth,
            drr_rounds=r.drr_rounds,
            hooks=[HookStats(h.hook, h.configured, h.calls, h.errors, h.p50_us, h.p99_us,
                             h.breaker_state, h.breaker_openings) for h in r.hooks],
            totals={name: getattr(r, f"{name}_total") for name in (
                "enqueued", "leased", "acked", "nacked", "expired", "dead_lettered", "redriven")},
            delivery_rate=r.delivery_rate,
            enqueue_rate=r.enqueue_rate,
        )


@dataclass(frozen=True)
class Explanation:
    """Why a fairness key is waiting, in plain words (`summary` is the main reason)."""

    summary: str
    reasons: list[str]
    pending: int
    in_flight: int
    delayed: int
    weight: int
    active_keys: int
    consumers: int

    @classmethod
    def from_proto(cls, r: admin_pb2.ExplainResponse) -> Explanation:
        return cls(r.summary, list(r.reasons), r.pending, r.in_flight, r.delayed, r.weight,
                   r.active_keys, r.consumers)


@dataclass(frozen=True)
class QueueInfo:
    """One row of ListQueues."""

    name: str
    depth: int
    in_flight: int
    active_consumers: int


DLQ_SUFFIX = ".dlq"  # every queue q has a dead-letter queue named q + DLQ_SUFFIX


def dlq_name(queue: str) -> str:
    """The name of `queue`'s dead-letter queue."""
    return queue + DLQ_SUFFIX
