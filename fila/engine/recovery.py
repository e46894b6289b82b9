"""Recovery: rebuild the broker's in-memory state from storage after a start or a crash.

A scan per key prefix, in key order: config, queues, delay records, then messages (which
arrive in enqueue order per queue, so per-key FIFO needs no sort). Leases are not stored: a
message that was leased when the broker stopped is ready again (at-least-once).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
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
    messages, orphans, last_seq = _recover_messages(broker, delays)
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


def _recover_messages(broker: Broker, delays: dict[bytes, int]) -> tuple[int, int, int]:
    """Every stored message back into its queue: ready (in its scheduler) or delayed (the
    record in `delays` is taken). Returns (messages, orphans, the highest seq).

    This runs once per message of a backlog that may be millions long before the broker
    serves anyone, so it is one loop with the per-queue lookups hoisted: keys arrive sorted
    by (qid, seq), so a queue's messages come together and in enqueue order (its arrival
    index is appended to, as Queue.arrive would, and tidied once at the end). Messages of
    one tenant share their `metadata` bytes (the keys on_enqueue gave them; attempts), so
    each distinct one is decoded once (codec.MetadataCache)."""
    message, by_qid, stage = keys.MESSAGE[0], broker._by_qid, broker.stage
    split, offset, fields = keys.split_qid_seq, codec.metadata_offset, codec.MetadataCache().fields
    qid_now, q = -1, None
    arrive: Callable[[Entry], None] = _unset  # the current queue's, set with it
    push: Callable[[Entry], None] = _unset
    messages = orphans = last_seq = held_bytes = 0
    touched = []
    for key, value in broker.storage.items_from(keys.MESSAGE):
        if key[0] != message:
            break
        qid, seq = split(key)
        if qid != qid_now:
            qid_now, q = qid, by_qid.get(qid)
            if q is not None:
                arrive, push = q.arrivals.append, q.drr.push
                touched.append(q)
        if q is None:  # its queue was deleted, or never recorded: nothing can read it
            orphans += 1
            stage.delete(key)
            continue
        meta_at = offset(value)
        fkey, weight, tkeys, attempts, last_error = fields(value, meta_at)
        e = Entry(seq, codec.stored_id(value), value, fkey, weight, tkeys, attempts, seq >> 16)
        e.meta_at = meta_at  # found anyway: the first lease would look for it
        if last_error:
            e.last_error = last_error
        e.home = q
        arrive(e)
        at = delays.pop(key[1:], 0) if delays else 0
        if at:
            e.ready_at_ms = at
            broker._delay(q, e, at)
        else:
            push(e)
        last_seq = seq if seq > last_seq else last_seq
        held_bytes += len(value)
        messages += 1
    broker.pending_bytes += held_bytes
    for q in touched:
        if len(q.arrivals) > q.index_limit:
            q.tidy_index()
    return messages, orphans, last_seq


def _unset(_e: Entry) -> None:  # replaced with the first message's queue's, before a call
    raise AssertionError("no queue yet")
