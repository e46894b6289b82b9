"""`python -m bench.competitive [--quick] [--only NAME] [--json PATH]`

The durable lifecycle (produce, consume, acknowledge; 100-byte payloads; batches of 100),
measured the same way on Fila, RabbitMQ and Redis Streams, each started here on loopback on
a free port with a temp dir and stopped after. Acked msg/s in the measured window (after a
warm-up), one producer process and one consumer process per broker, on this machine.

Installs nothing. A broker whose binary or Python client is missing is skipped with the
command that installs it:

    apt-get install -y rabbitmq-server redis-server
    .venv/bin/pip install pika redis
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import lifecycle, machine
from bench.competitive import clients, servers
from bench.competitive.clients import Role
from bench.harness import FULL, QUICK, ROOT, Row, Settings, measure
from bench.report import Scenario, json_safe, run_all, table
from bench.workers import Load

DEFAULT_JSON = ROOT / "bench" / "results" / "competitive.json"
BATCH = 100


async def fila(s: Settings) -> list[Row]:
    r = await lifecycle.batched(s, BATCH)
    return [Row("Fila, batched lifecycle", r.window.rate(0), "msg/s",
                f"{lifecycle.batched_shape(s, BATCH)}, 1,000 fairness keys (Lua hook), "
                f"durable; {r.window.notes(0)}")]


async def _external(s: Settings, server: servers.External, setup: Callable[[int], None],
                    label: str, about: str) -> list[Row]:
    with server:
        setup(server.port)
        roles = [Role(server.name, "consumer", server.port, BATCH, s.payload_bytes),
                 Role(server.name, "producer", server.port, BATCH, s.payload_bytes)]
        async with Load(roles, target=clients.main) as load:
            window = await measure(load.counters, server, s.warmup_s, s.measure_s,
                                   clients=load.pids)
    backlog = window.counts[1] - window.counts[0]
    return [Row(label, window.rate(0), "msg/s",
                f"{about}; {window.notes(0)}; produced {window.rate(1):,.0f} msg/s, backlog "
                f"grew by {backlog:,}")]


async def rabbitmq(s: Settings) -> list[Row]:
    version = servers.package_version("rabbitmq-server")
    return await _external(
        s, servers.RabbitMQ(), clients.rabbit_setup, f"RabbitMQ {version}",
        f"durable classic queue, persistent messages, publisher confirms per batch of {BATCH}, "
        f"manual acks (prefetch {2 * BATCH}, one multiple-ack per {BATCH}), pika")


async def redis(s: Settings) -> list[Row]:
    version = servers.package_version("redis-server")
    return await _external(
        s, servers.Redis(), clients.redis_setup, f"Redis {version} Streams",
        f"appendfsync always, XADD pipelined {BATCH} / XREADGROUP COUNT {BATCH} / one XACK "
        "per batch, redis-py")


SCENARIOS = [
    Scenario("fila", fila, "Fila's batched lifecycle (EnqueueBatch / Lease / AckBatch, 100)"),
    Scenario("rabbitmq", rabbitmq, "RabbitMQ: durable queue, confirms, manual acks, 100"),
    Scenario("redis", redis, "Redis Streams, appendfsync always: XADD / XREADGROUP / XACK, 100"),
]
NEEDS = {"rabbitmq": "rabbitmq", "redis": "redis"}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.competitive", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short windows (numbers are rough)")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="fila, rabbitmq or redis (repeatable, or comma-separated)")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH",
                   help=f"where to write results (default {DEFAULT_JSON.relative_to(ROOT)})")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    names = [n.strip() for item in args.only or [] for n in item.split(",") if n.strip()]
    known = {sc.name for sc in SCENARIOS}
    if unknown := [n for n in names if n not in known]:
        raise SystemExit(f"unknown name {', '.join(unknown)}; choose from {', '.join(known)}")
    chosen = [sc for sc in SCENARIOS if not names or sc.name in names]
    runnable, skipped = [], []
    for sc in chosen:
        lacking = servers.missing(NEEDS[sc.name]) if sc.name in NEEDS else []
        if lacking:
            skipped.append((sc.name, lacking))
        else:
            runnable.append(sc)
    for name, lacking in skipped:
        print(f"skipping {name}: this machine lacks {', '.join(lacking)}", file=sys.stderr)
    if skipped:
        print(f"to install them: {servers.APT_HINT}\n                 {servers.PIP_HINT}",
              file=sys.stderr)
    settings = QUICK if args.quick else FULL
    started = datetime.now(UTC)
    about_machine = machine.describe()
    results = asyncio.run(run_all(runnable, settings))
    for r in results:
        for row in r["rows"]:
            row["value"] = json_safe(row["value"])
    print()
    print(table(results))
    if args.quick:
        print("\n(--quick: short windows, rough numbers)")
    doc: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "settings": asdict(settings),
        "machine": about_machine,
        "skipped": {name: lacking for name, lacking in skipped},
        "scenarios": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"results written to {args.json}")
    return 1 if any(r["error"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
