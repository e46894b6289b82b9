"""Channels for the clients: plain or TLS (optionally with a client certificate), and the
API key sent as `authorization: Bearer <key>` on every call."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import grpc

from fila.client._requests import CHANNEL_OPTIONS


def _credentials(ca_file: str | None, cert_file: str | None, key_file: str | None) -> grpc.ChannelCredentials:
    def read(p: str | None) -> bytes | None:
        return Path(p).read_bytes() if p else None

    return grpc.ssl_channel_credentials(
        root_certificates=read(ca_file), private_key=read(key_file), certificate_chain=read(cert_file))


class _Details(
    collections.namedtuple("_Details", ("method", "timeout", "metadata", "credentials",
                                        "wait_for_ready", "compression")),
    grpc.ClientCallDetails,
):
    pass


def _with_key(details: Any, md: tuple[tuple[str, str], ...]) -> Any:
    metadata = list(details.metadata or []) + list(md)
    return _Details(details.method, details.timeout, metadata, details.credentials,
                    getattr(details, "wait_for_ready", None), getattr(details, "compression", None))


class _KeyInterceptor(
    grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor,
):
    def __init__(self, md: tuple[tuple[str, str], ...]) -> None:
        self._md = md

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(_with_key(details, self._md), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(_with_key(details, self._md), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(_with_key(details, self._md), requests)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(_with_key(details, self._md), requests)


def _aio_interceptors(md: tuple[tuple[str, str], ...]) -> list[Any]:
    def details_of(d: Any) -> Any:
        return grpc.aio.ClientCallDetails(d.method, d.timeout, list(d.metadata or []) + list(md),
                                          d.credentials, d.wait_for_ready)

    class UU(grpc.aio.UnaryUnaryClientInterceptor):
        async def intercept_unary_unary(self, continuation, details, request):  # type: ignore[no-untyped-def]
            return await continuation(details_of(details), request)

    class US(grpc.aio.UnaryStreamClientInterceptor):
        async def intercept_unary_stream(self, continuation, details, request):  # type: ignore[no-untyped-def]
            return await continuation(details_of(details), request)

    class SU(grpc.aio.StreamUnaryClientInterceptor):
        async def intercept_stream_unary(self, continuation, details, request_iterator):  # type: ignore[no-untyped-def]
            return await continuation(details_of(details), request_iterator)

    class SS(grpc.aio.StreamStreamClientInterceptor):
        async def intercept_stream_stream(self, continuation, details, request_iterator):  # type: ignore[no-untyped-def]
            return await continuation(details_of(details), request_iterator)

    return [UU(), US(), SU(), SS()]


def sync_channel(addr: str, api_key: str | None, tls: bool, ca_file: str | None,
                 cert_file: str | None, key_file: str | None) -> grpc.Channel:
    if tls or ca_file or cert_file:
        channel = grpc.secure_channel(addr, _credentials(ca_file, cert_file, key_file), CHANNEL_OPTIONS)
    else:
        channel = grpc.insecure_channel(addr, options=CHANNEL_OPTIONS)
    if api_key:
        channel = grpc.intercept_channel(channel, _KeyInterceptor((("authorization", f"Bearer {api_key}"),)))
    return channel


def aio_channel(addr: str, api_key: str | None, tls: bool, ca_file: str | None,
                cert_file: str | None, key_file: str | None) -> grpc.aio.Channel:
    interceptors = _aio_interceptors((("authorization", f"Bearer {api_key}"),)) if api_key else None
    if tls or ca_file or cert_file:
        return grpc.aio.secure_channel(addr, _credentials(ca_file, cert_file, key_file),
                                       CHANNEL_OPTIONS, interceptors=interceptors)
    return grpc.aio.insecure_channel(addr, options=CHANNEL_OPTIONS, interceptors=interceptors)


def stubs(channel: Any) -> tuple[Any, Any]:
    """The hot-path and admin stubs on a channel. The generated stub classes carry no types
    (grpcio-tools writes none), so they are Any here, at the one place they are made."""
    from fila.v1 import admin_pb2_grpc, service_pb2_grpc

    make_hot: Any = service_pb2_grpc.FilaServiceStub
    make_admin: Any = admin_pb2_grpc.FilaAdminStub
    return make_hot(channel), make_admin(channel)
