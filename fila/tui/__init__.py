"""`fila top`: a Textual app that watches a running broker through its admin RPCs."""

from fila.tui.app import FilaTop
from fila.tui.poller import ClientSource, StatsSource


def run(addr: str, interval_s: float = 1.0) -> None:
    """Run `fila top` against the broker at `addr` until the user quits."""
    FilaTop(ClientSource(addr), addr, interval_s=interval_s).run()


__all__ = ["ClientSource", "FilaTop", "StatsSource", "run"]
