"""Plain Python views of what the broker returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from fila.v1 import admin_pb2, messages_pb2


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
    enqueued_at: datetime | None
    leased_at: datetime | None
    last_error: str = ""

    @classmethod
    def from_proto(cls, m: messages_pb2.Message) -> Message:
        ts = m.timestamps
        return cls(
            id=m.id,
            queue=m.metadata.queue_id,
            headers=dict(m.headers),
            payload=m.payload,
            fairness_key=m.metadata.fairness_key,
            weight=m.metadata.weight,
            throttle_keys=tuple(m.metadata.throttle_keys),
            attempt_count=m.metadata.attempt_count,
            enqueued_at=ts.enqueued_at.ToDatetime() if ts.HasField("enqueued_at") else None,
            leased_at=ts.leased_at.ToDatetime() if ts.HasField("leased_at") else None,
            last_error=m.metadata.last_error,
        )


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
    key: str
    pending: int
    deficit: int
    weight: int


@dataclass(frozen=True)
class ThrottleStats:
    key: str
    tokens: float
    rate_per_second: float
    burst: float


@dataclass(frozen=True)
class QueueStats:
    depth: int
    in_flight: int
    active_fairness_keys: int
    active_consumers: int
    quantum: int
    keys: list[KeyStats] = field(default_factory=list)
    throttles: list[ThrottleStats] = field(default_factory=list)

    @classmethod
    def from_proto(cls, r: admin_pb2.GetStatsResponse) -> QueueStats:
        return cls(
            depth=r.depth,
            in_flight=r.in_flight,
            active_fairness_keys=r.active_fairness_keys,
            active_consumers=r.active_consumers,
            quantum=r.quantum,
            keys=[KeyStats(k.key, k.pending_count, k.current_deficit, k.weight)
                  for k in r.per_key_stats],
            throttles=[ThrottleStats(t.key, t.tokens, t.rate_per_second, t.burst)
                       for t in r.per_throttle_stats],
        )


@dataclass(frozen=True)
class QueueInfo:
    name: str
    depth: int
    in_flight: int
    active_consumers: int
