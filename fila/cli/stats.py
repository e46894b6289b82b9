"""`fila stats QUEUE`: depth, in-flight, consumers, and the scheduler's per-key view."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from fila.cli.common import connect, state
from fila.cli.output import emit, fields, table

if TYPE_CHECKING:
    from fila.client import QueueStats


def stats_doc(queue: str, s: QueueStats) -> dict[str, Any]:
    """The JSON shape of a queue's stats (see `fila stats --help`)."""
    return {
        "queue": queue,
        "depth": s.depth,
        "in_flight": s.in_flight,
        "active_consumers": s.active_consumers,
        "active_fairness_keys": s.active_fairness_keys,
        "quantum": s.quantum,
        "keys": [{"key": k.key, "pending": k.pending, "deficit": k.deficit, "weight": k.weight}
                 for k in s.keys],
        "throttles": [{"key": t.key, "tokens": t.tokens, "rate_per_second": t.rate_per_second,
                       "burst": t.burst} for t in s.throttles],
    }


def print_stats(doc: dict[str, Any]) -> None:
    fields([
        ("queue", doc["queue"]),
        ("depth", doc["depth"]),
        ("in flight", doc["in_flight"]),
        ("consumers", doc["active_consumers"]),
        ("active keys", doc["active_fairness_keys"]),
        ("quantum", doc["quantum"]),
    ])
    typer.echo("")
    if doc["keys"]:
        table(["fairness key", "pending", "deficit", "weight"],
              [(k["key"], k["pending"], k["deficit"], k["weight"]) for k in doc["keys"]])
    else:
        typer.echo("no fairness key has pending messages")
    typer.echo("")
    if doc["throttles"]:
        table(["throttle key", "tokens", "rate/s", "burst"],
              [(t["key"], round(t["tokens"], 2), t["rate_per_second"], t["burst"])
               for t in doc["throttles"]])
    else:
        typer.echo("no throttles")


def stats(
    ctx: typer.Context,
    queue: Annotated[str, typer.Argument(help="The queue.", show_default=False)],
) -> None:
    """Show a queue's depth, in-flight, consumers, keys and throttles.

    JSON: {"queue", "depth", "in_flight", "active_consumers", "active_fairness_keys",
    "quantum", "keys": [{"key", "pending", "deficit", "weight"}],
    "throttles": [{"key", "tokens", "rate_per_second", "burst"}]}

    Example: fila stats emails
    """
    with connect(ctx) as client:
        doc = stats_doc(queue, client.get_stats(queue))
    emit(state(ctx), doc, lambda: print_stats(doc))
