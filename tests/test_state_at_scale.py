"""Stats, /metrics and peek on a queue with more fairness keys than a view ranks on the spot,
through the real server: the keys are ranked between turns and the answers stay right.
(What they cost at 1,000,000 keys is measured by `python -m bench --only big-keys`; that the
views walk no key of a ranked queue is tested in tests/engine/test_big_state.py.)"""

from __future__ import annotations

import pytest

from fila.client import Client
from fila.engine.key_ranking import DIRECT_KEYS
from fila.v1 import service_pb2
from tests.conftest import take
from tests.fila_process import FilaProcess
from tests.test_observability import HOOK, scrape, value

KEYS = DIRECT_KEYS + 1000


def _fill(c: Client) -> None:
    c.create_queue("big", on_enqueue=HOOK)
    for start in range(0, KEYS, 1000):
        c._hot.EnqueueBatch(service_pb2.EnqueueBatchRequest(messages=[  # noqa: SLF001
            service_pb2.EnqueueRequest(queue="big", headers={"tenant": f"k{i}"}, payload=b"x")
            for i in range(start, min(KEYS, start + 1000))]), timeout=60)
    for i in range(40):
        c.enqueue("big", f"busiest {i}", {"tenant": "busiest"})
    for i in range(25):
        c.enqueue("big", f"busy {i}", {"tenant": "busy", "weight": "4"})


def test_stats_and_metrics_of_a_queue_of_many_keys(client: Client, server: FilaProcess) -> None:
    _fill(client)
    st = client.get_stats("big")
    assert st.active_fairness_keys == KEYS + 2
    assert st.depth == KEYS + 65
    top = st.keys[:2]
    assert [(k.key, k.pending, k.weight) for k in top] == [("busiest", 40, 1), ("busy", 25, 4)]
    assert len(st.keys) == 1000
    assert top[1].fair_share == pytest.approx(4 / (KEYS + 1 + 4))
    text = scrape(server)
    assert value(text, 'fila_fairness_key_pending{key="busiest",queue="big"}') == 40
    listed = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                 if line.startswith("fila_fairness_key_pending{") and 'queue="big"' in line)
    assert listed == KEYS + 65  # the listed keys and __other__ hold every ready message
    # It keeps answering as the queue drains; what a listed key shows is live.
    got = take(client, "big", 3000, credit=3000)
    assert len(got) == 3000
    st = client.get_stats("big")
    assert st.depth == KEYS + 65 - 3000
    pending = {k.key: k.pending for k in st.keys}
    delivered = {m.headers["tenant"] for m in got}
    assert pending["busiest"] == 40 and "busiest" not in delivered  # last in line
    assert any(k in pending for k in delivered)
    assert all(pending[k] == 0 for k in delivered if k in pending)


def test_peek_of_a_queue_of_many_keys_shows_the_oldest(client: Client) -> None:
    _fill(client)
    first = client.peek("big", 5)
    assert [m.headers["tenant"] for m in first] == ["k0", "k1", "k2", "k3", "k4"]
    got = take(client, "big", 2, credit=2, ack=True)
    assert {m.headers["tenant"] for m in got} <= {"k0", "k1", "busiest", "busy"}
    acked = {m.id for m in got}
    assert [m.id for m in client.peek("big", 3)] == [m.id for m in first if m.id not in acked][:3]
