"""Token buckets for throttle keys, set at runtime under `throttle.<key>` = "<rate>,<burst>".

A message with several throttle keys may go only when every one of its buckets holds a whole
token; then it takes one from each (all or nothing). A key with no bucket is unthrottled.
Buckets refill continuously at `rate_per_second`, up to `burst`. Counts of passes and hits
(a check that found a bucket empty) are kept per key for stats and metrics.
"""

from __future__ import annotations

import math

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
        return now_s + (1.0 - tokens) / self.rate


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


class Throttles:
    """All buckets of the broker (throttle keys are global, shared by every queue)."""

    def __init__(self) -> None:
        self.buckets: dict[str, Bucket] = {}

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

    def remove(self, key: str) -> None:
        self.buckets.pop(key, None)

    def try_take(self, keys: tuple[str, ...], now_s: float) -> bool:
        buckets = self.buckets
        if len(keys) == 1:  # the common case, without building a list
            b = buckets.get(keys[0])
            if b is None:
                return True
            if b.refill(now_s) >= 1.0:
                b.tokens -= 1.0
                b.passed += 1
                return True
            b.hits += 1
            return False
        found = []
        for k in keys:
            b = buckets.get(k)
            if b is not None:
                if b.refill(now_s) < 1.0:
                    b.hits += 1
                    return False
                found.append(b)
        for b in found:
            b.tokens -= 1.0
            b.passed += 1
        return True

    def earliest_refill_s(self, keys: tuple[str, ...], now_s: float) -> float:
        """When every bucket of `keys` will hold a token (the latest of their refills)."""
        at = now_s
        for k in keys:
            b = self.buckets.get(k)
            if b is not None:
                t = b.next_token_s(now_s)
                if t > at:
                    at = t
        return at
