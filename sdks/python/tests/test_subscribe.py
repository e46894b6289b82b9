"""AsyncClient.subscribe against a real broker: ack on return, nack on raise, and a handler
that works longer than the visibility timeout keeps its message (the lease is extended)."""

from __future__ import annotations

import asyncio
from collections import Counter

from fila.client import AsyncClient, Message
from tests.fila_process import FilaProcess


async def _until(predicate, timeout_s: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_a_long_handler_keeps_its_lease_and_failures_are_nacked(server: FilaProcess) -> None:
    async def main() -> None:
        async with AsyncClient(server.addr) as c:
            await c.create_queue("jobs", visibility_timeout_ms=600)
            ids = [await c.enqueue("jobs", name) for name in ("slow", "fails", "quick")]
            calls: Counter[str] = Counter()
            attempts: dict[str, list[int]] = {}

            async def handler(msg: Message) -> None:
                name = msg.payload.decode()
                calls[name] += 1
                attempts.setdefault(name, []).append(msg.attempt_count)
                if name == "slow":
                    await asyncio.sleep(2.0)  # over three visibility timeouts
                if name == "fails" and msg.attempt_count == 0:
                    raise RuntimeError("first try fails")

            task = asyncio.ensure_future(c.subscribe("jobs", handler, credit=5))

            async def drained() -> bool:
                st = await c.get_stats("jobs")
                return st.depth == 0 and st.in_flight == 0 and sum(calls.values()) >= 4

            await _until(drained)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert calls == {"slow": 1, "fails": 2, "quick": 1}  # slow was never redelivered
            assert attempts["fails"] == [0, 1] and attempts["slow"] == [0]
            assert len(ids) == 3 and attempts["quick"] == [0]

    asyncio.run(asyncio.wait_for(main(), 60))
