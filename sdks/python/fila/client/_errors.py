"""Translate gRPC errors into Fila's exceptions at the boundary, in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import grpc

from fila.client import errors

# Each error class names its status code (fila.errors): the mapping is written once.
_BY_CODE: dict[grpc.StatusCode, type[errors.FilaError]] = {
    getattr(grpc.StatusCode, cls.code_name): cls for cls in errors.ALL_ERRORS
}


def translate(exc: grpc.RpcError) -> errors.FilaError:
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    detail = exc.details() if hasattr(exc, "details") else str(exc)
    cls = _BY_CODE.get(code, errors.FilaError)
    err = cls(detail or code.name)
    err.code_name = code.name
    if isinstance(err, errors.ResourceExhausted):
        err.retry_after_s = _retry_after_s(exc)
    return err


def trailer(exc: grpc.RpcError, name: str) -> str | None:
    """A trailing-metadata value of a failed call, if it has one."""
    try:
        md = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
    except Exception:  # a call that never started has none
        return None
    for key, value in md or ():
        if key == name and value:
            return str(value)
    return None


def _retry_after_s(exc: grpc.RpcError) -> float | None:
    value = trailer(exc, "retry-after-ms")
    return int(value) / 1000.0 if value is not None and value.isdigit() else None


@contextmanager
def translated() -> Iterator[None]:
    try:
        yield
    except grpc.RpcError as exc:
        raise translate(exc) from None


def from_item(code: str, message: str) -> errors.FilaError:
    """The exception for one failed item of a batch RPC (code is a status code name)."""
    status = getattr(grpc.StatusCode, code, grpc.StatusCode.UNKNOWN)
    cls = _BY_CODE.get(status, errors.FilaError)
    err = cls(message or code)
    err.code_name = code
    return err
