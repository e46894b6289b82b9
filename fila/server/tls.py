"""TLS and mutual TLS for the gRPC port.

`[tls] cert_file` + `key_file` serve TLS; adding `ca_file` requires every client to present a
certificate signed by that CA (mTLS). The same keys as the original Fila's config.
"""

from __future__ import annotations

from pathlib import Path

import grpc

from fila.errors import InvalidArgument


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InvalidArgument(f"[tls] {what} {path!r}: {exc.strerror}") from None


def server_credentials(cert_file: str, key_file: str, ca_file: str) -> grpc.ServerCredentials | None:
    if not (cert_file or key_file or ca_file):
        return None
    if not (cert_file and key_file):
        raise InvalidArgument("[tls] needs both cert_file and key_file")
    pair = [(_read(key_file, "key_file"), _read(cert_file, "cert_file"))]
    if ca_file:
        return grpc.ssl_server_credentials(
            pair, root_certificates=_read(ca_file, "ca_file"), require_client_auth=True)
    return grpc.ssl_server_credentials(pair)
