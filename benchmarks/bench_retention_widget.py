"""Speed of RetentionGrid control changes that need no rescan of the activity.

10 M activity rows over 1 M accounts (``benchmarks.data.activity``, month-start) plus an
acquisition channel per account. The grid scans the activity once per (period, mode); after
that, show (percent/count), the breakdown filter, the measure, the cohort range and the
selected cohort are derived from the cached frame. Each change is timed from setting the
traitlet until the widget holds its new result and chart specs (what is sent to the page),
median of several runs. Target: < 300 ms.

    .venv/bin/python benchmarks/bench_retention_widget.py [--rows 10_000_000] [--entities 1_000_000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1]))
from benchmarks.data import activity as make_activity
from kpiwidgets.widgets.retention import RetentionGrid

CHANNELS = np.array(["content", "events", "outbound", "paid_search", "paid_social", "referral"])


def _median_ms(grid: RetentionGrid, name: str, values: list, repeat: int) -> float:
    spent = []
    for i in range(repeat * len(values)):
        value = values[i % len(values)]
        t0 = time.perf_counter()
        setattr(grid, name, value)
        spent.append(time.perf_counter() - t0)
        assert grid.error == "", grid.error
    return statistics.median(spent) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--entities", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    activity = make_activity(args.rows, args.entities, month_start=True)
    rng = np.random.default_rng(1)
    # The channel of each account, repeated on its activity rows.
    activity["channel"] = CHANNELS[rng.integers(0, len(CHANNELS), args.entities)][
        activity["account_id"].to_numpy()
    ]

    t0 = time.perf_counter()
    grid = RetentionGrid(activity, by="channel")
    first = time.perf_counter() - t0
    print(f"rows={args.rows:,} entities={args.entities:,} repeat={args.repeat}")
    print(f"first draw (one scan, by=channel, value=mrr)   {first * 1000:8.0f} ms")

    cohorts = sorted(grid.result["cohort"].unique())
    changes = [
        ("show", ["count", "percent"]),
        ("breakdown", ["referral", "paid_search", None]),
        ("measure", ["revenue", "customers"]),
        ("cohort_start", [cohorts[6], None]),
        ("selected_cohort", [cohorts[3], cohorts[10], None]),
    ]
    worst = 0.0
    for name, values in changes:
        ms = _median_ms(grid, name, values, args.repeat)
        worst = max(worst, ms)
        print(f"{name:<16} median {ms:8.1f} ms")
    print(f"slowest no-rescan change: {worst:.1f} ms (target < 300 ms)")
    t0 = time.perf_counter()
    grid.period = "Q"
    rescan = (time.perf_counter() - t0) * 1000
    print(f"for reference, a rescan (period -> Q)          {rescan:8.0f} ms")


if __name__ == "__main__":
    main()
