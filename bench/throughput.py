"""Old clients: one message per RPC on the original fila.v1 calls, no batching.

`Enqueue` / `Consume` / `Ack` straight from the generated stubs over a grpc.aio channel
(what a client written for the original Fila does), in worker processes. These are the
"old clients" figures; batched ones are in bench/batched.py and bench/lifecycle.py.
"""

from __future__ import annotations

from bench import load
from bench.harness import Broker, Row, Settings
from bench.load import Job


def _old(s: Settings) -> str:
    return f"1 msg/RPC, raw fila.v1 stubs, {load.shape(s)}"


async def enqueue(s: Settings) -> list[Row]:
    """`producers` single-message Enqueue RPCs in flight."""
    with Broker() as broker:
        await load.setup_queue(broker.addr)
        r = await load.run(s, broker, [Job("enqueue", broker.addr, tasks=s.producers,
                                           keys=s.fairness_keys, payload_bytes=s.payload_bytes)])
    w = r.window
    return [load.row("enqueue, 1 msg/RPC", w.rate(), "msg/s",
                     f"{s.producers} Enqueue in flight, {_old(s)}", w.notes())]


async def consume(s: Settings) -> list[Row]:
    """Pre-fill (with EnqueueBatch, fast), then `consumers` Consume streams lease and ack."""
    with Broker() as broker:
        await load.setup_queue(broker.addr)
        filled = await load.fill(broker.addr, s.consume_fill, keys=s.fairness_keys,
                                 payload_bytes=s.payload_bytes)
        r = await load.run(s, broker, [Job("consume", broker.addr, tasks=s.consumers)])
    w = r.window
    ran_out = " (ran dry: raise consume_fill)" if r.depth == 0 and r.in_flight == 0 else ""
    return [load.row("consume+ack, 1 msg/RPC", w.rate(), "msg/s",
                     f"{s.consumers} Consume streams, 1 Ack RPC per message (pipelined), "
                     f"queue pre-filled with {filled:,}{ran_out}, {_old(s)}", w.notes())]
