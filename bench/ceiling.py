"""The bare grpcio ceiling: what grpc.aio itself does on this machine, with no broker behind it.

One server process (run this module with `serve`) offers two things on one port:

- `bench.Echo/Echo`: a trivial unary echo. The client keeps as many calls in flight as the
  old-client enqueue scenario, each carrying the bytes of a real 100-byte `EnqueueRequest`.
- a **fake `fila.v1.FilaService`**: `Enqueue`, `Consume`, `Ack`, `EnqueueBatch`, `Lease` and
  `AckBatch` over an in-memory deque: no durability, no Lua, no scheduler, no parsing of
  enqueued messages (the request bytes are sent back as the `Message`, with an id appended),
  the same credit rule as Fila (8 per `Consume` stream, the asked credit per `Lease`
  stream), each consumer filled up to its credit before the next. The very same load workers that drive Fila drive it, so a lifecycle run against
  it is the most that RPC pattern can reach here: the ceiling Fila's figures are set against.

    python -m bench.ceiling serve     # prints "ceiling listening on 127.0.0.1:PORT"
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc

from bench import workers
from bench.harness import Counter, Row, ServerProcess, Settings, measure, percentile
from bench.workers import Job, Load
from fila.engine.codec import varint
from fila.v1 import service_pb2

SERVICE, METHOD = "bench.Echo", "Echo"
SERIAL_CALLS = 200
CHANNEL_OPTIONS = workers.CHANNEL_OPTIONS  # the same options as fila.client uses
CONSUME_CREDIT = 100  # as Fila's CONSUME_WINDOW (Fila then grows it as frames are written)

_ID = b"\x0a\x24"  # field 1 (Message.id / EnqueueResponse.message_id), 36 bytes
_RESULT = b"\x0a\x26"  # field 1 (results), 38 bytes: one (_ID + id)


class CeilingServer(ServerProcess):
    name = "ceiling"

    def command(self, workdir: Path) -> list[str]:
        return [sys.executable, "-m", "bench.ceiling", "serve"]


def _items(data: bytes) -> list[bytes]:
    """The length-delimited values of a message made only of field 1 (a repeated message)."""
    out = []
    i, end = 0, len(data)
    while i < end:
        i += 1  # the tag
        length = shift = 0
        while True:
            b = data[i]
            i += 1
            length |= (b & 0x7F) << shift
            if b < 0x80:
                break
            shift += 7
        out.append(data[i:i + length])
        i += length
    return out


class _Consumer:
    __slots__ = ("credit", "outbox", "wake", "closed")

    def __init__(self, credit: int) -> None:
        self.credit = credit
        self.outbox: list[bytes] = []
        self.wake = asyncio.Event()
        self.closed = False


class FakeBroker:
    """Fila's RPC pattern over a deque. The enqueued request bytes become the delivered
    `Message`: EnqueueRequest and Message share fields 2 (headers) and 3 (payload), and an
    appended field 1 (the id) overrides the queue name there (the last value wins)."""

    def __init__(self) -> None:
        self.ready: deque[tuple[bytes, bytes]] = deque()  # (id, Message bytes)
        self.hungry: deque[_Consumer] = deque()
        self.leased: dict[bytes, _Consumer] = {}
        self.seq = 0

    def _accept(self, request: bytes) -> bytes:
        self.seq += 1
        mid = b"%036d" % self.seq
        self.ready.append((mid, request + _ID + mid))
        return mid

    def _dispatch(self) -> None:
        """Fill the first hungry consumer up to its credit, then the next: as few, as full
        responses as the credit allows (the cheapest way for gRPC, hence the ceiling)."""
        ready, hungry, leased = self.ready, self.hungry, self.leased
        while ready and hungry:
            c = hungry[0]
            if not c.outbox:
                c.wake.set()
            while ready and c.credit > 0:
                mid, msg = ready.popleft()
                leased[mid] = c
                c.outbox.append(msg)
                c.credit -= 1
            if c.credit <= 0:
                hungry.popleft()

    def _free(self, mid: bytes) -> None:
        c = self.leased.pop(mid, None)
        if c is not None and not c.closed:
            c.credit += 1
            if c.credit == 1:
                self.hungry.append(c)

    def _add(self, credit: int) -> _Consumer:
        c = _Consumer(credit)
        self.hungry.append(c)
        self._dispatch()
        return c

    def _remove(self, c: _Consumer) -> None:
        c.closed = True
        try:
            self.hungry.remove(c)
        except ValueError:
            pass

    async def enqueue(self, request: bytes, context: Any) -> bytes:
        mid = self._accept(request)
        self._dispatch()
        return _ID + mid

    async def enqueue_batch(self, request: bytes, context: Any) -> bytes:
        out = [_RESULT + _ID + self._accept(item) for item in _items(request)]
        self._dispatch()
        return b"".join(out)

    async def ack(self, request: bytes, context: Any) -> bytes:
        self._free(service_pb2.AckRequest.FromString(request).message_id.encode())
        self._dispatch()
        return b""

    async def ack_batch(self, request: bytes, context: Any) -> bytes:
        out = []
        for mid in service_pb2.AckBatchRequest.FromString(request).message_ids:
            b = mid.encode()
            self._free(b)
            out.append(_RESULT + _ID + b)
        self._dispatch()
        return b"".join(out)

    async def consume(self, request: bytes, context: Any) -> AsyncIterator[bytes]:
        c = self._add(CONSUME_CREDIT)
        try:
            while True:
                await c.wake.wait()
                c.wake.clear()
                out, c.outbox = c.outbox, []
                for msg in out:
                    yield b"\x0a" + varint(len(msg)) + msg
        finally:
            self._remove(c)

    async def lease(self, requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
        first = service_pb2.LeaseRequest.FromString(await anext(aiter(requests)))
        max_batch = first.max_batch or 100
        c = self._add(first.credit)
        try:
            while True:
                await c.wake.wait()
                c.wake.clear()
                while c.outbox:
                    out, c.outbox = c.outbox[:max_batch], c.outbox[max_batch:]
                    yield b"".join([b"\x0a" + varint(len(m)) + m for m in out])
        finally:
            self._remove(c)

    def handler(self) -> grpc.GenericRpcHandler:
        unary = grpc.unary_unary_rpc_method_handler
        return grpc.method_handlers_generic_handler("fila.v1.FilaService", {
            "Enqueue": unary(self.enqueue),
            "EnqueueBatch": unary(self.enqueue_batch),
            "Ack": unary(self.ack),
            "AckBatch": unary(self.ack_batch),
            "Consume": grpc.unary_stream_rpc_method_handler(self.consume),
            "Lease": grpc.stream_stream_rpc_method_handler(self.lease),
        })


async def _echo(request: bytes, context: Any) -> bytes:
    return request


async def serve() -> None:
    server = grpc.aio.server(options=CHANNEL_OPTIONS)
    echo = grpc.method_handlers_generic_handler(
        SERVICE, {METHOD: grpc.unary_unary_rpc_method_handler(_echo)}
    )
    server.add_generic_rpc_handlers([echo, FakeBroker().handler()])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"ceiling listening on 127.0.0.1:{port}", flush=True)
    await server.wait_for_termination()


async def _echo_rows(s: Settings, server: ServerProcess) -> list[Row]:
    request = service_pb2.EnqueueRequest(
        queue=workers.QUEUE, headers=workers.tenant(0), payload=workers.payload(s.payload_bytes)
    ).SerializeToString()
    async with grpc.aio.insecure_channel(server.addr, options=CHANNEL_OPTIONS) as channel:
        call = channel.unary_unary(f"/{SERVICE}/{METHOD}")
        serial: list[float] = []
        for _ in range(SERIAL_CALLS):
            t0 = time.perf_counter()
            await call(request)
            serial.append(time.perf_counter() - t0)
        done, stop = Counter(), asyncio.Event()

        async def caller() -> None:
            while not stop.is_set():
                await call(request)
                done.add()

        tasks = [asyncio.create_task(caller()) for _ in range(s.producers)]
        window = await measure([done], server, s.warmup_s, s.measure_s)
        stop.set()
        await asyncio.gather(*tasks)
    return [
        Row("grpc echo ceiling", window.rate(), "calls/s",
            f"grpc.aio unary echo, {s.producers} in flight from this process, {len(request)} B "
            f"requests; {window.notes(what='call')}"),
        Row("grpc echo round trip p50", percentile(serial, 50) * 1e3, "ms",
            f"1 call in flight, {SERIAL_CALLS} calls"),
    ]


async def _lifecycle(s: Settings, server: ServerProcess, jobs: list[Job], name: str,
                     shape: str) -> Row:
    async with Load(jobs) as load:
        window = await measure(load.counters, server, s.warmup_s, s.measure_s, clients=load.pids)
    return Row(name, window.rate(0), "msg/s", f"{shape}; {window.notes(0)}")


async def grpc_ceiling(s: Settings) -> list[Row]:
    with CeilingServer() as server:
        rows = await _echo_rows(s, server)
        addr = server.addr
        rows.append(await _lifecycle(
            s, server,
            [Job("consume", addr, tasks=s.consumers), Job("enqueue", addr, tasks=s.producers)],
            "ceiling lifecycle, 1 msg/RPC",
            f"fake broker (no storage, no scheduler), old-client pattern: {s.producers} Enqueue "
            f"in flight + {s.consumers} Consume streams, 1 Ack per message"))
        for n in (100, 500):
            rows.append(await _lifecycle(
                s, server,
                [Job("lease", addr, tasks=s.batch_consumers, batch=n,
                     credit=s.credit_batches * n),
                 Job("enqueue-batch", addr, tasks=s.batch_producers, batch=n)],
                f"ceiling lifecycle, {n} msgs/RPC",
                f"fake broker, batched pattern: {s.batch_producers} EnqueueBatch({n}) in flight + "
                f"{s.batch_consumers} Lease streams, 1 AckBatch per response"))
        # The old clients' unary Enqueue from the same worker as Fila's `enqueue` row (the
        # echo above is driven from this process, so it is not the same client).
        rows.append(await _lifecycle(
            s, server, [Job("enqueue", addr, tasks=s.producers)],
            "ceiling enqueue, 1 msg/RPC",
            f"fake broker, old-client pattern: {s.producers} Enqueue in flight, no consumer"))
    return rows


if __name__ == "__main__":
    if sys.argv[1:] != ["serve"]:
        sys.exit("usage: python -m bench.ceiling serve")
    asyncio.run(serve())
