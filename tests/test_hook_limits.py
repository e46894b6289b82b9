"""One hook must never freeze the broker: not with a pattern that backtracks in C, not with a
huge batch through a slow hook. Through the real server."""

from __future__ import annotations

import threading
import time

from fila.client import Client, QueueConfig
from fila.v1 import service_pb2
from tests.fila_process import FilaProcess

CATASTROPHIC = """
function on_enqueue(msg)
  string.find(string.rep("a", 30), string.rep("a*", 9) .. "b")
  return { fairness_key = "never" }
end
"""
SLOW = """
function on_enqueue(msg)
  local x = 0
  for i = 1, 15000 do x = x + i end  -- ~150 us
  return { fairness_key = msg.headers.tenant or "t" }
end
"""


def test_a_backtracking_pattern_is_refused_and_counts_as_a_failure(client: Client) -> None:
    client.create_queue("q", on_enqueue=CATASTROPHIC)
    started = time.monotonic()
    for i in range(5):
        client.enqueue("q", str(i))
    took = time.monotonic() - started
    # Before, each call backtracked for 5 s with the whole broker frozen (32.9 s for five).
    assert took < 5, f"five enqueues took {took:.1f} s"
    [hook] = [h for h in client.get_stats("q").hooks if h.hook == "on_enqueue"]
    assert hook.errors == 3 and hook.breaker_state == "open"  # it failed, and the breaker saw it
    assert {m.fairness_key for m in client.peek("q")} == {"default"}


def test_a_call_that_overruns_its_time_limit_fails_even_if_it_returns(client: Client) -> None:
    hook = """
function on_enqueue(msg)
  local s = string.rep("ab", 3000000):upper():reverse()  -- a few ms inside C
  return { fairness_key = "late" }
end
"""
    client.create_queue("q", QueueConfig(on_enqueue_script=hook, lua_time_limit_ms=1))
    client.enqueue("q", b"x")
    [hook_stats] = [h for h in client.get_stats("q").hooks if h.hook == "on_enqueue"]
    assert hook_stats.errors == 1
    assert client.peek("q")[0].fairness_key == "default"


def test_a_huge_batch_through_a_slow_hook_does_not_hold_other_clients(server: FilaProcess) -> None:
    """Other clients are served between slices of the batch: another client's message is
    accepted while the batch's messages are still being enqueued (ids are time-ordered, so it
    lands between the batch's first and last). Before, it waited for all 10,000."""
    with Client(server.addr, timeout_s=60) as c:
        c.create_queue("slow", on_enqueue=SLOW)
        c.create_queue("other")
    batch = service_pb2.EnqueueBatchRequest(messages=[
        service_pb2.EnqueueRequest(queue="slow", headers={"tenant": f"t{i % 10}"}, payload=b"x")
        for i in range(10_000)])
    ids: list[str] = []

    def big() -> None:
        with Client(server.addr, timeout_s=60) as c:
            resp = c._hot.EnqueueBatch(batch, timeout=60)  # noqa: SLF001 - the raw batch RPC
            ids.extend(r.message_id for r in resp.results)

    t = threading.Thread(target=big)
    t.start()
    with Client(server.addr, timeout_s=60) as c:
        deadline = time.monotonic() + 30
        while c.get_stats("slow").depth == 0:  # the batch has begun
            assert time.monotonic() < deadline, "the batch never started"
        other = c.enqueue("other", b"while the batch runs")
    t.join(60)
    assert len(ids) == 10_000 and all(ids)
    assert min(ids) < other < max(ids), "another client's enqueue waited for the whole batch"
