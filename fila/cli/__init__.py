"""The `fila` command (also installed as `fila-cli`)."""

from fila.cli.main import app, main

__all__ = ["app", "main"]
