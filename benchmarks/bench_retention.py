"""Speed of ``kw.cohort_retention`` against a hand-written DuckDB query on the same pandas frame.

10 M activity rows over 1 M accounts and three years of months. Both sides run in the same
process on the same frame; the script prints the median of several runs and the ratio
(target: kpiwidgets within 1.5x of the SQL).

    .venv/bin/python benchmarks/bench_retention.py [--rows 10_000_000] [--entities 1_000_000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import duckdb
import numpy as np
import pandas as pd

from kpiwidgets.metrics.retention import cohort_retention

# Same grid as cohort_retention(..., value="mrr") with the default as_of (the last timestamp):
# cells of the period holding it are incomplete.
SQL = """
WITH rows AS (
    SELECT account_id, mrr, year(month) * 12 + month(month) - 1 AS p FROM activity
),
firsts AS (
    SELECT account_id, min(p) AS c FROM rows GROUP BY account_id
),
cells AS (
    SELECT f.c, r.p - f.c AS period_number,
           count(DISTINCT r.account_id) AS retained, sum(r.mrr) AS value
    FROM rows r JOIN firsts f USING (account_id)
    GROUP BY ALL
)
SELECT make_date(c // 12, c % 12 + 1, 1) AS cohort, period_number,
       sum(retained) FILTER (WHERE period_number = 0) OVER w AS cohort_size,
       retained,
       retained / cohort_size AS retention,
       value,
       value / sum(value) FILTER (WHERE period_number = 0) OVER w AS value_retention,
       c + period_number < (SELECT year(max(month)) * 12 + month(max(month)) - 1 FROM activity)
           AS is_complete
FROM cells
WINDOW w AS (PARTITION BY c)
ORDER BY cohort, period_number
"""


def make_activity(rows: int, entities: int, seed: int = 0) -> pd.DataFrame:
    """Accounts joining over 36 months, each active in a random set of later months."""
    rng = np.random.default_rng(seed)
    account = rng.integers(0, entities, rows)
    start = rng.integers(0, 36, entities)  # each account's first month
    offset = np.minimum(rng.geometric(0.25, rows) - 1, 35)
    month_number = np.minimum(start[account] + offset, 35)
    months = pd.date_range("2022-01-01", periods=36, freq="MS").to_numpy()
    return pd.DataFrame(
        {
            "account_id": account,
            "month": months[month_number],
            "mrr": rng.gamma(2.0, 50.0, rows).round(2),
        }
    )


def _median_seconds(runs: list, repeat: int) -> list[float]:
    """Median wall time of each run; runs alternate so background load hits both alike."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeat):
        for run, spent in zip(runs, times, strict=True):
            t0 = time.perf_counter()
            run()
            spent.append(time.perf_counter() - t0)
    return [statistics.median(spent) for spent in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--entities", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    activity = make_activity(args.rows, args.entities)
    con = duckdb.default_connection()

    def sql() -> pd.DataFrame:
        return con.execute(SQL.replace("activity", "activity_df")).df()

    con.register("activity_df", activity)

    def kw() -> pd.DataFrame:
        return cohort_retention(activity, value="mrr")

    # Warm both paths once (imports, DuckDB's pandas scanner) and check they agree.
    # (The SQL has no zero-filled cells; kw's triangle does, so compare the non-empty ones.)
    ours, theirs = kw(), sql()
    filled = ours[ours["retained"] > 0].reset_index(drop=True)
    assert len(filled) == len(theirs), (len(filled), len(theirs))
    assert (filled["retained"].to_numpy() == theirs["retained"].to_numpy()).all()
    assert (filled["is_complete"].to_numpy() == theirs["is_complete"].to_numpy()).all()
    assert np.allclose(filled["value"].to_numpy(), theirs["value"].to_numpy())

    t_kw, t_sql = _median_seconds([kw, sql], args.repeat)
    print(f"rows={args.rows:,} entities={args.entities:,} cells={len(ours)} repeat={args.repeat}")
    print(f"kw.cohort_retention  median {t_kw:.3f} s")
    print(f"DuckDB SQL           median {t_sql:.3f} s")
    print(f"ratio                {t_kw / t_sql:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
