"""on_failure, delayed retry, dead letters and redrive through the real server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fila.client import Client, FailedPrecondition, NotFound, QueueConfig
from tests.conftest import take
from tests.fila_process import FilaProcess

TENANT = "function on_enqueue(msg) return {fairness_key = msg.headers.tenant or 'none'} end"
RETRY_LATER = """
function on_failure(msg)
  if msg.attempts >= 3 then return { action = "dlq" } end
  return { action = "retry", delay_ms = tonumber(msg.headers.delay or "0") }
end
"""


def test_default_policy_dead_letters_after_max_attempts(client: Client) -> None:
    client.create_queue("jobs", QueueConfig(max_attempts=2, retry_backoff_base_ms=1,
                                            retry_backoff_max_ms=1))
    mid = client.enqueue("jobs", b"payload", {"k": "v"})
    [m1] = take(client, "jobs", 1)
    client.nack("jobs", m1.id, "first")
    [m2] = take(client, "jobs", 1)
    assert m2.attempt_count == 1
    client.nack("jobs", m2.id, "second")
    assert client.get_stats("jobs").depth == 0
    [dead] = client.peek("jobs.dlq")
    assert (dead.id, dead.payload, dead.headers) == (mid, b"payload", {"k": "v"})
    assert dead.attempt_count == 2 and dead.last_error == "second"
    assert dead.queue == "jobs.dlq"


def test_default_backoff_grows(client: Client) -> None:
    client.create_queue("jobs", QueueConfig(retry_backoff_base_ms=300, retry_backoff_max_ms=5000))
    client.enqueue("jobs", b"x")
    [m] = take(client, "jobs", 1)
    t0 = time.monotonic()
    client.nack("jobs", m.id, "e")
    assert take(client, "jobs", 1, timeout_s=0.15) == []  # not before its backoff
    [again] = take(client, "jobs", 1, timeout_s=5)
    assert time.monotonic() - t0 >= 0.3
    assert again.attempt_count == 1


def test_on_failure_decides_retry_delay_and_dlq(client: Client) -> None:
    client.create_queue("jobs", on_failure=RETRY_LATER)
    mid = client.enqueue("jobs", b"x", {"delay": "200"})
    for attempt in range(3):
        [m] = take(client, "jobs", 1, timeout_s=5)
        assert m.id == mid and m.attempt_count == attempt
        t0 = time.monotonic()
        client.nack("jobs", m.id, f"fail {attempt}")
    assert time.monotonic() - t0 < 5
    assert client.get_stats("jobs").depth == 0
    [dead] = client.peek("jobs.dlq")
    assert dead.id == mid and dead.last_error == "fail 2" and dead.attempt_count == 3


def test_on_failure_runs_on_lease_expiry(client: Client) -> None:
    script = """
    function on_failure(msg)
      if msg.error == "visibility timeout expired" then return { action = "dlq" } end
      return { action = "retry" }
    end"""
    client.create_queue("jobs", QueueConfig(on_failure_script=script, visibility_timeout_ms=200))
    mid = client.enqueue("jobs", b"x")
    take(client, "jobs", 1)  # leased and never acked
    deadline = time.monotonic() + 5
    while not client.peek("jobs.dlq") and time.monotonic() < deadline:
        time.sleep(0.02)
    [dead] = client.peek("jobs.dlq")
    assert dead.id == mid and dead.last_error == "visibility timeout expired"


def test_delayed_retry_survives_kill_9(tmp_path: Path) -> None:
    proc = FilaProcess(tmp_path / "data").start()
    with Client(proc.addr, timeout_s=5) as c:
        c.create_queue("jobs", on_failure=RETRY_LATER)
        mid = c.enqueue("jobs", b"x", {"delay": "1500"})
        [m] = take(c, "jobs", 1)
        c.nack("jobs", m.id, "later please")
        due = time.monotonic() + 1.5
    proc.kill()
    proc.start()
    with Client(proc.addr, timeout_s=5) as c:
        [again] = take(c, "jobs", 1, timeout_s=10)
        assert time.monotonic() >= due - 0.05, "a delayed retry was delivered early after restart"
        assert again.id == mid and again.attempt_count == 1
    proc.kill()


def test_redrive_moves_back_reruns_on_enqueue_and_resets_attempts(client: Client) -> None:
    client.create_queue("jobs", QueueConfig(on_enqueue_script=TENANT, max_attempts=1))
    ids = [client.enqueue("jobs", str(i), {"tenant": "t"}) for i in range(3)]
    for m in take(client, "jobs", 3):
        client.nack("jobs", m.id, "bad")
    assert [m.id for m in client.peek("jobs.dlq")] == ids
    client.update_queue("jobs", QueueConfig(
        on_enqueue_script="function on_enqueue(m) return {fairness_key='again-'..m.headers.tenant} end"
    ))
    assert client.redrive("jobs.dlq", 2) == 2
    assert [m.id for m in client.peek("jobs.dlq")] == ids[2:]
    got = take(client, "jobs", 2, ack=True)
    assert [m.id for m in got] == ids[:2]
    assert all(m.attempt_count == 0 and m.fairness_key == "again-t" for m in got)
    assert client.redrive("jobs.dlq") == 1  # 0 = all that is left
    assert client.redrive("jobs.dlq") == 0  # an empty DLQ answers at once
    with pytest.raises(FailedPrecondition, match="not a dead-letter queue"):
        client.redrive("jobs")
    with pytest.raises(NotFound):
        client.redrive("nope.dlq")


def test_dead_letter_queue_rules(client: Client) -> None:
    client.create_queue("jobs")
    assert {q.name for q in client.list_queues()} == {"jobs", "jobs.dlq"}
    with pytest.raises(FailedPrecondition, match="delete 'jobs' instead"):
        client.delete_queue("jobs.dlq")
    client.delete_queue("jobs")
    assert client.list_queues() == []
