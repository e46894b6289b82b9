"""Consumers and leases: who gets what, and how a lease ends (ack, nack, expiry, extension).

A mixin of `Broker` (same thread, same staging): every change that storage must know stages
its operations and an undo, so a failed write puts memory back exactly as storage is. Leases
themselves are not stored: after a restart a leased message is ready again.

A dispatch pass leases messages to consumers with credit and room in their outbox; a lease's
visibility timer starts only when the stream takes the message to send it (`take`), so a
message a stream never sent cannot expire as a failed attempt. A stream makes no progress,
and is closed (its unsent messages going back to the queue as they were), when its outbox
waits untaken for `stall_ms` (its transport is stuck), or when its leases expire and it
answers none (acks, nacks or extends nothing): STALL_EXPIRIES of them expired since it last
answered, or one expired and it answered nothing for `stall_ms` (its client's buffers took the
messages but nothing handles them). One message redelivered to the same stream after it
expired, as a test of the visibility timeout does, is not a stall.

Leases taken together expire together: one heap item holds them all, as (expires_ms, order,
[(entry, lease_no), ...], queue). An item goes stale when its entries' leases end or are
extended (`lease_no` changes); when stale items outnumber live leases the heap is rebuilt, so
its memory stays bounded by the number of leased messages however often leases are extended.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from fila.engine import codec, keys
from fila.engine.hooks import LATENCY_SAMPLE
from fila.engine.message import Entry
from fila.engine.queue import Consumer, Delivery, Queue
from fila.errors import FailedPrecondition, InvalidArgument, NotFound

log = logging.getLogger("fila.engine")

# Leases of one stream that expire, none answered since it took them, before it is closed.
STALL_EXPIRIES = 100

if TYPE_CHECKING:
    from fila.engine.broker import BrokerSettings
    from fila.engine.clock import Clock
    from fila.engine.instruments import Histogram
    from fila.engine.staging import Staging

EXPIRY_ERROR = "visibility timeout expired"
CONSUMER_RUN = 100  # messages one consumer takes in a row before the next one's turn
MAX_ID_BYTES = 64
MAX_ERROR_CHARS = 4096
MAX_LEASE_MS = 12 * 3600 * 1000
COMPACT_SLACK = 10_000  # stale lease-heap items tolerated beyond twice the live ones

LeaseItem = tuple[int, int, list[tuple[Entry, int]], Queue]
StallItem = tuple[int, int, Consumer]  # (when to look, consumer id, consumer)


class Leasing:
    # Provided by Broker.
    settings: BrokerSettings
    clock: Clock
    stage: Staging
    queues: dict[str, Queue]
    pending_bytes: int
    lease_latency_ms: Histogram
    _dirty: set[Queue]
    _lease_heap: list[LeaseItem]
    _lease_items: int  # (entry, lease_no) pairs in the heap, stale ones included
    _compact_at: int
    _stall_heap: list[StallItem]
    _lease_no: int
    _lease_base: int
    _next_cid: int

    if TYPE_CHECKING:
        def queue(self, name: str, field_name: str = "queue") -> Queue: ...
        def _fail(self, q: Queue, e: Entry, error: str, c: Consumer | None,
                  counter: str, expired: bool = False) -> None: ...

    # -- consumers --------------------------------------------------------------------------

    def add_consumer(
        self, queue: str, credit: int, wake: Callable[[], None], key_id: str = "",
        window: int = 1000,
    ) -> Consumer:
        """Open a lease stream on `queue` that may hold `credit` unacknowledged messages, at
        most `window` of them not yet taken for sending."""
        q = self.queue(queue)
        c = Consumer(self._next_cid, queue, 0, wake, max(1, window))
        c.key_id = key_id
        c.progress_ms = c.acked_ms = self.clock.mono_ms()
        self._next_cid += 1
        q.consumers[c.cid] = c
        self.grant(c, credit)
        return c

    def _want(self, q: Queue, c: Consumer) -> None:
        """Put c in q's line of consumers that can take more, if it can and is not there."""
        if not c.queued and c.can_take_more:
            c.queued = True
            q.hungry.append(c)
            self._dirty.add(q)

    def grant(self, c: Consumer, n: int) -> None:
        """Let consumer c hold n more messages (n < 0: fewer)."""
        if c.closed or not n:
            return
        q = self.queues.get(c.queue)
        if q is None:
            return
        c.credit += n
        self._want(q, c)

    def take(self, c: Consumer, n: int) -> list[Delivery]:
        """Up to n leased messages for stream c to send now, oldest first, skipping any whose
        lease ended before it got to them. Their leases start now."""
        out: list[Delivery] = []
        q = self.queues.get(c.queue)
        if q is None:
            c.outbox.clear()
            return out
        box = c.outbox
        taken: list[tuple[Entry, int]] = []
        new = tuple.__new__  # a Delivery without NamedTuple's Python-level __new__
        while box and len(out) < n:
            e = box.popleft()
            if e.state == Entry.LEASED and e.consumer is c:
                if not e.meta_at:
                    e.meta_at = codec.metadata_offset(e.data)
                out.append(new(Delivery, (e.data, e.meta_at, e.token)))
                taken.append((e, e.lease_no))
        mono = self.clock.mono_ms()
        c.progress_ms = mono
        if taken:
            expires = mono + q.settings.visibility_timeout_ms
            for e, _ in taken:
                e.expires_ms = expires
            self._lease_no += 1
            heapq.heappush(self._lease_heap, (expires, self._lease_no, taken, q))
            self._lease_items += len(taken)
        self._want(q, c)
        return out

    def remove_consumer(self, c: Consumer) -> None:
        """A stream closed: its unsent messages go back at once; sent ones keep their lease."""
        c.closed = True
        q = self.queues.get(c.queue)
        if q is None:
            return
        q.consumers.pop(c.cid, None)
        if c.queued:
            c.queued = False
            try:
                q.hungry.remove(c)
            except ValueError:
                pass
        self._return_unsent(q, c)

    def _return_unsent(self, q: Queue, c: Consumer) -> None:
        """What c was leased and never took goes back to the queue as it was (no attempt)."""
        unsent, c.outbox = list(c.outbox), type(c.outbox)()
        for e in unsent:
            if e.state == Entry.LEASED and e.consumer is c:
                self._end_lease(q, e)
                e.state = Entry.READY
                q.drr.push_back(e)
                q.stats.leased -= 1
                self._dirty.add(q)

    def _check_stalls(self, mono: int) -> None:
        """Close streams whose outbox waited `stall_ms` without a take (see the module doc)."""
        heap = self._stall_heap
        stall_ms = self.settings.stall_ms
        while heap and heap[0][0] <= mono:
            _, _, c = heapq.heappop(heap)
            if c.closed or not c.outbox:
                continue
            if c.progress_ms + stall_ms > mono:  # it took something since: look again later
                heapq.heappush(heap, (c.progress_ms + stall_ms, c.cid, c))
                continue
            self._stall(c, "it takes none of the messages waiting for it")

    def _stall(self, c: Consumer, why: str) -> None:
        """Close a stream that makes no progress; what it was never sent goes back."""
        log.warning("closing a stream that makes no progress",
                    extra={"queue": c.queue, "why": why, "unsent": len(c.outbox),
                           "stall_ms": self.settings.stall_ms})
        c.stalled = True
        self.remove_consumer(c)
        c.wake()

    def next_stall_check_ms(self) -> int | None:
        heap = self._stall_heap
        while heap and (heap[0][2].closed or not heap[0][2].outbox):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    # -- leases ending ------------------------------------------------------------------------

    def _leased(self, queue: str, mid: str, lease_id: str = "") -> tuple[Queue, Entry]:
        q = self.queue(queue)
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
                c.credit += 1
                if not c.queued and len(c.outbox) < c.window:
                    c.queued = True
                    q.hungry.append(c)
                    self._dirty.add(q)
        e.consumer = None

    def _restore_lease(self, q: Queue, e: Entry, c: Consumer | None) -> None:
        """Undo of _end_lease: the message is leased to c again."""
        e.state = Entry.LEASED
        e.consumer = c
        q.leases[e.mid] = e
        if c is not None:
            c.leased += 1
            if not c.closed:
                c.credit -= 1  # dispatch skips a consumer left in `hungry` without credit

    def ack(self, queue: str, mid: str, lease_id: str = "") -> None:
        q, e = self._leased(queue, mid, lease_id)
        c = e.consumer
        if c is not None:
            c.acked_ms = self.clock.mono_ms()
            c.unanswered = 0
        self._end_lease(q, e)
        e.state = Entry.GONE
        self.pending_bytes -= len(e.data)
        stage = self.stage  # stage.delete and stage.undo, inlined: this runs once per message
        stage.batch.delete(keys.message(q.qid, e.seq))
        stage.ops += 1
        if e.ready_at_ms:
            stage.delete(keys.delay(q.qid, e.seq))
        q.stats.acked += 1
        stage.log.append((self._unack, (q, e, c)))

    def _unack(self, q: Queue, e: Entry, c: Consumer | None) -> None:
        self._restore_lease(q, e, c)
        q.stats.acked -= 1
        self.pending_bytes += len(e.data)

    def nack(self, queue: str, mid: str, error: str, lease_id: str = "") -> None:
        q, e = self._leased(queue, mid, lease_id)
        if len(error) > MAX_ERROR_CHARS:  # keep what matters of a long stack trace
            error = error[: MAX_ERROR_CHARS - 1] + "…"
        c = e.consumer
        if c is not None:
            c.acked_ms = self.clock.mono_ms()
            c.unanswered = 0
        self._end_lease(q, e)
        self._fail(q, e, error or "nacked", c, "nacked")

    def extend_lease(self, queue: str, mid: str, extend_ms: int, lease_id: str = "") -> None:
        """The lease of `mid` now ends `extend_ms` from now (0: the queue's visibility timeout).
        Leases are not stored, so nothing is staged."""
        q, e = self._leased(queue, mid, lease_id)
        ms = extend_ms or q.settings.visibility_timeout_ms
        if ms > MAX_LEASE_MS:
            raise InvalidArgument(f"extend_ms must be at most {MAX_LEASE_MS} (12 h)")
        self._lease_no += 1
        e.lease_no = self._lease_no
        e.expires_ms = self.clock.mono_ms() + ms
        if e.consumer is not None:
            e.consumer.acked_ms = self.clock.mono_ms()
            e.consumer.unanswered = 0
        heapq.heappush(self._lease_heap, (e.expires_ms, e.lease_no, [(e, e.lease_no)], q))
        self._lease_items += 1
        if self._lease_items > self._compact_at:
            self._compact_leases()

    def _compact_leases(self) -> None:
        """Rebuild the lease heap from its live leases only (extensions leave stale items)."""
        live: dict[tuple[int, int], tuple[list[tuple[Entry, int]], Queue]] = {}
        for at, _, leases, q in self._lease_heap:
            for e, n in leases:
                if e.state == Entry.LEASED and e.lease_no == n:
                    live.setdefault((at, id(q)), ([], q))[0].append((e, n))
        self._lease_heap = []
        for (at, _), (leases, q) in live.items():
            self._lease_no += 1
            self._lease_heap.append((at, self._lease_no, leases, q))
        heapq.heapify(self._lease_heap)
        self._lease_items = sum(len(item[2]) for item in self._lease_heap)
        self._compact_at = 2 * self._lease_items + COMPACT_SLACK

    def _expire(self, mono: int, budget: int) -> int:
        """End the leases that are due, as failures (up to `budget`); returns what is left."""
        heap = self._lease_heap
        while heap and heap[0][0] <= mono and budget > 0:
            at, order, leases, q = heapq.heappop(heap)
            self._lease_items -= len(leases)
            for i, (e, lease_no) in enumerate(leases):
                if e.state == Entry.LEASED and e.lease_no == lease_no:
                    if budget <= 0:  # the rest next tick, still due
                        heapq.heappush(heap, (at, order, leases[i:], q))
                        self._lease_items += len(leases) - i
                        break
                    budget -= 1
                    c = e.consumer
                    if c is not None and not c.closed:
                        if c.acked_ms < e.expires_ms - q.settings.visibility_timeout_ms:
                            # It answered nothing since it took this one (an extension longer
                            # than the visibility timeout may count too: harmless, once).
                            c.unanswered += 1
                        if c.unanswered >= STALL_EXPIRIES or c.acked_ms + self.settings.stall_ms <= mono:
                            self._stall(c, "its leases expire and it acks none")
                    self._end_lease(q, e)
                    self._fail(q, e, EXPIRY_ERROR, c, "expired", expired=True)
        return budget

    def _relapse(self, q: Queue, e: Entry) -> None:
        """Undo of an expiry: the lease is back, and due, so the next tick tries again."""
        heapq.heappush(self._lease_heap, (e.expires_ms, e.lease_no, [(e, e.lease_no)], q))
        self._lease_items += 1

    def next_lease_expiry_ms(self) -> int | None:
        heap = self._lease_heap
        while heap and not any(e.state == Entry.LEASED and e.lease_no == n for e, n in heap[0][2]):
            self._lease_items -= len(heapq.heappop(heap)[2])  # all ended: drop it
        return heap[0][0] if heap else None

    # -- delivering ---------------------------------------------------------------------------

    def _dispatch(self, q: Queue, mono: int, wall: int, now_s: float, budget: int) -> int:
        """Lease ready messages, in fair order, to q's consumers that can take more."""
        window = q.key_rates.window
        observe_latency = self.lease_latency_ms.observe
        hungry = q.hungry
        drr = q.drr
        leases = q.leases
        lease_no = self._lease_no
        woken: list[Consumer] = []
        leased = 0
        run = 0
        while hungry and budget > 0:
            c = hungry[0]
            box = c.outbox
            if c.credit <= 0 or len(box) >= c.window or c.closed:
                hungry.popleft()  # no credit (an undone ack can take it back) or no room
                c.queued = False
                run = 0
                continue
            e = drr.pop(now_s)
            if e is None:
                break
            budget -= 1
            lease_no += 1
            e.state = Entry.LEASED
            e.consumer = c
            e.lease_no = e.token = lease_no
            e.expires_ms = 0  # its lease starts when the stream takes it
            leases[e.mid] = e
            c.leased += 1
            leased += 1
            window[e.fkey] = window.get(e.fkey, 0) + 1
            if not e.attempts and (not lease_no % LATENCY_SAMPLE
                                   or lease_no - self._lease_base < 4 * LATENCY_SAMPLE):
                observe_latency(wall - e.enqueued_ms)
            if not box:
                woken.append(c)
            box.append(e)
            c.credit -= 1
            run += 1
            if c.credit <= 0 or len(box) >= c.window:
                hungry.popleft()
                c.queued = False
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
        if leased:
            self._lease_no = lease_no
            q.stats.leased += leased
        stall_ms = self.settings.stall_ms
        for c in woken:
            # Its outbox was empty: from now on it must take within stall_ms.
            c.progress_ms = mono
            heapq.heappush(self._stall_heap, (mono + stall_ms, c.cid, c))
            c.wake()
        return budget
