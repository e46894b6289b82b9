"""Cheap in-engine measurements, read by GetStats and the /metrics endpoint at read time.

Nothing here calls prometheus-client on the hot path: an observation is a bisect and two
integer additions. The exporter turns these into Prometheus histograms when scraped.
"""

from __future__ import annotations

from bisect import bisect_left

# Upper bounds of the histogram buckets (the last bucket is +Inf).
LUA_BUCKETS_US = (2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000, 25000, 100000)
LATENCY_BUCKETS_MS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 60000)
COMMIT_BUCKETS_MS = (0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000)
BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000)

_RECENT = 512  # samples kept for percentiles


class Histogram:
    __slots__ = ("bounds", "counts", "total", "count", "recent", "_next")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0
        self.count = 0
        self.recent: list[float] = []
        self._next = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1
        recent = self.recent
        if len(recent) < _RECENT:
            recent.append(value)
        else:
            recent[self._next] = value
            self._next = (self._next + 1) % _RECENT

    def quantile(self, q: float) -> float:
        """The q-quantile of the most recent observations (0 when there are none)."""
        if not self.recent:
            return 0.0
        ordered = sorted(self.recent)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def cumulative(self) -> list[tuple[str, int]]:
        """(le, cumulative count) pairs in Prometheus order, ending with +Inf."""
        out = []
        running = 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += n
            out.append(("+Inf" if bound == float("inf") else f"{bound:g}", running))
        return out


class HookStat:
    """Calls, errors and latency of one Lua hook of one queue."""

    __slots__ = ("calls", "errors", "latency_us", "runs")

    def __init__(self) -> None:
        self.calls = 0
        self.runs = 0  # calls into Lua (one may run the hook for several messages)
        self.errors = 0
        self.latency_us = Histogram(LUA_BUCKETS_US)


KEY_SERIES_RETENTION_S = 3600.0  # a key's counters are kept this long after its last delivery


class RateWindow:
    """Per-second rates, smoothed: fed counts as they happen, rolled once a second. Also the
    totals since start, for Prometheus counters, and when each key last counted, so that a
    key that drained keeps its series (its counter flat, its rate falling to 0) for
    KEY_SERIES_RETENTION_S: "tenant X's throughput dropped to zero 20 minutes ago" shows."""

    __slots__ = ("window", "rates", "totals", "last_seen", "_pruned_s")

    ALPHA = 0.5
    QUIET_S = 3.0  # a key with no counts for this long shows 0, not the smoothing's long tail
    MAX_TOTALS = 50_000  # keys kept for counters; past it, the longest quiet ones are dropped

    def __init__(self) -> None:
        self.window: dict[str, int] = {}
        self.rates: dict[str, float] = {}
        self.totals: dict[str, int] = {}  # counts up to the last roll
        self.last_seen: dict[str, float] = {}  # key -> monotonic time of its last roll with counts
        self._pruned_s = 0.0

    def roll(self, seconds: float, now_s: float = 0.0) -> None:
        a = self.ALPHA
        totals = self.totals
        last_seen = self.last_seen
        for k, n in self.window.items():
            if n:
                totals[k] = totals.get(k, 0) + n
                last_seen[k] = now_s
        fresh = {k: n / seconds for k, n in self.window.items()}
        rates = {}
        quiet = self.QUIET_S
        for k in fresh.keys() | self.rates.keys():
            r = a * fresh.get(k, 0.0) + (1 - a) * self.rates.get(k, 0.0)
            if r >= 0.01 and now_s - last_seen.get(k, now_s) < quiet:
                rates[k] = r
        self.rates = rates
        self.window = {}
        if now_s - self._pruned_s >= 60 or len(totals) > self.MAX_TOTALS:
            self._prune(now_s)

    def _prune(self, now_s: float) -> None:
        """Forget keys quiet for longer than the retention (a counter that comes back after
        that restarts at 0, which Prometheus reads as a reset), and the quietest past the cap."""
        self._pruned_s = now_s
        last_seen = self.last_seen
        stale = [k for k, t in last_seen.items() if now_s - t > KEY_SERIES_RETENTION_S]
        if len(last_seen) - len(stale) > self.MAX_TOTALS:
            by_age = sorted(last_seen, key=last_seen.__getitem__)
            stale = by_age[: len(last_seen) - self.MAX_TOTALS]
        for k in stale:
            last_seen.pop(k, None)
            self.totals.pop(k, None)

    def total(self, key: str) -> int:
        """Counts since start, including the current second's."""
        return self.totals.get(key, 0) + self.window.get(key, 0)

    def recent(self, now_s: float) -> set[str]:
        """Keys that counted within the retention (and the current second)."""
        out = {k for k, t in self.last_seen.items() if now_s - t <= KEY_SERIES_RETENTION_S}
        out.update(self.window)
        return out

    def __bool__(self) -> bool:
        return bool(self.window or self.rates)
