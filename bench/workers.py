"""Load generators in their own processes, so the client's Python has its own GIL.

The measuring process (`python -m bench`) only sleeps and reads counters; the load runs in
worker processes started with `multiprocessing` ("spawn": no gRPC state is forked). Each
worker runs one `Job` on its own asyncio loop and adds the messages it finishes to a shared
counter that the measuring process reads at the edges of the window; its CPU is read from
/proc like the server's.

    async with Load([Job("lease", addr, tasks=4, batch=100), Job("enqueue-batch", ...)]) as load:
        window = await measure(load.counters, server, warmup_s, measure_s, clients=load.pids)

Job kinds (all on raw fila.v1 calls over a grpc.aio channel, unless said otherwise):

- `enqueue`        `tasks` producers, each with one `Enqueue` RPC (one message) in flight,
                   through the generated `FilaServiceStub` (what an old client does)
- `enqueue-batch`  `tasks` producers, each with one `EnqueueBatch` of `batch` messages in
                   flight; the request is serialized once per task and re-sent as bytes
- `consume`        `tasks` `Consume` streams; one `Ack` RPC per message, from its own task
                   (acks are pipelined: the stream never waits for them); generated stub
- `lease`          `tasks` `Lease` streams (credit `credit`, `batch` messages per response);
                   each response is acked with one `AckBatch`, pipelined (responses are
                   parsed with upb for the ids; the AckBatch goes out as bytes)
- `sdk-enqueue`    `tasks` callers of the SDK's `AsyncClient.enqueue()`, one message per
                   call (the SDK batches them into EnqueueBatch RPCs behind the scenes)

Producers count messages the broker accepted; consumers count messages acked. A `limit`
makes a worker stop by itself once it has counted that many (used to pre-fill queues).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
import traceback
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from types import TracebackType
from typing import Any

import grpc

from fila.v1 import service_pb2, service_pb2_grpc

QUEUE = "bench"
SERVICE = "/fila.v1.FilaService/"
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]
KINDS = ("enqueue", "enqueue-batch", "consume", "lease", "sdk-enqueue")
# A successful EnqueueResult / ItemResult carrying a 36-character UUID is 40 bytes on the wire
# (tag, length, then `message_id` as tag, length, 36 bytes). A batch response of exactly
# 40 * n bytes is n successes; anything else is parsed to count what was refused.
_OK_RESULT_BYTES = 40


@dataclass(frozen=True)
class Job:
    kind: str
    addr: str
    tasks: int = 1
    batch: int = 1  # messages per EnqueueBatch; max messages per Lease response
    credit: int = 0  # lease: unacknowledged messages per stream (0: 4 * batch)
    payload_bytes: int = 100
    keys: int = 1000  # fairness keys: message i of a producer carries tenant t{i % keys}
    limit: int = 0  # stop after this many messages (0: run until stopped)
    queue: str = QUEUE

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown job kind {self.kind!r}")


def payload(size: int) -> bytes:
    return (b"0123456789abcdef" * (size // 16 + 1))[:size]


def tenant(i: int) -> dict[str, str]:
    return {"tenant": f"t{i}"}


# -- in the worker process --------------------------------------------------------------------


class _State:
    """What a worker's tasks share: the counter, the stop flag, the limit."""

    def __init__(self, job: Job, count: Synchronized[int], stop: Any) -> None:
        self.job = job
        self._count = count
        self._stop = stop
        self.done = 0
        self.stopping = asyncio.Event()

    def add(self, n: int) -> None:
        self.done += n
        self._count.value += n
        if self.job.limit and self.done >= self.job.limit:
            self.stopping.set()

    async def watch(self) -> None:
        """Set `stopping` once the measuring process says stop."""
        while not self.stopping.is_set():
            if self._stop.is_set():
                self.stopping.set()
                return
            await asyncio.sleep(0.02)


