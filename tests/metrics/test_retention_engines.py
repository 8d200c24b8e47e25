"""cohort_retention on every engine, and against an independent DuckDB SQL computation."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

from kpiwidgets.metrics.retention import cohort_retention
from kpiwidgets.metrics.retention_average import average_retention
from tests.conftest import ENGINES
from tests.helpers import to_pandas

SQL_UNIT = {"D": "day", "W": "week", "M": "month", "Q": "quarter", "Y": "year"}


def _generated(rows: int, entities: int, seed: int) -> pd.DataFrame:
    """Entities starting over two years, coming back at random times; whole-number MRR so
    sums are exact in any order."""
    rng = np.random.default_rng(seed)
    entity = rng.integers(0, entities, rows)
    start = rng.integers(0, 700, entities)  # days after 2023-01-01
    later = np.minimum(start[entity] + rng.exponential(90, rows).astype(int), 729)
    seconds = later * 86_400 + rng.integers(0, 86_400, rows)
    return pd.DataFrame(
        {
            "account_id": entity.astype(str),
            "month": pd.Timestamp("2023-01-01") + pd.to_timedelta(seconds, unit="s"),
            "channel": rng.choice(["ads", "web", "events"], rows),
            "mrr": rng.integers(10, 500, rows).astype(float),
        }
    )


SMALL = _generated(3_000, 400, seed=1)


def _engines(frame: pd.DataFrame) -> dict[str, object]:
    polars = pl.from_pandas(frame)
    return {
        "pandas": frame,
        "polars": polars,
        "polars-lazy": polars.lazy(),
        # Its own connection: results must not depend on DuckDB's default one.
        "duckdb": duckdb.connect().from_arrow(polars.to_arrow()),
        **({"spark": ENGINES["spark"].convert(frame)} if "spark" in ENGINES else {}),
    }


def _to_pandas(result: object) -> pd.DataFrame:
    out = to_pandas(result).copy()
    out["cohort"] = out["cohort"].astype("datetime64[us]")
    return out.reset_index(drop=True)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"value": "mrr", "by": "channel"},
        {"mode": "on_or_after"},
        {"mode": "on_or_after", "by": "channel", "period": "W"},
        {"period": "Q", "as_of": "2024-06-15"},
        {"period": "D", "as_of": "2023-03-01"},
    ],
)
def test_every_engine_gives_the_same_grid(kwargs):
    expected_types = {
        "pandas": pd.DataFrame,
        "polars": pl.DataFrame,
        "polars-lazy": pl.LazyFrame,
        "duckdb": duckdb.DuckDBPyRelation,
        **({"spark": ENGINES["spark"].kind} if "spark" in ENGINES else {}),
    }
    results = {}
    for name, frame in _engines(SMALL).items():
        result = cohort_retention(frame, **kwargs)
        assert isinstance(result, expected_types[name]), name
        results[name] = _to_pandas(result)
    reference = results.pop("pandas")
    assert len(reference) > 10
    for name, got in results.items():
        pd.testing.assert_frame_equal(got, reference, check_dtype=False, obj=name)


def test_every_engine_gives_the_same_average_row():
    rows = {}
    for name, frame in _engines(SMALL).items():
        result = cohort_retention(frame, value="mrr")
        average = average_retention(result)
        rows[name] = average if isinstance(average, pd.DataFrame) else _average_pandas(average)
    reference = rows.pop("pandas")
    for name, got in rows.items():
        pd.testing.assert_frame_equal(
            got.reset_index(drop=True), reference, check_dtype=False, obj=name
        )


def _average_pandas(result: object) -> pd.DataFrame:
    return to_pandas(result)


def test_tz_aware_polars_matches_pandas():
    zoned = SMALL["month"].dt.tz_localize("UTC").dt.tz_convert("America/New_York")
    frame = SMALL.assign(month=zoned)
    from_pandas = cohort_retention(frame, value="mrr")
    from_polars = cohort_retention(pl.from_pandas(frame), value="mrr").to_pandas()
    assert str(from_polars["cohort"].dtype.tz) == "America/New_York"
    pd.testing.assert_frame_equal(from_polars, from_pandas, check_dtype=False)


# -- independent computation ------------------------------------------------------------------

LARGE = _generated(100_000, 8_000, seed=7)


def _sql_cells(period: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cells and cohort sizes straight from DuckDB's own calendar functions."""
    unit = SQL_UNIT[period]
    # DuckDB's week truncation starts on Monday (ISO weeks); count weeks as days / 7.
    k = (
        "date_diff('day', f.cohort, a.p) // 7"
        if period == "W"
        else f"date_diff('{unit}', f.cohort, a.p)"
    )
    con = duckdb.connect()
    con.register("t", LARGE)
    base = f"""
        WITH a AS (SELECT account_id, date_trunc('{unit}', month) AS p, mrr FROM t),
             f AS (SELECT account_id, min(p) AS cohort FROM a GROUP BY account_id)
    """
    cells = con.sql(
        base
        + f"""
        SELECT f.cohort, {k} AS period_number,
               count(DISTINCT a.account_id) AS retained, sum(a.mrr) AS value
        FROM a JOIN f USING (account_id) GROUP BY ALL ORDER BY 1, 2
        """
    ).df()
    sizes = con.sql(base + "SELECT cohort, count(*) AS cohort_size FROM f GROUP BY 1").df()
    return cells, sizes


@pytest.mark.parametrize("period", ["D", "W", "M", "Q", "Y"])
def test_grid_agrees_with_duckdb_sql(period):
    ours = cohort_retention(LARGE, period=period, value="mrr")
    cells, sizes = _sql_cells(period)
    cells["cohort"] = cells["cohort"].astype("datetime64[us]")
    sizes["cohort"] = sizes["cohort"].astype("datetime64[us]")

    # Every SQL cell is in our grid with the same count and the same (exact) value sum...
    active = ours[ours["retained"] > 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        active[["cohort", "period_number", "retained", "value"]],
        cells,
        check_dtype=False,
    )
    # ... the rest of our grid is zero cells, one per (cohort, k) up to the last period ...
    last = ours.loc[~ours["is_complete"]].groupby("cohort")["period_number"].max()
    assert (ours.groupby("cohort")["period_number"].max() == last).all()
    assert (ours.groupby("cohort").size() == last + 1).all()
    # ... and the cohort sizes agree.
    got_sizes = ours.groupby("cohort", as_index=False)["cohort_size"].first()
    pd.testing.assert_frame_equal(
        got_sizes, sizes.sort_values("cohort").reset_index(drop=True), check_dtype=False
    )


def test_on_or_after_agrees_with_last_activity_counts():
    ours = cohort_retention(LARGE, mode="on_or_after")
    con = duckdb.connect()
    con.register("t", LARGE)
    # Per entity: cohort month and months until its last activity month.
    entities = con.sql(
        """
        SELECT date_trunc('month', min(month)) AS cohort,
               date_diff('month', date_trunc('month', min(month)), date_trunc('month', max(month)))
                   AS last_k
        FROM t GROUP BY account_id
        """
    ).df()
    entities["cohort"] = entities["cohort"].astype("datetime64[us]")
    expected = [
        int(((entities["cohort"] == cohort) & (entities["last_k"] >= k)).sum())
        for cohort, k in zip(ours["cohort"], ours["period_number"], strict=True)
    ]
    assert ours["retained"].tolist() == expected
