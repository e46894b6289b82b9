"""The Python SDK rides out a broker restart: a consumer keeps consuming, calls made while the
broker is away succeed once it is back, and no confirmed ack is lost (tests through a real
`fila serve`, killed with SIGKILL and started again on the same port and data dir)."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path

import pytest

from fila.client import (
    AsyncClient,
    Client,
    FailedPrecondition,
    NotFound,
    Reconnect,
    RetryEvent,
    Unavailable,
)
from tests.conftest import wait_for
from tests.fila_process import FilaProcess

N = 300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def broker(tmp_path: Path) -> FilaProcess:
    """A broker on a fixed port, so that a restart comes back where clients look."""
    proc = FilaProcess(tmp_path / "data", extra_args=["--listen", f"127.0.0.1:{_free_port()}"])
    proc.start()
    yield proc
    proc.kill()


def test_a_consumer_keeps_going_through_a_restart_and_no_confirmed_ack_is_lost(broker: FilaProcess) -> None:
    events: list[RetryEvent] = []
    c = Client(broker.addr, reconnect=Reconnect(max_wait_s=60, on_retry=events.append))
    c.create_queue("q", visibility_timeout_ms=60_000)
    ids = {c.enqueue("q", str(i)) for i in range(N)}
    confirmed: list[str] = []  # acks that returned: durable, never delivered again
    redelivered_after_ack: list[str] = []
    lost_leases = 0
    restarted = threading.Event()

    def consume() -> None:
        nonlocal lost_leases
        with c.lease("q", credit=10) as stream:
            for msg in stream:
                if msg.id in confirmed:
                    redelivered_after_ack.append(msg.id)
                try:
                    c.ack("q", msg.id, msg.lease_id)
                    confirmed.append(msg.id)
                except (NotFound, FailedPrecondition):
                    lost_leases += 1  # leased before the restart: it comes again
                if len(set(confirmed)) == N:
                    return
                if len(confirmed) == N // 3 and not restarted.is_set():
                    restarted.set()
                    broker.kill()
                    broker.start()

    worker = threading.Thread(target=consume)
    worker.start()
    worker.join(120)
    assert not worker.is_alive(), f"the consumer stopped at {len(set(confirmed))} of {N}"
    assert restarted.is_set() and events, "the broker was restarted and the client retried"
    assert set(confirmed) == ids and not redelivered_after_ack
    stats = c.get_stats("q")
    assert (stats.depth, stats.in_flight) == (0, 0)
    c.close()


def test_a_call_made_while_the_broker_is_away_succeeds_once_it_is_back(broker: FilaProcess) -> None:
    c = Client(broker.addr)
    c.create_queue("q")
    broker.kill()
    result: list[str] = []
    call = threading.Thread(target=lambda: result.append(c.enqueue("q", "while away")))
    call.start()
    wait_for(lambda: not broker.running, what="the broker to be down")
    broker.start()
    call.join(30)
    assert result and c.peek("q")[0].id == result[0]
    c.close()


def test_the_wait_is_bounded_and_can_be_turned_off(broker: FilaProcess) -> None:
    broker.kill()
    events: list[RetryEvent] = []
    with Client(broker.addr, reconnect=Reconnect(max_wait_s=0.5, on_retry=events.append)) as c:
        with pytest.raises(Unavailable):
            c.list_queues()
    assert events and events[0].what == "ListQueues" and events[0].attempt == 1
    with Client(broker.addr, reconnect=None) as c, pytest.raises(Unavailable):
        c.list_queues()


def test_the_async_client_consumes_through_a_restart(broker: FilaProcess) -> None:
    async def main() -> None:
        async with AsyncClient(broker.addr, reconnect=Reconnect(max_wait_s=60)) as c:
            await c.create_queue("q", visibility_timeout_ms=60_000)
            ids = set(await asyncio.gather(*(c.enqueue("q", str(i)) for i in range(N))))
            confirmed: set[str] = set()
            restarted = False
            async for msg in c.lease("q", credit=20):
                assert msg.id not in confirmed, "a confirmed ack came back"
                try:
                    await c.ack("q", msg.id, msg.lease_id)
                    confirmed.add(msg.id)
                except (NotFound, FailedPrecondition):
                    pass  # leased before the restart: delivered again
                if len(confirmed) == N:
                    break
                if len(confirmed) >= N // 3 and not restarted:
                    restarted = True
                    broker.kill()
                    broker.start()
            assert restarted and confirmed == ids
            stats = await c.get_stats("q")
            assert (stats.depth, stats.in_flight) == (0, 0)

    asyncio.run(asyncio.wait_for(main(), 120))
