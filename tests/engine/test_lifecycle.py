"""The engine on its own: enqueue, lease, ack, nack, expiry, delays, DLQ, redrive, recovery,
limits and timers, on real RocksDB with a manual clock (no sleeps, no server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fila.engine import BrokerSettings, Limits, QueueSettings, views
from fila.engine import keys as K
from fila.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from tests.engine.harness import Engine


@pytest.fixture
def eng(tmp_path: Path) -> Engine:
    return Engine(tmp_path / "data")


def test_a_message_is_delivered_after_the_turn_that_writes_it(eng: Engine) -> None:
    eng.queue()
    s = eng.stream("q")
    mid = eng.enqueue("q", b"hello", tenant="acme")
    assert s.read() == []  # staged, not yet written: nothing is delivered before it is stored
    result = eng.turn()
    assert [w.batch_no for w in result.written] == [eng.broker.batch_no]
    [m] = s.read()
    assert (m.id, m.payload, m.metadata.fairness_key, m.metadata.queue_id) == (mid, b"hello", "acme", "q")
    eng.check()


def test_ack_deletes_the_message(eng: Engine) -> None:
    eng.queue()
    s = eng.stream("q")
    mid = eng.enqueue("q")
    eng.turn()
    s.read()
    eng.broker.ack("q", mid, s.lease_ids[mid])
    eng.turn()
    assert not list(eng.storage.scan(K.MESSAGE))
    eng.check()
    with pytest.raises(NotFound, match="not leased"):
        eng.broker.ack("q", mid)


def test_an_ack_with_a_stale_lease_id_is_refused(eng: Engine) -> None:
    eng.queue("q", visibility_timeout_ms=1000, retry_backoff_base_ms=0, retry_backoff_max_ms=0)
    s = eng.stream("q")
    mid = eng.enqueue("q")
    eng.turn()
    s.read()
    old = s.lease_ids[mid]
    eng.advance(1001)  # expired, and leased again at once
    s.read()
    assert s.lease_ids[mid] != old
    with pytest.raises(FailedPrecondition, match="not the current lease"):
        eng.broker.ack("q", mid, old)
    eng.broker.ack("q", mid, s.lease_ids[mid])


def test_bad_ids_are_invalid_arguments(eng: Engine) -> None:
    eng.queue()
    with pytest.raises(InvalidArgument, match="message_id must not be empty"):
        eng.broker.ack("q", "")
    with pytest.raises(InvalidArgument, match="longer than 64"):
        eng.broker.nack("q", "x" * 65, "e")
    with pytest.raises(NotFound, match="queue 'nope' does not exist"):
        eng.broker.ack("nope", "m")


def test_nack_retries_after_the_backoff_with_the_attempt_counted(eng: Engine) -> None:
    eng.queue("q", retry_backoff_base_ms=200, retry_backoff_max_ms=1000)
    s = eng.stream("q")
    mid = eng.enqueue("q")
    eng.turn()
    s.read()
    eng.broker.nack("q", mid, "boom", s.lease_ids[mid])
    eng.turn()
    eng.check()
    assert s.read() == []
    assert eng.advance(199).written == [] and s.read() == []
    eng.advance(1)
    [m] = s.read()
    assert (m.id, m.metadata.attempt_count, m.metadata.last_error) == (mid, 1, "boom")


def test_a_lease_expires_as_a_failure(eng: Engine) -> None:
    eng.queue("q", visibility_timeout_ms=500, retry_backoff_base_ms=0, retry_backoff_max_ms=0)
    s = eng.stream("q")
    mid = eng.enqueue("q")
    eng.turn()
    s.read()
    eng.advance(499)
    assert s.read() == [] and mid in eng.broker.queue("q").leases
    eng.advance(1)
    [m] = s.read()
    assert m.metadata.attempt_count == 1 and m.metadata.last_error == "visibility timeout expired"
    assert eng.broker.queue("q").stats.expired == 1
    eng.check()


def test_extending_a_lease_postpones_its_expiry(eng: Engine) -> None:
    eng.queue("q", visibility_timeout_ms=500)
    s = eng.stream("q")
    mid = eng.enqueue("q")
    eng.turn()
    s.read()
    eng.advance(400)
    with pytest.raises(InvalidArgument, match="at most"):
        eng.broker.extend_lease("q", mid, 13 * 3600 * 1000)
    eng.broker.extend_lease("q", mid, 1000, s.lease_ids[mid])
    eng.advance(900)
    assert mid in eng.broker.queue("q").leases  # would have expired at 500
    eng.advance(101)
    assert mid not in eng.broker.queue("q").leases


def test_failures_past_max_attempts_go_to_the_dead_letter_queue(eng: Engine) -> None:
    eng.queue("q", max_attempts=2, retry_backoff_base_ms=0, retry_backoff_max_ms=0)
    s = eng.stream("q")
    mid = eng.enqueue("q", tenant="acme")
    for err in ("one", "two"):
        eng.turn()
        s.read()
        eng.broker.nack("q", mid, err, s.lease_ids[mid])
    eng.turn()
    eng.check()
    assert s.read() == []
    d = eng.stream("q.dlq")
    eng.turn()
    [m] = d.read()
    assert (m.id, m.metadata.queue_id, m.metadata.attempt_count, m.metadata.last_error) == (
        mid, "q.dlq", 2, "two")
    assert m.metadata.fairness_key == "acme"
    assert eng.broker.queue("q").stats.dead_lettered == 1


def test_redrive_sends_dead_letters_back_through_on_enqueue(eng: Engine) -> None:
    eng.queue("q", max_attempts=1)
    s = eng.stream("q", credit=10)
    ids = [eng.enqueue("q", tenant="acme") for _ in range(3)]
    eng.turn()
    for m in s.read():
        eng.broker.nack("q", m.id, "bad", s.lease_ids[m.id])
    eng.turn()
    assert eng.broker.queue("q.dlq").drr.ready == 3
    assert eng.broker.redrive("q.dlq", 2) == 2
    eng.turn()
    eng.check()
    back = s.read()
    assert sorted(m.id for m in back) == sorted(ids[:2])  # the oldest two
    assert all(m.metadata.attempt_count == 0 and m.metadata.queue_id == "q" for m in back)
    with pytest.raises(FailedPrecondition, match="not a dead-letter queue"):
        eng.broker.redrive("q", 0)


def test_credit_bounds_what_a_stream_holds(eng: Engine) -> None:
    eng.queue()
    s = eng.stream("q", credit=3)
    for _ in range(10):
        eng.enqueue("q")
    eng.turn()
    first = s.read()
    assert len(first) == 3
    eng.turn()
    assert s.read() == []
    eng.broker.ack("q", first[0].id)
    eng.turn()
    assert len(s.read()) == 1
    eng.broker.grant(s.consumer, 5)
    eng.turn()
    assert len(s.read()) == 5


def test_a_closed_stream_returns_what_it_never_sent(eng: Engine) -> None:
    eng.queue()
    s = eng.stream("q", credit=10)
    for _ in range(4):
        eng.enqueue("q")
    eng.turn()  # all four in its outbox, none taken yet
    eng.broker.remove_consumer(s.consumer)
    q = eng.broker.queue("q")
    assert q.drr.ready == 4 and not q.leases and q.stats.leased == 0
    other = eng.stream("q")
    eng.turn()
    assert len(other.read()) == 4


def test_consumers_take_turns_on_a_throttled_queue(eng: Engine) -> None:
    eng.queue()
    eng.broker.set_config("throttle.slow", "10,1")
    a, b = eng.stream("q"), eng.stream("q")
    for _ in range(20):
        eng.enqueue("q", throttle="slow")
    eng.turn()
    for _ in range(10):
        eng.advance(101)  # a token every 100 ms (the wake time is a hair after it)
        a.read()
        b.read()
    assert abs(len(a.got) - len(b.got)) <= 1 and len(a.got) + len(b.got) == 11


def test_fairness_across_tenants_in_the_engine(eng: Engine) -> None:
    eng.queue()
    s = eng.stream("q", credit=60)
    for i in range(100):
        eng.enqueue("q", tenant="big")
        if i < 20:
            eng.enqueue("q", tenant="small", weight="2")
    eng.turn()
    got = [m.metadata.fairness_key for m in s.read()]
    assert got[:30].count("small") == 20  # 2:1 while small has messages


def test_a_throttle_lets_one_through_per_refill_and_a_new_rate_applies_at_once(eng: Engine) -> None:
    eng.queue()
    eng.broker.set_config("throttle.p", "10,1")
    s = eng.stream("q")
    for _ in range(5):
        eng.enqueue("q", throttle="p")
    r = eng.turn()
    assert len(s.read()) == 1
    assert r.next_in_s is not None and 0.09 <= r.next_in_s <= 0.11  # the next token's time
    eng.advance(50)
    assert s.read() == []
    eng.advance(51)
    assert len(s.read()) == 1
    eng.broker.set_config("throttle.p", "1000,100")
    eng.advance(5)  # the new rate holds from now on: 3 more tokens in 3 ms
    assert len(s.read()) == 3
    eng.check()


def test_a_rate_of_zero_sets_no_timer(eng: Engine) -> None:
    eng.queue()
    eng.broker.set_config("throttle.stop", "0,1")
    s = eng.stream("q")
    eng.enqueue("q", throttle="stop")
    eng.enqueue("q", throttle="stop")
    r = eng.turn()
    assert len(s.read()) == 1
    # No timer for the bucket: nothing can change until its config does (the only timer left
    # is the once-a-second roll of the rates, while they move).
    assert eng.broker.config.throttles.next_wake() is None
    assert r.next_in_s is None or r.next_in_s >= 0.9
    eng.broker.set_config("throttle.stop", "")  # removing the limit releases the rest
    eng.turn()
    assert len(s.read()) == 1


def test_recovery_makes_leased_messages_ready_and_keeps_attempts(eng: Engine) -> None:
    eng.queue("q", retry_backoff_base_ms=0, retry_backoff_max_ms=0)
    s = eng.stream("q", credit=10)
    ids = [eng.enqueue("q", tenant=t) for t in ("a", "b", "a")]
    eng.turn()
    s.read()
    eng.broker.nack("q", ids[0], "once", s.lease_ids[ids[0]])
    eng.turn()
    eng.restart()
    eng.check()
    q = eng.broker.queue("q")
    assert q.drr.ready == 3 and not q.leases
    again = eng.stream("q", credit=10)
    eng.turn()
    by_id = {m.id: m for m in again.read()}
    assert set(by_id) == set(ids) and by_id[ids[0]].metadata.attempt_count == 1
    assert eng.broker.recovered["messages"] == 3


def test_recovery_keeps_a_delayed_retry_waiting(eng: Engine) -> None:
    eng.queue("q", retry_backoff_base_ms=10_000, retry_backoff_max_ms=10_000)
    s = eng.stream("q")
    mid = eng.enqueue("q")
    eng.turn()
    s.read()
    eng.broker.nack("q", mid, "later", s.lease_ids[mid])
    eng.turn()
    eng.restart()
    q = eng.broker.queue("q")
    assert q.delayed_count == 1 and q.drr.ready == 0
    s2 = eng.stream("q")
    eng.advance(9_000)
    assert s2.read() == []
    eng.advance(1_001)
    assert [m.id for m in s2.read()] == [mid]


def test_recovery_deletes_messages_of_queues_that_are_gone(eng: Engine) -> None:
    eng.queue()
    eng.enqueue("q")
    eng.turn()
    batch = eng.storage.new_batch()
    batch.put(K.message(999, 1), b"\x0a\x01x")  # a message no queue record owns
    eng.storage.write(batch)
    eng.restart()
    assert eng.broker.recovered["orphans"] == 1
    eng.turn()  # recovery staged the cleanup
    assert [K.split_qid_seq(k)[0] for k, _ in eng.storage.scan(K.MESSAGE)] == [1]
    eng.check()


def test_the_memory_limit_refuses_enqueues_until_consumers_catch_up(tmp_path: Path) -> None:
    eng = Engine(tmp_path / "d", BrokerSettings(limits=Limits(max_pending_bytes=2000)))
    eng.queue()
    s = eng.stream("q")
    accepted = []
    with pytest.raises(ResourceExhausted, match="max_pending_bytes"):
        for _ in range(100):
            accepted.append(eng.enqueue("q", b"x" * 100))
    assert eng.broker.refused_overload == 1 and 10 <= len(accepted) < 30
    eng.turn()
    for m in s.read():
        eng.broker.ack("q", m.id)
    eng.turn()
    eng.enqueue("q", b"fits again")
    eng.turn()
    eng.check()


def test_input_limits_name_the_field(tmp_path: Path) -> None:
    eng = Engine(tmp_path / "d", BrokerSettings(limits=Limits(max_payload_bytes=10, max_headers=2)))
    eng.queue()
    with pytest.raises(InvalidArgument, match="payload is 11 bytes"):
        eng.enqueue("q", b"x" * 11)
    with pytest.raises(InvalidArgument, match="headers has 3 entries"):
        eng.enqueue("q", a="1", b="2", c="3")
    assert eng.broker.staged == 0  # nothing of a refused message is staged


def test_with_a_lease_out_rates_still_roll_every_second(eng: Engine) -> None:
    """The review's defect: the next timer took the lease heap's deadline over housekeeping's,
    so with a lease out and no traffic, rates went stale for up to the visibility timeout."""
    eng.queue()
    s = eng.stream("q")
    eng.enqueue("q")
    r = eng.turn()
    s.read()
    assert r.next_in_s is not None and r.next_in_s <= 1.0  # not 30 s (the visibility timeout)
    eng.advance(1000)
    assert views.queue_view(eng.broker, "q").delivery_rate > 0


def test_an_idle_queue_shows_no_rate_a_few_seconds_after_its_last_message(eng: Engine) -> None:
    """Smoothed rates have a long tail (1.5, 0.75, 0.37 ... msg/s after 3 messages): once a
    queue has had nothing for a few seconds, stats and `fila top` say 0."""
    eng.queue()
    s = eng.stream("q")
    for _ in range(3):
        eng.enqueue("q")
    eng.turn()
    for m in s.read():
        eng.broker.ack("q", m.id, s.lease_ids[m.id])
    eng.advance(1000)
    assert views.queue_view(eng.broker, "q").delivery_rate > 1.0
    for _ in range(4):
        eng.advance(1000)
    v = views.queue_view(eng.broker, "q")
    assert (v.delivery_rate, v.enqueue_rate) == (0.0, 0.0)


def test_the_tick_budget_leaves_the_rest_for_the_next_turn(tmp_path: Path) -> None:
    eng = Engine(tmp_path / "d", BrokerSettings(tick_budget=10))
    eng.queue()
    s = eng.stream("q", credit=100)
    for _ in range(25):
        eng.enqueue("q")
    r = eng.turn()
    assert len(s.read()) == 10 and r.next_in_s == 0.0  # more is waiting: run again at once
    eng.turn()
    eng.turn()
    s.read()
    assert len(s.got) == 25


def test_every_delivery_has_a_new_lease_id(eng: Engine) -> None:
    eng.queue("q", visibility_timeout_ms=100, retry_backoff_base_ms=0, retry_backoff_max_ms=0)
    s = eng.stream("q")
    mid = eng.enqueue("q")
    seen = set()
    eng.turn()
    for _ in range(3):
        s.read()
        seen.add(s.lease_ids[mid])
        eng.advance(101)
    assert len(seen) == 3


def test_config_set_get_list_and_delete(eng: Engine) -> None:
    b = eng.broker
    b.set_config("a.one", "1")
    b.set_config("a.two", "2")
    b.set_config("b", "3")
    eng.turn()
    assert b.get_config("a.one") == "1" and b.list_config("a.") == [("a.one", "1"), ("a.two", "2")]
    b.set_config("a.one", "")
    eng.turn()
    assert b.get_config("a.one") is None
    with pytest.raises(InvalidArgument, match="rate_per_second"):
        b.set_config("throttle.x", "fast")
    eng.check()


def test_update_queue_replaces_the_hook_or_changes_nothing(eng: Engine) -> None:
    eng.queue("q", hook="")
    eng.broker.update_queue("q", QueueSettings(
        on_enqueue_script='function on_enqueue(m) return {fairness_key="new"} end'))
    eng.turn()
    s = eng.stream("q")
    eng.enqueue("q")
    eng.turn()
    assert s.read()[0].metadata.fairness_key == "new"
    with pytest.raises(InvalidArgument):
        eng.broker.update_queue("q", QueueSettings(on_enqueue_script="function on_enqueue("))
    assert eng.broker.staged == 0
    eng.check()


def test_peek_shows_messages_oldest_first_without_leasing(eng: Engine) -> None:
    eng.queue()
    ids = [eng.enqueue("q", tenant=t) for t in ("b", "a", "b")]
    eng.turn()
    assert [p[2:38].decode() for p in eng.broker.peek("q", 2)] == ids[:2]
    assert not eng.broker.queue("q").leases


def test_deleting_a_queue_ends_its_streams_once_written(eng: Engine) -> None:
    eng.queue()
    s = eng.stream("q")
    eng.enqueue("q")
    eng.turn()
    eng.broker.delete_queue("q")
    with pytest.raises(NotFound):
        eng.broker.enqueue("q", {}, b"late")
    assert not s.consumer.closed  # not before the delete is written
    eng.turn()
    assert s.consumer.closed and eng.broker.pending_bytes == 0
    assert not list(eng.storage.scan(K.MESSAGE))
    eng.check()
    with pytest.raises(FailedPrecondition, match="dead-letter queue of"):
        eng.queue("r")
        eng.broker.delete_queue("r.dlq")


def test_api_keys_verify_until_revoked_and_revocation_ends_streams(eng: Engine) -> None:
    eng.queue()
    rec, token = eng.broker.create_api_key("ci", 0, False)
    eng.broker.set_acl(rec.key_id, [("consume", "q")])
    eng.turn()
    assert eng.broker.api_keys.verify(token) is rec
    c = eng.broker.add_consumer("q", 1, lambda: None, key_id=rec.key_id)
    eng.broker.revoke_api_key(rec.key_id)
    assert eng.broker.api_keys.verify(token) is None and not c.closed
    eng.turn()
    assert c.closed and c.revoked
    eng.check()
    with pytest.raises(InvalidArgument, match="permissions"):
        rec2, _ = eng.broker.create_api_key("x", 0, False)
        eng.broker.set_acl(rec2.key_id, [("write", "*")])


def test_a_lease_starts_when_the_stream_takes_the_message(eng: Engine) -> None:
    """A message leased to a stream that has not taken it cannot expire as a failure."""
    eng.queue("q", visibility_timeout_ms=500)
    s = eng.stream("q")
    mid = eng.enqueue("q")
    eng.turn()
    eng.advance(10_000)  # far past the visibility timeout: but it was never taken
    q = eng.broker.queue("q")
    assert mid in q.leases and q.stats.expired == 0
    s.read()
    eng.advance(499)
    assert mid in q.leases
    eng.advance(1)
    assert q.stats.expired == 1  # 500 ms after it was taken


def test_a_stream_is_leased_only_its_window_ahead_of_what_it_takes(eng: Engine) -> None:
    eng.queue()
    slow = eng.stream("q", credit=10_000, window=20)
    for _ in range(100):
        eng.enqueue("q")
    eng.turn()
    fast = eng.stream("q", credit=1000)
    eng.turn()
    assert len(slow.consumer.outbox) == 20 and len(fast.read()) == 80
    assert len(slow.read()) == 20  # taking makes room: it is leased more when there is more


def test_a_stream_that_takes_nothing_is_closed_and_its_messages_return_unharmed(tmp_path: Path) -> None:
    eng = Engine(tmp_path / "d", BrokerSettings(stall_ms=1000))
    eng.queue("q", max_attempts=1)
    stuck = eng.stream("q", credit=10_000, window=50)
    for _ in range(50):
        eng.enqueue("q")
    r = eng.turn()
    assert len(stuck.consumer.outbox) == 50 and r.next_in_s is not None and r.next_in_s <= 1.0
    eng.advance(999)
    assert not stuck.consumer.closed
    eng.advance(1)
    assert stuck.consumer.closed and stuck.consumer.stalled
    q = eng.broker.queue("q")
    assert q.drr.ready == 50 and not q.leases and q.stats.expired == 0
    other = eng.stream("q")
    eng.turn()
    assert all(m.metadata.attempt_count == 0 for m in other.read())  # no attempt was spent
    assert eng.broker.queue("q.dlq").drr.ready == 0


def test_a_stream_that_keeps_taking_is_not_closed(tmp_path: Path) -> None:
    eng = Engine(tmp_path / "d", BrokerSettings(stall_ms=1000))
    eng.queue()
    s = eng.stream("q", credit=10, window=5)
    for _ in range(40):
        eng.enqueue("q")
    eng.turn()
    for _ in range(6):
        eng.advance(900)
        for m in s.read()[:2]:
            eng.broker.ack("q", m.id)
    assert not s.consumer.closed


def test_extending_leases_again_and_again_keeps_the_lease_heap_bounded(eng: Engine) -> None:
    eng.queue()
    s = eng.stream("q", credit=2000, window=2000)
    for _ in range(2000):
        eng.enqueue("q")
    eng.turn()
    got = s.read()
    for _ in range(30):
        for m in got:
            eng.broker.extend_lease("q", m.id, 12 * 3600 * 1000)
    b = eng.broker
    assert b._lease_items <= 2 * 2000 + 10_000  # not 60,000: stale items were dropped
    assert sum(len(item[2]) for item in b._lease_heap) == b._lease_items
    eng.advance(12 * 3600 * 1000 + 1)
    assert b.queue("q").stats.expired == 2000  # every lease still expires, once


def test_a_lease_id_from_before_a_restart_does_not_ack_the_redelivery(eng: Engine) -> None:
    eng.queue()
    before = eng.stream("q")
    mid = eng.enqueue("q")
    eng.turn()
    before.read()
    stale = before.lease_ids[mid]
    eng.clock.advance(1)  # a restart takes at least a millisecond
    eng.restart()
    after = eng.stream("q")
    eng.turn()
    after.read()
    assert after.lease_ids[mid] != stale  # the redelivery has a lease id of its own
    with pytest.raises(FailedPrecondition, match="not the current lease"):
        eng.broker.ack("q", mid, stale)
    eng.broker.ack("q", mid, after.lease_ids[mid])
    eng.turn()
    eng.check()
