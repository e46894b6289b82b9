"""`fila enqueue`, `fila ack`, `fila nack` (`fila consume` is in consume.py)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from fila.cli.common import (
    aconnect,
    connect,
    parse_headers,
    read_file,
    state,
    stderr_is_tty,
    stdin_bytes,
)
from fila.cli.errors import CliError, ExitCode, usage_error
from fila.cli.output import emit, print_json
from fila.errors import InvalidArgument

Queue = Annotated[str, typer.Argument(help="The queue.", show_default=False)]
MessageId = Annotated[str, typer.Argument(help="The message id (as printed by `fila consume`).",
                                          show_default=False)]
BATCH = 100  # messages per EnqueueBatch: the SDK's batch size
_END = object()


def _stdin_lines() -> Iterator[bytes]:
    """Non-empty lines of stdin, read with os.read from a reader thread: a daemon thread
    blocked inside sys.stdin's buffer would crash the interpreter's exit on Ctrl-C."""
    stream = typer.get_binary_stream("stdin")
    try:
        fd = stream.fileno()
    except (OSError, ValueError):  # not a real file (a test's in-memory stdin)
        chunks = iter(stream.read, b"")
    else:
        chunks = iter(lambda: os.read(fd, 1 << 16), b"")
    rest = b""
    for chunk in chunks:
        *lines, rest = (rest + chunk).split(b"\n")
        for line in lines:
            if line.rstrip(b"\r"):
                yield line.rstrip(b"\r")
    if rest.rstrip(b"\r"):
        yield rest.rstrip(b"\r")


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


async def _batches(payloads: Iterator[bytes]) -> AsyncIterator[list[bytes]]:
    """Batches of what has arrived so far (at most BATCH): a fast pipe fills whole batches,
    and a slow one (`tail -f`, a terminal) is not held back waiting for a batch to fill.

    A daemon thread reads (so Ctrl-C never waits for stdin), at most 10 batches ahead."""
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[Any] = asyncio.Queue()
    room = threading.Semaphore(10 * BATCH)

    def put(item: Any) -> None:
        try:
            loop.call_soon_threadsafe(items.put_nowait, item)
        except RuntimeError:  # the loop is gone: the command already ended
            raise SystemExit from None

    def read() -> None:
        try:
            for p in payloads:
                room.acquire()
                put(p)
        except OSError as exc:
            put(CliError(ExitCode.UNEXPECTED, f"cannot read stdin: {exc}"))
        else:
            put(_END)

    threading.Thread(target=read, name="fila-enqueue-stdin", daemon=True).start()
    end: Any = None
    while end is None:
        batch: list[bytes] = []
        while end is None and len(batch) < BATCH and (not batch or not items.empty()):
            item = await items.get()
            room.release()
            if item is _END or isinstance(item, CliError):
                end = item
            else:
                batch.append(item)
        if batch:
            yield batch
    if isinstance(end, CliError):
        raise end


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int], None]]:
    """A live "enqueued N (R msg/s)" line on stderr when it is a terminal; yields `advance`."""
    if not enabled:
        yield lambda n: None
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
        yield lambda n: bar.advance(task, n)
        count = bar.tasks[0].completed
    typer.echo(f"enqueued {count:,.0f} messages", err=True)


async def _enqueue_all(ctx: typer.Context, queue: str, payloads: Iterator[bytes],
                       headers: dict[str, str], on_id: Callable[[str], None],
                       advance: Callable[[int], None]) -> None:
    """Enqueue in order: one batch at a time, each durable before the next is sent.

    A message the broker refuses (INVALID_ARGUMENT: too big, say) is skipped and the rest
    go on; it is reported at the end. Any other error stops at the end of its batch."""
    done = 0
    refused: list[tuple[int, InvalidArgument]] = []
    async with aconnect(ctx) as client:
        async for batch in _batches(payloads):
            results = await asyncio.gather(*(client.enqueue(queue, p, headers) for p in batch),
                                           return_exceptions=True)
            fatal: BaseException | None = None
            for i, r in enumerate(results):
                if isinstance(r, InvalidArgument):
                    refused.append((done + i + 1, r))
                elif isinstance(r, BaseException):
                    fatal = fatal or r
                else:
                    on_id(r)
            done += len(batch)
            advance(len(batch))
            if fatal is not None:
                raise fatal
    if not done:
        raise usage_error("no messages on stdin: pipe one message per non-empty line, "
                          "or give --payload")
    if refused:
        n, first = refused[0]
        what = f"message {n}: {first}" if done > 1 else str(first)
        if len(refused) > 1 or done > 1:
            what = f"{len(refused)} of {done} messages refused; {what}"
        raise InvalidArgument(what)


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
    non-empty line of stdin is one message; they are sent in batches, in order. A message
    the broker refuses (too big, say) is skipped: the others' ids are printed, then the
    command fails naming the first refused one.

    JSON: {"queue", "message_ids": [...]}

    Example: fila enqueue emails -H tenant=acme --payload 'hello'

    Example: seq 1000 | fila enqueue emails -H tenant=acme
    """
    headers = parse_headers(header)
    st = state(ctx)
    payloads, bulk = _payloads(payload)
    ids: list[str] = []

    def on_id(mid: str) -> None:
        ids.append(mid)
        if not st.json:
            typer.echo(mid)

    finished = False
    try:
        with _progress(bulk and stderr_is_tty()) as advance:
            asyncio.run(_enqueue_all(ctx, queue, payloads, headers, on_id, advance))
        finished = True
    finally:
        if st.json and (finished or ids):  # on an error, still say which ones made it
            print_json({"queue": queue, "message_ids": ids})


LeaseId = Annotated[str, typer.Option(
    "--lease-id", help="The lease_id it was delivered with: the broker refuses if that lease "
    "expired and the message went to another consumer.")]


def ack(ctx: typer.Context, queue: Queue, message_id: MessageId, lease_id: LeaseId = "") -> None:
    """Acknowledge a leased message: it is done and leaves the queue.

    JSON: {"queue", "id", "acked": true}

    Example: fila ack emails 0190c8a2-7d4e-7b1a-9f3e-2a4b5c6d7e8f
    """
    with connect(ctx) as client:
        client.ack(queue, message_id, lease_id)
    emit(state(ctx), {"queue": queue, "id": message_id, "acked": True},
         lambda: typer.echo(f"acked {message_id}"))


def nack(
    ctx: typer.Context, queue: Queue, message_id: MessageId,
    error: Annotated[str, typer.Option("--error", "-e", help="Why it failed (on_failure sees it).")] = "",
    lease_id: LeaseId = "",
) -> None:
    """Fail a leased message: it is retried later or dead-lettered.

    on_failure (or, without one, the queue's retry policy) decides which.

    JSON: {"queue", "id", "nacked": true}

    Example: fila nack emails 0190c8a2-7d4e-7b1a-9f3e-2a4b5c6d7e8f --error 'smtp 451'
    """
    with connect(ctx) as client:
        client.nack(queue, message_id, error, lease_id)
    emit(state(ctx), {"queue": queue, "id": message_id, "nacked": True},
         lambda: typer.echo(f"nacked {message_id}"))
