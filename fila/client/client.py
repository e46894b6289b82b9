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
from collections.abc import Iterator, Mapping
from typing import Any

import grpc

from fila.client import _requests as rq
from fila.client._admin import AdminMethods
from fila.client._admin_calls import Call, T
from fila.client._channel import stubs, sync_channel
from fila.client._errors import from_item, translate, translated
from fila.client._types import Message
from fila.v1 import service_pb2


class ConsumeStream:
    """An open lease stream: iterate for messages; `close()` (or leave the `with`) to stop."""

    def __init__(self, call: Any) -> None:
        self._call = call

    @staticmethod
    def _messages(resp: Any) -> Any:
        return (resp.message,)

    def __iter__(self) -> Iterator[Message]:
        try:
            for resp in self._call:
                for m in self._messages(resp):
                    yield Message.from_proto(m)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED:
                return
            raise translate(exc) from None

    def close(self) -> None:
        self._call.cancel()

    def __enter__(self) -> ConsumeStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LeaseStream(ConsumeStream):
    """The credit-controlled Lease stream: batches of messages, at most `credit` unacked."""

    def __init__(self, call: Any, done: threading.Event) -> None:
        super().__init__(call)
        self._done = done

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
    ) -> None:
        """Connect to a broker. `api_key` is sent as a Bearer token on every call; `tls` (or
        any of the files) makes the channel TLS, with `ca_file` to trust a private CA and
        `cert_file` + `key_file` as the client certificate for mTLS."""
        self.addr = addr
        self.timeout_s = timeout_s
        self._channel = sync_channel(addr, api_key, tls, ca_file, cert_file, key_file)
        self._hot, self._admin = stubs(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- hot path ---------------------------------------------------------------------------

    def enqueue(self, queue: str, payload: bytes | str, headers: Mapping[str, str] | None = None) -> str:
        """Enqueue one message; returns its id once it is durable."""
        with translated():
            resp = self._hot.Enqueue(rq.enqueue(queue, payload, headers), timeout=self.timeout_s)
            return str(resp.message_id)

    def consume(self, queue: str) -> ConsumeStream:
        """Open the classic lease stream on `queue` (works with every Fila broker).

        The broker pushes ready messages as fast as you read them, up to its
        `[lease] consume_max_unacked` (default 2,000) leased and not yet acked; if you stop
        early, what was sent stays leased until its visibility timeout. `lease()` lets you
        choose how many you hold.
        """
        return ConsumeStream(self._hot.Consume(service_pb2.ConsumeRequest(queue=queue)))

    def lease(self, queue: str, credit: int = 1, max_batch: int = 100) -> LeaseStream:
        """A lease stream holding at most `credit` unacknowledged messages at once: with the
        default of 1 a consumer never holds a message it has not seen."""
        done = threading.Event()
        first = service_pb2.LeaseRequest(queue=queue, credit=credit, max_batch=max_batch)

        def requests() -> Iterator[service_pb2.LeaseRequest]:
            yield first
            done.wait()  # keep our side of the stream open until closed

        return LeaseStream(self._hot.Lease(requests()), done)

    def ack(self, queue: str, message_id: str, lease_id: str = "") -> None:
        """Acknowledge (delete) a leased message. With `lease_id` (from the delivered
        message), the broker refuses the ack if that lease expired and the message was
        delivered to someone else since."""
        with translated():
            self._hot.Ack(service_pb2.AckRequest(queue=queue, message_id=message_id, lease_id=lease_id),
                          timeout=self.timeout_s)

    def nack(self, queue: str, message_id: str, error: str = "", lease_id: str = "") -> None:
        """Report a failure: the queue's on_failure (or retry with backoff) decides what next."""
        with translated():
            self._hot.Nack(
                service_pb2.NackRequest(queue=queue, message_id=message_id, error=error,
                                        lease_id=lease_id),
                timeout=self.timeout_s,
            )

    def extend_lease(self, queue: str, message_ids: list[str], extend_ms: int = 0,
                     lease_ids: list[str] | None = None) -> None:
        """Keep leases alive `extend_ms` more from now (0: the queue's visibility timeout);
        raises for the first id that is not (or no longer) leased."""
        req = service_pb2.ExtendLeaseRequest(queue=queue, message_ids=message_ids,
                                             extend_ms=extend_ms, lease_ids=lease_ids or [])
        with translated():
            resp = self._hot.ExtendLease(req, timeout=self.timeout_s)
        for r in resp.results:
            if r.HasField("error"):
                raise from_item(r.error.code, r.error.message)

    def _run(self, call: Call[T]) -> T:
        with translated():
            return call.read(getattr(self._admin, call.method)(call.request, timeout=self.timeout_s))
