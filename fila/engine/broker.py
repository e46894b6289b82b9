"""The broker core: the single owner of all scheduling state.

Like Redis, one thread owns everything here, so nothing needs a lock, and nothing here ever
waits on the network. The server hands it commands (enqueue, ack, ...), each of which
validates, runs Lua, updates the in-memory indexes and *stages* its storage effects. Then a
turn runs:

    commit()  one RocksDB write for everything staged since the last turn (the group-commit
              thread then makes it durable; only then does the server reply to producers)
    tick()    a budgeted pass over due timers: expired leases, delayed messages whose time has
              come, throttled keys whose buckets refilled; then deliveries to consumers
    commit()  whatever the tick staged

What is staged are effects (a message with the keys Lua gave it, a delete, a new attempt
count), never inputs: recovery replays storage and never re-runs Lua.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fila.engine import codec, recovery
from fila.engine import storage as st
from fila.engine.admin_ops import AdminOps
from fila.engine.api_keys import ApiKeys
from fila.engine.drr import Entry
from fila.engine.hooks import LATENCY_SAMPLE, HookPolicy
from fila.engine.instruments import LATENCY_BUCKETS_MS, Histogram
from fila.engine.queue import (
    Consumer,
    Queue,
)
from fila.engine.rules import LuaLimits
from fila.engine.runtime_config import RuntimeConfig
from fila.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)

log = logging.getLogger("fila.engine")

EXPIRY_ERROR = "visibility timeout expired"
HOUSEKEEPING_MS = 1000
CONSUMER_RUN = 100  # messages one consumer takes in a row before the next one's turn
MAX_ID_BYTES = 64
MAX_ERROR_CHARS = 4096
MAX_LEASE_MS = 12 * 3600 * 1000


@dataclass(frozen=True)
class Limits:
    """Input limits, configurable in `[limits]` of the server config."""

    max_payload_bytes: int = 1024 * 1024
    max_headers: int = 64
    max_header_bytes: int = 4096  # a header's key plus value
    max_queue_name_bytes: int = 255
    # Overload protection: bytes of messages the broker holds in memory (ready, delayed, leased,
    # dead-lettered). Past it, enqueues are refused with RESOURCE_EXHAUSTED until consumers
    # catch up, instead of buffering without bound.
    max_pending_bytes: int = 1024 * 1024 * 1024


@dataclass(frozen=True)
class BrokerSettings:
    quantum: int = 1
    lua: LuaLimits = field(default_factory=LuaLimits)
    limits: Limits = field(default_factory=Limits)
    breaker_cooldown_s: float = 10.0
    tick_budget: int = 20_000  # deliveries / expiries per tick before yielding to I/O


def _mono_ms() -> int:
    return time.monotonic_ns() // 1_000_000


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Broker(HookPolicy, AdminOps):
    def __init__(self, storage: st.Storage, settings: BrokerSettings | None = None) -> None:
        self.storage = storage
        self.settings = settings or BrokerSettings()
        self.queues: dict[str, Queue] = {}
        self._by_qid: dict[int, Queue] = {}
        self.config = RuntimeConfig()
        self.ids = codec.IdGenerator()
        self._batch = storage.new_batch()
        self._staged = 0
        self._undo: list[Callable[[], None]] = []
        self._staged_enqueues: list[tuple[Queue, Entry]] = []
        self._staged_acks: list[tuple[Queue, Entry]] = []
        self.batch_no = 0  # number of the last batch written
        # (expires_ms, order, [(entry, lease_no), ...], queue): leases made together expire together
        self._lease_heap: list[tuple[int, int, list[tuple[Entry, int]], Queue]] = []
        self._lease_no = 0
        self._dirty: set[Queue] = set()
        self._next_qid = 1
        self._next_cid = 1
        self.api_keys = ApiKeys(self._stage_kv)
        self.pending_bytes = 0  # bytes of message data held in memory
        self.refused_overload = 0  # enqueues refused at max_pending_bytes
        self.lease_latency_ms = Histogram(LATENCY_BUCKETS_MS)  # enqueue -> first lease
        self._last_housekeeping = _mono_ms()
        self._next_housekeeping = self._last_housekeeping + HOUSEKEEPING_MS
        self.recovered: dict[str, int] = {}
        recovery.recover(self)

    # -- staging and committing -------------------------------------------------------------

    @property
    def staged(self) -> int:
        """Storage operations staged for the next commit."""
        return self._staged

    @property
    def pending_batch(self) -> int:
        """The number the batch being staged now will have once written."""
        return self.batch_no + 1

    def _put(self, key: bytes, value: bytes) -> None:
        self._batch.put(key, value)
        self._staged += 1

    def _delete(self, key: bytes) -> None:
        self._batch.delete(key)
        self._staged += 1

    def _stage_kv(self, key: bytes, value: bytes | None) -> None:
        if value is None:
            self._delete(key)
        else:
            self._put(key, value)

    def revoke_key(self, key_id: str) -> None:
        """Revoke an API key: its next call fails, and its open lease streams end now."""
        self.api_keys.revoke(key_id)
        for q in self.queues.values():
            for c in list(q.consumers.values()):
                if c.key_id == key_id:
                    c.closed = True
                    c.revoked = True
                    c.wake()

    def commit(self) -> int | None:
        """Write everything staged as one batch. Returns its number, or None if nothing was staged.

        On a storage error the staged in-memory effects are undone and Unavailable is raised;
        whoever waits on `pending_batch` must then be told it failed.
        """
        if not self._staged:
            return None
        batch, undo = self._batch, self._undo
        enqueued, acked = self._staged_enqueues, self._staged_acks
        self._batch, self._staged, self._undo = self.storage.new_batch(), 0, []
        self._staged_enqueues, self._staged_acks = [], []
        try:
            self.storage.write(batch)
        except Unavailable:
            for fn in reversed(undo):
                fn()
            for q, e in reversed(acked):
                self._unack(q, e)
            for q, e in reversed(enqueued):
                self._unenqueue(q, e)
            raise
        self.batch_no += 1
        return self.batch_no

    # -- queues -----------------------------------------------------------------------------

    def _queue(self, name: str, field_name: str = "queue") -> Queue:
        q = self.queues.get(name)
        if q is None:
            if not name:
                raise InvalidArgument(f"{field_name} must not be empty")
            limit = self.settings.limits.max_queue_name_bytes
            if len(name) > limit:
                raise InvalidArgument(f"{field_name} is longer than {limit} bytes")
            raise NotFound(f"queue {name!r} does not exist")
        return q

    # -- hot path ---------------------------------------------------------------------------

    def _check_message(self, headers: Any, payload: bytes) -> None:
        limits = self.settings.limits
        if len(payload) > limits.max_payload_bytes:
            raise InvalidArgument(
                f"payload is {len(payload)} bytes, over the limit of {limits.max_payload_bytes}"
            )
        if len(headers) > limits.max_headers:
            raise InvalidArgument(
                f"headers has {len(headers)} entries, over the limit of {limits.max_headers}"
            )
        for k, v in headers.items():
            if not k:
                raise InvalidArgument("headers: a header name must not be empty")
            if len(k) + len(v) > limits.max_header_bytes:
                raise InvalidArgument(
                    f"headers[{k[:40]!r}] is over the limit of {limits.max_header_bytes} bytes"
                )

    def _check_room(self) -> None:
        limit = self.settings.limits.max_pending_bytes
        if self.pending_bytes >= limit:
            self.refused_overload += 1
            raise ResourceExhausted(
                f"the broker holds {self.pending_bytes} bytes of messages, at its limit of {limit} "
                "([limits] max_pending_bytes); retry in a little while, as consumers catch up"
            )

    def enqueue(
        self, queue: str, headers: dict[str, str], payload: bytes, body: bytes | None = None
    ) -> str:
        """Accept one message; durable once batch `pending_batch` is. Returns its id.

        `body` may carry headers and payload already serialized (Message fields 2 and 3, as
        `codec.strip_queue` cuts them from an EnqueueRequest), saving a re-encode.
        """
        q = self.queues.get(queue) or self._queue(queue)
        self._check_message(headers, payload)
        if self.pending_bytes >= self.settings.limits.max_pending_bytes:
            self._check_room()
        fkey, weight, tkeys = self._decide_enqueue(q, headers, len(payload))
        seq = self.ids.next_seq()
        mid = self.ids.message_id(seq)
        now_ms = seq >> 16
        if body is None:
            body = codec.request_body(headers, payload)
        data = q.encoder.encode(mid, body, fkey, weight, tkeys, now_ms)
        self._batch.put(st.message_key(q.qid, seq), data)
        self._staged += 1
        e = Entry(seq, mid, data, fkey, weight, tkeys, 0, now_ms)
        e.meta_at = len(data) - q.encoder.tail_len(fkey, weight, tkeys)
        q.drr.push(e)
        q.stats.enqueued += 1
        self.pending_bytes += len(data)
        self._staged_enqueues.append((q, e))  # undone in bulk if the write fails
        self._dirty.add(q)
        return mid

    def _unenqueue(self, q: Queue, e: Entry) -> None:
        q.drr.remove(e)
        q.stats.enqueued -= 1
        self.pending_bytes -= len(e.data)

    def _leased(self, queue: str, mid: str, lease_id: str = "") -> tuple[Queue, Entry]:
        q = self._queue(queue)
        if not mid:
            raise InvalidArgument("message_id must not be empty")
        if len(mid) > MAX_ID_BYTES:
            raise InvalidArgument(f"message_id is longer than {MAX_ID_BYTES} bytes")
        e = q.leases.get(mid)
        if e is None:
            raise NotFound(
                f"message {mid!r} is not leased from queue {queue!r} "
                "(unknown, already acked, or its lease expired)"
            )
        if lease_id and lease_id != str(e.token):
            raise FailedPrecondition(
                f"lease_id {lease_id[:32]!r} is not the current lease of message {mid!r}: "
                "that lease expired and the message was delivered again"
            )
        return q, e

    def _end_lease(self, q: Queue, e: Entry) -> None:
        """The lease ended (ack, nack, expiry): its consumer may hold one more message."""
        del q.leases[e.mid]
        c = e.consumer
        if c is not None:
            c.leased -= 1
            if not c.closed:  # grant(c, 1), inlined: this runs once per message
                if c.credit <= 0:
                    q.hungry.append(c)
                c.credit += 1
                self._dirty.add(q)
        e.consumer = None

    def ack(self, queue: str, mid: str, lease_id: str = "") -> None:
        q, e = self._leased(queue, mid, lease_id)
        self._end_lease(q, e)
        e.state = Entry.GONE
        self.pending_bytes -= len(e.data)
        self._batch.delete(st.message_key(q.qid, e.seq))
        self._staged += 1
        if e.ready_at_ms:
            self._delete(st.delay_key(q.qid, e.seq))
        q.stats.acked += 1
        self._staged_acks.append((q, e))  # undone in bulk if the write fails

    def _unack(self, q: Queue, e: Entry) -> None:
        e.state = Entry.LEASED
        q.leases[e.mid] = e
        q.stats.acked -= 1
        self.pending_bytes += len(e.data)

    def extend_lease(self, queue: str, mid: str, extend_ms: int, lease_id: str = "") -> None:
        """The lease of `mid` now ends `extend_ms` from now (0: the queue's visibility timeout)."""
        q, e = self._leased(queue, mid, lease_id)
        ms = extend_ms or q.settings.visibility_timeout_ms
        if ms > MAX_LEASE_MS:
            raise InvalidArgument(f"extend_ms must be at most {MAX_LEASE_MS} (12 h)")
        self._lease_no += 1
        e.lease_no = self._lease_no
        e.expires_ms = _mono_ms() + ms
        heapq.heappush(self._lease_heap, (e.expires_ms, e.lease_no, [(e, e.lease_no)], q))

    def nack(self, queue: str, mid: str, error: str, lease_id: str = "") -> None:
        q, e = self._leased(queue, mid, lease_id)
        if len(error) > MAX_ERROR_CHARS:  # keep what matters of a long stack trace
            error = error[: MAX_ERROR_CHARS - 1] + "…"
        self._end_lease(q, e)
        q.stats.nacked += 1
        self._fail(q, e, error or "nacked")

    # -- consumers --------------------------------------------------------------------------

    def add_consumer(
        self, queue: str, credit: int, wake: Callable[[], None], key_id: str = ""
    ) -> Consumer:
        q = self._queue(queue)
        c = Consumer(self._next_cid, queue, 0, wake)
        c.key_id = key_id
        self._next_cid += 1
        q.consumers[c.cid] = c
        self.grant(c, credit)
        return c

    def grant(self, c: Consumer, n: int) -> None:
        """Let consumer c hold n more messages."""
        if c.closed or n <= 0:
            return
        q = self.queues.get(c.queue)
        if q is None:
            return
        was_empty = c.credit <= 0
        c.credit += n
        if was_empty:
            q.hungry.append(c)
        self._dirty.add(q)

    def remove_consumer(self, c: Consumer) -> None:
        """A stream closed: its unsent messages go back at once; sent ones keep their lease."""
        c.closed = True
        q = self.queues.get(c.queue)
        if q is None:
            return
        q.consumers.pop(c.cid, None)
        try:
            q.hungry.remove(c)
        except ValueError:
            pass
        self.release_unsent(c)

    def release_unsent(self, c: Consumer) -> None:
        q = self.queues.get(c.queue)
        unsent, c.outbox = c.outbox, []
        if q is None:
            return
        for e in unsent:
            if e.state == Entry.LEASED and e.consumer is c:
                self._end_lease(q, e)
                e.state = Entry.READY
                q.drr.push_back(e)
                q.stats.leased -= 1
                self._dirty.add(q)

    # -- the tick ---------------------------------------------------------------------------

    def tick(self) -> float | None:
        """Expire leases, wake delayed and throttled messages, deliver. Returns seconds to the
        next timer (0 if the budget ran out and more work is waiting), or None for no timer."""
        mono = _mono_ms()
        wall = _wall_ms()
        now_s = mono / 1000.0
        budget = self.settings.tick_budget
        heap = self._lease_heap
        while heap and heap[0][0] <= mono and budget > 0:
            at, order, leases, q = heapq.heappop(heap)
            for i, (e, lease_no) in enumerate(leases):
                if e.state == Entry.LEASED and e.lease_no == lease_no:
                    if budget <= 0:  # the rest next tick, still due
                        heapq.heappush(heap, (at, order, leases[i:], q))
                        break
                    budget -= 1
                    self._end_lease(q, e)
                    q.stats.expired += 1
                    self._fail(q, e, EXPIRY_ERROR)
        for q in self.queues.values():
            if q.delayed and q.delayed[0][0] <= wall and q.wake_delayed(wall):
                self._dirty.add(q)
        throttles = self.config.throttles
        if throttles.wake:
            throttles.grant_due(now_s)  # refilled buckets' tokens to their claims, in line
        if mono >= self._next_housekeeping:
            self._housekeeping(mono)
        dirty, self._dirty = self._dirty, set()
        for q in dirty:
            if q.hungry and q.drr.can_deliver:
                budget = self._dispatch(q, mono, wall, now_s, budget)
                if q.hungry and q.drr.can_deliver and budget <= 0:
                    self._dirty.add(q)  # budget ran out: carry on next tick
        if self._dirty:
            return 0.0
        return self._next_timer(mono, wall, now_s)

    def _dispatch(self, q: Queue, mono: int, wall: int, now_s: float, budget: int) -> int:
        window = q.key_rates.window
        observe_latency = self.lease_latency_ms.observe
        hungry = q.hungry
        drr = q.drr
        expires = mono + q.settings.visibility_timeout_ms
        leases = q.leases
        # Every lease of this pass expires together: one heap item holds them all.
        batch: list[tuple[Entry, int]] = []
        lease_no = self._lease_no
        woken: list[Consumer] = []
        run = 0
        while hungry and budget > 0:
            e = drr.pop(now_s)
            if e is None:
                break
            budget -= 1
            c = hungry[0]
            lease_no += 1
            e.state = Entry.LEASED
            e.consumer = c
            e.lease_no = e.token = lease_no
            e.expires_ms = expires
            batch.append((e, lease_no))
            leases[e.mid] = e
            c.leased += 1
            window[e.fkey] = window.get(e.fkey, 0) + 1
            if not e.attempts and (not lease_no % LATENCY_SAMPLE or lease_no < 4 * LATENCY_SAMPLE):
                observe_latency(wall - e.enqueued_ms)
            if not c.outbox:
                woken.append(c)
            c.outbox.append(e)
            c.credit -= 1
            run += 1
            if c.credit <= 0:
                hungry.popleft()
                run = 0
            elif run >= CONSUMER_RUN and len(hungry) > 1:
                # Consumers take turns in runs, not message by message: a stream gets whole
                # batches (fairness is across keys, which the DRR order already settled).
                hungry.rotate(-1)
                run = 0
        if run and len(hungry) > 1:
            # The consumer served last goes to the back of the line, so the next pass starts
            # with another: when throttles let one message through per pass, consumers take
            # turns message by message instead of the first one getting everything.
            hungry.rotate(-1)
        if batch:
            self._lease_no = lease_no
            q.stats.leased += len(batch)
            heapq.heappush(self._lease_heap, (expires, lease_no, batch, q))
        for c in woken:
            c.wake()
        return budget

    def _housekeeping(self, mono: int) -> None:
        """Once a second: roll the rate windows that stats and metrics read."""
        seconds = max(0.001, (mono - self._last_housekeeping) / 1000.0)
        self._last_housekeeping = mono
        self._next_housekeeping = mono + HOUSEKEEPING_MS
        for q in self.queues.values():
            st_ = q.stats
            q.rates.window = {"enqueued": st_.enqueued - q.rates_base[0],
                              "delivered": st_.leased - q.rates_base[1]}
            q.rates_base = (st_.enqueued, st_.leased)
            q.rates.roll(seconds, mono / 1000.0)
            if q.key_rates:
                q.key_rates.roll(seconds, mono / 1000.0)

    def _next_timer(self, mono: int, wall: int, now_s: float) -> float | None:
        best: float | None = None
        if any(q.rates or q.key_rates for q in self.queues.values()):
            best = max(0.0, (self._next_housekeeping - mono) / 1000.0)
        heap = self._lease_heap
        while heap and not any(e.state == Entry.LEASED and e.lease_no == n for e, n in heap[0][2]):
            heapq.heappop(heap)  # drop items whose leases all ended: keeps the heap from going stale
        if heap:
            d = (heap[0][0] - mono) / 1000.0
            best = d if best is None else min(best, d)
        for q in self.queues.values():
            at = q.next_delayed_ms()
            if at is not None:
                d = (at - wall) / 1000.0
                best = d if best is None else min(best, d)

        wake = self.config.throttles.next_wake()
        if wake is not None:
            d = wake - now_s
            best = d if best is None else min(best, d)
        return None if best is None else max(best, 0.0)
