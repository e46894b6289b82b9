"""`fila top` against real brokers: the screen shows what the broker has, and the dialogs
change the broker.

Each test drives the app with Textual's pilot inside `asyncio.run`, polling every 0.2 s,
and waits for what it expects with a deadline (`until`), never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, Static

from fila.client import AsyncClient, Client, Message
from fila.tui import ClientSource, FilaTop
from fila.tui.dialogs import ConfirmDialog, ThrottleDialog
from fila.tui.queue_screen import QueueScreen
from fila.tui.queues_screen import QueuesScreen
from fila.tui.unreachable_screen import UnreachableScreen
from fila.tui.widgets import KeyedTable
from tests.conftest import take, wait_for
from tests.fila_process import FilaProcess

INTERVAL_S = 0.2
SIZE = (140, 44)
ON_ENQUEUE = """
function on_enqueue(msg)
  return { fairness_key = msg.headers.tenant or "default",
           weight = tonumber(msg.headers.weight or "1"),
           throttle_keys = { "provider:smtp" } }
end"""
ON_FAILURE = 'function on_failure(msg) return { action = "dlq" } end'


def top(addr: str) -> FilaTop:
    return FilaTop(ClientSource(addr, timeout_s=2.0), interval_s=INTERVAL_S)


async def until(pilot: Pilot[None], check: Callable[[], object], what: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await pilot.pause(0.05)


def row(app: FilaTop, table: str, key: str) -> dict[str, str]:
    """A row of a table on the current screen, by column label; {} if it is not there."""
    t = app.screen.query_one(f"#{table}", KeyedTable)
    return t.row_text(key) if key in t.keys else {}


def keys(app: FilaTop, table: str) -> tuple[str, ...]:
    return app.screen.query_one(f"#{table}", KeyedTable).keys


async def open_queue(pilot: Pilot[None], app: FilaTop, name: str) -> None:
    await until(pilot, lambda: name in keys(app, "queues"), f"{name} in the queues table")
    app.screen.query_one("#queues", KeyedTable).move_cursor(row=keys(app, "queues").index(name))
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, QueueScreen), "the queue screen")
    await until(pilot, lambda: row(app, "hooks", "on_enqueue"), "the queue's stats")


def test_queues_table_follows_live_traffic(server: FilaProcess, client: Client) -> None:
    client.create_queue("emails", on_enqueue=ON_ENQUEUE)
    client.create_queue("idle")
    for i in range(30):
        client.enqueue("emails", b"x", {"tenant": "globex" if i % 3 else "acme"})

    async def run() -> None:
        app = top(server.addr)
        async with app.run_test(size=SIZE) as pilot, AsyncClient(server.addr) as fila:
            await until(pilot, lambda: row(app, "queues", "emails").get("depth") == "30", "depth 30")
            emails = row(app, "queues", "emails")
            assert [emails[c] for c in ("ready", "in flight", "delayed", "DLQ", "consumers", "deliver/s")
                    ] == ["30", "0", "0", "0", "0", "0"]
            assert keys(app, "queues") == ("emails", "idle")  # no rows for the DLQs

            # A consumer that holds what it gets: 10 in flight, 20 ready.
            held: list[Message] = []
            acking = asyncio.Event()

            async def consume() -> None:
                async for msg in fila.lease("emails", credit=10):
                    held.append(msg)
                    if acking.is_set():
                        await fila.ack("emails", msg.id)

            consumer = asyncio.create_task(consume())
            await until(pilot, lambda: row(app, "queues", "emails")["in flight"] == "10", "10 in flight")
            assert row(app, "queues", "emails")["ready"] == "20"
            assert row(app, "queues", "emails")["consumers"] == "1"

            # Ack them and the rest: the queue drains, delivery shows in the rate and sparkline.
            acking.set()
            await asyncio.gather(*(fila.ack("emails", m.id) for m in held[:10]))
            await until(pilot, lambda: row(app, "queues", "emails")["depth"] == "0", "drained")
            await until(pilot, lambda: row(app, "queues", "emails")["in flight"] == "0", "all acked")
            await until(pilot, lambda: row(app, "queues", "emails")["deliver/s"] != "0", "deliver/s")
            spark = row(app, "queues", "emails")["trend, 60 polls"]
            assert set(spark.strip()) - {"▁"}, spark

            await asyncio.gather(*(fila.enqueue("idle", b"y") for _ in range(5)))
            await until(pilot, lambda: row(app, "queues", "idle")["enqueue/s"] != "0", "enqueue/s")
            consumer.cancel()

    asyncio.run(run())


def test_drill_down_shows_keys_throttles_and_hooks(server: FilaProcess, client: Client) -> None:
    client.set_throttle("provider:smtp", 4, 2)
    client.create_queue("emails", on_enqueue=ON_ENQUEUE)
    for i in range(12):
        tenant, weight = ("acme", "2") if i < 8 else ("globex", "1")
        client.enqueue("emails", b"x", {"tenant": tenant, "weight": weight})

    async def run() -> None:
        app = top(server.addr)
        async with app.run_test(size=SIZE) as pilot, AsyncClient(server.addr) as fila:
            await open_queue(pilot, app, "emails")
            assert app.screen.title == "queue emails"
            acme, globex = row(app, "keys", "acme"), row(app, "keys", "globex")
            assert [acme[c] for c in ("pending", "weight", "deficit", "deliver/s")] == ["8", "2", "0", "0"]
            assert (globex["pending"], globex["weight"]) == ("4", "1")
            assert acme["share: actual / fair"].endswith("0% /  67%")  # nothing delivered yet
            smtp = row(app, "throttles", "provider:smtp")
            assert (smtp["rate/s"], smtp["burst"], smtp["hit rate"]) == ("4", "2", "—")
            assert smtp["tokens / burst"].endswith("2.0/2")
            on_enqueue = row(app, "hooks", "on_enqueue")
            assert (on_enqueue["set"], on_enqueue["calls"], on_enqueue["breaker"]) == ("yes", "12", "closed")
            assert row(app, "hooks", "on_failure")["set"] == "no"

            # A consumer faster than the bucket: the throttle refuses some checks.
            async def consume() -> None:
                async for msg in fila.lease("emails", credit=100):
                    await fila.ack("emails", msg.id)

            consumer = asyncio.create_task(consume())
            await until(pilot, lambda: row(app, "throttles", "provider:smtp")["hit rate"] not in ("—", "0%"),
                        "throttle hits")
            await until(pilot, lambda: row(app, "keys", "acme").get("deliver/s", "0") != "0",
                        "acme's delivery rate")
            summary = str(app.screen.query_one("#summary", Static).content)
            assert "DRR rounds/s" in summary and "consumers 1" in summary
            consumer.cancel()

            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, QueuesScreen), "back to the queues")

    asyncio.run(run())


def test_filter_and_sort(server: FilaProcess, client: Client) -> None:
    for name, depth in (("alpha", 1), ("beta", 3), ("gamma", 2)):
        client.create_queue(name, on_enqueue=ON_ENQUEUE)
        for tenant in ("acme", "apex", "globex")[:depth]:
            client.enqueue(name, b"x", {"tenant": tenant})

    async def run() -> None:
        app = top(server.addr)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: len(keys(app, "queues")) == 3, "three queues")
            assert keys(app, "queues") == ("alpha", "beta", "gamma")  # by name at first
            await pilot.press("s")  # then by depth, biggest first
            assert keys(app, "queues") == ("beta", "gamma", "alpha")
            await pilot.press("s", "s", "s", "s", "s", "s", "s", "s")  # all the way round
            assert keys(app, "queues") == ("alpha", "beta", "gamma")

            await pilot.press("slash", "a", "l")
            assert keys(app, "queues") == ("alpha",)
            await pilot.press("enter")  # keeps the filter, back to the table
            assert isinstance(app.focused, KeyedTable)
            assert keys(app, "queues") == ("alpha",)
            assert "1 of 3 queues" in str(app.screen.query_one("#status", Static).content)
            await pilot.press("slash", "escape")  # clears it
            assert keys(app, "queues") == ("alpha", "beta", "gamma")
            await pilot.press("slash", *"glob", "enter")  # a fairness key: the queues it is in
            assert keys(app, "queues") == ("beta",)
            await pilot.press("slash", "escape")

            await open_queue(pilot, app, "beta")
            assert keys(app, "keys") == ("acme", "apex", "globex")
            await pilot.press("slash", "a", "p")
            assert keys(app, "keys") == ("apex",)
            await pilot.press("escape")  # clears the filter first...
            assert keys(app, "keys") == ("acme", "apex", "globex")
            await pilot.press("escape")  # ...then goes back
            assert isinstance(app.screen, QueuesScreen)

    asyncio.run(run())


def test_pause_stops_polling_and_resume_catches_up(server: FilaProcess, client: Client) -> None:
    client.create_queue("jobs")

    async def run() -> None:
        app = top(server.addr)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: row(app, "queues", "jobs"), "the jobs row")
            await pilot.press("p")
            assert app.paused and app.sub_title.endswith("paused")
            await until(pilot, lambda: not app.workers, "the last poll to finish")
            polls = app.history.polls
            assert not app.armed  # no poll can come
            client.enqueue("jobs", b"x")
            await pilot.pause(5 * INTERVAL_S)  # not a sync point: a window for a poll to (not) happen
            assert app.history.polls == polls
            assert row(app, "queues", "jobs")["depth"] == "0"

            await pilot.press("p")
            assert app.sub_title.endswith("live")
            await until(pilot, lambda: row(app, "queues", "jobs")["depth"] == "1", "the new depth")

    asyncio.run(run())


def test_redrive_dialog_moves_dead_letters_back(server: FilaProcess, client: Client) -> None:
    client.create_queue("jobs", on_failure=ON_FAILURE)
    for i in range(3):
        client.enqueue("jobs", f"job {i}")
    for msg in take(client, "jobs", 3):
        client.nack("jobs", msg.id, "boom")
    wait_for(lambda: client.get_stats("jobs").dlq_depth == 3, what="3 dead letters")

    async def run() -> None:
        app = top(server.addr)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: row(app, "queues", "jobs").get("DLQ") == "3", "DLQ 3")
            await pilot.press("r")
            assert isinstance(app.screen, ConfirmDialog)
            assert "Move the 3 messages in jobs.dlq back to jobs?" in app.screen.question
            await pilot.press("n")
            assert isinstance(app.screen, QueuesScreen)
            assert client.get_stats("jobs").dlq_depth == 3

            await pilot.press("r", "y")
            await until(pilot, lambda: row(app, "queues", "jobs")["DLQ"] == "0", "an empty DLQ")
            stats = client.get_stats("jobs")
            assert (stats.dlq_depth, stats.depth) == (0, 3)
            await until(pilot, lambda: row(app, "queues", "jobs")["depth"] == "3", "depth 3")

    asyncio.run(run())


def test_throttle_dialog_sets_rate_and_burst(server: FilaProcess, client: Client) -> None:
    client.set_throttle("provider:smtp", 5, 5)
    client.create_queue("emails", on_enqueue=ON_ENQUEUE)
    client.enqueue("emails", b"x", {"tenant": "acme"})  # the queue uses provider:smtp

    async def run() -> None:
        app = top(server.addr)
        async with app.run_test(size=SIZE) as pilot:
            await open_queue(pilot, app, "emails")
            await pilot.press("t")
            dialog = app.screen
            assert isinstance(dialog, ThrottleDialog)
            values = {n: dialog.query_one(f"#{n}", Input).value for n in ("key", "rate", "burst")}
            assert values == {"key": "provider:smtp", "rate": "5", "burst": "5"}
            assert app.focused is dialog.query_one("#rate", Input)
            await pilot.press("end", "backspace", "5", "0", "tab", "end", "backspace", "0", "enter")
            assert "burst must be at least 1" in str(dialog.query_one("#error", Static).content)
            assert app.screen is dialog  # still open: nothing sent
            await pilot.press("backspace", "1", "0", "enter")
            await until(pilot, lambda: row(app, "throttles", "provider:smtp")["rate/s"] == "50", "50/s")
            assert row(app, "throttles", "provider:smtp")["burst"] == "10"
            assert client.get_config("throttle.provider:smtp") == "50,10"

            await pilot.press("t", "escape")  # cancel changes nothing
            assert isinstance(app.screen, QueueScreen)
            assert client.get_config("throttle.provider:smtp") == "50,10"

    asyncio.run(run())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_screen_comes_and_goes_with_the_broker(tmp_path: Path) -> None:
    port = _free_port()
    addr = f"127.0.0.1:{port}"
    broker = FilaProcess(tmp_path / "data", extra_args=["--listen", addr])

    def unreachable(app: FilaTop) -> bool:
        return isinstance(app.screen, UnreachableScreen)

    async def run() -> None:
        app = top(addr)
        async with app.run_test(size=SIZE) as pilot:
            # Nothing listens yet.
            await until(pilot, lambda: unreachable(app), "the unreachable screen")
            title = str(app.screen.query_one("#unreachable-title", Static).content)
            assert title == f"cannot reach Fila at {addr} — retrying"
            await asyncio.to_thread(broker.start)
            with Client(addr) as c:
                c.create_queue("survivor")
            await until(pilot, lambda: not unreachable(app) and "survivor" in keys(app, "queues"),
                        "the queues, once the broker is up")

            broker.kill()
            await until(pilot, lambda: unreachable(app), "the unreachable screen again")
            await asyncio.to_thread(broker.start)  # same dir, same port
            await until(pilot, lambda: not unreachable(app) and "survivor" in keys(app, "queues"),
                        "the queues, once the broker is back")

    try:
        asyncio.run(run())
    finally:
        broker.kill()
