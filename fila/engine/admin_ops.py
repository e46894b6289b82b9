"""Administration of the broker's state: queues, runtime config, dead letters, API keys.

A mixin of `Broker` (same thread, same staging rules): every change stages its storage
effects and its undo, exactly like the hot path. What cannot be undone (ending the streams of
a deleted queue or of a revoked key) waits until the write has succeeded.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from fila.engine import codec, keys
from fila.engine.api_keys import KeyRecord
from fila.engine.drr import DrrScheduler
from fila.engine.message import Entry
from fila.engine.queue import DLQ_SUFFIX, Queue, QueueSettings, check_queue_name, dlq_name
from fila.engine.rules import QueueRules
from fila.engine.runtime_config import SHARED_PREFIXES_KEY
from fila.errors import AlreadyExists, FailedPrecondition, InvalidArgument

if TYPE_CHECKING:
    from fila.engine.api_keys import ApiKeys
    from fila.engine.broker import BrokerSettings
    from fila.engine.clock import Clock
    from fila.engine.rules import EnqueueDecision
    from fila.engine.runtime_config import RuntimeConfig
    from fila.engine.staging import Staging

log = logging.getLogger("fila.engine")


class AdminOps:
    # Provided by Broker.
    settings: BrokerSettings
    clock: Clock
    stage: Staging
    queues: dict[str, Queue]
    _by_qid: dict[int, Queue]
    config: RuntimeConfig
    api_keys: ApiKeys
    _dirty: set[Queue]
    _next_qid: int
    pending_bytes: int

    if TYPE_CHECKING:
        def queue(self, name: str, field_name: str = "queue") -> Queue: ...
        def _decide_enqueue(
            self, q: Queue, headers: dict[str, str], payload_size: int
        ) -> EnqueueDecision: ...

    # -- queues -----------------------------------------------------------------------------

    def _build_queue(self, name: str, qid: int, settings: QueueSettings, dlq_of: str) -> Queue:
        rules = QueueRules(
            settings.on_enqueue_script,
            settings.on_failure_script,
            settings.lua_limits(self.settings.lua),
            self.config.hook_view(name),
        )
        drr = DrrScheduler(self.settings.quantum, self.config.throttles)
        q = Queue(name, qid, settings, rules, drr, dlq_of=dlq_of)
        # A claim got its token: the queue has a key to serve (the set is replaced each turn).
        drr.on_ready = lambda: self._dirty.add(q)
        q.enqueue_breaker.cooldown_s = q.failure_breaker.cooldown_s = self.settings.breaker_cooldown_s
        return q

    def _add_queue(self, q: Queue) -> None:
        self.queues[q.name] = q
        self._by_qid[q.qid] = q
        self._next_qid = max(self._next_qid, q.qid + 1)

    def _stage_record(self, q: Queue) -> None:
        self.stage.put(keys.queue(q.name), json.dumps(q.record()).encode())

    def create_queue(self, name: str, settings: QueueSettings) -> str:
        check_queue_name(name, self.settings.limits.max_queue_name_bytes)
        if name.endswith(DLQ_SUFFIX):
            raise InvalidArgument(
                f"name {name!r} ends with {DLQ_SUFFIX!r}, which is reserved for dead-letter queues"
            )
        if name in self.queues:
            raise AlreadyExists(f"queue {name!r} already exists")
        dlq = dlq_name(name)
        if len(dlq.encode()) > self.settings.limits.max_queue_name_bytes:
            raise InvalidArgument(
                f"name is too long: its dead-letter queue {dlq!r} must fit "
                f"{self.settings.limits.max_queue_name_bytes} bytes"
            )
        settings = settings.validated()
        q = self._build_queue(name, self._next_qid, settings, "")  # compiles: may raise
        self._add_queue(q)
        d = self._build_queue(dlq, self._next_qid, QueueSettings(), name)
        self._add_queue(d)
        for made in (q, d):
            self._stage_record(made)
        self.stage.undo(self._forget_queues, q, d)
        log.info("queue created", extra={"queue": name, "dlq": dlq})
        return name

    def update_queue(self, name: str, settings: QueueSettings) -> None:
        """Replace a queue's scripts and settings; the new scripts compile first or nothing changes."""
        q = self.queue(name, "name")
        if q.is_dlq:
            raise FailedPrecondition(f"{name!r} is a dead-letter queue; update {q.dlq_of!r} instead")
        settings = settings.validated()
        fresh = self._build_queue(name, q.qid, settings, q.dlq_of)
        self.stage.undo(self._set_rules, q, q.settings, q.rules)
        self._set_rules(q, settings, fresh.rules)
        q.enqueue_breaker.failures = q.failure_breaker.failures = 0
        self._stage_record(q)
        log.info("queue updated", extra={"queue": name})

    @staticmethod
    def _set_rules(q: Queue, settings: QueueSettings, rules: QueueRules) -> None:
        q.settings, q.rules = settings, rules

    def delete_queue(self, name: str) -> None:
        """Delete a queue and its DLQ with every message. They are gone for callers at once;
        their streams end, and their memory is freed, once the delete is written."""
        q = self.queue(name)
        if q.is_dlq:
            raise FailedPrecondition(
                f"{name!r} is the dead-letter queue of {q.dlq_of!r}; delete {q.dlq_of!r} instead"
            )
        dead = [x for x in (q, self.queues.get(dlq_name(name))) if x is not None]
        for x in dead:
            self.stage.delete_range(*keys.queue_span(keys.MESSAGE, x.qid))
            self.stage.delete_range(*keys.queue_span(keys.DELAY, x.qid))
            self.stage.delete(keys.queue(x.name))
        self._forget_queues(*dead)
        self.stage.undo(self._restore_queues, *dead)
        self.stage.after(self._tear_down, *dead)
        log.info("queue deleted", extra={"queue": name})

    def _forget_queues(self, *queues: Queue) -> None:
        """Callers no longer see these queues (what they hold is kept until torn down)."""
        for q in queues:
            self.queues.pop(q.name, None)
            self._by_qid.pop(q.qid, None)
            self._dirty.discard(q)

    def _restore_queues(self, *queues: Queue) -> None:
        """Undo of a delete whose write failed: the queues are back as they were."""
        for q in queues:
            self._add_queue(q)
            self._dirty.add(q)

    def _tear_down(self, *queues: Queue) -> None:
        """A deleted queue is gone in storage: end its streams, free what it held."""
        for q in queues:
            self.pending_bytes -= sum(len(e.data) for fk in q.drr.keys.values() for e in fk)
            self.pending_bytes -= sum(len(e.data) for e in q.leases.values())
            self.pending_bytes -= sum(len(e.data) for _, _, e in q.delayed if e.state == Entry.DELAYED)
            for c in list(q.consumers.values()):
                c.closed = True
                c.wake()
            q.consumers.clear()
            q.hungry.clear()
            for e in q.leases.values():
                e.state = Entry.GONE
            for _, _, e in q.delayed:
                e.state = Entry.GONE
            q.leases.clear()
            q.delayed.clear()
            q.drr.clear()

    def queue_names(self) -> list[str]:
        return sorted(self.queues)

    # -- runtime config ---------------------------------------------------------------------

    def set_config(self, key: str, value: str) -> None:
        """Set (or, with an empty value, delete) a runtime config key: `throttle.<key>`
        configures a token bucket; hooks read the rest with fila.get."""
        old = self.config.values.get(key)
        self.config.check(key, value)  # raises InvalidArgument before anything changes
        self._apply_config(key, value)
        if value:
            self.stage.put(keys.config(key), value.encode())
        else:
            self.stage.delete(keys.config(key))
        self.stage.undo(self._apply_config, key, old or "")

    def _apply_config(self, key: str, value: str) -> None:
        config = self.config
        config.apply(key, value, self.clock.mono_ms() / 1000.0)
        for q in self.queues.values():
            if key == SHARED_PREFIXES_KEY:  # what every hook may read changed
                q.rules.replace_config(config.hook_view(q.name))
            elif (seen := config.touches(q.name, key)) is not None:
                q.rules.set_config(seen, config.seen_by(q.name, seen))
            if key.startswith("throttle.") and q.drr.parked:
                self._dirty.add(q)  # the next turn re-decides with the new rate

    def get_config(self, key: str) -> str | None:
        return self.config.get(key)

    def list_config(self, prefix: str) -> list[tuple[str, str]]:
        return self.config.list(prefix)

    # -- dead letters -----------------------------------------------------------------------

    def redrive(self, dlq: str, count: int) -> int:
        """Move up to `count` (0 = all) ready messages of a DLQ back to its source queue.

        Each goes through the source queue's on_enqueue again and starts with 0 attempts.
        """
        d = self.queue(dlq, "dlq_queue")
        if not d.is_dlq:
            raise FailedPrecondition(
                f"{dlq!r} is not a dead-letter queue (those are named <queue>{DLQ_SUFFIX})"
            )
        src = self.queue(d.dlq_of, "dlq_queue")
        chosen = d.oldest(count or d.drr.ready, ready_only=True)
        for e in chosen:
            d.drr.remove(e)
            self.stage.delete(keys.message(d.qid, e.seq))
            m = codec.decode_message(e.data)
            headers = dict(m.headers)
            decided = self._decide_enqueue(src, headers, len(m.payload))
            data = codec.encode_message(
                e.mid, headers, m.payload, decided.fairness_key, decided.weight,
                decided.throttle_keys, 0, src.name, e.enqueued_ms,
            )
            fresh = Entry(e.seq, e.mid, data, decided.fairness_key, decided.weight,
                          decided.throttle_keys, 0, e.enqueued_ms)
            self.stage.put(keys.message(src.qid, e.seq), data)
            self.pending_bytes += len(data) - len(e.data)
            e.state = Entry.GONE
            src.drr.push_back(fresh)
            src.arrive(fresh)
            src.stats.redriven += 1
            self.stage.undo(self._unredrive, src, d, e, fresh)
        if chosen:
            self._dirty.add(src)
            log.info("redrive", extra={"queue": src.name, "count": len(chosen)})
        return len(chosen)

    def _unredrive(self, src: Queue, d: Queue, e: Entry, fresh: Entry) -> None:
        src.drr.remove(fresh)
        fresh.state = Entry.GONE
        src.stats.redriven -= 1
        self.pending_bytes -= len(fresh.data) - len(e.data)
        e.state = Entry.READY
        d.drr.push_back(e)

    def peek(self, queue: str, limit: int) -> list[bytes]:
        """Up to `limit` messages of a queue, oldest first, without leasing them."""
        return [e.data for e in self.queue(queue).oldest(limit)]

    # -- API keys ---------------------------------------------------------------------------

    def create_api_key(self, name: str, expires_at_ms: int, is_superadmin: bool) -> tuple[KeyRecord, str]:
        """A new API key: its record, and the key itself (shown once)."""
        return self.api_keys.create(name, expires_at_ms, is_superadmin)

    def set_acl(self, key_id: str, permissions: list[tuple[str, str]]) -> None:
        self.api_keys.set_acl(key_id, permissions)

    def revoke_api_key(self, key_id: str) -> None:
        """Revoke an API key: its next call fails, and its open lease streams end once the
        revocation is written."""
        self.api_keys.revoke(key_id)
        self.stage.after(self._end_streams_of, key_id)

    def _end_streams_of(self, key_id: str) -> None:
        for q in self.queues.values():
            for c in list(q.consumers.values()):
                if c.key_id == key_id:
                    c.closed = True
                    c.revoked = True
                    c.wake()
