"""Run the crash loop for many cycles: python scripts/crash_loop.py --cycles 50

Starts a real broker, runs producers, consumers (acking, nacking with a retry delay, letting
leases expire) and config writes against it, kill -9s it at random moments, restarts it on
the same data dir and checks the ledger after every restart. Exit code 1 on any violation.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.crash_harness import CrashLoop  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the data dir for inspection")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fila-crash-"))
    loop = CrashLoop(workdir, seed=args.seed)
    loop.setup()
    started = time.monotonic()
    try:
        for i in range(args.cycles):
            loop.cycle()
            led = loop.ledger
            print(f"cycle {i + 1}/{args.cycles}: {len(led.enqueued)} enqueued, {len(led.acked)} "
                  f"acked, {len(led.not_before)} nacked with delay, {len(led.config)} config keys"
                  f" — {'OK' if not led.violations else 'VIOLATIONS'}", flush=True)
            if led.violations:
                break
    finally:
        loop.close()
    for v in loop.ledger.violations:
        print("VIOLATION:", v)
    print(f"{loop.cycles_done} cycles in {time.monotonic() - started:.0f} s; data in {workdir}"
          if args.keep else f"{loop.cycles_done} cycles in {time.monotonic() - started:.0f} s")
    if not args.keep:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if loop.ledger.violations else 0


if __name__ == "__main__":
    sys.exit(main())
