"""Weighted Deficit Round Robin over the fairness keys of one queue.

Only keys with ready messages are in the ring, so an idle key costs nothing. When a key
reaches the front of the ring it gets `quantum * weight` credits; each delivery spends one;
a key that runs out goes to the back, a key that empties leaves the ring and forgets its
deficit. Over any stretch where keys stay busy, key i is served weight_i / sum(weights) of
the deliveries.

Inside a key, messages are FIFO per set of throttle keys. The scheduler delivers the oldest
message of the key whose throttle buckets all have a token (so a throttled head never blocks
later messages of the same key that could go); a key with nothing deliverable is parked until
its earliest refill, and does not keep its deficit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fila.engine.queue import Consumer


class Entry:
    """One message known to the broker. Small and slotted: there may be millions."""

    __slots__ = (
        "seq", "mid", "data", "fkey", "weight", "tkeys", "attempts", "enqueued_ms",
        "state", "consumer", "lease_no", "token", "expires_ms", "ready_at_ms", "last_error",
    )

    READY, LEASED, DELAYED, GONE = 0, 1, 2, 3

    def __init__(
        self, seq: int, mid: str, data: bytes, fkey: str, weight: int,
        tkeys: tuple[str, ...], attempts: int, enqueued_ms: int,
    ) -> None:
        self.seq = seq
        self.mid = mid
        self.data = data
        self.fkey = fkey
        self.weight = weight
        self.tkeys = tkeys
        self.attempts = attempts
        self.enqueued_ms = enqueued_ms
        self.state = Entry.READY
        self.consumer: Consumer | None = None
        self.lease_no = 0  # changes when a lease is extended (heap entries go stale)
        self.token = 0  # the lease as the consumer knows it (lease_id); fixed per delivery
        self.expires_ms = 0
        self.ready_at_ms = 0
        self.last_error = ""


class ThrottleGate(Protocol):
    def try_take(self, keys: tuple[str, ...], now_s: float) -> bool: ...

    def earliest_refill_s(self, keys: tuple[str, ...], now_s: float) -> float: ...


class FairnessKey:
    """The ready messages of one fairness key, FIFO per throttle-key set."""

    __slots__ = ("key", "weight", "deficit", "groups", "count", "in_ring", "delivered")

    def __init__(self, key: str, weight: int) -> None:
        self.key = key
        self.weight = weight
        self.deficit = 0
        self.groups: dict[tuple[str, ...], deque[Entry]] = {}
        self.count = 0
        self.in_ring = False
        self.delivered = 0

    def push(self, entry: Entry) -> None:
        group = self.groups.get(entry.tkeys)
        if group is None:
            group = self.groups[entry.tkeys] = deque()
        group.append(entry)
        self.count += 1

    def push_front(self, entry: Entry) -> None:
        """Put back a message that was taken out of order (kept sorted by seq)."""
        group = self.groups.get(entry.tkeys)
        if group is None:
            group = self.groups[entry.tkeys] = deque()
        if not group or group[-1].seq < entry.seq:
            group.append(entry)
        else:
            i = 0
            while group[i].seq < entry.seq:
                i += 1
            group.insert(i, entry)
        self.count += 1

    def pop_deliverable(self, gate: ThrottleGate | None, now_s: float) -> Entry | None:
        """The oldest message whose throttle buckets all have a token, taking the tokens."""
        groups = self.groups
        if len(groups) == 1:
            tkeys, group = next(iter(groups.items()))
            if tkeys and gate is not None and not gate.try_take(tkeys, now_s):
                return None
            entry = group.popleft()
            if not group:
                del groups[tkeys]
            self.count -= 1
            return entry
        # Several throttle-key sets: try their heads oldest first.
        for tkeys, group in sorted(groups.items(), key=lambda kv: kv[1][0].seq):
            if tkeys and gate is not None and not gate.try_take(tkeys, now_s):
                continue
            entry = group.popleft()
            if not group:
                del groups[tkeys]
            self.count -= 1
            return entry
        return None

    def remove(self, entry: Entry) -> bool:
        group = self.groups.get(entry.tkeys)
        if group is None:
            return False
        try:
            group.remove(entry)
        except ValueError:
            return False
        if not group:
            del self.groups[entry.tkeys]
        self.count -= 1
        return True

    def earliest_refill_s(self, gate: ThrottleGate, now_s: float) -> float:
        return min(gate.earliest_refill_s(tkeys, now_s) for tkeys in self.groups)

    def __iter__(self):  # noqa: ANN204 - iterator over entries, oldest group first
        for group in self.groups.values():
            yield from group


class DrrScheduler:
    """The ready index of one queue."""

    def __init__(self, quantum: int = 1) -> None:
        if quantum < 1:
            raise ValueError("quantum must be >= 1")
        self.quantum = quantum
        self.keys: dict[str, FairnessKey] = {}
        self.ring: deque[FairnessKey] = deque()
        self.parked: dict[str, float] = {}  # key -> when its earliest bucket refills (s)
        self.ready = 0
        self.rounds = 0  # times a key was handed a new quantum (DRR turns)
        self._idle: dict[str, FairnessKey] = {}

    def _key(self, key: str, weight: int) -> FairnessKey:
        """A key's state, reused from the idle cache when it was active recently."""
        fk = self._idle.pop(key, None)
        if fk is None:
            return FairnessKey(key, weight)
        fk.weight = weight
        return fk

    def _retire(self, fk: FairnessKey) -> None:
        """A key ran out of ready messages: it leaves `keys` (and costs the scheduler
        nothing), but its object is kept a while, since busy keys come back at once."""
        del self.keys[fk.key]
        idle = self._idle
        if len(idle) >= IDLE_KEYS_KEPT:
            del idle[next(iter(idle))]  # the longest idle
        idle[fk.key] = fk

    def push(self, entry: Entry) -> None:
        """Make a message ready (enqueue order: newest last within its key)."""
        fk = self.keys.get(entry.fkey)
        if fk is None:
            fk = self.keys[entry.fkey] = self._key(entry.fkey, entry.weight)
        else:
            fk.weight = entry.weight  # the latest message's weight is the key's weight
        fk.push(entry)
        self.ready += 1
        if not fk.in_ring and entry.fkey not in self.parked:
            fk.in_ring = True
            self.ring.append(fk)

    def push_back(self, entry: Entry) -> None:
        """Make a message that was delivered before ready again, in its old place."""
        fk = self.keys.get(entry.fkey)
        if fk is None:
            fk = self.keys[entry.fkey] = self._key(entry.fkey, entry.weight)
        fk.push_front(entry)
        self.ready += 1
        if not fk.in_ring and entry.fkey not in self.parked:
            fk.in_ring = True
            self.ring.append(fk)

    def remove(self, entry: Entry) -> None:
        fk = self.keys.get(entry.fkey)
        if fk is not None and fk.remove(entry):
            self.ready -= 1
            if fk.count == 0:
                self._forget(fk)

    def _forget(self, fk: FairnessKey) -> None:
        if fk.in_ring:
            self.ring.remove(fk)
            fk.in_ring = False
        self.parked.pop(fk.key, None)
        self._retire(fk)

    def pop(self, gate: ThrottleGate | None, now_s: float) -> Entry | None:
        """The next message in weighted fair order that no throttle holds back, or None."""
        ring = self.ring
        quantum = self.quantum
        while ring:
            fk = ring[0]
            if fk.deficit < 1:
                fk.deficit += quantum * fk.weight
                self.rounds += 1
            entry = fk.pop_deliverable(gate, now_s)
            if entry is None:
                # Everything this key has is throttled: park it until a token can appear.
                ring.popleft()
                fk.in_ring = False
                fk.deficit = 0
                assert gate is not None
                self.parked[fk.key] = fk.earliest_refill_s(gate, now_s)
                continue
            self.ready -= 1
            fk.deficit -= 1
            fk.delivered += 1
            if fk.count == 0:
                ring.popleft()
                fk.in_ring = False
                fk.deficit = 0
                self._retire(fk)
            elif fk.deficit < 1:
                ring.rotate(-1)
            return entry
        return None

    def unpark(self, now_s: float, force: bool = False) -> float | None:
        """Put parked keys whose refill time has come back in the ring.

        Returns the earliest refill time still pending, or None if nothing is parked.
        """
        if not self.parked:
            return None
        earliest: float | None = None
        for key, at in list(self.parked.items()):
            if force or at <= now_s:
                del self.parked[key]
                fk = self.keys[key]
                fk.in_ring = True
                self.ring.append(fk)
            elif earliest is None or at < earliest:
                earliest = at
        return earliest

    def clear(self) -> None:
        self._idle.clear()
        self.keys.clear()
        self.ring.clear()
        self.parked.clear()
        self.ready = 0


OnDeliver = Callable[[Entry], None]
IDLE_KEYS_KEPT = 16_384
