"""Run Fila's benchmarks: `python -m bench [--quick] [--only NAME] [--json PATH]`.

Every scenario starts its own server process (a fresh `fila serve` on a temp data dir, or the
bare gRPC ceiling server), drives it from load worker processes, measures, and stops it.
Results go to stdout as a table, followed by the goal table (each headline figure against its
goal: met / MISSED), and to a JSON file together with a description of the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    batched,
    big_state,
    ceiling,
    fair_throttled,
    fairness,
    goals,
    isolation,
    latency,
    lifecycle,
    machine,
    observability,
    original,
    profile,
    recovery,
    scheduling,
    throughput,
)
from bench.harness import FULL, QUICK, ROOT
from bench.report import Scenario, goal_table, json_safe, run_all, table

DEFAULT_JSON = ROOT / "bench" / "results" / "latest.json"


SCENARIOS = [
    Scenario("grpc-ceiling", ceiling.grpc_ceiling,
             "bare grpc.aio: unary echo, and a fake broker (no storage) driven like Fila"),
    Scenario("enqueue", throughput.enqueue,
             "old clients: concurrent single-message Enqueue RPCs"),
    Scenario("consume", throughput.consume,
             "old clients: Consume streams + one Ack RPC per message, pre-filled queue"),
    Scenario("lifecycle", lifecycle.lifecycle,
             "old clients: Enqueue + Consume + Ack, one message per RPC; acked msg/s"),
    Scenario("batch-enqueue", batched.batch_enqueue,
             "EnqueueBatch of 100 and of 500, prebuilt requests"),
    Scenario("batch-lifecycle", lifecycle.batch_lifecycle,
             "EnqueueBatch + Lease streams + AckBatch, 100 and 500 per RPC; acked msg/s"),
    Scenario("sdk-enqueue", batched.sdk_enqueue,
             "AsyncClient.enqueue(), one message per call from 64 tasks (the SDK batches)"),
    Scenario("consumers", lifecycle.consumers,
             "the batched lifecycle with 1, 10 and 100 Lease streams"),
    Scenario("payload-64k", lifecycle.payload_64k,
             "the batched lifecycle with 64 KB payloads"),
    Scenario("throttle", scheduling.throttle,
             "the batched lifecycle with a throttle key per message: none binding / half"),
    Scenario("drr-cost", scheduling.drr_cost,
             "the batched lifecycle on 1 vs 1,000 and 10 vs 10,000 fairness keys"),
    Scenario("fairness", fairness.fairness,
             "weights 1:2:3:4:5 on a saturated queue: share of the first K deliveries"),
    Scenario("fair-throttled", fair_throttled.fair_throttled,
             "tenant.lua, weight.t1 = 2, one 100/s bucket: msg/s per tenant; 2 and 8 consumers"),
    Scenario("isolation", isolation.isolation,
             "another client's enqueue latency while one sends 10k batches through a slow hook"),
    Scenario("busy-keys", isolation.busy_keys,
             "another client's enqueue latency beside the batched lifecycle over 40,000 keys"),
    Scenario("big-keys", big_state.big_keys,
             "GetStats, /metrics and Peek on 1,000,000 fairness keys; another client meanwhile"),
    Scenario("many-queues", big_state.many_queues,
             "another client's enqueue p50 with one queue, then with 10,000 idle ones"),
    Scenario("latency", latency.latency,
             "enqueue -> lease latency at a paced light load, consumer waiting"),
    Scenario("pending-1m", recovery.pending,
             "1,000,000 pending messages: broker RSS; kill -9 and restart to first lease"),
    Scenario("metrics-overhead", observability.metrics_overhead,
             "the batched lifecycle with /metrics off vs scraped every second"),
    Scenario("original", original.original,
             "Fila beside the original Rust broker (../shared/peers), 1 msg/RPC, same run"),
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
    p.add_argument("--profile", action="store_true",
                   help="sample the server with py-spy in each measured window; its top frames "
                        "go into the rows' notes")
    return p.parse_args(argv)


def _selected(only: list[str] | None) -> list[Scenario]:
    if not only:
        return list(SCENARIOS)
    names = [n.strip() for item in only for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise SystemExit(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(BY_NAME)}")
    return [BY_NAME[n] for n in names]


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.list:
        for sc in SCENARIOS:
            print(f"{sc.name:<14} {sc.about}")
        return 0
    scenarios = _selected(args.only)
    if args.profile:
        os.environ[profile.ENV] = "1"
    settings = QUICK if args.quick else FULL
    started = datetime.now(UTC)
    about_machine = machine.describe()
    results = asyncio.run(run_all(scenarios, settings))
    for r in results:
        for row in r["rows"]:
            row["value"] = json_safe(row["value"])
    evaluated = goals.evaluate(results)
    print()
    print(table(results, evaluated))
    print()
    print(goal_table([e for e in evaluated if e["status"] != "not run"] or evaluated))
    if args.quick:
        print("\n(--quick: short windows, rough numbers; goals are for full runs)")
    doc = {
        "started_at": started.isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "settings": asdict(settings),
        "machine": about_machine,
        "scenarios": results,
        "goals": evaluated,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"results written to {args.json}")
    return 1 if any(r["error"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
