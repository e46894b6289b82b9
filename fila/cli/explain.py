"""`fila explain QUEUE KEY`: why is this fairness key waiting?"""

from __future__ import annotations

from typing import Annotated

import typer

from fila.cli.common import connect, state
from fila.cli.output import emit, fields


def explain(
    ctx: typer.Context,
    queue: Annotated[str, typer.Argument(help="The queue.", show_default=False)],
    key: Annotated[str, typer.Argument(help="The fairness key (a tenant, say).", show_default=False)],
) -> None:
    """Say in plain words why a fairness key's messages are waiting, from live state.

    Reasons include a throttle bucket that is empty (with its rate and the time to the next
    token), waiting for the key's DRR turn, no consumer connected, consumers at their credit
    limit, a retry delay, and an open on_enqueue circuit breaker.

    JSON: {"queue", "key", "summary", "reasons": [...], "pending", "in_flight", "delayed",
    "weight", "active_keys", "consumers"}

    Example: fila explain webhooks tenant-42
    """
    with connect(ctx) as client:
        ex = client.explain(queue, key)
    doc = {"queue": queue, "key": key, "summary": ex.summary, "reasons": ex.reasons,
           "pending": ex.pending, "in_flight": ex.in_flight, "delayed": ex.delayed,
           "weight": ex.weight, "active_keys": ex.active_keys, "consumers": ex.consumers}

    def render() -> None:
        typer.echo(ex.summary)
        for reason in ex.reasons[1:]:
            typer.echo(f"  also: {reason}")
        fields([("pending", ex.pending), ("in flight", ex.in_flight), ("delayed", ex.delayed),
                ("weight", ex.weight if ex.pending else "- (no pending messages)"),
                ("active keys", ex.active_keys),
                ("consumers", ex.consumers)])

    emit(state(ctx), doc, render)
