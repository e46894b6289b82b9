""""Why is fairness key X delayed?" answered in plain words, from fila.engine.views facts."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from fila.engine.views import KeyDetail, ThrottleWait


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


def _throttle_reason(t: ThrottleWait) -> str:
    nxt = "never (rate 0)" if t.next_token_s == math.inf else f"in {max(0.0, t.next_token_s) * 1000:.0f} ms"
    if t.tokens >= 1.0:
        return (f"throttled by `{t.key}`: its {t.tokens:.0f} tokens are promised to "
                f"{t.promised} message{'s' if t.promised != 1 else ''} ahead in line "
                f"({t.rate:g}/s, burst {t.burst:g})")
    return (f"throttled by `{t.key}` ({t.tokens:.1f} tokens, {t.rate:g}/s, burst {t.burst:g}, "
            f"next token {nxt})")


def explain(d: KeyDetail) -> Explanation:
    ex = Explanation(summary="", pending=d.pending, in_flight=d.in_flight, delayed=d.delayed,
                     weight=d.weight, active_keys=d.active_keys, consumers=d.consumers)
    reasons = ex.reasons
    if d.enqueue_breaker_open_s > 0:
        reasons.append(f"the on_enqueue breaker is open for {d.enqueue_breaker_open_s:.1f} s more: "
                       f"new messages get fairness key \"default\" instead of their own")
    if d.pending:
        if not d.consumers:
            reasons.append(f"no consumer is connected to queue `{d.queue}`")
        elif not d.consumers_hungry:
            reasons.append(f"every consumer is at its credit limit: {d.consumers} consumers "
                           f"hold {d.held_by_consumers} unacknowledged messages")
        if d.parked:
            reasons += [_throttle_reason(t) for t in d.throttled_by] or [
                "throttled: its buckets are refilling"]
        else:
            reasons.append(f"waiting for its DRR turn: {d.in_line} active keys, weight "
                           f"{d.weight}, {d.ahead} ahead")
    if d.delayed:
        when = time.strftime("%H:%M:%S", time.localtime(d.first_delayed_until_ms / 1000))
        reasons.append(f"{'its next message is' if d.delayed == 1 else f'{d.delayed} messages are'}"
                       f" delayed, the first until {when} (retry {d.first_delayed_attempts})")
    if d.in_flight:
        reasons.append(f"{d.in_flight} of its messages are leased to consumers, waiting for ack")
    if not d.pending and not d.delayed and not d.in_flight:
        ex.summary = f"key `{d.key}` has no pending messages in queue `{d.queue}`: nothing is delayed"
        reasons.append(ex.summary)
    ex.summary = ex.summary or reasons[0]
    return ex
