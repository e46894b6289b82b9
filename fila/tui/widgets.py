"""Widgets shared by the screens: a table refreshed in place, sortable columns, the `/` filter."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Input

R = TypeVar("R")


@dataclass(frozen=True)
class Column(Generic[R]):
    """A table column: its header, how to draw a row's cell, and how to sort by it."""

    label: str
    cell: Callable[[R], Any]
    sort_key: Callable[[R], Any] | None = None  # None: `s` skips this column
    descending: bool = True  # numbers: biggest first; names: pass False


class Columns(Generic[R]):
    """A table's columns and which sortable one its rows are sorted by (`s` cycles)."""

    def __init__(self, columns: Sequence[Column[R]]) -> None:
        self.columns = list(columns)
        self.sortable = [c for c in self.columns if c.sort_key is not None]
        self.sort_index = 0

    @property
    def sorted_by(self) -> Column[R] | None:
        return self.sortable[self.sort_index] if self.sortable else None

    def cycle(self) -> Column[R] | None:
        if self.sortable:
            self.sort_index = (self.sort_index + 1) % len(self.sortable)
        return self.sorted_by

    def labels(self) -> list[str]:
        by = self.sorted_by
        arrow = " ▲" if by and not by.descending else " ▼"
        return [c.label + (arrow if c is by else "") for c in self.columns]

    def rows(self, items: Sequence[R], key: Callable[[R], str]) -> list[tuple[str, list[Any]]]:
        """Cells by row key, sorted by the sort column (or by row key, with no sort column)."""
        # Ties keep the row key order, so equal rows do not swap places between polls.
        ordered = sorted(items, key=key)
        by = self.sorted_by
        if by is not None and by.sort_key is not None:
            ordered.sort(key=by.sort_key, reverse=by.descending)
        return [(key(item), [c.cell(item) for c in self.columns]) for item in ordered]


class KeyedTable(DataTable[Any]):
    """A row-cursor DataTable refreshed in place from `(row key, cells)` pairs.

    Rows that are still there are updated cell by cell; when the set or order of rows
    changes the table is rebuilt, and the cursor stays on the row key it was on.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._labels: tuple[str, ...] = ()
        self._keys: tuple[str, ...] = ()

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    @property
    def keys(self) -> tuple[str, ...]:
        return self._keys

    def row_text(self, row_key: str) -> dict[str, str]:
        """What a row shows, as plain text by column label (without the sort arrow)."""
        return {
            label.removesuffix(" ▲").removesuffix(" ▼"): str(getattr(value, "plain", value))
            for label, value in zip(self._labels, self.get_row(row_key), strict=True)
        }

    def show(self, labels: Sequence[str], rows: Sequence[tuple[str, Sequence[Any]]]) -> None:
        selected = self.selected_key
        keys = tuple(k for k, _ in rows)
        if tuple(labels) != self._labels:
            self.clear(columns=True)
            for i, label in enumerate(labels):
                self.add_column(label, key=str(i))
            self._labels, self._keys = tuple(labels), ()
        if keys == self._keys:
            for key, cells in rows:
                for i, cell in enumerate(cells):
                    if self.get_cell(key, str(i)) != cell:
                        self.update_cell(key, str(i), cell, update_width=True)
            return
        self.clear()
        for key, cells in rows:
            self.add_row(*cells, key=key)
        self._keys = keys
        if selected in keys:
            self.move_cursor(row=keys.index(selected), animate=False)


class FilterInput(Input):
    """The `/` filter: filters as you type; Enter keeps the filter, Escape clears it."""

    BINDINGS = [Binding("escape", "clear", "Clear filter", show=False)]

    class Closed(Message):
        """The user is done with the filter (Enter or Escape)."""

    def __init__(self, placeholder: str) -> None:
        super().__init__(placeholder=placeholder, id="filter")
        self.border_title = "filter: Enter keeps it, Esc clears it"
        self.display = False

    def open(self) -> None:
        self.display = True
        self.focus()

    def action_clear(self) -> None:
        self.value = ""
        self._close()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._close()

    def _close(self) -> None:
        self.display = self.value != ""  # a kept filter stays in sight
        self.post_message(self.Closed())
