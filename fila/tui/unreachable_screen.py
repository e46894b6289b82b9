"""The full-screen notice shown while the broker does not answer; the app removes it itself."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static


class UnreachableScreen(Screen[None]):
    def __init__(self, addr: str, detail: str, paused: bool) -> None:
        super().__init__()
        self.addr = addr
        self.detail = detail
        self.paused = paused

    def compose(self) -> ComposeResult:
        with Vertical(id="unreachable"):
            yield Static(self._title(), id="unreachable-title")
            yield Static(self.detail, id="unreachable-detail")
        yield Footer()

    def _title(self) -> str:
        state = "paused, p resumes retrying" if self.paused else "retrying"
        return f"cannot reach Fila at {self.addr} — {state}"

    def show(self, detail: str, paused: bool) -> None:
        """The last error, and whether retries are paused (`p`)."""
        self.detail, self.paused = detail, paused
        if self.is_mounted:
            self.query_one("#unreachable-title", Static).update(self._title())
            self.query_one("#unreachable-detail", Static).update(detail)
