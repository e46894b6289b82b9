"""Recovery: rebuild the broker's in-memory state from storage after a start or a crash.

A scan per key prefix, in key order: config, queues, delay records, then messages (which
arrive in enqueue order per queue, so per-key FIFO needs no sort). Leases are not stored: a
message that was leased when the broker stopped is ready again (at-least-once).
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING

from fila.engine import codec, keys
from fila.engine.message import Entry
from fila.engine.queue import QueueSettings
from fila.errors import InvalidArgument

log = logging.getLogger("fila.engine")

if TYPE_CHECKING:
    from fila.engine.broker import Broker

def recover(broker: Broker) -> None:
    """Rebuild every in-memory index from storage. Never runs Lua on messages: the stored
    bytes carry the keys on_enqueue gave them."""
    started = time.monotonic()
    for key, value in broker.storage.scan(keys.CONFIG):
        broker.config.apply(key[1:].decode(), value.decode(), time.monotonic())
    for key, value in broker.storage.scan(keys.API_KEY):
        broker.api_keys.load(key, value)
    for key, value in broker.storage.scan(keys.QUEUE):
        name, rec = key[1:].decode(), json.loads(value)
        settings = QueueSettings.from_json(rec.get("settings", {}))
        try:
            q = broker._build_queue(name, rec["id"], settings, rec.get("dlq_of", ""))
        except InvalidArgument as exc:  # a script this Lua no longer accepts
            log.error("queue script no longer compiles; using defaults",
                      extra={"queue": name, "error": str(exc)})
            q = broker._build_queue(name, rec["id"], QueueSettings(
                visibility_timeout_ms=settings.visibility_timeout_ms), rec.get("dlq_of", ""))
            q.settings = settings
        broker._add_queue(q)
    delays: dict[bytes, int] = {}
    for key, value in broker.storage.scan(keys.DELAY):
        delays[key[1:]] = keys.decode_u64(value)
    last_seq = 0
    messages = 0
    orphans = 0
    for key, value in broker.storage.scan(keys.MESSAGE):
        qid, seq = keys.split_qid_seq(key)
        owner = broker._by_qid.get(qid)
        if owner is None:  # its queue was deleted, or never recorded: nothing can read it
            orphans += 1
            broker.stage.delete(key)
            continue
        q = owner
        m = codec.decode_message(value)
        md = m.metadata
        e = Entry(seq, m.id, value, md.fairness_key, md.weight or 1,
                  tuple(md.throttle_keys), md.attempt_count, seq >> 16)
        e.last_error = md.last_error
        q.arrive(e)
        at = delays.pop(key[1:], 0)
        if at:
            e.ready_at_ms = at
            broker._delay(q, e, at)
        else:
            q.drr.push(e)
        last_seq = max(last_seq, seq)
        broker.pending_bytes += len(value)
        messages += 1
    for stale in delays:  # delay records whose message is gone
        broker.stage.delete(keys.DELAY + stale)
    broker.ids.last_seq = max(broker.ids.last_seq, last_seq)
    broker.recovered = {
        "queues": len(broker.queues),
        "messages": messages,
        "config_keys": len(broker.config.values),
        "orphans": orphans,
        "ms": int((time.monotonic() - started) * 1000),
    }
    for q in broker.queues.values():
        if q.drr.ready:
            broker._dirty.add(q)
