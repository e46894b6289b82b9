"""Lua hooks through the real server: fila.get, bad scripts, the circuit breaker, updates."""

from __future__ import annotations

from pathlib import Path

import pytest

from fila.client import Client, InvalidArgument, QueueConfig
from tests.conftest import take, wait_for
from tests.fila_process import FilaProcess

FROM_CONFIG = """
function on_enqueue(msg)
  local mode = fila.get("demo.mode")
  if mode == "fail" then error("asked to fail") end
  return { fairness_key = (mode or "unset") .. ":" .. (msg.headers.tenant or "?"),
           weight = tonumber(fila.get("demo.weight") or "1") }
end
"""


def test_compile_error_is_invalid_argument_with_line(client: Client) -> None:
    with pytest.raises(InvalidArgument, match=r"on_enqueue_script:3: unexpected symbol near .end."):
        client.create_queue("q", on_enqueue="function on_enqueue(msg)\n  return {\nend")
    with pytest.raises(InvalidArgument, match="must define a function on_enqueue"):
        client.create_queue("q", on_enqueue="x = 1")
    with pytest.raises(InvalidArgument, match="on_failure_script"):
        client.create_queue("q", on_failure="function on_failure(")
    assert client.list_queues() == []


def test_fila_get_reads_config_at_call_time(client: Client) -> None:
    client.create_queue("q", on_enqueue=FROM_CONFIG)
    client.enqueue("q", b"1", {"tenant": "a"})
    client.set_config("queue/q/demo.mode", "blue")  # the queue's own keys
    client.set_config("queue/q/demo.weight", "3")
    client.enqueue("q", b"2", {"tenant": "a"})
    got = take(client, "q", 2, ack=True)
    assert [(m.fairness_key, m.weight) for m in got] in (
        [("unset:a", 1), ("blue:a", 3)], [("blue:a", 3), ("unset:a", 1)])


@pytest.mark.parametrize("body", [
    "while true do end",
    "local t = {} while true do t[#t + 1] = string.rep('x', 4096) end",
    "return { fairness_key = os.execute('true') }",
    "return { fairness_key = io.open('/etc/passwd'):read('a') }",
    "return { fairness_key = require('os') }",
    "local co = coroutine.wrap(function() while true do end end) co()",
    "local function f() return f() + 1 end return { fairness_key = f() }",
    "return { fairness_key = {} }",
    "return { fairness_key = 'k', weight = -1 }",
    "return 42",
])
def test_bad_hook_falls_back_to_defaults_and_broker_keeps_serving(client: Client, body: str) -> None:
    client.create_queue("q", on_enqueue=f"function on_enqueue(msg)\n{body}\nend")
    mid = client.enqueue("q", b"x", {"tenant": "a"})
    [m] = take(client, "q", 1, ack=True)
    assert (m.id, m.fairness_key, m.weight, m.throttle_keys) == (mid, "default", 1, ())
    client.create_queue("healthy")
    client.enqueue("healthy", b"y")
    assert len(take(client, "healthy", 1)) == 1


def test_circuit_breaker_opens_after_three_failures_and_closes_after_cooldown(tmp_path: Path) -> None:
    conf = tmp_path / "fila.toml"
    conf.write_text("[lua]\nbreaker_cooldown_ms = 400\n")
    proc = FilaProcess(tmp_path / "data", config_file=conf).start()
    try:
        with Client(proc.addr, timeout_s=5) as c:
            c.create_queue("q", on_enqueue=FROM_CONFIG)
            c.set_config("queue/q/demo.mode", "fail")
            for _ in range(3):
                c.enqueue("q", b"x", {"tenant": "a"})
            c.set_config("queue/q/demo.mode", "ok")  # the script would work now...
            c.enqueue("q", b"x", {"tenant": "a"})
            keys = [m.fairness_key for m in take(c, "q", 4, ack=True)]
            assert keys == ["default"] * 4  # ...but the open breaker skips it
            assert "lua circuit breaker opened" in proc.log_text()
            assert proc.log_text().count("lua hook failed") == 1  # logged once per streak

            def healed() -> bool:
                c.enqueue("q", b"x", {"tenant": "a"})
                return take(c, "q", 1, ack=True)[0].fairness_key == "ok:a"

            wait_for(healed, timeout_s=5, what="breaker to close after its cooldown")
    finally:
        proc.kill()


def test_update_queue_replaces_rules_and_a_bad_script_changes_nothing(client: Client) -> None:
    client.create_queue("q", on_enqueue="function on_enqueue(m) return {fairness_key='v1'} end")
    with pytest.raises(InvalidArgument):
        client.update_queue("q", on_enqueue="function on_enqueue(m) return {fairness_key= end")
    client.enqueue("q", b"x")
    assert take(client, "q", 1, ack=True)[0].fairness_key == "v1"
    client.update_queue("q", QueueConfig(
        on_enqueue_script="function on_enqueue(m) return {fairness_key='v2'} end",
        visibility_timeout_ms=5000,
    ))
    client.enqueue("q", b"x")
    assert take(client, "q", 1, ack=True)[0].fairness_key == "v2"
    cfg, dlq_of = client.get_queue("q")
    assert cfg.visibility_timeout_ms == 5000 and dlq_of == ""
    assert client.get_queue("q.dlq")[1] == "q"


def test_globals_do_not_leak_between_messages(client: Client) -> None:
    script = """
    function on_enqueue(msg)
      seen = (seen or 0) + 1
      return { fairness_key = tostring(seen) }
    end"""
    client.create_queue("q", on_enqueue=script)
    for _ in range(3):
        client.enqueue("q", b"x")
    assert [m.fairness_key for m in take(client, "q", 3, ack=True)] == ["1", "1", "1"]
