"""Drive one queue's scheduler on a simulated clock: buckets refill, a consumer of a given
capacity takes what the scheduler hands out. In-process and exact, so properties can be
checked over long stretches in milliseconds of real time."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass, field

from fila.engine.drr import DrrScheduler
from fila.engine.message import Entry
from fila.engine.throttle import Throttles

_seq = itertools.count(1)


def entry(key: str, weight: int = 1, tkeys: tuple[str, ...] = ()) -> Entry:
    seq = next(_seq)
    return Entry(seq, f"m{seq}", b"", key, weight, tkeys, 0, 0)


@dataclass
class Sim:
    buckets: dict[str, tuple[float, float]]  # key -> (rate, burst)
    quantum: int = 1
    capacity: float = math.inf  # deliveries per second the consumers take
    gate: Throttles = field(init=False)
    drr: DrrScheduler = field(init=False)
    now: float = 0.0

    def __post_init__(self) -> None:
        self.gate = Throttles()
        for key, (rate, burst) in self.buckets.items():
            self.gate.configure(key, rate, burst, 0.0)
        self.drr = DrrScheduler(self.quantum, self.gate)

    def push(self, key: str, weight: int, tkeys: tuple[str, ...], n: int) -> None:
        for _ in range(n):
            self.drr.push(entry(key, weight, tkeys))

    def run(self, seconds: float, measure_from: float = 0.0, backlogged: bool = False) -> Counter[str]:
        """Deliver for `seconds` of simulated time; count deliveries per key made after
        `measure_from` (to leave out the initial bursts). `backlogged`: every delivery is
        replaced by a new message of the same key and throttle keys, so nothing drains."""
        got: Counter[str] = Counter()
        end = self.now + seconds
        # The consumers: `capacity` deliveries per second, taken one at a time.
        finite = self.capacity != math.inf
        credit = 1.0
        while self.now < end:
            self.gate.grant_due(self.now)
            while credit >= 1.0:
                e = self.drr.pop(self.now)
                if e is None:
                    break
                if self.now >= measure_from:
                    got[e.fkey] += 1
                if backlogged:
                    self.drr.push(entry(e.fkey, e.weight, e.tkeys))
                if finite:
                    credit -= 1.0
            wake = self.gate.next_wake()
            if finite and credit < 1.0:
                ready = self.now + (1.0 - credit) / self.capacity  # the consumers' next slot
                wake = ready if wake is None else min(wake, ready)
            if wake is None:
                break
            then, self.now = self.now, max(wake, self.now + 1e-9)
            if finite:
                credit = min(1.0, credit + (self.now - then) * self.capacity + 1e-9)
        return got
