"""The per-second rates GetStats, `fila top` and /metrics show: the same numbers as rolling
every rate every second, at the cost of only what was counted."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fila.engine.rate_window import KEY_SERIES_RETENTION_S, RateWindow


class Reference:
    """The smoothing spelled out: every remembered rate recomputed at every roll."""

    def __init__(self) -> None:
        self.rates: dict[str, float] = {}
        self.totals: dict[str, int] = {}
        self.last_seen: dict[str, float] = {}

    def roll(self, window: dict[str, int], seconds: float, now_s: float) -> None:
        a = RateWindow.ALPHA
        for k, n in window.items():
            if n:
                self.totals[k] = self.totals.get(k, 0) + n
                self.last_seen[k] = now_s
        rates = {}
        for k in window.keys() | self.rates.keys():
            r = a * window.get(k, 0) / seconds + (1 - a) * self.rates.get(k, 0.0)
            if r >= RateWindow.MIN_RATE and now_s - self.last_seen.get(k, now_s) < RateWindow.QUIET_S:
                rates[k] = r
        self.rates = rates
        for k, t in list(self.last_seen.items()):
            if now_s - t > KEY_SERIES_RETENTION_S:
                del self.last_seen[k]
                del self.totals[k]


NAMES = st.sampled_from(["t1", "t2", "t3", "t4", "t5"])
SECONDS = st.lists(st.tuples(st.dictionaries(NAMES, st.integers(0, 50), max_size=4),
                             st.sampled_from([0.5, 1.0, 1.0, 1.0, 2.5, 7.0])),
                   min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(SECONDS)
def test_rates_totals_and_last_seen_match_rolling_everything_every_second(rolls: list) -> None:
    w, ref = RateWindow(), Reference()
    now = 0.0
    for window, seconds in rolls:
        now += seconds
        for k, n in window.items():  # counted as the broker does, one at a time
            for _ in range(n):
                w.window[k] = w.window.get(k, 0) + 1
            if n == 0:
                w.window[k] = 0  # a name counted 0 times this second (the queue's own rates)
        ref.roll(window, seconds, now)
        w.roll(seconds, now)
        assert _close(dict(w.rates), ref.rates)
        assert w.totals == ref.totals
        assert dict(w.last_seen) == ref.last_seen
        for k in ("t1", "t2", "t3", "t4", "t5", "never"):
            assert abs(w.rates.get(k, 0.0) - ref.rates.get(k, 0.0)) < 1e-9  # type: ignore[operator]
            assert w.total(k) == ref.totals.get(k, 0)
        assert bool(w) == bool(ref.rates)  # settled: the broker stops rolling it


def _close(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) < 1e-9 for k in a)


def test_a_steady_rate_reads_as_its_rate_and_falls_to_zero_once_quiet() -> None:
    w = RateWindow()
    for s in range(1, 11):
        w.window["busy"] = 100
        w.roll(1.0, float(s))
    assert 99 < w.rates["busy"] <= 100
    w.roll(1.0, 11.0)
    assert 49 < w.rates["busy"] <= 50  # halves each quiet second...
    w.roll(1.0, 12.0)
    w.roll(1.0, 13.0)
    assert "busy" not in w.rates  # ...and shows 0 after QUIET_S without deliveries
    assert w.total("busy") == 1000  # while its counter stays
    assert "busy" in w.recent(13.0)
    assert not w  # nothing moves: the broker stops rolling it


class CountingName(str):
    """A name that counts how often a dict hashes it (str subclasses hash on every lookup)."""

    lookups = 0

    def __hash__(self) -> int:
        CountingName.lookups += 1
        return str.__hash__(self)


def test_a_roll_costs_what_was_counted_not_what_is_remembered() -> None:
    w = RateWindow()
    quiet = [CountingName(f"quiet-{i}") for i in range(2_000)]
    for k in quiet:
        w.window[k] = 5
    w.roll(1.0, 1.0)
    assert len(w.rates) == 2_000
    in_rolls = 0
    for s in range(2, 5):  # three seconds in which only one name counts
        w.window["busy"] = 10
        CountingName.lookups = 0
        w.roll(1.0, float(s))
        in_rolls += CountingName.lookups
        assert len(dict(w.rates)) == (2_001 if s < 4 else 1)
    # The quiet names were touched when they were forgotten (a few lookups each), not at
    # every roll.
    assert in_rolls <= 3 * len(quiet)
    assert list(w.rates) == ["busy"]


def test_the_quietest_names_go_first_past_the_cap() -> None:
    w = RateWindow()
    cap = RateWindow.MAX_TOTALS
    for s in range(3):
        for i in range(cap // 2):
            w.window[f"s{s}-{i}"] = 1
        w.roll(1.0, float(s + 1))
    assert len(w.totals) == cap
    assert "s0-0" not in w.totals and f"s0-{cap // 2 - 1}" not in w.totals  # the oldest second
    assert w.total("s2-0") == 1 and w.total("s1-0") == 1


def test_names_quiet_for_the_retention_are_forgotten() -> None:
    w = RateWindow()
    w.window["old"] = 1
    w.roll(1.0, 1.0)
    w.window["new"] = 1
    w.roll(1.0, 1.0 + KEY_SERIES_RETENTION_S)
    w.roll(1.0, 2.0 + KEY_SERIES_RETENTION_S)
    assert "old" not in w.totals and "old" not in w.recent(2.0 + KEY_SERIES_RETENTION_S)
    assert w.total("new") == 1
