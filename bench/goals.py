"""The goal table: what each headline figure should reach on this machine, and whether it did.

A goal names the row (scenario, row name) it reads, or two rows whose ratio it reads. The
results of a run are checked against every goal whose rows were measured; the rest are
"not run". Goals are for this kind of machine (2 cores, client and server on the same box,
durable, 100-byte payloads, 1,000 fairness keys, an on_enqueue Lua hook, DRR on).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Key = tuple[str, str]  # (scenario, row name)
Lookup = Callable[[Key], "float | None"]


@dataclass(frozen=True)
class Goal:
    figure: str
    row: Key
    op: str  # ">=", "<", "report" (no target: the figure is only reported)
    target: float = 0.0
    unit: str = ""
    ratio_of: Key | None = None  # value = row / ratio_of * 100 (%)

    def value(self, lookup: Lookup) -> float | None:
        v = lookup(self.row)
        if v is None or self.ratio_of is None:
            return v
        base = lookup(self.ratio_of)
        if base is None or base == 0:
            return None
        return v / base * 100.0

    def text(self) -> str:
        if self.op == "report":
            return "reported"
        t = f"{self.target:,.0f}" if self.target >= 100 else f"{self.target:g}"
        return f"{self.op} {t} {self.unit}".rstrip()

    def status(self, value: float | None) -> str:
        if value is None or math.isnan(value):
            return "not run"
        if self.op == "report":
            return "reported"
        ok = value >= self.target if self.op == ">=" else value < self.target
        return "met" if ok else "MISSED"


OLD = ("lifecycle", "lifecycle acked, 1 msg/RPC")
CEILING = ("grpc-ceiling", "ceiling lifecycle, 1 msg/RPC")
BATCHED = {n: ("batch-lifecycle", f"lifecycle acked, {n} msgs/RPC") for n in (100, 500)}
FAKE = {n: ("grpc-ceiling", f"ceiling lifecycle, {n} msgs/RPC") for n in (100, 500)}

GOALS = [
    Goal("lifecycle enqueue+lease+ack, 100 msgs/RPC", BATCHED[100], ">=", 100_000, "msg/s"),
    Goal("lifecycle enqueue+lease+ack, 500 msgs/RPC", BATCHED[500], ">=", 200_000, "msg/s"),
    Goal("lifecycle 500 msgs/RPC, % of 100 msgs/RPC",
         BATCHED[500], ">=", 150, "%", ratio_of=BATCHED[100]),
    # How close the broker comes to gRPC alone with the same clients: what is left is ours.
    Goal("lifecycle 100 msgs/RPC, % of the fake broker's",
         BATCHED[100], "report", ratio_of=FAKE[100]),
    Goal("lifecycle 500 msgs/RPC, % of the fake broker's",
         BATCHED[500], "report", ratio_of=FAKE[500]),
    Goal("enqueue only, EnqueueBatch of 100",
         ("batch-enqueue", "enqueue, EnqueueBatch of 100"), ">=", 150_000, "msg/s"),
    Goal("enqueue only, EnqueueBatch of 500",
         ("batch-enqueue", "enqueue, EnqueueBatch of 500"), ">=", 150_000, "msg/s"),
    Goal("SDK enqueue(), 1 msg/call, 64 tasks",
         ("sdk-enqueue", "SDK enqueue(), 1 msg per call"), ">=", 60_000, "msg/s"),
    Goal("old clients' enqueue, % of the fake broker's",
         ("enqueue", "enqueue, 1 msg/RPC"), ">=", 80, "%",
         ratio_of=("grpc-ceiling", "ceiling enqueue, 1 msg/RPC")),
    Goal("old clients' lifecycle, % of grpcio ceiling",
         OLD, ">=", 80, "%", ratio_of=CEILING),
    Goal("enqueue->lease p50, light load", ("latency", "enqueue->lease p50"), "<", 1, "ms"),
    Goal("enqueue->lease p99, light load", ("latency", "enqueue->lease p99"), "<", 5, "ms"),
    Goal("DRR cost, 1,000 keys vs 1 (FIFO)",
         ("drr-cost", "DRR cost, 1,000 keys vs 1"), "<", 5, "%"),
    Goal("DRR cost, 10,000 keys vs 10",
         ("drr-cost", "DRR cost, 10,000 keys vs 10"), "<", 5, "%"),
    Goal("half the keys throttled, % of no bucket binding",
         ("throttle", "throttled lifecycle, half the keys throttled"), ">=", 70, "%",
         ratio_of=("throttle", "throttled lifecycle, no bucket binds")),
    Goal("fairness 1:2:3:4:5, max deviation from fair share",
         ("fairness", "fairness max deviation"), "<", 1, "%"),
    Goal("1M pending: broker RSS", ("pending-1m", "broker RSS with them"), "report", unit="MB"),
    Goal("1M pending: restart to first lease",
         ("pending-1m", "restart to first lease"), "<", 10, "s"),
    Goal("metrics overhead on the hot path",
         ("metrics-overhead", "metrics overhead"), "<", 3, "%"),
    # The original answers before fsync, Fila after: the goal allows for it.
    Goal("old clients' enqueue, % of the original broker's",
         ("original", "Fila: enqueue, 1 msg/RPC"), ">=", 50, "%",
         ratio_of=("original", "original: enqueue, 1 msg/RPC")),
    Goal("old clients' lifecycle, % of the original broker's",
         ("original", "Fila: lifecycle acked, 1 msg/RPC"), ">=", 50, "%",
         ratio_of=("original", "original: lifecycle acked, 1 msg/RPC")),
]


def _lookup(results: list[dict[str, Any]]) -> Lookup:
    values: dict[Key, float] = {}
    for r in results:
        for row in r["rows"]:
            v = row["value"]
            if v is not None:
                values[(r["name"], row["name"])] = float(v)
    return values.get


def evaluate(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per goal: figure, goal, value, unit, status, and the row it reads."""
    lookup = _lookup(results)
    out = []
    for g in GOALS:
        v = g.value(lookup)
        out.append({
            "figure": g.figure,
            "goal": g.text(),
            "value": None if v is None or math.isnan(v) else round(v, 4),
            "unit": "%" if g.ratio_of else g.unit,
            "status": g.status(v),
            "scenario": g.row[0],
            "row": g.row[1],
        })
    return out


def by_row(evaluated: list[dict[str, Any]]) -> dict[Key, str]:
    """(scenario, row) -> "goal ...: status", for the main table's goal column."""
    out: dict[Key, str] = {}
    for e in evaluated:
        if e["status"] == "not run":
            continue
        key = (e["scenario"], e["row"])
        if ", % of " in e["figure"]:
            # A row can carry several ratio goals (500/RPC: of 100/RPC, of the fake broker's).
            of = e["figure"].split(", % of ", 1)[-1]  # "grpcio ceiling", "the original broker's"
            goal = "" if e["status"] == "reported" else f" (goal {e['goal']}): {e['status']}"
            text = f"{e['value']:.0f}% of {of}{goal}"
            out[key] = f"{out[key]}; {text}" if key in out else text
        elif e["status"] == "reported":
            out[key] = "reported"
        else:
            text = f"{e['goal']}: {e['status']}"
            out[key] = f"{text}; {out[key]}" if key in out else text
    return out
