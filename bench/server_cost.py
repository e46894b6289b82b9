"""The broker's own CPU per message on the batched lifecycle, without the gRPC transport.

`python -m bench.server_cost` drives the real `fila.v1` handlers (fila.server.hot_path.HotPath)
in this process, with the real CoreLoop (one RocksDB write per turn, the group-commit fsync
thread) on a temporary data dir: EnqueueBatch requests are parsed from bytes, as gRPC's
deserializer does; a Lease stream's responses are taken as bytes and acked with AckBatch
requests parsed from bytes. What is left out is gRPC's C core and its per-RPC Python
(`bench/ceiling.py` measures those), so the figure is the part of the broker's cost that is
ours to cut. It runs in seconds, so a change to the hot path can be weighed before a full
`python -m bench` run; `--profile` prints the top frames (cProfile, by own time).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from bench.load import TENANT_HOOK
from bench.workers import payload, tenant
from fila.engine import Broker, QueueSettings, Storage
from fila.server.auth import Auth
from fila.server.core_loop import CoreLoop
from fila.server.hot_path import HotPath
from fila.v1 import service_pb2 as pb

QUEUE = "bench"


class _Context:
    """What the handlers use of a grpc.aio.ServicerContext, for an RPC that goes well."""

    def __init__(self) -> None:
        self._done: list[Callable[[Any], None]] = []

    def invocation_metadata(self) -> tuple[()]:
        return ()

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        self._done.append(fn)

    def done(self) -> bool:
        return False

    def set_trailing_metadata(self, md: Any) -> None:
        pass

    async def abort(self, code: Any, details: str) -> None:
        raise RuntimeError(f"{code}: {details}")


def _serialized(response: Any) -> bytes:
    """What gRPC sends: the handler's bytes, or its message serialized."""
    return response if type(response) is bytes else response.SerializeToString()


async def _answer(call: Any) -> bytes:
    return _serialized(await call)


def _requests(batch: int, keys: int, payload_bytes: int) -> list[bytes]:
    body = payload(payload_bytes)
    out = []
    for r in range(max(1, keys // batch)):
        msgs = [pb.EnqueueRequest(queue=QUEUE, headers=tenant((r * batch + i) % keys), payload=body)
                for i in range(batch)]
        out.append(pb.EnqueueBatchRequest(messages=msgs).SerializeToString())
    return out


async def _run(messages: int, batch: int, keys: int, payload_bytes: int, hook: str,
               profile: cProfile.Profile | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="fila-cost-") as tmp:
        storage = Storage(tmp)
        broker = Broker(storage)
        broker.create_queue(QUEUE, QueueSettings(on_enqueue_script=hook))
        core = CoreLoop(broker, storage)
        hot = HotPath(core, Auth(broker.api_keys, None))
        requests = _requests(batch, keys, payload_bytes)
        parse_enqueue = pb.EnqueueBatchRequest.FromString
        parse_ack = pb.AckBatchRequest.FromString
        parse_lease = pb.LeaseResponse.FromString
        acked = 0
        stop = asyncio.Event()

        async def lease_requests() -> AsyncIterator[pb.LeaseRequest]:
            yield pb.LeaseRequest(queue=QUEUE, credit=4 * batch, max_batch=batch)
            await stop.wait()

        async def produce() -> None:
            ctx = _Context()
            for i in range(messages // batch):
                _serialized(await hot.enqueue_batch(parse_enqueue(requests[i % len(requests)]), ctx))

        async def consume() -> None:
            nonlocal acked
            ctx = _Context()
            stream: Any = hot.lease(lease_requests(), ctx)
            pending: set[asyncio.Task[Any]] = set()
            async for raw in stream:
                ids = [m.id for m in parse_lease(raw).messages]
                ack = pb.AckBatchRequest(queue=QUEUE, message_ids=ids).SerializeToString()
                t = asyncio.create_task(_answer(hot.ack_batch(parse_ack(ack), ctx)))
                pending.add(t)
                t.add_done_callback(pending.discard)
                acked += len(ids)
                if acked >= messages:
                    break
            await asyncio.gather(*pending)
            await stream.aclose()

        if profile is not None:
            profile.enable()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.gather(produce(), consume())
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        if profile is not None:
            profile.disable()
        stop.set()
        await core.close()
        storage.close()
    return {"messages": acked, "cpu_us_per_msg": cpu / acked * 1e6, "msg_per_s": acked / wall}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.server_cost", description=__doc__.split("\n")[0])
    p.add_argument("--messages", type=int, default=200_000)
    p.add_argument("--batch", type=int, default=100, help="messages per EnqueueBatch / Lease response")
    p.add_argument("--keys", type=int, default=1000, help="fairness keys (tenants)")
    p.add_argument("--payload-bytes", type=int, default=100)
    p.add_argument("--no-hook", action="store_true", help="no on_enqueue hook (one fairness key)")
    p.add_argument("--profile", action="store_true", help="print the top frames by own time")
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args(argv)
    prof = cProfile.Profile() if args.profile else None
    r = asyncio.run(_run(args.messages, args.batch, args.keys, args.payload_bytes,
                         "" if args.no_hook else TENANT_HOOK, prof))
    print(f"{r['messages']:,} messages, batches of {args.batch}, {args.keys} keys: "
          f"{r['cpu_us_per_msg']:.1f} µs of CPU per message (this process, fsync thread "
          f"included), {r['msg_per_s']:,.0f} msg/s")
    if prof is not None:
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
