"""One queue's live state: its settings and rules, ready index, leases, delays and consumers."""

from __future__ import annotations

import heapq
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, NamedTuple

from fila.engine.codec import StoredEncoder
from fila.engine.drr import DrrScheduler
from fila.engine.instruments import HookStat
from fila.engine.message import Entry
from fila.engine.rate_window import RateWindow
from fila.engine.rules import LuaLimits, QueueRules
from fila.errors import InvalidArgument

if TYPE_CHECKING:
    from fila.engine.key_ranking import Ranking

DLQ_SUFFIX = ".dlq"
DEFAULT_VISIBILITY_TIMEOUT_MS = 30_000
MAX_SCRIPT_CHARS = 256 * 1024
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]*")


@dataclass(frozen=True)
class QueueSettings:
    """What a queue was created (or last updated) with. Stored as JSON in its queue record."""

    on_enqueue_script: str = ""
    on_failure_script: str = ""
    visibility_timeout_ms: int = DEFAULT_VISIBILITY_TIMEOUT_MS
    max_attempts: int = 10
    retry_backoff_base_ms: int = 100
    retry_backoff_max_ms: int = 60_000
    lua_instruction_budget: int = 0  # 0: the server default
    lua_memory_bytes: int = 0
    lua_time_limit_ms: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QueueSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def lua_limits(self, defaults: LuaLimits) -> LuaLimits:
        return LuaLimits(
            instruction_budget=self.lua_instruction_budget or defaults.instruction_budget,
            memory_bytes=self.lua_memory_bytes or defaults.memory_bytes,
            time_limit_ms=self.lua_time_limit_ms or defaults.time_limit_ms,
        )

    def validated(self) -> QueueSettings:
        for name in ("on_enqueue_script", "on_failure_script"):
            if len(getattr(self, name)) > MAX_SCRIPT_CHARS:
                raise InvalidArgument(f"config.{name} is longer than {MAX_SCRIPT_CHARS} characters")
        if self.visibility_timeout_ms <= 0:
            return replace(self, visibility_timeout_ms=DEFAULT_VISIBILITY_TIMEOUT_MS).validated()
        if self.visibility_timeout_ms > 12 * 3600 * 1000:
            raise InvalidArgument("config.visibility_timeout_ms must be at most 43200000 (12 h)")
        if self.max_attempts < 1:
            raise InvalidArgument("config.max_attempts must be at least 1")
        if self.retry_backoff_base_ms < 0 or self.retry_backoff_max_ms < self.retry_backoff_base_ms:
            raise InvalidArgument(
                "config.retry_backoff_max_ms must be >= config.retry_backoff_base_ms >= 0"
            )
        return self


def dlq_name(queue: str) -> str:
    """The name of `queue`'s dead-letter queue."""
    return queue + DLQ_SUFFIX


def check_queue_name(name: str, max_bytes: int, field_name: str = "name") -> None:
    """Queue names: 1..max_bytes of letters, digits and . _ : - , starting with a letter or digit."""
    if not name:
        raise InvalidArgument(f"{field_name} must not be empty")
    if len(name.encode("utf-8", "surrogatepass")) > max_bytes:
        raise InvalidArgument(f"{field_name} is longer than {max_bytes} bytes")
    if not _NAME_RE.fullmatch(name):
        raise InvalidArgument(
            f"{field_name} {name!r} may hold only letters, digits and . _ : - "
            "and must start with a letter or digit"
        )


@dataclass
class Breaker:
    """Per-queue, per-hook circuit breaker: open after `threshold` consecutive failures."""

    threshold: int = 3
    cooldown_s: float = 10.0
    failures: int = 0
    open_until: float = 0.0
    openings: int = 0

    def state(self, now_s: float) -> str:
        if self.failures < self.threshold:
            return "closed"
        return "open" if now_s < self.open_until else "half-open"

    def allows(self, now_s: float) -> bool:
        return self.failures < self.threshold or now_s >= self.open_until

    def is_open(self, now_s: float) -> bool:
        return self.failures >= self.threshold and now_s < self.open_until

    def success(self) -> None:
        self.failures = 0

    def failure(self, now_s: float) -> bool:
        """Count a failure; True if this one opened (or re-opened) the breaker."""
        self.failures += 1
        if self.failures >= self.threshold:
            self.open_until = now_s + self.cooldown_s
            self.openings += 1
            return True
        return False


