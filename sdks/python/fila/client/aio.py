"""The asyncio Python client: the same calls as `Client`, awaited, and batched for you.

`enqueue()`, `ack()` and `nack()` look like one call per message, but calls made close
together (within `linger_ms`, up to `max_batch`) travel as one EnqueueBatch / AckBatch /
NackBatch RPC. Each `await enqueue()` still resolves only when *that* message is durable,
and a refused message raises for its own caller only. `lease()` reads the credit-controlled
Lease stream in batches. Against a broker without the batch RPCs, the single-message RPCs
are used instead.

    async with AsyncClient("127.0.0.1:5555") as fila:
        await asyncio.gather(*(fila.enqueue("jobs", b"x", {"tenant": t}) for t in tenants))
        async for msg in fila.lease("jobs", credit=200):
            await fila.ack("jobs", msg.id)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import grpc

from fila.client import _requests as rq
from fila.client import _subscriber
from fila.client._admin import AsyncAdminMethods
from fila.client._admin_calls import Call, T
from fila.client._batcher import Batcher
from fila.client._channel import aio_channel, stubs
from fila.client._errors import from_item, translate
from fila.client._reconnect import MAX_REDIRECTS, Backoff, Reconnect, leader_of
from fila.client._subscriber import Handler
from fila.client._types import Message
from fila.v1 import service_pb2


def _unimplemented(exc: grpc.RpcError) -> bool:
    return bool(exc.code() == grpc.StatusCode.UNIMPLEMENTED)


class AsyncConsumeStream:
    """The classic Consume stream (one message per response). If the broker goes away it is
    opened again with backoff, as `Client`'s streams are (fila.client._reconnect)."""

    def __init__(self, open_call: Callable[[], Any], what: str,
                 reconnect: Reconnect | None,
                 redirect: Callable[[grpc.RpcError], bool] = lambda exc: False) -> None:
        self._open = open_call
        self._call = open_call()
        self._backoff = Backoff(reconnect, what)
        self._redirect = redirect  # True: the client now talks to the node the error named
        self._closed = False

    @staticmethod
    def _messages(resp: Any) -> Any:
        return (resp.message,)

    async def __aiter__(self) -> AsyncIterator[Message]:
        while True:
            try:
                async for resp in self._call:
                    self._backoff.reset()
                    for m in self._messages(resp):
                        yield Message.from_proto(m)
                return
            except asyncio.CancelledError:
                # grpc.aio raises CancelledError (not an RpcError) for a call we cancelled
                # ourselves: that is the normal end of a stream closed by `close()`.
                if not self._closed:
                    raise
                return
            except grpc.RpcError as exc:
                if self._closed or exc.code() == grpc.StatusCode.CANCELLED:
                    return
                wait = 0.0 if self._redirect(exc) else self._backoff.delay(exc)
                if wait is None:
                    raise translate(exc) from None
            await asyncio.sleep(wait)
            if self._closed:
                return
            self._call = self._open()

    def close(self) -> None:
        self._closed = True
        self._call.cancel()

    async def __aenter__(self) -> AsyncConsumeStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class AsyncLeaseStream(AsyncConsumeStream):
    """The Lease stream: batches of messages, at most `credit` unacknowledged at once."""

    @staticmethod
    def _messages(resp: Any) -> Any:
        return resp.messages


