"""The full lifecycle at once: producers enqueue while consumers lease and ack."""

from __future__ import annotations

import asyncio

from bench import load
from bench.harness import Broker, Counter, Row, Settings, measure
from bench.throughput import QUEUE, enqueue_sender, setup_queue
from fila.client import AsyncClient


async def lifecycle(s: Settings) -> list[Row]:
    """`producers` enqueues in flight and `consumers` streams acking, concurrently; the
    headline is acked msg/s (a message counts once it has been enqueued, leased and acked)."""
    with Broker() as broker:
        async with AsyncClient(broker.addr) as client:
            await setup_queue(client)
            sent, acked, stop = Counter(), Counter(), asyncio.Event()
            tasks = load.start_consumers(client, QUEUE, s.consumers, acked, stop)
            tasks += load.start_producers(enqueue_sender(client, s), s.producers, sent, stop)
            window = await measure([acked, sent], broker, s.warmup_s, s.measure_s)
            stats = await client.get_stats(QUEUE)
            await load.finish(stop, tasks)
    backlog = window.counts[1] - window.counts[0]
    shape = (f"{s.producers} enqueues in flight + {s.consumers} consume streams, 1 msg/RPC, "
             f"{s.payload_bytes} B, {s.fairness_keys:,} fairness keys")
    return [
        Row("lifecycle acked", window.rate(0), "msg/s", f"{shape}; {window.notes(0)}"),
        Row("lifecycle enqueued", window.rate(1), "msg/s",
            f"backlog grew by {backlog:,} in the window; depth {stats.depth:,}, "
            f"in flight {stats.in_flight:,} at the end"),
    ]
