"""`fila.v1.FilaService`: Enqueue, the Consume lease stream, Ack and Nack."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc

from fila.engine import codec
from fila.engine.drr import Entry
from fila.errors import FilaError
from fila.server.core_loop import CoreLoop
from fila.server.status import code_for
from fila.v1 import service_pb2 as pb

# Credit-based flow control for the classic Consume stream: how many messages one stream may
# hold leased and unacknowledged. A consumer gets a new message when it acks, nacks or lets a
# lease expire, never more; so a stalled consumer costs the broker nothing, and the rest of
# the work stays available to other consumers.
STREAM_PREFETCH = 8


async def _abort(context: grpc.aio.ServicerContext, exc: FilaError) -> None:
    await context.abort(code_for(exc), str(exc))


class HotPath:
    def __init__(self, core: CoreLoop) -> None:
        self.core = core
        self.broker = core.broker

    async def enqueue(self, request: pb.EnqueueRequest, context: grpc.aio.ServicerContext) -> pb.EnqueueResponse:
        broker = self.broker
        try:
            mid = broker.enqueue(request.queue, dict(request.headers), request.payload)
            await self.core.durable(broker.pending_batch)
        except FilaError as exc:
            await _abort(context, exc)
        return pb.EnqueueResponse(message_id=mid)

    async def ack(self, request: pb.AckRequest, context: grpc.aio.ServicerContext) -> pb.AckResponse:
        try:
            self.broker.ack(request.queue, request.message_id)
            await self.core.durable(self.broker.pending_batch)
        except FilaError as exc:
            await _abort(context, exc)
        return pb.AckResponse()

    async def nack(self, request: pb.NackRequest, context: grpc.aio.ServicerContext) -> pb.NackResponse:
        try:
            self.broker.nack(request.queue, request.message_id, request.error)
            await self.core.durable(self.broker.pending_batch)
        except FilaError as exc:
            await _abort(context, exc)
        return pb.NackResponse()

    async def consume(
        self, request: pb.ConsumeRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        """Yields ready-made `ConsumeResponse` bytes (the stored message plus its lease time)."""
        broker = self.broker
        wake = asyncio.Event()
        try:
            consumer = broker.add_consumer(request.queue, STREAM_PREFETCH, wake.set)
        except FilaError as exc:
            await _abort(context, exc)
            return
        self.core.poke()
        try:
            while True:
                await wake.wait()
                wake.clear()
                if consumer.closed:
                    await context.abort(
                        grpc.StatusCode.NOT_FOUND, f"queue {request.queue!r} was deleted"
                    )
                    return
                while consumer.outbox:
                    e = consumer.outbox.pop(0)
                    if e.state != Entry.LEASED or e.consumer is not consumer:
                        continue  # its lease ended before we got to send it
                    yield codec.lease_frame(e.data, time.time_ns() // 1_000_000)
        finally:
            broker.remove_consumer(consumer)
            self.core.poke()

    def handler(self) -> grpc.GenericRpcHandler:
        identity: Any = None  # bytes are already serialized
        return grpc.method_handlers_generic_handler(
            "fila.v1.FilaService",
            {
                "Enqueue": grpc.unary_unary_rpc_method_handler(
                    self.enqueue,
                    request_deserializer=pb.EnqueueRequest.FromString,
                    response_serializer=pb.EnqueueResponse.SerializeToString,
                ),
                "Consume": grpc.unary_stream_rpc_method_handler(
                    self.consume,
                    request_deserializer=pb.ConsumeRequest.FromString,
                    response_serializer=identity,
                ),
                "Ack": grpc.unary_unary_rpc_method_handler(
                    self.ack,
                    request_deserializer=pb.AckRequest.FromString,
                    response_serializer=pb.AckResponse.SerializeToString,
                ),
                "Nack": grpc.unary_unary_rpc_method_handler(
                    self.nack,
                    request_deserializer=pb.NackRequest.FromString,
                    response_serializer=pb.NackResponse.SerializeToString,
                ),
            },
        )
