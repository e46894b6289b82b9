"""The first screen: one row per queue, refreshed on every poll; Enter drills into a queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from fila.client import QueueStats
from fila.tui import cells
from fila.tui.poller import HISTORY_POLLS, Snapshot
from fila.tui.queue_screen import QueueScreen
from fila.tui.widgets import Column, Columns, FilterInput, KeyedTable

if TYPE_CHECKING:
    from fila.tui.app import FilaTop


@dataclass(frozen=True)
class QueueRow:
    name: str
    stats: QueueStats
    delivery_history: tuple[float, ...]


def queue_columns() -> Columns[QueueRow]:
    return Columns([
        Column("queue", lambda r: r.name, lambda r: r.name, descending=False),
        Column("depth", lambda r: cells.count(r.stats.depth), lambda r: r.stats.depth),
        Column("ready", lambda r: cells.count(r.stats.ready), lambda r: r.stats.ready),
        Column("in flight", lambda r: cells.count(r.stats.in_flight), lambda r: r.stats.in_flight),
        Column("delayed", lambda r: cells.count(r.stats.delayed), lambda r: r.stats.delayed),
        Column("DLQ", lambda r: cells.count(r.stats.dlq_depth), lambda r: r.stats.dlq_depth),
        Column("consumers", lambda r: cells.count(r.stats.active_consumers),
               lambda r: r.stats.active_consumers),
        Column("enqueue/s", lambda r: cells.rate(r.stats.enqueue_rate),
               lambda r: r.stats.enqueue_rate),
        Column("deliver/s", lambda r: cells.rate(r.stats.delivery_rate),
               lambda r: r.stats.delivery_rate),
        Column(f"trend, {HISTORY_POLLS} polls", lambda r: cells.spark(r.delivery_history, 15)),
    ])


def matches(needle: str, name: str, stats: QueueStats) -> bool:
    """The filter: a queue's name, or a fairness key that has messages in it."""
    return needle in name.lower() or any(needle in k.key.lower() for k in stats.keys)


class QueuesScreen(Screen[None]):
    BINDINGS = [
        Binding("enter", "open", "Open queue"),
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("r", "redrive", "Redrive DLQ"),
        Binding("t", "throttle", "Set throttle"),
    ]

    AUTO_FOCUS = "#queues"

    filter_text: reactive[str] = reactive("", init=False)

    def __init__(self) -> None:
        super().__init__()
        self.columns = queue_columns()

    @property
    def top(self) -> FilaTop:
        return cast("FilaTop", self.app)

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#queues", KeyedTable)

    def compose(self) -> ComposeResult:
        yield Header(icon="≡")
        yield FilterInput("queue name, or a fairness key with messages in the queue")
        yield KeyedTable(id="queues")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.watch(self.app, "snapshot", self._redraw, init=True)

    def watch_filter_text(self) -> None:
        self._redraw()

    def _redraw(self, _: Snapshot | None = None) -> None:
        snap = self.top.snapshot
        if snap is None:
            self.query_one("#status", Static).update("waiting for the broker…")
            return
        needle = self.filter_text.lower()
        rows = [QueueRow(name, s, snap.delivery_history.get(name, ()))
                for name, s in snap.stats.items() if matches(needle, name, s)]
        self.table.show(self.columns.labels(), self.columns.rows(rows, key=lambda r: r.name))
        status = f"{len(rows)} of {len(snap.stats)} queues" if needle else f"{len(rows)} queues"
        by = self.columns.sorted_by
        if by is not None:
            status += f" · sorted by {by.label}"
        if needle:
            status += f" · filter: {self.filter_text}"
        self.query_one("#status", Static).update(status)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value

    def on_filter_input_closed(self) -> None:
        self.table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        name = self.table.selected_key
        if name is not None:
            self.app.push_screen(QueueScreen(name))

    def action_filter(self) -> None:
        self.query_one(FilterInput).open()

    def action_sort(self) -> None:
        self.columns.cycle()
        self._redraw()

    def action_redrive(self) -> None:
        name = self.table.selected_key
        if name is not None:
            self.top.confirm_redrive(name)

    def action_throttle(self) -> None:
        self.top.edit_throttle(None)

