"""Modal dialogs: confirm an action, and set a throttle key's rate and burst."""

from __future__ import annotations

import math
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class ConfirmDialog(ModalScreen[bool]):
    """Ask before changing the broker: `y` or the first button confirms, `n` or Escape cancels."""

    BINDINGS = [
        Binding("y", "answer(True)", "Confirm"),
        Binding("n,escape", "answer(False)", "Cancel"),
    ]

    def __init__(self, title: str, question: str, confirm_label: str) -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.question, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.confirm_label} (y)", variant="warning", id="confirm")
                yield Button("Cancel (n)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


@dataclass(frozen=True)
class ThrottleChange:
    key: str
    rate_per_second: float
    burst: float


def parse_throttle(key: str, rate: str, burst: str) -> ThrottleChange | str:
    """The change the user typed, or what is wrong with it (the broker's own rules)."""
    key = key.strip()
    if not key:
        return "enter a throttle key"
    try:
        r = float(rate)
    except ValueError:
        return "rate must be a number"
    try:
        b = float(burst) if burst.strip() else max(1.0, r)
    except ValueError:
        return "burst must be a number"
    if not (math.isfinite(r) and math.isfinite(b)) or r < 0:
        return "rate must be 0 or more"
    if b < 1:
        return "burst must be at least 1"
    return ThrottleChange(key, r, b)


class ThrottleDialog(ModalScreen[ThrottleChange | None]):
    """Set a throttle key's rate and burst; Enter or Apply sets it, Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, key: str = "", rate: float | None = None, burst: float | None = None) -> None:
        super().__init__()
        self.key = key
        self.current = f"now {rate:g}/s, burst {burst:g}" if rate is not None and burst else ""
        self.rate = "" if rate is None else f"{rate:g}"
        self.burst = "" if burst is None else f"{burst:g}"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Set throttle", classes="dialog-title")
            if self.current:
                yield Static(f"{self.key}: {self.current}", classes="dialog-body")
            yield Label("key")
            yield Input(self.key, placeholder="provider:smtp", id="key")
            yield Label("rate per second")
            yield Input(self.rate, placeholder="50", type="number", id="rate")
            yield Label("burst (tokens)")
            yield Input(self.burst, placeholder="rate, at least 1", type="number", id="burst")
            yield Static("", id="error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Apply", variant="warning", id="apply")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#rate" if self.key else "#key", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._apply()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self._apply()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _apply(self) -> None:
        change = parse_throttle(*(self.query_one(f"#{n}", Input).value for n in ("key", "rate", "burst")))
        if isinstance(change, str):
            self.query_one("#error", Static).update(change)
        else:
            self.dismiss(change)
