"""`fila lua test` and `fila explain` against a real server."""

from __future__ import annotations

from pathlib import Path

from fila.client import Client
from tests.fila_process import FilaProcess
from tests.test_cli import assert_error, fila, fila_json

HOOK = """
function on_enqueue(msg)
  local w = tonumber(fila.get("weight." .. msg.headers.tenant) or "1")
  return { fairness_key = msg.headers.tenant, weight = w,
           throttle_keys = { "provider:" .. (msg.headers.provider or "none") } }
end
"""
RETRY = """
function on_failure(msg)
  if msg.attempts >= 3 then return { action = "dlq" } end
  return { action = "retry", delay_ms = 100 * msg.attempts }
end
"""


def write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "hook.lua"
    p.write_text(text)
    return str(p)


def test_lua_test_uses_the_live_brokers_config(server: FilaProcess, client: Client, tmp_path: Path) -> None:
    client.set_config("weight.acme", "4")
    doc = fila_json(server.addr, "lua", "test", write(tmp_path, HOOK), "-H", "tenant=acme",
                    "-H", "provider=stripe")
    assert doc["ok"] and doc["config_source"].startswith("broker at")
    assert doc["result"] == {"fairness_key": "acme", "weight": 4, "throttle_keys": ["provider:stripe"]}
    assert doc["took_us"] > 0


def test_lua_test_with_config_flags_and_on_failure(server: FilaProcess, tmp_path: Path) -> None:
    doc = fila_json(server.addr, "lua", "test", write(tmp_path, HOOK), "-H", "tenant=b",
                    "--config", "weight.b=7")
    assert doc["result"]["weight"] == 7 and doc["config_source"] == "--config"
    path = write(tmp_path, RETRY)
    assert fila_json(server.addr, "lua", "test", path, "--hook", "on_failure",
                     "--attempts", "2")["result"] == {"action": "retry", "delay_ms": 200}
    assert fila_json(server.addr, "lua", "test", path, "--hook", "on_failure",
                     "--attempts", "3")["result"]["action"] == "dlq"


def test_lua_test_reports_errors_with_line_numbers(server: FilaProcess, tmp_path: Path) -> None:
    bad = write(tmp_path, "function on_enqueue(m)\n  return {\nend")
    r = fila(server.addr, "lua", "test", bad)
    assert_error(r, 2, "does not compile", f"{bad}:3: unexpected symbol near 'end'")
    assert "on_enqueue_script" not in r.stderr  # the file the user gave, and the line, once
    r = fila(server.addr, "queue", "create", "q", "--on-enqueue", bad)
    assert_error(r, 2, f"{bad}:3: unexpected symbol near 'end'")
    assert "on_enqueue_script" not in r.stderr
    path = write(tmp_path, HOOK)
    r = fila(server.addr, "lua", "test", path)  # no tenant header
    assert r.exit_code == 2
    assert f"{path}:3: attempt to concatenate a nil value" in r.stderr
    assert "fall back to its defaults" in r.stderr
    r = fila(server.addr, "lua", "test", write(tmp_path, "function on_enqueue(m) while true do end end"))
    assert r.exit_code == 2 and "instruction budget exceeded" in r.stderr


def test_explain(server: FilaProcess, client: Client) -> None:
    client.create_queue("q", on_enqueue="function on_enqueue(m) return {fairness_key=m.headers.t} end")
    client.enqueue("q", b"x", {"t": "acme"})
    doc = fila_json(server.addr, "explain", "q", "acme")
    assert doc["summary"] == "no consumer is connected to queue `q`"
    assert doc["pending"] == 1 and doc["key"] == "acme"
    r = fila(server.addr, "explain", "q", "acme")
    assert r.exit_code == 0 and r.stdout.startswith("no consumer is connected")
    assert_error(fila(server.addr, "explain", "nope", "acme"), 3, "does not exist")
