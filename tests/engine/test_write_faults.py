"""A failed write leaves memory exactly as storage is, at every write site.

Each case sets up some state, makes the storage's next write fail, runs an operation and the
turn that writes it, and checks that memory is what storage holds and what a client sees is
as before; then the same operation succeeds once the disk is back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fila.engine import QueueSettings
from tests.engine.harness import Engine, Stream

Case = tuple[Callable[[Engine], object], Callable[[Engine, object], None]]


def _leased(eng: Engine, **settings: object) -> tuple[Stream, str]:
    eng.queue("q", **settings)
    s = eng.stream("q")
    mid = eng.enqueue("q", tenant="acme")
    eng.turn()
    s.read()
    return s, mid


def _nothing(eng: Engine) -> None:
    eng.queue("q")


def _one_leased(eng: Engine) -> tuple[Stream, str]:
    return _leased(eng)


def _one_leased_no_backoff(eng: Engine) -> tuple[Stream, str]:
    return _leased(eng, retry_backoff_base_ms=0, retry_backoff_max_ms=0)


def _one_leased_backoff(eng: Engine) -> tuple[Stream, str]:
    return _leased(eng, retry_backoff_base_ms=5000, retry_backoff_max_ms=5000)


def _one_leased_last_attempt(eng: Engine) -> tuple[Stream, str]:
    return _leased(eng, max_attempts=1)


def _short_lease(eng: Engine) -> tuple[Stream, str]:
    return _leased(eng, visibility_timeout_ms=100, retry_backoff_base_ms=0, retry_backoff_max_ms=0)


def _short_lease_last_attempt(eng: Engine) -> tuple[Stream, str]:
    return _leased(eng, visibility_timeout_ms=100, max_attempts=1)


def _dead_letters(eng: Engine) -> None:
    eng.queue("q", max_attempts=1)
    s = eng.stream("q")
    for _ in range(3):
        eng.enqueue("q", tenant="acme")
    eng.turn()
    for m in s.read():
        eng.broker.nack("q", m.id, "bad", s.lease_ids[m.id])
    eng.turn()
    eng.broker.remove_consumer(s.consumer)


def _with_key(eng: Engine) -> str:
    eng.queue("q")
    rec, _ = eng.broker.create_api_key("ci", 0, False)
    eng.broker.set_acl(rec.key_id, [("consume", "q")])
    eng.turn()
    return rec.key_id


def _ack(eng: Engine, ctx: object) -> None:
    s, mid = ctx  # type: ignore[misc]
    eng.broker.ack("q", mid, s.lease_ids[mid])


def _nack(eng: Engine, ctx: object) -> None:
    s, mid = ctx  # type: ignore[misc]
    eng.broker.nack("q", mid, "boom", s.lease_ids[mid])


def _expire(eng: Engine, ctx: object) -> None:
    eng.clock.advance(200)


CASES: dict[str, Case] = {
    "enqueue": (_nothing, lambda eng, _: [eng.enqueue("q", tenant="t") for _ in range(3)] and None),
    "ack": (_one_leased, _ack),
    "nack, retried at once": (_one_leased_no_backoff, _nack),
    "nack, retried later": (_one_leased_backoff, _nack),
    "nack, dead-lettered": (_one_leased_last_attempt, _nack),
    "lease expiry, retried": (_short_lease, _expire),
    "lease expiry, dead-lettered": (_short_lease_last_attempt, _expire),
    "create queue": (_nothing, lambda eng, _: eng.broker.create_queue("new", QueueSettings()) and None),
    "create queue and enqueue to it": (
        _nothing, lambda eng, _: (eng.broker.create_queue("new", QueueSettings()),
                                  eng.enqueue("new"), eng.enqueue("new")) and None),
    "update queue": (_nothing, lambda eng, _: eng.broker.update_queue(
        "q", QueueSettings(max_attempts=3))),
    "delete queue": (_one_leased, lambda eng, _: eng.broker.delete_queue("q")),
    "delete queue and create it again": (
        _one_leased, lambda eng, _: (eng.broker.delete_queue("q"),
                                     eng.broker.create_queue("q", QueueSettings()),
                                     eng.enqueue("q")) and None),
    "set config": (_nothing, lambda eng, _: eng.broker.set_config("weight.acme", "3")),
    "set a throttle": (_nothing, lambda eng, _: eng.broker.set_config("throttle.p", "5,5")),
    "delete config": (
        lambda eng: (_nothing(eng), eng.broker.set_config("a", "1"), eng.turn()),
        lambda eng, _: eng.broker.set_config("a", "")),
    "create an API key": (_nothing, lambda eng, _: eng.broker.create_api_key("k", 0, True) and None),
    "revoke an API key": (_with_key, lambda eng, key_id: eng.broker.revoke_api_key(str(key_id))),
    "change an ACL": (_with_key, lambda eng, key_id: eng.broker.set_acl(str(key_id), [("admin", "*")])),
    "redrive": (_dead_letters, lambda eng, _: eng.broker.redrive("q.dlq", 2) and None),
    "everything at once": (
        _one_leased, lambda eng, ctx: (_ack(eng, ctx), eng.enqueue("q"),
                                       eng.broker.create_queue("other", QueueSettings()),
                                       eng.enqueue("other"), eng.broker.set_config("x", "1"),
                                       eng.broker.delete_queue("other")) and None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_failed_write_leaves_memory_as_storage_is(tmp_path: Path, case: str) -> None:
    setup, op = CASES[case]
    eng = Engine(tmp_path / "data")
    ctx = setup(eng)
    eng.turn()
    eng.check()
    before = eng.state()
    eng.storage.fail_writes = 99  # the disk is full: every write of this turn fails
    op(eng, ctx)
    result = eng.turn()
    eng.storage.fail_writes = 0
    assert result.failed, "the write should have failed"
    eng.check()
    assert eng.state() == before
    # The disk is back: the same operation goes through, and storage and memory agree.
    op(eng, ctx)
    result = eng.turn()
    eng.turn()
    assert not result.failed
    eng.check()
    assert eng.state() != before


def test_a_revoke_whose_write_failed_is_not_half_done(tmp_path: Path) -> None:
    """The review's defect: a revoke whose write failed stayed revoked in memory, and the key
    was back after a restart. Now the key works, and its streams stay open."""
    eng = Engine(tmp_path / "data")
    eng.queue()
    rec, token = eng.broker.create_api_key("ci", 0, False)
    eng.turn()
    c = eng.broker.add_consumer("q", 1, lambda: None, key_id=rec.key_id)
    eng.storage.fail_writes = 1
    eng.broker.revoke_api_key(rec.key_id)
    assert eng.turn().failed
    assert eng.broker.api_keys.verify(token) is rec and not c.closed
    eng.restart()
    assert eng.broker.api_keys.verify(token) is not None  # as storage has it


def test_create_queue_and_enqueue_in_one_failed_turn_count_bytes_once(tmp_path: Path) -> None:
    """The review's defect: both undos subtracted the message's bytes."""
    eng = Engine(tmp_path / "data")
    eng.storage.fail_writes = 1
    eng.broker.create_queue("q", QueueSettings())
    eng.enqueue("q", b"x" * 100)
    assert eng.turn().failed
    assert eng.broker.pending_bytes == 0 and "q" not in eng.broker.queues


def test_an_ack_after_a_failed_nack_still_holds(tmp_path: Path) -> None:
    """A nack whose write failed leaves the message leased to its consumer, with the same
    lease id, so the consumer can still ack it."""
    eng = Engine(tmp_path / "data")
    s, mid = _leased(eng, retry_backoff_base_ms=0, retry_backoff_max_ms=0)
    eng.storage.fail_writes = 99
    eng.broker.nack("q", mid, "boom", s.lease_ids[mid])
    assert eng.turn().failed
    eng.storage.fail_writes = 0
    assert s.consumer.leased == 1 and s.consumer.credit == 999
    eng.broker.ack("q", mid, s.lease_ids[mid])
    eng.turn()
    eng.check()


def test_an_expiry_whose_write_failed_is_tried_again(tmp_path: Path) -> None:
    eng = Engine(tmp_path / "data")
    s, mid = _leased(eng, visibility_timeout_ms=100, retry_backoff_base_ms=0,
                     retry_backoff_max_ms=0)
    eng.storage.fail_writes = 99
    eng.clock.advance(200)
    assert eng.turn().failed
    eng.storage.fail_writes = 0
    assert mid in eng.broker.queue("q").leases  # still leased, as storage says
    eng.turn()  # the disk is back: the expiry happens now
    [m] = s.read()
    assert m.metadata.attempt_count == 1
    eng.check()


def test_consumers_survive_a_failed_delete(tmp_path: Path) -> None:
    eng = Engine(tmp_path / "data")
    s, mid = _leased(eng)
    eng.storage.fail_writes = 1
    eng.broker.delete_queue("q")
    assert eng.turn().failed
    assert not s.consumer.closed
    eng.broker.ack("q", mid, s.lease_ids[mid])  # the queue is back, its lease with it
    eng.turn()
    eng.check()
