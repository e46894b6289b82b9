"""The synchronous Python client.

    from fila.client import Client

    with Client("127.0.0.1:5555") as fila:
        fila.create_queue("jobs", on_enqueue='function on_enqueue(m) return {fairness_key=m.headers.tenant} end')
        fila.enqueue("jobs", b"hello", headers={"tenant": "acme"})
        for msg in fila.consume("jobs"):
            fila.ack("jobs", msg.id)
            break
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import grpc

from fila.client import _requests as rq
from fila.client._admin import AdminMethods
from fila.client._admin_calls import Call, T
from fila.client._channel import stubs, sync_channel
from fila.client._errors import from_item, translate
from fila.client._reconnect import MAX_REDIRECTS, Backoff, Reconnect, leader_of
from fila.client._types import Message
from fila.v1 import service_pb2


class ConsumeStream:
    """An open lease stream: iterate for messages; `close()` (or leave the `with`) to stop.

    If the broker goes away (restart, broken connection) the stream is opened again, with
    backoff, for up to the client's `Reconnect.max_wait_s`; messages it held before are
    delivered again after their lease is gone (see fila.client._reconnect)."""

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

    def __iter__(self) -> Iterator[Message]:
        while True:
            try:
                for resp in self._call:
                    self._backoff.reset()
                    for m in self._messages(resp):
                        yield Message.from_proto(m)
                return
            except grpc.RpcError as exc:
                if self._closed or exc.code() == grpc.StatusCode.CANCELLED:
                    return
                wait = 0.0 if self._redirect(exc) else self._backoff.delay(exc)
                if wait is None:
                    raise translate(exc) from None
            time.sleep(wait)
            if self._closed:
                return
            self._call = self._open()

    def close(self) -> None:
        self._closed = True
        self._call.cancel()

    def __enter__(self) -> ConsumeStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LeaseStream(ConsumeStream):
    """The credit-controlled Lease stream: batches of messages, at most `credit` unacked."""

    def __init__(self, stub: Callable[[Any], Any], first: service_pb2.LeaseRequest,
                 reconnect: Reconnect | None, redirect: Callable[[grpc.RpcError], bool]) -> None:
        self._stub = stub
        self._first = first
        self._done = threading.Event()
        super().__init__(self._open_lease, f"Lease stream on {first.queue!r}", reconnect, redirect)

    def _open_lease(self) -> Any:
        self._done.set()  # the request side of the call before this one (if any) may end
        done = self._done = threading.Event()
        first = self._first

        def requests() -> Iterator[service_pb2.LeaseRequest]:
            yield first
            done.wait()  # keep our side of the stream open until closed

        return self._stub(requests())

    @staticmethod
    def _messages(resp: Any) -> Any:
        return resp.messages

    def close(self) -> None:
        self._done.set()
        super().close()


class Client(AdminMethods):
    """The blocking client: every call waits for the broker's answer (see the module doc)."""

    def __init__(
        self,
        addr: str = rq.DEFAULT_ADDR,
        timeout_s: float | None = 30.0,
        *,
        api_key: str | None = None,
        tls: bool = False,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        reconnect: Reconnect | None = Reconnect(),  # noqa: B008 (frozen: shared safely)
    ) -> None:
        """Connect to a broker. `api_key` is sent as a Bearer token on every call; `tls` (or
        any of the files) makes the channel TLS, with `ca_file` to trust a private CA and
        `cert_file` + `key_file` as the client certificate for mTLS. While the broker is
        unavailable, calls and lease streams retry as `reconnect` says (None: raise at once)."""
        self.addr = addr
        self.timeout_s = timeout_s
        self.reconnect = reconnect
        self._dial = (api_key, tls, ca_file, cert_file, key_file)
        self._channel = sync_channel(addr, *self._dial)
        self._hot, self._admin = stubs(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- hot path ---------------------------------------------------------------------------

    def _follow(self, exc: grpc.RpcError) -> bool:
        """If `exc` names another node as the one to ask, talk to that node from now on."""
        leader = leader_of(exc)
        if leader is None or leader == self.addr:
            return False
        old, self.addr = self._channel, leader
        self._channel = sync_channel(leader, *self._dial)
        self._hot, self._admin = stubs(self._channel)
        old.close()
        return True

    def _call(self, method: str, request: Any, admin: bool = False) -> Any:
        """One unary call: retried while the broker is unavailable, and sent to the node a
        refusal names (fila.client._reconnect)."""
        backoff = Backoff(self.reconnect, method)
        redirects = 0
        while True:
            try:
                return getattr(self._admin if admin else self._hot, method)(
                    request, timeout=self.timeout_s)
            except grpc.RpcError as exc:
                if redirects < MAX_REDIRECTS and self._follow(exc):
                    redirects += 1
                    continue
                wait = backoff.delay(exc)
                if wait is None:
                    raise translate(exc) from None
            time.sleep(wait)

    def enqueue(self, queue: str, payload: bytes | str, headers: Mapping[str, str] | None = None) -> str:
        """Enqueue one message; returns its id once it is durable."""
        resp = self._call("Enqueue", rq.enqueue(queue, payload, headers))
        return str(resp.message_id)

    def consume(self, queue: str) -> ConsumeStream:
        """Open the classic lease stream on `queue` (works with every Fila broker).

        The broker pushes ready messages as fast as you read them, up to its
        `[lease] consume_max_unacked` (default 2,000) leased and not yet acked; if you stop
        early, what was sent stays leased until its visibility timeout. `lease()` lets you
        choose how many you hold.
        """
        req = service_pb2.ConsumeRequest(queue=queue)
        return ConsumeStream(lambda: self._hot.Consume(req), f"Consume stream on {queue!r}",
                             self.reconnect, self._follow)

    def lease(self, queue: str, credit: int = 1, max_batch: int = 100) -> LeaseStream:
        """A lease stream holding at most `credit` unacknowledged messages at once: with the
        default of 1 a consumer never holds a message it has not seen."""
        first = service_pb2.LeaseRequest(queue=queue, credit=credit, max_batch=max_batch)
        return LeaseStream(lambda reqs: self._hot.Lease(reqs), first, self.reconnect, self._follow)

    def ack(self, queue: str, message_id: str, lease_id: str = "") -> None:
        """Acknowledge (delete) a leased message. With `lease_id` (from the delivered
        message), the broker refuses the ack if that lease expired and the message was
        delivered to someone else since."""
        self._call("Ack", service_pb2.AckRequest(queue=queue, message_id=message_id, lease_id=lease_id))

    def nack(self, queue: str, message_id: str, error: str = "", lease_id: str = "") -> None:
        """Report a failure: the queue's on_failure (or retry with backoff) decides what next."""
        self._call("Nack", service_pb2.NackRequest(
            queue=queue, message_id=message_id, error=error, lease_id=lease_id))

    def extend_lease(self, queue: str, message_ids: list[str], extend_ms: int = 0,
                     lease_ids: list[str] | None = None) -> None:
        """Keep leases alive `extend_ms` more from now (0: the queue's visibility timeout);
        raises for the first id that is not (or no longer) leased."""
        req = service_pb2.ExtendLeaseRequest(queue=queue, message_ids=message_ids,
                                             extend_ms=extend_ms, lease_ids=lease_ids or [])
        resp = self._call("ExtendLease", req)
        for r in resp.results:
            if r.HasField("error"):
                raise from_item(r.error.code, r.error.message)

    def _run(self, call: Call[T]) -> T:
        return call.read(self._call(call.method, call.request, admin=True))
