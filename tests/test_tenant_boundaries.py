"""Permissions mean what they say: a queue's admin (a key with `admin` on `t.*`, say) is one
tenant among many, and cannot move messages it may not produce, see other tenants' throttles,
or read other tenants' runtime config through a hook. Through the real server, with auth on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fila.client import Client, PermissionDenied
from tests.fila_process import FilaProcess

BOOT = "boot-secret-for-boundaries"
LEAKY_HOOK = """
function on_enqueue(msg)
  return { fairness_key = fila.get(msg.headers.read) or "nothing" }
end
"""


@pytest.fixture
def root(tmp_path: Path) -> Iterator[tuple[FilaProcess, Client]]:
    proc = FilaProcess(tmp_path / "data", env={"FILA_BOOTSTRAP_APIKEY": BOOT}).start()
    with Client(proc.addr, api_key=BOOT, timeout_s=10) as c:
        yield proc, c
    proc.kill()


def tenant(root: Client, *perms: tuple[str, str]) -> str:
    key_id, key = root.create_api_key("tenant-t")
    root.set_acl(key_id, list(perms))
    return key


def test_redriving_a_dlq_needs_produce_on_its_queue(root: tuple[FilaProcess, Client]) -> None:
    proc, r = root
    r.create_queue("a", on_enqueue="function on_enqueue(m) return {} end")
    with Client(proc.addr, api_key=tenant(r, ("admin", "a.dlq")), timeout_s=10) as t:
        with pytest.raises(PermissionDenied, match="may not produce on queue 'a'"):
            t.redrive("a.dlq")
    with Client(proc.addr, api_key=tenant(r, ("admin", "a.dlq"), ("produce", "a")),
                timeout_s=10) as t:
        assert t.redrive("a.dlq") == 0


def test_a_queues_stats_show_only_the_throttles_its_messages_use(root: tuple[FilaProcess, Client]) -> None:
    proc, r = root
    hook = """
function on_enqueue(msg) return { fairness_key = "k", throttle_keys = { msg.headers.t } } end
"""
    r.create_queue("t.mine", on_enqueue=hook)
    r.create_queue("other", on_enqueue=hook)
    r.set_throttle("provider:mine", 100, 10)
    r.set_throttle("secret:other-tenant", 5, 5)
    r.enqueue("t.mine", b"x", {"t": "provider:mine"})
    r.enqueue("other", b"x", {"t": "secret:other-tenant"})
    with Client(proc.addr, api_key=tenant(r, ("admin", "t.*")), timeout_s=10) as t:
        assert [th.key for th in t.get_stats("t.mine").throttles] == ["provider:mine"]
    assert [th.key for th in r.get_stats("other").throttles] == ["secret:other-tenant"]


def test_a_hook_reads_only_its_queues_keys_and_shared_ones(root: tuple[FilaProcess, Client]) -> None:
    proc, r = root
    r.set_config("billing.secret", "hunter2")  # someone else's value
    r.set_config("weight.acme", "3")  # shared by default (weight. and throttle.)
    r.create_queue("t.q", on_enqueue=LEAKY_HOOK)
    with Client(proc.addr, api_key=tenant(r, ("admin", "t.*"), ("produce", "t.*")),
                timeout_s=10) as t:
        t.set_config("queue/t.q/tier", "gold")  # its own key: its admin may set it
        with pytest.raises(PermissionDenied):
            t.set_config("queue/other/tier", "gold")
        with pytest.raises(PermissionDenied):
            t.set_config("billing.secret", "mine now")
        for read in ("billing.secret", "weight.acme", "tier"):
            t.enqueue("t.q", read, {"read": read})
        got = {m.payload.decode(): m.fairness_key for m in t.peek("t.q")}
    assert got == {"billing.secret": "nothing", "weight.acme": "3", "tier": "gold"}
    # An operator can share more: the hook sees billing. keys from the next message on.
    r.set_config("lua.shared_prefixes", "weight.,billing.")
    r.enqueue("t.q", "billing.secret", {"read": "billing.secret"})
    assert r.peek("t.q")[-1].fairness_key == "hunter2"


def test_the_readme_weights_still_work_with_the_default_scope(client: Client) -> None:
    hook = (Path(__file__).resolve().parent.parent / "examples" / "hooks" / "tenant.lua").read_text()
    client.create_queue("emails", on_enqueue=hook)
    client.set_config("weight.acme", "5")
    client.enqueue("emails", b"x", {"tenant": "acme"})
    [k] = client.get_stats("emails").keys
    assert (k.key, k.weight) == ("acme", 5)
