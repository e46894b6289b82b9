"""`python -m bench` runs end to end and writes results of the documented shape.

Not a performance test: it checks the suite works (one cheap scenario, --quick), not numbers.
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
