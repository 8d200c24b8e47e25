"""Speed of ``kw.read_dataset`` on a day-first leads export against plain pandas.

Writes the demo company's leads (1 M by default) as a CSV whose four date columns are written
day-first (``26-02-2024 13:05:09``), then times, interleaved in one process:

* reference: ``pandas.read_csv`` (ids as text) + ``pandas.to_datetime`` with the explicit
  format on each date column — what a careful analyst would write knowing the format;
* ours: ``kw.read_dataset(folder)``, which infers the day-first order from the values,
  validates the table and runs the quality checks.

Both must give the same timestamps (checked). Prints each median and the ratio ours /
reference (target: within 1.5x).

    .venv/bin/python benchmarks/bench_read.py [--leads 1_000_000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

import kpiwidgets as kw

FORMAT = "%d-%m-%Y %H:%M:%S"
DATES = ["created_at", "mql_at", "sql_at", "first_response_at"]


def reference(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={"lead_id": "str", "opportunity_id": "str"})
    for column in DATES:
        frame[column] = pd.to_datetime(frame[column], format=FORMAT)
    return frame


def ours(folder: Path) -> pd.DataFrame:
    return kw.read_dataset(folder).leads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=lambda s: int(s.replace("_", "")), default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    leads = kw.load_demo(n_leads=args.leads).leads.copy()
    for column in DATES:
        leads[column] = leads[column].dt.strftime(FORMAT)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "leads.csv"
        leads.to_csv(path, index=False)
        size = path.stat().st_size / 2**20
        print(f"leads.csv: {len(leads):,} rows, {size:.0f} MiB, dates written {FORMAT!r}")
        times: dict[str, list[float]] = {"reference": [], "read_dataset": []}
        results = {}
        for _ in range(args.runs):
            for name, run in (
                ("reference", lambda: reference(path)),
                ("read_dataset", lambda: ours(folder)),
            ):
                start = time.perf_counter()
                results[name] = run()
                times[name].append(time.perf_counter() - start)
        for column in DATES:
            pd.testing.assert_series_equal(
                results["reference"][column], results["read_dataset"][column], check_dtype=False
            )
        medians = {k: statistics.median(v) for k, v in times.items()}
        for name, values in times.items():
            runs = ", ".join(f"{t:.2f}" for t in values)
            print(f"{name:>13}: median {medians[name]:.2f} s  (runs: {runs})")
        print(
            f"ratio read_dataset / reference: {medians['read_dataset'] / medians['reference']:.2f}"
        )


if __name__ == "__main__":
    main()
