"""Fair scheduling: acme floods the queue, globex and initech send a few messages each, and
one consumer still sees the three tenants take turns."""

import asyncio
import os

from fila.client import AlreadyExists, AsyncClient

HOOK = "function on_enqueue(msg) return { fairness_key = msg.headers.tenant } end"


async def main() -> None:
    async with AsyncClient(os.environ.get("FILA_ADDR", "127.0.0.1:5555")) as fila:
        try:
            await fila.create_queue("fair-demo", on_enqueue=HOOK)
        except AlreadyExists:
            pass
        tenants = ["acme"] * 8 + ["globex"] * 3 + ["initech"] * 3  # acme first, 8 of them
        for tenant in tenants:  # in this order: a FIFO queue would hand out acme's 8 first
            await fila.enqueue("fair-demo", b"job", {"tenant": tenant})
        order = []
        async for msg in fila.lease("fair-demo", credit=1):  # one consumer, one at a time
            order.append(msg.fairness_key)
            await fila.ack("fair-demo", msg.id, msg.lease_id)
            if len(order) == len(tenants):
                break
        print(" ".join(order))


asyncio.run(main())
