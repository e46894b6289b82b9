"""`fila apikey` and `fila acl` against a real broker with API keys on."""

from __future__ import annotations

from pathlib import Path

from tests.fila_process import FilaProcess
from tests.test_cli import assert_error, fila, fila_json

BOOT = "cli-boot-key"


def test_key_lifecycle_through_the_cli(tmp_path: Path) -> None:
    proc = FilaProcess(tmp_path / "data", env={"FILA_BOOTSTRAP_APIKEY": BOOT}).start()
    try:
        root = ("--api-key", BOOT)
        created = fila_json(proc.addr, *root, "apikey", "create", "worker")
        key_id, key = created["key_id"], created["key"]
        assert key.startswith("fila_") and created["superadmin"] is False
        assert [k["key_id"] for k in fila_json(proc.addr, *root, "apikey", "list")] == [key_id]
        assert fila_json(proc.addr, *root, "acl", "get", key_id)["permissions"] == []
        fila_json(proc.addr, *root, "queue", "create", "orders.eu")
        assert_error(fila(proc.addr, "--api-key", key, "enqueue", "orders.eu", "--payload", "x"),
                     6, "may not produce")
        doc = fila_json(proc.addr, *root, "acl", "set", key_id, "--allow", "produce:orders.*")
        assert doc["permissions"] == [{"kind": "produce", "pattern": "orders.*"}]
        assert fila(proc.addr, "--api-key", key, "enqueue", "orders.eu", "--payload", "x").exit_code == 0
        assert_error(fila(proc.addr, *root, "acl", "set", key_id, "--allow", "produce"), 2, "kind:pattern")
        assert_error(fila(proc.addr, *root, "acl", "set", key_id, "--allow", "write:*"), 2, "kind")
        assert fila_json(proc.addr, *root, "apikey", "revoke", key_id)["revoked"] is True
        r = fila(proc.addr, "--api-key", key, "enqueue", "orders.eu", "--payload", "x")
        assert r.exit_code != 0 and "not valid" in r.stderr
        assert_error(fila(proc.addr, *root, "apikey", "revoke", key_id), 3, "does not exist")
    finally:
        proc.kill()


def test_stats_shows_hooks_totals_and_buckets(server: FilaProcess) -> None:
    hook = "function on_enqueue(m) return {fairness_key='k', throttle_keys={'p'}} end"
    fila_json(server.addr, "throttle", "set", "p", "--rate", "100", "--burst", "10")
    script = server.data_dir.parent / "h.lua"
    script.write_text(hook)
    fila_json(server.addr, "queue", "create", "q", "--on-enqueue", str(script))
    fila(server.addr, "enqueue", "q", "--payload", "x")
    doc = fila_json(server.addr, "stats", "q")
    assert doc["totals"]["enqueued"] == 1 and doc["ready"] == 1
    assert doc["hooks"][0]["hook"] == "on_enqueue" and doc["hooks"][0]["calls"] == 1
    assert doc["throttles"][0]["key"] == "p" and "hits" in doc["throttles"][0]
    r = fila(server.addr, "stats", "q")
    assert r.exit_code == 0 and "LUA HOOK" in r.stdout and "on_enqueue" in r.stdout
