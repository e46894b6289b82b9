"""SVG snapshots of `fila top` on fixed data (`fila.tui.fixtures`), via pytest-textual-snapshot.

After a change of look that is meant: `pytest tests/test_tui_snapshots.py --snapshot-update`,
then look at the SVGs in tests/__snapshots__/test_tui_snapshots/ before keeping them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot

from fila.tui.fixtures import SCREENSHOT_SIZE, FixedSource, fixed_app
from fila.tui.unreachable_screen import UnreachableScreen

SnapCompare = Callable[..., bool]


def test_queues(snap_compare: SnapCompare) -> None:
    assert snap_compare(fixed_app(), terminal_size=SCREENSHOT_SIZE)


def test_queues_sorted_by_depth_and_filtered(snap_compare: SnapCompare) -> None:
    press = ["s", "slash", "e", "enter"]
    assert snap_compare(fixed_app(), press=press, terminal_size=SCREENSHOT_SIZE)


def test_queue_drill_down(snap_compare: SnapCompare) -> None:
    assert snap_compare(fixed_app(), press=["down", "enter"], terminal_size=SCREENSHOT_SIZE)


def test_queue_keys_sorted_by_pending(snap_compare: SnapCompare) -> None:
    assert snap_compare(fixed_app(), press=["down", "enter", "s"], terminal_size=(100, 30))


def test_small_terminal(snap_compare: SnapCompare) -> None:
    assert snap_compare(fixed_app(), press=["down", "enter"], terminal_size=(80, 24))


def test_help(snap_compare: SnapCompare) -> None:
    assert snap_compare(fixed_app(), press=["question_mark"], terminal_size=SCREENSHOT_SIZE)


def test_redrive_dialog(snap_compare: SnapCompare) -> None:
    assert snap_compare(fixed_app(), press=["down", "r"], terminal_size=SCREENSHOT_SIZE)


def test_throttle_dialog(snap_compare: SnapCompare) -> None:
    press = ["down", "enter", "tab", "down", "t"]
    assert snap_compare(fixed_app(), press=press, terminal_size=SCREENSHOT_SIZE)


def test_throttle_dialog_refuses_a_bad_burst(snap_compare: SnapCompare) -> None:
    press = ["down", "enter", "tab", "t", "tab", "end", "backspace", "backspace", "0", "enter"]
    assert snap_compare(fixed_app(), press=press, terminal_size=SCREENSHOT_SIZE)


def test_paused(snap_compare: SnapCompare) -> None:
    assert snap_compare(fixed_app(), press=["p"], terminal_size=SCREENSHOT_SIZE)


def test_unreachable(snap_compare: SnapCompare) -> None:
    source = FixedSource()
    source.reachable = False

    async def wait_for_the_failed_poll(pilot: Pilot[None]) -> None:
        deadline = time.monotonic() + 5
        while not isinstance(pilot.app.screen, UnreachableScreen):
            assert time.monotonic() < deadline, "no unreachable screen after 5s"
            await pilot.pause(0.01)

    app = fixed_app(source)
    assert snap_compare(app, run_before=wait_for_the_failed_poll, terminal_size=SCREENSHOT_SIZE)