class Delivery(NamedTuple):
    """A leased message as a consumer stream sends it: the stored bytes, where their
    metadata field starts, and the lease id (Broker.take)."""

    data: bytes
    meta_at: int
    lease_id: int


class Consumer:
    """A lease stream, as the engine sees it. The engine puts leased messages in its outbox
    while it has credit and room, and calls `wake`; the stream then takes them with
    `Broker.take`, which is when their leases start.

    Read-only for the server: `closed`, and why (`revoked`, `stalled`); `outstanding` (leased
    plus credit: what it may hold); `has_outbox`. Change it only through the broker (`grant`,
    `take`, `remove_consumer`).
    """

    __slots__ = ("cid", "queue", "credit", "outbox", "window", "wake", "closed", "leased",
                 "key_id", "revoked", "stalled", "queued", "progress_ms", "acked_ms", "unanswered")

    def __init__(self, cid: int, queue: str, credit: int, wake: Callable[[], None],
                 window: int = 1000) -> None:
        self.cid = cid
        self.queue = queue
        self.credit = credit
        self.outbox: deque[Entry] = deque()  # leased, not yet taken for sending
        self.window = window  # at most this many in the outbox: what a stream has not taken
        self.wake = wake
        self.closed = False
        self.leased = 0
        self.key_id = ""  # the API key that opened the stream, when auth is on
        self.revoked = False
        self.stalled = False  # closed for taking nothing while messages waited for it
        self.queued = False  # in its queue's line of consumers that can take more
        self.progress_ms = 0  # when it last took messages (or its outbox last filled)
        self.acked_ms = 0  # when a lease of its was last acked, nacked or extended
        self.unanswered = 0  # its leases that expired since then, taken after it

    @property
    def outstanding(self) -> int:
        """Messages it holds leased (sent or not) plus what its credit still allows."""
        return self.leased + self.credit

    @property
    def has_outbox(self) -> bool:
        return bool(self.outbox)

    @property
    def can_take_more(self) -> bool:
        return not self.closed and self.credit > 0 and len(self.outbox) < self.window


@dataclass
class QueueStats:
    enqueued: int = 0
    leased: int = 0
    acked: int = 0
    nacked: int = 0
    expired: int = 0
    dead_lettered: int = 0
    redriven: int = 0


