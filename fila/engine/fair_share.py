"""The share of deliveries each fairness key *can* get: weighted max-min fairness.

This is the definition the scheduler keeps (fila.engine.drr) and that stats, `fila top` and
/metrics show beside what each key actually got:

- Keys share what limits them in proportion to their weights. Without throttles the limit is
  the consumers: key k gets weight_k / (sum of the weights of keys with ready messages).
- A throttle bucket of rate r shared by keys K gives each of them r * weight_k / sum(weight
  over K), unless a key is held to less by another of its buckets or by the consumers; what a
  key cannot use is shared by the others, by weight (water-filling).
- A message with several throttle keys takes a token from each, so it is bound by the
  tightest of its buckets' shares.
- A key whose messages use different sets of throttle keys (two providers, say) gets its
  weighted share at each bucket, and the sum of what it gets at each; at a bucket that
  several of its sets use, its share is split between them.
- The consumers are one more shared limit, of the rate at which they take messages: keys
  share it (their turns) by weight, and a key's turns go to its oldest message that can go
  (when they are the limit, the figure assumes a key's turns split evenly between its sets
  of throttle keys; in truth that follows their messages' ages, so it is an estimate).
  When the consumers are not the limit (some wait for messages) or nothing was delivered yet,
  keys bound by no throttle are unbounded (rate inf) and split the deliveries between
  themselves by weight.

Keys with the same profile (the throttle-key sets of their messages) get the same rate per
unit of weight, so they are solved together: the cost grows with the number of distinct
profiles, not of keys.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass

CONSUMERS = "consumers"  # the name of the consumers' limit in `limited_by`

Profile = frozenset[frozenset[str]]  # the bucket sets of a key's messages
Flow = tuple[Profile, frozenset[str]]  # the messages of one profile with one bucket set


@dataclass(frozen=True)
class Share:
    rate: float  # msg/s this key can get (inf: nothing bounds it)
    share: float  # its part of the queue's deliveries, 0..1
    limited_by: str  # the throttle key(s) whose share binds it, CONSUMERS, or "" if unbounded


def _water_fill(capacity: float, weights: list[float], demands: list[float]) -> float:
    """The water level of `capacity` shared by weight, nobody given more than its demand:
    who wants more than level * weight gets exactly that (inf: everybody is satisfied)."""
    order = sorted(range(len(weights)), key=lambda i: demands[i] / weights[i])
    left, total_w = capacity, sum(weights)
    for i in order:
        level = left / total_w
        if demands[i] > level * weights[i]:
            return max(0.0, level)
        left -= demands[i]
        total_w -= weights[i]
    return math.inf


class Profiles:
    """Keys added one by one, summed into profiles (what `solve` needs): the work of a
    queue's every key, which a big queue does in slices (fila.engine.key_ranking)."""

    __slots__ = ("bucket_rates", "weights", "_memo")

    def __init__(self, bucket_rates: dict[str, float]) -> None:
        self.bucket_rates = bucket_rates
        self.weights: dict[Profile, float] = {}  # profile -> total weight of its keys
        self._memo: dict[tuple[tuple[str, ...], ...], Profile] = {}

    def profile(self, tsets: Collection[Collection[str]]) -> Profile:
        """The profile of a key whose ready messages use these throttle-key sets."""
        sig = tuple(tuple(ts) for ts in tsets)
        p = self._memo.get(sig)
        if p is None:
            rates = self.bucket_rates
            p = frozenset(frozenset(t for t in ts if t in rates) for ts in tsets)
            p = self._memo[sig] = p or frozenset({frozenset()})
        return p

    def add(self, weight: int, tsets: Collection[Collection[str]]) -> Profile:
        p = self.profile(tsets)
        self.add_weight(p, max(1, weight))
        return p

    def add_weight(self, p: Profile, weight: float) -> None:
        """Keys of profile `p` weighing `weight` together."""
        self.weights[p] = self.weights.get(p, 0.0) + weight


