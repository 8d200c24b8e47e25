"""Speed of ``kw.load_demo`` at benchmark scale (target: 1 M leads well under 30 s).

Each run clears the ``(seed, n_leads)`` cache first, so every run generates the company from
scratch and validates it through ``kw.Dataset``. Prints every run, the median, the time of the
generator alone (without Dataset validation) and the row count of each table.

    .venv/bin/python benchmarks/bench_demo.py [--leads 1_000_000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import kpiwidgets as kw
from kpiwidgets.datasets import demo


def _time(fn, runs: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(runs):
        demo._generate.cache_clear()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=lambda s: int(s.replace("_", "")), default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    times, ds = _time(lambda: kw.load_demo(seed=args.seed, n_leads=args.leads), args.runs)
    gen_times, _ = _time(lambda: demo.generate_tables(args.seed, args.leads), args.runs)
    print(f"load_demo(n_leads={args.leads:,}) runs: " + ", ".join(f"{t:.2f}s" for t in times))
    print(f"median load_demo:        {statistics.median(times):.2f}s")
    print(f"median generator only:   {statistics.median(gen_times):.2f}s")
    for name in ds.tables:
        print(f"  {name:<15} {len(ds[name]):>12,} rows")


if __name__ == "__main__":
    main()
