"""The full lifecycle at once: producers enqueue while consumers lease and ack.

The headline is acked msg/s: a message counts once it has been enqueued, leased and acked.

- `lifecycle` (old clients): `Enqueue` one message per RPC, `Consume` streams, one `Ack` per
  message, from the generated stubs.
- `batch-lifecycle`: producers each with one `EnqueueBatch` of N prebuilt messages in flight,
  consumers reading `Lease` streams (credit 4*N, N per response) and acking each response
  with one `AckBatch`; N = 100 and N = 500.
- `consumers`: the batched lifecycle (N = 100) with 1, 10 and 100 Lease streams.
- `payload-64k`: the batched lifecycle with 64 KB payloads.
"""

from __future__ import annotations

from bench import load
from bench.harness import Broker, Row, Settings
from bench.load import Job

BATCHES = (100, 500)
CONSUMER_COUNTS = (1, 10, 100)


async def lifecycle(s: Settings) -> list[Row]:
    """Old clients: `producers` single-message Enqueue RPCs in flight, `consumers` Consume
    streams acking one message per Ack RPC."""
    with Broker() as broker:
        await load.setup_queue(broker.addr)
        jobs = [Job("consume", broker.addr, tasks=s.consumers),
                Job("enqueue", broker.addr, tasks=s.producers, keys=s.fairness_keys,
                    payload_bytes=s.payload_bytes)]
        r = await load.run(s, broker, jobs)
    shape = (f"{s.producers} Enqueue in flight + {s.consumers} Consume streams, 1 msg/RPC, "
             f"raw fila.v1 stubs, {load.shape(s)}")
    return [load.row("lifecycle acked, 1 msg/RPC", r.window.rate(0), "msg/s", shape,
                     r.window.notes(0), r.backlog_note())]


async def batched(s: Settings, batch: int, *, consumers: int | None = None,
                  keys: int | None = None, payload_bytes: int | None = None,
                  hook: str = load.TENANT_HOOK, setup: load.Setup | None = None,
                  measure_s: float | None = None) -> load.Run:
    """One batched lifecycle run on a fresh broker."""
    with Broker() as broker:
        await load.setup_queue(broker.addr, hook, setup)
        jobs = load.lifecycle_jobs(s, broker.addr, batch, consumers=consumers, keys=keys,
                                   payload_bytes=payload_bytes)
        return await load.run(s, broker, jobs, measure_s)


def batched_shape(s: Settings, batch: int, consumers: int | None = None) -> str:
    c = s.batch_consumers if consumers is None else consumers
    return (f"{s.batch_producers} EnqueueBatch({batch}) in flight + {c} Lease "
            f"stream{'s' if c > 1 else ''} "
            f"(credit {s.credit_batches * batch}), 1 AckBatch per response")


async def batch_lifecycle(s: Settings) -> list[Row]:
    rows = []
    for n in BATCHES:
        r = await batched(s, n)
        rows.append(load.row(f"lifecycle acked, {n} msgs/RPC", r.window.rate(0), "msg/s",
                             f"{batched_shape(s, n)}, {load.shape(s)}", r.window.notes(0),
                             r.backlog_note()))
    return rows


async def consumers(s: Settings) -> list[Row]:
    rows = []
    for c in CONSUMER_COUNTS:
        r = await batched(s, 100, consumers=c)
        rows.append(load.row(f"lifecycle acked, {c} Lease stream{'s' if c > 1 else ''}",
                             r.window.rate(0), "msg/s", f"{batched_shape(s, 100, c)}, "
                             f"{load.shape(s)}", r.window.notes(0), r.backlog_note()))
    return rows


async def payload_64k(s: Settings) -> list[Row]:
    size, n = s.big_payload_bytes, s.big_batch
    r = await batched(s, n, payload_bytes=size)
    rate = r.window.rate(0)
    return [
        load.row(f"lifecycle acked, {size // 1024} KB payloads", rate, "msg/s",
                 f"{batched_shape(s, n)}, {load.shape(s, payload_bytes=size)}",
                 r.window.notes(0), r.backlog_note()),
        load.row(f"lifecycle acked, {size // 1024} KB payloads (bytes)", rate * size / 1e6,
                 "MB/s", "payload bytes acked per second"),
    ]
