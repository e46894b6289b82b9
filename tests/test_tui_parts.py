"""`fila top`'s parts on fixed data: cells, the history between polls, the poll discipline,
the dialogs' effects and the help screen. No broker; see test_tui.py for the real one."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import io
import pkgutil
import time
from collections.abc import Callable

import pytest
from rich.console import Console
from textual.binding import Binding
from textual.pilot import Pilot
from textual.widgets import Static

import fila.tui
from fila.client import QueueInfo, QueueStats
from fila.client._types import ThrottleStats
from fila.errors import NotFound
from fila.tui import cells
from fila.tui.dialogs import ConfirmDialog, ThrottleChange, parse_throttle
from fila.tui.fixtures import FixedSource, fixed_app
from fila.tui.help_screen import HelpScreen
from fila.tui.poller import History, Snapshot, fetch
from fila.tui.queues_screen import QueuesScreen
from fila.tui.widgets import KeyedTable


async def until(pilot: Pilot[None], check: Callable[[], object], what: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await pilot.pause(0.01)


def stats(**kw: object) -> QueueStats:
    base: dict[str, object] = dict(depth=0, in_flight=0, active_fairness_keys=0, active_consumers=0, quantum=1000)
    return QueueStats(**(base | kw))  # type: ignore[arg-type]


# -- cells ----------------------------------------------------------------------------------

def test_cells_draw_numbers_rates_and_bars() -> None:
    assert cells.count(12345).plain == "12,345"
    assert [cells.rate(r).plain for r in (None, 0, 0.25, 99.94, 1234.5)] == ["—", "0", "0.2", "99.9", "1,234"]
    assert cells.micros(0).plain == "—" and cells.micros(18).plain == "18 µs"
    assert cells.micros(25_000).plain == "25.0 ms"
    assert cells.bar(0.5, 4) == "██  " and cells.bar(0.5, 1) == "▌" and cells.bar(2, 3) == "███"
    assert cells.spark([], 4).plain == "    "
    assert cells.spark([0, 0], 4).plain == "  ▁▁"
    assert cells.spark([1, 2, 4, 8], 4).plain == "▂▃▅█"
    assert cells.spark(list(range(60)), 20).plain.endswith("█") and len(cells.spark(list(range(60)), 20)) == 20
    share = cells.share(fair=0.5, actual=0.25, width=8).plain
    assert share == "██  │     25% /  50%"
    assert cells.level(5, 10, 4).plain == "██   5.0/10"
    assert cells.percent(None).plain == "—" and cells.percent(0.375).plain == "38%"


# -- history between polls ------------------------------------------------------------------

def test_history_turns_counters_into_rates() -> None:
    h = History(length=3)

    def poll(rounds: int, hits: int, passed: int, rate: float, now_s: float) -> Snapshot:
        t = ThrottleStats("smtp", 1.0, 10.0, 5.0, passed=passed, hits=hits)
        return h.add({"q": stats(drr_rounds=rounds, delivery_rate=rate, throttles=[t])}, now_s)

    first = poll(100, 0, 0, 1.0, 10.0)
    assert first.drr_rounds_per_s == {"q": None} and first.hit_rates == {"smtp": None}
    second = poll(150, 3, 9, 2.0, 12.0)
    assert second.drr_rounds_per_s == {"q": 25.0}
    assert second.hit_rates == {"smtp": 0.25}
    assert poll(150, 3, 9, 3.0, 13.0).hit_rates == {"smtp": None}
    restarted = poll(5, 0, 1, 4.0, 14.0)  # counters went back: unknown, not negative
    assert restarted.drr_rounds_per_s == {"q": None}
    assert restarted.hit_rates == {"smtp": None}
    assert restarted.delivery_history == {"q": (2.0, 3.0, 4.0)}
    assert h.add({}, 15.0).delivery_history == {}  # a deleted queue's series goes with it


def test_fetch_skips_dead_letter_queues_and_vanished_queues() -> None:
    class Source(FixedSource):
        async def list_queues(self) -> list[QueueInfo]:
            return [QueueInfo(n, 0, 0, 0) for n in ("a", "a.dlq", "gone", "orphan.dlq")]

        async def get_stats(self, queue: str) -> QueueStats:
            if queue == "gone":
                raise NotFound(queue)
            return stats(depth=len(queue))

    got = asyncio.run(fetch(Source()))
    assert list(got) == ["a", "orphan.dlq"]  # a DLQ is hidden only when its queue is listed


def test_throttle_input_is_checked_like_the_broker_does() -> None:
    assert parse_throttle(" smtp ", "50", "") == ThrottleChange("smtp", 50.0, 50.0)
    assert parse_throttle("smtp", "0.5", "") == ThrottleChange("smtp", 0.5, 1.0)
    assert parse_throttle("", "1", "1") == "enter a throttle key"
    assert parse_throttle("k", "x", "1") == "rate must be a number"
    assert parse_throttle("k", "-1", "1") == "rate must be 0 or more"
    assert parse_throttle("k", "1", "0.5") == "burst must be at least 1"


# -- the poll discipline --------------------------------------------------------------------

class GatedSource(FixedSource):
    """Each poll waits at the gate; counts how many polls are out at once."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.out = self.most_out = 0

    async def list_queues(self) -> list[QueueInfo]:
        self.out += 1
        self.most_out = max(self.most_out, self.out)
        try:
            await self.gate.wait()
            return await super().list_queues()
        finally:
            self.out -= 1


