"""What the scenarios share: the queue and its Lua hooks, pre-filling, and one measured run.

The load itself runs in worker processes (bench/workers.py); this module sets up the broker
side through the SDK's admin calls (which are not batched) and runs a set of `Job`s for a
warm-up and a measured window.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.harness import Row, ServerProcess, Settings, Window, measure
from bench.workers import QUEUE, Job, Load, payload, tenant
from fila.client import AsyncClient

__all__ = ["QUEUE", "Job", "Load", "payload", "tenant"]

# The hook every scenario uses unless it says otherwise: the fairness key from a header.
TENANT_HOOK = """
function on_enqueue(msg)
  return { fairness_key = msg.headers.tenant or "default" }
end
"""

# The same, plus one throttle key per tenant ("rate:t17"): every message is checked against
# a token bucket once one is configured for its key.
THROTTLE_HOOK = """
function on_enqueue(msg)
  local t = msg.headers.tenant or "default"
  return { fairness_key = t, throttle_keys = { "rate:" .. t } }
end
"""

Setup = Callable[[AsyncClient], Awaitable[None]]


async def setup_queue(addr: str, hook: str = TENANT_HOOK, setup: Setup | None = None) -> None:
    async with AsyncClient(addr) as client:
        await client.create_queue(QUEUE, on_enqueue=hook)
        if setup is not None:
            await setup(client)


async def stats(addr: str) -> Any:
    async with AsyncClient(addr) as client:
        return await client.get_stats(QUEUE)


async def fill(addr: str, messages: int, *, keys: int, payload_bytes: int, batch: int = 500,
               tasks: int = 4) -> int:
    """Enqueue about `messages` messages with EnqueueBatch (a worker process); returns how
    many were accepted (a little more than asked: the last batches in flight finish)."""
    job = Job("enqueue-batch", addr, tasks=tasks, batch=batch, keys=keys,
              payload_bytes=payload_bytes, limit=messages)
    async with Load([job]) as load:
        await load.wait()
    return load.counters[0].n


@dataclass
class Run:
    """A measured run: the window (counts in the order of the jobs) and the queue's stats
    taken at the end of the window."""

    window: Window
    depth: int
    in_flight: int
    active_keys: int

    def backlog_note(self, consumed: int = 0, produced: int = 1) -> str:
        grew = self.window.counts[produced] - self.window.counts[consumed]
        return (f"enqueued {self.window.rate(produced):,.0f} msg/s, backlog grew by {grew:,} "
                f"in the window; at its end depth {self.depth:,}, in flight {self.in_flight:,}, "
                f"{self.active_keys:,} active fairness keys")


async def run(s: Settings, server: ServerProcess, jobs: Sequence[Job],
              measure_s: float | None = None) -> Run:
    """Run `jobs` in worker processes: warm up, measure, read the queue's stats, stop."""
    async with Load(jobs) as load:
        window = await measure(load.counters, server, s.warmup_s,
                               s.measure_s if measure_s is None else measure_s,
                               clients=load.pids)
        st = await stats(server.addr)
    return Run(window, st.depth, st.in_flight, st.active_fairness_keys)


def lifecycle_jobs(s: Settings, addr: str, batch: int, *, consumers: int | None = None,
                   keys: int | None = None, payload_bytes: int | None = None,
                   producers: int | None = None) -> list[Job]:
    """The batched lifecycle: Lease streams acking each response with one AckBatch, and
    producers with one EnqueueBatch of `batch` in flight each. Job 0 counts acked messages,
    job 1 enqueued ones."""
    size = s.payload_bytes if payload_bytes is None else payload_bytes
    k = s.fairness_keys if keys is None else keys
    return [
        Job("lease", addr, tasks=s.batch_consumers if consumers is None else consumers,
            batch=batch, credit=s.credit_batches * batch),
        Job("enqueue-batch", addr, tasks=s.batch_producers if producers is None else producers,
            batch=batch, keys=k, payload_bytes=size),
    ]


def shape(s: Settings, *, keys: int | None = None, payload_bytes: int | None = None) -> str:
    size = s.payload_bytes if payload_bytes is None else payload_bytes
    k = s.fairness_keys if keys is None else keys
    return f"{size:,} B payloads, {k:,} fairness keys (Lua hook), durable"


def row(name: str, value: float, unit: str, *notes: str) -> Row:
    return Row(name, value, unit, "; ".join(n for n in notes if n))

