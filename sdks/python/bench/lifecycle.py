"""The batched lifecycle through the Python SDK, shaped like sdks/go/bench and sdks/js/bench:
produce N 100-byte messages with AsyncClient.enqueue() (64 tasks; the client batches them into
EnqueueBatch) while one lease stream (credit 1,000) takes them and acks each (acks batched into
AckBatch); print the acked messages per second.

    PYTHONPATH=. .venv/bin/python sdks/python/bench/lifecycle.py  # starts a broker, N=200,000
    .venv/bin/python sdks/python/bench/lifecycle.py --addr 127.0.0.1:5555 -n 50000
"""

from __future__ import annotations

import argparse
import asyncio
import time

from fila.client import AsyncClient

TASKS = 64


async def run(addr: str, n: int, size: int, credit: int) -> None:
    async with AsyncClient(addr, timeout_s=60, linger_ms=5, max_batch=1000) as c:
        queue = f"bench-{time.time_ns()}"
        await c.create_queue(queue)
        payload = b"x" * size
        start = time.perf_counter()

        async def produce(count: int) -> None:
            for _ in range(count):
                await c.enqueue(queue, payload)

        async def consume() -> float:
            acks = []
            seen = 0
            async for msg in c.lease(queue, credit=credit, max_batch=min(credit, 1000)):
                acks.append(asyncio.ensure_future(c.ack(queue, msg.id, msg.lease_id)))
                seen += 1
                if seen == n:
                    break
            await asyncio.gather(*acks)
            return time.perf_counter() - start

        consumer = asyncio.ensure_future(consume())
        await asyncio.gather(*(produce(n // TASKS + (i < n % TASKS)) for i in range(TASKS)))
        produced = time.perf_counter() - start
        took = await consumer
        print(f"produced {n} x {size} B in {produced:.2f}s ({n / produced:,.0f} msg/s)")
        print(f"acked    {n} in {took:.2f}s: {n / took:,.0f} acked msg/s")
        await c.delete_queue(queue)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--addr", default="")
    p.add_argument("-n", type=int, default=200_000)
    p.add_argument("--size", type=int, default=100)
    p.add_argument("--credit", type=int, default=1000)
    a = p.parse_args()
    if a.addr:
        asyncio.run(run(a.addr, a.n, a.size, a.credit))
        return
    from bench.harness import Broker  # this checkout's broker, on a temp data dir

    with Broker() as broker:
        print(f"started fila serve on {broker.addr}")
        asyncio.run(run(broker.addr, a.n, a.size, a.credit))


if __name__ == "__main__":
    main()
