"""Who gets a throttle bucket's next token, inside one queue: claims in fair order.

When a set of a fairness key's messages cannot go at the key's turn because a bucket has no
token (or its tokens are promised to others), it *claims* that bucket. Each bucket's claims
wait in a line ordered by start-time fair queueing: every (key, bucket) has a virtual time
`tag` that a granted token advances by 1 / weight, and a claim starts at the later of its
key's tag and the bucket's current virtual time (so a key that was away cannot bank credit).
The claim with the smallest start gets the next token, which is *held* for that set of
messages until its key's next turn. A claim stays in line until its set holds as many tokens
as its key can deliver in one turn (quantum * weight, and no more than it has messages), so a
key waiting for its turn behind busy consumers keeps its place at the bucket. Over any
stretch where keys keep claiming, key k gets weight_k / sum(weights) of the bucket's tokens,
however its other messages and the consumers keep it busy.

A key has at most one claim in a bucket's line; more of its message sets waiting for the same
bucket queue behind it, so a key gets its weight at a bucket, not its weight per set. A set
of messages that needs several buckets claims every one it lacks at once, and holds what it
is granted until it has them all: it keeps its place in each line while it waits.

Across queues, fila.engine.throttle.Throttles gives a bucket's tokens to the queues that have
claims on it in turn; this module orders the claims of one queue.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fila.engine.drr import FairnessKey

TKeys = tuple[str, ...]


class _Wait:
    """A key's place in one bucket's line, and its message sets waiting there."""

    __slots__ = ("no", "sets")

    def __init__(self, no: int, tkeys: TKeys) -> None:
        self.no = no
        self.sets: deque[TKeys] = deque((tkeys,))


class KeyClaims:
    """One fairness key's dealings with throttle buckets. Only keys that ever waited for a
    token have one, so unthrottled keys pay nothing."""

    __slots__ = ("holds", "claims", "waits", "tags")

    def __init__(self) -> None:
        self.holds: dict[TKeys, dict[str, int]] = {}  # tokens taken for a set's next messages
        self.claims: dict[TKeys, set[str]] = {}  # a message set -> the buckets it claimed
        self.waits: dict[str, _Wait] = {}  # bucket -> this key's claim in its line
        self.tags: dict[str, float] = {}  # bucket -> virtual time after its last grant

    def hold(self, tkeys: TKeys, bucket: str) -> int:
        """One more token of `bucket` for `tkeys`; returns how many it holds now."""
        held = self.holds.setdefault(tkeys, {})
        n = held[bucket] = held.get(bucket, 0) + 1
        return n

    def drop(self, tkeys: TKeys) -> dict[str, int] | None:
        """The set's messages are gone: end its claim; returns the tokens it held."""
        for bucket in self.claims.pop(tkeys, ()):
            w = self.waits.get(bucket)
            if w is not None:
                try:
                    w.sets.remove(tkeys)
                except ValueError:
                    pass
                if not w.sets:
                    del self.waits[bucket]  # its item in the line is stale now
        return self.holds.pop(tkeys, None)

    def drop_all(self) -> list[dict[str, int]]:
        """The key has nothing ready: every claim ends; returns every held token. The tags
        stay, so a key that comes straight back has not gained a turn."""
        held = [h for h in self.holds.values() if h]
        self.holds.clear()
        self.claims.clear()
        self.waits.clear()
        return held


class ClaimLines:
    """One queue's claims: a line per bucket, in fair order."""

    def __init__(self) -> None:
        self.lines: dict[str, list[tuple[float, int, FairnessKey]]] = {}
        self.vtime: dict[str, float] = {}  # bucket -> the start of its last granted claim
        self._no = 0

    def add(self, fk: FairnessKey, kc: KeyClaims, tkeys: TKeys, bucket: str) -> None:
        """The message set `tkeys` of key fk waits for a token of `bucket`."""
        kc.claims.setdefault(tkeys, set()).add(bucket)
        w = kc.waits.get(bucket)
        if w is not None:
            w.sets.append(tkeys)  # behind the key's claim already in line
            return
        self._no += 1
        kc.waits[bucket] = _Wait(self._no, tkeys)
        start = max(kc.tags.get(bucket, 0.0), self.vtime.get(bucket, 0.0))
        heapq.heappush(self.lines.setdefault(bucket, []), (start, self._no, fk))

    def grant(self, bucket: str, quantum: int) -> FairnessKey | None:
        """A token of `bucket`: the claim first in line gets it, held for its message set.
        Returns that claim's key, or None if no claim on `bucket` is left."""
        line = self.lines.get(bucket)
        while line:
            start, no, fk = heapq.heappop(line)
            kc = fk.throttled
            w = kc.waits.get(bucket) if kc is not None else None
            if kc is None or w is None or w.no != no:
                continue  # stale: its messages went, or it was granted since
            tkeys = w.sets.popleft()
            held = kc.hold(tkeys, bucket)
            if held < min(quantum * fk.weight, len(fk.groups.get(tkeys, ()))):
                w.sets.append(tkeys)  # it can use more in one turn: it stays in line
            else:
                claimed = kc.claims[tkeys]
                claimed.discard(bucket)
                if not claimed:
                    del kc.claims[tkeys]
            vtime = self.vtime[bucket] = max(start, self.vtime.get(bucket, 0.0))
            tag = kc.tags[bucket] = start + 1.0 / fk.weight
            if w.sets:  # more of its sets wait for this bucket: they go on at the new tag
                self._no += 1
                w.no = self._no
                heapq.heappush(line, (max(tag, vtime), w.no, fk))
            else:
                del kc.waits[bucket]
            if not line:
                del self.lines[bucket]
            return fk
        self.lines.pop(bucket, None)
        return None

    def waiting(self, bucket: str) -> int:
        """This queue's keys with a claim in `bucket`'s line."""
        return sum(1 for _, no, fk in self.lines.get(bucket, ())
                   if fk.throttled is not None and (w := fk.throttled.waits.get(bucket)) is not None
                   and w.no == no)

    def clear(self) -> None:
        self.lines.clear()
