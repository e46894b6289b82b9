"""Token buckets for throttle keys, set at runtime under `throttle.<key>` = "<rate>,<burst>".

A message may go only when every one of its buckets holds a whole token; then it takes one
from each. A key with no bucket is unthrottled. Buckets refill continuously at
`rate_per_second`, up to `burst`. Counts of passes and hits (a check that found a bucket
empty, or its tokens promised to waiting messages) are kept per key for stats and metrics.

Who gets a token when several messages wait for one is the scheduler's order, kept here
across queues. A message that finds a bucket empty at its fairness key's turn *claims* the
bucket (fila.engine.claims keeps each queue's claims in weighted fair order). While a bucket
has claims, its tokens go only to them: when it refills, the queues with claims on it take
turns, and each grants its token to its claim first in line, which holds it until its key's
next turn. So a refill goes to whoever waited first in fair order, never to whoever happens
to ask first.

A message with several throttle keys takes, at its turn, the tokens that are free and
*holds* them while it waits for the rest (`take_holding`), claiming every bucket it lacks:
otherwise a message needing two busy buckets at once would lose every race to messages
needing only one of them, and starve. A held token is one the message has spent early; it is
given back if the message goes away before it is delivered.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from typing import Protocol

from fila.errors import InvalidArgument

CONFIG_PREFIX = "throttle."


class Bucket:
    __slots__ = ("key", "rate", "burst", "tokens", "stamp", "passed", "hits")

    def __init__(self, key: str, rate: float, burst: float, now_s: float) -> None:
        self.key = key
        self.rate = rate
        self.burst = burst
        self.tokens = burst  # a new bucket starts full
        self.stamp = now_s
        self.passed = 0
        self.hits = 0

    def refill(self, now_s: float) -> float:
        if now_s > self.stamp:
            tokens = self.tokens + (now_s - self.stamp) * self.rate
            self.tokens = tokens if tokens < self.burst else self.burst
            self.stamp = now_s
        return self.tokens

    def next_token_s(self, now_s: float) -> float:
        """When this bucket will next hold a whole token (now if it does)."""
        tokens = self.refill(now_s)
        if tokens >= 1.0:
            return now_s
        if self.rate <= 0:
            return math.inf
        # A microsecond late, so that at that time the float sum surely holds a whole token.
        return now_s + (1.0 - tokens) / self.rate + 1e-6


def parse_throttle_value(key: str, value: str) -> tuple[float, float]:
    """Parse "<rate_per_second>,<burst>" (burst defaults to max(1, rate))."""
    parts = [p.strip() for p in value.split(",")]
    try:
        if len(parts) == 1:
            rate = float(parts[0])
            burst = max(1.0, rate)
        elif len(parts) == 2:
            rate, burst = float(parts[0]), float(parts[1])
        else:
            raise ValueError
    except ValueError:
        raise InvalidArgument(
            f'value of {key!r} must be "<rate_per_second>,<burst>" (for example "50,100"), '
            f"got {value!r}"
        ) from None
    if not (math.isfinite(rate) and math.isfinite(burst)) or rate < 0 or burst < 1:
        raise InvalidArgument(
            f"value of {key!r}: rate_per_second must be >= 0 and burst >= 1, got {value!r}"
        )
    return rate, burst


class Claimant(Protocol):
    """A queue's scheduler, holding claims on buckets (fila.engine.drr.DrrScheduler)."""

    def grant(self, bucket: str, now_s: float) -> bool:
        """Give a token of `bucket` to the first claim in line; False if it has none left."""
        ...


