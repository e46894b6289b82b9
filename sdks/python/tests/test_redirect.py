"""The original broker's cluster redirect: a node that is not the leader refuses a call with
UNAVAILABLE and trailing metadata `x-fila-leader-addr`; the SDK then talks to that node.

Fila is one node and never sends the trailer, so a stand-in follower (a gRPC server that
answers every call so) sits in front of a real `fila serve`, which the SDK must reach."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from fila.client import AsyncClient, Client, Reconnect, Unavailable
from tests.fila_process import FilaProcess


class _Follower(grpc.GenericRpcHandler):
    def __init__(self, leader: str) -> None:
        self.leader = leader
        self.calls = 0

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        def refuse(request: bytes, context: grpc.ServicerContext) -> bytes:
            self.calls += 1
            context.set_trailing_metadata((("x-fila-leader-addr", self.leader),))
            context.abort(grpc.StatusCode.UNAVAILABLE, "not the leader")
            return b""

        def refuse_stream(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
            refuse(b"", context)
            yield b""

        if details.method.endswith("/Lease"):
            return grpc.stream_stream_rpc_method_handler(refuse_stream)
        if details.method.endswith("/Consume"):
            return grpc.unary_stream_rpc_method_handler(lambda req, ctx: refuse_stream(iter(()), ctx))
        return grpc.unary_unary_rpc_method_handler(refuse)


@pytest.fixture
def follower(server: FilaProcess) -> Iterator[tuple[str, _Follower]]:
    handler = _Follower(server.addr)
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[handler])
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    yield f"127.0.0.1:{port}", handler
    srv.stop(None)


def test_calls_and_lease_streams_follow_the_leader(follower: tuple[str, _Follower],
                                                   server: FilaProcess) -> None:
    addr, handler = follower
    with Client(addr, reconnect=Reconnect(max_wait_s=1)) as c:
        c.create_queue("q")  # refused by the follower, done by the leader
        mid = c.enqueue("q", "hello")
        assert c.addr == server.addr and handler.calls == 1
    with Client(addr, reconnect=Reconnect(max_wait_s=1)) as c:
        with c.lease("q", credit=1) as stream:  # the stream is opened again on the leader
            msg = next(iter(stream))
        assert msg.id == mid and c.addr == server.addr
        c.ack("q", msg.id, msg.lease_id)
    assert handler.calls == 2


def test_the_async_client_follows_the_leader(follower: tuple[str, _Follower],
                                             server: FilaProcess) -> None:
    addr, _ = follower

    async def main() -> None:
        async with AsyncClient(addr, reconnect=Reconnect(max_wait_s=1)) as c:
            await c.create_queue("q")
            mids = await asyncio.gather(*(c.enqueue("q", str(i)) for i in range(10)))
            got = []
            async for msg in c.lease("q", credit=10):
                got.append(msg.id)
                await c.ack("q", msg.id, msg.lease_id)
                if len(got) == 10:
                    break
            assert sorted(got) == sorted(mids) and c.addr == server.addr

    asyncio.run(asyncio.wait_for(main(), 30))


def test_a_node_that_names_itself_is_not_followed_forever(server: FilaProcess) -> None:
    handler = _Follower("")
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=[handler])
    port = srv.add_insecure_port("127.0.0.1:0")
    handler.leader = f"127.0.0.1:{port}"  # "ask me": a loop
    srv.start()
    try:
        with Client(handler.leader, reconnect=Reconnect(max_wait_s=0.3)) as c, \
                pytest.raises(Unavailable):
            c.list_queues()
    finally:
        srv.stop(None)
