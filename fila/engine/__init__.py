"""The engine: scheduling, throttling, Lua rules and storage, owned by one thread, no network.

This package's names are the engine's public API, and the only ones the server, the metrics
and the tools use (docs/architecture.md draws it):

    Broker(storage, settings, clock)   commands (enqueue, ack, nack, extend_lease, admin...)
                                       stage effects; turn() writes them and runs timers
    Consumer, Delivery                 a lease stream's handle, and what it takes to send
    views                              read-only values for stats, explain and metrics
    Storage, GroupCommitter            RocksDB, and the thread that makes writes durable
"""

from fila.engine import views
from fila.engine.api_keys import KINDS, KeyRecord
from fila.engine.broker import Broker, BrokerSettings, Limits, TurnResult, Write
from fila.engine.clock import Clock, ManualClock, SystemClock
from fila.engine.codec import read_varint, strip_queue, varint
from fila.engine.explain import Explanation, explain
from fila.engine.instruments import BATCH_BUCKETS, COMMIT_BUCKETS_MS, Histogram
from fila.engine.queue import Consumer, Delivery, QueueSettings
from fila.engine.rules import HookError, LuaLimits, QueueRules
from fila.engine.runtime_config import hook_view, queue_scoped
from fila.engine.storage import GroupCommitter, Storage

__all__ = [
    "BATCH_BUCKETS",
    "Broker",
    "BrokerSettings",
    "COMMIT_BUCKETS_MS",
    "Clock",
    "Consumer",
    "Delivery",
    "Explanation",
    "GroupCommitter",
    "Histogram",
    "HookError",
    "KINDS",
    "KeyRecord",
    "Limits",
    "LuaLimits",
    "ManualClock",
    "QueueRules",
    "QueueSettings",
    "Storage",
    "SystemClock",
    "TurnResult",
    "Write",
    "explain",
    "hook_view",
    "queue_scoped",
    "read_varint",
    "strip_queue",
    "varint",
    "views",
]
