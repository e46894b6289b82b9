"""Work on the broker's thread does not grow with its state: a view, a peek or a turn costs
what it returns or does, not what the broker holds (issue "Trust", items 3 and 4).

These count work rather than time it: a structure the fast path must not walk is swapped for
one that fails the test when walked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fila.engine import BrokerSettings, QueueSettings, views
from fila.engine import key_ranking as kr
from fila.engine.queue import Queue
from tests.engine.harness import Engine


class NoWalk(dict[Any, Any]):
    """A dict that fails the test if walked while `walked` is set (lookups are fine)."""

    walked = False

    def __iter__(self) -> Iterator[Any]:
        self._check()
        return super().__iter__()

    def values(self) -> Any:
        self._check()
        return super().values()

    def items(self) -> Any:
        self._check()
        return super().items()

    def _check(self) -> None:
        if NoWalk.walked:
            raise AssertionError("walked every key")


def _rank(eng: Engine, name: str, limit: int = views.STATS_KEY_LIMIT) -> None:
    """What the server does before a view of a big queue: rank it between turns."""
    done: list[bool] = []
    eng.broker.want_ranking(name, limit)
    eng.broker.when_chores_done(lambda: done.append(True))
    for _ in range(10_000):
        if done:
            return
        eng.turn()
    raise AssertionError("the ranking never finished")


@pytest.fixture
def big(tmp_path: Path) -> Engine:
    """A queue with more keys than a view ranks on the spot, and two busy keys."""
    eng = Engine(tmp_path / "d")
    eng.queue("q")
    for i in range(kr.DIRECT_KEYS + 500):
        eng.enqueue("q", tenant=f"k{i}")
    for _ in range(30):
        eng.enqueue("q", tenant="busiest")
    for _ in range(20):
        eng.enqueue("q", tenant="busy", weight="3")
    eng.turn()
    return eng


def test_a_big_queue_is_ranked_between_turns_and_lists_its_busiest_keys(big: Engine) -> None:
    assert views.ranking_state(big.broker, "q") == "missing"
    _rank(big, "q")
    assert views.ranking_state(big.broker, "q") == "fresh"
    v = views.queue_view(big.broker, "q", key_limit=10)
    assert [k.key for k in v.keys[:2]] == ["busiest", "busy"]
    assert (v.keys[0].pending, v.keys[1].pending, v.keys[1].weight) == (30, 20, 3)
    assert v.other_keys is not None
    assert v.other_keys.pending + sum(k.pending for k in v.keys) == v.ready
    # Shares: weight 3 of a total weight of (keys - 1) + 3, nothing bounding anyone.
    total_w = (kr.DIRECT_KEYS + 502 - 1) + 3
    assert v.keys[1].fair_share == pytest.approx(3 / total_w)
    assert v.other_keys.fair_share + sum(k.fair_share for k in v.keys) == pytest.approx(1.0)


def test_a_view_of_a_ranked_queue_walks_none_of_its_keys(big: Engine) -> None:
    _rank(big, "q")
    q = big.broker.queues["q"]
    q.drr.keys = NoWalk(q.drr.keys)
    NoWalk.walked = True
    try:
        v = views.queue_view(big.broker, "q")
        assert v.keys[0].key == "busiest"
        assert len(v.keys) == views.STATS_KEY_LIMIT
    finally:
        NoWalk.walked = False


def test_what_a_ranked_view_shows_of_its_keys_is_live(big: Engine) -> None:
    _rank(big, "q")
    for _ in range(15):
        big.enqueue("q", tenant="busy")
    v = views.queue_view(big.broker, "q", key_limit=5)
    assert [(k.key, k.pending) for k in v.keys[:2]] == [("busiest", 30), ("busy", 35)]
    assert v.other_keys is not None
    assert v.other_keys.pending + sum(k.pending for k in v.keys) == v.ready


def test_a_stale_ranking_is_shown_while_the_next_is_built(big: Engine) -> None:
    _rank(big, "q")
    big.clock.advance(int(kr.REFRESH_S * 1000) + 1)
    assert views.ranking_state(big.broker, "q") == "stale"
    for _ in range(40):
        big.enqueue("q", tenant="newcomer")
    assert views.queue_view(big.broker, "q", key_limit=3).keys[0].key == "busiest"
    _rank(big, "q")
    assert views.queue_view(big.broker, "q", key_limit=3).keys[0].key == "newcomer"


def test_a_ranking_asked_for_more_keys_than_it_holds_is_rebuilt(big: Engine) -> None:
    _rank(big, "q", limit=10)
    assert views.ranking_state(big.broker, "q", 10) == "fresh"
    assert views.ranking_state(big.broker, "q", views.STATS_KEY_LIMIT) == "missing"


def test_a_small_queue_is_ranked_on_the_spot(tmp_path: Path) -> None:
    eng = Engine(tmp_path / "d")
    eng.queue("q")
    for i in range(50):
        eng.enqueue("q", tenant=f"k{i % 5}")
    assert views.ranking_state(eng.broker, "q") == "direct"
    assert len(views.queue_view(eng.broker, "q").keys) == 5


# -- peek -------------------------------------------------------------------------------------


def test_peek_returns_the_oldest_without_walking_the_queue(big: Engine) -> None:
    q = big.broker.queues["q"]
    oldest = [e.mid for e in q.oldest(3)]
    q.drr.keys = NoWalk(q.drr.keys)
    NoWalk.walked = True
    try:
        got = [bytes(d) for d in big.broker.peek("q", 3)]
    finally:
        NoWalk.walked = False
    assert len(got) == 3
    assert all(mid.encode() in d for mid, d in zip(oldest, got, strict=True))


def test_peek_keeps_age_order_through_acks_dead_letters_and_redrive(tmp_path: Path) -> None:
    eng = Engine(tmp_path / "d")
    eng.queue("q", max_attempts=1)
    mids = [eng.enqueue("q", tenant=f"t{i % 3}") for i in range(9)]
    s = eng.stream("q", credit=4)
    eng.turn()
    taken = [m.id for m in s.read()]
    eng.broker.ack("q", taken[0], s.lease_ids[taken[0]])
    eng.broker.nack("q", taken[1], "boom", s.lease_ids[taken[1]])  # max_attempts 1: to the DLQ
    eng.turn()
    eng.check()  # (also: every queue's index holds its messages, oldest first)
    peeked = [m for m in mids if m not in (taken[0], taken[1])]
    assert [e.mid for e in eng.broker.queues["q"].oldest(100)] == peeked
    assert [e.mid for e in eng.broker.queues["q.dlq"].oldest(100)] == [taken[1]]
    eng.broker.redrive("q.dlq", 0)
    eng.turn()
    eng.check()
    assert [e.mid for e in eng.broker.queues["q"].oldest(3)] == sorted(
        [taken[1], *peeked], key=mids.index)[:3]


def test_the_peek_index_stays_bounded_behind_a_message_that_never_goes(tmp_path: Path) -> None:
    eng = Engine(tmp_path / "d")
    eng.queue("q", visibility_timeout_ms=3_600_000)
    stuck = eng.stream("q", credit=1)
    eng.enqueue("q", tenant="stuck")
    eng.turn()
    stuck.read()  # the oldest message stays leased for the whole test
    worker = eng.stream("q", credit=500, window=500)
    for _ in range(40):
        for i in range(500):
            eng.enqueue("q", tenant=f"t{i % 7}")
        eng.turn()
        for m in worker.read():
            eng.broker.ack("q", m.id, worker.lease_ids[m.id])
        eng.turn()
    q = eng.broker.queues["q"]
    assert q.held == 1
    assert len(q.arrivals) + len(q.strays) <= 2 * q.held + 2048


# -- turns ------------------------------------------------------------------------------------


def _fail(self: Queue) -> Any:
    raise AssertionError(f"a turn looked at idle queue {self.name}")


class Untouchable(Queue):
    """A queue that fails the test if a turn reads its timers or rolls its rates."""

    next_delayed_ms = _fail  # type: ignore[assignment]
    wake_delayed = _fail  # type: ignore[assignment]
    rates = property(_fail)  # type: ignore[assignment]
    key_rates = property(_fail)  # type: ignore[assignment]


def test_a_turn_does_not_visit_idle_queues(tmp_path: Path) -> None:
    eng = Engine(tmp_path / "d", BrokerSettings())
    for i in range(200):
        eng.broker.create_queue(f"idle-{i}", QueueSettings())
    eng.queue("busy", retry_backoff_base_ms=50, retry_backoff_max_ms=50)
    eng.advance(1001)  # housekeeping saw the new queues once: they are idle from now on
    for i in range(200):
        eng.broker.queues[f"idle-{i}"].__class__ = Untouchable
    s = eng.stream("busy")
    mid = eng.enqueue("busy")
    eng.turn()
    s.read()
    eng.broker.nack("busy", mid, "again", s.lease_ids[mid])  # retried in 50 ms: a delay timer
    r = eng.turn()
    assert r.next_in_s is not None and r.next_in_s <= 0.05
    eng.advance(51)
    assert [m.id for m in s.read()] == [mid]  # the delayed retry woke, on time
    for _ in range(5):
        eng.advance(1000)  # housekeeping rolls the busy queue's rates, not the idle ones'


def test_an_idle_broker_sets_no_timer_once_its_rates_settle(tmp_path: Path) -> None:
    eng = Engine(tmp_path / "d")
    eng.queue("q")
    s = eng.stream("q")
    mid = eng.enqueue("q")
    eng.turn()
    s.read()
    eng.broker.ack("q", mid, s.lease_ids[mid])
    r = eng.turn()
    for _ in range(30):
        r = eng.advance(1000)
        if r.next_in_s is None:
            break
    assert r.next_in_s is None, "an idle broker keeps waking up"


def test_a_ranking_lists_the_same_keys_as_sorting_them_all(tmp_path: Path) -> None:
    """The ranking keeps the `limit` busiest of every key it walks, slice by slice: the same
    list as ordering all the keys at once (most pending, fastest, latest, then by name)."""
    import random

    eng = Engine(tmp_path / "d")
    eng.queue("q")
    rnd = random.Random(7)
    names = [f"k{i}" for i in range(kr.SLICE_KEYS * 3 + 17)]
    rnd.shuffle(names)
    for k in names:
        for _ in range(rnd.choice((1, 1, 1, 2, 3))):
            eng.enqueue("q", tenant=k)
    eng.turn()
    q = eng.broker.queues["q"]
    for limit in (1, 50, kr.SLICE_KEYS + 5):
        for _ in kr.rank(q, {}, limit, 0.0):
            pass
        assert q.ranking is not None
        want = sorted(q.drr.keys, key=lambda k: kr.busiest_first(
            k, q.drr.keys, q.key_rates.rates, q.key_rates.last_seen))[:limit]
        assert q.ranking.keys == want


THROTTLED_HOOK = """
function on_enqueue(msg)
  return { fairness_key = msg.headers.tenant, throttle_keys = { "rate:" .. msg.headers.tenant } }
