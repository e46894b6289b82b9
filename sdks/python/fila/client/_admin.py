"""The admin methods of both clients, typed: `AdminMethods` (blocking) and
`AsyncAdminMethods` (coroutines). Each is one line over the call it runs
(fila.client._admin_calls), so the two faces cannot drift apart in what they send."""

from __future__ import annotations

from typing import Any, TypeVar

from fila.client import _admin_calls as calls
from fila.client._types import Explanation, Message, QueueConfig, QueueInfo, QueueStats

T = TypeVar("T")


class AdminMethods:
    def _run(self, call: calls.Call[T]) -> T:
        raise NotImplementedError

    def create_queue(self, name: str, config: QueueConfig | None = None, *,
                     on_enqueue: str | None = None, on_failure: str | None = None,
                     visibility_timeout_ms: int | None = None) -> str:
        """Create a queue (and its dead-letter queue `<name>.dlq`); returns its name."""
        return self._run(calls.create_queue(name, config, on_enqueue, on_failure,
                                            visibility_timeout_ms))

    def update_queue(self, name: str, config: QueueConfig | None = None, *,
                     on_enqueue: str | None = None, on_failure: str | None = None,
                     visibility_timeout_ms: int | None = None) -> None:
        """Replace a queue's scripts and settings (a bad script changes nothing).

        This replaces the whole configuration: a setting not given goes back to its default.
        To change one setting, start from the current one: `cfg, _ = get_queue(name)`, then
        `update_queue(name, dataclasses.replace(cfg, max_attempts=5))`.
        """
        return self._run(calls.update_queue(name, config, on_enqueue, on_failure,
                                            visibility_timeout_ms))

    def get_queue(self, name: str) -> tuple[QueueConfig, str]:
        """A queue's settings (defaults filled in) and, for a DLQ, the queue it serves."""
        return self._run(calls.get_queue(name))

    def delete_queue(self, name: str) -> None:
        """Delete a queue, its dead-letter queue and every message in them."""
        return self._run(calls.delete_queue(name))

    def list_queues(self) -> list[QueueInfo]:
        """Every queue this client may see, with its depth, in-flight and consumers."""
        return self._run(calls.list_queues())

    def set_config(self, key: str, value: str) -> None:
        """Set a runtime config key; an empty value deletes it."""
        return self._run(calls.set_config(key, value))

    def get_config(self, key: str) -> str:
        """A runtime config value (NotFound if the key is not set)."""
        return self._run(calls.get_config(key))

    def list_config(self, prefix: str = "") -> dict[str, str]:
        """Every runtime config key starting with `prefix`, and its value."""
        return self._run(calls.list_config(prefix))

    def set_throttle(self, key: str, rate_per_second: float, burst: float | None = None) -> None:
        """Limit throttle key `key` to `rate_per_second`, with bursts of up to `burst`."""
        return self._run(calls.set_throttle(key, rate_per_second, burst))

    def get_stats(self, queue: str) -> QueueStats:
        """A queue's depth, in-flight, consumers, fairness keys, throttles and hooks."""
        return self._run(calls.get_stats(queue))

    def redrive(self, dlq_queue: str, count: int = 0) -> int:
        """Move up to `count` (0 = all) messages from a DLQ back to its queue."""
        return self._run(calls.redrive(dlq_queue, count))

    def peek(self, queue: str, limit: int = 100) -> list[Message]:
        """Up to `limit` messages of a queue, oldest first, without leasing them."""
        return self._run(calls.peek(queue, limit))

    def explain(self, queue: str, fairness_key: str) -> Explanation:
        """Why is `fairness_key` waiting in `queue`? (An Explanation, in plain words.)"""
        return self._run(calls.explain(queue, fairness_key))

    def create_api_key(self, name: str, *, expires_at_ms: int = 0,
                       superadmin: bool = False) -> tuple[str, str]:
        """Create an API key; returns (key_id, key). The key is shown only this once."""
        return self._run(calls.create_api_key(name, expires_at_ms, superadmin))

    def revoke_api_key(self, key_id: str) -> None:
        """Revoke a key: its next call fails, and its open streams end."""
        return self._run(calls.revoke_api_key(key_id))

    def list_api_keys(self) -> list[dict[str, Any]]:
        """[{key_id, name, created_at_ms, expires_at_ms, is_superadmin}] (never the keys)."""
        return self._run(calls.list_api_keys())

    def set_acl(self, key_id: str, permissions: list[tuple[str, str]]) -> None:
        """Replace a key's permissions: (kind, pattern) with kind produce|consume|admin."""
        return self._run(calls.set_acl(key_id, permissions))

    def get_acl(self, key_id: str) -> tuple[list[tuple[str, str]], bool]:
        """(permissions as (kind, pattern) pairs, is_superadmin)."""
        return self._run(calls.get_acl(key_id))


class AsyncAdminMethods:
    async def _run(self, call: calls.Call[T]) -> T:
        raise NotImplementedError

    async def create_queue(self, name: str, config: QueueConfig | None = None, *,
                           on_enqueue: str | None = None, on_failure: str | None = None,
                           visibility_timeout_ms: int | None = None) -> str:
        """See `Client.create_queue`."""
        return await self._run(calls.create_queue(name, config, on_enqueue, on_failure,
                                                  visibility_timeout_ms))

    async def update_queue(self, name: str, config: QueueConfig | None = None, *,
                           on_enqueue: str | None = None, on_failure: str | None = None,
                           visibility_timeout_ms: int | None = None) -> None:
        """See `Client.update_queue`."""
        return await self._run(calls.update_queue(name, config, on_enqueue, on_failure,
                                                  visibility_timeout_ms))

    async def get_queue(self, name: str) -> tuple[QueueConfig, str]:
        return await self._run(calls.get_queue(name))

    async def delete_queue(self, name: str) -> None:
        return await self._run(calls.delete_queue(name))

    async def list_queues(self) -> list[QueueInfo]:
        return await self._run(calls.list_queues())

    async def set_config(self, key: str, value: str) -> None:
        return await self._run(calls.set_config(key, value))

    async def get_config(self, key: str) -> str:
        return await self._run(calls.get_config(key))

    async def list_config(self, prefix: str = "") -> dict[str, str]:
        return await self._run(calls.list_config(prefix))

    async def set_throttle(self, key: str, rate_per_second: float, burst: float | None = None) -> None:
        return await self._run(calls.set_throttle(key, rate_per_second, burst))

    async def get_stats(self, queue: str) -> QueueStats:
        return await self._run(calls.get_stats(queue))

    async def redrive(self, dlq_queue: str, count: int = 0) -> int:
        return await self._run(calls.redrive(dlq_queue, count))

    async def peek(self, queue: str, limit: int = 100) -> list[Message]:
        return await self._run(calls.peek(queue, limit))

    async def explain(self, queue: str, fairness_key: str) -> Explanation:
        return await self._run(calls.explain(queue, fairness_key))

    async def create_api_key(self, name: str, *, expires_at_ms: int = 0,
                             superadmin: bool = False) -> tuple[str, str]:
        return await self._run(calls.create_api_key(name, expires_at_ms, superadmin))

    async def revoke_api_key(self, key_id: str) -> None:
        return await self._run(calls.revoke_api_key(key_id))

    async def list_api_keys(self) -> list[dict[str, Any]]:
        return await self._run(calls.list_api_keys())

    async def set_acl(self, key_id: str, permissions: list[tuple[str, str]]) -> None:
        return await self._run(calls.set_acl(key_id, permissions))

    async def get_acl(self, key_id: str) -> tuple[list[tuple[str, str]], bool]:
        return await self._run(calls.get_acl(key_id))
