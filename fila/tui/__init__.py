"""`fila top`: a Textual app that watches a running broker through its admin RPCs."""

from typing import Any

from fila.tui.app import FilaTop
from fila.tui.poller import ClientSource, StatsSource


def run(addr: str, interval_s: float = 1.0, **client_options: Any) -> None:
    """Run `fila top` against the broker at `addr` until the user quits (client_options: the
    api_key and TLS settings AsyncClient takes)."""
    FilaTop(ClientSource(addr, **client_options), addr, interval_s=interval_s).run()


__all__ = ["ClientSource", "FilaTop", "StatsSource", "run"]
