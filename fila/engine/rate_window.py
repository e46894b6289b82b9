"""Per-second rates of named counts (a queue's enqueues and deliveries, each fairness key's
deliveries), smoothed, with totals since start, rolled once a second by the broker's
housekeeping.

A roll costs what was counted in the second it closes, not what is remembered: at 40,000
keys delivered per second and their rates still decaying, walking every key with a rate
held the broker's thread ~90 ms each second. So a key's rate is stored as it was at the
roll that last counted it and decayed when read (`r * (1 - ALPHA) ** rolls_since`), which
is the same number the roll-by-roll smoothing gives; and `last_seen` is kept oldest first,
so forgetting quiet keys pops them off its front.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping

KEY_SERIES_RETENTION_S = 3600.0  # a key's counters are kept this long after its last delivery


class RateWindow:
    """Per-second rates, smoothed: fed counts as they happen (`window[name] += n`), rolled
    once a second. Also the totals since start, for Prometheus counters, and when each name
    last counted, so that a key that drained keeps its series (its counter flat, its rate
    falling to 0) for KEY_SERIES_RETENTION_S: "tenant X's throughput dropped to zero 20
    minutes ago" shows.

    A rate follows r = ALPHA * count/seconds + (1 - ALPHA) * r_before at every roll; it reads
    as 0 (and is forgotten) once below MIN_RATE, or once its name has not counted for QUIET_S.
    """

    __slots__ = ("window", "rates", "totals", "last_seen", "_state", "_rolls", "_roll_s")

    ALPHA = 0.5
    KEEP = 1.0 - ALPHA
    MIN_RATE = 0.01
    QUIET_S = 3.0  # a name with no counts for this long shows 0, not the smoothing's long tail
    MAX_TOTALS = 50_000  # names kept for counters; past it, the longest quiet ones are dropped

    def __init__(self) -> None:
        self.window: dict[str, int] = {}
        self.totals: dict[str, int] = {}  # counts up to the last roll
        # name -> monotonic time of its last roll with counts, the longest quiet first
        # (OrderedDicts: popping a plain dict's first item again and again costs its length.)
        self.last_seen: OrderedDict[str, float] = OrderedDict()
        # name -> (rate, the roll that set it), the least recently set first
        self._state: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._rolls = 0
        self._roll_s = 0.0  # when the last roll ran
        self.rates: Mapping[str, float] = _Rates(self)  # as of the last roll

    def roll(self, seconds: float, now_s: float = 0.0) -> None:
        a, keep, floor, quiet = self.ALPHA, self.KEEP, self.MIN_RATE, self.QUIET_S
        totals, last_seen, state = self.totals, self.last_seen, self._state
        rolls = self._rolls + 1
        # The previous roll's reading of a name's rate, inlined (this runs once per name
        # counted): a name counted in the roll before has gap 0, the usual case.
        prev_rolls, prev_s = self._rolls, self._roll_s
        for k, n in self.window.items():
            before = state.pop(k, None)
            r = a * n / seconds
            if before is not None:
                r0, at = before
                gap = prev_rolls - at
                if gap:
                    r0 *= keep ** gap
                    if r0 < floor or prev_s - last_seen.get(k, prev_s) >= quiet:
                        r0 = 0.0
                r += keep * r0
            if n:
                totals[k] = totals.get(k, 0) + n
                last_seen[k] = now_s
                last_seen.move_to_end(k)  # kept in order of last count
            elif now_s - last_seen.get(k, now_s) >= quiet:
                continue
            if r >= floor:
                state[k] = (r, rolls)
        self.window = {}
        self._rolls, self._roll_s = rolls, now_s
        # Forget what reads as 0 now, from the least recently set on; one that still shows
        # a rate stops the walk (what is behind it reads as 0 all the same until its turn).
        while state:
            k, entry = state.popitem(last=False)
            if self._value(k, entry) > 0.0:
                state[k] = entry
                state.move_to_end(k, last=False)
                break
        self._prune(now_s)

    def _value(self, k: str, entry: tuple[float, int]) -> float:
        """What `entry` reads as after the last roll."""
        r, at = entry
        gap = self._rolls - at
        if gap:
            r *= self.KEEP ** gap
            if r < self.MIN_RATE or self._roll_s - self.last_seen.get(k, self._roll_s) >= self.QUIET_S:
                return 0.0
        return r

    def _prune(self, now_s: float) -> None:
        """Forget names quiet for longer than the retention (a counter that comes back after
        that restarts at 0, which Prometheus reads as a reset), and the quietest past the
        cap: both off the front of `last_seen`."""
        last_seen, totals = self.last_seen, self.totals
        while last_seen:
            k, t = last_seen.popitem(last=False)
            if now_s - t <= KEY_SERIES_RETENTION_S and len(last_seen) < self.MAX_TOTALS:
                last_seen[k] = t
                last_seen.move_to_end(k, last=False)
                break
            totals.pop(k, None)

    def total(self, key: str) -> int:
        """Counts since start, including the current second's."""
        return self.totals.get(key, 0) + self.window.get(key, 0)

    def recent(self, now_s: float) -> set[str]:
        """Names that counted within the retention (and the current second)."""
        out = {k for k, t in self.last_seen.items() if now_s - t <= KEY_SERIES_RETENTION_S}
        out.update(self.window)
        return out

    def __bool__(self) -> bool:
        return bool(self.window or self._state)


class _Rates(Mapping[str, float]):
    """The rates as of the last roll, read from the stored ones (see RateWindow)."""

    __slots__ = ("_w",)

    def __init__(self, w: RateWindow) -> None:
        self._w = w

    def __getitem__(self, key: str) -> float:
        r = self.get(key)
        if r is None:
            raise KeyError(key)
        return r

    def get(self, key: str, default: float | None = None) -> float | None:  # type: ignore[override]
        w = self._w
        entry = w._state.get(key)  # most keys a ranking asks about have none: answer those first
        if entry is None:
            return default
        r = w._value(key, entry)
        return r if r > 0.0 else default

    def __iter__(self) -> Iterator[str]:
        w = self._w
        return (k for k, entry in list(w._state.items()) if w._value(k, entry) > 0.0)

    def __len__(self) -> int:
        """About: names set lately, some of which may read as 0 already (at most QUIET_S)."""
        return len(self._w._state)