class Throttles:
    """All buckets of the broker (throttle keys are global, shared by every queue), and the
    claims waiting for them."""

    def __init__(self) -> None:
        self.buckets: dict[str, Bucket] = {}
        self.claimants: dict[str, deque[Claimant]] = {}  # bucket -> queues, in turn order
        self.wake: dict[str, float] = {}  # bucket -> when it can next grant a claim
        # The same as a heap, so a turn looks at the buckets that are due, not at every
        # bucket with claims (10,000 throttled keys cost a turn 0.8 ms when walked). Items
        # whose time no longer matches `wake` are stale and dropped when they surface.
        self._wake_heap: list[tuple[float, str]] = []

    def configure(self, key: str, rate: float, burst: float, now_s: float) -> None:
        bucket = self.buckets.get(key)
        if bucket is None:
            self.buckets[key] = Bucket(key, rate, burst, now_s)
        else:
            bucket.refill(now_s)
            bucket.rate = rate
            bucket.burst = burst
            if bucket.tokens > burst:
                bucket.tokens = burst
        if key in self.claimants:
            self._set_wake(key, self.next_token_s(key, now_s))  # re-decide with the new rate

    def remove(self, key: str, now_s: float = 0.0) -> None:
        self.buckets.pop(key, None)
        if key in self.claimants:
            self._set_wake(key, now_s)  # no limit any more: every claim is granted at once

    # -- taking tokens ------------------------------------------------------------------------

    def try_take(self, keys: tuple[str, ...], now_s: float) -> bool:
        """All or nothing: a token of each of `keys`' buckets, if each has a free one."""
        buckets = self.buckets
        claimed = self.claimants
        if len(keys) == 1:  # the common case, without building a list
            k = keys[0]
            b = buckets.get(k)
            if b is None:
                return True
            if b.refill(now_s) >= 1.0 and k not in claimed:
                b.tokens -= 1.0
                b.passed += 1
                return True
            b.hits += 1
            return False
        found = []
        for k in keys:
            b = buckets.get(k)
            if b is not None:
                if b.refill(now_s) < 1.0 or k in claimed:
                    b.hits += 1
                    return False
                found.append(b)
        for b in found:
            b.tokens -= 1.0
            b.passed += 1
        return True

    def take_holding(self, keys: tuple[str, ...], held: dict[str, int], now_s: float) -> bool:
        """For a message needing several buckets (or tokens granted to its claims): True if,
        with what is held, it has a token of each (one of each is then spent); else take
        into `held` what is free and return False.

        If a bucket it lacks can never refill (rate 0), nothing is held: a token waiting for
        a bucket that will never have one would be lost to everyone else.
        """
        buckets = self.buckets
        claimed = self.claimants
        missing = False
        for k in keys:
            if held.get(k, 0) >= 1:
                continue
            b = buckets.get(k)
            if b is None:
                continue
            if b.refill(now_s) >= 1.0 and k not in claimed:
                b.tokens -= 1.0
                held[k] = 1
            else:
                b.hits += 1
                missing = True
                if b.rate <= 0 and b.tokens < 1.0:
                    self.release(held, now_s)
                    return False
        if missing:
            return False
        for k in keys:
            n = held.get(k, 0)
            if n > 1:
                held[k] = n - 1
            elif n:
                del held[k]
            b = buckets.get(k)
            if b is not None:
                b.passed += 1
        return True

    def release(self, held: dict[str, int], now_s: float) -> None:
        """Give held tokens back (the messages that held them went away, or cannot go)."""
        for k, n in held.items():
            b = self.buckets.get(k)
            if b is not None:
                b.refill(now_s)
                b.tokens = min(b.burst, b.tokens + n)
                if k in self.claimants:
                    self._set_wake(k, now_s)
        held.clear()

    def lacking(self, keys: tuple[str, ...], held: dict[str, int]) -> list[str]:
        """The throttle keys of `keys` with a bucket that a message holding `held` still
        needs a token of (only those that can never refill, if some cannot: tokens of the
        others would wait in vain)."""
        out = [k for k in keys if held.get(k, 0) < 1 and k in self.buckets]
        never = [k for k in out if self.buckets[k].rate <= 0 and self.buckets[k].tokens < 1.0]
        return never or out

    def contended(self, keys: tuple[str, ...], now_s: float) -> bool:
        """Would a message with `keys` have to wait now (a bucket empty, or promised)?"""
        buckets, claimed = self.buckets, self.claimants
        for k in keys:
            b = buckets.get(k)
            if b is not None and (k in claimed or b.refill(now_s) < 1.0):
                return True
        return False

    def next_token_s(self, key: str, now_s: float) -> float:
        b = self.buckets.get(key)
        return now_s if b is None else b.next_token_s(now_s)

    # -- claims -------------------------------------------------------------------------------

    def claim(self, key: str, who: Claimant, now_s: float) -> None:
        """`who` has a claim waiting for a token of `key`'s bucket."""
        line = self.claimants.get(key)
        if line is None:
            line = self.claimants[key] = deque()
        if who not in line:
            line.append(who)
        at = self.next_token_s(key, now_s)
        if at < self.wake.get(key, math.inf):
            self._set_wake(key, at)

    def _set_wake(self, key: str, at: float) -> None:
        self.wake[key] = at
        heap = self._wake_heap
        heapq.heappush(heap, (at, key))
        if len(heap) > 2 * len(self.wake) + 1024:  # mostly stale: rebuild from `wake`
            self._wake_heap = [(t, k) for k, t in self.wake.items()]
            heapq.heapify(self._wake_heap)

    def grant_due(self, now_s: float) -> None:
        """Give the tokens of refilled buckets to their claims (queues take turns)."""
        heap, wake = self._wake_heap, self.wake
        due = []
        while heap and heap[0][0] <= now_s:
            at, key = heapq.heappop(heap)
            if wake.get(key) == at:
                due.append((key, at))
        for key, at in due:  # (a grant may set another bucket's time: that one waits a turn)
            if wake.get(key) == at:
                self.grant(key, now_s)

    def grant(self, key: str, now_s: float) -> None:
        line = self.claimants[key]
        b = self.buckets.get(key)
        while line:
            if b is not None and b.refill(now_s) < 1.0:
                break
            who = line[0]
            if who.grant(key, now_s):
                if b is not None:
                    b.tokens -= 1.0
                line.rotate(-1)
            else:
                line.popleft()  # it has no claim on this bucket any more
        if line:
            self._set_wake(key, self.next_token_s(key, now_s))
        else:
            del self.claimants[key]
            del self.wake[key]

    def drop(self, who: Claimant) -> None:
        """A queue went away: its claims with it."""
        for key, line in list(self.claimants.items()):
            if who in line:
                line.remove(who)
                if not line:
                    del self.claimants[key]
                    self.wake.pop(key, None)

    def next_wake(self) -> float | None:
        """When the next bucket with claims can grant one (None: none can)."""
        heap, wake = self._wake_heap, self.wake
        while heap and wake.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)  # stale
        at = heap[0][0] if heap else math.inf
        return None if at == math.inf else at
