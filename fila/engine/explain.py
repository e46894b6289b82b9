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


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _throttle_reason(t: ThrottleWait) -> str:
    bucket = f"{t.rate:g}/s, burst {t.burst:g}"
    if t.tokens >= 1.0:
        whole = int(t.tokens)
        return (f"throttled by `{t.key}` ({bucket}): its {_plural(whole, 'token is', 'tokens are')} "
                f"promised to {_plural(t.promised, 'message', 'messages')} ahead in line")
    if t.next_token_s == math.inf:
        return (f"throttled by `{t.key}`: its rate is 0, so it gets no token until the rate is "
                f"raised (`fila throttle set {t.key} RATE`)")
    # Never round a fraction up to "1.0 tokens": say what is missing, and when it comes.
    return (f"throttled by `{t.key}` ({bucket}): it holds {t.tokens:.2f} of a token; the next "
            f"whole token comes in {max(0.0, t.next_token_s) * 1000:.0f} ms")


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
            reasons.append(
                "every consumer is at its credit limit: "
                f"{_plural(d.consumers, 'consumer holds', 'consumers hold')} "
                f"{_plural(d.held_by_consumers, 'unacknowledged message', 'unacknowledged messages')}"
                " (ack faster, raise their credit, or add consumers)")
        if d.parked:
            reasons += [_throttle_reason(t) for t in d.throttled_by] or [
                "throttled: its buckets are refilling"]
        else:
            reasons.append(f"waiting for its turn (weight {d.weight}): "
                           f"{_plural(d.ahead, 'key is', 'keys are')} ahead of it, of "
                           f"{_plural(d.in_line, 'key', 'keys')} in line")
    if d.delayed:
        when = time.strftime("%H:%M:%S", time.localtime(d.first_delayed_until_ms / 1000))
        reasons.append(f"{'its next message is' if d.delayed == 1 else f'{d.delayed} of its messages are'}"
                       f" delayed for a retry, the first until {when} "
                       f"(after {_plural(d.first_delayed_attempts, 'failed attempt', 'failed attempts')})")
    if d.in_flight:
        reasons.append(f"{_plural(d.in_flight, 'of its messages is', 'of its messages are')} "
                       "leased to consumers, waiting to be acked")
    if not d.pending and not d.delayed and not d.in_flight:
        ex.summary = f"key `{d.key}` has no pending messages in queue `{d.queue}`: nothing is delayed"
        reasons.append(ex.summary)
    ex.summary = ex.summary or reasons[0]
    return ex
