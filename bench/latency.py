"""Enqueue -> lease latency at light load, with a consumer already waiting.

The producer paces sends open-loop (a send is started on schedule whether or not earlier ones
have answered) and stamps each message with the client's monotonic clock; the consumer, in
the same process, subtracts that stamp from the time the message arrives on its stream.
"""

from __future__ import annotations

import asyncio
import time

from bench import load
from bench.harness import Broker, Counter, Row, Settings, percentile
from bench.throughput import QUEUE, setup_queue
from fila.client import AsyncClient, Message

STAMP = "sent_ns"
DRAIN_TIMEOUT_S = 10.0


async def latency(s: Settings) -> list[Row]:
    rate = s.latency_rate
    skip = int(s.warmup_s * rate)  # warm-up messages are sent but not counted
    total = skip + int(s.latency_s * rate)
    body = load.payload(s.payload_bytes)
    seen: dict[int, float] = {}  # message index -> enqueue->lease seconds
    rtts: list[float] = []
    send_tasks: set[asyncio.Task[None]] = set()

    def on_message(msg: Message) -> None:
        now = time.perf_counter_ns()
        seen[int(msg.headers["i"])] = (now - int(msg.headers[STAMP])) / 1e9

    with Broker() as broker:
        async with AsyncClient(broker.addr) as client:
            await setup_queue(client)
            acked, stop = Counter(target=total), asyncio.Event()
            consumers = load.start_consumers(client, QUEUE, 1, acked, stop, on_message)
            await _wait_for_consumer(client)

            async def send(i: int) -> None:
                t0 = time.perf_counter_ns()
                headers = {"tenant": f"t{i % s.fairness_keys}", "i": str(i), STAMP: str(t0)}
                await client.enqueue(QUEUE, body, headers)
                if i >= skip:
                    rtts.append((time.perf_counter_ns() - t0) / 1e9)

            loop = asyncio.get_running_loop()
            start = loop.time()
            for i in range(total):
                delay = start + i / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.create_task(send(i))
                send_tasks.add(task)
                task.add_done_callback(send_tasks.discard)
            late = loop.time() - (start + (total - 1) / rate)
            await asyncio.gather(*send_tasks)
            try:
                await asyncio.wait_for(acked.reached.wait(), DRAIN_TIMEOUT_S)
            except TimeoutError:
                pass
            await load.finish(stop, consumers)

    lat = [v for i, v in seen.items() if i >= skip]
    lost = (total - skip) - len(lat)
    ms = [v * 1e3 for v in lat]
    shape = (f"{rate:g} msg/s paced for {s.latency_s:g} s, 1 waiting consumer; "
             f"{len(lat):,} samples")
    if lost:
        shape += f"; {lost} never arrived within {DRAIN_TIMEOUT_S:g} s"
    if late > 0.05:
        shape += f"; pacing fell {late * 1e3:.0f} ms behind"
    return [
        Row("enqueue->lease p50", percentile(ms, 50), "ms", shape),
        Row("enqueue->lease p99", percentile(ms, 99), "ms", ""),
        Row("enqueue->lease max", max(ms, default=float("nan")), "ms", ""),
        Row("enqueue RPC p50 (light load)", percentile(rtts, 50) * 1e3, "ms",
            "send -> EnqueueResponse, i.e. until durable"),
        Row("enqueue RPC p99 (light load)", percentile(rtts, 99) * 1e3, "ms", ""),
    ]


async def _wait_for_consumer(client: AsyncClient, timeout_s: float = 10.0) -> None:
    """Until the broker has registered the stream, so the first messages find it waiting."""
    deadline = time.monotonic() + timeout_s
    while (await client.get_stats(QUEUE)).active_consumers < 1:
        if time.monotonic() > deadline:
            raise TimeoutError("the consumer stream never registered")
        await asyncio.sleep(0.01)
