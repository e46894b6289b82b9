"""`python -m bench` runs end to end and writes results of the documented shape.

Not a performance test: it checks the suite works (cheap scenarios, --quick), not numbers.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bench(*args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout_s)


def test_quick_run_writes_results_json(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = _bench("--quick", "--only", "latency", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "enqueue->lease p50" in proc.stdout  # the table

    doc = json.loads(out.read_text())
    assert doc["mode"] == "quick"
    assert doc["settings"]["measure_s"] > 0
    machine = doc["machine"]
    for key in ("cpu_model", "cores", "ram_gb", "python", "git_commit"):
        assert key in machine
    assert set(machine["packages"]) == {"grpcio", "protobuf", "rocksdict", "lupa"}
    assert machine["packages"]["grpcio"]

    [scenario] = doc["scenarios"]
    assert scenario["name"] == "latency"
    assert scenario["error"] is None
    assert scenario["rows"]
    for row in scenario["rows"]:
        assert set(row) == {"name", "value", "unit", "notes"}
        assert isinstance(row["name"], str) and isinstance(row["unit"], str)
        assert isinstance(row["value"], (int, float)) and math.isfinite(row["value"])
    by_name = {row["name"]: row for row in scenario["rows"]}
    p50, p99 = by_name["enqueue->lease p50"]["value"], by_name["enqueue->lease p99"]["value"]
    assert 0 < p50 <= p99
    assert by_name["enqueue->lease p50"]["unit"] == "ms"


def test_unknown_scenario_is_refused(tmp_path: Path) -> None:
    proc = _bench("--only", "nope", "--json", str(tmp_path / "x.json"), timeout_s=30)
    assert proc.returncode != 0
    assert "unknown scenario nope" in proc.stderr
    assert not (tmp_path / "x.json").exists()


def test_quick_batched_run_uses_worker_processes(tmp_path: Path) -> None:
    """A batched scenario: load from worker processes, a goal row, the goals in the JSON."""
    out = tmp_path / "results.json"
    proc = _bench("--quick", "--only", "batch-enqueue", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    [scenario] = doc["scenarios"]
    assert scenario["error"] is None
    rows = {row["name"]: row for row in scenario["rows"]}
    for n in (100, 500):
        row = rows[f"enqueue, EnqueueBatch of {n}"]
        assert row["unit"] == "msg/s" and row["value"] > 0
        assert "client" in row["notes"] and "us/msg" in row["notes"]
    goals = {g["figure"]: g for g in doc["goals"]}
    assert goals["enqueue only, EnqueueBatch of 100"]["status"] in ("met", "MISSED")
    assert goals["lifecycle enqueue+lease+ack, 100 msgs/RPC"]["status"] == "not run"
    assert "EnqueueBatch of 100" in proc.stdout and "status" in proc.stdout  # the goal table


def test_goals_are_checked_against_rows() -> None:
    from bench import goals

    def result(name: str, rows: dict[str, float]) -> dict[str, object]:
        return {"name": name, "rows": [{"name": k, "value": v, "unit": "", "notes": ""}
                                       for k, v in rows.items()]}

    evaluated = {e["figure"]: e for e in goals.evaluate([
        result("lifecycle", {"lifecycle acked, 1 msg/RPC": 900.0}),
        result("grpc-ceiling", {"ceiling lifecycle, 1 msg/RPC": 1000.0}),
        result("latency", {"enqueue->lease p50": 1.5, "enqueue->lease p99": 4.0}),
    ])}
    ratio = evaluated["old clients' lifecycle, % of grpcio ceiling"]
    assert ratio["value"] == 90.0 and ratio["status"] == "met"
    assert evaluated["enqueue->lease p50, light load"]["status"] == "MISSED"
    assert evaluated["enqueue->lease p99, light load"]["status"] == "met"
    assert evaluated["fairness 1:2:3:4:5, max deviation from fair share"]["status"] == "not run"


def test_a_row_with_several_ratio_goals_shows_each_in_the_goal_column() -> None:
    from bench import goals

    batched = {"lifecycle acked, 100 msgs/RPC": 20_000.0, "lifecycle acked, 500 msgs/RPC": 32_000.0}
    evaluated = goals.evaluate([
        {"name": "batch-lifecycle",
         "rows": [{"name": k, "value": v, "unit": "msg/s", "notes": ""} for k, v in batched.items()]},
        {"name": "grpc-ceiling",
         "rows": [{"name": "ceiling lifecycle, 500 msgs/RPC", "value": 64_000.0, "unit": "msg/s",
                   "notes": ""}]},
    ])
    figures = {e["figure"]: e for e in evaluated}
    assert figures["lifecycle 500 msgs/RPC, % of 100 msgs/RPC"]["value"] == 160.0
    assert figures["lifecycle 500 msgs/RPC, % of 100 msgs/RPC"]["status"] == "met"
    assert figures["lifecycle 500 msgs/RPC, % of the fake broker's"]["status"] == "reported"
    # Without the 100/RPC ceiling row that ratio is not run, not a division by nothing.
    assert figures["lifecycle 100 msgs/RPC, % of the fake broker's"]["status"] == "not run"
    column = goals.by_row(evaluated)[("batch-lifecycle", "lifecycle acked, 500 msgs/RPC")]
    assert column == (">= 200,000 msg/s: MISSED; 160% of 100 msgs/RPC (goal >= 150 %): met; "
                      "50% of the fake broker's")


def test_fake_broker_splits_batches() -> None:
    from bench.ceiling import _items
    from fila.v1 import service_pb2

    msgs = [service_pb2.EnqueueRequest(queue="q", payload=b"x" * n) for n in (0, 1, 300)]
    raw = service_pb2.EnqueueBatchRequest(messages=msgs).SerializeToString()
    assert _items(raw) == [m.SerializeToString() for m in msgs]


def test_profile_names_the_busiest_frames(tmp_path: Path) -> None:
    """--profile samples the server in each measured window; its top frames go into the notes."""
    out = tmp_path / "results.json"
    proc = _bench("--quick", "--profile", "--only", "batch-enqueue", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    [scenario] = json.loads(out.read_text())["scenarios"]
    notes = scenario["rows"][0]["notes"]
    assert "profile (own samples): " in notes
    top = notes.split("profile (own samples): ")[1]
    assert "%" in top and "(" in top  # "12% Broker.enqueue_many (engine/broker.py), ..."


def test_top_frames_rank_innermost_frames_by_samples() -> None:
    from bench.profile import top_frames

    raw = ("main (a/x.py:1);f (fila/engine/broker.py:10) 6\n"
           "main (a/x.py:1);g (fila/server/hot_path.py:3) 3\n"
           "main (a/x.py:1) 1\n")
    assert top_frames(raw, 2) == [(0.6, "f (engine/broker.py)"), (0.3, "g (server/hot_path.py)")]


def test_server_cost_drives_the_real_handlers() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.server_cost", "--messages", "3000"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("3,000 messages, batches of 100, 1000 keys: ")
    assert "µs of CPU per message" in proc.stdout


def test_floors_reports_the_wake_penalty_and_fsync_latency(tmp_path: Path) -> None:
    from bench import floors

    out = tmp_path / "floors.json"
    assert floors.main(["--dir", str(tmp_path), "--syncs", "5", "--samples", "5",
                        "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert set(doc["wake_us_by_gap_ms"]) == {"0.0", "0.2", "1.0", "5.0"}
    assert all(us > 0 for us in doc["wake_us_by_gap_ms"].values())
    assert doc["fsync_ms"]["count"] == 5 and 0 < doc["fsync_ms"]["p50"] <= doc["fsync_ms"]["max"]
    assert not list(tmp_path.glob("fila-floors-*"))  # its scratch file is gone


def test_storage_layout_measures_both_layouts_and_leaves_what_each_keeps(tmp_path: Path) -> None:
    from bench import storage_layout

    # Each layout stores what it claims: after 5 turns of 10, the last turn is still unacked.
    for layout, want_prefixes in (("per-message", {b"M"}), ("segment", {b"S", b"A"})):
        db, wo = storage_layout._open(tmp_path / layout)
        storage_layout.LAYOUTS[layout](db, wo, 50, 10)
        stored = list(db.keys())
        db.close()
        assert {k[:1] for k in stored} == want_prefixes
        live = [k for k in stored if k[:1] in (b"M", b"S")]
        assert len(live) == (10 if layout == "per-message" else 1)

    out = tmp_path / "layout.json"
    assert storage_layout.main(["--messages", "2000", "--batch", "100", "--rounds", "1",
                                "--dir", str(tmp_path), "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["layout"] for r in rows] == ["per-message", "segment"]
    assert all(r["cpu_us_per_msg"] > 0 for r in rows)
    assert not list(tmp_path.glob("fila-layout-*"))  # its scratch databases are gone
