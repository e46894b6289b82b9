"""What the queue's Lua hooks decide, and what happens when they cannot.

A mixin of `Broker`: on_enqueue picks a message's fairness key, weight and throttle keys;
on_failure decides between a delayed retry and the dead-letter queue. Each hook runs behind
its queue's circuit breaker: a failing hook (error, limit hit, wrong result) is logged once
per streak and counted, the safe default is used instead, and after three failures in a row
the hook is skipped for a cooldown, then one trial call decides.
"""

from __future__ import annotations

import heapq
import logging
import time
from typing import TYPE_CHECKING, Any

from fila.engine import codec, keys
from fila.engine.message import Entry
from fila.engine.queue import Consumer, Queue, dlq_name
from fila.engine.rules import DEFAULT_DECISION, EnqueueDecision, HookError

if TYPE_CHECKING:
    from fila.engine.clock import Clock
    from fila.engine.staging import Staging

log = logging.getLogger("fila.engine")

LATENCY_SAMPLE = 16  # hot-path latencies (Lua calls, enqueue->lease) are timed 1 in 16


class HookPolicy:
    # Provided by Broker.
    queues: dict[str, Queue]
    pending_bytes: int
    clock: Clock
    stage: Staging
    _dirty: set[Queue]

    if TYPE_CHECKING:
        def _restore_lease(self, q: Queue, e: Entry, c: Consumer | None) -> None: ...
        def _relapse(self, q: Queue, e: Entry) -> None: ...
        def _delay(self, q: Queue, e: Entry, ready_at_ms: int) -> None: ...

    def _now_s(self) -> float:
        return self.clock.mono_ms() / 1000.0

    def _decide_enqueue(self, q: Queue, headers: dict[str, str], payload_size: int) -> EnqueueDecision:
        return self._decide_enqueue_many(q, [headers], [payload_size])[0]

    def _decide_enqueue_many(self, q: Queue, headers: list[dict[str, str]],
                             payload_sizes: list[int]) -> list[EnqueueDecision]:
        """on_enqueue's decision for each message, in order: runs of messages go into Lua in
        one call (a call across costs more than a typical hook), each still its own hook call.
        While the breaker has seen failures, messages go one at a time, so each one's outcome
        decides whether the next runs, exactly as if every message were its own call."""
        rules = q.rules
        n = len(payload_sizes)
        if not rules.has_on_enqueue:
            return [DEFAULT_DECISION] * n
        breaker = q.enqueue_breaker
        stat = q.on_enqueue_stat
        out: list[EnqueueDecision] = []
        while len(out) < n:
            at = len(out)
            if breaker.failures:
                if not breaker.allows(self._now_s()):
                    out.append(DEFAULT_DECISION)
                    continue
                upto = at + 1
            else:
                upto = n
            # Time one run in LATENCY_SAMPLE (a unary enqueue is a run of one): percentiles
            # need samples, not every call; a longer run gives its mean per message.
            stat.runs += 1
            timed = not stat.runs % LATENCY_SAMPLE or stat.runs < LATENCY_SAMPLE
            t0 = time.perf_counter_ns() if timed else 0
            decisions, error = rules.on_enqueue_many(headers[at:upto], payload_sizes[at:upto], q.name)
            ran = len(decisions) + (error is not None)
            stat.calls += ran
            if timed:
                stat.latency_us.observe((time.perf_counter_ns() - t0) / 1000 / ran)
            out += decisions
            if decisions and breaker.failures:
                breaker.success()
            if error is not None:
                stat.errors += 1
                self._hook_failed(q, "on_enqueue", breaker, error, self._now_s())
                out.append(DEFAULT_DECISION)
        return out

    def _hook_failed(self, q: Queue, hook: str, breaker: Any, exc: Exception, now: float) -> None:
        first = breaker.failures == 0
        opened = breaker.failure(now)
        if first:
            log.warning("lua hook failed, using defaults",
                        extra={"queue": q.name, "hook": hook, "error": str(exc)})
        if opened:
            log.warning("lua circuit breaker opened",
                        extra={"queue": q.name, "hook": hook, "cooldown_s": breaker.cooldown_s})

    def _fail(self, q: Queue, e: Entry, error: str, c: Consumer | None, counter: str,
              expired: bool = False) -> None:
        """A delivery failed (its lease already ended): ask on_failure (or the default
        policy) whether it is retried, now or later, or dead-lettered. `counter` names the
        queue stat that counts it ("nacked" or "expired"); `c` held the lease."""
        was = (e.data, e.attempts, e.last_error, e.ready_at_ms, e.meta_at)
        setattr(q.stats, counter, getattr(q.stats, counter) + 1)
        e.attempts += 1
        e.last_error = error
        action, delay_ms = self._decide_failure(q, e, error)
        if action == "dlq" and not q.is_dlq:
            where = self._to_dlq(q, e)
        else:
            old_size = len(e.data)
            e.data = codec.with_attempts(e.data, e.attempts, last_error=error)
            e.meta_at = 0
            self.pending_bytes += len(e.data) - old_size
            self.stage.put(keys.message(q.qid, e.seq), e.data)
            if delay_ms > 0:
                at = self.clock.wall_ms() + delay_ms
                self._delay(q, e, at)
                self.stage.put(keys.delay(q.qid, e.seq), keys.encode_u64(at))
            else:
                e.state = Entry.READY
                q.drr.push_back(e)
                self._dirty.add(q)
            where = q
        self.stage.undo(self._unfail, q, e, c, counter, expired, was, where)

    def _unfail(self, q: Queue, e: Entry, c: Consumer | None, counter: str, expired: bool,
                was: tuple[bytes, int, str, int, int], where: Queue) -> None:
        """Undo of _fail: the message leaves where the failure put it and is leased again."""
        if e.state == Entry.READY:
            where.drr.remove(e)
        elif e.state == Entry.DELAYED:  # (a failed write is rare: the heap may be rebuilt)
            where.delayed_count -= 1
            where.delayed = [item for item in where.delayed if item[2] is not e]
            heapq.heapify(where.delayed)
        if where is not q:
            q.stats.dead_lettered -= 1
            e.home = q
        self.pending_bytes += len(was[0]) - len(e.data)
        e.data, e.attempts, e.last_error, e.ready_at_ms, e.meta_at = was
        setattr(q.stats, counter, getattr(q.stats, counter) - 1)
        self._restore_lease(q, e, c)
        if expired:
            self._relapse(q, e)

    def _default_failure(self, q: Queue, attempts: int) -> tuple[str, int]:
        s = q.settings
        if attempts >= s.max_attempts:
            return "dlq", 0
        return "retry", min(s.retry_backoff_base_ms << min(attempts - 1, 40), s.retry_backoff_max_ms)

    def _decide_failure(self, q: Queue, e: Entry, error: str) -> tuple[str, int]:
        rules = q.rules
        if not rules.has_on_failure:
            return self._default_failure(q, e.attempts)
        breaker = q.failure_breaker
        now = self._now_s()
        if not breaker.allows(now):
            return self._default_failure(q, e.attempts)
        headers = dict(codec.decode_message(e.data).headers)
        stat = q.on_failure_stat
        stat.calls += 1
        t0 = time.perf_counter_ns()
        try:
            decision = rules.on_failure(headers, e.mid, e.attempts, q.name, error)
        except HookError as exc:
            stat.errors += 1
            self._hook_failed(q, "on_failure", breaker, exc, now)
            return self._default_failure(q, e.attempts)
        finally:
            stat.latency_us.observe((time.perf_counter_ns() - t0) / 1000)
        breaker.success()
        return decision

    def _to_dlq(self, q: Queue, e: Entry) -> Queue:
        """Move a message that failed for good into q's dead-letter queue; returns it."""
        dlq = self.queues[dlq_name(q.name)]
        self.stage.delete(keys.message(q.qid, e.seq))
        if e.ready_at_ms:
            self.stage.delete(keys.delay(q.qid, e.seq))
            e.ready_at_ms = 0
        old_size = len(e.data)
        e.data = codec.with_attempts(e.data, e.attempts, queue=dlq.name, last_error=e.last_error)
        e.meta_at = 0
        self.pending_bytes += len(e.data) - old_size
        self.stage.put(keys.message(dlq.qid, e.seq), e.data)
        e.state = Entry.READY
        dlq.drr.push_back(e)
        dlq.arrive(e)
        q.stats.dead_lettered += 1
        self._dirty.add(dlq)
        return dlq
