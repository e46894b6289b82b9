"""Fairness check: weighted keys on a saturated queue get their weighted share of delivery.

Five fairness keys with weights 1:2:3:4:5 (the hook reads a `weight` header). The queue is
filled first, with more of every key than it can be given in the first K deliveries, so all
keys stay backlogged; then one consumer reads K messages and we compare each key's share of
them with its fair share, weight / sum of weights.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter as Tally

from bench import load
from bench.harness import Broker, Counter, Row, Settings
from bench.throughput import QUEUE, setup_queue
from fila.client import AsyncClient, Message

WEIGHTS = {"w1": 1, "w2": 2, "w3": 3, "w4": 4, "w5": 5}
WEIGHT_HOOK = """
function on_enqueue(msg)
  return { fairness_key = msg.headers.tenant, weight = tonumber(msg.headers.weight) }
end
"""
HEADROOM = 1.5  # each key holds this many times the messages its fair share needs


def _backlog(k: int) -> list[dict[str, str]]:
    total = sum(WEIGHTS.values())
    headers = []
    for key, w in WEIGHTS.items():
        n = math.ceil(k * w / total * HEADROOM) + 16
        headers += [{"tenant": key, "weight": str(w)}] * n
    return headers


async def fairness(s: Settings) -> list[Row]:
    k = s.fairness_k
    backlog = _backlog(k)
    got: Tally[str] = Tally()
    stop = asyncio.Event()

    def on_message(msg: Message) -> None:
        if sum(got.values()) < k:
            got[msg.fairness_key] += 1
            if sum(got.values()) == k:
                stop.set()

    with Broker() as broker:
        async with AsyncClient(broker.addr) as client:
            await setup_queue(client, WEIGHT_HOOK)
            send = load.one_per_rpc(client, QUEUE, load.payload(s.payload_bytes), backlog)
            await load.fill(send, s.producers, units=len(backlog))
            tasks = load.start_consumers(client, QUEUE, 1, Counter(), stop, on_message)
            try:
                await asyncio.wait_for(stop.wait(), timeout=60)
            finally:
                await load.finish(stop, tasks)

    counted = sum(got.values())
    total_w = sum(WEIGHTS.values())
    rows = []
    worst = 0.0
    for key, w in WEIGHTS.items():
        fair = w / total_w * 100
        share = got[key] / counted * 100 if counted else 0.0
        dev = (share - fair) / fair * 100
        worst = max(worst, abs(dev))
        rows.append(Row(f"fairness share weight {w}", share, "%",
                        f"fair {fair:.2f}%; {got[key]:,} deliveries; {dev:+.1f}% off"))
    ratio = ":".join(str(w) for w in WEIGHTS.values())
    rows.append(Row("fairness max deviation", worst, "%",
                    f"first {counted:,} deliveries of {len(backlog):,} queued; weights {ratio}; "
                    "relative to each key's fair share"))
    return rows
