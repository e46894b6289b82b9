"""The asyncio Python client: the same calls as `Client`, awaited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import grpc

from fila.client import _requests as rq
from fila.client._admin_calls import AdminCalls
from fila.client._errors import translate
from fila.client._types import Message
from fila.v1 import admin_pb2_grpc, service_pb2, service_pb2_grpc


class AsyncConsumeStream:
    def __init__(self, call: Any) -> None:
        self._call = call
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[Message]:
        try:
            async for resp in self._call:
                yield Message.from_proto(resp.message)
        except asyncio.CancelledError:
            # grpc.aio raises CancelledError (not an RpcError) for a call we cancelled
            # ourselves: that is the normal end of a stream closed by `close()`.
            if not self._closed:
                raise
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED:
                return
            raise translate(exc) from None

    def close(self) -> None:
        self._closed = True
        self._call.cancel()

    async def __aenter__(self) -> AsyncConsumeStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class AsyncClient(AdminCalls):
    def __init__(self, addr: str = rq.DEFAULT_ADDR, timeout_s: float | None = 30.0) -> None:
        self.addr = addr
        self.timeout_s = timeout_s
        self._channel = grpc.aio.insecure_channel(addr, options=rq.CHANNEL_OPTIONS)
        self._hot = service_pb2_grpc.FilaServiceStub(self._channel)
        self._admin = admin_pb2_grpc.FilaAdminStub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _invoke(self, method: str, request: Any, read: Any) -> Any:
        try:
            return read(await getattr(self._admin, method)(request, timeout=self.timeout_s))
        except grpc.RpcError as exc:
            raise translate(exc) from None

    async def enqueue(self, queue: str, payload: bytes | str, headers: Mapping[str, str] | None = None) -> str:
        try:
            r = await self._hot.Enqueue(rq.enqueue(queue, payload, headers), timeout=self.timeout_s)
        except grpc.RpcError as exc:
            raise translate(exc) from None
        return str(r.message_id)

    def consume(self, queue: str) -> AsyncConsumeStream:
        return AsyncConsumeStream(self._hot.Consume(service_pb2.ConsumeRequest(queue=queue)))

    async def ack(self, queue: str, message_id: str) -> None:
        try:
            await self._hot.Ack(service_pb2.AckRequest(queue=queue, message_id=message_id), timeout=self.timeout_s)
        except grpc.RpcError as exc:
            raise translate(exc) from None

    async def nack(self, queue: str, message_id: str, error: str = "") -> None:
        req = service_pb2.NackRequest(queue=queue, message_id=message_id, error=error)
        try:
            await self._hot.Nack(req, timeout=self.timeout_s)
        except grpc.RpcError as exc:
            raise translate(exc) from None
