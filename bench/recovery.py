"""A million pending messages: what they cost in memory, and how long a restart takes.

The queue is filled with `pending` messages (EnqueueBatch of 500, no consumer) on a data dir
that outlives the broker. Then the broker is killed (SIGKILL: no shutdown, as in a crash),
a new one is started on the same data dir, and we time from spawning it until the first
message arrives on a Lease stream: interpreter start, recovery of every message from
RocksDB, the port opening, the first delivery.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc

from bench import load
from bench.harness import Broker, Row, Settings
from bench.workers import CHANNEL_OPTIONS, QUEUE, SERVICE
from fila.v1 import service_pb2

RESTART_TIMEOUT_S = 300.0
_RECOVERED_MS = re.compile(r"recovered_ms=(\d+)")


async def _first_lease(addr: str) -> float:
    """Open a Lease stream and wait for its first message; returns perf_counter() then."""
    async with grpc.aio.insecure_channel(addr, options=CHANNEL_OPTIONS) as channel:
        lease = channel.stream_stream(
            SERVICE + "Lease", request_serializer=service_pb2.LeaseRequest.SerializeToString,
            response_deserializer=service_pb2.LeaseResponse.FromString)
        got = asyncio.Event()

        async def requests() -> AsyncIterator[service_pb2.LeaseRequest]:
            yield service_pb2.LeaseRequest(queue=QUEUE, credit=1, max_batch=1)
            await got.wait()

        call = lease(requests())
        async for resp in call:
            if resp.messages:
                break
        at = time.perf_counter()
        got.set()
        call.cancel()
        return at


def _mb(n: int | None) -> float:
    return float("nan") if n is None else n / 1e6


async def pending(s: Settings) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="fila-bench-pending-") as tmp:
        data = Path(tmp) / "data"
        first = Broker(data_dir=data)
        with first:
            await load.setup_queue(first.addr)
            await asyncio.sleep(0.5)
            rss_empty = first.rss_bytes()
            t0 = time.perf_counter()
            filled = await load.fill(first.addr, s.pending, keys=s.fairness_keys,
                                     payload_bytes=s.payload_bytes)
            fill_s = time.perf_counter() - t0
            st = await load.stats(first.addr)
            rss_full = first.rss_bytes()
            first.kill()

        second = Broker(data_dir=data)
        with second.start(timeout_s=RESTART_TIMEOUT_S):
            listening_s = time.perf_counter() - second.started_at
            served_s = await _first_lease(second.addr) - second.started_at
            rss_recovered = second.rss_bytes()
            after = await load.stats(second.addr)
            m = _RECOVERED_MS.search(second.log_text())
            recovery_ms = int(m.group(1)) if m else None

    per_msg = ((rss_full - rss_empty) / st.depth
               if rss_full is not None and rss_empty is not None and st.depth else float("nan"))
    return [
        load.row("pending messages held", st.depth, "msgs",
                 f"filled with EnqueueBatch(500) in {fill_s:.1f} s "
                 f"({filled / fill_s:,.0f} msg/s into a growing backlog), no consumer, "
                 f"{load.shape(s)}"),
        load.row("broker RSS with them", _mb(rss_full), "MB",
                 f"{_mb(rss_empty):.0f} MB empty; {per_msg:,.0f} B per pending message"),
        load.row("broker RSS after restart", _mb(rss_recovered), "MB",
                 f"{after.depth + after.in_flight:,} messages recovered"),
        load.row("restart to first lease", served_s, "s",
                 "SIGKILL, then spawn a new broker on the same data dir -> first message on "
                 f"a Lease stream; listening after {listening_s:.2f} s"
                 + (f", recovery itself {recovery_ms / 1000:.2f} s" if recovery_ms is not None
                    else "")),
    ]
