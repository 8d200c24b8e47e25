"""Speed of the whole KPI catalog: ``kw.kpi_table`` on the demo company.

The demo company with 1 M leads (about 90 k opportunities, 2.9 M touches, 1.6 M funnel
events; spend and campaign stats per day and campaign). Times, as medians of several runs in
one process: every catalog KPI by quarter (``kw.kpi_table(ds, period="Q")``), the same by
channel, and building the scorecard widget (``kw.KPIBoard(ds)``: the catalog by quarter plus
the tiles). Target: the whole catalog in under 10 s. The slowest KPIs are listed.

    .venv/bin/python benchmarks/bench_kpis.py [--leads 1_000_000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import kpiwidgets as kw


def _median(fn, repeat: int) -> float:
    spent = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        spent.append(time.perf_counter() - t0)
    return statistics.median(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    ds = kw.load_demo(n_leads=args.leads)
    print(
        f"leads={args.leads:,} opportunities={len(ds.opportunities):,} "
        f"touches={len(ds.touches):,} (demo built in {time.perf_counter() - t0:.1f} s)"
    )
    names = list(kw.kpi_catalog()["name"])
    whole = _median(lambda: kw.kpi_table(ds, period="Q"), args.repeat)
    print(f"kpi_table, {len(names)} KPIs by quarter   median {whole:6.2f} s (target < 10 s)")
    by = _median(lambda: kw.kpi_table(ds, period="Q", by="channel"), args.repeat)
    print(f"kpi_table by channel               median {by:6.2f} s")
    board = _median(lambda: kw.KPIBoard(ds), args.repeat)
    print(f"KPIBoard(ds) built                 median {board:6.2f} s")
    each = []
    for name in names:
        t0 = time.perf_counter()
        kw.kpi(name, ds, period="Q")
        each.append((time.perf_counter() - t0, name))
    print("slowest KPIs (one run each):")
    for spent, name in sorted(each, reverse=True)[:6]:
        print(f"  {name:<28} {spent:6.2f} s")


if __name__ == "__main__":
    main()
