"""The admin calls, written once for both clients.

Each method builds a request and says how to read the answer; `_invoke` (blocking in
`Client`, a coroutine in `AsyncClient`) does the call. So in `AsyncClient` every one of
these returns an awaitable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fila.client import _requests as rq
from fila.client._types import Explanation, Message, QueueConfig, QueueInfo, QueueStats
from fila.v1 import admin_pb2


class AdminCalls:
    def _invoke(self, method: str, request: Any, read: Callable[[Any], Any]) -> Any:
        raise NotImplementedError

    def create_queue(
        self,
        name: str,
        config: QueueConfig | None = None,
        *,
        on_enqueue: str | None = None,
        on_failure: str | None = None,
        visibility_timeout_ms: int | None = None,
    ) -> Any:
        """Create a queue (and its dead-letter queue `<name>.dlq`); returns its name."""
        cfg = rq.queue_config(config, on_enqueue, on_failure, visibility_timeout_ms)
        req = admin_pb2.CreateQueueRequest(name=name, config=cfg)
        return self._invoke("CreateQueue", req, lambda r: r.queue_id)

    def update_queue(
        self,
        name: str,
        config: QueueConfig | None = None,
        *,
        on_enqueue: str | None = None,
        on_failure: str | None = None,
        visibility_timeout_ms: int | None = None,
    ) -> Any:
        """Replace a queue's scripts and settings (a bad script changes nothing).

        This replaces the whole configuration: a setting not given goes back to its default.
        To change one setting, start from the current one: `cfg, _ = get_queue(name)`, then
        `update_queue(name, dataclasses.replace(cfg, max_attempts=5))`.
        """
        cfg = rq.queue_config(config, on_enqueue, on_failure, visibility_timeout_ms)
        req = admin_pb2.UpdateQueueRequest(name=name, config=cfg)
        return self._invoke("UpdateQueue", req, lambda r: None)

    def get_queue(self, name: str) -> Any:
        """A queue's settings (defaults filled in) and, for a DLQ, the queue it serves."""
        return self._invoke(
            "GetQueue", admin_pb2.GetQueueRequest(name=name),
            lambda r: (QueueConfig.from_proto(r.config), r.dlq_of),
        )

    def delete_queue(self, name: str) -> Any:
        return self._invoke("DeleteQueue", admin_pb2.DeleteQueueRequest(queue=name), lambda r: None)

    def list_queues(self) -> Any:
        return self._invoke(
            "ListQueues", admin_pb2.ListQueuesRequest(),
            lambda r: [QueueInfo(q.name, q.depth, q.in_flight, q.active_consumers) for q in r.queues],
        )

    def set_config(self, key: str, value: str) -> Any:
        """Set a runtime config key; an empty value deletes it."""
        req = admin_pb2.SetConfigRequest(key=key, value=value)
        return self._invoke("SetConfig", req, lambda r: None)

    def get_config(self, key: str) -> Any:
        return self._invoke("GetConfig", admin_pb2.GetConfigRequest(key=key), lambda r: r.value)

    def list_config(self, prefix: str = "") -> Any:
        return self._invoke(
            "ListConfig", admin_pb2.ListConfigRequest(prefix=prefix),
            lambda r: {e.key: e.value for e in r.entries},
        )

    def set_throttle(self, key: str, rate_per_second: float, burst: float | None = None) -> Any:
        """Limit throttle key `key` to `rate_per_second`, with bursts of up to `burst`."""
        b = burst if burst is not None else max(1.0, rate_per_second)
        return self.set_config(f"throttle.{key}", f"{rate_per_second:g},{b:g}")

    def get_stats(self, queue: str) -> Any:
        return self._invoke("GetStats", admin_pb2.GetStatsRequest(queue=queue), QueueStats.from_proto)

    def redrive(self, dlq_queue: str, count: int = 0) -> Any:
        """Move up to `count` (0 = all) messages from a DLQ back to its queue."""
        req = admin_pb2.RedriveRequest(dlq_queue=dlq_queue, count=count)
        return self._invoke("Redrive", req, lambda r: r.redriven)

    def peek(self, queue: str, limit: int = 100) -> Any:
        """Up to `limit` messages of a queue, oldest first, without leasing them."""
        req = admin_pb2.PeekMessagesRequest(queue=queue, limit=limit)
        return self._invoke("PeekMessages", req, lambda r: [Message.from_proto(m) for m in r.messages])

    def explain(self, queue: str, fairness_key: str) -> Any:
        """Why is `fairness_key` waiting in `queue`? (An Explanation, in plain words.)"""
        req = admin_pb2.ExplainRequest(queue=queue, fairness_key=fairness_key)
        return self._invoke("Explain", req, Explanation.from_proto)

    # -- API keys and ACLs (superadmin) -------------------------------------------------------

    def create_api_key(self, name: str, *, expires_at_ms: int = 0, superadmin: bool = False) -> Any:
        """Create an API key; returns (key_id, key). The key is shown only this once."""
        req = admin_pb2.CreateApiKeyRequest(name=name, expires_at_ms=expires_at_ms,
                                            is_superadmin=superadmin)
        return self._invoke("CreateApiKey", req, lambda r: (r.key_id, r.key))

    def revoke_api_key(self, key_id: str) -> Any:
        return self._invoke("RevokeApiKey", admin_pb2.RevokeApiKeyRequest(key_id=key_id), lambda r: None)

    def list_api_keys(self) -> Any:
        """[{key_id, name, created_at_ms, expires_at_ms, is_superadmin}] (never the keys)."""
        return self._invoke(
            "ListApiKeys", admin_pb2.ListApiKeysRequest(),
            lambda r: [{"key_id": k.key_id, "name": k.name, "created_at_ms": k.created_at_ms,
                        "expires_at_ms": k.expires_at_ms, "is_superadmin": k.is_superadmin}
                       for k in r.keys],
        )

    def set_acl(self, key_id: str, permissions: list[tuple[str, str]]) -> Any:
        """Replace a key's permissions: (kind, pattern) with kind produce|consume|admin."""
        req = admin_pb2.SetAclRequest(key_id=key_id, permissions=[
            admin_pb2.AclPermission(kind=k, pattern=p) for k, p in permissions])
        return self._invoke("SetAcl", req, lambda r: None)

    def get_acl(self, key_id: str) -> Any:
        """(permissions as (kind, pattern) pairs, is_superadmin)."""
        return self._invoke(
            "GetAcl", admin_pb2.GetAclRequest(key_id=key_id),
            lambda r: ([(p.kind, p.pattern) for p in r.permissions], r.is_superadmin),
        )
