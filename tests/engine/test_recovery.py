"""Recovery on its own: after a restart every stored message is back as it was, with what
on_enqueue decided for it, its attempts and last error, in its own queue and in order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fila.engine import codec
from fila.engine.message import Entry
from tests.engine.harness import Engine


def _held(eng: Engine, name: str) -> list[tuple[Any, ...]]:
    """What the broker knows of each message of a queue, oldest first."""
    q = eng.broker.queue(name)
    return [(e.seq, e.mid, e.data, e.fkey, e.weight, e.tkeys, e.attempts, e.last_error, e.state)
            for e in q.oldest(10_000)]


def test_every_message_comes_back_as_it_was(tmp_path: Path) -> None:
    eng = Engine(tmp_path / "data")
    eng.queue("a", retry_backoff_base_ms=0, retry_backoff_max_ms=0)
    eng.queue("b")
    long_value = "v" * 300  # a header entry with a two-byte length
    for i in range(60):
        headers = {"tenant": f"t{i % 7}", "weight": str(1 + i % 3)}
        if i % 4:
            headers["throttle"] = ",".join(f"k{j}" for j in range(i % 4))
        if i % 5 == 0:
            headers["long"] = long_value
        payload = b"p" * (20_000 if i % 9 == 0 else i)  # lengths of one, two and three bytes
        eng.enqueue("a" if i % 2 else "b", payload, **headers)
    eng.turn()
    s = eng.stream("a", credit=2)
    eng.turn()
    failed = s.read()
    for m in failed:  # a failure rewrites the stored bytes: attempts and last error
        eng.broker.nack("a", m.id, f"boom {m.id}", s.lease_ids[m.id])
    eng.turn()
    eng.broker.remove_consumer(s.consumer)
    eng.turn()
    before = {name: _held(eng, name) for name in ("a", "b")}
    assert {r[6] for r in before["a"]} == {0, 1}  # some were nacked

    eng.restart()

    eng.check()
    assert {name: _held(eng, name) for name in ("a", "b")} == before
    assert eng.broker.recovered["messages"] == 60
    for name in ("a", "b"):
        q = eng.broker.queue(name)
        assert q.drr.ready == 30
        for e in q.oldest(10_000):
            assert e.state == Entry.READY and e.home is q
            assert e.meta_at == codec.metadata_offset(e.data)
    # They lease as they were stored: each key's messages in order, every one once.
    again = eng.stream("a", credit=100)
    eng.turn()
    got = again.read()
    assert sorted(m.id for m in got) == sorted(r[1] for r in before["a"])
    for key in {r[3] for r in before["a"]}:
        mine = [m.id for m in got if m.metadata.fairness_key == key]
        assert mine == [r[1] for r in before["a"] if r[3] == key]
    nacked = {m.id for m in failed}
    for m in got:
        assert (m.metadata.attempt_count == 1) == (m.id in nacked)
        assert m.metadata.last_error == (f"boom {m.id}" if m.id in nacked else "")


def test_a_new_message_after_recovery_sorts_after_the_recovered(tmp_path: Path) -> None:
    eng = Engine(tmp_path / "data")
    eng.queue("q")
    old = [eng.enqueue("q", tenant="t") for _ in range(3)]
    eng.turn()
    eng.restart()
    new = eng.enqueue("q", tenant="t")
    eng.turn()
    assert [e.mid for e in eng.broker.queue("q").oldest(10)] == [*old, new]
    s = eng.stream("q")
    eng.turn()
    assert [m.id for m in s.read()] == [*old, new]
    eng.check()
