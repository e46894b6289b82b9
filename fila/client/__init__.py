"""Fila's Python SDK: `Client` (blocking) and `AsyncClient` (asyncio)."""

from fila.client._types import Message, QueueConfig, QueueInfo, QueueStats
from fila.client.aio import AsyncClient
from fila.client.client import Client, ConsumeStream
from fila.errors import (
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
    "Client",
    "ConsumeStream",
    "FailedPrecondition",
    "FilaError",
    "InvalidArgument",
    "Message",
    "NotFound",
    "PermissionDenied",
    "QueueConfig",
    "QueueInfo",
    "QueueStats",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
]
