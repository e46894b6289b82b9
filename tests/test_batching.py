"""Batch RPCs, credit-based lease flow control and the SDK's automatic batching."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from fila.client import AsyncClient, Client, FailedPrecondition, InvalidArgument, NotFound
from fila.v1 import service_pb2, service_pb2_grpc
from tests.fila_process import FilaProcess


def stub(server: FilaProcess) -> tuple[grpc.Channel, service_pb2_grpc.FilaServiceStub]:
    ch = grpc.insecure_channel(server.addr)
    return ch, service_pb2_grpc.FilaServiceStub(ch)


def test_enqueue_batch_gives_a_result_per_message(client: Client, server: FilaProcess) -> None:
    client.create_queue("q")
    ch, hot = stub(server)
    with ch:
        resp = hot.EnqueueBatch(service_pb2.EnqueueBatchRequest(messages=[
            service_pb2.EnqueueRequest(queue="q", payload=b"1"),
            service_pb2.EnqueueRequest(queue="missing", payload=b"2"),
            service_pb2.EnqueueRequest(queue="q", payload=b"x" * (2 * 1024 * 1024)),
            service_pb2.EnqueueRequest(queue="q", payload=b"4"),
        ]))
    ok, missing, huge, ok2 = resp.results
    assert ok.message_id and ok2.message_id and not ok.HasField("error")
    assert missing.error.code == "NOT_FOUND" and "missing" in missing.error.message
    assert huge.error.code == "INVALID_ARGUMENT" and "payload" in huge.error.message
    assert client.get_stats("q").depth == 2  # the bad ones did not fail the others


def test_ack_batch_result_per_id(client: Client, server: FilaProcess) -> None:
    client.create_queue("q")
    for i in range(3):
        client.enqueue("q", str(i))
    ch, hot = stub(server)
    with ch:
        call = hot.Lease(iter([service_pb2.LeaseRequest(queue="q", credit=10)]))
        got = []
        for resp in call:
            got += [m.id for m in resp.messages]
            if len(got) == 3:
                break
        call.cancel()
        resp = hot.AckBatch(service_pb2.AckBatchRequest(queue="q", message_ids=[got[0], "nope", got[0]]))
        codes = [r.error.code for r in resp.results]
        assert codes == ["", "NOT_FOUND", "NOT_FOUND"]
        nack = hot.NackBatch(service_pb2.NackBatchRequest(
            queue="q", items=[service_pb2.NackItem(message_id=got[1], error="e")]))
        assert not nack.results[0].HasField("error")


def test_lease_never_exceeds_credit(client: Client, server: FilaProcess) -> None:
    client.create_queue("q")
    for i in range(50):
        client.enqueue("q", str(i))
    ch, hot = stub(server)
    with ch:
        call = hot.Lease(iter([service_pb2.LeaseRequest(queue="q", credit=7)]))
        got: list[str] = []
        for resp in call:
            got += [m.id for m in resp.messages]
            if len(got) >= 7:
                break
        stats = client.get_stats("q")
        assert stats.in_flight == 7 and stats.depth == 43  # no more than the credit
        client.ack("q", got[0])
        resp = next(iter(call))  # an ack frees exactly one
        assert len(resp.messages) == 1
        assert client.get_stats("q").in_flight == 7
        call.cancel()


def test_lease_credit_must_be_positive(server: FilaProcess) -> None:
    ch, hot = stub(server)
    with ch, pytest.raises(grpc.RpcError) as info:
        list(hot.Lease(iter([service_pb2.LeaseRequest(queue="q", credit=0)])))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "credit" in info.value.details()


def test_extend_lease_keeps_a_long_job(client: Client, server: FilaProcess) -> None:
    async def run() -> None:
        async with AsyncClient(server.addr) as c:
            await c.create_queue("q", visibility_timeout_ms=300)
            mid = await c.enqueue("q", b"long job")
            stream = c.lease("q", credit=1)
            async for msg in stream:
                assert msg.id == mid
                break
            for _ in range(4):  # 4 x 150 ms: past the 300 ms timeout, but kept alive
                await c.extend_lease("q", [mid], 300)
                await asyncio.sleep(0.15)
            assert (await c.get_stats("q")).in_flight == 1
            await c.ack("q", mid)
            stream.close()
            with pytest.raises(NotFound):
                await c.extend_lease("q", [mid], 300)
            mid2 = await c.enqueue("q", b"other")
            stream = c.lease("q", credit=1)
            async for msg in stream:
                assert msg.id == mid2
                break
            with pytest.raises(InvalidArgument, match="extend_ms"):
                await c.extend_lease("q", [mid2], 10**12)
            stream.close()

    asyncio.run(run())


def test_sdk_batches_many_concurrent_enqueues_and_acks(server: FilaProcess) -> None:
    async def run() -> None:
        async with AsyncClient(server.addr, linger_ms=5, max_batch=50) as c:
            await c.create_queue("q", on_enqueue="function on_enqueue(m) return {fairness_key=m.headers.t} end")
            ids = await asyncio.gather(*(c.enqueue("q", str(i), {"t": str(i % 5)}) for i in range(500)))
            assert len(set(ids)) == 500
            with pytest.raises(NotFound):
                await c.enqueue("nope", b"x")  # a refused message raises for its own caller
            seen: list[str] = []
            stream = c.lease("q", credit=100)
            acks = []
            async for msg in stream:
                seen.append(msg.id)
                acks.append(asyncio.ensure_future(c.ack("q", msg.id)))
                if len(seen) == 500:
                    break
            await asyncio.gather(*acks)
            stream.close()
            assert sorted(seen) == sorted(ids)
            stats = await c.get_stats("q")
            assert (stats.depth, stats.in_flight, stats.totals["acked"]) == (0, 0, 500)

    asyncio.run(run())


def test_sync_lease_with_credit_one_strands_nothing(client: Client) -> None:
    client.create_queue("q")
    ids = [client.enqueue("q", str(i)) for i in range(5)]
    with client.lease("q", credit=1) as stream:
        first = next(iter(stream))
        assert first.id == ids[0] and first.lease_id
        assert client.get_stats("q").in_flight == 1  # nothing leased beyond what we hold
    # Close first, then ack the last message: an ack on an open stream frees its credit and
    # the broker sends the next message at once.
    client.ack("q", first.id, first.lease_id)
    stats = client.get_stats("q")
    assert (stats.in_flight, stats.depth) == (0, 4)


def test_sync_extend_lease_checks_lease_ids(client: Client) -> None:
    client.create_queue("q", visibility_timeout_ms=60_000)
    client.enqueue("q", b"x")
    with client.lease("q", credit=1) as stream:
        msg = next(iter(stream))
    client.extend_lease("q", [msg.id], 5_000, [msg.lease_id])
    with pytest.raises(FailedPrecondition, match="not the current lease"):
        client.extend_lease("q", [msg.id], 5_000, ["12345"])
    client.ack("q", msg.id, msg.lease_id)
