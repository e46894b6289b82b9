"""Load generators: producers that keep N sends in flight, consumers that lease and ack.

A producer is driven by a `Sender`: an async function that sends the i-th unit of work and
returns how many messages it carried. Today's senders do one message per RPC; a batched
variant (many messages per RPC) is just another `Sender` returning the batch size, so the
same loops, counters and scenarios measure it in msg/s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from bench.harness import Counter
from fila.client import AsyncClient, Message

Sender = Callable[[int], Awaitable[int]]
OnMessage = Callable[[Message], None]

TENANT_HOOK = """
function on_enqueue(msg)
  return { fairness_key = msg.headers.tenant or "default" }
end
"""


def tenant_headers(keys: int) -> list[dict[str, str]]:
    return [{"tenant": f"t{i}"} for i in range(keys)]


def payload(size: int) -> bytes:
    return (b"0123456789abcdef" * (size // 16 + 1))[:size]


def one_per_rpc(client: AsyncClient, queue: str, body: bytes,
                headers: Sequence[dict[str, str]]) -> Sender:
    """Enqueue one message per RPC, cycling through `headers` (one per fairness key)."""

    async def send(i: int) -> int:
        await client.enqueue(queue, body, headers[i % len(headers)])
        return 1

    return send


async def _produce(send: Sender, sent: Counter, stop: asyncio.Event, first: int, step: int,
                   limit: int, rtts: list[float] | None) -> None:
    i = first
    while not stop.is_set() and (not limit or i < limit):
        t0 = time.perf_counter()
        n = await send(i)
        if rtts is not None:
            rtts.append(time.perf_counter() - t0)
        sent.add(n)
        i += step


def start_producers(send: Sender, concurrency: int, sent: Counter, stop: asyncio.Event,
                    limit: int = 0, rtts: list[float] | None = None) -> list[asyncio.Task[None]]:
    """`concurrency` tasks, each sending one unit at a time, until `stop` (or `limit` units)."""
    return [
        asyncio.create_task(_produce(send, sent, stop, k, concurrency, limit, rtts))
        for k in range(concurrency)
    ]


async def fill(send: Sender, concurrency: int, *, units: int = 0, seconds: float = 0.0) -> int:
    """Send `units` units of work, or as many as fit in `seconds`; returns messages sent."""
    sent, stop = Counter(), asyncio.Event()
    tasks = start_producers(send, concurrency, sent, stop, limit=units)
    if seconds:
        await asyncio.sleep(seconds)
        stop.set()
    await asyncio.gather(*tasks)
    return sent.n


async def consume(client: AsyncClient, queue: str, acked: Counter, stop: asyncio.Event,
                  on_message: OnMessage | None = None) -> None:
    """Read one Consume stream until `stop`, acking every message from its own task
    (acks are pipelined: the stream never waits for an ack to come back)."""
    pending: set[asyncio.Task[None]] = set()

    async def ack(mid: str) -> None:
        await client.ack(queue, mid)
        acked.add()

    stream = client.consume(queue)
    closer = asyncio.create_task(stop.wait())
    closer.add_done_callback(lambda _: stream.close())
    try:
        async for msg in stream:
            if on_message is not None:
                on_message(msg)
            task = asyncio.create_task(ack(msg.id))
            pending.add(task)
            task.add_done_callback(pending.discard)
            if stop.is_set():
                break
    except asyncio.CancelledError:
        # AsyncConsumeStream.close() surfaces as CancelledError from the `async for` (grpc.aio
        # raises it for a locally cancelled call); that is our own stop, not a cancellation
        # of this task, unless someone did cancel the task.
        current = asyncio.current_task()
        if not stop.is_set() or (current is not None and current.cancelling()):
            raise
    finally:
        closer.cancel()
        stream.close()
        await asyncio.gather(*pending, return_exceptions=True)


def start_consumers(client: AsyncClient, queue: str, streams: int, acked: Counter,
                    stop: asyncio.Event, on_message: OnMessage | None = None,
                    ) -> list[asyncio.Task[None]]:
    return [
        asyncio.create_task(consume(client, queue, acked, stop, on_message))
        for _ in range(streams)
    ]


async def finish(stop: asyncio.Event, tasks: Sequence[asyncio.Task[None]]) -> None:
    """Stop the load and wait for its in-flight calls; re-raise the first failure."""
    stop.set()
    for result in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(result, BaseException):
            raise result
