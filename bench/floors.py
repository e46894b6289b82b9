"""What this machine puts under every figure, before any broker runs: `python -m bench.floors`.

Two costs no broker code can remove, measured with nothing else running (a few seconds):

- **Waking from idle.** The same fixed piece of Python work (a loop over a small dict, about
  as long as the broker's own handling of one message) timed back to back, then each run after
  a sleep of 0.2, 1 and 5 ms. On a machine whose idle cores drop into deep sleep states (or a
  virtual machine whose host deschedules idle vCPUs) the work after a sleep runs several times
  slower: caches and branch predictors are cold and the clock ramps up. A broker at light load
  (the `latency` scenario's 200 msg/s, one message every 5 ms) pays this on every message.
- **fsync.** Appending 4 KB to a file in the data dir's filesystem and `fdatasync`-ing it,
  one at a time: the floor of a durable answer (the group commit shares one sync between all
  the messages that arrived while the previous one ran, so this is latency, not throughput).

    python -m bench.floors [--dir PATH] [--syncs N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.harness import percentile

GAPS_MS = (0.0, 0.2, 1.0, 5.0)
SAMPLES = 300


def _work(table: dict[int, int]) -> int:
    """A fixed piece of pure-Python work, ~20-40 us on a 2020s server core."""
    total = 0
    for _ in range(2):
        for k, v in table.items():
            total += k ^ v
    return total


def wake_penalty(samples: int = SAMPLES) -> dict[float, float]:
    """Gap between runs (ms) -> median time of one run (us)."""
    table = {i: i * 7 for i in range(256)}
    for _ in range(200):  # warm up
        _work(table)
    out = {}
    for gap in GAPS_MS:
        times = []
        for _ in range(samples):
            if gap:
                time.sleep(gap / 1e3)
            t0 = time.perf_counter()
            _work(table)
            times.append(time.perf_counter() - t0)
        out[gap] = statistics.median(times) * 1e6
    return out


def fsync_latency(directory: Path, syncs: int) -> list[float]:
    """Milliseconds per fdatasync of a 4 KB append, one after another."""
    block = b"\0" * 4096
    with tempfile.NamedTemporaryFile(dir=directory, prefix="fila-floors-") as f:
        fd = f.fileno()
        out = []
        for _ in range(syncs):
            os.write(fd, block)
            t0 = time.perf_counter()
            os.fdatasync(fd)
            out.append((time.perf_counter() - t0) * 1e3)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.floors", description=__doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, default=Path("."),
                    help="a directory on the filesystem the data dir lives on (default: .)")
    ap.add_argument("--syncs", type=int, default=200, help="fdatasync calls to time")
    ap.add_argument("--samples", type=int, default=SAMPLES, help="timed runs per gap")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    wake = wake_penalty(args.samples)
    base = wake[0.0]
    print("the same Python work, median of each run, by the idle gap before it:")
    for gap, us in wake.items():
        label = "back to back" if not gap else f"after {gap:g} ms idle"
        print(f"  {label:<20} {us:8.1f} us  ({us / base:.1f}x)")
    syncs = fsync_latency(args.dir, args.syncs)
    print(f"fdatasync of a 4 KB append in {args.dir.resolve()}, {len(syncs)} in a row: "
          f"p50 {percentile(syncs, 50):.2f} ms, p99 {percentile(syncs, 99):.2f} ms, "
          f"max {max(syncs):.2f} ms")
    if args.json:
        args.json.write_text(json.dumps({
            "wake_us_by_gap_ms": {str(k): round(v, 2) for k, v in wake.items()},
            "fsync_ms": {"p50": percentile(syncs, 50), "p99": percentile(syncs, 99),
                         "max": max(syncs), "count": len(syncs)},
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
