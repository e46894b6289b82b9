"""Token-bucket throttling through the real server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fila.client import Client, InvalidArgument, NotFound
from tests.conftest import take

HOOK = """
function on_enqueue(msg)
  local keys = {}
  for k in string.gmatch(msg.headers.throttle or "", "[^,]+") do keys[#keys + 1] = k end
  return { fairness_key = msg.headers.tenant or "default", throttle_keys = keys }
end
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, in clock ticks


def test_throttle_config_is_validated(client: Client) -> None:
    with pytest.raises(InvalidArgument, match='"<rate_per_second>,<burst>"'):
        client.set_config("throttle.x", "fast")
    with pytest.raises(InvalidArgument, match="burst >= 1"):
        client.set_config("throttle.x", "10,0")
    with pytest.raises(InvalidArgument, match="key must not be empty"):
        client.set_config("", "1")
    client.set_config("throttle.x", "10,5")
    assert client.list_config("throttle.") == {"throttle.x": "10,5"}


def test_config_api_set_get_list_delete(client: Client) -> None:
    client.set_config("a.one", "1")
    client.set_config("a.two", "2")
    client.set_config("b.one", "3")
    assert client.get_config("a.two") == "2"
    assert client.list_config("a.") == {"a.one": "1", "a.two": "2"}
    assert len(client.list_config()) == 3
    client.set_config("a.one", "")  # empty value deletes
    with pytest.raises(NotFound, match="'a.one' is not set"):
        client.get_config("a.one")
    assert client.list_config("a.") == {"a.two": "2"}


def test_message_needs_a_token_from_every_bucket(client: Client) -> None:
    client.create_queue("q", on_enqueue=HOOK)
    client.set_config("throttle.tenant:a", "0,10")  # plenty of tokens, no refill
    client.set_config("throttle.provider:x", "0,2")  # only two
    ids = [client.enqueue("q", str(i), {"throttle": "tenant:a,provider:x"}) for i in range(5)]
    got = take(client, "q", 5, timeout_s=1.5, ack=True)
    assert [m.id for m in got] == ids[:2]
    assert got[0].throttle_keys == ("tenant:a", "provider:x")
    stats = client.get_stats("q")
    assert stats.depth == 3 and stats.in_flight == 0  # held in the broker, not in a consumer
    buckets = {t.key: t for t in stats.throttles}
    assert buckets["tenant:a"].tokens == pytest.approx(8.0)  # all-or-nothing: no token lost
    assert buckets["provider:x"].tokens == pytest.approx(0.0)
    assert (buckets["provider:x"].waiting, buckets["tenant:a"].waiting) == (3, 0)  # who holds back


def test_runtime_rate_change_takes_effect_without_restart(client: Client) -> None:
    client.create_queue("q", on_enqueue=HOOK)
    client.set_config("throttle.slow", "0,1")
    for i in range(4):
        client.enqueue("q", str(i), {"throttle": "slow"})
    assert len(take(client, "q", 4, timeout_s=1, ack=True)) == 1
    client.set_config("throttle.slow", "1000,1000")
    assert len(take(client, "q", 3, timeout_s=5, ack=True)) == 3


def test_removing_the_config_removes_the_limit(client: Client) -> None:
    client.create_queue("q", on_enqueue=HOOK)
    client.set_config("throttle.slow", "0,1")
    for i in range(3):
        client.enqueue("q", str(i), {"throttle": "slow"})
    assert len(take(client, "q", 3, timeout_s=1, ack=True)) == 1
    client.set_config("throttle.slow", "")
    assert len(take(client, "q", 2, timeout_s=5, ack=True)) == 2


def test_throttled_head_does_not_block_the_rest_of_its_key(client: Client) -> None:
    client.create_queue("q", on_enqueue=HOOK)
    client.set_config("throttle.provider:slow", "0,1")
    first = client.enqueue("q", "1", {"tenant": "t", "throttle": "provider:slow"})
    blocked = client.enqueue("q", "2", {"tenant": "t", "throttle": "provider:slow"})
    free = [client.enqueue("q", str(i), {"tenant": "t", "throttle": "provider:fast"})
            for i in range(3)]
    got = take(client, "q", 5, timeout_s=1.5, ack=True)
    assert [m.id for m in got] == [first, *free]
    assert blocked not in {m.id for m in got}


def test_hierarchical_tenant_and_provider_limits(client: Client) -> None:
    """A tenant key and a provider key at once: each message obeys both."""
    client.create_queue("q", on_enqueue=HOOK)
    client.set_config("throttle.tenant:a", "0,3")
    client.set_config("throttle.provider:p", "0,6")
    a = [client.enqueue("q", "a", {"tenant": "a", "throttle": "tenant:a,provider:p"})
         for _ in range(5)]
    b = [client.enqueue("q", "b", {"tenant": "b", "throttle": "tenant:b,provider:p"})
         for _ in range(5)]
    got = {m.id for m in take(client, "q", 10, timeout_s=1.5, ack=True)}
    assert len(got & set(a)) == 3  # the tenant limit binds for a
    assert len(got & set(b)) == 3  # then the shared provider limit binds for b
    assert len(got) == 6


def test_throttled_key_skipped_others_served_and_rate_holds(client: Client) -> None:
    client.create_queue("q", on_enqueue=HOOK)
    client.set_config("throttle.tenant:a", "20,1")
    for i in range(40):
        client.enqueue("q", str(i), {"tenant": "a", "throttle": "tenant:a"})
    others = {client.enqueue("q", str(i), {"tenant": "b"}) for i in range(20)}
    start = time.monotonic()
    got = take(client, "q", 30, timeout_s=10, ack=True)
    elapsed = time.monotonic() - start
    assert others <= {m.id for m in got[:25]}, "b waited behind a's throttle"
    a_count = sum(1 for m in got if m.fairness_key == "a")
    assert a_count == 10
    assert elapsed >= 9 / 20 * 0.9  # 10 of a's need at least 9 refills at 20/s


def test_broker_sleeps_while_everything_is_throttled(client: Client, server) -> None:  # noqa: ANN001
    client.create_queue("q", on_enqueue=HOOK)
    client.set_config("throttle.stuck", "0.5,1")
    for i in range(50):
        client.enqueue("q", str(i), {"throttle": "stuck"})
    got = take(client, "q", 1, timeout_s=2)  # the consumer stays connected and starving
    assert len(got) == 1
    with client.consume("q"):
        before = cpu_seconds(server.proc.pid)
        t0 = time.monotonic()
        take(client, "q", 5, timeout_s=1.0)
        used = cpu_seconds(server.proc.pid) - before
        assert used < 0.5 * (time.monotonic() - t0), f"busy-waiting: {used:.2f}s CPU"
