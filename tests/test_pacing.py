"""Paced group commit (fila.server.pacing): under load, turns and fsyncs carry many RPCs;
a lone producer, a single batching client or a broker with spare time is never made to wait."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from fila.engine import Broker, QueueSettings, Storage
from fila.engine.staging import WriteBatch
from fila.server.auth import Auth
from fila.server.core_loop import CoreLoop
from fila.server.hot_path import HotPath
from fila.server.pacing import BUSY_SHARE, PACE_S, STALE_S, WINDOW_S, Pacer
from fila.v1 import service_pb2 as pb


class FakeTimes:
    """The wall clock and the loop thread's CPU clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 100.0
        self.cpu = 10.0

    def run(self, seconds: float, share: float) -> None:
        """`seconds` of wall time pass, the loop thread busy `share` of it."""
        self.now += seconds
        self.cpu += seconds * share


def pacer(t: FakeTimes) -> Pacer:
    return Pacer(cpu=lambda: t.cpu, clock=lambda: t.now)


def report(p: Pacer, t: FakeTimes, *, share: float, answered: int, times: int = 30,
           every_s: float = 0.003) -> None:
    for _ in range(times):
        t.run(every_s, share)
        p.synced(answered)


def test_a_busy_loop_whose_fsyncs_answer_many_rpcs_is_paced() -> None:
    t = FakeTimes()
    p = pacer(t)
    report(p, t, share=0.9, answered=3)
    assert p.pace() == PACE_S


def test_a_busy_loop_answering_one_rpc_per_fsync_is_not_paced() -> None:
    """One client sending big batches back to back: waiting would only add to its latency."""
    t = FakeTimes()
    p = pacer(t)
    report(p, t, share=0.95, answered=1)
    assert p.pace() == 0.0


def test_many_rpcs_on_a_loop_with_time_to_spare_are_not_paced() -> None:
    t = FakeTimes()
    p = pacer(t)
    report(p, t, share=BUSY_SHARE - 0.2, answered=10)
    assert p.pace() == 0.0


def test_pacing_ends_when_the_load_goes() -> None:
    t = FakeTimes()
    p = pacer(t)
    report(p, t, share=0.9, answered=5)
    assert p.pace() == PACE_S
    t.run(1.0, 0.0)  # a quiet second, no fsync at all
    assert p.pace() == 0.0  # a burst after the quiet spell is not paced...
    p.synced(1)
    assert p.pace() == 0.0  # ...and the quiet window counts fully against "busy"


def test_a_report_between_measuring_windows_keeps_the_decision() -> None:
    t = FakeTimes()
    p = pacer(t)
    report(p, t, share=0.9, answered=5)
    t.run(WINDOW_S / 10, 0.0)
    p.synced(5)
    assert p.pace() == PACE_S
    t.run(STALE_S * 2, 0.0)
    assert p.pace() == 0.0


# -- the core loop with a pacer ------------------------------------------------------------


class CountingStorage(Storage):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writes = 0
        self.syncs = 0

    def write(self, batch: WriteBatch) -> None:
        self.writes += 1
        super().write(batch)

    def sync_wal(self) -> None:
        super().sync_wal()
        self.syncs += 1


class FixedPace(Pacer):
    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def pace(self) -> float:
        return self.seconds


class Context:
    def invocation_metadata(self) -> tuple[()]:
        return ()

    async def abort(self, code: Any, details: str) -> None:
        raise AssertionError(f"aborted: {code} {details}")


async def arrivals(storage: CountingStorage, pacer: Pacer,
                   n: int) -> tuple[list[str], int, bool]:
    """`n` unary Enqueue RPCs arriving one per loop iteration, as gRPC hands them over.
    Returns their answers, how many batches were written for them, and whether the
    `fila_storage_paced` gauge said so."""
    broker = Broker(storage)
    broker.create_queue("q", QueueSettings())
    core = CoreLoop(broker, storage, pacer=pacer)
    hot = HotPath(core, Auth(broker.api_keys, None))
    await core.settled()
    written = storage.writes
    calls = []
    for i in range(n):
        request = pb.EnqueueRequest(queue="q", payload=str(i).encode())
        calls.append(asyncio.ensure_future(hot.enqueue(request, Context())))  # type: ignore[arg-type]
        await asyncio.sleep(0)
    answers = await asyncio.gather(*calls)
    writes = storage.writes - written
    assert storage.syncs >= 1
    gauge = core.stats.pace() > 0
    await core.close()
    return [a.message_id for a in answers], writes, gauge


@pytest.mark.parametrize("paced", [False, True])
def test_paced_turns_write_many_rpcs_at_once(tmp_path: Path, paced: bool) -> None:
    storage = CountingStorage(tmp_path)
    try:
        # A long pace, so that on a slow machine too every arrival falls inside the first one.
        ids, writes, gauge = asyncio.run(arrivals(storage, FixedPace(0.5 if paced else 0.0), 40))
    finally:
        storage.close()
    assert len(set(ids)) == 40
    assert gauge == paced
    if paced:
        assert writes <= 2  # one turn at once for the first, one paced turn for the rest
    else:
        assert writes >= 20  # a turn (and a write) per arrival: every RPC answered at once
    # Answers came only once durable: everything is in storage after a reopen.
    reopened = Storage(tmp_path)
    try:
        assert Broker(reopened).recovered["messages"] == 40
    finally:
        reopened.close()


def test_an_idle_broker_never_asks_to_wait(tmp_path: Path) -> None:
    """The real pacer, one producer awaiting each answer: no turn or fsync is paced."""
    storage = CountingStorage(tmp_path)
    spy = RealPacerSpy()

    async def serial() -> None:
        broker = Broker(storage)
        broker.create_queue("q", QueueSettings())
        core = CoreLoop(broker, storage, pacer=spy)
        hot = HotPath(core, Auth(broker.api_keys, None))
        for i in range(50):
            await hot.enqueue(pb.EnqueueRequest(queue="q", payload=str(i).encode()), Context())  # type: ignore[arg-type]
        await core.close()

    try:
        asyncio.run(serial())
    finally:
        storage.close()
    assert spy.calls > 50 and spy.paced == 0
    assert storage.syncs >= 50  # each answer had its own fsync, none waited for company


class RealPacerSpy(Pacer):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.paced = 0

    def pace(self) -> float:
        out = super().pace()
        self.calls += 1
        self.paced += out > 0
        return out
