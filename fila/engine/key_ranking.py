"""Which fairness keys GetStats and /metrics list, for queues with too many keys to rank at once.

Stats list a queue's busiest keys (most pending, then fastest, then most recently delivered)
with the share each can get (fila.engine.fair_share). Both need every key of the queue: at a
million keys that is seconds of work, and the broker's thread does nothing else meanwhile. So
up to DIRECT_KEYS keys a view ranks on the spot, and past that a *ranking* is built between
turns, SLICE_KEYS keys per step (`Broker.want_ranking`, run by the turn's chores), and views
read the latest one: which keys it listed and their shares. What a view shows of a listed key
(pending, deficit, rates) is read live, and so are the totals (a queue's ready count, its
delivery rate); the *choice* of keys and their shares are as of the ranking, at most
REFRESH_S old while someone reads them (the read that finds it older asks for a new one).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fila.engine.fair_share import Profiles, Share, solve

if TYPE_CHECKING:
    from fila.engine.drr import FairnessKey
    from fila.engine.queue import Queue

DIRECT_KEYS = 5_000  # up to this many keys (pending or recently delivered), rank on the spot
SLICE_KEYS = 1_000  # keys ranked per step of a background ranking (a step takes ~2 ms)
REFRESH_S = 5.0  # a ranking older than this is rebuilt when read (the stale one is shown)


@dataclass
class Ranking:
    at_s: float  # when it was finished (monotonic)
    limit: int  # how many keys it was asked for
    keys: list[str] = field(default_factory=list)  # busiest first
    shares: dict[str, Share] = field(default_factory=dict)  # of those keys


def busiest_first(key: str, fks: Mapping[str, FairnessKey], rates: Mapping[str, float],
                  last_seen: Mapping[str, float]) -> tuple[int, float, float, str]:
    """The order views list keys in (smallest first): most pending, then fastest, then most
    recently delivered, then by name."""
    fk = fks.get(key)
    return (-(fk.count if fk is not None else 0), -rates.get(key, 0.0),
            -last_seen.get(key, 0.0), key)


def capacity(q: Queue) -> float:
    """Deliveries per second the consumers take, while they are the limit (none of them waits
    for a message); inf otherwise."""
    delivered = q.rates.rates.get("delivered", 0.0)
    return delivered if q.consumers and not q.hungry and delivered > 0 else math.inf


def candidates(q: Queue) -> int:
    """How many keys a view of `q` would rank, about (some may be counted twice)."""
    kr = q.key_rates
    return len(q.drr.keys) + len(kr.rates) + len(kr.window)


def rank(q: Queue, bucket_rates: dict[str, float], limit: int, now_s: float) -> Iterator[None]:
    """Build `q.ranking`: its `limit` busiest keys and their shares, yielding between slices
    of SLICE_KEYS keys (the caller runs other work, and changes the queue, in between)."""
    kr = q.key_rates
    fks = q.drr.keys
    names = list(fks)
    names += [k for k in set(kr.rates) | kr.recent(now_s) if k not in fks]
    acc = Profiles(bucket_rates)
    best: list[tuple[int, float, float, str]] = []
    unthrottled = 0  # the weight of keys whose messages have no throttle keys (one profile)
    rate_of, seen_at = kr.rates.get, kr.last_seen.get
    for i in range(0, len(names), SLICE_KEYS):
        yield
        fks = q.drr.keys
        rows = []
        # busiest_first and Profiles.add, inlined (this runs once per key of a big queue),
        # with the usual key, one set of messages without throttle keys, summed on the spot.
        for k in names[i:i + SLICE_KEYS]:
            fk = fks.get(k)
            if fk is not None:
                groups = fk.groups
                if len(groups) == 1 and () in groups:
                    unthrottled += max(1, fk.weight)
                else:
                    acc.add(fk.weight, groups)
            rows.append((-fk.count if fk is not None else 0, -rate_of(k, 0.0),
                         -seen_at(k, 0.0), k))
        # The `limit` smallest so far, sorted: a row not ahead of the last kept cannot get in
        # (a C-level tuple compare; heapq.nsmallest's Python loop over 2,000 rows a slice
        # was half of a ranking's time).
        if len(best) >= limit:
            worst = best[-1]
            rows = [r for r in rows if r < worst]
        if rows:
            best = sorted(best + rows)[:limit]
    if unthrottled:
        acc.add_weight(acc.profile(((),)), unthrottled)
    sol = solve(acc, capacity(q))
    fks = q.drr.keys
    shares = {}
    for row in best:
        fk = fks.get(row[3])
        p = acc.profile(fk.groups) if fk is not None else None
        if fk is not None and p in sol.weights:  # (a key whose profile changed meanwhile: next time)
            shares[fk.key] = sol.share_of(fk.weight, p)
    q.ranking = Ranking(now_s, limit, [row[3] for row in best], shares)
