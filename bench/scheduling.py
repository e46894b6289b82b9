"""What the scheduler costs: DRR over many fairness keys, and throttling.

All on the batched lifecycle (EnqueueBatch of 100, Lease streams, AckBatch), each run on a
fresh broker:

- `drr-cost`: 1 fairness key (DRR degenerates to FIFO) against 1,000 keys, and 10 keys
  against 10,000. The runs alternate (few, many, few, many, ...) and each configuration's
  best run counts, so a burst of load from something else on the machine does not land on
  one side only. Cost = 1 - many/few, in throughput; the notes give the same in server CPU
  per message, which other load disturbs less.
- `throttle`: every message carries a throttle key (one per fairness key, from the Lua
  hook). First every bucket is set far above the load (checked on every delivery, never
  binding); then half the keys are throttled to a trickle, so the scheduler keeps skipping
  (parking) them while it serves the other half; then the same with 10,000 keys, 5,000 of
  them waiting for their buckets at any time (what per-tenant limits look like at scale).
"""

from __future__ import annotations

import asyncio

from bench import lifecycle, load
from bench.harness import Row, Settings
from bench.load import Run
from fila.client import AsyncClient

DRR_PAIRS = ((1, 1000), (10, 10_000))
BATCH = 100
OPEN_RATE = 1_000_000.0  # a bucket this fast never binds here
TRICKLE_RATE = 5.0  # msg/s per throttled key
MANY_THROTTLED_KEYS = 10_000  # the third run: thousands of tenants held back at once


def _cost(few: float, many: float) -> float:
    return (1.0 - many / few) * 100.0 if few > 0 else float("nan")


def _us_per_msg(r: Run) -> float:
    w = r.window
    return (w.server_cpu_s or 0.0) / w.counts[0] * 1e6 if w.counts[0] else float("nan")


async def drr_cost(s: Settings) -> list[Row]:
    rows = []
    for few, many in DRR_PAIRS:
        best: dict[int, Run] = {}
        for _ in range(s.drr_rounds):
            for keys in (few, many):
                r = await lifecycle.batched(s, BATCH, keys=keys, measure_s=s.drr_measure_s)
                if keys not in best or r.window.rate(0) > best[keys].window.rate(0):
                    best[keys] = r
        for keys in (few, many):
            r = best[keys]
            label = f"{keys:,} key{'s' if keys > 1 else ''}" + (" (FIFO)" if keys == 1 else "")
            rows.append(load.row(
                f"DRR lifecycle, {label}", r.window.rate(0), "msg/s",
                f"best of {s.drr_rounds} runs of {s.drr_measure_s:g} s, "
                f"{lifecycle.batched_shape(s, BATCH)}, {load.shape(s, keys=keys)}",
                r.window.notes(0)))
        f, m = best[few], best[many]
        cpu_cost = (_us_per_msg(m) / _us_per_msg(f) - 1.0) * 100.0
        rows.append(load.row(
            f"DRR cost, {many:,} keys vs {few:,}", _cost(f.window.rate(0), m.window.rate(0)), "%",
            f"1 - {m.window.rate(0):,.0f} / {f.window.rate(0):,.0f} msg/s; in server CPU per "
            f"message: {_us_per_msg(m):.1f} vs {_us_per_msg(f):.1f} us ({cpu_cost:+.1f}%)"))
    return rows


def _throttles(keys: int, slow: int, trickle: float = TRICKLE_RATE) -> load.Setup:
    """Set a bucket for every tenant's throttle key: the first `slow` at `trickle`."""

    async def setup(client: AsyncClient) -> None:
        async def one(i: int) -> None:
            rate = trickle if i < slow else OPEN_RATE
            await client.set_throttle(f"rate:t{i}", rate, max(1.0, rate))

        for start in range(0, keys, 100):
            await asyncio.gather(*(one(i) for i in range(start, min(start + 100, keys))))

    return setup


async def throttle(s: Settings) -> list[Row]:
    k = s.fairness_keys
    big = MANY_THROTTLED_KEYS
    rows = []
    # The third: as many messages held back per second as the second, over ten times the keys.
    big_trickle = TRICKLE_RATE * (k // 2) / (big // 2)
    for keys, slow, trickle, name, about in (
        (k, 0, TRICKLE_RATE, "throttled lifecycle, no bucket binds",
         f"every message has a throttle key, {k:,} buckets at {OPEN_RATE:,.0f}/s"),
        (k, k // 2, TRICKLE_RATE, "throttled lifecycle, half the keys throttled",
         f"{k // 2:,} of {k:,} keys' buckets at {TRICKLE_RATE:g} msg/s each, the rest open"),
        (big, big // 2, big_trickle, f"throttled lifecycle, half of {big:,} keys throttled",
         f"{big // 2:,} of {big:,} keys' buckets at {big_trickle:g} msg/s each, the rest open"),
    ):
        r = await lifecycle.batched(s, BATCH, keys=keys, hook=load.THROTTLE_HOOK,
                                    setup=_throttles(keys, slow, trickle))
        rows.append(load.row(name, r.window.rate(0), "msg/s",
                             f"{about}; {lifecycle.batched_shape(s, BATCH)}, "
                             f"{load.shape(s, keys=keys)}", r.window.notes(0), r.backlog_note()))
    return rows
