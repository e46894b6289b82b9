"""The engine's only source of time, injected so that tests can drive it without sleeping.

Monotonic time orders leases, throttles, breakers and the once-a-second housekeeping; wall
time stamps messages (their ids and enqueue times) and delayed retries, which must mean the
same after a restart.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def mono_ms(self) -> int: ...

    def wall_ms(self) -> int: ...


class SystemClock:
    @staticmethod
    def mono_ms() -> int:
        return time.monotonic_ns() // 1_000_000

    @staticmethod
    def wall_ms() -> int:
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that moves only when told to (for tests and simulations)."""

    def __init__(self, wall_ms: int = 1_733_000_000_000, mono_ms: int = 1_000_000) -> None:
        self._wall = wall_ms
        self._mono = mono_ms

    def mono_ms(self) -> int:
        return self._mono

    def wall_ms(self) -> int:
        return self._wall

    def advance(self, ms: int) -> None:
        self._mono += ms
        self._wall += ms
