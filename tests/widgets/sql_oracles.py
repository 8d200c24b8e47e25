"""Independent answers for the widget tests on other engines: DuckDB SQL over the demo
company's tables written to Parquet, on a connection of its own (not the widgets' default),
and the checks that compare a widget's result with them."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

LIFECYCLE = ["lead", "mql", "sql", "opportunity", "won"]
Q4 = "2025-10-01"
#: The demo's last quarter, as a SQL condition on a timestamp.
IN_Q4 = f"BETWEEN TIMESTAMP '{Q4}' AND TIMESTAMP '2025-12-31 23:59:59.999999'"


def write_parquet(demo, folder: Path) -> Path:
    """Every table of ``demo`` as ``folder/<table>.parquet``."""
    for table in demo.tables:
        demo[table].to_parquet(folder / f"{table}.parquet")
    return folder


def sql(query: str) -> pd.DataFrame:
    """An independent answer: DuckDB SQL on a fresh connection (not the widgets' default)."""
    return duckdb.connect().sql(query).df()


def funnel_sql(path, steps, days, by=None) -> pd.DataFrame:
    """Per entity: its entry's ``by`` value and furthest step of an ordered, first-entry
    funnel (step k: the first k-event at or after step k-1, within ``days`` of the entry)."""
    first = "(SELECT min(%s) FROM e WHERE e.entity_id = s.entity_id AND e.event = '%s' AND %s)"
    ctes = [
        f"e AS (SELECT * FROM '{path}' WHERE entity_id NOT NULL AND event NOT NULL "
        "AND timestamp NOT NULL)",
        f"s1 AS (SELECT entity_id, min(timestamp) AS t1 FROM e WHERE event = '{steps[0]}' "
        "GROUP BY entity_id)",
    ]
    for k, step in enumerate(steps[1:], start=2):
        after = first % ("timestamp", step, f"e.timestamp >= s.t{k - 1}")
        ctes.append(f"s{k} AS (SELECT s.*, {after} AS t{k} FROM s{k - 1} s)")
    reached = " + ".join(
        f"(t{k} NOT NULL AND t{k} <= t1 + INTERVAL {days} DAY)::INT"
        for k in range(2, len(steps) + 1)
    )
    # The entry row's value (the smallest of tied entry rows).
    group = first % (by, steps[0], "e.timestamp = s.t1") if by else "NULL"
    return sql(
        f"WITH {', '.join(ctes)} SELECT entity_id, {group} AS grp, 1 + {reached} AS furthest "
        f"FROM s{len(steps)} s ORDER BY entity_id"
    )


def reached(per_entity: pd.DataFrame, n_steps: int) -> list[int]:
    return [int((per_entity["furthest"] >= k).sum()) for k in range(1, n_steps + 1)]


def cohorts_sql(path, months: int) -> pd.DataFrame:
    """Retained accounts per (cohort, period number): first active period, then each period
    an account is active in (periods of ``months`` months, calendar-aligned)."""
    unit = {1: "month", 3: "quarter"}[months]
    index = f"(year(%s) * 12 + month(%s) - 1) // {months}"
    return sql(
        f"""WITH a AS (SELECT account_id, month AS m FROM read_parquet('{path}')
                       WHERE account_id IS NOT NULL AND month IS NOT NULL),
           c AS (SELECT account_id, min(m) AS first FROM a GROUP BY 1)
        SELECT date_trunc('{unit}', c.first) AS cohort,
               {index % ("a.m", "a.m")} - {index % ("c.first", "c.first")} AS period_number,
               count(DISTINCT a.account_id) AS retained
        FROM a JOIN c USING (account_id) GROUP BY ALL ORDER BY ALL"""
    )


def assert_cohorts_equal_sql(result: pd.DataFrame, folder: Path, months: int) -> pd.DataFrame:
    """A retention grid's non-empty cells are the SQL cohorts of ``revenue.parquet``
    (returned)."""
    expected = cohorts_sql(folder / "revenue.parquet", months)
    shown = result[result["retained"] > 0].reset_index(drop=True)
    assert shown["retained"].tolist() == expected["retained"].tolist()
    assert shown["period_number"].tolist() == expected["period_number"].tolist()
    assert (shown["cohort"] == pd.to_datetime(expected["cohort"])).all()
    return expected


def assert_leaderboard_equals_sql(board: pd.DataFrame, folder: Path, actuals: Path) -> None:
    """The forecast leaderboard: each owner's rep commit calls joined to their quarter's
    actual (``actuals``: a Parquet file of ``actuals_from_opportunities``)."""
    expected = sql(
        f"""SELECT owner, sum(f.amount - a.amount) / sum(a.amount) AS bias, count(*) AS n
        FROM read_parquet('{folder}/forecasts.parquet') f
        JOIN read_parquet('{actuals}') a USING (owner, period)
        WHERE category = 'commit' AND submitted_by = 'rep' GROUP BY owner ORDER BY owner"""
    )
    assert board["owner"].tolist() == expected["owner"].tolist()
    assert board["n"].tolist() == expected["n"].tolist()
    np.testing.assert_allclose(board["bias"], expected["bias"])


def leads_in_q4(folder: Path) -> int:
    """Leads created in the demo's last quarter, by SQL."""
    return sql(f"SELECT count(*) FROM '{folder}/leads.parquet' WHERE created_at {IN_Q4}").iloc[0, 0]
