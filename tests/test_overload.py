"""Overload without collapse: bounded memory, backpressure, idle streams, shutdown under load."""

from __future__ import annotations

import asyncio
import threading
import urllib.request
from pathlib import Path

import grpc
import pytest

from fila.client import Client, FilaError, ResourceExhausted
from fila.v1 import service_pb2, service_pb2_grpc
from tests.conftest import take, wait_for
from tests.fila_process import FilaProcess


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_memory_limit_refuses_with_resource_exhausted_then_recovers(tmp_path: Path) -> None:
    conf = tmp_path / "fila.toml"
    conf.write_text("[limits]\nmax_pending_bytes = 20000\n")
    proc = FilaProcess(tmp_path / "data", config_file=conf).start()
    try:
        with Client(proc.addr, timeout_s=5, reconnect=None) as c:  # no retries: it watches failures
            c.create_queue("q")
            accepted = []
            with pytest.raises(ResourceExhausted, match="max_pending_bytes") as refused:
                for _ in range(1000):
                    accepted.append(c.enqueue("q", b"x" * 1000))
            assert 10 <= len(accepted) < 1000
            assert refused.value.retry_after_s == 0.1  # the broker's hint, from its trailer
            ch = grpc.insecure_channel(proc.addr)
            with ch:
                hot = service_pb2_grpc.FilaServiceStub(ch)
                with pytest.raises(grpc.RpcError) as info:
                    hot.Enqueue(service_pb2.EnqueueRequest(queue="q", payload=b"x"))
                trailers = dict(info.value.trailing_metadata() or ())
                assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert trailers.get("retry-after-ms") == "100"
            with urllib.request.urlopen(proc.metrics_url, timeout=5) as resp:
                metrics = resp.read().decode()
            assert "fila_pending_bytes_limit 20000.0" in metrics
            assert "fila_enqueues_refused_overload_total 2.0" in metrics
            for m in take(c, "q", 10, ack=True):
                accepted.remove(m.id)
            c.enqueue("q", b"fits again")
            assert set(accepted) <= {m.id for m in c.peek("q", 10_000)}
    finally:
        proc.kill()


def test_a_lease_stream_that_stops_reading_holds_only_its_credit(client: Client) -> None:
    client.create_queue("q")
    stream = client.lease("q", credit=8)
    it = iter(stream)
    for i in range(2000):
        client.enqueue("q", str(i))
    next(it)  # then never read again
    wait_for(lambda: client.get_stats("q").in_flight == 8, what="credit to fill")
    stats = client.get_stats("q")
    assert stats.in_flight == 8 and stats.depth == 1992
    stream.close()


def test_a_thousand_idle_streams_are_cheap(client: Client, server: FilaProcess) -> None:
    client.create_queue("q")
    before = rss_bytes(server.proc.pid)  # type: ignore[union-attr]

    async def run() -> None:
        async with grpc.aio.insecure_channel(server.addr) as ch:
            hot = service_pb2_grpc.FilaServiceStub(ch)
            calls = [hot.Consume(service_pb2.ConsumeRequest(queue="q")) for _ in range(1000)]
            await asyncio.to_thread(wait_for, lambda: client.get_stats("q").active_consumers == 1000,
                                    20.0, "1000 consumers")
            grown = rss_bytes(server.proc.pid) - before  # type: ignore[union-attr]
            assert grown < 80 * 1024 * 1024, f"1000 idle streams cost {grown >> 20} MiB"
            mid = await asyncio.to_thread(client.enqueue, "q", b"still responsive")
            got = await asyncio.wait_for(_first_message(calls), timeout=10)
            assert got == mid
            for c in calls:
                c.cancel()

    asyncio.run(run())
    wait_for(lambda: client.get_stats("q").active_consumers == 0, what="streams to close")


async def _first_message(calls: list) -> str:
    async def one(call) -> str:  # type: ignore[no-untyped-def]
        async for resp in call:
            return str(resp.message.id)
        return ""

    tasks = [asyncio.ensure_future(one(c)) for c in calls]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for t in pending:
        t.cancel()
    return next(iter(done)).result()


def test_graceful_shutdown_under_load_loses_nothing(tmp_path: Path) -> None:
    proc = FilaProcess(tmp_path / "data").start()
    with Client(proc.addr, timeout_s=5, reconnect=None) as c:  # no retries: it watches failures
        c.create_queue("q")
    confirmed: set[str] = set()
    lock = threading.Lock()

    def produce() -> None:
        with Client(proc.addr, timeout_s=5, reconnect=None) as c:  # no retries: it watches failures
            while True:
                try:
                    mid = c.enqueue("q", b"x" * 100)
                except FilaError:
                    return
                with lock:
                    confirmed.add(mid)

    threads = [threading.Thread(target=produce) for _ in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: len(confirmed) > 300, what="load")
    assert proc.terminate() == 0
    for t in threads:
        t.join(10)
    proc.start()
    with Client(proc.addr, timeout_s=5, reconnect=None) as c:  # no retries: it watches failures
        present = {m.id for m in c.peek("q", 10_000)}
    assert confirmed <= present
    proc.kill()


def test_thousands_of_concurrent_unary_calls_are_all_answered(client: Client,
                                                              server: FilaProcess) -> None:
    """An old client acks every message on its own, and the Consume stream pushes up to 2,000
    unacked per stream: eight streams mean up to 16,000 Ack RPCs at once. gRPC's core holds
    calls the server has not picked up yet in a queue it caps at 3,000 by default and cancels
    the rest (CANCELLED, no details); the broker raises that cap, so every call is answered."""
    client.create_queue("q")

    async def burst() -> list[object]:
        async with grpc.aio.insecure_channel(server.addr) as ch:
            hot = service_pb2_grpc.FilaServiceStub(ch)
            calls = [hot.Enqueue(service_pb2.EnqueueRequest(queue="q", payload=str(i).encode()))
                     for i in range(8000)]
            return await asyncio.gather(*calls, return_exceptions=True)

    answers = asyncio.run(burst())
    failed = [a for a in answers if isinstance(a, BaseException)]
    assert not failed, f"{len(failed)} of 8000 failed, first: {failed[0]!r}"
    assert client.get_stats("q").depth == 8000
