"""A broker that never changes unless told: fixed stats for snapshot tests and screenshots.

`FixedSource` answers the `StatsSource` calls from canned data that moves a little on every
poll (so rates and sparklines have something to show) but the same way on every run.
`fixed_app()` builds `fila top` on it, its history already 60 polls long.

    python -m fila.tui.fixtures docs/img/fila-top.svg [key ...]    # a screenshot, keys pressed first
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from pathlib import Path

from fila.client import (
    DLQ_SUFFIX,
    HookStats,
    KeyStats,
    QueueInfo,
    QueueStats,
    ThrottleStats,
    dlq_name,
)
from fila.errors import NotFound, Unavailable
from fila.tui.app import FilaTop
from fila.tui.poller import HISTORY_POLLS

ADDR = "127.0.0.1:5555"
SCREENSHOT_SIZE = (120, 30)
# A slow wave, in tenths: deterministic on every platform (no floating-point sin()).
WAVE = (6, 7, 8, 9, 10, 10, 9, 8, 7, 6, 5, 4, 3, 3, 2, 3, 4, 5, 5, 6)


def _hooks(calls: int, errors: int, breaker: str, openings: int) -> list[HookStats]:
    return [
        HookStats("on_enqueue", True, calls, errors, 18.0, 96.0, breaker, openings),
        HookStats("on_failure", True, calls // 400, 0, 24.0, 140.0, "closed", 0),
    ]


def _queues(frame: int) -> dict[str, QueueStats]:
    w = WAVE[frame % len(WAVE)] / 10
    emails_rate = 412.0 * w
    keys = [  # key, pending, weight, fair share, actual share
        ("acme", 1_204, 3, 0.375, 0.36),
        ("globex", 388, 2, 0.25, 0.27),
        ("initech", 240, 2, 0.25, 0.25),
        ("umbrella", 8, 1, 0.125, 0.12),
    ]
    emails = QueueStats(
        depth=1_840, in_flight=200, active_fairness_keys=4, active_consumers=4, quantum=1_000,
        ready=1_512, delayed=328, dlq_depth=12, drr_rounds=90_000 + 37 * frame,
        keys=[KeyStats(k, p, 420 - 100 * i, wt, 50_000 - 9_000 * i, emails_rate * a, f, a,
                       412.0 * f, "provider:sendgrid" if i < 3 else "consumers")
              for i, (k, p, wt, f, a) in enumerate(keys)],
        hooks=_hooks(1_250_000 + 400 * frame, 0, "closed", 0),
        delivery_rate=emails_rate, enqueue_rate=emails_rate * 1.04,
    )
    webhooks = QueueStats(
        depth=96, in_flight=31, active_fairness_keys=2, active_consumers=2, quantum=1_000,
        ready=90, delayed=6, dlq_depth=0, drr_rounds=4_100 + 3 * frame,
        keys=[KeyStats("shopify", 70, 1, 12, 9_100, 31.0 * w, 0.5, 0.55),
              KeyStats("stripe", 26, 1, -40, 7_900, 25.0 * w, 0.5, 0.45)],
        hooks=_hooks(21_000 + 50 * frame, 412, "open", 3),
        delivery_rate=56.0 * w, enqueue_rate=61.0,
    )
    billing = QueueStats(
        depth=0, in_flight=0, active_fairness_keys=0, active_consumers=1, quantum=1_000,
        hooks=[HookStats("on_enqueue", False, 0, 0, 0.0, 0.0, "closed", 0),
               HookStats("on_failure", False, 0, 0, 0.0, 0.0, "closed", 0)],
    )
    reports = replace(billing, depth=2_400, ready=0, delayed=2_400, active_consumers=0,
                      dlq_depth=3, enqueue_rate=1.5)
    return {"emails": emails, "webhooks": webhooks, "billing": billing, "reports": reports}


def _throttles(frame: int) -> list[ThrottleStats]:
    return [
        ThrottleStats("provider:sendgrid", 0.4, 100.0, 20.0, 40_000 + 100 * frame, 900 + 60 * frame),
        ThrottleStats("provider:smtp", 12.5, 300.0, 50.0, 120_000 + 300 * frame, 2_000),
        ThrottleStats("tenant:acme", 10.0, 50.0, 10.0, 20_000 + 50 * frame, 10 + 2 * frame),
    ]


class FixedSource:
    """Canned stats; `redrive` and `set_throttle` change them, and are recorded in `calls`."""

    addr = ADDR

    def __init__(self) -> None:
        self.frame = 0
        self.reachable = True
        self.calls: list[tuple[str, ...]] = []
        self._dlq_emptied: set[str] = set()
        self._throttles_set: dict[str, tuple[float, float]] = {}

    def stats_at(self, frame: int) -> dict[str, QueueStats]:
        buckets = {t.key: t for t in _throttles(frame)}
        for key, (rate, burst) in self._throttles_set.items():
            t = buckets.get(key, ThrottleStats(key, burst, rate, burst))
            buckets[key] = replace(t, rate_per_second=rate, burst=burst, tokens=min(t.tokens, burst))
        throttles = sorted(buckets.values(), key=lambda t: t.key)
        return {
            name: replace(s, throttles=throttles, dlq_depth=0 if name in self._dlq_emptied else s.dlq_depth)
            for name, s in _queues(frame).items()
        }

    def next_frame(self) -> dict[str, QueueStats]:
        self.frame += 1
        return self.stats_at(self.frame)

    async def list_queues(self) -> list[QueueInfo]:
        if not self.reachable:
            raise Unavailable("failed to connect to all addresses")
        self.frame += 1
        infos = []
        for name, s in self.stats_at(self.frame).items():
            infos.append(QueueInfo(name, s.depth, s.in_flight, s.active_consumers))
            infos.append(QueueInfo(dlq_name(name), s.dlq_depth, 0, 0))
        return infos

    async def get_stats(self, queue: str) -> QueueStats:
        stats = self.stats_at(self.frame)
        if queue not in stats:
            raise NotFound(f"queue {queue!r} does not exist")
        return stats[queue]

    async def redrive(self, dlq_queue: str, count: int = 0) -> int:
        self.calls.append(("redrive", dlq_queue, str(count)))
        queue = dlq_queue.removesuffix(DLQ_SUFFIX)
        moved = 0 if queue in self._dlq_emptied else _queues(self.frame)[queue].dlq_depth
        self._dlq_emptied.add(queue)
        return moved

    async def set_throttle(self, key: str, rate_per_second: float, burst: float | None = None) -> None:
        b = burst if burst is not None else max(1.0, rate_per_second)
        self.calls.append(("set_throttle", key, f"{rate_per_second:g}", f"{b:g}"))
        self._throttles_set[key] = (rate_per_second, b)


class StepClock:
    """A clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        self.now_s += 1.0
        return self.now_s


def fixed_app(source: FixedSource | None = None, history_polls: int = HISTORY_POLLS) -> FilaTop:
    """`fila top` on a FixedSource, `history_polls` polls in (the last one made on mount).

    It polls again only when an action asks it to (the timer is an hour), so a test sees
    exactly the frames it expects.
    """
    source = source or FixedSource()
    clock = StepClock()
    app = FilaTop(source, ADDR, interval_s=3600.0, clock=clock)
    for _ in range(history_polls - 1):
        app.history.add(source.next_frame(), clock())
    return app


async def screenshot(app: FilaTop, press: list[str], size: tuple[int, int] = SCREENSHOT_SIZE) -> str:
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press(*press)
        await pilot.pause()
        return app.export_screenshot()


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit(__doc__)
    out = Path(argv[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(asyncio.run(screenshot(fixed_app(), argv[1:])))
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
