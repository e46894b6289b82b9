"""Micro-benchmarks of the engine's per-message decisions, without gRPC: the Lua hooks, the
token-bucket check and the DRR pick. `python -m bench.micro` (a few seconds).

Each figure is the cost of one decision on this machine's Python, measured over many calls;
p50/p99 come from timing calls one by one (which adds ~50 ns of timer overhead to each).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

from fila.engine.drr import DrrScheduler
from fila.engine.message import Entry
from fila.engine.rules import LuaLimits, QueueRules
from fila.engine.throttle import Throttles

ON_ENQUEUE = """
function on_enqueue(msg)
  local tenant = msg.headers.tenant or "anonymous"
  return { fairness_key = tenant,
           weight = tonumber(fila.get("weight." .. tenant) or "1"),
           throttle_keys = { "tenant:" .. tenant, "provider:" .. (msg.headers.provider or "none") } }
end
"""
ON_FAILURE = """
function on_failure(msg)
  if msg.attempts >= 5 then return { action = "dlq" } end
  return { action = "retry", delay_ms = 100 * 2 ^ (msg.attempts - 1) }
end
"""


def per_call_us(fn: Callable[[], object], n: int) -> tuple[float, float, float]:
    """(mean, p50, p99) in microseconds."""
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) / 1000)
    samples.sort()
    return statistics.fmean(samples), samples[n // 2], samples[int(n * 0.99)]


def loop_ns(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - t0) / n


def drr_pick_ns(keys: int, n: int) -> float:
    drr = DrrScheduler()
    per_key = n // keys + 1
    seq = 0
    for k in range(keys):
        for _ in range(per_key):
            seq += 1
            drr.push(Entry(seq, "", b"", f"k{k}", 1, (), 0, 0))
    pop = drr.pop
    t0 = time.perf_counter_ns()
    for _ in range(n):
        pop(0.0)
    return (time.perf_counter_ns() - t0) / n


def run(quick: bool) -> list[dict[str, object]]:
    n = 5_000 if quick else 50_000
    rows: list[dict[str, object]] = []
    enq = QueueRules(ON_ENQUEUE, "", LuaLimits(), {"weight.acme": "3"})
    headers = {"tenant": "acme", "provider": "stripe"}
    mean, p50, p99 = per_call_us(lambda: enq.on_enqueue(headers, 100, "q"), n)
    rows.append({"name": "lua on_enqueue (tenant, weight from fila.get, 2 throttle keys)",
                 "mean_us": mean, "p50_us": p50, "p99_us": p99, "goal": "p99 < 50 us (aim < 10)"})
    fail = QueueRules("", ON_FAILURE, LuaLimits())
    mean, p50, p99 = per_call_us(lambda: fail.on_failure(headers, "id", 2, "q", "boom"), n)
    rows.append({"name": "lua on_failure (backoff, dlq after 5)", "mean_us": mean,
                 "p50_us": p50, "p99_us": p99, "goal": "p99 < 50 us (aim < 10)"})
    gate = Throttles()
    gate.configure("tenant:acme", 1e12, 1e12, time.monotonic())
    gate.configure("provider:stripe", 1e12, 1e12, time.monotonic())
    now = time.monotonic()
    one = ("tenant:acme",)
    two = ("tenant:acme", "provider:stripe")
    loops = n * 20
    rows.append({"name": "token bucket check, 1 key", "mean_ns": loop_ns(lambda: gate.try_take(one, now), loops),
                 "goal": "< 1 us"})
    rows.append({"name": "token bucket check, 2 keys (all or nothing)",
                 "mean_ns": loop_ns(lambda: gate.try_take(two, now), loops), "goal": "< 1 us"})
    for keys in (1, 10, 1_000, 10_000):
        rows.append({"name": f"DRR pick, {keys:,} active keys", "mean_ns": drr_pick_ns(keys, loops)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="also write the rows as JSON here")
    args = parser.parse_args()
    rows = run(args.quick)
    for r in rows:
        figures = "  ".join(f"{k}={v:,.2f}" for k, v in r.items() if isinstance(v, float))
        print(f"{r['name']:<62} {figures}  {r.get('goal', '')}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
