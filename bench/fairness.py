"""Fairness check: weighted keys on a saturated queue get their weighted share of delivery.

Five fairness keys with weights 1:2:3:4:5 (the hook reads a `weight` header). The queue is
filled first (EnqueueBatch), with more of every key than it can be given in the first K
deliveries, so every key stays backlogged the whole time; then one Lease stream reads K
messages (acking each response with one AckBatch) and each key's share of them is compared
with its fair share, weight / sum of weights.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter as Tally
from collections.abc import AsyncIterator

import grpc

from bench import load
from bench.harness import Broker, Row, Settings
from bench.workers import CHANNEL_OPTIONS, QUEUE, SERVICE
from fila.v1 import service_pb2

WEIGHTS = {"w1": 1, "w2": 2, "w3": 3, "w4": 4, "w5": 5}
WEIGHT_HOOK = """
function on_enqueue(msg)
  return { fairness_key = msg.headers.tenant, weight = tonumber(msg.headers.weight) }
end
"""
HEADROOM = 1.5  # each key holds this many times the messages its fair share needs
FILL_BATCH = 500
LEASE_BATCH = 100
CREDIT = 1000


def _backlog(k: int, body: bytes) -> list[service_pb2.EnqueueRequest]:
    total = sum(WEIGHTS.values())
    out = []
    for key, w in WEIGHTS.items():
        n = math.ceil(k * w / total * HEADROOM) + 16
        req = service_pb2.EnqueueRequest(queue=QUEUE, headers={"tenant": key, "weight": str(w)},
                                         payload=body)
        out += [req] * n
    return out


async def _fill(channel: grpc.aio.Channel, backlog: list[service_pb2.EnqueueRequest]) -> None:
    call = channel.unary_unary(
        SERVICE + "EnqueueBatch",
        request_serializer=service_pb2.EnqueueBatchRequest.SerializeToString,
        response_deserializer=service_pb2.EnqueueBatchResponse.FromString)
    for i in range(0, len(backlog), FILL_BATCH):
        resp = await call(service_pb2.EnqueueBatchRequest(messages=backlog[i:i + FILL_BATCH]))
        refused = [r.error.message for r in resp.results if r.HasField("error")]
        if refused:
            raise RuntimeError(f"fill refused {len(refused)} messages: {refused[0]}")


async def _read(channel: grpc.aio.Channel, k: int) -> Tally[str]:
    """The fairness keys of the first k deliveries on one Lease stream."""
    got: Tally[str] = Tally()
    lease = channel.stream_stream(
        SERVICE + "Lease", request_serializer=service_pb2.LeaseRequest.SerializeToString,
        response_deserializer=service_pb2.LeaseResponse.FromString)
    ack = channel.unary_unary(
        SERVICE + "AckBatch", request_serializer=service_pb2.AckBatchRequest.SerializeToString,
        response_deserializer=service_pb2.AckBatchResponse.FromString)
    done = asyncio.Event()

    async def requests() -> AsyncIterator[service_pb2.LeaseRequest]:
        yield service_pb2.LeaseRequest(queue=QUEUE, credit=CREDIT, max_batch=LEASE_BATCH)
        await done.wait()

    call = lease(requests())
    acks = []
    counted = 0
    async for resp in call:
        for m in resp.messages:
            if counted < k:
                got[m.metadata.fairness_key] += 1
                counted += 1
        acks.append(asyncio.ensure_future(
            ack(service_pb2.AckBatchRequest(queue=QUEUE, message_ids=[m.id for m in resp.messages]))))
        if counted >= k:
            break
    done.set()
    call.cancel()
    await asyncio.gather(*acks)
    return got


async def fairness(s: Settings) -> list[Row]:
    k = s.fairness_k
    backlog = _backlog(k, load.payload(s.payload_bytes))
    with Broker() as broker:
        await load.setup_queue(broker.addr, WEIGHT_HOOK)
        async with grpc.aio.insecure_channel(broker.addr, options=CHANNEL_OPTIONS) as channel:
            await _fill(channel, backlog)
            got = await asyncio.wait_for(_read(channel, k), timeout=120)

    counted = sum(got.values())
    total_w = sum(WEIGHTS.values())
    rows = []
    worst = worst_pp = 0.0
    for key, w in WEIGHTS.items():
        fair = w / total_w * 100
        share = got[key] / counted * 100 if counted else 0.0
        dev = (share - fair) / fair * 100
        worst = max(worst, abs(dev))
        worst_pp = max(worst_pp, abs(share - fair))
        rows.append(Row(f"fairness share weight {w}", share, "%",
                        f"fair {fair:.2f}%; {got[key]:,} deliveries; {dev:+.2f}% off"))
    ratio = ":".join(str(w) for w in WEIGHTS.values())
    rows.append(Row("fairness max deviation", worst, "%",
                    f"first {counted:,} deliveries of {len(backlog):,} queued (all keys "
                    f"backlogged throughout); weights {ratio}; relative to each key's fair "
                    f"share ({worst_pp:.3f} percentage points at most)"))
    return rows
