"""Throughput: enqueue alone, and consume+ack from a pre-filled queue.

One message per RPC today (fila.v1 Enqueue / Consume / Ack). A batched variant is another
`Sender` (see bench/load.py) registered as another scenario next to these.
"""

from __future__ import annotations

import asyncio

from bench import load
from bench.harness import Broker, Counter, Row, Settings, measure, percentile
from fila.client import AsyncClient

QUEUE = "bench"


async def setup_queue(client: AsyncClient, hook: str = load.TENANT_HOOK) -> None:
    await client.create_queue(QUEUE, on_enqueue=hook)


def enqueue_sender(client: AsyncClient, s: Settings) -> load.Sender:
    return load.one_per_rpc(client, QUEUE, load.payload(s.payload_bytes),
                            load.tenant_headers(s.fairness_keys))


def _shape(s: Settings) -> str:
    return f"{s.payload_bytes} B payloads, {s.fairness_keys:,} fairness keys (Lua hook)"


async def enqueue(s: Settings) -> list[Row]:
    """N producers keep `producers` single-message Enqueue RPCs in flight."""
    with Broker() as broker:
        async with AsyncClient(broker.addr) as client:
            await setup_queue(client)
            sent, stop = Counter(), asyncio.Event()
            rtts: list[float] = []
            tasks = load.start_producers(enqueue_sender(client, s), s.producers, sent, stop,
                                         rtts=rtts)
            await asyncio.sleep(s.warmup_s)
            rtts.clear()
            window = await measure([sent], broker, 0.0, s.measure_s)
            samples = list(rtts)
            await load.finish(stop, tasks)
    shape = f"{s.producers} in flight, 1 msg/RPC, {_shape(s)}"
    return [
        Row("enqueue", window.rate(), "msg/s", f"{shape}; {window.notes()}"),
        Row("enqueue RPC p50", percentile(samples, 50) * 1e3, "ms", f"{len(samples):,} calls"),
        Row("enqueue RPC p99", percentile(samples, 99) * 1e3, "ms", f"{len(samples):,} calls"),
    ]


async def consume(s: Settings) -> list[Row]:
    """Pre-fill for `fill_s`, then `consumers` streams lease and ack (acks pipelined)."""
    with Broker() as broker:
        async with AsyncClient(broker.addr) as client:
            await setup_queue(client)
            filled = await load.fill(enqueue_sender(client, s), s.producers, seconds=s.fill_s)
            acked, stop = Counter(target=filled), asyncio.Event()
            tasks = load.start_consumers(client, QUEUE, s.consumers, acked, stop)
            window = await measure([acked], broker, s.warmup_s, s.measure_s, acked.reached)
            await load.finish(stop, tasks)
    shape = (f"{s.consumers} streams, 1 msg/frame, 1 ack/RPC, queue pre-filled with "
             f"{filled:,} msgs ({_shape(s)})")
    return [Row("consume+ack", window.rate(), "msg/s", f"{shape}; {window.notes()}")]
