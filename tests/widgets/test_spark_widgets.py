"""The four widgets on PySpark DataFrames (a local Spark session, the one of the test run):
what they show equals DuckDB SQL over the same rows written to Parquet, and the same widget on
pandas. Small data, few interactions: each one runs Spark jobs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import kpiwidgets as kw
from tests.conftest import spark_session
from tests.helpers import click_point
from tests.widgets.test_lazy_inputs import LIFECYCLE, Q4, _reached, cohorts_sql, funnel_sql, sql

pytest.importorskip("pyspark")


@pytest.fixture(scope="module")
def demo():
    return kw.load_demo(n_leads=400)


@pytest.fixture(scope="module")
def folder(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("parquet")
    for table in demo.tables:
        demo[table].to_parquet(out / f"{table}.parquet")
    return out


@pytest.fixture(scope="module")
def spark(demo):
    session = spark_session()
    return kw.Dataset(**{t: session.createDataFrame(demo[t]) for t in demo.tables})


def test_funnel_explorer_on_spark(spark, folder, demo):
    from pyspark.sql import DataFrame

    assert isinstance(spark.funnel_events, DataFrame)
    explorer = kw.FunnelExplorer(spark.funnel_events)
    on_pandas = kw.FunnelExplorer(demo.funnel_events)
    assert explorer.error == "" and explorer.steps == LIFECYCLE
    per_entity = funnel_sql(folder / "funnel_events.parquet", LIFECYCLE, 30)
    assert explorer.result["entities"].tolist() == _reached(per_entity, 5)
    pd.testing.assert_frame_equal(explorer.result, on_pandas.result)
    # A click on step 2: the entities that stopped there, as SQL finds them.
    click_point(explorer.parts["funnel_chart"], "step", step_number=2)
    ids = per_entity.loc[per_entity["furthest"] == 2, "entity_id"].tolist()
    assert explorer.error == "" and explorer.drop_off_count == len(ids)
    assert explorer.drop_offs["entity_id"].tolist() == ids
    explorer.by = on_pandas.by = "channel"
    assert explorer.error == ""
    pd.testing.assert_frame_equal(explorer.result, on_pandas.result)
    explorer.view = on_pandas.view = "Trend"
    assert explorer.error == ""
    got, want = (w.parts["trend_chart"].chart for w in (explorer, on_pandas))
    pd.testing.assert_frame_equal(got.data, want.data)


def test_retention_grid_on_spark(spark, folder, demo):
    grid = kw.RetentionGrid(spark.revenue)
    on_pandas = kw.RetentionGrid(demo.revenue)
    assert grid.error == ""
    pd.testing.assert_frame_equal(grid.result, on_pandas.result)
    expected = cohorts_sql(folder / "revenue.parquet", 1)
    shown = grid.result[grid.result["retained"] > 0].reset_index(drop=True)
    assert shown["retained"].tolist() == expected["retained"].tolist()
    assert shown["period_number"].tolist() == expected["period_number"].tolist()
    grid.period = on_pandas.period = "Q"
    assert grid.error == ""
    pd.testing.assert_frame_equal(grid.result, on_pandas.result)


def test_forecast_tracker_on_spark(spark, folder, demo, tmp_path):
    actuals = kw.actuals_from_opportunities(demo.opportunities)
    actuals.to_parquet(tmp_path / "actuals.parquet")
    tracker = kw.ForecastTracker(
        spark.forecasts, kw.actuals_from_opportunities(spark.opportunities), spark.quotas
    )
    on_pandas = kw.ForecastTracker(demo.forecasts, actuals, demo.quotas)
    assert tracker.error == ""
    expected = sql(
        f"""SELECT owner, sum(f.amount - a.amount) / sum(a.amount) AS bias, count(*) AS n
        FROM read_parquet('{folder}/forecasts.parquet') f
        JOIN read_parquet('{tmp_path}/actuals.parquet') a USING (owner, period)
        WHERE category = 'commit' AND submitted_by = 'rep' GROUP BY owner ORDER BY owner"""
    )
    board = tracker.leaderboard_result
    assert board["owner"].tolist() == expected["owner"].tolist()
    assert board["n"].tolist() == expected["n"].tolist()
    np.testing.assert_allclose(board["bias"], expected["bias"])
    owner = expected["owner"].iloc[0]
    click_point(tracker.parts["leaderboard_chart"], "owner_pick", owner=owner)
    on_pandas.owner = owner
    assert tracker.owner == owner and tracker.error == ""
    for frame in ("result", "leaderboard_result", "periods_result"):
        pd.testing.assert_frame_equal(getattr(tracker, frame), getattr(on_pandas, frame))


# A few KPIs, one of each path (counts, sums, a ratio, a "largest" headline): the whole
# catalog on Spark is tests/metrics/test_catalog_engines.py's.
KPIS = ["leads", "revenue", "opportunity_win_rate", "revenue_share"]


def test_kpi_board_on_spark(spark, folder, demo):
    board = kw.KPIBoard(spark, kpis=KPIS)
    on_pandas = kw.KPIBoard(demo, kpis=KPIS)
    assert board.error == ""
    pd.testing.assert_frame_equal(board.result, on_pandas.result)
    tiles = board.result.set_index("kpi")
    q4 = f"BETWEEN TIMESTAMP '{Q4}' AND TIMESTAMP '2025-12-31 23:59:59.999999'"
    leads = sql(f"SELECT count(*) FROM '{folder}/leads.parquet' WHERE created_at {q4}")
    assert tiles.loc["leads", "value"] == leads.iloc[0, 0]
    board._buttons["leads"].click()
    board.breakdown = on_pandas.breakdown = "channel"
    on_pandas.selected = "leads"
    assert board.selected == "leads" and board.error == ""
    pd.testing.assert_frame_equal(board.detail_result, on_pandas.detail_result)
