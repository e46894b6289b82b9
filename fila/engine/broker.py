"""The broker core: the single owner of all scheduling state, and the engine's public API.

Like Redis, one thread owns everything here, so nothing needs a lock, and nothing here ever
waits on the network. Callers (the gRPC server) issue commands (enqueue, ack, ...): each
validates, runs Lua, updates the in-memory indexes and *stages* its storage effects with how
to undo them (fila.engine.staging). Then the caller runs a `turn()`:

    commit   one RocksDB write for everything staged since the last turn (the caller's
             group-commit thread then makes it durable; only then may it answer producers)
    tick     a budgeted pass over due timers: expired leases, delayed messages whose time has
             come, throttle buckets that refilled for waiting messages; then deliveries
    commit   whatever the tick staged

What is staged are effects (a message with the keys Lua gave it, a delete, a new attempt
count), never inputs: recovery replays storage and never re-runs Lua. A write that fails
rolls its effects back in memory, newest first.

The queue's live objects stay inside the engine: callers hold only `Consumer` handles (from
`add_consumer`, taking `Delivery` values) and read state through fila.engine.views.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from fila.engine import codec, key_ranking, keys, recovery
from fila.engine.admin_ops import AdminOps
from fila.engine.api_keys import ApiKeys
from fila.engine.clock import Clock, SystemClock
from fila.engine.hooks import HookPolicy
from fila.engine.instruments import LATENCY_BUCKETS_MS, Histogram
from fila.engine.leasing import COMPACT_SLACK, LeaseItem, Leasing, StallItem
from fila.engine.message import Entry
from fila.engine.queue import Queue
from fila.engine.rules import LuaLimits
from fila.engine.runtime_config import RuntimeConfig
from fila.engine.staging import Staging, roll_back
from fila.engine.storage import Storage
from fila.errors import FilaError, InvalidArgument, NotFound, ResourceExhausted, Unavailable

log = logging.getLogger("fila.engine")

HOUSEKEEPING_MS = 1000
CHORE_SLICE_S = 0.002  # background work (key rankings) per turn, at most about this long
LEASE_NO_BITS = 32  # leases one process may hand out per millisecond it ran


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
    # A stream whose leased messages wait this long without it taking any is closed, and
    # they go back to the queue ([lease] stall_timeout_ms).
    stall_ms: int = 30_000


# What enqueue_many takes per message: queue, headers, payload, and optionally the headers and
# payload already serialized (see Broker.enqueue).
EnqueueItem = tuple[str, dict[str, str], bytes, "bytes | None"]


@dataclass
class Write:
    """One batch written by a turn: hand `batch_no` to the group commit."""

    batch_no: int
    ops: int
    write_ms: float


@dataclass
class TurnResult:
    written: list[Write] = field(default_factory=list)
    # Batches whose write failed (their effects are rolled back): tell whoever waits on them.
    failed: list[tuple[int, Unavailable]] = field(default_factory=list)
    # When the next turn is due, in seconds (0: at once, work is waiting); None: no timer.
    next_in_s: float | None = None


class Broker(HookPolicy, AdminOps, Leasing):
    def __init__(self, storage: Storage, settings: BrokerSettings | None = None,
                 clock: Clock | None = None) -> None:
        self.storage = storage
        self.settings = settings or BrokerSettings()
        self.clock: Clock = clock or SystemClock()
        self.queues: dict[str, Queue] = {}
        self._by_qid: dict[int, Queue] = {}
        self.config = RuntimeConfig()
        self.ids = codec.IdGenerator(wall_ms=self.clock.wall_ms)
        self.stage = Staging(storage.new_batch)
        self.batch_no = 0  # number of the last batch written
        self._lease_heap: list[LeaseItem] = []
        self._lease_items = 0
        self._compact_at = COMPACT_SLACK
        self._stall_heap: list[StallItem] = []
        # Lease numbers (a delivery's lease id) start at this process's start time, high
        # bits: a lease id handed out before a restart never names a delivery after it, so an
        # ack carrying a stale one is refused instead of acking someone else's redelivery.
        self._lease_no = self._lease_base = self.clock.wall_ms() << LEASE_NO_BITS
        self._dirty: set[Queue] = set()
        # Per-turn work must not grow with idle queues: queues whose rates still move (rolled
        # by housekeeping), and a heap of when queues' delayed messages are due.
        self._rolling: set[Queue] = set()
        self._delay_heap: list[tuple[int, int, Queue]] = []  # (due_ms, order, queue)
        self._timer_no = 0
        self._chores: dict[Queue, Iterator[None]] = {}
        self._chores_done: list[Callable[[], None]] = []
        self._next_qid = 1
        self._next_cid = 1
        self.api_keys = ApiKeys(self.stage)
        self.pending_bytes = 0  # bytes of message data held in memory
        self.refused_overload = 0  # enqueues refused at max_pending_bytes
        self.lease_latency_ms = Histogram(LATENCY_BUCKETS_MS)  # enqueue -> first lease
        self._last_housekeeping = self.clock.mono_ms()
        self._next_housekeeping = self._last_housekeeping + HOUSEKEEPING_MS
        self.recovered: dict[str, int] = {}
        recovery.recover(self)

    # -- staging, committing, turns ---------------------------------------------------------

    @property
    def staged(self) -> int:
        """Storage operations staged for the next commit."""
        return self.stage.ops

    @property
    def pending_batch(self) -> int:
        """The number the batch being staged now will have once written."""
        return self.batch_no + 1

    def commit(self) -> int | None:
        """Write everything staged as one batch. Returns its number, or None if nothing was
        staged. On a storage error the staged effects are rolled back in memory and
        Unavailable is raised; whoever waits on `pending_batch` must be told it failed. A
        failed batch keeps its number (the next batch has the next one), so a number always
        names one batch's fate."""
        if not self.stage.ops:
            return None
        batch, _, undo, after = self.stage.take()
        try:
            self.storage.write(batch)
        except Unavailable:
            roll_back(undo)
            self.batch_no += 1
            raise
        self.batch_no += 1
        for fn, args in after:
            fn(*args)
        return self.batch_no

    def turn(self) -> TurnResult:
        """Commit what commands staged; run the timers and commit what they staged; then
        deliver. Returns what was written (or failed) and when the next turn is due.

        Deliveries come last because they stage nothing (leases are not stored): everything
        a turn hands to consumers is already written, so a failed write never has to take a
        delivery back."""
        out = self.flush()
        budget = self._run_timers()
        self._commit_into(out)
        out.next_in_s = self._deliver(budget)
        if self._chores:
            self._run_chores(time.perf_counter() + CHORE_SLICE_S)
            if self._chores:
                out.next_in_s = 0.0
        return out

    def flush(self) -> TurnResult:
        """Only the write of what is staged (no timers, no deliveries): for shutdown."""
        out = TurnResult()
        self._commit_into(out)
        return out

    def _commit_into(self, out: TurnResult) -> None:
        ops = self.stage.ops
        if not ops:
            return
        n = self.pending_batch
        t0 = time.perf_counter()
        try:
            self.commit()
        except Unavailable as exc:
            out.failed.append((n, exc))
            return
        out.written.append(Write(n, ops, (time.perf_counter() - t0) * 1000))

    # -- background chores ------------------------------------------------------------------

    def want_ranking(self, name: str, limit: int) -> None:
        """Have queue `name`'s busiest `limit` keys ranked between turns (fila.engine.key_ranking);
        `when_chores_done` says when."""
        q = self.queue(name)
        if q not in self._chores:
            rates = {k: b.rate for k, b in self.config.throttles.buckets.items()}
            self._chores[q] = key_ranking.rank(q, rates, limit, self.clock.mono_ms() / 1000.0)

    def when_chores_done(self, fn: Callable[[], None]) -> None:
        """Call `fn` once no background chore is left (at once if none is)."""
        if self._chores:
            self._chores_done.append(fn)
        else:
            fn()

    def _run_chores(self, until: float) -> None:
        for q, job in list(self._chores.items()):
            for _ in job:
                if time.perf_counter() >= until:
                    return
            del self._chores[q]
        done, self._chores_done = self._chores_done, []
        for fn in done:
            fn()

    # -- queues -----------------------------------------------------------------------------

    def queue(self, name: str, field_name: str = "queue") -> Queue:
        """The live queue `name`; NotFound (or InvalidArgument for a bad name) otherwise.
        For the engine's own modules: callers outside read through fila.engine.views."""
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

    def _check_message(self, headers: dict[str, str], payload: bytes) -> None:
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
        result = self.enqueue_many([(queue, headers, payload, body)])[0]
        if isinstance(result, FilaError):
            raise result
        return result

    def enqueue_many(self, items: Sequence[EnqueueItem]) -> list[str | FilaError]:
        """Accept messages (queue, headers, payload, body as for `enqueue`), each on its own:
        per item its id, or the error that refused it. Durable once batch `pending_batch` is.

        Consecutive messages of one queue go through its on_enqueue hook in one call into Lua
        (fila.engine.hooks); the rest is per message."""
        results: list[str | FilaError | None] = [None] * len(items)
        runs: list[tuple[Queue, list[int]]] = []  # valid messages by queue, in order
        for i, (queue, headers, payload, _) in enumerate(items):
            try:
                q = self.queues.get(queue) or self.queue(queue)
                self._check_message(headers, payload)
            except FilaError as exc:
                results[i] = exc
                continue
            if runs and runs[-1][0] is q:
                runs[-1][1].append(i)
            else:
                runs.append((q, [i]))
        for q, run in runs:
            self._enqueue_run(q, run, items, results)
        return results  # type: ignore[return-value]  # every slot is filled by now

    def _enqueue_run(self, q: Queue, run: list[int], items: Sequence[EnqueueItem],
                     results: list[str | FilaError | None]) -> None:
        decisions = self._decide_enqueue_many(q, [items[i][1] for i in run],
                                              [len(items[i][2]) for i in run])
        max_pending = self.settings.limits.max_pending_bytes
        ids, stage, encode = self.ids, self.stage, q.encoder.encode
        batch_put, log, arrivals, push = stage.batch.put, stage.log, q.arrivals, q.drr.push
        qid, unenqueue, stats = q.qid, self._unenqueue, q.stats
        accepted = 0
        for i, (fkey, weight, tkeys) in zip(run, decisions, strict=True):
            if self.pending_bytes >= max_pending:
                try:
                    self._check_room()
                except ResourceExhausted as exc:
                    results[i] = exc
                    continue
            _, headers, payload, body = items[i]
            seq = ids.next_seq()
            mid = ids.message_id(seq)
            now_ms = seq >> 16
            if body is None:
                body = codec.request_body(headers, payload)
            data = encode(mid, body, fkey, weight, tkeys, now_ms)
            e = Entry(seq, mid, data, fkey, weight, tkeys, 0, now_ms)
            e.meta_at = codec.STORED_HEAD + len(body)  # where encode() put the metadata
            # stage.put and stage.undo, inlined: this runs once per message
            batch_put(keys.message(qid, seq), data)
            log.append((unenqueue, (q, e)))
            push(e)
            e.home = q  # q.arrive(e), inlined: its seq is the newest
            arrivals.append(e)
            self.pending_bytes += len(data)
            results[i] = mid
            accepted += 1
        if accepted:
            stage.ops += accepted
            stats.enqueued += accepted
            if len(arrivals) > q.index_limit:
                q.tidy_index()
            self._dirty.add(q)

    def _unenqueue(self, q: Queue, e: Entry) -> None:
        q.drr.remove(e)
        q.stats.enqueued -= 1
        self.pending_bytes -= len(e.data)
        e.state = Entry.GONE

    # -- the tick ---------------------------------------------------------------------------

    def _run_timers(self) -> int:
        """Expire due leases, wake delayed messages, grant refilled buckets' tokens to their
        claims, roll the rates. Returns what is left of the tick's budget."""
        mono = self.clock.mono_ms()
        wall = self.clock.wall_ms()
        budget = self._expire(mono, self.settings.tick_budget)
        if self._stall_heap and self._stall_heap[0][0] <= mono:
            self._check_stalls(mono)
        heap = self._delay_heap
        while heap and heap[0][0] <= wall:
            at, _, q = heapq.heappop(heap)
            if q.wake_at != at or self.queues.get(q.name) is not q:
                continue  # stale: an earlier wake was set since, or the queue was deleted
            if q.wake_delayed(wall):
                self._dirty.add(q)
            q.wake_at = 0
            nxt = q.next_delayed_ms()
            if nxt is not None:
                self._wake_queue_at(q, nxt)
        throttles = self.config.throttles
        if throttles.wake:
            throttles.grant_due(mono / 1000.0)  # refilled buckets' tokens to their claims
        if mono >= self._next_housekeeping:
            self._housekeeping(mono)
        return budget

    def _deliver(self, budget: int) -> float | None:
        """Lease ready messages to consumers with credit (up to `budget`). Returns seconds to
        the next timer (0 if the budget ran out and more work is waiting), or None."""
        mono = self.clock.mono_ms()
        wall = self.clock.wall_ms()
        now_s = mono / 1000.0
        dirty, self._dirty = self._dirty, set()
        self._rolling |= dirty  # its counts may have moved: roll its rates until they settle
        for q in dirty:
            if q.hungry and q.drr.can_deliver:
                budget = self._dispatch(q, mono, wall, now_s, budget)
                if q.hungry and q.drr.can_deliver and budget <= 0:
                    self._dirty.add(q)  # budget ran out: carry on next tick
        if self._dirty:
            return 0.0
        return self._next_timer(mono, wall, now_s)

    def _housekeeping(self, mono: int) -> None:
        """Once a second: roll the rate windows that stats and metrics read."""
        seconds = max(0.001, (mono - self._last_housekeeping) / 1000.0)
        self._last_housekeeping = mono
        self._next_housekeeping = mono + HOUSEKEEPING_MS
        for q in list(self._rolling):
            if self.queues.get(q.name) is not q:
                self._rolling.discard(q)
                continue
            st_ = q.stats
            q.rates.window = {"enqueued": st_.enqueued - q.rates_base[0],
                              "delivered": st_.leased - q.rates_base[1]}
            q.rates_base = (st_.enqueued, st_.leased)
            q.rates.roll(seconds, mono / 1000.0)
            if q.key_rates:
                q.key_rates.roll(seconds, mono / 1000.0)
            if not q.rates and not q.key_rates:
                self._rolling.discard(q)  # settled at 0; a count that moves makes it dirty

    def _next_timer(self, mono: int, wall: int, now_s: float) -> float | None:
        """Seconds to the earliest of: housekeeping (while rates are moving), a lease expiry,
        a delayed message, a throttle bucket refilling for waiting messages."""
        best: float | None = None
        if self._rolling:
            best = max(0.0, (self._next_housekeeping - mono) / 1000.0)
        for at_ms in (self.next_lease_expiry_ms(), self.next_stall_check_ms()):
            if at_ms is not None:
                d = (at_ms - mono) / 1000.0
                best = d if best is None else min(best, d)
        if self._delay_heap:
            d = (self._delay_heap[0][0] - wall) / 1000.0
            best = d if best is None else min(best, d)
        wake = self.config.throttles.next_wake()
        if wake is not None:
            d = wake - now_s
            best = d if best is None else min(best, d)
        return None if best is None else max(best, 0.0)

    def _delay(self, q: Queue, e: Entry, ready_at_ms: int) -> None:
        """Hold `e` in `q` until `ready_at_ms` (wall clock), and wake the queue then."""
        q.delay(e, ready_at_ms)
        if not q.wake_at or ready_at_ms < q.wake_at:
            self._wake_queue_at(q, ready_at_ms)

    def _wake_queue_at(self, q: Queue, at_ms: int) -> None:
        q.wake_at = at_ms
        self._timer_no += 1
        heapq.heappush(self._delay_heap, (at_ms, self._timer_no, q))
