"""The benchmark suite runs and its checks hold at a small size: every case's kpiwidgets call
gives the reference's numbers (DuckDB SQL written from the docs; retentioneering where it is
installed). The timings are not looked at here (these machines are noisy)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_suite_runs_and_every_case_matches_its_reference():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--scale", "0.002", "--repeat", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith(("funnel", "cohort"))]
    names = {line[:38].strip() for line in rows}
    assert {"funnel ordered/first", "funnel strict", "funnel any", "funnel ordered/best"} <= names
    assert sum(name.startswith("cohort_retention") for name in names) == 4
    for case in ("mrr_movements", "forecast_accuracy", "KPI catalog, demo company"):
        assert case in done.stdout
