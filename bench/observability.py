"""What the metrics cost on the hot path: the batched lifecycle with the /metrics endpoint
off, then on and scraped once a second (as Prometheus would, a little more often).

The engine's counters are always on (they are a few integer additions per message); the
endpoint adds the scrape itself, run on the broker's loop. The figure is the drop in acked
msg/s, best of two alternating runs each.
"""

from __future__ import annotations

import asyncio
import re
import urllib.request
from pathlib import Path

from bench import load
from bench.harness import Broker, Row, Settings

_METRICS = re.compile(r"metrics on (http://\S+/metrics)")
SCRAPE_EVERY_S = 1.0


class QuietBroker(Broker):
    """A broker with the /metrics endpoint turned off."""

    def command(self, workdir: Path) -> list[str]:
        cmd = super().command(workdir)
        cmd[cmd.index("--metrics-listen") + 1] = "off"
        return cmd


async def _scrape_forever(url: str, scrapes: list[int]) -> None:
    while True:
        await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())
        scrapes[0] += 1
        await asyncio.sleep(SCRAPE_EVERY_S)


async def _run(s: Settings, scraped: bool) -> float:
    broker: Broker = Broker() if scraped else QuietBroker()
    with broker:
        await load.setup_queue(broker.addr)
        scraper = None
        scrapes = [0]
        if scraped:
            m = _METRICS.search(broker.log_text())
            assert m, "the broker did not log its metrics address"
            scraper = asyncio.ensure_future(_scrape_forever(m.group(1), scrapes))
        try:
            r = await load.run(s, broker, load.lifecycle_jobs(s, broker.addr, 100))
        finally:
            if scraper is not None:
                scraper.cancel()
        if scraped:
            assert scrapes[0] > 0, "no scrape happened during the run"
        return r.window.rate(0)


async def metrics_overhead(s: Settings) -> list[Row]:
    off: list[float] = []
    on: list[float] = []
    for _ in range(2):  # alternate, and keep the best of each: less noise from the machine
        off.append(await _run(s, scraped=False))
        on.append(await _run(s, scraped=True))
    best_off, best_on = max(off), max(on)
    cost = (best_off - best_on) / best_off * 100 if best_off else 0.0
    return [
        load.row("lifecycle, /metrics off", best_off, "msg/s", "batched lifecycle, 100 msgs/RPC",
                 f"runs: {', '.join(f'{x:,.0f}' for x in off)}"),
        load.row("lifecycle, /metrics scraped every 1 s", best_on, "msg/s",
                 "same, with a scraper reading /metrics", f"runs: {', '.join(f'{x:,.0f}' for x in on)}"),
        load.row("metrics overhead", cost, "%", "drop in acked msg/s with metrics scraped", ""),
    ]
