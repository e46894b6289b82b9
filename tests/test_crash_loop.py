"""A short crash loop in every run (5 cycles); `scripts/crash_loop.py` runs long ones."""

from __future__ import annotations

from pathlib import Path

from tests.crash_harness import CrashLoop


def test_five_kill_9_cycles_lose_nothing(tmp_path: Path) -> None:
    loop = CrashLoop(tmp_path, seed=1234)
    loop.setup()
    try:
        for _ in range(5):
            loop.cycle()
            assert not loop.ledger.violations, loop.ledger.violations
    finally:
        loop.close()
    led = loop.ledger
    assert len(led.enqueued) > 500 and len(led.acked) > 100 and led.not_before, (
        "the loop did not exercise enqueue, ack and delayed retry")
