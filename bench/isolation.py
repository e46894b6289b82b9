"""Isolation: how much one tenant's heavy work costs everyone else.

One client sends 10,000-message EnqueueBatch calls, back to back, to a queue whose on_enqueue
hook costs ~150 us a message (1.5 s of hook time per batch). Meanwhile another client sends
one small Enqueue every 20 ms to another queue. Measured: that other client's enqueue latency
(p50, p99, max), beside the same with nobody else working. A batch gives the loop back every
few milliseconds (fila/server/hot_path.py), so other clients wait at most that long.

busy-keys: the same small-enqueue probe beside the batched lifecycle over BUSY_KEYS fairness
keys, a different key per message, so each second delivers to tens of thousands of keys: what
the once-a-second per-key bookkeeping (rates, idle keys) costs everyone else's latency.
"""

from __future__ import annotations

import asyncio
import time

import grpc

from bench import load
from bench.harness import Broker, Row, Settings, percentile
from bench.workers import CHANNEL_OPTIONS, SERVICE, Load
from fila.client import AsyncClient
from fila.v1 import service_pb2

SLOW_HOOK = """
function on_enqueue(msg)
  local x = 0
  for i = 1, 15000 do x = x + i end
  return { fairness_key = msg.headers.tenant or "t" }
end
"""
BATCH = 10_000
PACE_S = 0.02
BUSY_KEYS = 40_000


async def _probe(addr: str, seconds: float) -> list[float]:
    """Latencies (s) of one small enqueue every PACE_S for `seconds`."""
    out = []
    async with AsyncClient(addr) as c:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            await c._enqueue_one(service_pb2.EnqueueRequest(queue="other", payload=b"x"))  # noqa: SLF001
            out.append(time.perf_counter() - t0)
            await asyncio.sleep(PACE_S)
    return out


async def _heavy(addr: str, stop: asyncio.Event) -> int:
    batch = service_pb2.EnqueueBatchRequest(messages=[
        service_pb2.EnqueueRequest(queue="slow", headers={"tenant": f"t{i % 100}"}, payload=b"x")
        for i in range(BATCH)])
    sent = 0
    async with grpc.aio.insecure_channel(addr, options=CHANNEL_OPTIONS) as ch:
        call = ch.unary_unary(SERVICE + "EnqueueBatch",
                              request_serializer=service_pb2.EnqueueBatchRequest.SerializeToString,
                              response_deserializer=service_pb2.EnqueueBatchResponse.FromString)
        while not stop.is_set():
            await call(batch, timeout=120)
            sent += BATCH
    return sent


def _rows(label: str, lat: list[float]) -> list[Row]:
    ms = [x * 1000 for x in lat]
    return [Row(f"isolation {label} p50", percentile(ms, 50), "ms", f"{len(ms)} enqueues"),
            Row(f"isolation {label} p99", percentile(ms, 99), "ms", f"max {max(ms):.1f} ms")]


async def isolation(s: Settings) -> list[Row]:
    seconds = max(3.0, s.measure_s)
    with Broker() as broker:
        async with AsyncClient(broker.addr) as c:
            await c.create_queue("slow", on_enqueue=SLOW_HOOK)
            await c.create_queue("other")
        alone = await _probe(broker.addr, seconds / 2)
        stop = asyncio.Event()
        heavy = asyncio.ensure_future(_heavy(broker.addr, stop))
        await asyncio.sleep(0.5)  # the first batch is under way
        beside = await _probe(broker.addr, seconds)
        stop.set()
        sent = await heavy
    rows = _rows("other client, alone", alone)
    rows += _rows("other client, beside 10k batches through a 150 us hook", beside)
    rows[-1] = rows[-1]._replace(notes=rows[-1].notes + f"; the heavy client sent {sent:,}")
    return rows


async def busy_keys(s: Settings) -> list[Row]:
    seconds = max(3.0, s.measure_s)
    with Broker() as broker:
        await load.setup_queue(broker.addr, load.TENANT_HOOK)
        async with AsyncClient(broker.addr) as c:
            await c.create_queue("other")
        async with Load(load.lifecycle_jobs(s, broker.addr, 100, keys=BUSY_KEYS)):
            await asyncio.sleep(s.warmup_s + 1.0)  # past the first second's roll
            beside = await _probe(broker.addr, seconds)
    return _rows(f"other client, beside the lifecycle over {BUSY_KEYS:,} keys", beside)