class AsyncClient(AsyncAdminMethods):
    """The asyncio client; enqueue(), ack() and nack() batch behind the scenes (see the module doc)."""

    def __init__(
        self,
        addr: str = rq.DEFAULT_ADDR,
        timeout_s: float | None = 30.0,
        *,
        linger_ms: float = 2.0,
        max_batch: int = 100,
        api_key: str | None = None,
        tls: bool = False,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        reconnect: Reconnect | None = Reconnect(),  # noqa: B008 (frozen: shared safely)
    ) -> None:
        """As `Client`; `linger_ms` and `max_batch` shape the batches of enqueue/ack/nack."""
        self.addr = addr
        self.timeout_s = timeout_s
        self.reconnect = reconnect
        self._dial = (api_key, tls, ca_file, cert_file, key_file)
        self._old_channels: list[Any] = []  # left by redirects, closed with the client
        self._channel = aio_channel(addr, *self._dial)
        self._hot, self._admin = stubs(self._channel)
        self._batch_rpcs = True
        self._enqueues: Batcher[service_pb2.EnqueueRequest] = Batcher(
            self._send_enqueues, linger_ms, max_batch)
        self._acks: Batcher[tuple[str, str]] = Batcher(self._send_acks, linger_ms, max_batch)
        self._nacks: Batcher[service_pb2.NackItem] = Batcher(self._send_nacks, linger_ms, max_batch)

    async def close(self) -> None:
        for b in (self._enqueues, self._acks, self._nacks):
            await b.flush_all()
        for old in self._old_channels:
            await old.close()
        await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _follow(self, exc: grpc.RpcError) -> bool:
        """If `exc` names another node as the one to ask, talk to that node from now on (the
        old channel is closed with the client: calls may still be out on it)."""
        leader = leader_of(exc)
        if leader is None or leader == self.addr:
            return False
        self._old_channels.append(self._channel)
        self.addr = leader
        self._channel = aio_channel(leader, *self._dial)
        self._hot, self._admin = stubs(self._channel)
        return True

    async def _call(self, method: str, request: Any, admin: bool = False,
                    fallback: bool = False) -> Any:
        """One unary call: retried while the broker is unavailable, and sent to the node a
        refusal names (fila.client._reconnect). With `fallback`, UNIMPLEMENTED returns None
        (a broker without the batch RPCs)."""
        backoff = Backoff(self.reconnect, method)
        redirects = 0
        while True:
            try:
                return await getattr(self._admin if admin else self._hot, method)(
                    request, timeout=self.timeout_s)
            except grpc.RpcError as exc:
                if fallback and _unimplemented(exc):
                    return None
                if redirects < MAX_REDIRECTS and self._follow(exc):
                    redirects += 1
                    continue
                wait = backoff.delay(exc)
                if wait is None:
                    raise translate(exc) from None
            await asyncio.sleep(wait)

    async def _run(self, call: Call[T]) -> T:
        return call.read(await self._call(call.method, call.request, admin=True))

    # -- producing --------------------------------------------------------------------------

    async def enqueue(self, queue: str, payload: bytes | str, headers: Mapping[str, str] | None = None) -> str:
        """Enqueue one message; resolves with its id once it is durable."""
        return str(await self._enqueues.submit(None, rq.enqueue(queue, payload, headers)))

    async def _send_enqueues(self, _key: object, items: list[service_pb2.EnqueueRequest]) -> list[Any]:
        if self._batch_rpcs:
            resp = await self._call("EnqueueBatch", service_pb2.EnqueueBatchRequest(messages=items),
                                    fallback=True)
            if resp is not None:
                return [r.message_id if not r.HasField("error")
                        else from_item(r.error.code, r.error.message) for r in resp.results]
            self._batch_rpcs = False
        return await asyncio.gather(*(self._enqueue_one(m) for m in items), return_exceptions=True)

    async def _enqueue_one(self, req: service_pb2.EnqueueRequest) -> str:
        return str((await self._call("Enqueue", req)).message_id)

    # -- consuming --------------------------------------------------------------------------

    def consume(self, queue: str) -> AsyncConsumeStream:
        """The classic lease stream (works with every Fila broker)."""
        req = service_pb2.ConsumeRequest(queue=queue)
        return AsyncConsumeStream(lambda: self._hot.Consume(req), f"Consume stream on {queue!r}",
                                  self.reconnect, self._follow)

    def lease(self, queue: str, credit: int = 100, max_batch: int = 100) -> AsyncLeaseStream:
        """A lease stream that holds at most `credit` unacknowledged messages at once."""
        first = service_pb2.LeaseRequest(queue=queue, credit=credit, max_batch=max_batch)

        async def requests() -> AsyncIterator[service_pb2.LeaseRequest]:
            yield first
            await asyncio.Event().wait()  # keep the request side open for the stream's life

        return AsyncLeaseStream(lambda: self._hot.Lease(requests()), f"Lease stream on {queue!r}",
                                self.reconnect, self._follow)

    async def subscribe(self, queue: str, handler: Handler, *, credit: int = 10,
                        extend_every_s: float | None = None) -> None:
        """Run `await handler(msg)` for each message of `queue`, up to `credit` at once. When
        it returns the message is acked; when it raises, nacked with the error's text (the
        queue's on_failure or retry policy decides what next). While a handler works its lease
        is extended every `extend_every_s` (default: a third of the queue's visibility timeout,
        or 10 s if this key may not read the queue's settings), so a long job keeps its message.
        Runs until the task awaiting it is cancelled (or the stream ends for good); handlers
        in progress then finish first."""
        await _subscriber.subscribe(self, queue, handler, credit, extend_every_s)

    async def ack(self, queue: str, message_id: str, lease_id: str = "") -> None:
        """Acknowledge; resolves once the ack is durable (acks travel in batches)."""
        await self._acks.submit(queue, (message_id, lease_id))

    async def nack(self, queue: str, message_id: str, error: str = "", lease_id: str = "") -> None:
        await self._nacks.submit(queue, service_pb2.NackItem(message_id=message_id, error=error,
                                                             lease_id=lease_id))

    async def extend_lease(self, queue: str, message_ids: list[str], extend_ms: int = 0,
                           lease_ids: list[str] | None = None) -> None:
        """Keep leases alive `extend_ms` more from now (0: the queue's visibility timeout)."""
        req = service_pb2.ExtendLeaseRequest(queue=queue, message_ids=message_ids,
                                             extend_ms=extend_ms, lease_ids=lease_ids or [])
        resp = await self._call("ExtendLease", req)
        for r in resp.results:
            if r.HasField("error"):
                raise from_item(r.error.code, r.error.message)

    async def _send_acks(self, queue: str, items: list[tuple[str, str]]) -> list[Any]:
        ids = [mid for mid, _ in items]
        leases = [lid for _, lid in items]
        batch = service_pb2.AckBatchRequest(queue=queue, message_ids=ids,
                                            lease_ids=leases if any(leases) else [])
        singles = [("Ack", service_pb2.AckRequest(queue=queue, message_id=i, lease_id=lid))
                   for i, lid in items]
        return await self._per_item("AckBatch", batch, singles)

    async def _send_nacks(self, queue: str, items: list[service_pb2.NackItem]) -> list[Any]:
        batch = service_pb2.NackBatchRequest(queue=queue, items=items)
        singles = [("Nack", service_pb2.NackRequest(queue=queue, message_id=i.message_id,
                                                    error=i.error, lease_id=i.lease_id))
                   for i in items]
        return await self._per_item("NackBatch", batch, singles)

    async def _per_item(self, method: str, batch: Any, singles: list[tuple[str, Any]]) -> list[Any]:
        """One batch RPC with a result (None or an exception) per item; against a broker
        without batch RPCs, the single-item RPCs instead."""
        if self._batch_rpcs:
            resp = await self._call(method, batch, fallback=True)
            if resp is not None:
                return [from_item(r.error.code, r.error.message) if r.HasField("error") else None
                        for r in resp.results]
            self._batch_rpcs = False
        return await asyncio.gather(*(self._single(m, req) for m, req in singles),
                                    return_exceptions=True)

    async def _single(self, method: str, req: Any) -> None:
        await self._call(method, req)
