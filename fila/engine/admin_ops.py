"""Administration of the broker's state: queues, runtime config, dead letters.

A mixin of `Broker` (same thread, same staging rules): every change stages its storage
effects and an undo, exactly like the hot path.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fila.engine import codec
from fila.engine import storage as st
from fila.engine.drr import DrrScheduler, Entry
from fila.engine.queue import DLQ_SUFFIX, Queue, QueueSettings, check_queue_name
from fila.engine.rules import QueueRules
from fila.errors import AlreadyExists, FailedPrecondition, InvalidArgument

if TYPE_CHECKING:
    from fila.engine.broker import BrokerSettings
    from fila.engine.rules import EnqueueDecision
    from fila.engine.runtime_config import RuntimeConfig

log = logging.getLogger("fila.engine")


class AdminOps:
    # Provided by Broker.
    settings: BrokerSettings
    queues: dict[str, Queue]
    _by_qid: dict[int, Queue]
    config: RuntimeConfig
    _batch: Any
    _undo: list[Callable[[], None]]
    _dirty: set[Queue]
    _next_qid: int
    pending_bytes: int

    if TYPE_CHECKING:
        def _queue(self, name: str, field_name: str = "queue") -> Queue: ...
        def _put(self, key: bytes, value: bytes) -> None: ...
        def _delete(self, key: bytes) -> None: ...
        def _decide_enqueue(
            self, q: Queue, headers: dict[str, str], payload_size: int
        ) -> EnqueueDecision: ...

    def _build_queue(self, name: str, qid: int, settings: QueueSettings, dlq_of: str) -> Queue:
        rules = QueueRules(
            settings.on_enqueue_script,
            settings.on_failure_script,
            settings.lua_limits(self.settings.lua),
            self.config.values,
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

    def create_queue(self, name: str, settings: QueueSettings) -> str:
        check_queue_name(name, self.settings.limits.max_queue_name_bytes)
        if name.endswith(DLQ_SUFFIX):
            raise InvalidArgument(
                f"name {name!r} ends with {DLQ_SUFFIX!r}, which is reserved for dead-letter queues"
            )
        if name in self.queues:
            raise AlreadyExists(f"queue {name!r} already exists")
        dlq_name = name + DLQ_SUFFIX
        if len(dlq_name.encode()) > self.settings.limits.max_queue_name_bytes:
            raise InvalidArgument(
                f"name is too long: its dead-letter queue {dlq_name!r} must fit "
                f"{self.settings.limits.max_queue_name_bytes} bytes"
            )
        settings = settings.validated()
        q = self._build_queue(name, self._next_qid, settings, "")  # compiles: may raise
        self._add_queue(q)
        dlq = self._build_queue(dlq_name, self._next_qid, QueueSettings(), name)
        self._add_queue(dlq)
        for made in (q, dlq):
            self._put(st.QUEUE_PREFIX + made.name.encode(), json.dumps(made.record()).encode())
        self._undo.append(lambda: self._drop_queue_memory(q, dlq))
        log.info("queue created", extra={"queue": name, "dlq": dlq_name})
        return name

    def update_queue(self, name: str, settings: QueueSettings) -> None:
        """Replace a queue's scripts and settings; the new scripts compile first or nothing changes."""
        q = self._queue(name, "name")
        if q.is_dlq:
            raise FailedPrecondition(f"{name!r} is a dead-letter queue; update {q.dlq_of!r} instead")
        settings = settings.validated()
        fresh = self._build_queue(name, q.qid, settings, q.dlq_of)
        old_settings, old_rules = q.settings, q.rules
        q.settings, q.rules = settings, fresh.rules
        q.enqueue_breaker.failures = q.failure_breaker.failures = 0
        self._put(st.QUEUE_PREFIX + name.encode(), json.dumps(q.record()).encode())

        def undo() -> None:
            q.settings, q.rules = old_settings, old_rules

        self._undo.append(undo)
        log.info("queue updated", extra={"queue": name})

    def _drop_queue_memory(self, *queues: Queue) -> None:
        for q in queues:
            self.pending_bytes -= sum(len(e.data) for fk in q.drr.keys.values() for e in fk)
            self.pending_bytes -= sum(len(e.data) for e in q.leases.values())
            self.pending_bytes -= sum(len(e.data) for _, _, e in q.delayed if e.state == Entry.DELAYED)
            self.queues.pop(q.name, None)
            self._by_qid.pop(q.qid, None)
            self._dirty.discard(q)
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

    def delete_queue(self, name: str) -> None:
        q = self._queue(name)
        if q.is_dlq:
            raise FailedPrecondition(
                f"{name!r} is the dead-letter queue of {q.dlq_of!r}; delete {q.dlq_of!r} instead"
            )
        dlq = self.queues.get(name + DLQ_SUFFIX)
        for dead in (q, dlq):
            if dead is None:
                continue
            lo = st._QID.pack(dead.qid)
            hi = st._QID.pack(dead.qid + 1)
            self._batch.delete_range(st.MESSAGE_PREFIX + lo, st.MESSAGE_PREFIX + hi)
            self._batch.delete_range(st.DELAY_PREFIX + lo, st.DELAY_PREFIX + hi)
            self._delete(st.QUEUE_PREFIX + dead.name.encode())
        self._drop_queue_memory(*(x for x in (q, dlq) if x is not None))
        log.info("queue deleted", extra={"queue": name})

    def queue_names(self) -> list[str]:
        return sorted(self.queues)

    # -- runtime config ---------------------------------------------------------------------

    def set_config(self, key: str, value: str) -> None:
        old = self.config.values.get(key)
        self.config.check(key, value)  # raises InvalidArgument before anything changes
        self._apply_config(key, value)
        if value:
            self._put(st.CONFIG_PREFIX + key.encode(), value.encode())
        else:
            self._delete(st.CONFIG_PREFIX + key.encode())
        self._undo.append(lambda: self._apply_config(key, old or ""))

    def _apply_config(self, key: str, value: str) -> None:
        self.config.apply(key, value, time.monotonic())
        for q in self.queues.values():
            q.rules.set_config(key, value or None)
            if key.startswith("throttle.") and q.drr.parked:
                self._dirty.add(q)  # the next turn re-decides with the new rate

    def redrive(self, dlq_name: str, count: int) -> int:
        """Move up to `count` (0 = all) ready messages of a DLQ back to its source queue.

        Each goes through the source queue's on_enqueue again and starts with 0 attempts.
        """
        dlq = self._queue(dlq_name, "dlq_queue")
        if not dlq.is_dlq:
            raise FailedPrecondition(
                f"{dlq_name!r} is not a dead-letter queue (those are named <queue>{DLQ_SUFFIX})"
            )
        src = self._queue(dlq.dlq_of, "dlq_queue")
        chosen = sorted(
            (e for fk in list(dlq.drr.keys.values()) for e in fk), key=lambda e: e.seq
        )
        if count:
            chosen = chosen[:count]
        for e in chosen:
            dlq.drr.remove(e)
            self._delete(st.message_key(dlq.qid, e.seq))
            m = codec.decode_message(e.data)
            headers = dict(m.headers)
            d = self._decide_enqueue(src, headers, len(m.payload))
            data = codec.encode_message(
                e.mid, headers, m.payload, d.fairness_key, d.weight, d.throttle_keys, 0,
                src.name, e.enqueued_ms,
            )
            fresh = Entry(e.seq, e.mid, data, d.fairness_key, d.weight, d.throttle_keys, 0,
                          e.enqueued_ms)
            self._put(st.message_key(src.qid, e.seq), data)
            self.pending_bytes += len(data) - len(e.data)
            src.drr.push_back(fresh)
            self._undo.append(functools.partial(self._unredrive, src, dlq, e, fresh))
        if chosen:
            src.stats.redriven += len(chosen)
            self._dirty.add(src)
            log.info("redrive", extra={"queue": src.name, "count": len(chosen)})
        return len(chosen)

    @staticmethod
    def _unredrive(src: Queue, dlq: Queue, e: Entry, fresh: Entry) -> None:
        src.drr.remove(fresh)
        dlq.drr.push_back(e)

    def peek(self, queue: str, limit: int) -> list[bytes]:
        """Up to `limit` messages of a queue, oldest first, without leasing them."""
        q = self._queue(queue)
        entries: list[Entry] = [e for fk in q.drr.keys.values() for e in fk]
        entries += [e for _, _, e in q.delayed if e.state == Entry.DELAYED]
        entries += list(q.leases.values())
        entries.sort(key=lambda e: e.seq)
        return [e.data for e in entries[:limit]]

