"""Enqueueing many messages at once (what EnqueueBatch does): one call into Lua for a run of
messages must decide exactly what one call per message would, breaker and limits included."""

from __future__ import annotations

from pathlib import Path

import pytest

from fila.engine import BrokerSettings, Limits, LuaLimits, views
from fila.errors import FilaError, InvalidArgument, NotFound, ResourceExhausted
from tests.engine.harness import Engine

# Fails for messages with a `bad` header; keys the rest by tenant, with a weight and throttle
# keys when the headers ask for them.
PICKY_HOOK = """
function on_enqueue(msg)
  if msg.headers.bad then error("refused " .. msg.headers.bad) end
  local tks = {}
  if msg.headers.throttle then tks = { msg.headers.throttle, "all" } end
  return { fairness_key = msg.headers.tenant, weight = tonumber(msg.headers.weight or "1"),
           throttle_keys = tks }
end
"""


@pytest.fixture
def eng(tmp_path: Path) -> Engine:
    return Engine(tmp_path / "data")


def _items(queue: str, *headers: dict[str, str]) -> list[tuple[str, dict[str, str], bytes, None]]:
    return [(queue, h, b"p", None) for h in headers]


def _hook_stat(eng: Engine, queue: str) -> tuple[int, int]:
    stats = views.queue_view(eng.broker, queue)
    [h] = [h for h in stats.hooks if h.hook == "on_enqueue"]
    return h.calls, h.errors


def test_each_message_gets_its_own_decision(eng: Engine) -> None:
    eng.queue("q", PICKY_HOOK)
    s = eng.stream("q")
    ids = eng.broker.enqueue_many(_items(
        "q", {"tenant": "a"}, {"tenant": "b", "weight": "3"}, {"tenant": "c", "throttle": "t:c"}))
    assert all(isinstance(i, str) for i in ids)
    eng.turn()
    got = {m.id: m.metadata for m in s.read()}
    assert [(got[i].fairness_key, got[i].weight, list(got[i].throttle_keys)) for i in ids] == [
        ("a", 1, []), ("b", 3, []), ("c", 1, ["t:c", "all"])]
    eng.check()


def test_globals_do_not_leak_between_messages_of_one_batch(eng: Engine) -> None:
    hook = """
    function on_enqueue(msg)
      local seen = tostring(previous)
      previous = msg.headers.tenant
      return { fairness_key = seen }
    end
    """
    eng.queue("q", hook)
    s = eng.stream("q")
    eng.broker.enqueue_many(_items("q", {"tenant": "a"}, {"tenant": "b"}, {"tenant": "c"}))
    eng.turn()
    assert [m.metadata.fairness_key for m in s.read()] == ["nil", "nil", "nil"]


def test_the_breaker_opens_after_three_failures_in_a_row_within_one_batch(eng: Engine) -> None:
    eng.queue("q", PICKY_HOOK)
    s = eng.stream("q")
    ids = eng.broker.enqueue_many(_items(
        "q", {"bad": "1"}, {"bad": "2"}, {"bad": "3"}, {"tenant": "x"}, {"tenant": "y"}))
    assert all(isinstance(i, str) for i in ids)  # a failing hook never refuses the message
    # The fourth and fifth never ran: the breaker was open.
    assert _hook_stat(eng, "q") == (3, 3)
    eng.turn()
    assert [m.metadata.fairness_key for m in s.read()] == ["default"] * 5


def test_a_success_between_failures_keeps_the_breaker_closed(eng: Engine) -> None:
    eng.queue("q", PICKY_HOOK)
    s = eng.stream("q")
    ids = eng.broker.enqueue_many(_items(
        "q", {"bad": "1"}, {"tenant": "a"}, {"bad": "2"}, {"bad": "3"}, {"tenant": "b"},
        {"bad": "4"}, {"tenant": "c"}))
    assert _hook_stat(eng, "q") == (7, 4)
    eng.turn()
    got = {m.id: m.metadata.fairness_key for m in s.read()}
    assert [got[i] for i in ids] == ["default", "a", "default", "default", "b", "default", "c"]


