"""Fila's Python SDK: `Client` (blocking) and `AsyncClient` (asyncio)."""

from fila.client._reconnect import Reconnect, RetryEvent
from fila.client._types import (
    DLQ_SUFFIX,
    Explanation,
    HookStats,
    KeyStats,
    Message,
    QueueConfig,
    QueueInfo,
    QueueStats,
    ThrottleStats,
    dlq_name,
)
from fila.client.aio import AsyncClient, AsyncConsumeStream, AsyncLeaseStream
from fila.client.client import Client, ConsumeStream, LeaseStream
from fila.client.errors import (
    AlreadyExists,
    FailedPrecondition,
    FilaError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)

__all__ = [
    "AlreadyExists",
    "AsyncClient",
    "AsyncConsumeStream",
    "AsyncLeaseStream",
    "Client",
    "ConsumeStream",
    "DLQ_SUFFIX",
    "Explanation",
    "FailedPrecondition",
    "FilaError",
    "HookStats",
    "InvalidArgument",
    "KeyStats",
    "LeaseStream",
    "Message",
    "NotFound",
    "PermissionDenied",
    "QueueConfig",
    "QueueInfo",
    "QueueStats",
    "Reconnect",
    "ResourceExhausted",
    "RetryEvent",
    "ThrottleStats",
    "Unauthenticated",
    "Unavailable",
    "dlq_name",
]
