"""The broker fixtures of the repository's suite: a real `fila serve` per test."""

from tests.conftest import client, server  # noqa: F401