def test_a_result_of_the_wrong_shape_fails_only_its_message(eng: Engine) -> None:
    hook = """
    function on_enqueue(msg)
      if msg.headers.tenant == "w" then return { fairness_key = "w", weight = 0 } end
      if msg.headers.tenant == "t" then return { fairness_key = "t", throttle_keys = "x" } end
      return { fairness_key = msg.headers.tenant }
    end
    """
    eng.queue("q", hook)
    s = eng.stream("q")
    ids = eng.broker.enqueue_many(_items("q", {"tenant": "a"}, {"tenant": "w"}, {"tenant": "t"},
                                         {"tenant": "b"}))
    assert _hook_stat(eng, "q") == (4, 2)
    eng.turn()
    got = {m.id: m.metadata.fairness_key for m in s.read()}
    assert [got[i] for i in ids] == ["a", "default", "default", "b"]


def test_one_headers_dict_given_for_many_messages_reaches_each(eng: Engine) -> None:
    eng.queue("q", PICKY_HOOK)
    s = eng.stream("q")
    same = {"tenant": "t"}
    eng.broker.enqueue_many(_items("q", same, same, same))
    eng.turn()
    assert [m.metadata.fairness_key for m in s.read()] == ["t", "t", "t"]


def test_the_time_limit_is_per_message(tmp_path: Path) -> None:
    # Each message's hook spins ~5 ms, well under its 50 ms limit; fifteen in one batch take
    # longer than one limit together, and still none of them fails.
    eng = Engine(tmp_path / "d", BrokerSettings(lua=LuaLimits(instruction_budget=10**9,
                                                              time_limit_ms=50)))
    hook = """
    function on_enqueue(msg)
      local x = 0
      for i = 1, tonumber(msg.headers.spins) do x = x + i end
      return { fairness_key = "k" }
    end
    """
    eng.queue("q", hook)
    spins = _spins_for_ms(5)
    eng.broker.enqueue_many(_items("q", *[{"spins": str(spins)}] * 15))
    assert _hook_stat(eng, "q") == (15, 0)
    eng.broker.enqueue_many(_items("q", {"spins": str(spins)}, {"spins": str(spins * 30)}))
    assert _hook_stat(eng, "q") == (17, 1)  # the one message over its own limit fails


def _spins_for_ms(ms: float) -> int:
    import time

    from lupa import lua54
    lua = lua54.LuaRuntime()
    f = lua.eval("function(n) local x = 0 for i = 1, n do x = x + i end return x end")
    n = 1_000_000
    t0 = time.perf_counter()
    f(n)
    per = (time.perf_counter() - t0) / n
    return max(1, int(ms / 1000 / per))


def test_bad_messages_and_unknown_queues_are_refused_one_by_one(tmp_path: Path) -> None:
    eng = Engine(tmp_path / "d", BrokerSettings(limits=Limits(max_headers=1)))
    eng.queue("q", PICKY_HOOK)
    eng.queue("r", PICKY_HOOK)
    s, r = eng.stream("q"), eng.stream("r")
    results = eng.broker.enqueue_many([
        ("q", {"tenant": "a"}, b"1", None),
        ("nope", {"tenant": "a"}, b"2", None),
        ("q", {"tenant": "a", "two": "many"}, b"3", None),
        ("r", {"tenant": "b"}, b"4", None),
        ("q", {"tenant": "c"}, b"5", None),
    ])
    assert [type(x) for x in results] == [str, NotFound, InvalidArgument, str, str]
    eng.turn()
    assert [m.payload for m in s.read()] == [b"1", b"5"]
    assert [m.payload for m in r.read()] == [b"4"]
    eng.check()


def test_the_memory_limit_refuses_what_is_past_it(tmp_path: Path) -> None:
    eng = Engine(tmp_path / "d", BrokerSettings(limits=Limits(max_pending_bytes=1000)))
    eng.queue("q", PICKY_HOOK)
    results = eng.broker.enqueue_many(_items("q", *[{"tenant": "a"}] * 40))
    accepted = [x for x in results if isinstance(x, str)]
    refused = [x for x in results if isinstance(x, FilaError)]
    assert accepted and refused
    assert all(isinstance(x, ResourceExhausted) for x in refused)
    assert results == accepted + refused  # in order: once full, the rest are refused
    eng.turn()
    eng.check()