@dataclass(frozen=True)
class Solution:
    """Rates per profile; `share_of` turns them into one key's Share."""

    weights: dict[Profile, float]
    rate: dict[Profile, float]  # what all keys of the profile get together
    why: dict[Profile, str]
    unbounded_weight: float  # total weight of the keys nothing bounds (they split the rest)
    delivered: float  # sum of the bounded rates

    def share_of(self, weight: int, p: Profile) -> Share:
        w = max(1, weight)
        rate = self.rate[p] * w / self.weights[p]
        if self.unbounded_weight:
            return Share(rate, w / self.unbounded_weight if rate == math.inf else 0.0, self.why[p])
        return Share(rate, rate / self.delivered if self.delivered > 0 else 0.0, self.why[p])


def fair_shares(
    keys: Iterable[tuple[str, int, Collection[Collection[str]]]],
    bucket_rates: dict[str, float],
    capacity: float = math.inf,
) -> dict[str, Share]:
    """keys: (fairness key, weight, the throttle-key sets of its ready messages); bucket_rates:
    rate per configured throttle key; capacity: deliveries per second the consumers take
    (inf when they are not the limit)."""
    acc = Profiles(bucket_rates)
    of = [(key, weight, acc.add(weight, tsets)) for key, weight, tsets in keys]
    sol = solve(acc, capacity)
    return {key: sol.share_of(weight, p) for key, weight, p in of}


def solve(acc: Profiles, capacity: float = math.inf) -> Solution:
    """Water-fill the profiles of `acc` through the buckets and the consumers' `capacity`."""
    bucket_rates = acc.bucket_rates
    profiles = acc.weights
    limits = dict(bucket_rates)
    if capacity != math.inf:
        limits[CONSUMERS] = capacity
    # A flow (a profile's messages with one bucket set) and the limits it passes.
    flows: list[Flow] = [(p, bs) for p in profiles for bs in sorted(p, key=sorted)]
    passes = {f: [*f[1], *([CONSUMERS] if CONSUMERS in limits else [])] for f in flows}
    users: dict[str, dict[Profile, list[Flow]]] = {}
    for f in flows:
        for r in passes[f]:
            users.setdefault(r, {}).setdefault(f[0], []).append(f)
    # What a flow could get at one limit: its key's weighted share there (the water level
    # times the weight), split between the key's flows through it. Reading a key's potential
    # elsewhere, not what it got, keeps one limit's answer from holding another's down.
    potential: dict[tuple[Flow, str], float] = {}

    def elsewhere(f: Flow, r: str) -> float:
        return min((potential.get((f, o), math.inf) for o in passes[f] if o != r),
                   default=math.inf)

    for _ in range(100):  # each limit in turn, until nothing changes
        changed = False
        for r, by_profile in users.items():
            ps = list(by_profile)
            caps = {f: elsewhere(f, r) for fs in by_profile.values() for f in fs}
            demand = [sum(caps[f] for f in by_profile[p]) for p in ps]
            level = _water_fill(limits[r], [profiles[p] for p in ps], demand)
            for p in ps:
                fs = by_profile[p]
                share = level * profiles[p]
                if share == math.inf:
                    parts = [math.inf] * len(fs)
                elif len(fs) == 1:
                    parts = [share]
                else:  # what a flow could take if it wanted more: its own cap lifted
                    parts = [_water_fill(share, [1.0] * len(fs),
                                         [math.inf if g is f else caps[g] for g in fs])
                             for f in fs]
                for f, x in zip(fs, parts, strict=True):
                    old = potential.get((f, r), math.inf)
                    if old != x and abs(old - x) > 1e-9 * max(1.0, x):
                        changed = True
                    potential[(f, r)] = x
        if not changed:
            break

    rate_p: dict[Profile, float] = {}
    why_p: dict[Profile, str] = {}
    for p in profiles:
        total, binding = 0.0, set[str]()
        for bs in p:
            f = (p, bs)
            at = {lim: potential[(f, lim)] for lim in passes[f]}
            x = min(at.values(), default=math.inf)
            total += x
            if x != math.inf:
                binding |= {lim for lim, v in at.items() if v <= x * (1 + 1e-9)}
        rate_p[p] = total
        # A tie between a throttle and the consumers is the throttle's: users act on it.
        why_p[p] = ",".join(sorted(binding - {CONSUMERS})) or (CONSUMERS if binding else "")

    unbounded = sum(profiles[p] for p, r in rate_p.items() if r == math.inf)
    delivered = sum(r for r in rate_p.values() if r != math.inf)
    return Solution(profiles, rate_p, why_p, unbounded, delivered)