@dataclass(eq=False)  # identity semantics: queues live in sets
class Queue:
    """Live state of one queue, owned by the broker's thread."""

    name: str
    qid: int
    settings: QueueSettings
    rules: QueueRules
    drr: DrrScheduler
    dlq_of: str = ""  # for a dead-letter queue: the queue it serves
    leases: dict[str, Entry] = field(default_factory=dict)
    delayed: list[tuple[int, int, Entry]] = field(default_factory=list)  # (ready_at_ms, seq, e)
    delayed_count: int = 0
    consumers: dict[int, Consumer] = field(default_factory=dict)
    hungry: deque[Consumer] = field(default_factory=deque)
    stats: QueueStats = field(default_factory=QueueStats)
    enqueue_breaker: Breaker = field(default_factory=Breaker)
    failure_breaker: Breaker = field(default_factory=Breaker)
    on_enqueue_stat: HookStat = field(default_factory=HookStat)
    on_failure_stat: HookStat = field(default_factory=HookStat)
    key_rates: RateWindow = field(default_factory=RateWindow)  # deliveries/s per fairness key
    rates: RateWindow = field(default_factory=RateWindow)  # "enqueued", "delivered" per second
    rates_base: tuple[int, int] = (0, 0)  # (enqueued, leased) at the last roll
    ranking: Ranking | None = None  # its busiest keys, for a queue of many (key_ranking)
    # Every message that came in, oldest first, for peek and redrive: enqueues in order
    # (seq grows), what arrives out of order (dead letters, redriven ones) in a heap. Entries
    # that left (acked, or moved to another queue: `home` tells) are dropped from the front
    # as new ones come, and all at once when they outnumber the living (`tidy_index`).
    arrivals: deque[Entry] = field(default_factory=deque)
    strays: list[tuple[int, int, Entry]] = field(default_factory=list)  # (seq, id, entry)
    index_limit: int = 1024
    wake_at: int = 0  # when the broker wakes its delayed messages next (wall ms; 0: never)
    encoder: StoredEncoder = field(init=False)

    def __post_init__(self) -> None:
        self.encoder = StoredEncoder(self.name)

    @property
    def is_dlq(self) -> bool:
        return bool(self.dlq_of)

    @property
    def depth(self) -> int:
        """Messages not leased: ready and delayed."""
        return self.drr.ready + self.delayed_count

    @property
    def held(self) -> int:
        """Every message of the queue: ready, delayed and leased."""
        return self.depth + len(self.leases)

    def record(self) -> dict[str, Any]:
        return {"id": self.qid, "dlq_of": self.dlq_of, "settings": self.settings.to_json()}

    def arrive(self, e: Entry) -> None:
        """Index a message that came into this queue (Broker.enqueue inlines the usual case)."""
        e.home = self
        a = self.arrivals
        if not a or a[-1].seq < e.seq:
            a.append(e)
        else:
            heapq.heappush(self.strays, (e.seq, id(e), e))
        if len(a) + len(self.strays) > self.index_limit:
            self.tidy_index()

    def _gone(self, e: Entry) -> bool:
        return e.state == Entry.GONE or e.home is not self

    def tidy_index(self, force: bool = False) -> None:
        """Drop departed messages from the front of the index; if they still outnumber the
        living, from all of it (amortized: the index must double before the next time)."""
        a, s, gone = self.arrivals, self.strays, self._gone
        while a and gone(a[0]):
            a.popleft()
        while s and gone(s[0][2]):
            heapq.heappop(s)
        if force or len(a) + len(s) > 2 * self.held + 1024:
            self.arrivals = a = deque(e for e in a if not gone(e))
            self.strays = s = list({id(i[2]): i for i in s if not gone(i[2])}.values())
            heapq.heapify(s)
        self.index_limit = 2 * (len(a) + len(s)) + 1024

    def oldest(self, limit: int, ready_only: bool = False) -> list[Entry]:
        """Up to `limit` of this queue's messages (or only its ready ones), oldest first: the
        cost grows with what is returned (and with departed ones between them, bounded by
        `tidy_index`), not with the queue."""
        out: list[Entry] = []
        if limit <= 0:
            return out
        gone, skipped = self._gone, 0
        for e in heapq.merge(self.arrivals, _heap_order(self.strays), key=_seq_of):
            if gone(e) or (ready_only and e.state != Entry.READY) or (out and out[-1] is e):
                skipped += 1  # (the last: indexed twice, after a failed write undid a move)
                continue
            out.append(e)
            if len(out) >= limit:
                break
        if skipped > 4 * limit + 1024:
            self.tidy_index(force=True)
        return out

    def delay(self, entry: Entry, ready_at_ms: int) -> None:
        entry.state = Entry.DELAYED
        entry.ready_at_ms = ready_at_ms
        heapq.heappush(self.delayed, (ready_at_ms, entry.seq, entry))
        self.delayed_count += 1

    def wake_delayed(self, now_ms: int) -> int:
        """Make due delayed messages ready; returns how many woke."""
        woke = 0
        heap = self.delayed
        while heap and heap[0][0] <= now_ms:
            at, _, entry = heapq.heappop(heap)
            if entry.state == Entry.DELAYED and entry.ready_at_ms == at:
                entry.state = Entry.READY
                self.delayed_count -= 1
                self.drr.push_back(entry)
                woke += 1
        return woke

    def next_delayed_ms(self) -> int | None:
        heap = self.delayed
        while heap and (heap[0][2].state != Entry.DELAYED or heap[0][2].ready_at_ms != heap[0][0]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None


def _seq_of(e: Entry) -> int:
    return e.seq


def _heap_order(heap: list[tuple[int, int, Entry]]) -> Iterator[Entry]:
    """A heap's entries in order, lazily: the k smallest cost O(k log k), not O(n)."""
    if not heap:
        return
    frontier = [(heap[0][0], heap[0][1], 0)]
    n = len(heap)
    while frontier:
        _, _, i = heapq.heappop(frontier)
        yield heap[i][2]
        for j in (2 * i + 1, 2 * i + 2):
            if j < n:
                heapq.heappush(frontier, (heap[j][0], heap[j][1], j))
