"""Running scenarios one after another, and the printed tables: results by scenario (with a
goal column) and the goal table."""

from __future__ import annotations

import asyncio
import math
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bench import goals
from bench.harness import Row, Settings


def _fmt(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _columns(lines: list[tuple[str, ...]], right: tuple[int, ...] = ()) -> str:
    """Aligned columns; the last one is left ragged. The first line is the header."""
    n = len(lines[0])
    widths = [max(len(line[i]) for line in lines) for i in range(n - 1)]
    out = []
    for i, line in enumerate(lines):
        cells = [line[j].rjust(widths[j]) if j in right else line[j].ljust(widths[j])
                 for j in range(n - 1)]
        out.append("  ".join([*cells, line[-1]]).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths) + "  -----")
    return "\n".join(out)


def table(results: list[dict[str, Any]], evaluated: list[dict[str, Any]] | None = None) -> str:
    marks = goals.by_row(evaluated or [])
    lines: list[tuple[str, ...]] = [("scenario", "metric", "value", "unit", "goal", "notes")]
    for r in results:
        if r["error"]:
            lines.append((r["name"], "FAILED", "", "", "", r["error"].strip().splitlines()[-1]))
        for row in r["rows"]:
            lines.append((r["name"], row["name"], _fmt(row["value"]), row["unit"],
                          marks.get((r["name"], row["name"]), ""), row["notes"]))
    return _columns(lines, right=(2,))


def goal_table(evaluated: list[dict[str, Any]]) -> str:
    lines: list[tuple[str, ...]] = [("figure", "goal", "measured", "status")]
    for e in evaluated:
        v = e["value"]
        measured = "" if v is None else f"{_fmt(v)} {e['unit']}"
        lines.append((e["figure"], e["goal"], measured, e["status"]))
    return _columns(lines, right=(2,))


@dataclass(frozen=True)
class Scenario:
    name: str
    run: Callable[[Settings], Awaitable[list[Row]]]
    about: str


async def run_all(scenarios: list[Scenario], settings: Settings) -> list[dict[str, Any]]:
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


def json_safe(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else round(value, 4)
