"""FilaError -> gRPC status: each error class names its status code (fila.errors)."""

from __future__ import annotations

import grpc

from fila import errors


def code_for(exc: errors.FilaError) -> grpc.StatusCode:
    return getattr(grpc.StatusCode, exc.code_name, grpc.StatusCode.UNKNOWN)
