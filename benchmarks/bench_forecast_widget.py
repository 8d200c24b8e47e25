"""Speed of ForecastTracker: building it, and settings changes that need no recompute.

Forecasts for 200 owners × 12 quarters × 13 weekly snapshots × 3 categories (93,600 rep
calls, plus manager adjustments of about a quarter of the later commit calls), their actuals
and quotas, generated here with a fixed seed. Each change is timed from setting the traitlet
until the widget holds its new frames and chart specs (what is sent to the page), median of
several runs. Targets: the whole tracker builds in < 2 s; a change that needs no recompute
(the metric) redraws in < 300 ms. Changes that filter (owner, week, aggregate) are printed
too: each first use of a value computes its views once, later uses are cached.

    .venv/bin/python benchmarks/bench_forecast_widget.py [--owners 200] [--quarters 12]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

from kpiwidgets.widgets.forecast import ForecastTracker


def make_forecasts(
    owners: int, quarters: int, weeks: int = 13, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(forecasts, actuals, quotas) for ``owners`` reps over ``quarters`` quarters."""
    rng = np.random.default_rng(seed)
    names = np.array([f"rep{i:04d}" for i in range(owners)])
    starts = pd.date_range("2023-01-01", periods=quarters, freq="QS")
    actual = rng.lognormal(12, 0.6, (owners, quarters)).round(-2)
    habit = rng.normal(1.0, 0.15, owners)
    o, q, w = np.indices((owners, quarters, weeks)).reshape(3, -1)
    progress = w / (weeks - 1)
    commit = (
        actual[o, q] * habit[o] * np.exp(rng.normal(0, 1, o.size) * (0.35 * (1 - progress) + 0.04))
    )
    snapshot = starts[q] + pd.to_timedelta(7 * w + 3, unit="D")
    frames = []
    for category, factor in (("commit", 1.0), ("best_case", 1.25), ("pipeline", 3.0)):
        frames.append(
            pd.DataFrame(
                {
                    "owner": names[o],
                    "period": starts[q],
                    "snapshot_date": snapshot,
                    "category": category,
                    "amount": (commit * factor).round(-2),
                    "submitted_by": "rep",
                }
            )
        )
    adjust = (progress >= 0.3) & (rng.random(o.size) < 0.25)
    frames.append(
        frames[0][adjust].assign(
            amount=((commit + 0.5 * (actual[o, q] - commit))[adjust]).round(-2),
            submitted_by="manager",
        )
    )
    forecasts = pd.concat(frames, ignore_index=True)
    oo, qq = np.indices((owners, quarters)).reshape(2, -1)
    actuals = pd.DataFrame({"owner": names[oo], "period": starts[qq], "amount": actual[oo, qq]})
    quotas = actuals.assign(quota=(actuals["amount"] * 1.1).round(-3)).drop(columns="amount")
    return forecasts, actuals, quotas


def _median_ms(tracker: ForecastTracker, name: str, values: list, repeat: int) -> float:
    spent = []
    for i in range(repeat * len(values)):
        t0 = time.perf_counter()
        setattr(tracker, name, values[i % len(values)])
        spent.append(time.perf_counter() - t0)
        assert tracker.error == "", tracker.error
    return statistics.median(spent) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--owners", type=int, default=200)
    parser.add_argument("--quarters", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    forecasts, actuals, quotas = make_forecasts(args.owners, args.quarters)
    print(f"owners={args.owners} quarters={args.quarters} calls={len(forecasts):,}")
    builds = []
    for _ in range(3):
        t0 = time.perf_counter()
        tracker = ForecastTracker(forecasts, actuals, quotas)
        builds.append(time.perf_counter() - t0)
        assert tracker.error == "", tracker.error
    build = statistics.median(builds) * 1000
    print(f"build (median of 3)               {build:8.0f} ms (target < 2000)")
    owners = sorted(forecasts["owner"].unique())[:3]
    changes = [
        ("metric (no recompute)", "metric", ["wape", "bias", "attainment", "accuracy"]),
        ("view (tab only)", "view", ["trend", "periods"]),
        ("owner (cached after first)", "owner", [*owners, None]),
        ("week (cached after first)", "week", [4, 8, None]),
    ]
    for label, name, values in changes:
        ms = _median_ms(tracker, name, values, args.repeat)
        target = " (target < 300)" if name == "metric" else ""
        print(f"{label:<27} median {ms:8.1f} ms{target}")
    t0 = time.perf_counter()
    tracker.aggregate = "pooled"
    first = (time.perf_counter() - t0) * 1000
    print(f"for reference, first aggregate=pooled  {first:8.0f} ms")


if __name__ == "__main__":
    main()
