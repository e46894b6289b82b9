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
        "ready": s.ready,
        "delayed": s.delayed,
        "dlq_depth": s.dlq_depth,
        "drr_rounds": s.drr_rounds,
        "enqueue_rate": s.enqueue_rate,
        "delivery_rate": s.delivery_rate,
        "totals": dict(s.totals),
        "keys": [{"key": k.key, "pending": k.pending, "deficit": k.deficit, "weight": k.weight,
                  "delivered": k.delivered, "delivery_rate": k.delivery_rate,
                  "fair_share": k.fair_share, "actual_share": k.actual_share,
                  "fair_rate": k.fair_rate, "limited_by": k.limited_by}
                 for k in s.keys],
        "throttles": [{"key": t.key, "tokens": t.tokens, "rate_per_second": t.rate_per_second,
                       "burst": t.burst, "passed": t.passed, "hits": t.hits,
                       "waiting": t.waiting}
                      for t in s.throttles],
        "hooks": [{"hook": h.hook, "configured": h.configured, "calls": h.calls,
                   "errors": h.errors, "p50_us": h.p50_us, "p99_us": h.p99_us,
                   "breaker_state": h.breaker_state, "breaker_openings": h.breaker_openings}
                  for h in s.hooks],
    }


def print_stats(doc: dict[str, Any]) -> None:
    fields([
        ("queue", doc["queue"]),
        ("depth", doc["depth"]),
        ("in flight", doc["in_flight"]),
        ("consumers", doc["active_consumers"]),
        ("active keys", doc["active_fairness_keys"]),
        ("quantum", doc["quantum"]),
        ("ready / delayed", f"{doc['ready']} / {doc['delayed']}"),
        ("dead letters", doc["dlq_depth"]),
        ("enqueue / deliver", f"{doc['enqueue_rate']:.1f} / {doc['delivery_rate']:.1f} msg/s"),
        ("totals", " ".join(f"{k}={v}" for k, v in doc["totals"].items())),
    ])
    typer.echo("")
    if doc["keys"]:
        table(["fairness key", "pending", "deficit", "weight", "deliver/s", "can get/s",
               "limited by", "fair", "actual"],
              [(k["key"], k["pending"], k["deficit"], k["weight"], round(k["delivery_rate"], 1),
                round(k["fair_rate"], 1) if k["fair_rate"] else "-", k["limited_by"] or "-",
                f"{k['fair_share']:.0%}", f"{k['actual_share']:.0%}") for k in doc["keys"]])
    else:
        typer.echo("no fairness key has pending messages")
    typer.echo("")
    if doc["throttles"]:
        typer.echo("Throttles this queue's messages use (each bucket is broker-wide, shared "
                   "with every queue that names it):")
        table(["throttle key", "tokens", "rate/s", "burst", "passed", "hits", "holding back"],
              [(t["key"], round(t["tokens"], 2), t["rate_per_second"], t["burst"], t["passed"],
                t["hits"], t["waiting"]) for t in doc["throttles"]])
    else:
        typer.echo("no throttle bucket limits this queue's messages")
    hooks = [h for h in doc["hooks"] if h["configured"]]
    if hooks:
        typer.echo("")
        table(["lua hook", "calls", "errors", "p50 us", "p99 us", "breaker"],
              [(h["hook"], h["calls"], h["errors"], round(h["p50_us"], 1), round(h["p99_us"], 1),
                h["breaker_state"]) for h in hooks])


def stats(
    ctx: typer.Context,
    queue: Annotated[str, typer.Argument(help="The queue.", show_default=False)],
) -> None:
    """Show a queue's depth, in-flight, consumers, keys and throttles.

    Per fairness key: what it can get ("can get/s", "fair": its weighted share of the
    throttles its messages use and of the consumers, and what binds it) beside what it got
    ("deliver/s", "actual"). Throttles: the buckets this queue's messages use (buckets are
    broker-wide; `fila throttle list` shows them all).

    JSON: {"queue", "depth", "in_flight", "active_consumers", "active_fairness_keys",
    "quantum", "ready", "delayed", "dlq_depth", "drr_rounds", "enqueue_rate",
    "delivery_rate", "totals": {"enqueued", "leased", "acked", "nacked", "expired",
    "dead_lettered", "redriven"}, "keys": [{"key", "pending", "deficit", "weight",
    "delivered", "delivery_rate", "fair_share", "actual_share", "fair_rate", "limited_by"}],
    "throttles": [{"key",
    "tokens", "rate_per_second", "burst", "passed", "hits", "waiting"}], "hooks": [{"hook",
    "configured", "calls", "errors", "p50_us", "p99_us", "breaker_state",
    "breaker_openings"}]}

    Example: fila stats emails
    """
    with connect(ctx) as client:
        doc = stats_doc(queue, client.get_stats(queue))
    emit(state(ctx), doc, lambda: print_stats(doc))
