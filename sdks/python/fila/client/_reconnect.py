"""Riding out a broker restart: calls and lease streams retry on UNAVAILABLE, with backoff,
for up to `Reconnect.max_wait_s`; then the error is raised.

What is retried is only what the broker could not have answered: UNAVAILABLE (it is down,
restarting, or the connection broke). A retried enqueue may be stored twice if the first try
reached the broker before the connection broke (delivery is at-least-once anyway). An ack that
returned is durable: the broker answers only after it is on disk. A message leased before a
restart is ready again after it (leases are not stored), so acking it afterwards fails
(`NotFound` or `FailedPrecondition`) and it is delivered again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc

from fila.client._errors import trailer

log = logging.getLogger("fila.client")


@dataclass(frozen=True)
class RetryEvent:
    """One retry, as `Reconnect.on_retry` and the `fila.client` log see it."""

    what: str  # the call ("Enqueue") or stream ("Lease stream on 'jobs'")
    attempt: int  # 1 for the first retry
    delay_s: float  # how long until it is tried again
    error: str  # what the last try said


@dataclass(frozen=True)
class Reconnect:
    """How a client rides out an unavailable broker. `Client(..., reconnect=None)` turns it off
    (every UNAVAILABLE is raised at once)."""

    max_wait_s: float = 30.0  # give up (raise Unavailable) once the broker was away this long
    first_backoff_s: float = 0.05  # the first wait; it doubles, with jitter,
    max_backoff_s: float = 2.0  # up to this
    on_retry: Callable[[RetryEvent], None] | None = None  # also logged on `fila.client`


LEADER_TRAILER = "x-fila-leader-addr"  # a cluster node's answer: "ask that node instead"
MAX_REDIRECTS = 3  # per call: a redirect loop between nodes ends with the error


def leader_of(exc: grpc.RpcError) -> str | None:
    """The node a refused call names as the one to ask (the original broker's cluster
    redirect, trailing metadata `x-fila-leader-addr`), if any."""
    return trailer(exc, LEADER_TRAILER)


def retryable(exc: grpc.RpcError) -> bool:
    return hasattr(exc, "code") and exc.code() == grpc.StatusCode.UNAVAILABLE


class Backoff:
    """The waits of one call (or one stream outage) under a Reconnect policy."""

    def __init__(self, policy: Reconnect | None, what: str) -> None:
        self.policy = policy
        self.what = what
        self.started = 0.0
        self.attempt = 0

    def delay(self, exc: grpc.RpcError) -> float | None:
        """How long to wait before trying again after `exc`; None: raise it."""
        p = self.policy
        if p is None or not retryable(exc):
            return None
        now = time.monotonic()
        if not self.attempt:
            self.started = now
        left = p.max_wait_s - (now - self.started)
        if left <= 0:
            return None
        self.attempt += 1
        wait = min(p.max_backoff_s, p.first_backoff_s * 2.0 ** min(self.attempt - 1, 30))
        wait = min(left, wait * random.uniform(0.5, 1.0))
        event = RetryEvent(self.what, self.attempt, wait, exc.details() or "unavailable")
        if self.attempt == 1 or self.attempt % 10 == 0:
            log.warning("fila: %s: broker unavailable (%s); retrying for up to %.0f s",
                        self.what, event.error, p.max_wait_s)
        if p.on_retry is not None:
            p.on_retry(event)
        return wait

    def reset(self) -> None:
        """The broker answered: a later outage starts a fresh wait."""
        self.attempt = 0