end
"""


def test_a_turn_looks_only_at_throttle_buckets_that_are_due(tmp_path: Path) -> None:
    """With thousands of throttled keys waiting for their buckets, a turn costs the buckets
    that refilled, not every bucket with claims (walking them cost 0.8 ms a turn at 10,000)."""
    eng = Engine(tmp_path / "d")
    eng.queue("q", THROTTLED_HOOK)
    keys = 3_000
    for i in range(keys):
        eng.broker.set_config(f"throttle.rate:t{i}", "1,1")
    s = eng.stream("q", credit=10 * keys, window=10 * keys)
    for i in range(keys):
        for _ in range(2):
            eng.enqueue("q", tenant=f"t{i}")
    got = 0
    for _ in range(100):
        eng.turn()
        got += len(s.read())
    assert got == keys  # one token each: the second messages wait, claiming their buckets
    throttles = eng.broker.config.throttles
    assert len(throttles.wake) == keys
    throttles.wake = NoWalk(throttles.wake)
    NoWalk.walked = True
    try:
        eng.advance(1)  # nothing refilled yet
        eng.advance(1)
    finally:
        NoWalk.walked = False
    eng.advance(1000)  # every bucket refilled: every second message goes
    for _ in range(100):
        got += len(s.read())
        eng.turn()
    assert got == 2 * keys
