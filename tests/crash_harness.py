"""A crash loop: real traffic against a real broker, `kill -9` at random moments, and a ledger
checked after every restart on the same data dir.

The ledger records only what the broker *confirmed*: enqueues that returned an id, acks and
nacks that returned OK, config writes that returned OK. After each restart it checks:
  - no confirmed message is missing (it is ready, leased, delayed or dead-lettered);
  - no confirmed ack comes back;
  - a message nacked with a retry delay is not delivered before its time, across restarts;
  - the queue's scripts, throttle config and every confirmed config key survive.

Used by tests/test_crash_loop.py (a short run) and scripts/crash_loop.py (as long as you like).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from fila.client import Client, FilaError, QueueConfig
from fila.v1 import admin_pb2, admin_pb2_grpc, service_pb2, service_pb2_grpc
from tests.fila_process import FilaProcess

QUEUE = "jobs"
ON_ENQUEUE = """
function on_enqueue(msg)
  return { fairness_key = msg.headers.tenant, throttle_keys = { "tenant:" .. msg.headers.tenant } }
end
"""
ON_FAILURE = """
function on_failure(msg)
  if msg.attempts >= 4 then return { action = "dlq" } end
  return { action = "retry", delay_ms = 700 }
end
"""
RETRY_DELAY_S = 0.7
SLACK_S = 0.05
MAX_BACKLOG = 2000  # clock granularity between the broker's ms timestamps and ours


@dataclass
class Ledger:
    enqueued: set[str] = field(default_factory=set)
    acked: set[str] = field(default_factory=set)
    ack_sent: set[str] = field(default_factory=set)  # may have been applied, unconfirmed
    not_before: dict[str, float] = field(default_factory=dict)  # id -> earliest redelivery
    config: dict[str, str] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class CrashLoop:
    def __init__(self, workdir: Path, seed: int | None = None) -> None:
        self.proc = FilaProcess(workdir / "data")
        self.ledger = Ledger()
        self.rng = random.Random(seed)
        self.cycles_done = 0

    def setup(self) -> None:
        self.proc.start()
        with Client(self.proc.addr, timeout_s=5, reconnect=None) as c:
            c.create_queue(QUEUE, QueueConfig(on_enqueue_script=ON_ENQUEUE,
                                              on_failure_script=ON_FAILURE,
                                              visibility_timeout_ms=400))
            c.set_config("throttle.tenant:slow", "200,50")
            self.ledger.config["throttle.tenant:slow"] = "200,50"

    # -- workers ----------------------------------------------------------------------------

    def _producer(self, stop: threading.Event, n: int) -> None:
        led = self.ledger
        with Client(self.proc.addr, timeout_s=3, reconnect=None) as c:
            i = 0
            while not stop.is_set():
                tenant = ("a", "b", "slow")[i % 3]
                try:
                    mid = c.enqueue(QUEUE, f"{n}-{i}".encode(), {"tenant": tenant})
                except FilaError:
                    return
                with led.lock:
                    led.enqueued.add(mid)
                i += 1
                if i % 100 == 0:
                    # Pace: keep the backlog well within what one peek can list.
                    try:
                        while c.get_stats(QUEUE).depth > MAX_BACKLOG and not stop.is_set():
                            time.sleep(0.01)
                    except FilaError:
                        return

    def _batch_producer(self, stop: threading.Event) -> None:
        """EnqueueBatch of 20, as batching clients send: each id it answers is confirmed."""
        led = self.ledger
        with grpc.insecure_channel(self.proc.addr) as channel:
            stub = service_pb2_grpc.FilaServiceStub(channel)
            i = 0
            while not stop.is_set():
                msgs = [service_pb2.EnqueueRequest(queue=QUEUE, payload=f"b-{i}-{j}".encode(),
                                                   headers={"tenant": ("a", "b", "slow")[j % 3]})
                        for j in range(20)]
                try:
                    resp = stub.EnqueueBatch(service_pb2.EnqueueBatchRequest(messages=msgs),
                                             timeout=3)
                except grpc.RpcError:
                    return
                with led.lock:
                    led.enqueued.update(r.message_id for r in resp.results
                                        if not r.HasField("error"))
                i += 1
                if i % 5 == 0:
                    while self._depth(channel) > MAX_BACKLOG and not stop.is_set():
                        time.sleep(0.01)

    def _depth(self, channel: grpc.Channel) -> int:
        try:
            stats = admin_pb2_grpc.FilaAdminStub(channel).GetStats(
                admin_pb2.GetStatsRequest(queue=QUEUE), timeout=3)
        except grpc.RpcError:
            return 0
        return int(stats.depth)

    def _consumer(self, stop: threading.Event) -> None:
        led = self.ledger
        rng = random.Random(self.rng.random())
        with Client(self.proc.addr, timeout_s=3, reconnect=None) as c:
            try:
                with c.consume(QUEUE) as stream:
                    for msg in stream:
                        now = time.time()
                        with led.lock:
                            due = led.not_before.get(msg.id)
                        if due is not None and now < due - SLACK_S:
                            led.violations.append(
                                f"{msg.id} redelivered {due - now:.3f}s before its retry time")
                        roll = rng.random()
                        if roll < 0.7:
                            with led.lock:
                                led.ack_sent.add(msg.id)
                            c.ack(QUEUE, msg.id)
                            with led.lock:
                                led.acked.add(msg.id)
                        elif roll < 0.85:
                            nacked_at = time.time()
                            c.nack(QUEUE, msg.id, "crash-loop says no")
                            with led.lock:
                                led.not_before[msg.id] = nacked_at + RETRY_DELAY_S
                        # else: let the lease expire
                        if stop.is_set():
                            return
            except FilaError:
                return

    def _admin(self, stop: threading.Event, cycle: int) -> None:
        led = self.ledger
        with Client(self.proc.addr, timeout_s=3, reconnect=None) as c:
            i = 0
            while not stop.is_set():
                key, value = f"crash.c{cycle}.k{i}", f"v{i}"
                try:
                    c.set_config(key, value)
                except FilaError:
                    return
                with led.lock:
                    led.config[key] = value
                i += 1
                time.sleep(0.02)

    # -- one cycle --------------------------------------------------------------------------

    def cycle(self, min_s: float = 0.4, max_s: float = 1.2) -> None:
        stop = threading.Event()
        threads = [threading.Thread(target=self._producer, args=(stop, n)) for n in range(2)]
        threads.append(threading.Thread(target=self._batch_producer, args=(stop,)))
        threads += [threading.Thread(target=self._consumer, args=(stop,)) for _ in range(2)]
        threads.append(threading.Thread(target=self._admin, args=(stop, self.cycles_done)))
        for t in threads:
            t.start()
        time.sleep(self.rng.uniform(min_s, max_s))  # the crash moment is random on purpose
        self.proc.kill()
        stop.set()
        for t in threads:
            t.join(10)
        self.proc.start()
        self.check()
        self.cycles_done += 1

    def check(self) -> None:
        led = self.ledger
        with Client(self.proc.addr, timeout_s=5, reconnect=None) as c:
            present = {m.id for m in c.peek(QUEUE, 10_000)}
            present |= {m.id for m in c.peek(QUEUE + ".dlq", 10_000)}
            cfg, _ = c.get_queue(QUEUE)
            config = c.list_config()
        with led.lock:
            # An ack whose answer was lost in the crash may or may not have happened.
            missing = led.enqueued - led.ack_sent - present
            back = led.acked & present
            if missing:
                led.violations.append(f"cycle {self.cycles_done}: {len(missing)} confirmed "
                                      f"messages missing, e.g. {sorted(missing)[:3]}")
            if back:
                led.violations.append(f"cycle {self.cycles_done}: {len(back)} acked messages "
                                      f"came back, e.g. {sorted(back)[:3]}")
            for key, value in led.config.items():
                if config.get(key) != value:
                    led.violations.append(f"config {key}={value!r} lost (now {config.get(key)!r})")
        if cfg.on_enqueue_script != ON_ENQUEUE or cfg.on_failure_script != ON_FAILURE:
            led.violations.append(f"cycle {self.cycles_done}: queue scripts changed")

    def close(self) -> None:
        self.proc.kill()
