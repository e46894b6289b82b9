"""The Prometheus endpoint: `GET /metrics` in the text exposition format.

Served on the broker's own asyncio loop, so a scrape reads the engine's state from the
thread that owns it (no locks, no torn reads). Nothing is observed on the hot path through
prometheus-client: a custom collector turns the engine's counters and histograms
(fila/engine/instruments.py) into metric families at scrape time, so metrics cost the hot
path only a few integer additions.

Label cardinality is bounded: per fairness key and per throttle key, only the `top_keys`
busiest keys (most pending, then fastest) get their own series; the rest are summed into one
series labelled key="__other__". See docs/operations.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from fila.engine import BATCH_BUCKETS, COMMIT_BUCKETS_MS, Broker, Histogram, views

log = logging.getLogger("fila.server")

OTHER = "__other__"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _hist(name: str, doc: str, labels: list[str], unit: str = "") -> HistogramMetricFamily:
    return HistogramMetricFamily(name, doc, labels=labels, unit=unit)


def _add_hist(fam: HistogramMetricFamily, labels: list[str], h: Histogram) -> None:
    fam.add_metric(labels, [(le, float(n)) for le, n in h.cumulative()], h.total)


class BrokerCollector:
    def __init__(self, broker: Broker, top_keys: int, storage_stats: StorageStats) -> None:
        self.broker = broker
        self.top_keys = top_keys
        self.storage_stats = storage_stats

    def collect(self) -> Iterator[Metric]:
        b = self.broker
        q_labels = ["queue"]
        counters = {
            name: CounterMetricFamily(f"fila_messages_{name}", f"Messages {name} per queue.",
                                      labels=q_labels)
            for name in ("enqueued", "leased", "acked", "nacked", "dead_lettered", "redriven",
                         "expired")
        }
        gauges = {
            name: GaugeMetricFamily(f"fila_queue_{name}", doc, labels=q_labels)
            for name, doc in (
                ("depth", "Messages not leased (ready + delayed)."),
                ("ready", "Messages ready for delivery."),
                ("in_flight", "Messages leased and not yet acked."),
                ("delayed", "Messages waiting for a retry delay."),
                ("dlq_depth", "Messages in the queue's dead-letter queue."),
                ("consumers", "Open lease streams."),
                ("active_fairness_keys", "Fairness keys with ready messages."),
            )
        }
        rounds = CounterMetricFamily("fila_drr_rounds", "DRR turns handed out.", labels=q_labels)
        key_labels = ["queue", "key"]
        key_delivered = CounterMetricFamily(
            "fila_fairness_key_delivered", "Messages leased per fairness key.", labels=key_labels)
        key_g = {
            name: GaugeMetricFamily(f"fila_fairness_key_{name}", doc, labels=key_labels)
            for name, doc in (
                ("pending", "Ready messages of the key."),
                ("deficit", "Current DRR deficit of the key."),
                ("weight", "DRR weight of the key."),
                ("delivery_rate", "Deliveries per second (smoothed)."),
                ("fair_share", "Share of the queue's deliveries the key can get: its weighted "
                               "share of its throttles and of the consumers."),
                ("fair_rate", "Deliveries per second the key can get (0: nothing bounds it)."),
                ("actual_share", "Share of the queue's recent deliveries."),
            )
        }
        lua = _hist("fila_lua_duration_microseconds", "Lua hook run time.", ["queue", "hook"])
        lua_calls = CounterMetricFamily("fila_lua_calls", "Lua hook calls.", labels=["queue", "hook"])
        lua_err = CounterMetricFamily("fila_lua_errors", "Lua hook failures (error or limit).",
                                      labels=["queue", "hook"])
        brk = GaugeMetricFamily("fila_lua_breaker_open", "1 while the hook's circuit breaker is open.",
                                labels=["queue", "hook"])
        brk_open = CounterMetricFamily("fila_lua_breaker_openings", "Circuit-breaker openings.",
                                       labels=["queue", "hook"])
        for name in b.queue_names():
            v = views.queue_view(b, name, key_limit=self.top_keys, recent_keys=True)
            for k, fam in counters.items():
                fam.add_metric([name], getattr(v.totals, k))
            values = {
                "depth": v.depth, "ready": v.ready, "in_flight": v.in_flight,
                "delayed": v.delayed, "dlq_depth": v.dlq_depth, "consumers": v.consumers,
                "active_fairness_keys": v.active_keys,
            }
            for k, gfam in gauges.items():
                gfam.add_metric([name], values[k])
            rounds.add_metric([name], v.drr_rounds)
            _keys(name, v, key_delivered, key_g)
            for h in v.hooks:
                if not h.calls and not h.breaker_openings:
                    continue
                assert h.latency_us is not None
                _add_hist(lua, [name, h.hook], h.latency_us)
                lua_calls.add_metric([name, h.hook], h.calls)
                lua_err.add_metric([name, h.hook], h.errors)
                brk.add_metric([name, h.hook], 1 if h.breaker_open else 0)
                brk_open.add_metric([name, h.hook], h.breaker_openings)
        yield from counters.values()
        yield from gauges.values()
        yield rounds
        yield key_delivered
        yield from key_g.values()
        yield from (lua, lua_calls, lua_err, brk, brk_open)
        yield from self._throttles()
        latency = _hist("fila_lease_latency_milliseconds",
                        "Time from enqueue to first lease.", [])
        _add_hist(latency, [], b.lease_latency_ms)
        yield latency
        s = self.storage_stats
        batch = _hist("fila_storage_write_batch_size", "Operations per RocksDB write batch.", [])
        _add_hist(batch, [], s.batch_size)
        write = _hist("fila_storage_write_milliseconds", "RocksDB batch write time.", [])
        _add_hist(write, [], s.write_ms)
        sync = _hist("fila_storage_sync_milliseconds", "WAL fsync (group commit) time.", [])
        _add_hist(sync, [], s.sync_ms)
        paced = GaugeMetricFamily("fila_storage_paced",
                                  "1 while turns and fsyncs are paced under load.")
        paced.add_metric([], int(s.pace() > 0))
        yield from (batch, write, sync, paced)
        held = GaugeMetricFamily("fila_pending_bytes", "Bytes of messages the broker holds in memory.")
        held.add_metric([], b.pending_bytes)
        limit = GaugeMetricFamily("fila_pending_bytes_limit", "[limits] max_pending_bytes.")
        limit.add_metric([], b.settings.limits.max_pending_bytes)
        refused = CounterMetricFamily("fila_enqueues_refused_overload",
                                      "Enqueues refused with RESOURCE_EXHAUSTED at the memory limit.")
        refused.add_metric([], b.refused_overload)
        yield from (held, limit, refused)

    def _throttles(self) -> Iterator[Metric]:
        tviews = views.throttle_views(self.broker)
        tviews.sort(key=lambda t: (-t.waiting, -t.hits, -t.passed, t.key))
        top, rest = tviews[: self.top_keys], tviews[self.top_keys:]
        lab = ["key"]
        passed = CounterMetricFamily("fila_throttle_passed", "Checks that found a token.", labels=lab)
        hits = CounterMetricFamily("fila_throttle_hits", "Checks that found the bucket empty.", labels=lab)
        tokens = GaugeMetricFamily("fila_throttle_tokens", "Tokens in the bucket.", labels=lab)
        rate = GaugeMetricFamily("fila_throttle_rate_per_second", "Bucket refill rate.", labels=lab)
        burst = GaugeMetricFamily("fila_throttle_burst", "Bucket size.", labels=lab)
        waiting = GaugeMetricFamily("fila_throttle_waiting",
                                    "Ready messages held back now because the bucket is empty.",
                                    labels=lab)
        for t in top:
            passed.add_metric([t.key], t.passed)
            hits.add_metric([t.key], t.hits)
            tokens.add_metric([t.key], t.tokens)
            rate.add_metric([t.key], t.rate_per_second)
            burst.add_metric([t.key], t.burst)
            waiting.add_metric([t.key], t.waiting)
        if rest:
            passed.add_metric([OTHER], sum(t.passed for t in rest))
            hits.add_metric([OTHER], sum(t.hits for t in rest))
            waiting.add_metric([OTHER], sum(t.waiting for t in rest))
        yield from (passed, hits, tokens, rate, burst, waiting)


def _keys(queue: str, v: views.QueueView, delivered: CounterMetricFamily,
          gauges: dict[str, GaugeMetricFamily]) -> None:
    """Per-key series for the busiest `top_keys` keys (most pending, fastest, most recently
    active), including keys that drained within the retention (their counters flat)."""
    for k in v.keys:
        delivered.add_metric([queue, k.key], k.delivered)
        row = {"pending": k.pending, "deficit": k.deficit, "weight": k.weight,
               "delivery_rate": k.delivery_rate, "fair_share": k.fair_share,
               "fair_rate": k.fair_rate, "actual_share": k.actual_share}
        for name, fam in gauges.items():
            fam.add_metric([queue, k.key], row[name])
    o = v.other_keys
    if o is not None:
        delivered.add_metric([queue, OTHER], o.delivered)
        gauges["pending"].add_metric([queue, OTHER], o.pending)
        gauges["delivery_rate"].add_metric([queue, OTHER], o.delivery_rate)
        gauges["actual_share"].add_metric([queue, OTHER], o.actual_share)
        gauges["fair_share"].add_metric([queue, OTHER], o.fair_share)


class StorageStats:
    """Filled by the core loop as it writes and syncs."""

    def __init__(self) -> None:
        self.batch_size = Histogram(BATCH_BUCKETS)
        self.write_ms = Histogram(COMMIT_BUCKETS_MS)
        self.sync_ms = Histogram(COMMIT_BUCKETS_MS)
        self.pace: Callable[[], float] = lambda: 0.0  # the core loop's Pacer.pace


class MetricsServer:
    """A minimal HTTP/1.1 server for GET /metrics on the broker's loop."""

    def __init__(self, registry: CollectorRegistry,
                 prepare: Callable[[], Awaitable[None]] | None = None) -> None:
        self.registry = registry
        self.prepare = prepare
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    async def start(self, listen: str) -> None:
        host, _, port = listen.rpartition(":")
        self._server = await asyncio.start_server(self._handle, host or "127.0.0.1", int(port))
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            method, path, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            if method != "GET":
                status, body, ctype = "405 Method Not Allowed", b"GET only\n", "text/plain"
            elif path.split("?")[0] in ("/metrics", "/metrics/"):
                if self.prepare is not None:
                    await self.prepare()
                status, body, ctype = "200 OK", generate_latest(self.registry), CONTENT_TYPE
            elif path == "/healthz":
                status, body, ctype = "200 OK", b"ok\n", "text/plain"
            else:
                status, body, ctype = "404 Not Found", b"try /metrics\n", "text/plain"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode() + body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def make_registry(broker: Broker, top_keys: int, storage_stats: StorageStats) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BrokerCollector(broker, top_keys, storage_stats))
    return registry
