"""One queue up close: fairness keys, throttle buckets and Lua hooks; Escape goes back."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label, Sparkline, Static

from fila.client import HookStats, KeyStats, QueueStats, ThrottleStats
from fila.tui import cells
from fila.tui.poller import HISTORY_POLLS, Snapshot
from fila.tui.widgets import Column, Columns, FilterInput, KeyedTable

if TYPE_CHECKING:
    from fila.tui.app import FilaTop


def key_columns() -> Columns[KeyStats]:
    return Columns([
        Column("fairness key", lambda k: k.key, lambda k: k.key, descending=False),
        Column("pending", lambda k: cells.count(k.pending), lambda k: k.pending),
        Column("weight", lambda k: cells.count(k.weight), lambda k: k.weight),
        Column("deficit", lambda k: cells.count(k.deficit), lambda k: k.deficit),
        Column("deliver/s", lambda k: cells.rate(k.delivery_rate), lambda k: k.delivery_rate),
        Column("can get/s", lambda k: cells.rate(k.fair_rate or None), lambda k: k.fair_rate),
        Column("limited by", lambda k: k.limited_by or cells.NONE, lambda k: k.limited_by,
               descending=False),
        Column("share: actual / fair", lambda k: cells.share(k.fair_share, k.actual_share),
               lambda k: k.actual_share),
    ])


def throttle_columns(hit_rates: dict[str, float | None]) -> Columns[ThrottleStats]:
    return Columns([
        Column("throttle key", lambda t: t.key),
        Column("tokens / burst", lambda t: cells.level(t.tokens, t.burst)),
        Column("rate/s", lambda t: cells.number(t.rate_per_second)),
        Column("burst", lambda t: cells.number(t.burst)),
        Column("hit rate", lambda t: cells.percent(hit_rates.get(t.key))),
    ])


def hook_columns() -> Columns[HookStats]:
    return Columns([
        Column("hook", lambda h: h.hook),
        Column("set", lambda h: cells.yes_no(h.configured)),
        Column("calls", lambda h: cells.count(h.calls)),
        Column("errors", lambda h: cells.count(h.errors)),
        Column("p50", lambda h: cells.micros(h.p50_us)),
        Column("p99", lambda h: cells.micros(h.p99_us)),
        Column("breaker", lambda h: cells.breaker(h.breaker_state)),
        Column("opened", lambda h: cells.count(h.breaker_openings)),
    ])


def summary(s: QueueStats, rounds_per_s: float | None) -> Text:
    """The queue's numbers in two lines of `label value` pairs."""
    lines = [
        [("depth", cells.count(s.depth)), ("ready", cells.count(s.ready)),
         ("delayed", cells.count(s.delayed)), ("in flight", cells.count(s.in_flight)),
         ("DLQ", cells.count(s.dlq_depth)), ("consumers", cells.count(s.active_consumers))],
        [("enqueue/s", cells.rate(s.enqueue_rate)), ("deliver/s", cells.rate(s.delivery_rate)),
         ("active keys", cells.count(s.active_fairness_keys)), ("quantum", cells.count(s.quantum)),
         ("DRR rounds/s", cells.rate(rounds_per_s))],
    ]
    text = Text()
    for i, pairs in enumerate(lines):
        if i:
            text.append("\n")
        for label, value in pairs:
            text.append(f"{label} ", style="dim")
            text.append(value.plain, style=value.style)
            text.append("  ")
    return text


class QueueScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("slash", "filter", "Filter keys"),
        Binding("s", "sort", "Sort keys"),
        Binding("r", "redrive", "Redrive DLQ"),
        Binding("t", "throttle", "Set throttle"),
    ]

    AUTO_FOCUS = "#keys"

    filter_text: reactive[str] = reactive("", init=False)

    def __init__(self, queue: str) -> None:
        super().__init__()
        self.queue = queue
        self.key_columns = key_columns()
        self.title = f"queue {queue}"

    @property
    def top(self) -> FilaTop:
        return cast("FilaTop", self.app)

    def compose(self) -> ComposeResult:
        yield Header(icon="≡")
        yield Static(id="summary")
        yield Label(f"delivered/s, last {HISTORY_POLLS} polls", classes="caption")
        yield Sparkline([], id="rate")
        yield Label("fairness keys", classes="caption")
        yield FilterInput("filter keys by name")
        yield KeyedTable(id="keys")
        yield Label("throttle buckets (broker-wide)", classes="caption")
        yield KeyedTable(id="throttles")
        yield Label("Lua hooks", classes="caption")
        yield KeyedTable(id="hooks")
        yield Footer()

    def on_mount(self) -> None:
        self.watch(self.app, "snapshot", self._redraw, init=True)

    def watch_filter_text(self) -> None:
        self._redraw()

    def table(self, name: str) -> KeyedTable:
        return self.query_one(f"#{name}", KeyedTable)

    def _redraw(self, _: Snapshot | None = None) -> None:
        snap = self.top.snapshot
        s = snap.stats.get(self.queue) if snap else None
        if snap is None or s is None:
            gone = f"queue {self.queue} is not on the broker (any more)" if snap else "waiting…"
            self.query_one("#summary", Static).update(gone)
            return
        self.query_one("#summary", Static).update(summary(s, snap.drr_rounds_per_s.get(self.queue)))
        self.query_one("#rate", Sparkline).data = list(snap.delivery_history.get(self.queue, ()))
        needle = self.filter_text.lower()
        keys = [k for k in s.keys if needle in k.key.lower()]
        self.table("keys").show(
            self.key_columns.labels(), self.key_columns.rows(keys, key=lambda k: k.key))
        throttles = throttle_columns(snap.hit_rates)
        self.table("throttles").show(
            throttles.labels(), throttles.rows(snap.throttles, key=lambda t: t.key))
        hooks = hook_columns()
        self.table("hooks").show(hooks.labels(), hooks.rows(s.hooks, key=lambda h: h.hook))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value

    def on_filter_input_closed(self) -> None:
        self.table("keys").focus()

    def action_back(self) -> None:
        self.dismiss()

    def action_filter(self) -> None:
        self.query_one(FilterInput).open()

    def action_sort(self) -> None:
        self.key_columns.cycle()
        self._redraw()

    def action_redrive(self) -> None:
        self.top.confirm_redrive(self.queue)

    def action_throttle(self) -> None:
        self.top.edit_throttle(self.table("throttles").selected_key)
