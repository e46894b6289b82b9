"""`fila.v1.FilaAdmin`: queues, runtime config, stats, dead letters."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from fila.engine import KINDS, QueueSettings, explain, queue_scoped, views
from fila.errors import FilaError, InvalidArgument, NotFound
from fila.server.auth import SUPERADMIN, Auth
from fila.server.core_loop import CoreLoop
from fila.server.decode import BadRequest, safe
from fila.server.status import code_for
from fila.v1 import admin_pb2 as pb
from fila.v1 import messages_pb2

log = logging.getLogger("fila.server")

# Admin RPCs that change state: each success is logged with the API key that made it.
AUDITED = frozenset({"CreateQueue", "UpdateQueue", "DeleteQueue", "SetConfig", "Redrive",
                     "CreateApiKey", "RevokeApiKey", "SetAcl"})
DEFAULT_PEEK_LIMIT = 100
MAX_PEEK_LIMIT = 10_000


def _target(req: Any) -> str:
    """What an admin change was about, for the log: a queue, a config key or an API key."""
    for field in ("name", "queue", "dlq_queue", "key", "key_id"):
        value = getattr(req, field, "")
        if value:
            return str(value)[:256]
    return "-"


def settings_from_proto(cfg: pb.QueueConfig) -> QueueSettings:
    defaults = QueueSettings()
    return QueueSettings(
        on_enqueue_script=cfg.on_enqueue_script,
        on_failure_script=cfg.on_failure_script,
        visibility_timeout_ms=cfg.visibility_timeout_ms or defaults.visibility_timeout_ms,
        max_attempts=cfg.max_attempts or defaults.max_attempts,
        retry_backoff_base_ms=cfg.retry_backoff_base_ms or defaults.retry_backoff_base_ms,
        retry_backoff_max_ms=cfg.retry_backoff_max_ms or defaults.retry_backoff_max_ms,
        lua_instruction_budget=cfg.lua_instruction_budget,
        lua_memory_bytes=cfg.lua_memory_bytes,
        lua_time_limit_ms=cfg.lua_time_limit_ms,
    )


def settings_to_proto(s: QueueSettings) -> pb.QueueConfig:
    return pb.QueueConfig(
        on_enqueue_script=s.on_enqueue_script,
        on_failure_script=s.on_failure_script,
        visibility_timeout_ms=s.visibility_timeout_ms,
        max_attempts=s.max_attempts,
        retry_backoff_base_ms=s.retry_backoff_base_ms,
        retry_backoff_max_ms=s.retry_backoff_max_ms,
        lua_instruction_budget=s.lua_instruction_budget,
        lua_memory_bytes=s.lua_memory_bytes,
        lua_time_limit_ms=s.lua_time_limit_ms,
    )


class Admin:
    def __init__(self, core: CoreLoop, auth: Auth) -> None:
        self.core = core
        self.broker = core.broker
        self.auth = auth

    async def _durable(self) -> None:
        await self.core.settled()

    async def create_queue(self, req: pb.CreateQueueRequest, ctx: Any) -> pb.CreateQueueResponse:
        name = self.broker.create_queue(req.name, settings_from_proto(req.config))
        await self._durable()
        return pb.CreateQueueResponse(queue_id=name)

    async def update_queue(self, req: pb.UpdateQueueRequest, ctx: Any) -> pb.UpdateQueueResponse:
        self.broker.update_queue(req.name, settings_from_proto(req.config))
        await self._durable()
        return pb.UpdateQueueResponse()

    async def get_queue(self, req: pb.GetQueueRequest, ctx: Any) -> pb.GetQueueResponse:
        settings, dlq_of = views.queue_settings(self.broker, req.name)
        return pb.GetQueueResponse(name=req.name, config=settings_to_proto(settings), dlq_of=dlq_of)

    async def delete_queue(self, req: pb.DeleteQueueRequest, ctx: Any) -> pb.DeleteQueueResponse:
        self.broker.delete_queue(req.queue)
        await self._durable()
        return pb.DeleteQueueResponse()

    async def list_queues(self, req: pb.ListQueuesRequest, ctx: Any) -> pb.ListQueuesResponse:
        out = pb.ListQueuesResponse(cluster_node_count=1)
        key = self.auth.identify(ctx)
        for name in self.broker.queue_names():
            if key is not None and not any(key.allows(k, name) for k in KINDS):
                continue  # only the queues this key may touch
            v = views.queue_view(self.broker, name, with_keys=False)
            out.queues.add(name=name, depth=v.depth, in_flight=v.in_flight,
                           active_consumers=v.consumers, leader_node_id=0)
        return out

    async def set_config(self, req: pb.SetConfigRequest, ctx: Any) -> pb.SetConfigResponse:
        self.broker.set_config(req.key, req.value)
        await self._durable()
        return pb.SetConfigResponse()

    async def get_config(self, req: pb.GetConfigRequest, ctx: Any) -> pb.GetConfigResponse:
        if not req.key:
            raise InvalidArgument("key must not be empty")
        value = self.broker.get_config(req.key)
        if value is None:
            raise NotFound(f"config key {req.key!r} is not set")
        return pb.GetConfigResponse(value=value)

    async def list_config(self, req: pb.ListConfigRequest, ctx: Any) -> pb.ListConfigResponse:
        entries = self.broker.list_config(req.prefix)
        return pb.ListConfigResponse(
            entries=[pb.ConfigEntry(key=k, value=v) for k, v in entries], total_count=len(entries)
        )

    async def get_stats(self, req: pb.GetStatsRequest, ctx: Any) -> pb.GetStatsResponse:
        await self.core.ranked([req.queue], views.STATS_KEY_LIMIT)
        v = views.queue_view(self.broker, req.queue)
        t = v.totals
        out = pb.GetStatsResponse(
            depth=v.depth, in_flight=v.in_flight, active_fairness_keys=v.active_keys,
            active_consumers=v.consumers, quantum=v.quantum, leader_node_id=0,
            replication_count=1, ready=v.ready, delayed=v.delayed, dlq_depth=v.dlq_depth,
            drr_rounds=v.drr_rounds, enqueued_total=t.enqueued, leased_total=t.leased,
            acked_total=t.acked, nacked_total=t.nacked, expired_total=t.expired,
            dead_lettered_total=t.dead_lettered, redriven_total=t.redriven,
            delivery_rate=v.delivery_rate, enqueue_rate=v.enqueue_rate,
        )
        for k in v.keys:
            out.per_key_stats.add(
                key=k.key, pending_count=k.pending, current_deficit=k.deficit, weight=k.weight,
                delivered=k.delivered, delivery_rate=k.delivery_rate, fair_share=k.fair_share,
                actual_share=k.actual_share, fair_rate=k.fair_rate, limited_by=k.limited_by,
            )
        for th in v.throttles:
            out.per_throttle_stats.add(
                key=th.key, tokens=th.tokens, rate_per_second=th.rate_per_second, burst=th.burst,
                passed=th.passed, hits=th.hits, waiting=th.waiting,
            )
        for h in v.hooks:
            out.hooks.add(
                hook=h.hook, configured=h.configured, calls=h.calls, errors=h.errors,
                p50_us=h.p50_us, p99_us=h.p99_us, breaker_state=h.breaker_state,
                breaker_openings=h.breaker_openings,
            )
        return out

    async def explain(self, req: pb.ExplainRequest, ctx: Any) -> pb.ExplainResponse:
        if not req.fairness_key:
            raise InvalidArgument("fairness_key must not be empty")
        ex = explain(views.key_detail(self.broker, req.queue, req.fairness_key))
        return pb.ExplainResponse(
            summary=ex.summary, reasons=ex.reasons, pending=ex.pending, in_flight=ex.in_flight,
            delayed=ex.delayed, weight=ex.weight, active_keys=ex.active_keys,
            consumers=ex.consumers,
        )

    async def redrive(self, req: pb.RedriveRequest, ctx: Any) -> pb.RedriveResponse:
        # Redrive enqueues into the DLQ's source queue: that needs produce there, not only
        # admin on the DLQ.
        _, source = views.queue_settings(self.broker, req.dlq_queue, "dlq_queue")
        if source:
            self.auth.require(ctx, "produce", source)
        n = self.broker.redrive(req.dlq_queue, req.count)
        await self._durable()
        return pb.RedriveResponse(redriven=n)

    async def peek_messages(self, req: pb.PeekMessagesRequest, ctx: Any) -> pb.PeekMessagesResponse:
        limit = req.limit or DEFAULT_PEEK_LIMIT
        if limit > MAX_PEEK_LIMIT:
            raise InvalidArgument(f"limit must be at most {MAX_PEEK_LIMIT}")
        out = pb.PeekMessagesResponse()
        for data in self.broker.peek(req.queue, limit):
            out.messages.append(messages_pb2.Message.FromString(data))
        return out

    # -- API keys and ACLs (superadmin only) -------------------------------------------------

    async def create_api_key(self, req: pb.CreateApiKeyRequest, ctx: Any) -> pb.CreateApiKeyResponse:
        rec, token = self.broker.create_api_key(req.name, req.expires_at_ms, req.is_superadmin)
        await self._durable()
        return pb.CreateApiKeyResponse(key_id=rec.key_id, key=token, is_superadmin=rec.is_superadmin)

    async def revoke_api_key(self, req: pb.RevokeApiKeyRequest, ctx: Any) -> pb.RevokeApiKeyResponse:
        self.broker.revoke_api_key(req.key_id)
        await self._durable()
        return pb.RevokeApiKeyResponse()

    async def list_api_keys(self, req: pb.ListApiKeysRequest, ctx: Any) -> pb.ListApiKeysResponse:
        out = pb.ListApiKeysResponse()
        for rec in self.broker.api_keys.listed():
            out.keys.add(key_id=rec.key_id, name=rec.name, created_at_ms=rec.created_at_ms,
                         expires_at_ms=rec.expires_at_ms, is_superadmin=rec.is_superadmin)
        return out

    async def set_acl(self, req: pb.SetAclRequest, ctx: Any) -> pb.SetAclResponse:
        self.broker.set_acl(req.key_id, [(p.kind, p.pattern) for p in req.permissions])
        await self._durable()
        return pb.SetAclResponse()

    async def get_acl(self, req: pb.GetAclRequest, ctx: Any) -> pb.GetAclResponse:
        rec = self.broker.api_keys.get(req.key_id)
        return pb.GetAclResponse(
            key_id=rec.key_id, is_superadmin=rec.is_superadmin,
            permissions=[pb.AclPermission(kind=k, pattern=p) for k, p in rec.permissions],
        )

    def handler(self) -> grpc.GenericRpcHandler:
        on_queue: Callable[[Any], str] = lambda r: r.queue  # noqa: E731
        by_name: Callable[[Any], str] = lambda r: r.name  # noqa: E731
        anything: Callable[[Any], str] = lambda r: "*"  # noqa: E731
        own_config: Callable[[Any], str] = lambda r: queue_scoped(r.key) or "*"  # noqa: E731
        own_prefix: Callable[[Any], str] = (  # noqa: E731
            lambda r: (queue_scoped(r.prefix + "x") or "*") if r.prefix.count("/") >= 2 else "*")
        # method -> (handler, request type, required permission kind, queue the check is for)
        methods: dict[str, tuple[Callable[..., Awaitable[Any]], Any, str, Callable[[Any], str]]] = {
            "CreateQueue": (self.create_queue, pb.CreateQueueRequest, "admin", by_name),
            "UpdateQueue": (self.update_queue, pb.UpdateQueueRequest, "admin", by_name),
            "GetQueue": (self.get_queue, pb.GetQueueRequest, "admin", by_name),
            "DeleteQueue": (self.delete_queue, pb.DeleteQueueRequest, "admin", on_queue),
            "ListQueues": (self.list_queues, pb.ListQueuesRequest, "", anything),
            # A queue's own keys (queue/<queue>/<key>) are its admin's; the rest need admin on *.
            "SetConfig": (self.set_config, pb.SetConfigRequest, "admin", own_config),
            "GetConfig": (self.get_config, pb.GetConfigRequest, "admin", own_config),
            "ListConfig": (self.list_config, pb.ListConfigRequest, "admin", own_prefix),
            "GetStats": (self.get_stats, pb.GetStatsRequest, "admin", on_queue),
            "Redrive": (self.redrive, pb.RedriveRequest, "admin", lambda r: r.dlq_queue),
            "PeekMessages": (self.peek_messages, pb.PeekMessagesRequest, "admin", on_queue),
            "Explain": (self.explain, pb.ExplainRequest, "admin", on_queue),
            "CreateApiKey": (self.create_api_key, pb.CreateApiKeyRequest, SUPERADMIN, anything),
            "RevokeApiKey": (self.revoke_api_key, pb.RevokeApiKeyRequest, SUPERADMIN, anything),
            "ListApiKeys": (self.list_api_keys, pb.ListApiKeysRequest, SUPERADMIN, anything),
            "SetAcl": (self.set_acl, pb.SetAclRequest, SUPERADMIN, anything),
            "GetAcl": (self.get_acl, pb.GetAclRequest, SUPERADMIN, anything),
        }
        handlers = {
            name: grpc.unary_unary_rpc_method_handler(
                self._guarded(fn, kind, queue_of, name if name in AUDITED else ""),
                request_deserializer=safe(req_type),
                response_serializer=lambda m: m.SerializeToString(),
            )
            for name, (fn, req_type, kind, queue_of) in methods.items()
        }
        return grpc.method_handlers_generic_handler("fila.v1.FilaAdmin", handlers)

    def _guarded(
        self, fn: Callable[..., Awaitable[Any]], kind: str, queue_of: Callable[[Any], str],
        audit: str,
    ) -> Callable[..., Awaitable[Any]]:
        """Check the caller's permission, run, and turn FilaErrors into gRPC statuses.
        Changes (`audit` names them) are logged with the API key that made them."""
        auth = self.auth

        async def call(req: Any, ctx: grpc.aio.ServicerContext) -> Any:
            try:
                if isinstance(req, BadRequest):
                    raise req.error
                key = auth.require(ctx, kind, queue_of(req)) if kind else auth.identify(ctx)
                result = await fn(req, ctx)
                if audit:
                    log.info("admin change", extra={"rpc": audit, "target": _target(req),
                                                    "api_key": key.name if key else "-"})
                return result
            except FilaError as exc:
                await ctx.abort(code_for(exc), str(exc))

        return call