# Throttle keys as a hook may return them: each message's own, so a bad one fails only its
# message's hook call (that message gets the defaults), and the log says what was wrong.
TKS_HOOK = """
function on_enqueue(msg)
  local shape = msg.headers.shape
  local tks
  if shape == "two" then tks = { "a", "b" }
  elseif shape == "empty" then tks = { "" }
  elseif shape == "number" then tks = { "a", 7 }
  elseif shape == "many" then tks = {} for i = 1, 17 do tks[i] = "k" .. i end
  elseif shape == "sixteen" then tks = {} for i = 1, 16 do tks[i] = "k" .. i end
  elseif shape == "long" then tks = { string.rep("x", 257) }
  elseif shape == "wide" then tks = { string.rep("é", 100) }
  elseif shape == "wide-key" then return { fairness_key = string.rep("é", 129) }
  end
  return { fairness_key = "t", throttle_keys = tks }
end
"""


@pytest.mark.parametrize(("shape", "want", "error"), [
    ("two", ("t", ["a", "b"]), None),
    ("sixteen", ("t", [f"k{i}" for i in range(1, 17)]), None),
    ("wide", ("t", ["é" * 100]), None),  # 200 bytes of UTF-8: within 256
    ("empty", None, "throttle_keys must be strings of 1..256 bytes"),
    ("number", None, "throttle_keys must be strings of 1..256 bytes"),
    ("long", None, "throttle_keys must be strings of 1..256 bytes"),
    ("many", None, "at most 16 throttle_keys"),
    ("wide-key", None, "fairness_key must be 1..256 bytes"),  # 258 bytes in 129 characters
])
def test_hook_results_are_checked_per_message(
        eng: Engine, caplog: pytest.LogCaptureFixture, shape: str,
        want: tuple[str, list[str]] | None, error: str | None) -> None:
    eng.queue("q", TKS_HOOK)
    s = eng.stream("q")
    ids = eng.broker.enqueue_many(_items("q", {"shape": "two"}, {"shape": shape}, {"shape": "two"}))
    assert _hook_stat(eng, "q") == (3, 0 if error is None else 1)
    eng.turn()
    got = {m.id: (m.metadata.fairness_key, list(m.metadata.throttle_keys)) for m in s.read()}
    assert [got[i] for i in ids] == [("t", ["a", "b"]), want or ("default", []), ("t", ["a", "b"])]
    logged = [getattr(r, "error", "") for r in caplog.records if "hook failed" in r.getMessage()]
    if error is None:
        assert not logged
    else:
        assert len(logged) == 1 and error in logged[0], logged
    eng.check()


def test_a_backlog_holds_each_tenants_keys_once(eng: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lua hands back a new string per message; a backlog of a million messages of a few
    tenants must not hold a million copies of their keys."""
    eng.queue("q", PICKY_HOOK)
    headers = [{"tenant": f"t{i % 3}", "throttle": f"r{i % 3}"} for i in range(30)]
    headers += [{"tenant": "x" * 200, "throttle": "y" * 200}] * 2  # past the fast path's lengths
    eng.broker.enqueue_many(_items("q", *headers))
    held = eng.broker.queue("q").oldest(100)
    by_tenant: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for e in held:
        by_tenant.setdefault(e.fkey, []).append((e.fkey, e.tkeys))
    assert len(by_tenant) == 4
    for same in by_tenant.values():
        assert all(k is same[0][0] and t is same[0][1] for k, t in same)
    assert held[0].tkeys == ("r0", "all")
    # The table of shared throttle-key sets is bounded: past its size it starts anew.
    monkeypatch.setattr("fila.engine.rules.MAX_SHARED_THROTTLE_KEYS", 10)
    rules = eng.broker.queue("q").rules
    for n in range(1, 6):
        eng.broker.enqueue_many(_items("q", *({"tenant": "t", "throttle": f"n{n}.{i}"}
                                              for i in range(4))))
        assert len(rules._throttle_keys) <= 10
    assert len(eng.broker.queue("q").oldest(1000)) == 32 + 20
