"""Enqueue alone, batched: raw EnqueueBatch RPCs, and the SDK batching for its callers.

- `batch-enqueue`: producers each with one `EnqueueBatch` of N prebuilt messages in flight
  (serialized once per producer and re-sent as bytes: the client does almost nothing),
  N = 100 and N = 500. The queue fills up (no consumer).
- `sdk-enqueue`: `sdk_tasks` asyncio tasks each awaiting `AsyncClient.enqueue()` for one
  message at a time; the SDK gathers calls made within `linger_ms` (2) up to `max_batch`
  (100) into one EnqueueBatch. This is what an application using the Python SDK gets.
"""

from __future__ import annotations

from bench import load
from bench.harness import Broker, Row, Settings
from bench.load import Job

BATCHES = (100, 500)


async def batch_enqueue(s: Settings) -> list[Row]:
    rows = []
    for n in BATCHES:
        with Broker() as broker:
            await load.setup_queue(broker.addr)
            r = await load.run(s, broker, [Job("enqueue-batch", broker.addr,
                                               tasks=s.batch_producers, batch=n,
                                               keys=s.fairness_keys,
                                               payload_bytes=s.payload_bytes)])
        rows.append(load.row(f"enqueue, EnqueueBatch of {n}", r.window.rate(), "msg/s",
                             f"{s.batch_producers} EnqueueBatch({n}) in flight, {load.shape(s)}",
                             r.window.notes()))
    return rows


async def sdk_enqueue(s: Settings) -> list[Row]:
    with Broker() as broker:
        await load.setup_queue(broker.addr)
        r = await load.run(s, broker, [Job("sdk-enqueue", broker.addr, tasks=s.sdk_tasks,
                                           keys=s.fairness_keys, payload_bytes=s.payload_bytes)])
    return [load.row("SDK enqueue(), 1 msg per call", r.window.rate(), "msg/s",
                     f"{s.sdk_tasks} tasks each awaiting AsyncClient.enqueue() (linger 2 ms, "
                     f"max_batch 100: the SDK batches), {load.shape(s)}", r.window.notes())]
