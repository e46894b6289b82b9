"""The `fila` operator CLI against a real broker: queues, config, throttles, stats, DLQ, help.

Most tests run the command in-process with typer's CliRunner (same code path as the console
script, minus interpreter start-up); tests/test_cli_errors.py also runs real subprocesses.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner, Result

from fila.cli.main import app
from fila.client import Client, NotFound
from tests.conftest import take
from tests.fila_process import FilaProcess

TENANT_HOOK = ("function on_enqueue(msg)\n"
               "  return {fairness_key = msg.headers.tenant or 'none', throttle_keys = {'t'}}\n"
               "end\n")
_CLEAN_ENV = {"FILA_ADDR": None, "FILA_OUTPUT": None, "FILA_API_KEY": None}


def fila(addr: str, *args: str, input: str | bytes | None = None,
         env: dict[str, str | None] | None = None) -> Result:
    """Run `fila --addr ADDR ARGS...` in-process."""
    return CliRunner().invoke(app, ["--addr", addr, *args], input=input,
                              env={**_CLEAN_ENV, **(env or {})}, prog_name="fila",
                              catch_exceptions=False)


def fila_json(addr: str, *args: str, input: str | bytes | None = None) -> Any:
    """Run with `--output json`, expect success, and parse the one JSON document it prints."""
    r = fila(addr, "--output", "json", *args, input=input)
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def assert_error(r: Result, code: int, *fragments: str) -> None:
    """Exit code `code` and exactly one stderr line, "error: ...", holding each fragment."""
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for f in fragments:
        assert f in lines[0], (f, lines[0])


def _all_commands() -> list[list[str]]:
    paths: list[list[str]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        paths.append(path)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*path, name])

    walk(get_command(app), [])
    return paths


def test_every_command_help_has_an_example() -> None:
    paths = _all_commands()
    assert ["queue", "update"] in paths and ["dlq", "redrive"] in paths and ["stats"] in paths
    for path in paths:
        r = CliRunner().invoke(app, [*path, "--help"], prog_name="fila", env=_CLEAN_ENV)
        assert r.exit_code == 0, (path, r.output)
        assert "Example: fila" in r.stdout, path


def test_queue_create_list_inspect_delete(server: FilaProcess, tmp_path: Path) -> None:
    hook = tmp_path / "hook.lua"
    hook.write_text(TENANT_HOOK)
    r = fila(server.addr, "queue", "create", "jobs", "--on-enqueue", str(hook),
             "--visibility-timeout-ms", "5000", "--max-attempts", "3",
             "--retry-backoff-base-ms", "10", "--retry-backoff-max-ms", "500")
    assert r.exit_code == 0, r.stderr
    assert "created queue jobs" in r.stdout
    assert fila_json(server.addr, "queue", "create", "other") == {"queue": "other", "dlq": "other.dlq"}

    table = fila(server.addr, "queue", "list").stdout.splitlines()
    assert table[0].split() == ["NAME", "DEPTH", "IN", "FLIGHT", "CONSUMERS"]
    assert [line.split()[0] for line in table[1:]] == ["jobs", "jobs.dlq", "other", "other.dlq"]
    listed = fila_json(server.addr, "queue", "list")
    assert listed[0] == {"name": "jobs", "depth": 0, "in_flight": 0, "active_consumers": 0}

    doc = fila_json(server.addr, "queue", "inspect", "jobs")
    assert set(doc) == {"name", "dlq_of", "config", "stats"}
    assert (doc["name"], doc["dlq_of"]) == ("jobs", "")
    assert doc["config"] == {
        "on_enqueue_script": TENANT_HOOK, "on_failure_script": "", "visibility_timeout_ms": 5000,
        "max_attempts": 3, "retry_backoff_base_ms": 10, "retry_backoff_max_ms": 500,
        "lua_instruction_budget": 0, "lua_memory_bytes": 0, "lua_time_limit_ms": 0,
    }
    assert doc["stats"]["queue"] == "jobs" and doc["stats"]["depth"] == 0
    assert fila_json(server.addr, "queue", "inspect", "jobs.dlq")["dlq_of"] == "jobs"
    text = fila(server.addr, "queue", "inspect", "jobs").stdout
    assert "visibility timeout ms:  5000" in text and "fairness_key = msg.headers.tenant" in text

    assert_error(fila(server.addr, "queue", "create", "jobs"), 4, "already exists")
    assert_error(fila(server.addr, "queue", "inspect", "nope"), 3, "'nope' does not exist",
                 "fila queue list")
    assert_error(fila(server.addr, "queue", "create", "bad name"), 2, "may hold only")

    assert_error(fila(server.addr, "queue", "delete", "jobs"), 2, "--yes")
    assert_error(fila(server.addr, "queue", "delete", "jobs.dlq", "--yes"), 6, "delete 'jobs'")
    assert fila_json(server.addr, "queue", "delete", "other", "--yes") == {
        "queue": "other", "deleted": True}
    r = fila(server.addr, "queue", "delete", "jobs", "--yes")
    assert r.exit_code == 0 and "deleted queue jobs" in r.stdout
    assert fila_json(server.addr, "queue", "list") == []
    assert_error(fila(server.addr, "queue", "delete", "jobs", "-y"), 3, "does not exist")


def test_queue_scripts_from_stdin_and_bad_files(server: FilaProcess, tmp_path: Path) -> None:
    r = fila(server.addr, "queue", "create", "jobs", "--on-enqueue", "-", input=TENANT_HOOK)
    assert r.exit_code == 0, r.stderr
    cfg = fila_json(server.addr, "queue", "inspect", "jobs")["config"]
    assert cfg["on_enqueue_script"] == TENANT_HOOK
    assert_error(fila(server.addr, "queue", "create", "q2", "--on-enqueue", str(tmp_path / "missing.lua")),
                 2, "cannot read --on-enqueue file")
    assert_error(fila(server.addr, "queue", "create", "q2", "--on-enqueue", "-", "--on-failure", "-"),
                 2, "only one option can read from stdin")
    assert_error(fila(server.addr, "queue", "create", "q2", "--max-attempts", "0"), 2, "--max-attempts")
    assert_error(fila(server.addr, "queue", "create", "q2", "--on-enqueue", "-",
                      input="function on_enqueue(m) return {"), 2, "on_enqueue")
    assert_error(fila(server.addr, "queue", "create"), 2, "missing argument", "fila queue create --help")
    assert_error(fila(server.addr, "queue", "create", "q2", "--bogus"), 2, "no such option: --bogus")
    assert [q["name"] for q in fila_json(server.addr, "queue", "list")] == ["jobs", "jobs.dlq"]


def test_queue_update_keeps_what_is_not_given(server: FilaProcess, tmp_path: Path) -> None:
    hook = tmp_path / "hook.lua"
    hook.write_text(TENANT_HOOK)
    assert fila(server.addr, "queue", "create", "jobs", "--on-enqueue", str(hook),
                "--max-attempts", "3", "--visibility-timeout-ms", "7000").exit_code == 0
    r = fila(server.addr, "queue", "update", "jobs", "--retry-backoff-max-ms", "900")
    assert r.exit_code == 0, r.stderr
    assert "updated queue jobs: retry_backoff_max_ms" in r.stdout
    cfg = fila_json(server.addr, "queue", "inspect", "jobs")["config"]
    assert (cfg["on_enqueue_script"], cfg["max_attempts"], cfg["visibility_timeout_ms"],
            cfg["retry_backoff_max_ms"]) == (TENANT_HOOK, 3, 7000, 900)

    doc = fila_json(server.addr, "queue", "update", "jobs", "--on-failure", "-",
                    input="function on_failure(m) return {action='dlq'} end")
    assert doc["queue"] == "jobs" and doc["config"]["on_failure_script"].startswith("function")
    assert doc["config"]["on_enqueue_script"] == TENANT_HOOK

    empty = tmp_path / "empty.lua"
    empty.write_text("")
    assert fila(server.addr, "queue", "update", "jobs", "--on-enqueue", str(empty)).exit_code == 0
    assert fila_json(server.addr, "queue", "inspect", "jobs")["config"]["on_enqueue_script"] == ""

    before = fila_json(server.addr, "queue", "inspect", "jobs")["config"]
    assert_error(fila(server.addr, "queue", "update", "jobs", "--max-attempts", "9",
                      "--on-failure", "-", input="not lua at all ((("), 2, "on_failure")
    assert fila_json(server.addr, "queue", "inspect", "jobs")["config"] == before
    assert_error(fila(server.addr, "queue", "update", "jobs"), 2, "nothing to change")
    assert_error(fila(server.addr, "queue", "update", "nope", "--max-attempts", "2"), 3, "'nope'")
    assert_error(fila(server.addr, "queue", "update", "jobs.dlq", "--max-attempts", "2"), 6,
                 "dead-letter queue")


def test_config_set_get_list_unset(server: FilaProcess) -> None:
    r = fila(server.addr, "config", "set", "feature.x", "on")
    assert r.exit_code == 0 and r.stdout == "feature.x = on\n"
    assert fila_json(server.addr, "config", "set", "feature.y", "2") == {"key": "feature.y", "value": "2"}
    assert fila_json(server.addr, "config", "set", "other", "v") == {"key": "other", "value": "v"}
    assert fila(server.addr, "config", "get", "feature.x").stdout == "on\n"
    assert fila_json(server.addr, "config", "get", "feature.y") == {"key": "feature.y", "value": "2"}
    assert fila_json(server.addr, "config", "list", "--prefix", "feature.") == [
        {"key": "feature.x", "value": "on"}, {"key": "feature.y", "value": "2"}]
    lines = fila(server.addr, "config", "list").stdout.splitlines()
    assert lines[0].split() == ["KEY", "VALUE"] and [ln.split() for ln in lines[1:]] == [
        ["feature.x", "on"], ["feature.y", "2"], ["other", "v"]]

    assert fila_json(server.addr, "config", "unset", "feature.x") == {"key": "feature.x", "unset": True}
    assert_error(fila(server.addr, "config", "get", "feature.x"), 3, "'feature.x' is not set",
                 "fila config list")
    assert_error(fila(server.addr, "config", "unset", "feature.x"), 3, "not set")
    assert_error(fila(server.addr, "config", "set", "k", ""), 2, "fila config unset k")
    assert_error(fila(server.addr, "config", "set", "bad key", "v"), 2, "whitespace")
    assert_error(fila(server.addr, "config", "set", "throttle.t", "fast"), 2, "<rate_per_second>")
    assert fila_json(server.addr, "config", "list", "--prefix", "throttle.") == []


def test_throttle_set_list_unset(server: FilaProcess, client: Client) -> None:
    r = fila(server.addr, "throttle", "set", "provider:smtp", "--rate", "100", "--burst", "20")
    assert r.exit_code == 0 and "provider:smtp: 100/s, bursts of 20" in r.stdout
    assert fila_json(server.addr, "throttle", "set", "tenant:a", "--rate", "2.5") == {
        "key": "tenant:a", "rate_per_second": 2.5, "burst": 2.5}
    assert client.get_config("throttle.provider:smtp") == "100,20"
    assert fila_json(server.addr, "throttle", "list") == [
        {"key": "provider:smtp", "rate_per_second": 100.0, "burst": 20.0},
        {"key": "tenant:a", "rate_per_second": 2.5, "burst": 2.5}]
    lines = fila(server.addr, "throttle", "list").stdout.splitlines()
    assert lines[0].split() == ["THROTTLE", "KEY", "RATE/S", "BURST"]
    assert lines[1].split() == ["provider:smtp", "100", "20"]

    assert_error(fila(server.addr, "throttle", "set", "k", "--rate", "-1"), 2, "--rate")
    assert_error(fila(server.addr, "throttle", "set", "k", "--rate", "fast"), 2, "--rate")
    assert_error(fila(server.addr, "throttle", "set", "k", "--rate", "5", "--burst", "0.5"), 2, "--burst")
    assert_error(fila(server.addr, "throttle", "set", "k", "--rate", "inf"), 2, "rate_per_second")
    assert_error(fila(server.addr, "throttle", "set", "k"), 2, "--rate")

    assert fila_json(server.addr, "throttle", "unset", "tenant:a") == {"key": "tenant:a", "unset": True}
    assert_error(fila(server.addr, "throttle", "unset", "tenant:a"), 3, "no throttle is set",
                 "fila throttle list")
    with pytest.raises(NotFound):
        client.get_config("throttle.tenant:a")
    assert [t["key"] for t in fila_json(server.addr, "throttle", "list")] == ["provider:smtp"]


def test_stats_shows_keys_and_throttles(server: FilaProcess, client: Client) -> None:
    client.create_queue("jobs", on_enqueue=TENANT_HOOK)
    client.set_throttle("t", 1000, 50)
    for tenant, n in (("a", 3), ("b", 1)):
        for i in range(n):
            client.enqueue("jobs", f"{tenant}{i}".encode(), {"tenant": tenant})
    doc = fila_json(server.addr, "stats", "jobs")
    assert set(doc) == {"queue", "depth", "in_flight", "active_consumers", "active_fairness_keys",
                        "quantum", "ready", "delayed", "dlq_depth", "drr_rounds", "enqueue_rate",
                        "delivery_rate", "totals", "keys", "throttles", "hooks"}
    assert (doc["queue"], doc["depth"], doc["in_flight"], doc["active_consumers"],
            doc["active_fairness_keys"]) == ("jobs", 4, 0, 0, 2)
    assert sorted((k["key"], k["pending"], k["weight"]) for k in doc["keys"]) == [("a", 3, 1), ("b", 1, 1)]
    assert set(doc["keys"][0]) == {"key", "pending", "deficit", "weight", "delivered",
                                   "delivery_rate", "fair_share", "actual_share",
                                   "fair_rate", "limited_by"}
    [t] = doc["throttles"]
    assert set(t) == {"key", "tokens", "rate_per_second", "burst", "passed", "hits", "waiting"}
    assert (t["key"], t["rate_per_second"], t["burst"]) == ("t", 1000.0, 50.0)

    text = fila(server.addr, "stats", "jobs").stdout
    assert re.search(r"^depth: +4$", text, re.M) and "FAIRNESS KEY" in text and "THROTTLE KEY" in text
    assert_error(fila(server.addr, "stats", "nope"), 3, "'nope' does not exist")


def test_dlq_peek_and_redrive(server: FilaProcess, client: Client) -> None:
    assert fila(server.addr, "queue", "create", "jobs", "--max-attempts", "1").exit_code == 0
    first = client.enqueue("jobs", b"poison", {"tenant": "a"})
    second = client.enqueue("jobs", b"also bad", {"tenant": "b"})
    for msg in take(client, "jobs", 2):
        assert fila(server.addr, "nack", "jobs", msg.id, "--error", "bad input").exit_code == 0

    for name in ("jobs", "jobs.dlq"):
        docs = fila_json(server.addr, "dlq", "peek", name)
        assert [(d["id"], d["queue"], d["attempt_count"], d["last_error"]) for d in docs] == [
            (first, "jobs.dlq", 1, "bad input"), (second, "jobs.dlq", 1, "bad input")]
        assert docs[0]["payload"] == "poison"
    [only] = fila_json(server.addr, "dlq", "peek", "jobs", "--limit", "1")
    assert only["id"] == first
    lines = fila(server.addr, "dlq", "peek", "jobs").stdout.splitlines()
    assert lines[0].split()[:2] == ["ID", "ATTEMPTS"] and lines[1].split()[:2] == [first, "1"]
    assert "bad input" in lines[1] and "poison" in lines[1]

    r = fila(server.addr, "dlq", "redrive", "jobs.dlq", "--count", "1")
    assert r.exit_code == 0 and "redrove 1 message(s) from jobs.dlq to jobs" in r.stdout
    assert [d["id"] for d in fila_json(server.addr, "dlq", "peek", "jobs")] == [second]
    assert fila_json(server.addr, "dlq", "redrive", "jobs") == {
        "dlq": "jobs.dlq", "queue": "jobs", "redriven": 1}
    assert client.get_stats("jobs").depth == 2 and client.get_stats("jobs.dlq").depth == 0
    assert fila_json(server.addr, "dlq", "peek", "jobs") == []
    assert fila(server.addr, "dlq", "peek", "jobs").stdout == "jobs.dlq is empty\n"
    assert_error(fila(server.addr, "dlq", "peek", "nope"), 3, "'nope.dlq' does not exist")
    assert_error(fila(server.addr, "dlq", "redrive", "nope"), 3, "'nope.dlq' does not exist")
    assert_error(fila(server.addr, "dlq", "peek", "jobs", "--limit", "0"), 2, "--limit")
