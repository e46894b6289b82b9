"""`fila enqueue`, `fila consume`, `fila ack`, `fila nack`."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fila.cli.common import connect, parse_headers, read_file, state, stderr_is_tty, stdin_bytes
from fila.cli.errors import usage_error
from fila.cli.output import emit, message_doc, print_json, print_message

if TYPE_CHECKING:
    from fila.client import Client, ConsumeStream

Queue = Annotated[str, typer.Argument(help="The queue.", show_default=False)]
MessageId = Annotated[str, typer.Argument(help="The message id (as printed by `fila consume`).",
                                          show_default=False)]


def _stdin_lines() -> Iterator[bytes]:
    for raw in typer.get_binary_stream("stdin"):
        line = raw.rstrip(b"\n").rstrip(b"\r")
        if line:
            yield line


def _payloads(payload: str | None) -> tuple[Iterator[bytes], bool]:
    """The payloads to enqueue, and whether they are a bulk stream (one per stdin line)."""
    if payload is None or payload == "-":
        if payload is None and typer.get_text_stream("stdin").isatty():
            raise usage_error("give --payload, or pipe messages on stdin (one per line)")
        return _stdin_lines(), True
    if payload == "@-":
        return iter([stdin_bytes()]), False
    if payload.startswith("@"):
        return iter([read_file(payload[1:], "--payload")]), False
    return iter([payload.encode("utf-8", "surrogateescape")]), False


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[], None]]:
    """A live "enqueued N (R msg/s)" line on stderr when it is a terminal; yields `advance`."""
    if not enabled:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TextColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(f"({task.speed:,.0f} msg/s)" if task.speed else "")

    out_tty = sys.stdout.isatty()  # ids printed to a terminal go above the live line
    with Progress(SpinnerColumn(), TextColumn("enqueued {task.completed:,.0f}"), Rate(),
                  console=Console(stderr=True), transient=True,
                  redirect_stdout=out_tty, redirect_stderr=False) as bar:
        task = bar.add_task("enqueue", total=None)
        yield lambda: bar.advance(task)
        count = bar.tasks[0].completed
    typer.echo(f"enqueued {count:,.0f} messages", err=True)


def enqueue(
    ctx: typer.Context,
    queue: Queue,
    header: Annotated[list[str] | None, typer.Option(
        "--header", "-H", metavar="NAME=VALUE", help="A header; repeat for more.")] = None,
    payload: Annotated[str | None, typer.Option(
        "--payload", "-p", metavar="TEXT|@FILE|-",
        help="The payload: TEXT, @FILE (a whole file, @- for all of stdin), or - for one "
             "message per stdin line (also the default when stdin is piped).")] = None,
) -> None:
    """Enqueue messages and print their ids, one per line.

    Every message gets the same headers. With `-` (or no --payload and piped stdin) each
    non-empty line of stdin is one message, enqueued in order.

    JSON: {"queue", "message_ids": [...]}

    Example: fila enqueue emails -H tenant=acme --payload 'hello'

    Example: seq 1000 | fila enqueue emails -H tenant=acme
    """
    headers = parse_headers(header)
    st = state(ctx)
    payloads, bulk = _payloads(payload)
    ids: list[str] = []
    finished = False
    try:
        with connect(ctx) as client, _progress(bulk and stderr_is_tty()) as advance:
            for data in payloads:
                ids.append(client.enqueue(queue, data, headers))
                if not st.json:
                    typer.echo(ids[-1])
                advance()
        finished = True
    finally:
        if st.json and (finished or ids):  # on an error, still say which ones made it
            print_json({"queue": queue, "message_ids": ids})


class _IdleWatch:
    """Closes the stream when no message has arrived for `timeout_s` seconds."""

    def __init__(self, stream: ConsumeStream, timeout_s: float | None) -> None:
        self.stream = stream
        self.timeout_s = timeout_s
        self.arrived = threading.Event()
        self.done = False
        self.thread = threading.Thread(target=self._run, name="fila-consume-idle", daemon=True)

    def _run(self) -> None:
        while not self.done:
            if not self.arrived.wait(self.timeout_s):
                self.stream.close()
                return
            self.arrived.clear()

    def __enter__(self) -> _IdleWatch:
        if self.timeout_s is not None:
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done = True
        self.arrived.set()
        self.stream.close()


def _consume(client: Client, queue: str, ack: bool, limit: int | None,
             timeout_s: float | None, docs: list[dict[str, Any]] | None) -> None:
    """Print each message (or, for JSON, collect it into `docs`) until a limit is reached."""
    seen = 0
    if limit == 0:
        return
    stream = client.consume(queue)
    with _IdleWatch(stream, timeout_s) as watch:
        for msg in stream:
            watch.arrived.set()
            if docs is not None:
                docs.append(message_doc(msg))
            else:
                print_message(msg)
            if ack:
                client.ack(queue, msg.id)
            seen += 1
            if limit is not None and seen >= limit:
                break


def consume(
    ctx: typer.Context,
    queue: Queue,
    ack: Annotated[bool, typer.Option("--ack", help="Ack each message once it is printed.")] = False,
    max_messages: Annotated[int | None, typer.Option(
        "--max", "-n", min=0, help="Stop after this many messages (default: no limit).")] = None,
    timeout_s: Annotated[float | None, typer.Option(
        "--timeout-s", "-t", min=0.0,
        help="Stop when no message arrives for this many seconds (default: wait forever).")] = None,
) -> None:
    """Lease messages from a queue and print them.

    Payloads print as text, or as base64 when they are binary.

    Without --ack the messages stay leased until their visibility timeout, then are delivered
    again (counting as a failed attempt); ack them with `fila ack QUEUE ID`. The broker
    leases up to 8 messages ahead to a stream, so with --max some more than printed may stay
    leased until their visibility timeout.

    JSON (printed when it stops): [message, ...] with each message as
    {"id", "queue", "fairness_key", "weight", "throttle_keys", "attempt_count", "headers",
    "payload", "payload_encoding" ("utf-8" | "base64"), "enqueued_at", "leased_at", "last_error"}

    Example: fila consume emails --ack --max 10 --timeout-s 5
    """
    st = state(ctx)
    docs: list[dict[str, Any]] = []
    finished = False
    try:
        with connect(ctx) as client:
            _consume(client, queue, ack, max_messages, timeout_s, docs if st.json else None)
        finished = True
    finally:
        if st.json and (finished or docs):  # Ctrl-C or an error: still show what was leased
            print_json(docs)


def ack(ctx: typer.Context, queue: Queue, message_id: MessageId) -> None:
    """Acknowledge a leased message: it is done and leaves the queue.

    JSON: {"queue", "id", "acked": true}

    Example: fila ack emails 0190c8a2-7d4e-7b1a-9f3e-2a4b5c6d7e8f
    """
    with connect(ctx) as client:
        client.ack(queue, message_id)
    emit(state(ctx), {"queue": queue, "id": message_id, "acked": True},
         lambda: typer.echo(f"acked {message_id}"))


def nack(
    ctx: typer.Context, queue: Queue, message_id: MessageId,
    error: Annotated[str, typer.Option("--error", "-e", help="Why it failed (on_failure sees it).")] = "",
) -> None:
    """Fail a leased message: it is retried later or dead-lettered.

    on_failure (or, without one, the queue's retry policy) decides which.

    JSON: {"queue", "id", "nacked": true}

    Example: fila nack emails 0190c8a2-7d4e-7b1a-9f3e-2a4b5c6d7e8f --error 'smtp 451'
    """
    with connect(ctx) as client:
        client.nack(queue, message_id, error)
    emit(state(ctx), {"queue": queue, "id": message_id, "nacked": True},
         lambda: typer.echo(f"nacked {message_id}"))