def _enqueue_requests(job: Job, first: int, step: int) -> list[service_pb2.EnqueueRequest]:
    """Single-message EnqueueRequests for one producer task, cycling over the fairness keys."""
    body = payload(job.payload_bytes)
    per_task = max(1, -(-job.keys // step))
    return [
        service_pb2.EnqueueRequest(queue=job.queue, headers=tenant((first + j * step) % job.keys),
                                   payload=body)
        for j in range(per_task)
    ]


def _batch_requests(job: Job, task: int) -> list[bytes]:
    """Serialized EnqueueBatchRequests for one producer task: together the tasks' requests
    cover every fairness key, each request has `batch` messages with distinct keys."""
    body = payload(job.payload_bytes)
    per_round = job.tasks * job.batch
    n_requests = max(1, -(-job.keys // per_round))
    out = []
    for r in range(n_requests):
        base = r * per_round + task * job.batch
        msgs = [service_pb2.EnqueueRequest(queue=job.queue, headers=tenant((base + j) % job.keys),
                                           payload=body) for j in range(job.batch)]
        out.append(service_pb2.EnqueueBatchRequest(messages=msgs).SerializeToString())
    return out


def _accepted(raw: bytes, n: int) -> int:
    """How many of a batch response's n results are successes."""
    if len(raw) == _OK_RESULT_BYTES * n:
        return n
    resp = service_pb2.EnqueueBatchResponse.FromString(raw)
    return sum(1 for r in resp.results if not r.HasField("error"))


async def _enqueue(st: _State, channel: grpc.aio.Channel, task: int) -> None:
    stub = service_pb2_grpc.FilaServiceStub(channel)  # what an old client does
    requests = _enqueue_requests(st.job, task, st.job.tasks)
    i = 0
    while not st.stopping.is_set():
        await stub.Enqueue(requests[i % len(requests)])
        st.add(1)
        i += 1


async def _enqueue_batch(st: _State, channel: grpc.aio.Channel, task: int) -> None:
    stub = channel.unary_unary(SERVICE + "EnqueueBatch")
    requests = _batch_requests(st.job, task)
    n = st.job.batch
    i = 0
    while not st.stopping.is_set():
        raw = await stub(requests[i % len(requests)])
        ok = _accepted(raw, n)
        if ok < n:
            await asyncio.sleep(0.01)  # refused (overload): back off a little
        st.add(ok)
        i += 1


async def _sdk_enqueue(st: _State, client: Any, task: int) -> None:
    body = payload(st.job.payload_bytes)
    headers = [tenant(k) for k in range(task, task + st.job.keys, st.job.tasks)]
    i = 0
    while not st.stopping.is_set():
        await client.enqueue(st.job.queue, body, headers[i % len(headers)])
        st.add(1)
        i += 1


class _Acks:
    """Acks in flight, each from its own task; counted when the broker answers."""

    def __init__(self, st: _State) -> None:
        self.st = st
        self.pending: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def drain(self) -> None:
        await asyncio.gather(*self.pending, return_exceptions=True)


async def _read_until_stopped(st: _State, call: Any) -> AsyncIterator[Any]:
    """The stream's responses until `stopping` (then the call is cancelled)."""
    closer = asyncio.create_task(st.stopping.wait())
    closer.add_done_callback(lambda _: call.cancel())
    try:
        async for resp in call:
            yield resp
    except asyncio.CancelledError:
        if not st.stopping.is_set():
            raise
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.CANCELLED:
            raise
    finally:
        closer.cancel()


async def _consume(st: _State, channel: grpc.aio.Channel, task: int) -> None:
    stub = service_pb2_grpc.FilaServiceStub(channel)
    acks = _Acks(st)
    queue = st.job.queue

    async def ack(mid: str) -> None:
        await stub.Ack(service_pb2.AckRequest(queue=queue, message_id=mid))
        st.add(1)

    call = stub.Consume(service_pb2.ConsumeRequest(queue=queue))
    async for resp in _read_until_stopped(st, call):
        acks.spawn(ack(resp.message.id))
    await acks.drain()


async def _lease(st: _State, channel: grpc.aio.Channel, task: int) -> None:
    job = st.job
    queue = job.queue
    credit = job.credit or 4 * job.batch
    ack_batch = channel.unary_unary(SERVICE + "AckBatch")
    lease = channel.stream_stream(
        SERVICE + "Lease", request_serializer=service_pb2.LeaseRequest.SerializeToString)
    acks = _Acks(st)
    parse = service_pb2.LeaseResponse.FromString

    async def ack(ids: list[str]) -> None:
        raw = await ack_batch(service_pb2.AckBatchRequest(queue=queue, message_ids=ids)
                              .SerializeToString())
        n = len(ids)
        if len(raw) != _OK_RESULT_BYTES * n:
            resp = service_pb2.AckBatchResponse.FromString(raw)
            n = sum(1 for r in resp.results if not r.HasField("error"))
        st.add(n)

    async def requests() -> AsyncIterator[service_pb2.LeaseRequest]:
        yield service_pb2.LeaseRequest(queue=queue, credit=credit, max_batch=job.batch)
        await st.stopping.wait()  # keep the request side open for the stream's life

    call = lease(requests())
    async for raw in _read_until_stopped(st, call):
        acks.spawn(ack([m.id for m in parse(raw).messages]))
    await acks.drain()


async def _run(job: Job, count: Synchronized[int], ready: Any, stop: Any) -> None:
    st = _State(job, count, stop)
    async with grpc.aio.insecure_channel(job.addr, options=CHANNEL_OPTIONS) as channel:
        await asyncio.wait_for(channel.channel_ready(), 30)
        client: Any = None
        if job.kind == "sdk-enqueue":
            from fila.client import AsyncClient

            client = AsyncClient(job.addr)
        runner: Any = {"enqueue": _enqueue, "enqueue-batch": _enqueue_batch,
                       "consume": _consume, "lease": _lease, "sdk-enqueue": _sdk_enqueue}[job.kind]
        target = client if client is not None else channel
        tasks = [asyncio.create_task(runner(st, target, k)) for k in range(job.tasks)]
        watcher = asyncio.create_task(st.watch())
        ready.set()
        try:
            done, _ = await asyncio.wait([watcher, *tasks], return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                if t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
            await asyncio.gather(*tasks)
        finally:
            st.stopping.set()
            for t in tasks:
                if not t.done():
                    t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if client is not None:
                await client.close()


def _main(job: Job, count: Synchronized[int], ready: Any, stop: Any, errors: Any) -> None:
    try:
        asyncio.run(_run(job, count, ready, stop))
    except BaseException:
        errors.put(f"{job.kind} worker: {traceback.format_exc()}")
        raise SystemExit(1) from None


# -- in the measuring process -----------------------------------------------------------------


class _SharedCount:
    def __init__(self, value: Synchronized[int]) -> None:
        self._value = value

    @property
    def n(self) -> int:
        return int(self._value.value)


class Load:
    """Worker processes running `jobs`; `counters[i]` counts job i's messages.

    Each worker runs `target(job, count, ready, stop, errors)` (by default this module's
    `Job` runner): it sets `ready` once it is connected, adds what it finishes to
    `count.value`, returns once `stop` is set (or its job is done), and puts a traceback on
    `errors` if it fails. `target` must be a module-level function (the workers are spawned).
    """

    def __init__(self, jobs: Sequence[Any], target: Callable[..., None] | None = None) -> None:
        self.jobs = list(jobs)
        self._target = target or _main
        self._ctx = mp.get_context("spawn")
        self._stop = self._ctx.Event()
        self._errors = self._ctx.Queue()
        self._values: list[Synchronized[int]] = [
            self._ctx.Value("q", 0, lock=False) for _ in self.jobs
        ]
        self.counters = [_SharedCount(v) for v in self._values]
        self._procs: list[Any] = []

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.pid is not None]

    async def start(self, timeout_s: float = 60.0) -> Load:
        readies = []
        for job, value in zip(self.jobs, self._values, strict=True):
            ready = self._ctx.Event()
            proc = self._ctx.Process(target=self._target, args=(job, value, ready, self._stop,
                                                         self._errors), daemon=True)
            proc.start()
            self._procs.append(proc)
            readies.append(ready)
        deadline = time.monotonic() + timeout_s
        while not all(r.is_set() for r in readies):
            self.check()
            if time.monotonic() > deadline:
                raise TimeoutError("load workers did not get ready in time")
            await asyncio.sleep(0.02)
        return self

    def check(self) -> None:
        """Raise if a worker failed."""
        if not self._errors.empty():
            raise RuntimeError(self._errors.get())
        for p in self._procs:
            if p.exitcode not in (None, 0):
                time.sleep(0.2)  # let its traceback arrive
                if not self._errors.empty():
                    raise RuntimeError(self._errors.get())
                raise RuntimeError(f"a load worker exited with {p.exitcode}")

    def finished(self) -> bool:
        """True once every worker has exited (workers with a limit exit by themselves)."""
        return all(p.exitcode is not None for p in self._procs)

    async def wait(self, timeout_s: float = 600.0) -> None:
        """Until every worker has exited by itself (all have limits)."""
        deadline = time.monotonic() + timeout_s
        while not self.finished():
            self.check()
            if time.monotonic() > deadline:
                raise TimeoutError("load workers did not finish in time")
            await asyncio.sleep(0.02)
        self.check()

    async def stop(self, timeout_s: float = 20.0) -> None:
        """Tell the workers to stop, wait for them (killing stragglers), raise a failure."""
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        while not self.finished() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for p in self._procs:
            if p.exitcode is None:
                p.kill()
            p.join(5)
        self.check()

    async def __aenter__(self) -> Load:
        return await self.start()

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        if e is None:
            await self.stop()
            return
        try:
            await self.stop()
        except Exception:
            pass  # the first failure is the one worth reporting

