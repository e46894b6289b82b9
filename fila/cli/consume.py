"""`fila consume`: lease messages over the credit-controlled Lease stream and print them."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fila.cli.common import aconnect, state
from fila.cli.output import message_doc, print_json, print_message

if TYPE_CHECKING:
    from fila.client import AsyncClient

MAX_CREDIT = 1000  # unacked messages the stream may hold when there is no --max to fit


async def _consume(ctx: typer.Context, queue: str, ack: bool, limit: int | None,
                   timeout_s: float | None, docs: list[dict[str, Any]] | None) -> None:
    """Print each message (or, for JSON, collect it into `docs`) until a limit is reached.

    The broker leases at most `credit` unacked messages to the stream, and one more for each
    ack. So that no more than --max messages are ever leased, the credit is at most --max and
    only acks that cannot open room beyond --max are sent before the stream is closed."""
    from fila.client import Reconnect, RetryEvent, Unavailable

    credit = min(limit, MAX_CREDIT) if limit is not None else MAX_CREDIT
    connected = False

    def on_retry(event: RetryEvent) -> None:  # ride out restarts, but say at once if no
        if not connected:                     # broker was there to begin with (exit 5)
            raise Unavailable(event.error)

    async with aconnect(ctx, Reconnect(on_retry=on_retry)) as client:
        await client.list_queues()  # any valid key may: the broker is there
        connected = True
        stream = client.lease(queue, credit=credit)
        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle | None = None

        def rearm() -> None:
            nonlocal timer
            if timer is not None:
                timer.cancel()
            if timeout_s is not None:
                timer = loop.call_later(timeout_s, stream.close)

        acks: list[asyncio.Task[None]] = []
        held: list[tuple[str, str]] = []
        seen = 0
        rearm()
        try:
            async for msg in stream:
                rearm()
                seen += 1
                if docs is not None:
                    docs.append(message_doc(msg))
                else:
                    print_message(msg)
                if ack and (limit is None or len(acks) + 1 + credit <= limit):
                    acks.append(asyncio.create_task(_ack(client, queue, msg.id, msg.lease_id)))
                elif ack:
                    held.append((msg.id, msg.lease_id))
                if limit is not None and seen >= limit:
                    break
        finally:
            if timer is not None:
                timer.cancel()
            stream.close()
            acks += [asyncio.create_task(_ack(client, queue, mid, lid)) for mid, lid in held]
            results = await asyncio.gather(*acks, return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r


async def _ack(client: AsyncClient, queue: str, message_id: str, lease_id: str) -> None:
    await client.ack(queue, message_id, lease_id)


def consume(
    ctx: typer.Context,
    queue: Annotated[str, typer.Argument(help="The queue.", show_default=False)],
    ack: Annotated[bool, typer.Option("--ack", help="Ack each message once it is printed.")] = False,
    max_messages: Annotated[int | None, typer.Option(
        "--max", "-n", min=0, help="Stop after this many messages (default: no limit).")] = None,
    timeout_s: Annotated[float | None, typer.Option(
        "--timeout-s", "-t", min=0.0,
        help="Stop when no message arrives for this many seconds (default: wait forever).")] = None,
) -> None:
    """Lease messages from a queue and print them.

    Payloads print as text, or as base64 when they are binary. No more than --max messages
    are leased. Without --ack the messages stay leased until their visibility timeout, then
    are delivered again (counting as a failed attempt): ack them with `fila ack QUEUE ID`.
    At most 1000 unacked messages are leased at once.

    JSON (printed when it stops): [message, ...] with each message as
    {"id", "lease_id" (for `fila ack --lease-id`), "queue", "fairness_key", "weight", "throttle_keys", "attempt_count", "headers",
    "payload", "payload_encoding" ("utf-8" | "base64"), "enqueued_at", "leased_at", "last_error"}

    Example: fila consume emails --ack --max 10 --timeout-s 5
    """
    st = state(ctx)
    docs: list[dict[str, Any]] = []
    finished = False
    try:
        if max_messages != 0:
            asyncio.run(_consume(ctx, queue, ack, max_messages, timeout_s,
                                 docs if st.json else None))
        finished = True
    except KeyboardInterrupt:
        finished = True  # Ctrl-C is how a consume without --max ends: a JSON document still
        raise
    finally:
        if st.json and (finished or docs):  # an error: still show what was leased
            print_json(docs)