def test_a_slow_broker_gets_one_poll_at_a_time_and_pause_does_not_rearm() -> None:
    async def run() -> None:
        source = GatedSource()
        app = fixed_app(source)
        app.interval_s = 0.05
        async with app.run_test() as pilot:
            await until(pilot, lambda: source.out == 1, "the first poll")
            await pilot.pause(0.25)  # five intervals: a window for a second poll to (not) start
            assert source.most_out == 1 and not app.armed
            await pilot.press("p")  # pause while the poll is out...
            source.gate.set()
            await until(pilot, lambda: not app.workers, "the poll to finish")
            assert app.snapshot is not None and app.history.polls == 60
            assert not app.armed  # ...and its answer does not arm the next one
            await pilot.press("p")
            await until(pilot, lambda: app.history.polls > 62, "polling again")
            assert source.most_out == 1

    asyncio.run(run())


# -- actions on fixed data ------------------------------------------------------------------

def test_redrive_asks_first_and_skips_an_empty_dlq() -> None:
    async def run() -> None:
        source = FixedSource()
        app = fixed_app(source)
        async with app.run_test(size=(120, 30)) as pilot:
            await until(pilot, lambda: app.snapshot is not None, "the first poll")
            await pilot.press("r")  # billing (first by name) has nothing in its DLQ
            assert isinstance(app.screen, QueuesScreen) and source.calls == []
            await pilot.press("down", "r")
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.press("y")
            await until(pilot, lambda: source.calls == [("redrive", "emails.dlq", "0")], "the redrive")
            table = app.screen.query_one("#queues", KeyedTable)
            await until(pilot, lambda: table.row_text("emails")["DLQ"] == "0", "an empty DLQ")

    asyncio.run(run())


def test_unreachable_notice_follows_pause() -> None:
    async def run() -> None:
        source = FixedSource()
        source.reachable = False
        app = fixed_app(source)
        async with app.run_test(size=(120, 30)) as pilot:
            await until(pilot, lambda: not app.reachable, "the failed poll")
            title = app.screen.query_one("#unreachable-title", Static)
            assert str(title.content) == "cannot reach Fila at 127.0.0.1:5555 — retrying"
            detail = app.screen.query_one("#unreachable-detail", Static)
            assert str(detail.content) == "UNAVAILABLE: failed to connect to all addresses"
            await pilot.press("p")
            assert str(title.content).endswith("— paused, p resumes retrying")
            source.reachable = True
            await pilot.press("p")
            await until(pilot, lambda: isinstance(app.screen, QueuesScreen), "the queues again")

    asyncio.run(run())


def _bindings_in_fila_tui() -> dict[str, list[Binding]]:
    """Every class in fila.tui that declares BINDINGS of its own."""
    found: dict[str, list[Binding]] = {}
    for info in pkgutil.iter_modules(fila.tui.__path__, "fila.tui."):
        for name, cls in inspect.getmembers(importlib.import_module(info.name), inspect.isclass):
            own = cls.__dict__.get("BINDINGS")
            if own and cls.__module__ == info.name:
                found[name] = list(Binding.make_bindings(own))
    return found


@pytest.mark.parametrize("size", [(120, 36), (100, 24)])
def test_help_lists_every_binding(size: tuple[int, int]) -> None:
    declared = _bindings_in_fila_tui()
    assert set(declared) >= {"FilaTop", "QueuesScreen", "QueueScreen", "FilterInput", "ConfirmDialog",
                             "ThrottleDialog", "HelpScreen"}

    async def run() -> None:
        app = fixed_app()
        async with app.run_test(size=size) as pilot:
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            console = Console(width=200, record=True, file=io.StringIO())
            for static in app.screen.query(Static):
                console.print(static.content)
            lines = console.export_text().splitlines()
            for owner, bindings in declared.items():
                for b in bindings:
                    key = app.get_key_display(b)
                    assert any(b.description in line and key in line for line in lines), (
                        f"{owner}: {key} ({b.description}) is not in the help")
            await pilot.press("question_mark")
            assert isinstance(app.screen, QueuesScreen)

    asyncio.run(run())


def test_top_command_runs_the_app_on_the_root_addr(monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    from typer.testing import CliRunner

    from fila.cli import top as top_cmd
    from fila.cli.errors import FilaGroup

    runs: list[tuple[str, float]] = []
    options: list[dict] = []
    monkeypatch.setattr("fila.tui.run", lambda addr, interval_s, **kw: (
        runs.append((addr, interval_s)), options.append(kw)))
    cli = typer.Typer(cls=FilaGroup)
    cli.command("top")(top_cmd.top)
    cli.command("other")(lambda: None)  # two commands, so `top` is a subcommand as in `fila`
    runner = CliRunner()
    assert runner.invoke(cli, ["top", "--interval-s", "0.5"]).exit_code == 0
    assert runs == [("127.0.0.1:5555", 0.5)]
    assert options[0]["api_key"] is None and options[0]["tls"] is False  # passed through
    bad = runner.invoke(cli, ["top", "--interval-s", "0"])
    assert (bad.exit_code, runs[1:]) == (2, [])
    assert "--interval-s must be more than 0" in bad.output
