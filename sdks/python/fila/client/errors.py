"""Fila's exceptions: one root, mapped to gRPC status codes in exactly one place.

    FilaError
    ├── InvalidArgument        bad input: names the field and what was wrong
    ├── NotFound               a queue, message or config key that does not exist
    ├── AlreadyExists          a queue created twice
    ├── FailedPrecondition     a request that is well formed but not allowed now
    ├── ResourceExhausted      overload: retry later
    ├── Unavailable            storage cannot write, or the broker is shutting down
    ├── Unauthenticated        no API key, or a refused one
    └── PermissionDenied       the key's ACL does not allow this

The engine raises these; `fila.server.status` turns them into gRPC status codes and
`fila.client` turns status codes back into them, so a user sees the same class on both sides.
"""

from __future__ import annotations


class FilaError(Exception):
    """Root of every error Fila raises on purpose."""

    code_name = "UNKNOWN"


class InvalidArgument(FilaError):
    """Bad input; the message names the field and what was wrong."""

    code_name = "INVALID_ARGUMENT"


class NotFound(FilaError):
    """A queue, message, lease, config key or API key that does not exist."""

    code_name = "NOT_FOUND"


class AlreadyExists(FilaError):
    """A queue created twice."""

    code_name = "ALREADY_EXISTS"


class FailedPrecondition(FilaError):
    """Well formed, but not allowed now (e.g. redriving a queue that is not a DLQ)."""

    code_name = "FAILED_PRECONDITION"


class ResourceExhausted(FilaError):
    """Overload: retry a little later. `retry_after_s` is the broker's hint (its
    `retry-after-ms` trailer on a refused call; None for one item of a batch, which has none)."""

    code_name = "RESOURCE_EXHAUSTED"
    retry_after_s: float | None = None


class Unavailable(FilaError):
    """Storage cannot write, or the broker cannot be reached or is shutting down."""

    code_name = "UNAVAILABLE"


class Unauthenticated(FilaError):
    """No API key, or one that is unknown, revoked or expired."""

    code_name = "UNAUTHENTICATED"


class PermissionDenied(FilaError):
    """The API key's ACL does not allow this."""

    code_name = "PERMISSION_DENIED"


ALL_ERRORS: tuple[type[FilaError], ...] = (
    InvalidArgument,
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    ResourceExhausted,
    Unavailable,
    Unauthenticated,
    PermissionDenied,
)
