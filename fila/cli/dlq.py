"""`fila dlq peek|redrive`: look at dead letters and send them back to their queue."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fila.cli.common import connect, state
from fila.cli.output import emit, message_doc, table
from fila.client import DLQ_SUFFIX, dlq_name

app = typer.Typer(
    help="Look at dead-lettered messages and redrive them.\n\nExample: fila dlq peek emails",
    no_args_is_help=True,
)

Queue = Annotated[str, typer.Argument(
    help="The queue (or its dead-letter queue, QUEUE.dlq).", show_default=False)]


def _the_dlq(queue: str) -> str:
    """QUEUE or QUEUE.dlq, as the user gave it -> the dead-letter queue's name."""
    return queue if queue.endswith(DLQ_SUFFIX) else dlq_name(queue)


def _short(text: str, width: int = 40) -> str:
    one = text.replace("\n", "\\n")
    return one if len(one) <= width else one[: width - 1] + "…"


@app.command("peek")
def peek(
    ctx: typer.Context, queue: Queue,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000,
                                       help="At most this many, oldest first.")] = 20,
) -> None:
    """Show dead-lettered messages without taking them.

    JSON: [message, ...] with each message as in `fila consume` (last_error says why it died)

    Example: fila dlq peek emails --limit 5
    """
    with connect(ctx) as client:
        msgs = client.peek(_the_dlq(queue), limit)
    docs = [message_doc(m) for m in msgs]

    def render() -> None:
        if not docs:
            typer.echo(f"{_the_dlq(queue)} is empty")
            return
        table(["id", "attempts", "fairness key", "last error", "payload"],
              [(d["id"], d["attempt_count"], d["fairness_key"], _short(d["last_error"]),
                _short(d["payload"] if d["payload_encoding"] == "utf-8" else "base64:" + d["payload"]))
               for d in docs])

    emit(state(ctx), docs, render)


@app.command("redrive")
def redrive(
    ctx: typer.Context, queue: Queue,
    count: Annotated[int, typer.Option("--count", "-n", min=0,
                                       help="At most this many, oldest first (0: all).")] = 0,
) -> None:
    """Move dead-lettered messages back to their queue, with their attempts reset to 0.

    JSON: {"dlq", "queue", "redriven"}

    Example: fila dlq redrive emails --count 100
    """
    dlq = _the_dlq(queue)
    with connect(ctx) as client:
        n = client.redrive(dlq, count)
    target = dlq.removesuffix(DLQ_SUFFIX)
    doc: dict[str, Any] = {"dlq": dlq, "queue": target, "redriven": n}
    emit(state(ctx), doc, lambda: typer.echo(f"redrove {n} message(s) from {dlq} to {target}"))
