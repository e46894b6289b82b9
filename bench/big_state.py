"""Big state: what a million fairness keys, or ten thousand queues, cost everyone else.

big-keys: a queue holding one message for each of 1,000,000 fairness keys (tenant.lua-like
hook, a key per message). Measured: how long GetStats, a /metrics scrape and PeekMessages of
10 take on it (the first call, which for GetStats waits for the keys to be ranked between
turns, and the best of the next two), and another client's enqueue latency meanwhile (one every 20 ms to
another queue): what it costs the broker's thread.

many-queues: another client's enqueue latency (p50, p99) on a broker with one queue, then
with 10,000 more (20,000 with their DLQs), all idle.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable

import grpc

from bench.harness import Broker, Row, Settings, percentile
from bench.workers import CHANNEL_OPTIONS, SERVICE
from fila.client import AsyncClient
from fila.v1 import admin_pb2, service_pb2

KEY_HOOK = """
function on_enqueue(msg)
  return { fairness_key = msg.headers.tenant or "t" }
end
"""
PACE_S = 0.02
_METRICS = re.compile(r"metrics on (http://\S+/metrics)")


async def _probe(addr: str, queue: str, stop: asyncio.Event) -> list[float]:
    """Latencies (ms) of one small enqueue to `queue` every PACE_S until `stop`."""
    out = []
    async with AsyncClient(addr) as c:
        while not stop.is_set():
            t0 = time.perf_counter()
            await c._enqueue_one(service_pb2.EnqueueRequest(queue=queue, payload=b"x"))  # noqa: SLF001
            out.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(PACE_S)
    return out


async def _probe_for(addr: str, queue: str, seconds: float) -> list[float]:
    stop = asyncio.Event()
    task = asyncio.ensure_future(_probe(addr, queue, stop))
    await asyncio.sleep(seconds)
    stop.set()
    return await task


async def _fill_keys(addr: str, keys: int) -> None:
    """One message per fairness key, in EnqueueBatch calls of 1,000, 4 in flight."""
    async with grpc.aio.insecure_channel(addr, options=CHANNEL_OPTIONS) as ch:
        call = ch.unary_unary(SERVICE + "EnqueueBatch",
                              request_serializer=service_pb2.EnqueueBatchRequest.SerializeToString,
                              response_deserializer=service_pb2.EnqueueBatchResponse.FromString)
        starts = iter(range(0, keys, 1000))

        async def sender() -> None:
            for start in starts:
                await call(service_pb2.EnqueueBatchRequest(messages=[
                    service_pb2.EnqueueRequest(queue="big", headers={"tenant": f"k{i}"}, payload=b"x")
                    for i in range(start, min(keys, start + 1000))]), timeout=300)

        await asyncio.gather(*(sender() for _ in range(4)))


async def _scrape(url: str) -> int:
    host, _, rest = url.removeprefix("http://").partition("/")
    h, _, p = host.rpartition(":")
    reader, writer = await asyncio.open_connection(h, int(p))
    writer.write(f"GET /{rest} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    body = await reader.read()
    writer.close()
    return len(body)


async def _timed(fn: Callable[[], Awaitable[object]]) -> float:
    t0 = time.perf_counter()
    await fn()
    return (time.perf_counter() - t0) * 1000


async def big_keys(s: Settings) -> list[Row]:
    keys = getattr(s, "big_keys", 1_000_000)
    rows: list[Row] = []
    with Broker() as broker:
        url = _METRICS.search(broker.log_text())
        assert url, "the broker did not log its metrics address"
        async with AsyncClient(broker.addr, timeout_s=600) as c:
            await c.create_queue("big", on_enqueue=KEY_HOOK)
            await c.create_queue("other")
            await _fill_keys(broker.addr, keys)
            stop = asyncio.Event()
            probe = asyncio.ensure_future(_probe(broker.addr, "other", stop))
            await asyncio.sleep(1.0)
            admin = c._admin  # noqa: SLF001
            calls = {
                "GetStats": lambda: admin.GetStats(admin_pb2.GetStatsRequest(queue="big")),
                "/metrics scrape": lambda: _scrape(url.group(1)),
                "PeekMessages of 10": lambda: admin.PeekMessages(
                    admin_pb2.PeekMessagesRequest(queue="big", limit=10)),
            }
            for name, fn in calls.items():
                times = [await _timed(fn)]  # (GetStats: the first on this queue ranks its keys)
                for _ in range(2):
                    await asyncio.sleep(0.5)
                    times.append(await _timed(fn))
                rows.append(Row(f"{name} at {keys:,} keys", min(times[1:]), "ms",
                                f"first {times[0]:.1f} ms; then {', '.join(f'{t:.1f}' for t in times[1:])}"))
            stop.set()
            lat = await probe
            stats = await c.get_stats("big")
            assert stats.active_fairness_keys == keys, stats.active_fairness_keys
    rows.append(Row(f"other client's enqueue meanwhile, p50 ({keys:,} keys)", percentile(lat, 50), "ms",
                    f"{len(lat)} enqueues"))
    rows.append(Row(f"other client's enqueue meanwhile, max ({keys:,} keys)", max(lat), "ms",
                    f"p99 {percentile(lat, 99):.1f} ms"))
    return rows


async def many_queues(s: Settings) -> list[Row]:
    n = getattr(s, "many_queues", 10_000)
    seconds = max(3.0, s.measure_s)
    with Broker() as broker:
        async with AsyncClient(broker.addr, timeout_s=600) as c:
            await c.create_queue("probe")
            one = await _probe_for(broker.addr, "probe", seconds)
            names = iter(range(n))

            async def creator() -> None:
                for i in names:
                    await c.create_queue(f"idle-{i}")

            await asyncio.gather(*(creator() for _ in range(32)))
            assert len(await c.list_queues()) == 2 * n + 2
            many = await _probe_for(broker.addr, "probe", seconds)
    p50_one, p50_many = percentile(one, 50), percentile(many, 50)
    return [
        Row("enqueue p50, one queue", p50_one, "ms", f"p99 {percentile(one, 99):.2f} ms"),
        Row(f"enqueue p50, {n:,} more idle queues", p50_many, "ms",
            f"p99 {percentile(many, 99):.2f} ms, max {max(many):.1f} ms; "
            f"{(p50_many / p50_one - 1) * 100:+.0f}% vs one queue"),
    ]
