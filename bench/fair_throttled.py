"""Fair under throttling: the README's reproduction, and consumers sharing a throttled queue.

- shares: examples/hooks/tenant.lua, `weight.t1 = 2`, `throttle.provider:smtp = 100,20`, 400
  messages each for t1, t2, t3 (interleaved), one consumer acking each message. Measured: each
  tenant's deliveries per second once the initial burst is spent (fair: 50 / 25 / 25).
- consumers: the same bucket, one tenant, 2 and then 8 Lease streams acking each message.
  Measured: each stream's share of the deliveries (fair: an equal part).

Rates here are set by the bucket, not by the machine: these figures check the scheduler.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter

from bench.harness import ROOT, Broker, Row, Settings
from fila.client import Client

HOOK = (ROOT / "examples" / "hooks" / "tenant.lua").read_text()
RATE, BURST = 100.0, 20.0


class _Reader(threading.Thread):
    """A consumer: one lease stream, an ack per message, (time, fairness key) per delivery."""

    def __init__(self, addr: str) -> None:
        super().__init__(daemon=True)
        self.client = Client(addr, timeout_s=10)
        self.stream = self.client.lease("jobs", credit=10)
        self.got: list[tuple[float, str]] = []
        self.start()

    def run(self) -> None:
        for m in self.stream:
            self.got.append((time.monotonic(), m.fairness_key))
            self.client.ack("jobs", m.id, m.lease_id)

    def stop(self) -> None:
        self.stream.close()
        self.join(10)
        self.client.close()


def _fill(addr: str, tenants: dict[str, int], per_tenant: int) -> None:
    with Client(addr, timeout_s=30) as c:
        c.create_queue("jobs", on_enqueue=HOOK)
        for t, w in tenants.items():
            if w != 1:
                c.set_config(f"weight.{t}", str(w))
        c.set_throttle("provider:smtp", RATE, BURST)
        for i in range(per_tenant):  # interleaved, as several producers would
            for t in tenants:
                c.enqueue("jobs", f"{t}-{i}", {"tenant": t})


def _read(addr: str, consumers: int, seconds: float) -> list[_Reader]:
    readers = [_Reader(addr) for _ in range(consumers)]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    for r in readers:
        r.stop()
    return readers


def _shares(s: Settings) -> list[Row]:
    seconds = max(3.0, s.measure_s)
    tenants = {"t1": 2, "t2": 1, "t3": 1}
    with Broker() as broker:
        _fill(broker.addr, tenants, int(RATE / 2 * (seconds + 3)))
        [reader] = _read(broker.addr, 1, seconds + 1.0)
    got = sorted(reader.got)
    start = got[int(BURST)][0] + 0.5  # the burst spent, and half a second more
    window = [k for t, k in got if start <= t < start + seconds]
    counts = Counter(window)
    span = min(seconds, got[-1][0] - start)
    rows = []
    total_w = sum(tenants.values())
    for t, w in tenants.items():
        fair = RATE * w / total_w
        rows.append(Row(f"fair-throttled {t} (weight {w})", counts[t] / span, "msg/s",
                        f"fair {fair:.0f}; {counts[t]} deliveries in {span:.1f} s after the burst"))
    return rows


def _consumers(s: Settings, n: int) -> Row:
    seconds = max(3.0, s.measure_s)
    with Broker() as broker:
        _fill(broker.addr, {"t1": 1}, int(RATE * (seconds + 2)))
        readers = _read(broker.addr, n, seconds)
    counts = [len(r.got) for r in readers]
    total = sum(counts) or 1
    least = min(counts) / total * 100
    return Row(f"fair-throttled {n} consumers, least served", least, "%",
               f"fair {100 / n:.1f}%; per stream {counts}")


async def fair_throttled(s: Settings) -> list[Row]:
    rows = await asyncio.to_thread(_shares, s)
    for n in (2, 8):
        rows.append(await asyncio.to_thread(_consumers, s, n))
    return rows
