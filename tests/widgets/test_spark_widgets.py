"""The four widgets on PySpark DataFrames (a local Spark session, the one of the test run):
what they show equals DuckDB SQL over the same rows written to Parquet, and the same widget on
pandas. Small data, few interactions: each one runs Spark jobs.
"""

from __future__ import annotations

import pandas as pd
import pytest

import kpiwidgets as kw
from tests.conftest import spark_session
from tests.helpers import click_point
from tests.widgets.sql_oracles import (
    LIFECYCLE,
    assert_cohorts_equal_sql,
    assert_leaderboard_equals_sql,
    funnel_sql,
    leads_in_q4,
    reached,
    write_parquet,
)

pytest.importorskip("pyspark")


@pytest.fixture(scope="module")
def demo():
    return kw.load_demo(n_leads=400)


@pytest.fixture(scope="module")
def folder(demo, tmp_path_factory):
    return write_parquet(demo, tmp_path_factory.mktemp("parquet"))


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
    assert explorer.result["entities"].tolist() == reached(per_entity, 5)
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
    assert_cohorts_equal_sql(grid.result, folder, 1)
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
    board = tracker.leaderboard_result
    assert_leaderboard_equals_sql(board, folder, tmp_path / "actuals.parquet")
    owner = board["owner"].iloc[0]
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
    assert tiles.loc["leads", "value"] == leads_in_q4(folder)
    board._buttons["leads"].click()
    board.breakdown = on_pandas.breakdown = "channel"
    on_pandas.selected = "leads"
    assert board.selected == "leads" and board.error == ""
    pd.testing.assert_frame_equal(board.detail_result, on_pandas.detail_result)
