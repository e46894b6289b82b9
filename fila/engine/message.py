"""The record of one message the broker knows: where it is, and the bytes it is stored and
delivered as. Small and slotted: a broker may hold millions."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fila.engine.queue import Consumer, Queue


class Entry:
    """One message: its id and stored bytes, what on_enqueue decided, and its state.

    `state` is READY (in its queue's scheduler), LEASED (in `queue.leases`, held by
    `consumer` until `expires_ms`), DELAYED (waiting for `ready_at_ms` in the queue's delay
    heap) or GONE (acked, or its queue deleted).
    """

    __slots__ = (
        "seq", "mid", "data", "fkey", "weight", "tkeys", "attempts", "enqueued_ms",
        "state", "consumer", "lease_no", "token", "expires_ms", "ready_at_ms", "last_error",
        "meta_at", "home",
    )

    READY, LEASED, DELAYED, GONE = 0, 1, 2, 3

    def __init__(
        self, seq: int, mid: str, data: bytes, fkey: str, weight: int,
        tkeys: tuple[str, ...], attempts: int, enqueued_ms: int,
    ) -> None:
        self.seq = seq
        self.mid = mid
        self.data = data
        self.fkey = fkey
        self.weight = weight
        self.tkeys = tkeys
        self.attempts = attempts
        self.enqueued_ms = enqueued_ms
        self.state = Entry.READY
        self.consumer: Consumer | None = None
        self.lease_no = 0  # changes when a lease is extended (heap entries go stale)
        self.token = 0  # the lease as the consumer knows it (lease_id); fixed per delivery
        self.expires_ms = 0
        self.ready_at_ms = 0
        self.last_error = ""
        self.meta_at = 0  # where `data`'s metadata field starts (0: not known yet)
        self.home: Queue | None = None  # the queue it is in (Queue.arrive)
