"""The cyclic garbage collector, tuned for a process that holds many long-lived objects.

A broker keeps every message it holds in memory, and a backlog can be millions of them. With
CPython's default thresholds (700, 10, 10) a young collection runs every 700 new objects, a
middle one every ten of those, and a full one whenever the long-lived objects grew by a
quarter: while a backlog builds (slow consumers, throttled tenants), full collections ran
about once a second, each walking every message held (76 ms apiece at a 200,000-message
backlog: a tenth of the broker's CPU, and a pause each time). Messages are freed by
reference counting when acked (the hot path forms no reference cycles), so the collector
only has to find the odd cycle and can look far less often: young collections every
YOUNG_THRESHOLD new objects instead of 700, which makes the older generations' collections
that much rarer too.

Measured (bench `throttle`, half the keys throttled so a backlog builds): 17.0k -> 19.4k acked
msg/s, full collections in the run 13 -> 1 (the same throughput as with the collector off);
the batched lifecycle without a backlog 34-35k -> 37-38k.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def tune() -> None:
    """At process start: collect young objects, and so every generation, less often."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
