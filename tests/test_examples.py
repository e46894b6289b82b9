"""The example hooks the README points at compile and decide what their comments say."""

from __future__ import annotations

from pathlib import Path

from fila.engine.rules import LuaLimits, QueueRules

HOOKS = Path(__file__).resolve().parent.parent / "examples" / "hooks"


def test_tenant_hook() -> None:
    rules = QueueRules((HOOKS / "tenant.lua").read_text(), "", LuaLimits(), {"weight.acme": "3"})
    d = rules.on_enqueue({"tenant": "acme", "provider": "ses"}, 10, "emails")
    assert (d.fairness_key, d.weight, d.throttle_keys) == ("acme", 3, ("provider:ses",))
    d = rules.on_enqueue({}, 10, "emails")
    assert (d.fairness_key, d.weight, d.throttle_keys) == ("anonymous", 1, ("provider:smtp",))


def test_retry_hook() -> None:
    rules = QueueRules("", (HOOKS / "retry.lua").read_text(), LuaLimits())
    assert [rules.on_failure({}, "id", n, "q", "boom") for n in (1, 2, 3, 5)] == [
        ("retry", 1000), ("retry", 2000), ("retry", 4000), ("dlq", 0)]
