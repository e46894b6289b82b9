"""Fila's errors, one class per gRPC status: defined by the SDK (fila.client.errors, the
fila-client package), raised by the engine and the server, and caught by the CLI. Importing
them from here or from fila.client is the same."""

from fila.client.errors import *  # noqa: F403
from fila.client.errors import ALL_ERRORS, FilaError  # noqa: F401  (named for type checkers)
