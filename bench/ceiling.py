"""The bare grpcio ceiling: what grpc.aio itself does on this machine, one RPC per call.

A trivial grpc.aio unary echo server runs in its own process (run this module with `serve`);
the client keeps the same number of calls in flight as the enqueue producers, each carrying
the bytes of a real 100-byte `EnqueueRequest`. Fila does one RPC per message today, so this
is the most any such scenario could reach here; a batched variant is the way past it.

    python -m bench.ceiling serve     # prints "echo listening on 127.0.0.1:PORT"
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import grpc

from bench import load
from bench.harness import Counter, Row, ServerProcess, Settings, measure, percentile
from fila.v1 import service_pb2

SERVICE, METHOD = "bench.Echo", "Echo"
SERIAL_CALLS = 200
# the same channel options as fila.client uses
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]


class EchoServer(ServerProcess):
    name = "echo"

    def command(self, workdir: Path) -> list[str]:
        return [sys.executable, "-m", "bench.ceiling", "serve"]


async def _echo(request: bytes, context: Any) -> bytes:
    return request


async def serve() -> None:
    server = grpc.aio.server(options=CHANNEL_OPTIONS)
    handler = grpc.method_handlers_generic_handler(
        SERVICE, {METHOD: grpc.unary_unary_rpc_method_handler(_echo)}
    )
    server.add_generic_rpc_handlers([handler])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"echo listening on 127.0.0.1:{port}", flush=True)
    await server.wait_for_termination()


async def grpc_ceiling(s: Settings) -> list[Row]:
    request = service_pb2.EnqueueRequest(
        queue="bench", headers=load.tenant_headers(1)[0], payload=load.payload(s.payload_bytes)
    ).SerializeToString()
    with EchoServer() as server:
        async with grpc.aio.insecure_channel(server.addr, options=CHANNEL_OPTIONS) as channel:
            call = channel.unary_unary(f"/{SERVICE}/{METHOD}")

            async def send(i: int) -> int:
                await call(request)
                return 1

            serial: list[float] = []
            for _ in range(SERIAL_CALLS):
                t0 = time.perf_counter()
                await send(0)
                serial.append(time.perf_counter() - t0)
            done, stop = Counter(), asyncio.Event()
            tasks = load.start_producers(send, s.producers, done, stop)
            window = await measure([done], server, s.warmup_s, s.measure_s)
            await load.finish(stop, tasks)
    return [
        Row("grpc echo ceiling", window.rate(), "calls/s",
            f"grpc.aio unary echo, {s.producers} in flight, {len(request)} B requests; "
            f"{window.notes(what='call')}"),
        Row("grpc echo round trip p50", percentile(serial, 50) * 1e3, "ms",
            f"1 call in flight, {SERIAL_CALLS} calls"),
    ]


if __name__ == "__main__":
    if sys.argv[1:] != ["serve"]:
        sys.exit("usage: python -m bench.ceiling serve")
    asyncio.run(serve())
