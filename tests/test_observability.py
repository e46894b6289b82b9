"""/metrics, rich GetStats and Explain through the real server."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

from fila.client import Client, QueueConfig
from tests.conftest import take, wait_for
from tests.fila_process import FilaProcess

HOOK = """
function on_enqueue(msg)
  local keys = {}
  if msg.headers.throttle then keys = { msg.headers.throttle } end
  return { fairness_key = msg.headers.tenant or "default", throttle_keys = keys,
           weight = tonumber(msg.headers.weight or "1") }
end
"""


def scrape(server: FilaProcess) -> str:
    with urllib.request.urlopen(server.metrics_url, timeout=5) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain")
        return resp.read().decode()


def value(text: str, series: str) -> float:
    m = re.search(r"^" + re.escape(series) + r" (\S+)$", text, re.M)
    assert m, f"{series} not in /metrics"
    return float(m.group(1))


def test_metrics_move_as_messages_flow(client: Client, server: FilaProcess) -> None:
    client.create_queue("q", on_enqueue=HOOK)
    before = scrape(server)
    assert 'fila_messages_enqueued_total{queue="q"} 0.0' in before
    for i in range(10):
        client.enqueue("q", str(i), {"tenant": "a" if i % 2 else "b"})
    got = take(client, "q", 4)
    for m in got[:3]:
        client.ack("q", m.id)
    client.nack("q", got[3].id, "nope")
    text = scrape(server)
    assert value(text, 'fila_messages_enqueued_total{queue="q"}') == 10
    assert value(text, 'fila_messages_acked_total{queue="q"}') == 3
    assert value(text, 'fila_messages_nacked_total{queue="q"}') == 1
    assert value(text, 'fila_queue_in_flight{queue="q"}') >= 0
    assert value(text, 'fila_lua_calls_total{hook="on_enqueue",queue="q"}') == 10
    assert value(text, 'fila_lua_duration_microseconds_count{hook="on_enqueue",queue="q"}') >= 1  # sampled
    assert value(text, 'fila_fairness_key_weight{key="a",queue="q"}') == 1
    assert value(text, "fila_lease_latency_milliseconds_count") >= 4
    assert value(text, "fila_storage_write_batch_size_count") > 0
    assert value(text, "fila_storage_sync_milliseconds_count") > 0
    assert value(text, "fila_storage_paced") == 0  # a lone producer is never paced
    wait_for(lambda: 'fila_fairness_key_delivered_total{key="a",queue="q"}' in scrape(server),
             what="per-key delivered counter after a rate roll")


def test_throttle_metrics_and_stats(client: Client, server: FilaProcess) -> None:
    client.create_queue("q", on_enqueue=HOOK)
    client.set_throttle("provider:x", 0, 2)
    for i in range(5):
        client.enqueue("q", str(i), {"throttle": "provider:x"})
    take(client, "q", 5, timeout_s=1, ack=True)
    text = scrape(server)
    assert value(text, 'fila_throttle_passed_total{key="provider:x"}') == 2
    assert value(text, 'fila_throttle_hits_total{key="provider:x"}') >= 1
    assert value(text, 'fila_throttle_burst{key="provider:x"}') == 2
    assert value(text, 'fila_throttle_waiting{key="provider:x"}') == 3
    [t] = client.get_stats("q").throttles
    assert (t.key, t.passed, t.rate_per_second, t.burst) == ("provider:x", 2, 0, 2)
    assert t.hits >= 1


def test_per_key_series_are_bounded(tmp_path: Path) -> None:
    conf = tmp_path / "fila.toml"
    conf.write_text("[metrics]\ntop_keys = 5\n")
    proc = FilaProcess(tmp_path / "data", config_file=conf).start()
    try:
        with Client(proc.addr) as c:
            c.create_queue("q", on_enqueue=HOOK)
            for i in range(40):
                c.enqueue("q", b"x", {"tenant": f"t{i}"})
            text = scrape(proc)
            keys = set(re.findall(r'fila_fairness_key_pending\{key="([^"]+)"', text))
            assert len(keys) == 6 and "__other__" in keys
            assert value(text, 'fila_fairness_key_pending{key="__other__",queue="q"}') == 35
    finally:
        proc.kill()


def test_get_stats_rich_fields(client: Client) -> None:
    client.create_queue("q", QueueConfig(on_enqueue_script=HOOK, max_attempts=1))
    for i in range(6):
        client.enqueue("q", str(i), {"tenant": "a", "weight": "3"})
    for i in range(2):
        client.enqueue("q", str(i), {"tenant": "b"})
    s = client.get_stats("q")
    assert (s.depth, s.ready, s.active_fairness_keys) == (8, 8, 2)
    keys = {k.key: k for k in s.keys}
    assert keys["a"].weight == 3 and abs(keys["a"].fair_share - 0.75) < 1e-9
    [enq, fail] = s.hooks
    assert (enq.hook, enq.configured, enq.calls, enq.breaker_state) == ("on_enqueue", True, 8, "closed")
    assert enq.p99_us > 0 and not fail.configured
    m = take(client, "q", 1)[0]
    client.nack("q", m.id, "x")
    s = client.get_stats("q")
    assert s.dlq_depth == 1 and s.totals["dead_lettered"] == 1 and s.totals["nacked"] == 1


def test_explain_gives_the_reason(client: Client) -> None:
    client.create_queue("q", QueueConfig(on_enqueue_script=HOOK, retry_backoff_base_ms=60_000,
                                         retry_backoff_max_ms=60_000))
    assert "no pending messages" in client.explain("q", "ghost").summary
    client.enqueue("q", b"x", {"tenant": "a"})
    assert client.explain("q", "a").summary == "no consumer is connected to queue `q`"

    client.set_throttle("provider:stripe", 0, 1)
    client.enqueue("q", b"x", {"tenant": "s", "throttle": "provider:stripe"})
    client.enqueue("q", b"x", {"tenant": "s", "throttle": "provider:stripe"})
    got = take(client, "q", 3, timeout_s=1)  # a's message and s's one token
    assert len(got) == 2
    with client.consume("q"):
        wait_for(lambda: client.get_stats("q").active_consumers >= 1, what="consumer")
        ex = client.explain("q", "s")
        assert ex.summary.startswith("throttled by `provider:stripe`: its rate is 0")
        assert "fila throttle set provider:stripe RATE" in ex.summary
    for m in got:
        client.nack("q", m.id, "later")
    ex = client.explain("q", "a")
    assert "delayed for a retry" in ex.summary and "(after 1 failed attempt)" in ex.summary


def test_explain_drr_turn_and_credit(client: Client, server: FilaProcess) -> None:
    client.create_queue("q", on_enqueue=HOOK)
    for t in ("a", "b", "c"):
        for _ in range(30):
            client.enqueue("q", b"x", {"tenant": t})
    with client.lease("q", credit=8) as stream:
        it = iter(stream)
        next(it)  # hold 8 leases (the stream's credit) and never ack
        wait_for(lambda: client.get_stats("q").in_flight == 8, what="credit to fill")
        ex = client.explain("q", "c")
        assert "every consumer is at its credit limit" in ex.summary
        assert "8 unacknowledged messages" in ex.summary
        assert any(r.startswith("waiting for its turn (weight 1):") and r.endswith("of 3 keys in line")
                   for r in ex.reasons)


def test_a_drained_keys_series_stay_and_count_every_lease(client: Client, server: FilaProcess) -> None:
    """Journey 2 of the PRD: "tenant X's throughput dropped to zero 20 minutes ago" needs the
    drained key's counter to stay, flat, after its rate has decayed to nothing."""
    client.create_queue("q", on_enqueue=HOOK)
    for i in range(60):
        client.enqueue("q", str(i), {"tenant": "x"})
    got = take(client, "q", 60, ack=True)
    assert len(got) == 60
    series = 'fila_fairness_key_delivered_total{key="x",queue="q"}'
    text = scrape(server)
    delivered = value(text, series)
    assert delivered == 60  # every lease counted at once, not at the next once-a-second roll
    assert value(text, 'fila_fairness_key_pending{key="x",queue="q"}') == 0
    rate = 'fila_fairness_key_delivery_rate{key="x",queue="q"}'
    wait_for(lambda: value(scrape(server), rate) > 0, 10, "x's delivery rate")
    wait_for(lambda: value(scrape(server), rate) == 0, 40, "x's delivery rate to decay to 0")
    assert value(scrape(server), series) == delivered  # still there, flat
