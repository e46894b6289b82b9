"""The admin calls, written once for both clients: each builds its request and says how to
read the answer, as a typed `Call`. `Client` runs a call blocking, `AsyncClient` awaits it
(fila.client._admin: the two typed faces over these)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fila.client import _requests as rq
from fila.client._types import Explanation, Message, QueueConfig, QueueInfo, QueueStats
from fila.v1 import admin_pb2

T = TypeVar("T")


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str  # the FilaAdmin RPC
    request: Any
    read: Callable[[Any], T]  # the response -> what the caller gets


def _none(_: Any) -> None:
    return None


def create_queue(name: str, config: QueueConfig | None, on_enqueue: str | None,
                 on_failure: str | None, visibility_timeout_ms: int | None) -> Call[str]:
    cfg = rq.queue_config(config, on_enqueue, on_failure, visibility_timeout_ms)
    return Call("CreateQueue", admin_pb2.CreateQueueRequest(name=name, config=cfg),
                lambda r: str(r.queue_id))


def update_queue(name: str, config: QueueConfig | None, on_enqueue: str | None,
                 on_failure: str | None, visibility_timeout_ms: int | None) -> Call[None]:
    cfg = rq.queue_config(config, on_enqueue, on_failure, visibility_timeout_ms)
    return Call("UpdateQueue", admin_pb2.UpdateQueueRequest(name=name, config=cfg), _none)


def get_queue(name: str) -> Call[tuple[QueueConfig, str]]:
    return Call("GetQueue", admin_pb2.GetQueueRequest(name=name),
                lambda r: (QueueConfig.from_proto(r.config), str(r.dlq_of)))


def delete_queue(name: str) -> Call[None]:
    return Call("DeleteQueue", admin_pb2.DeleteQueueRequest(queue=name), _none)


def list_queues() -> Call[list[QueueInfo]]:
    return Call("ListQueues", admin_pb2.ListQueuesRequest(),
                lambda r: [QueueInfo(q.name, q.depth, q.in_flight, q.active_consumers)
                           for q in r.queues])


def set_config(key: str, value: str) -> Call[None]:
    return Call("SetConfig", admin_pb2.SetConfigRequest(key=key, value=value), _none)


def get_config(key: str) -> Call[str]:
    return Call("GetConfig", admin_pb2.GetConfigRequest(key=key), lambda r: str(r.value))


def list_config(prefix: str) -> Call[dict[str, str]]:
    return Call("ListConfig", admin_pb2.ListConfigRequest(prefix=prefix),
                lambda r: {e.key: e.value for e in r.entries})


def set_throttle(key: str, rate_per_second: float, burst: float | None) -> Call[None]:
    b = burst if burst is not None else max(1.0, rate_per_second)
    return set_config(f"throttle.{key}", f"{rate_per_second:g},{b:g}")


def get_stats(queue: str) -> Call[QueueStats]:
    return Call("GetStats", admin_pb2.GetStatsRequest(queue=queue), QueueStats.from_proto)


def redrive(dlq_queue: str, count: int) -> Call[int]:
    return Call("Redrive", admin_pb2.RedriveRequest(dlq_queue=dlq_queue, count=count),
                lambda r: int(r.redriven))


def peek(queue: str, limit: int) -> Call[list[Message]]:
    return Call("PeekMessages", admin_pb2.PeekMessagesRequest(queue=queue, limit=limit),
                lambda r: [Message.from_proto(m) for m in r.messages])


def explain(queue: str, fairness_key: str) -> Call[Explanation]:
    return Call("Explain", admin_pb2.ExplainRequest(queue=queue, fairness_key=fairness_key),
                Explanation.from_proto)


def create_api_key(name: str, expires_at_ms: int, superadmin: bool) -> Call[tuple[str, str]]:
    req = admin_pb2.CreateApiKeyRequest(name=name, expires_at_ms=expires_at_ms,
                                        is_superadmin=superadmin)
    return Call("CreateApiKey", req, lambda r: (str(r.key_id), str(r.key)))


def revoke_api_key(key_id: str) -> Call[None]:
    return Call("RevokeApiKey", admin_pb2.RevokeApiKeyRequest(key_id=key_id), _none)


def list_api_keys() -> Call[list[dict[str, Any]]]:
    return Call("ListApiKeys", admin_pb2.ListApiKeysRequest(),
                lambda r: [{"key_id": k.key_id, "name": k.name, "created_at_ms": k.created_at_ms,
                            "expires_at_ms": k.expires_at_ms, "is_superadmin": k.is_superadmin}
                           for k in r.keys])


def set_acl(key_id: str, permissions: list[tuple[str, str]]) -> Call[None]:
    req = admin_pb2.SetAclRequest(key_id=key_id, permissions=[
        admin_pb2.AclPermission(kind=k, pattern=p) for k, p in permissions])
    return Call("SetAcl", req, _none)


def get_acl(key_id: str) -> Call[tuple[list[tuple[str, str]], bool]]:
    return Call("GetAcl", admin_pb2.GetAclRequest(key_id=key_id),
                lambda r: ([(p.kind, p.pattern) for p in r.permissions], bool(r.is_superadmin)))
