"""Enqueue -> lease latency at light load, with a consumer already waiting.

The producer paces sends open-loop (a send is started on schedule whether or not earlier ones
have answered) and stamps each message with the client's monotonic clock; the consumer, in
the same process, subtracts that stamp from the time the message arrives on its stream.

Two runs: the broker's path (one `Enqueue` RPC per message, a `Lease` stream acking each
response with one `AckBatch`), and the same through the SDK (`AsyncClient.enqueue()`, whose
batching lingers up to 2 ms before sending, `lease()` and `ack()`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import grpc

from bench import load
from bench.harness import Broker, Row, Settings, percentile
from bench.workers import CHANNEL_OPTIONS, QUEUE, SERVICE
from fila.client import AsyncClient
from fila.v1 import service_pb2

STAMP = "sent_ns"
DRAIN_TIMEOUT_S = 10.0
CREDIT = 100

Send = Callable[[dict[str, str]], Awaitable[None]]


@dataclass
class _Samples:
    seen: dict[int, float] = field(default_factory=dict)  # message index -> seconds
    rtts: list[float] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    target: int = 0

    def on_message(self, headers: Mapping[str, str]) -> None:
        now = time.perf_counter_ns()
        self.seen[int(headers["i"])] = (now - int(headers[STAMP])) / 1e9
        if len(self.seen) >= self.target:
            self.arrived.set()


async def _paced(s: Settings, send: Send, samples: _Samples) -> float:
    """Send `total` messages at `latency_rate`; returns how far pacing fell behind (s)."""
    rate = s.latency_rate
    skip = int(s.warmup_s * rate)
    total = skip + int(s.latency_s * rate)
    samples.target = total
    body_tasks: set[asyncio.Task[None]] = set()

    async def one(i: int) -> None:
        t0 = time.perf_counter_ns()
        await send({"tenant": f"t{i % s.fairness_keys}", "i": str(i), STAMP: str(t0)})
        if i >= skip:
            samples.rtts.append((time.perf_counter_ns() - t0) / 1e9)

    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(total):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i))
        body_tasks.add(task)
        task.add_done_callback(body_tasks.discard)
    late = loop.time() - (start + (total - 1) / rate)
    await asyncio.gather(*body_tasks)
    try:
        await asyncio.wait_for(samples.arrived.wait(), DRAIN_TIMEOUT_S)
    except TimeoutError:
        pass
    return late


async def _raw(s: Settings, addr: str, samples: _Samples) -> float:
    body = load.payload(s.payload_bytes)
    async with grpc.aio.insecure_channel(addr, options=CHANNEL_OPTIONS) as channel:
        enqueue = channel.unary_unary(
            SERVICE + "Enqueue", request_serializer=service_pb2.EnqueueRequest.SerializeToString)
        ack = channel.unary_unary(
            SERVICE + "AckBatch", request_serializer=service_pb2.AckBatchRequest.SerializeToString)
        lease = channel.stream_stream(
            SERVICE + "Lease", request_serializer=service_pb2.LeaseRequest.SerializeToString,
            response_deserializer=service_pb2.LeaseResponse.FromString)
        stop = asyncio.Event()

        async def requests() -> AsyncIterator[service_pb2.LeaseRequest]:
            yield service_pb2.LeaseRequest(queue=QUEUE, credit=CREDIT, max_batch=CREDIT)
            await stop.wait()

        acks: set[asyncio.Future[object]] = set()

        async def consume() -> None:
            async for resp in call:
                for m in resp.messages:
                    samples.on_message(m.headers)
                t = asyncio.ensure_future(ack(service_pb2.AckBatchRequest(
                    queue=QUEUE, message_ids=[m.id for m in resp.messages])))
                acks.add(t)
                t.add_done_callback(acks.discard)

        call = lease(requests())
        reader = asyncio.create_task(consume())
        await _wait_for_consumer(addr)

        async def send(headers: dict[str, str]) -> None:
            await enqueue(service_pb2.EnqueueRequest(queue=QUEUE, headers=headers, payload=body))

        try:
            return await _paced(s, send, samples)
        finally:
            stop.set()
            call.cancel()
            await asyncio.gather(*acks, return_exceptions=True)
            _reraise(await asyncio.gather(reader, return_exceptions=True))


async def _sdk(s: Settings, addr: str, samples: _Samples) -> float:
    body = load.payload(s.payload_bytes)
    async with AsyncClient(addr) as client:
        stream = client.lease(QUEUE, credit=CREDIT, max_batch=CREDIT)
        acks: set[asyncio.Task[None]] = set()

        async def consume() -> None:
            async for msg in stream:
                samples.on_message(msg.headers)
                t = asyncio.create_task(client.ack(QUEUE, msg.id))
                acks.add(t)
                t.add_done_callback(acks.discard)

        reader = asyncio.create_task(consume())
        await _wait_for_consumer(addr)

        async def send(headers: dict[str, str]) -> None:
            await client.enqueue(QUEUE, body, headers)

        try:
            return await _paced(s, send, samples)
        finally:
            stream.close()
            await asyncio.gather(*acks, return_exceptions=True)
            _reraise(await asyncio.gather(reader, return_exceptions=True))


def _reraise(results: Sequence[object]) -> None:
    """Raise what the consumer task failed with (not its own cancellation at the end)."""
    [result] = results
    if isinstance(result, BaseException) and not isinstance(
            result, asyncio.CancelledError | grpc.aio.AioRpcError):
        raise result


def _rows(s: Settings, label: str, samples: _Samples, late: float, rpc: str) -> list[Row]:
    skip = int(s.warmup_s * s.latency_rate)
    expected = int(s.latency_s * s.latency_rate)
    lat = [v for i, v in samples.seen.items() if i >= skip]
    lost = expected - len(lat)
    ms = [v * 1e3 for v in lat]
    shape = (f"{s.latency_rate:g} msg/s paced for {s.latency_s:g} s, 1 waiting Lease stream; "
             f"{len(lat):,} samples")
    if lost:
        shape += f"; {lost} never arrived within {DRAIN_TIMEOUT_S:g} s"
    if late > 0.05:
        shape += f"; pacing fell {late * 1e3:.0f} ms behind"
    return [
        Row(f"enqueue->lease p50{label}", percentile(ms, 50), "ms", shape),
        Row(f"enqueue->lease p99{label}", percentile(ms, 99), "ms", ""),
        Row(f"enqueue->lease max{label}", max(ms, default=float("nan")), "ms", ""),
        Row(f"{rpc} p50{label}", percentile(samples.rtts, 50) * 1e3, "ms",
            "send -> answer, i.e. until durable"),
        Row(f"{rpc} p99{label}", percentile(samples.rtts, 99) * 1e3, "ms", ""),
    ]


async def latency(s: Settings) -> list[Row]:
    rows = []
    for label, phase, rpc in (("", _raw, "Enqueue RPC"),
                              (" (SDK)", _sdk, "AsyncClient.enqueue()")):
        samples = _Samples()
        with Broker() as broker:
            await load.setup_queue(broker.addr)
            late = await phase(s, broker.addr, samples)
        rows += _rows(s, label, samples, late, rpc)
    return rows


async def _wait_for_consumer(addr: str, timeout_s: float = 10.0) -> None:
    """Until the broker has registered the stream, so the first messages find it waiting."""
    deadline = time.monotonic() + timeout_s
    while (await load.stats(addr)).active_consumers < 1:
        if time.monotonic() > deadline:
            raise TimeoutError("the consumer stream never registered")
        await asyncio.sleep(0.01)
