"""`fila top`: a live view of a running broker, through the admin RPCs only.

Polling is one exclusive worker that arms its timer again only once the broker has answered
(or failed to), so a slow broker never faces a pile of requests, and `p` pauses by simply not
arming it. The state the screens draw from is three reactives: `snapshot` (the last poll),
`paused` and `reachable`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer

from fila.errors import FilaError
from fila.tui.dialogs import ConfirmDialog, ThrottleChange, ThrottleDialog
from fila.tui.help_screen import HelpScreen, Section
from fila.tui.poller import DLQ_SUFFIX, History, Snapshot, StatsSource, fetch
from fila.tui.queue_screen import QueueScreen
from fila.tui.queues_screen import QueuesScreen
from fila.tui.unreachable_screen import UnreachableScreen
from fila.tui.widgets import FilterInput


class FilaTop(App[None]):
    CSS_PATH = Path(__file__).with_name("fila_top.tcss")  # absolute: subclasses elsewhere work
    TITLE = "fila top"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("p", "toggle_pause", "Pause/resume"),
        Binding("question_mark", "help", "Help"),
    ]

    snapshot: reactive[Snapshot | None] = reactive(None, always_update=True, init=False)
    paused: reactive[bool] = reactive(False, init=False)
    reachable: reactive[bool] = reactive(True, init=False)

    def __init__(
        self,
        source: StatsSource,
        addr: str = "",
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Watch the broker behind `source`, polling every `interval_s` seconds.

        `clock` (monotonic seconds) times the rates between polls; fixed-data tests pass
        one that steps, so their screenshots do not depend on how fast the machine is.
        """
        super().__init__()
        self.source = source
        self.addr = addr or str(getattr(source, "addr", "the broker"))
        self.interval_s = interval_s
        self.clock = clock
        self.history = History()
        self.last_error = ""
        self._timer: Timer | None = None

    def get_default_screen(self) -> Screen[None]:
        return QueuesScreen()

    def on_mount(self) -> None:
        self.sub_title = f"{self.addr} · live"
        self.poll()

    async def on_unmount(self) -> None:
        close = getattr(self.source, "close", None)
        if close is not None:
            await close()

    # -- polling ----------------------------------------------------------------------------

    @work(exclusive=True, group="poll")
    async def poll(self) -> None:
        """Ask for one round of stats, then arm the timer for the next (unless paused)."""
        self._disarm()
        try:
            stats = await fetch(self.source)
        except FilaError as exc:
            self.last_error = f"{exc.code_name}: {exc}"
            self.reachable = False
            self._update_unreachable()
        else:
            self.snapshot = self.history.add(stats, self.clock())
            self.reachable = True
        if not self.paused:
            self._timer = self.set_timer(self.interval_s, self.poll, name="poll")

    @property
    def armed(self) -> bool:
        """Whether the next poll is scheduled (False while paused or while a poll is out)."""
        return self._timer is not None

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def watch_paused(self, paused: bool) -> None:
        self.sub_title = f"{self.addr} · {'paused' if paused else 'live'}"
        self._update_unreachable()
        if paused:
            self._disarm()
        else:
            self.poll()

    def watch_reachable(self, reachable: bool) -> None:
        if not reachable:
            self.push_screen(UnreachableScreen(self.addr, self.last_error, self.paused))
            return
        if any(isinstance(s, UnreachableScreen) for s in self.screen_stack):
            # Also close what was opened over the notice (help); dialogs opened before the
            # broker went away are under it, and come back as they were.
            while not isinstance(self.screen, UnreachableScreen):
                self.pop_screen()
            self.pop_screen()

    def _update_unreachable(self) -> None:
        for s in self.screen_stack:
            if isinstance(s, UnreachableScreen):
                s.show(self.last_error, self.paused)

    # -- actions ----------------------------------------------------------------------------

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.help_sections()))

    def help_sections(self) -> list[Section]:
        return [
            ("Everywhere", self.BINDINGS),
            ("Queues", QueuesScreen.BINDINGS),
            ("Queue (Enter on a queue)", [
                *QueueScreen.BINDINGS, Binding("tab", "focus_next", "Next table")]),
            ("Filter (/)", [*FilterInput.BINDINGS, Binding("enter", "keep", "Keep the filter")]),
            ("Dialogs", [*ConfirmDialog.BINDINGS, *ThrottleDialog.BINDINGS,
                         Binding("enter", "apply", "Apply the throttle")]),
            ("Help", HelpScreen.BINDINGS),
        ]

    def confirm_redrive(self, queue: str) -> None:
        """Ask, then move every message of `queue`'s DLQ back to it."""
        stats = self.snapshot.stats.get(queue) if self.snapshot else None
        dlq = queue + DLQ_SUFFIX
        waiting = stats.dlq_depth if stats else 0
        if not waiting:
            self.notify(f"{dlq} is empty: nothing to redrive")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.redrive(dlq, queue)

        question = f"Move the {waiting:,} messages in {dlq} back to {queue}?"
        self.push_screen(ConfirmDialog("Redrive dead letters", question, "Redrive"), answered)

    @work(group="actions")
    async def redrive(self, dlq: str, queue: str) -> None:
        try:
            moved = await self.source.redrive(dlq, 0)
        except FilaError as exc:
            self.notify(str(exc), title=f"redrive of {dlq} failed", severity="error")
            return
        self.notify(f"moved {moved:,} messages from {dlq} back to {queue}")
        self.poll()

    def edit_throttle(self, key: str | None) -> None:
        """Open the throttle dialog on `key` (empty: the user types a key)."""
        current = self.snapshot.throttle(key) if key and self.snapshot else None
        dialog = ThrottleDialog(
            key or "",
            current.rate_per_second if current else None,
            current.burst if current else None,
        )
        self.push_screen(dialog, self._throttle_chosen)

    def _throttle_chosen(self, change: ThrottleChange | None) -> None:
        if change is not None:
            self.set_throttle(change)

    @work(group="actions")
    async def set_throttle(self, change: ThrottleChange) -> None:
        try:
            await self.source.set_throttle(change.key, change.rate_per_second, change.burst)
        except FilaError as exc:
            self.notify(str(exc), title=f"throttle {change.key} not set", severity="error")
            return
        self.notify(f"{change.key}: {change.rate_per_second:g}/s, burst {change.burst:g}")
        self.poll()
