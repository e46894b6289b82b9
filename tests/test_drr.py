"""Properties of the weighted DRR ready index (the engine alone: pure, synchronous)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from fila.engine.drr import DrrScheduler
from fila.engine.throttle import Throttles
from tests.scheduler_sim import entry


@settings(max_examples=60, deadline=None)
@given(
    weights=st.lists(st.integers(1, 10), min_size=1, max_size=12),
    quantum=st.integers(1, 5),
    rounds=st.integers(3, 10),
)
def test_saturated_shares_follow_weights(weights: list[int], quantum: int, rounds: int) -> None:
    drr = DrrScheduler(quantum)
    total_w = sum(weights)
    n = total_w * quantum * rounds  # whole DRR rounds
    for i, w in enumerate(weights):
        for _ in range(n + 1):  # more than can be served: every key stays busy
            drr.push(entry(f"k{i}", w))
    got = Counter(drr.pop(0.0).fkey for _ in range(n))  # type: ignore[union-attr]
    for i, w in enumerate(weights):
        fair = n * w / total_w
        assert abs(got[f"k{i}"] - fair) <= 0.05 * fair + quantum * w, (weights, got)


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(0, 30), min_size=1, max_size=10))
def test_idle_keys_are_never_scheduled_and_every_message_comes_out_once(counts: list[int]) -> None:
    drr = DrrScheduler()
    pushed = []
    for i, c in enumerate(counts):
        for _ in range(c):
            e = entry(f"k{i}")
            drr.push(e)
            pushed.append(e)
    out = []
    while True:
        e = drr.pop(0.0)
        if e is None:
            break
        out.append(e)
    assert sorted(x.seq for x in out) == sorted(x.seq for x in pushed)
    assert {e.fkey for e in out} == {f"k{i}" for i, c in enumerate(counts) if c}
    assert drr.ready == 0 and not drr.ring and not drr.keys  # drained keys left the line
    # FIFO inside a key
    for key in {e.fkey for e in out}:
        seqs = [e.seq for e in out if e.fkey == key]
        assert seqs == sorted(seqs)


def test_small_tenant_is_not_starved_by_a_big_one() -> None:
    drr = DrrScheduler()
    for _ in range(900):
        drr.push(entry("A"))
    for t in "BCDE":
        for _ in range(25):
            drr.push(entry(t))
    first = Counter(drr.pop(0.0).fkey for _ in range(100))  # type: ignore[union-attr]
    assert first == {"A": 20, "B": 20, "C": 20, "D": 20, "E": 20}


def test_throttled_head_does_not_block_its_key() -> None:
    gate = Throttles()
    gate.configure("slow", rate=0.0, burst=1.0, now_s=0.0)
    drr = DrrScheduler(gate=gate)
    head_a = entry("tenant", tkeys=("slow",))
    head_b = entry("tenant", tkeys=("slow",))
    free = entry("tenant")
    for e in (head_a, head_b, free):
        drr.push(e)
    assert drr.pop(0.0) is head_a  # takes the only token
    assert drr.pop(0.0) is free  # the throttled head does not block the free one
    assert drr.pop(0.0) is None  # all that is left is throttled: the key is parked
    assert "tenant" in drr.parked and drr.ready == 1
    assert gate.next_wake() is None  # rate 0: no timer, only a config change wakes it


def test_parked_key_comes_back_when_its_bucket_refills() -> None:
    gate = Throttles()
    gate.configure("p", rate=10.0, burst=1.0, now_s=0.0)
    drr = DrrScheduler(gate=gate)
    for _ in range(3):
        drr.push(entry("k", tkeys=("p",)))
    assert drr.pop(0.0) is not None
    assert drr.pop(0.0) is None
    wake = gate.next_wake()
    assert wake is not None and abs(wake - 0.1) < 1e-5  # one token at 10/s
    gate.grant_due(0.05)  # not yet
    assert "k" in drr.parked
    gate.grant_due(wake)
    assert "k" not in drr.parked  # its claim got the token, held for it
    assert gate.buckets["p"].tokens < 1.0
    assert drr.pop(wake) is not None


def test_message_with_several_throttle_keys_needs_every_bucket() -> None:
    gate = Throttles()
    gate.configure("tenant:a", rate=0.0, burst=5.0, now_s=0.0)
    gate.configure("provider:x", rate=0.0, burst=1.0, now_s=0.0)
    drr = DrrScheduler(gate=gate)
    for _ in range(3):
        drr.push(entry("a", tkeys=("tenant:a", "provider:x")))
    assert drr.pop(0.0) is not None
    assert drr.pop(0.0) is None  # provider:x is empty even though tenant:a is not
    assert gate.buckets["tenant:a"].tokens == 4.0  # nothing held for a bucket that never refills


def test_a_new_message_with_other_throttle_keys_wakes_a_parked_key() -> None:
    gate = Throttles()
    gate.configure("slow", rate=0.0, burst=1.0, now_s=0.0)
    drr = DrrScheduler(gate=gate)
    drr.push(entry("t", tkeys=("slow",)))
    drr.push(entry("t", tkeys=("slow",)))
    assert drr.pop(0.0) is not None
    assert drr.pop(0.0) is None and "t" in drr.parked
    free = entry("t", tkeys=("fast",))
    drr.push(free)
    assert drr.pop(0.0) is free  # not left waiting for `slow`, which never refills


def test_keys_that_come_and_go_beyond_the_idle_cache_keep_order_and_weight() -> None:
    """More keys than the idle cache keeps, each with a message or so at a time (a tenant
    per request): every message comes out once, a returning key starts a fresh turn with
    its latest weight, and the cache stays within its size."""
    from fila.engine.drr import IDLE_KEYS_KEPT

    drr = DrrScheduler()
    keys = IDLE_KEYS_KEPT * 2 + 100
    out = []
    for i in range(keys * 3):
        drr.push(entry(f"k{i % keys}", 1 + (i // keys)))
        if i >= 50:
            out.append(drr.pop(0.0))
        assert len(drr._idle) <= IDLE_KEYS_KEPT
    while (e := drr.pop(0.0)) is not None:
        out.append(e)
    assert sorted(e.seq for e in out) == list(range(out[0].seq, out[0].seq + keys * 3))
    assert [e.seq for e in out] == sorted(e.seq for e in out)  # one ready message per key: FIFO
    # A key back with weight 3 gets up to 3 turns in a row when it has that many.
    for _ in range(3):
        drr.push(entry("k7", 3))
    drr.push(entry("other", 1))
    assert [drr.pop(0.0).fkey for _ in range(4)] == ["k7", "k7", "k7", "other"]  # type: ignore[union-attr]


def test_a_queue_remembers_its_latest_throttle_keys_most_recent_last() -> None:
    """What GetStats lists as the buckets a queue's messages use: the latest
    THROTTLE_KEYS_SEEN of them, however many came and went."""
    from fila.engine.drr import THROTTLE_KEYS_SEEN

    drr = DrrScheduler()
    n = THROTTLE_KEYS_SEEN + 500
    for i in range(n):
        drr.push(entry(f"k{i}", tkeys=(f"rate:{i}",)))
        drr.pop(0.0)
    drr.push(entry("again", tkeys=("rate:600",)))  # seen before: moves to the end
    seen = list(drr.throttle_keys_seen)
    assert len(seen) == THROTTLE_KEYS_SEEN
    assert seen[-1] == "rate:600" and seen[-2] == f"rate:{n - 1}"
    assert seen[0] == f"rate:{n - THROTTLE_KEYS_SEEN}"  # the oldest kept; older ones dropped
    assert "rate:0" not in drr.throttle_keys_seen
