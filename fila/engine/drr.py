"""Weighted Deficit Round Robin over the fairness keys of one queue, throttle-aware.

Only keys with ready messages take part, so an idle key costs nothing. When a key's turn
comes it gets `quantum * weight` credits; each delivery spends one; a key that runs out goes
to the back of the line, a key that empties leaves and forgets its deficit. Over any stretch
where keys stay busy, key i is served weight_i / sum(weights) of the deliveries.

Inside a key, messages are FIFO per set of throttle keys. The scheduler delivers the oldest
message of the key whose throttle buckets all have a token (so a throttled head never blocks
later messages of the same key that could go).

Throttling keeps the fair order. Every key has a stamp, its place in line (a fresh, larger
stamp each time it goes to the back), and the next key tried is always the one with the
smallest stamp. When a key's turn comes and a set of its messages cannot go for want of a
token, that set *claims* the bucket it waits for (fila.engine.claims: each bucket's claims
are granted in weighted fair order); a key with nothing that can go is *parked*, keeping its
place and its deficit. A granted token is held for its messages until their key's turn, and
a parked key that gets one comes back at once, at its old place. So a bucket shared by
several keys is shared by weight, however the refills and the turns interleave, and a key
whose messages use two providers gets its share at each of them.

    ring       keys in line, by stamp (appending a fresh stamp keeps it sorted)
    returning  parked keys that got a token, by their old stamp (a heap), merged with the
               ring when choosing the next key
    claims     this queue's claims, a line per bucket (the buckets' timers and the queues'
               turns at a shared bucket are kept by fila.engine.throttle.Throttles)
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from itertools import islice
from operator import attrgetter
from typing import Protocol

from fila.engine.claims import ClaimLines, KeyClaims
from fila.engine.message import Entry

_seq = attrgetter("seq")


class ThrottleGate(Protocol):
    """What the scheduler needs of the token buckets (fila.engine.throttle.Throttles)."""

    wake: dict[str, float]

    def try_take(self, keys: tuple[str, ...], now_s: float) -> bool: ...

    def take_holding(self, keys: tuple[str, ...], held: dict[str, int], now_s: float) -> bool: ...

    def release(self, held: dict[str, int], now_s: float) -> None: ...

    def lacking(self, keys: tuple[str, ...], held: dict[str, int]) -> list[str]: ...

    def contended(self, keys: tuple[str, ...], now_s: float) -> bool: ...

    def claim(self, key: str, who: DrrScheduler, now_s: float) -> None: ...

    def grant(self, key: str, now_s: float) -> None: ...

    def drop(self, who: DrrScheduler) -> None: ...


IDLE, RING, RETURNING, PARKED = 0, 1, 2, 3  # where a FairnessKey is


class FairnessKey:
    """The ready messages of one fairness key, FIFO per throttle-key set."""

    __slots__ = ("key", "weight", "deficit", "groups", "count", "where", "stamp", "gen",
                 "delivered", "throttled")

    def __init__(self, key: str, weight: int) -> None:
        self.key = key
        self.weight = weight
        self.deficit = 0
        self.groups: dict[tuple[str, ...], deque[Entry]] = {}
        self.count = 0
        self.where = IDLE
        self.stamp = 0  # place in line: smaller goes first
        self.gen = 0  # bumped on every move, so stale heap items can be told apart
        self.delivered = 0
        self.throttled: KeyClaims | None = None  # held tokens and claims, once it waited

    def push_front(self, entry: Entry) -> bool:
        """Put back a message that was taken out of order (kept sorted by seq)."""
        group = self.groups.get(entry.tkeys)
        new = group is None
        if group is None:
            group = self.groups[entry.tkeys] = deque()
        if not group or group[-1].seq < entry.seq:
            group.append(entry)
        elif entry.seq < group[0].seq:  # the usual case: it was the oldest when leased
            group.appendleft(entry)
        else:  # a storm of returns into a long group must not cost its length each
            group.insert(bisect_left(group, entry.seq, key=_seq), entry)
        self.count += 1
        return new

    def pop_deliverable(
        self, gate: ThrottleGate | None, now_s: float, blocked: list[tuple[str, ...]]
    ) -> Entry | None:
        """The oldest message whose throttle buckets all have a token, taking the tokens.
        Appends to `blocked` the throttle-key sets that could not go, and the set that went
        if its next message already has to wait (so it stays in line at its buckets)."""
        groups = self.groups
        if len(groups) == 1:
            tkeys, group = next(iter(groups.items()))
            if tkeys and gate is not None and not self._take(gate, tkeys, now_s):
                blocked.append(tkeys)
                return None
        else:
            # Several throttle-key sets: try their heads oldest first.
            for tkeys, group in sorted(groups.items(), key=lambda kv: kv[1][0].seq):  # noqa: B007
                if not tkeys or gate is None or self._take(gate, tkeys, now_s):
                    break
                blocked.append(tkeys)
            else:
                return None
        entry = group.popleft()
        if not group:
            if self.throttled is None:  # _group_gone, without claims or holds to end
                del groups[tkeys]
            else:
                self._group_gone(gate, tkeys, now_s)
        elif tkeys and gate is not None and gate.contended(tkeys, now_s):
            blocked.append(tkeys)
        self.count -= 1
        return entry

    def _take(self, gate: ThrottleGate, tkeys: tuple[str, ...], now_s: float) -> bool:
        kc = self.throttled
        held = kc.holds.get(tkeys) if kc is not None else None
        if held is None:
            if len(tkeys) == 1:
                return gate.try_take(tkeys, now_s)
            held = {}
        taken = gate.take_holding(tkeys, held, now_s)
        if held:
            if kc is None:
                kc = self.throttled = KeyClaims()
            kc.holds[tkeys] = held
        elif kc is not None:
            kc.holds.pop(tkeys, None)
        return taken

    def _group_gone(self, gate: ThrottleGate | None, tkeys: tuple[str, ...], now_s: float) -> None:
        """The last ready message of a throttle-key set left: its claim and holds go too."""
        del self.groups[tkeys]
        kc = self.throttled
        if kc is not None:
            held = kc.drop(tkeys)
            if held and gate is not None:
                gate.release(held, now_s)

    def release_holds(self, gate: ThrottleGate | None, now_s: float) -> None:
        """Give back every held token and end every claim (the key has nothing left)."""
        kc = self.throttled
        if kc is not None:
            for held in kc.drop_all():
                if gate is not None:
                    gate.release(held, now_s)

    def remove(self, entry: Entry, gate: ThrottleGate | None = None, now_s: float = 0.0) -> bool:
        group = self.groups.get(entry.tkeys)
        if group is None:
            return False
        try:
            group.remove(entry)
        except ValueError:
            return False
        if not group:
            self._group_gone(gate, entry.tkeys, now_s)
        self.count -= 1
        return True

    def __iter__(self) -> Iterator[Entry]:
        for group in self.groups.values():
            yield from group


class DrrScheduler:
    """The ready index of one queue."""

    def __init__(
        self, quantum: int = 1, gate: ThrottleGate | None = None,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        if quantum < 1:
            raise ValueError("quantum must be >= 1")
        self.quantum = quantum
        self.gate = gate
        self.on_ready = on_ready  # called when a granted token lets a key go again
        self.keys: dict[str, FairnessKey] = {}
        self.ring: deque[FairnessKey] = deque()
        self.returning: list[tuple[int, int, FairnessKey]] = []  # (stamp, gen, key)
        self.claims = ClaimLines()
        self.parked: dict[str, FairnessKey] = {}
        self.ready = 0
        self.rounds = 0  # times a key was handed a new quantum (DRR turns)
        self._stamp = 0
        self._idle: dict[str, FairnessKey] = {}
        self._blocked: list[tuple[str, ...]] = []
        # The throttle keys this queue's messages used, most recent last (for its stats). An
        # OrderedDict: dropping a plain dict's first item, again and again, scans the holes
        # its front was left with (0.2 us per message at 10,000 throttle keys).
        self.throttle_keys_seen: OrderedDict[str, None] = OrderedDict()

    # -- keys entering and leaving ------------------------------------------------------------

    def _key(self, key: str, weight: int) -> FairnessKey:
        """A key's state, reused from the idle cache when it was active recently."""
        fk = self._idle.pop(key, None)
        if fk is None:
            fk = FairnessKey(key, weight)
        fk.weight = weight
        self.keys[key] = fk
        return fk

    def _retire(self, fk: FairnessKey) -> None:
        """A key ran out of ready messages: it leaves `keys` (and costs the scheduler
        nothing), but its object is kept a while, since busy keys come back at once."""
        fk.where = IDLE
        fk.gen += 1
        fk.deficit = 0
        del self.keys[fk.key]
        idle = self._idle
        if len(idle) >= IDLE_KEYS_KEPT:
            self._evict_idle()
        idle[fk.key] = fk

    def _evict_idle(self) -> None:
        """Forget the longest idle half of the idle cache, in one pass: taking the first
        item of a dict whose front was deleted scans the holes, so evicting one at a time
        cost ~2.6 µs per message at 50,000 keys."""
        idle = self._idle
        for key in list(islice(idle, len(idle) // 2)):
            del idle[key]

    def _to_back(self, fk: FairnessKey) -> None:
        """Into line, last (a heap item of its earlier state goes stale: `where` changed)."""
        self._stamp += 1
        fk.stamp = self._stamp
        fk.where = RING
        self.ring.append(fk)

    def _return(self, fk: FairnessKey) -> None:
        """A parked key may be able to go again: back in line at its old place."""
        self.parked.pop(fk.key, None)
        fk.where = RETURNING
        fk.gen += 1
        heapq.heappush(self.returning, (fk.stamp, fk.gen, fk))

    def _seen(self, tkeys: tuple[str, ...]) -> None:
        seen = self.throttle_keys_seen
        for t in tkeys:
            seen[t] = None
            seen.move_to_end(t)
        while len(seen) > THROTTLE_KEYS_SEEN:
            seen.popitem(last=False)

    def _arrived(self, fk: FairnessKey, new_group: bool) -> None:
        if fk.where == IDLE:
            self._to_back(fk)
        elif fk.where == PARKED and new_group:
            self._return(fk)  # the new message may need other buckets, or none

    def push(self, entry: Entry) -> None:
        """Make a message ready (enqueue order: newest last within its key)."""
        # _key, FairnessKey.push, _to_back and _arrived, inlined: this runs once per message
        # (and once per stored message at recovery), and with many keys of a message or so
        # each, most messages bring their key back into line.
        key = entry.fkey
        fk = self.keys.get(key)
        if fk is None:
            fk = self._idle.pop(key, None)
            if fk is None:
                fk = FairnessKey(key, entry.weight)
            self.keys[key] = fk
        fk.weight = entry.weight  # the latest message's weight is the key's weight
        # fk.push(entry), inlined too
        group = fk.groups.get(entry.tkeys)
        new_group = group is None
        if group is None:
            group = fk.groups[entry.tkeys] = deque()
        group.append(entry)
        fk.count += 1
        self.ready += 1
        if new_group and entry.tkeys:
            self._seen(entry.tkeys)
        if fk.where == IDLE:
            self._stamp += 1
            fk.stamp = self._stamp
            fk.where = RING
            self.ring.append(fk)
        elif new_group and fk.where == PARKED:
            self._return(fk)

    def push_back(self, entry: Entry) -> None:
        """Make a message that was delivered before ready again, in its old place."""
        fk = self.keys.get(entry.fkey)
        if fk is None:
            fk = self._key(entry.fkey, entry.weight)
        new_group = fk.push_front(entry)
        self.ready += 1
        if new_group and entry.tkeys:
            self._seen(entry.tkeys)
        self._arrived(fk, new_group)

    def remove(self, entry: Entry, now_s: float = 0.0) -> None:
        fk = self.keys.get(entry.fkey)
        if fk is not None and fk.remove(entry, self.gate, now_s):
            self.ready -= 1
            if fk.count == 0:
                self._forget(fk, now_s)

    def _forget(self, fk: FairnessKey, now_s: float) -> None:
        if fk.where == RING:
            self.ring.remove(fk)
        self.parked.pop(fk.key, None)  # heap items of a parked or returning key go stale
        fk.release_holds(self.gate, now_s)
        self._retire(fk)

    # -- choosing -----------------------------------------------------------------------------

    def _front(self) -> tuple[FairnessKey | None, bool]:
        """The key first in line (smallest stamp), and whether it is a returning one."""
        ret = self.returning
        while ret and (ret[0][2].gen != ret[0][1] or ret[0][2].where != RETURNING):
            heapq.heappop(ret)  # stale: the key moved since
        ring = self.ring
        if ret and (not ring or ret[0][0] < ring[0].stamp):
            return ret[0][2], True
        return (ring[0], False) if ring else (None, False)

    def _leave_front(self, returning: bool) -> None:
        if returning:
            heapq.heappop(self.returning)
        else:
            self.ring.popleft()

    def pop(self, now_s: float) -> Entry | None:
        """The next message in weighted fair order that no throttle holds back, or None."""
        quantum = self.quantum
        gate = self.gate
        blocked = self._blocked
        ring = self.ring
        while True:
            if self.returning:
                fk, returning = self._front()
                if fk is None:
                    return None
            elif ring:
                fk, returning = ring[0], False  # the common case, without a call
            else:
                return None
            if fk.deficit < 1:
                fk.deficit += quantum * fk.weight
                self.rounds += 1
            entry = fk.pop_deliverable(gate, now_s, blocked)
            # Settle fk's place before claiming: a claim may be granted at once and bring
            # another key back in line, which changes what the front is.
            if entry is None:
                # Everything this key has is throttled: it waits, keeping place and deficit.
                self._leave_front(returning)
                fk.where = PARKED
                fk.gen += 1
                self.parked[fk.key] = fk
            else:
                self.ready -= 1
                fk.deficit -= 1
                fk.delivered += 1
                if fk.count == 0:  # it leaves the line (_leave_front, inlined)
                    if returning:
                        heapq.heappop(self.returning)
                    else:
                        ring.popleft()
                    if fk.throttled is not None:
                        fk.release_holds(gate, now_s)
                    self._retire(fk)
                    blocked.clear()
                elif fk.deficit < 1:  # to the back of the line (_to_back, inlined)
                    if returning:
                        heapq.heappop(self.returning)
                    else:
                        ring.popleft()
                    self._stamp += 1
                    fk.stamp = self._stamp
                    fk.where = RING
                    ring.append(fk)
            if blocked:
                self._claim(fk, blocked, now_s)
                blocked.clear()
            if entry is not None:
                return entry

    # -- throttled keys -----------------------------------------------------------------------

    def _claim(self, fk: FairnessKey, blocked: list[tuple[str, ...]], now_s: float) -> None:
        """Sets of fk's messages that could not go claim every bucket they lack a token of
        (an open claim is kept). A bucket that has a token now (it refused only because
        others were waiting) grants at once."""
        gate = self.gate
        assert gate is not None  # only a gate holds messages back
        kc = fk.throttled
        if kc is None:
            kc = fk.throttled = KeyClaims()
        for tkeys in blocked:
            claimed = kc.claims.get(tkeys, _NONE)
            for bucket in gate.lacking(tkeys, kc.holds.get(tkeys, _NO_HOLDS)):
                if bucket in claimed:
                    continue
                self.claims.add(fk, kc, tkeys, bucket)
                gate.claim(bucket, self, now_s)
                if gate.wake.get(bucket, math.inf) <= now_s:
                    gate.grant(bucket, now_s)

    def grant(self, bucket: str, now_s: float) -> bool:
        """A token of `bucket` for this queue (fila.engine.throttle.Claimant): it goes to the
        claim first in line and is held for that claim's messages. False if none is left."""
        fk = self.claims.grant(bucket, self.quantum)
        if fk is None:
            return False
        if fk.where == PARKED:
            self._return(fk)
        if self.on_ready is not None:
            self.on_ready()
        return True

    @property
    def can_deliver(self) -> bool:
        """Some key is in line (it may still turn out to be throttled)."""
        return bool(self.ring) or bool(self.returning)

    def ahead_of(self, fk: FairnessKey) -> int:
        """How many keys in line come before `fk` (for explain)."""
        return (sum(1 for k in self.ring if k.stamp < fk.stamp)
                + sum(1 for s, g, k in self.returning if g == k.gen and s < fk.stamp))

    def clear(self) -> None:
        for fk in self.keys.values():
            fk.release_holds(self.gate, 0.0)
        if self.gate is not None:
            self.gate.drop(self)
        self._idle.clear()
        self.keys.clear()
        self.ring.clear()
        self.returning.clear()
        self.claims.clear()
        self.parked.clear()
        self.ready = 0


THROTTLE_KEYS_SEEN = 1000
_NONE: set[str] = set()
_NO_HOLDS: dict[str, int] = {}
IDLE_KEYS_KEPT = 16_384
