"""Consumers and leases: who gets what, and how a lease ends (ack, nack, expiry, extension).

A mixin of `Broker` (same thread, same staging): every change that storage must know stages
its operations and an undo, so a failed write puts memory back exactly as storage is. Leases
themselves are not stored: after a restart a leased message is ready again.

Leases made in one dispatch pass expire together: one heap item holds them all, as
(expires_ms, order, [(entry, lease_no), ...], queue). An item goes stale when its entries'
leases end or are extended (`lease_no` changes).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import TYPE_CHECKING

from fila.engine import keys
from fila.engine.hooks import LATENCY_SAMPLE
from fila.engine.message import Entry
from fila.engine.queue import Consumer, Queue
from fila.errors import FailedPrecondition, InvalidArgument, NotFound

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

LeaseItem = tuple[int, int, list[tuple[Entry, int]], Queue]


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
    _lease_no: int
    _next_cid: int

    if TYPE_CHECKING:
        def queue(self, name: str, field_name: str = "queue") -> Queue: ...
        def _fail(self, q: Queue, e: Entry, error: str, c: Consumer | None,
                  counter: str, expired: bool = False) -> None: ...

    # -- consumers --------------------------------------------------------------------------

    def add_consumer(
        self, queue: str, credit: int, wake: Callable[[], None], key_id: str = ""
    ) -> Consumer:
        """Open a lease stream on `queue` that may hold `credit` unacknowledged messages."""
        q = self.queue(queue)
        c = Consumer(self._next_cid, queue, 0, wake)
        c.key_id = key_id
        self._next_cid += 1
        q.consumers[c.cid] = c
        self.grant(c, credit)
        return c

    def grant(self, c: Consumer, n: int) -> None:
        """Let consumer c hold n more messages (n < 0: fewer)."""
        if c.closed or not n:
            return
        q = self.queues.get(c.queue)
        if q is None:
            return
        was_empty = c.credit <= 0
        c.credit += n
        if was_empty and c.credit > 0:
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
        unsent, c.outbox = list(c.outbox), type(c.outbox)()
        for e in unsent:
            if e.state == Entry.LEASED and e.consumer is c:
                self._end_lease(q, e)
                e.state = Entry.READY
                q.drr.push_back(e)
                q.stats.leased -= 1
                self._dirty.add(q)

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
                if c.credit <= 0:
                    q.hungry.append(c)
                c.credit += 1
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
        heapq.heappush(self._lease_heap, (e.expires_ms, e.lease_no, [(e, e.lease_no)], q))

    def _expire(self, mono: int, budget: int) -> int:
        """End the leases that are due, as failures (up to `budget`); returns what is left."""
        heap = self._lease_heap
        while heap and heap[0][0] <= mono and budget > 0:
            at, order, leases, q = heapq.heappop(heap)
            for i, (e, lease_no) in enumerate(leases):
                if e.state == Entry.LEASED and e.lease_no == lease_no:
                    if budget <= 0:  # the rest next tick, still due
                        heapq.heappush(heap, (at, order, leases[i:], q))
                        break
                    budget -= 1
                    c = e.consumer
                    self._end_lease(q, e)
                    self._fail(q, e, EXPIRY_ERROR, c, "expired", expired=True)
        return budget

    def _relapse(self, q: Queue, e: Entry) -> None:
        """Undo of an expiry: the lease is back, and due, so the next tick tries again."""
        heapq.heappush(self._lease_heap, (e.expires_ms, e.lease_no, [(e, e.lease_no)], q))

    def next_lease_expiry_ms(self) -> int | None:
        heap = self._lease_heap
        while heap and not any(e.state == Entry.LEASED and e.lease_no == n for e, n in heap[0][2]):
            heapq.heappop(heap)  # drop items whose leases all ended: keeps the heap from going stale
        return heap[0][0] if heap else None

    # -- delivering ---------------------------------------------------------------------------

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
            c = hungry[0]
            if c.credit <= 0:  # its credit was taken back (an undone ack) since it queued
                hungry.popleft()
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
