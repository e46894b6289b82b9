"""`?`: every key binding of every screen, read from their BINDINGS so it cannot go stale."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

Section = tuple[str, Sequence[BindingType]]


def key_rows(app: App[object], bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
    """(keys, what they do), the keys that do the same thing joined: "n / esc"."""
    rows: dict[str, list[str]] = {}
    for b in Binding.make_bindings(bindings):
        keys = rows.setdefault(b.description, [])
        if (key := app.get_key_display(b)) not in keys:
            keys.append(key)
    return [(" / ".join(keys), description) for description, keys in rows.items()]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close help")]

    def __init__(self, sections: Sequence[Section]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        half = (len(self.sections) + 1) // 2
        with VerticalScroll(classes="dialog", id="help"):
            yield Label("fila top — keys", classes="dialog-title")
            with Horizontal():
                yield Static(self._table(self.sections[:half]))
                yield Static(self._table(self.sections[half:]))

    def _table(self, sections: Sequence[Section]) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(justify="right", style="bold")
        table.add_column()
        for i, (title, bindings) in enumerate(sections):
            if i:
                table.add_row("", "")
            table.add_row("", Text(title, style="bold underline"))
            for keys, description in key_rows(self.app, bindings):
                table.add_row(keys, description)
        return table

    def action_close(self) -> None:
        self.dismiss(None)
