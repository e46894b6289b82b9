"""Paced group commit: under load, fewer and fuller turns and fsyncs.

Each turn of the broker's loop writes what the handlers staged as one RocksDB batch, and
the group-commit thread fsyncs as soon as a batch is written. At light load that is right:
a lone producer's enqueue waits for one fsync and nothing more. Under load it is not: gRPC
hands the loop one RPC at a time, so a turn ran for each RPC and an fsync covered two or
three of them, and every turn and fsync has a fixed cost that its messages share (a write
call, the hand-offs to and from the fsync thread under the GIL, waking the loop, an answer
per wake-up through gRPC's poller). With 64 producers of single-message Enqueue RPCs that
cost was about half the broker's CPU (2.4 messages per fsync, ~575 µs of CPU per message).

So the loop watches its own load, and while it is **busy** (its thread ran for at least
BUSY_SHARE of the recent wall-clock time) and **shared** (an fsync answers more than
SHARED_RPCS waiting RPCs on average) it paces: a turn runs no sooner than PACE_S after the
one before, and the group commit waits PACE_S for more writes before it fsyncs. Answers then
wait a few milliseconds longer, which the queueing of a saturated broker dwarfs, and each
turn and fsync carries ten to twenty times as many messages. A lone producer, a single
batching client, or a broker with time to spare never waits.
"""

from __future__ import annotations

import time
from collections.abc import Callable

PACE_S = 0.002  # the least time between paced turns, and a paced fsync's wait for company
BUSY_SHARE = 0.7  # the loop thread's share of CPU (per wall-clock second) that is "busy"
SHARED_RPCS = 1.5  # waiting RPCs an fsync answers, on average, when it is "shared"
WINDOW_S = 0.01  # the loop's CPU share is measured over windows at least this long
STALE_S = 0.05  # no fsync report for this long: the load that paced is gone


class Pacer:
    """Decides, from the fsyncs' reports, whether turns and fsyncs are paced, and by how much.

    `synced` is called on the loop thread; `pace` is read on the loop thread and on the
    group-commit thread (a float read, atomic under the GIL)."""

    def __init__(self, cpu: Callable[[], float] = time.thread_time,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self._cpu = cpu  # CPU time of the thread that calls `synced`: the loop's
        self._clock = clock
        self._window_at = clock()
        self._window_cpu = cpu()
        self._reported_at = -STALE_S
        self.busy = 0.0  # moving average of the loop thread's CPU share
        self.answered = 0.0  # moving average of waiting RPCs answered per fsync
        self.pace_s = 0.0

    def synced(self, answered: int) -> None:
        """An fsync finished and answered `answered` waiting RPCs."""
        now = self._clock()
        self._reported_at = now
        elapsed = now - self._window_at
        if elapsed >= WINDOW_S:
            cpu = self._cpu()
            share = (cpu - self._window_cpu) / elapsed
            weight = min(1.0, elapsed / (3 * WINDOW_S))  # a long quiet window counts fully
            self.busy += weight * (share - self.busy)
            self._window_at, self._window_cpu = now, cpu
        self.answered += 0.2 * (answered - self.answered)
        paced = self.busy >= BUSY_SHARE and self.answered >= SHARED_RPCS
        self.pace_s = PACE_S if paced else 0.0

    def pace(self) -> float:
        """Seconds to pace turns and fsyncs by now: 0 unless the broker is busy and shared
        (and has heard from an fsync lately, so a burst after a quiet spell is not paced)."""
        if self.pace_s and self._clock() - self._reported_at > STALE_S:
            return 0.0
        return self.pace_s
