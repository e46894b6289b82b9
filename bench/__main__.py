"""Run Fila's benchmarks: `python -m bench [--quick] [--only NAME] [--json PATH]`.

Every scenario starts its own server process (a fresh `fila serve` on a temp data dir, or the
bare gRPC echo server), measures, and stops it. Results go to stdout as a table and to a JSON
file together with a description of the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import ceiling, fairness, latency, lifecycle, machine, throughput
from bench.harness import FULL, QUICK, ROOT, Row, Settings

DEFAULT_JSON = ROOT / "bench" / "results" / "latest.json"


@dataclass(frozen=True)
class Scenario:
    name: str
    run: Callable[[Settings], Awaitable[list[Row]]]
    about: str


SCENARIOS = [
    Scenario("enqueue", throughput.enqueue,
             "enqueue throughput: concurrent single-message Enqueue RPCs, 1,000 fairness keys"),
    Scenario("consume", throughput.consume,
             "consume+ack throughput from a pre-filled queue, acks pipelined"),
    Scenario("lifecycle", lifecycle.lifecycle,
             "enqueue + lease + ack at the same time; acked msg/s"),
    Scenario("latency", latency.latency,
             "enqueue -> lease latency at a paced light load, consumer waiting"),
    Scenario("fairness", fairness.fairness,
             "weights 1:2:3:4:5 on a saturated queue: share of the first K deliveries"),
    Scenario("grpc-ceiling", ceiling.grpc_ceiling,
             "bare grpc.aio unary echo at the same concurrency: the one-RPC-per-message ceiling"),
]
BY_NAME = {s.name: s for s in SCENARIOS}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="a few-seconds smoke run (short windows; numbers are rough)")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="run only this scenario (repeatable, or comma-separated)")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH",
                   help=f"where to write results (default {DEFAULT_JSON.relative_to(ROOT)})")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    return p.parse_args(argv)


def _selected(only: list[str] | None) -> list[Scenario]:
    if not only:
        return list(SCENARIOS)
    names = [n.strip() for item in only for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise SystemExit(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(BY_NAME)}")
    return [BY_NAME[n] for n in names]


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(results: list[dict[str, Any]]) -> str:
    lines = [("scenario", "metric", "value", "unit", "notes")]
    for r in results:
        if r["error"]:
            lines.append((r["name"], "FAILED", "", "", r["error"].splitlines()[-1]))
        for row in r["rows"]:
            lines.append((r["name"], row["name"], _fmt(row["value"]), row["unit"], row["notes"]))
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    out = []
    for i, line in enumerate(lines):
        cells = [line[0].ljust(widths[0]), line[1].ljust(widths[1]),
                 line[2].rjust(widths[2]), line[3].ljust(widths[3]), line[4]]
        out.append("  ".join(cells).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths) + "  -----")
    return "\n".join(out)


async def _run(scenarios: list[Scenario], settings: Settings) -> list[dict[str, Any]]:
    results = []
    for sc in scenarios:
        print(f"-- {sc.name}: {sc.about}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        rows: list[Row] = []
        error = None
        try:
            rows = await sc.run(settings)
        except (Exception, asyncio.CancelledError):
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # Ctrl-C: stop the whole run
            error = traceback.format_exc()
            print(error, file=sys.stderr, flush=True)
        results.append({
            "name": sc.name,
            "about": sc.about,
            "seconds": round(time.perf_counter() - t0, 2),
            "error": error,
            "rows": [row._asdict() for row in rows],
        })
    return results


def _json_safe(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else round(value, 4)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.list:
        for sc in SCENARIOS:
            print(f"{sc.name:<14} {sc.about}")
        return 0
    scenarios = _selected(args.only)
    settings = QUICK if args.quick else FULL
    started = datetime.now(UTC)
    about_machine = machine.describe()
    results = asyncio.run(_run(scenarios, settings))
    print()
    print(table(results))
    if args.quick:
        print("\n(--quick: short windows, rough numbers)")
    for r in results:
        for row in r["rows"]:
            row["value"] = _json_safe(row["value"])
    doc = {
        "started_at": started.isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "settings": asdict(settings),
        "machine": about_machine,
        "scenarios": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"results written to {args.json}")
    return 1 if any(r["error"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
