"""Request builders shared by the sync and asyncio clients."""

from __future__ import annotations

import os
from collections.abc import Mapping

from fila.client._types import QueueConfig
from fila.v1 import admin_pb2, service_pb2

DEFAULT_ADDR = os.environ.get("FILA_ADDR") or "127.0.0.1:5555"  # read once, at import
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]


def as_bytes(payload: bytes | str) -> bytes:
    return payload.encode() if isinstance(payload, str) else payload


def enqueue(queue: str, payload: bytes | str, headers: Mapping[str, str] | None) -> service_pb2.EnqueueRequest:
    return service_pb2.EnqueueRequest(queue=queue, headers=dict(headers or {}), payload=as_bytes(payload))


def queue_config(
    config: QueueConfig | None,
    on_enqueue: str | None,
    on_failure: str | None,
    visibility_timeout_ms: int | None,
) -> admin_pb2.QueueConfig:
    cfg = (config or QueueConfig()).to_proto()
    if on_enqueue is not None:
        cfg.on_enqueue_script = on_enqueue
    if on_failure is not None:
        cfg.on_failure_script = on_failure
    if visibility_timeout_ms is not None:
        cfg.visibility_timeout_ms = visibility_timeout_ms
    return cfg
