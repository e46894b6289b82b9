"""How much of an EnqueueBatch goes into the engine at once: long runs for a cheap hook
(one call into Lua each), short ones for a slow hook (the loop is given back on time)."""

from __future__ import annotations

from fila.server.hot_path import SLICE_S, RunSizer


def test_a_cheap_hook_gets_long_runs() -> None:
    s = RunSizer()
    for _ in range(20):
        s.observed(s.size(), s.size() * 4e-6)  # 4 µs per message
    assert 0.95 * int(SLICE_S / 4e-6) <= s.size() <= int(SLICE_S / 4e-6) <= RunSizer.MAX


def test_a_slow_hook_gets_runs_that_fit_a_slice_or_the_minimum() -> None:
    s = RunSizer()
    for _ in range(20):
        s.observed(s.size(), s.size() * 150e-6)  # 150 µs per message: 6 fit in 1 ms
    assert s.size() == RunSizer.MIN


def test_the_size_follows_a_hook_that_turns_slow() -> None:
    s = RunSizer()
    for _ in range(20):
        s.observed(s.size(), s.size() * 4e-6)
    fast = s.size()
    for _ in range(20):
        s.observed(s.size(), s.size() * 100e-6)
    assert s.size() < fast and s.size() == RunSizer.MIN
