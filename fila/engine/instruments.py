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
