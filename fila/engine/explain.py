""""Why is fairness key X delayed?" answered in plain words from live state."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from fila.engine.broker import Broker
from fila.engine.drr import IDLE, Entry
from fila.engine.queue import Queue


@dataclass
class Explanation:
    summary: str
    reasons: list[str] = field(default_factory=list)
    pending: int = 0
    in_flight: int = 0
    delayed: int = 0
    weight: int = 0
    active_keys: int = 0
    consumers: int = 0


def _fmt_rate(rate: float) -> str:
    return f"{rate:g}/s"


def _throttle_reasons(broker: Broker, q: Queue, key: str, now_s: float) -> list[str]:
    fk = q.drr.keys[key]
    buckets = broker.config.throttles.buckets
    out = []
    for tkeys in fk.groups:
        for tk in tkeys:
            b = buckets.get(tk)
            if b is None:
                continue
            tokens = b.refill(now_s)
            if tokens < 1.0:
                wait_ms = (b.next_token_s(now_s) - now_s) * 1000
                nxt = "never (rate 0)" if wait_ms == float("inf") else f"in {wait_ms:.0f} ms"
                out.append(f"throttled by `{tk}` ({tokens:.1f} tokens, {_fmt_rate(b.rate)}, "
                           f"burst {b.burst:g}, next token {nxt})")
    return out


def explain(broker: Broker, queue: str, key: str) -> Explanation:
    q = broker._queue(queue)
    now_s = time.monotonic()
    fk = q.drr.keys.get(key)
    leased = sum(1 for e in q.leases.values() if e.fkey == key)
    delayed = [e for _, _, e in q.delayed if e.state == Entry.DELAYED and e.fkey == key]
    ex = Explanation(summary="", pending=fk.count if fk else 0, in_flight=leased,
                     delayed=len(delayed), weight=fk.weight if fk else 0,
                     active_keys=len(q.drr.keys), consumers=len(q.consumers))
    reasons = ex.reasons
    if q.enqueue_breaker.is_open(now_s):
        left = q.enqueue_breaker.open_until - now_s
        reasons.append(f"the on_enqueue breaker is open for {left:.1f} s more: new messages get "
                       f"fairness key \"default\" instead of their own")
    if fk is not None:
        if not q.consumers:
            reasons.append(f"no consumer is connected to queue `{q.name}`")
        elif not q.hungry:
            held = sum(c.leased for c in q.consumers.values())
            reasons.append(f"every consumer is at its credit limit: {len(q.consumers)} consumers "
                           f"hold {held} unacknowledged messages")
        if key in q.drr.parked:
            reasons += _throttle_reasons(broker, q, key, now_s) or [
                "throttled: its buckets are refilling"]
        elif fk.where != IDLE:
            ahead = q.drr.ahead_of(fk)
            in_line = len(q.drr.keys) - len(q.drr.parked)
            reasons.append(f"waiting for its DRR turn: {in_line} active keys, weight "
                           f"{fk.weight}, {ahead} ahead")
    if delayed:
        first = min(delayed, key=lambda e: e.ready_at_ms)
        when = time.strftime("%H:%M:%S", time.localtime(first.ready_at_ms / 1000))
        reasons.append(f"{'its next message is' if len(delayed) == 1 else f'{len(delayed)} messages are'}"
                       f" delayed, the first until {when} (retry {first.attempts})")
    if leased:
        reasons.append(f"{leased} of its messages are leased to consumers, waiting for ack")
    if fk is None and not delayed and not leased:
        ex.summary = f"key `{key}` has no pending messages in queue `{q.name}`: nothing is delayed"
        reasons.append(ex.summary)
    ex.summary = ex.summary or reasons[0]
    return ex
