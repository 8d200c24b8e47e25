"""The widgets on lazy tables, ``kw.read_dataset(folder, engine="duckdb" | "polars")`` over
Parquet files: driven as the other widget tests drive them (settings, clicks, drill-downs,
views), what they show equals DuckDB SQL over the same files (on a connection of its own) and
the same widget on pandas.

That the raw rows are not collected is shown without mocking an engine: every table gets a
column no engine can compute (DuckDB's ``error()``, a polars UDF that raises), so a query
reading whole rows fails while aggregates of the other columns run; and every frame the
widget keeps (eager, or data in memory on the engine) is counted: at most a row per entity,
where the inputs hold twenty rows per entity.
"""

from __future__ import annotations

import gc
import re
import types

import duckdb
import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import kpiwidgets as kw
from tests.helpers import click_point
from tests.widgets.sql_oracles import (
    IN_Q4,
    LIFECYCLE,
    Q4,
    assert_cohorts_equal_sql,
    assert_leaderboard_equals_sql,
    funnel_sql,
    leads_in_q4,
    reached,
    sql,
    write_parquet,
)


@pytest.fixture(scope="module")
def demo():
    return kw.load_demo(n_leads=1_000)


@pytest.fixture(scope="module")
def folder(demo, tmp_path_factory):
    return write_parquet(demo, tmp_path_factory.mktemp("parquet"))


@pytest.fixture(scope="module")
def rich(demo, tmp_path_factory):
    """Many rows per entity: the funnel events plus 20 page views per lead, and each month's
    MRR split over 10 rows (the same retention, ten times the activity rows)."""
    out = tmp_path_factory.mktemp("rich")
    events = demo.funnel_events
    leads = events[events["event"] == "lead"]
    views = leads.loc[leads.index.repeat(20)].assign(event="page_view")
    offsets = np.random.default_rng(3).integers(0, 90 * 86_400, len(views))
    views["timestamp"] += pd.to_timedelta(offsets, unit="s")
    pd.concat([events, views], ignore_index=True).to_parquet(out / "funnel_events.parquet")
    revenue = demo.revenue.loc[demo.revenue.index.repeat(10)]
    revenue.assign(mrr=revenue["mrr"] / 10).to_parquet(out / "revenue.parquet")
    return out


@pytest.fixture(scope="module", params=["duckdb", "polars"])
def lazy(request, folder):
    return kw.read_dataset(folder, engine=request.param)


# -- the funnel ----------------------------------------------------------------------------


def test_funnel_numbers_equal_sql_over_the_parquet_file(lazy, folder, demo):
    path = folder / "funnel_events.parquet"
    explorer = kw.FunnelExplorer(lazy.funnel_events)
    on_pandas = kw.FunnelExplorer(demo.funnel_events)
    assert explorer.error == "" and explorer.steps == LIFECYCLE
    per_entity = funnel_sql(path, LIFECYCLE, 30)
    assert explorer.result["entities"].tolist() == reached(per_entity, 5)
    assert f"{len(per_entity):,} entered" in explorer.status
    for name, value in [("window", "7D"), ("by", "channel")]:
        setattr(explorer, name, value)
        setattr(on_pandas, name, value)
        assert explorer.error == ""
        pd.testing.assert_frame_equal(explorer.result, on_pandas.result)
    per_entity = funnel_sql(path, LIFECYCLE, 7, by="channel")
    groups = explorer.result[~explorer.result["overall"]]
    for channel, rows in per_entity.groupby("grp"):
        shown = groups.loc[groups["channel"] == channel, "entities"].tolist()
        assert shown == reached(rows, 5), channel
    # The chart draws one bar per channel and step.
    spec = explorer.parts["funnel_chart"].chart.to_dict()
    assert len(spec["datasets"][spec["data"]["name"]]) == 5 * per_entity["grp"].nunique()


@pytest.mark.parametrize("order", ["ordered", "any"])
def test_funnel_drill_down_shows_the_sql_count_and_first_ids(lazy, folder, demo, order):
    per_entity = funnel_sql(folder / "funnel_events.parquet", LIFECYCLE, 30)
    explorer = kw.FunnelExplorer(lazy.funnel_events, order=order)
    on_pandas = kw.FunnelExplorer(demo.funnel_events, order=order)
    for k in range(1, 6):
        click_point(explorer.parts["funnel_chart"], "step", step_number=k)
        on_pandas.selected_step = k
        assert explorer.selected_step == k and explorer.error == ""
        ids = per_entity.loc[per_entity["furthest"] == k, "entity_id"].tolist()
        if order == "ordered":  # on this log (each step once) "any" may count more
            assert explorer.drop_off_count == len(ids)
        assert explorer.drop_off_count == on_pandas.drop_off_count
        assert f"{explorer.drop_off_count:,} entities" in explorer.parts["drill"].value
        assert explorer.parts["drill"].value == on_pandas.parts["drill"].value
        shown = re.findall(r"<tr>\s*<td>([^<]*)</td>", explorer.parts["drill"].value)
        assert len(shown) == min(10, explorer.drop_off_count)
        if order == "ordered":
            assert shown == ids[:10]
            assert explorer.drop_offs["entity_id"].tolist() == ids  # the CSV: the whole list


def test_funnel_views_equal_sql_and_the_pandas_widget(lazy, folder, demo):
    explorer = kw.FunnelExplorer(lazy.funnel_events, window="60D", by="segment", freq="M")
    on_pandas = kw.FunnelExplorer(demo.funnel_events, window="60D", by="segment", freq="M")
    converted = reached(funnel_sql(folder / "funnel_events.parquet", LIFECYCLE, 60), 5)[-1]
    for view, part in [("Trend", "trend_chart"), ("Time to convert", "time_chart")]:
        explorer.view = on_pandas.view = view
        assert explorer.error == ""
        got, want = (w.parts[part].chart for w in (explorer, on_pandas))
        pd.testing.assert_frame_equal(got.data, want.data)
    assert f"<td>{converted}</td>" in explorer.parts["time_summary"].value
    assert explorer.parts["time_summary"].value == on_pandas.parts["time_summary"].value
    explorer.view = on_pandas.view = "Segments"
    assert explorer.parts["segments"].value == on_pandas.parts["segments"].value
    explorer.order, on_pandas.order = "strict", "strict"
    explorer.attempts, on_pandas.attempts = "best", "best"
    explorer.start, on_pandas.start = "2024-06-01", "2024-06-01"
    assert explorer.error == ""
    pd.testing.assert_frame_equal(explorer.result, on_pandas.result)
    assert explorer.status == on_pandas.status


# -- cohort retention ----------------------------------------------------------------------


@pytest.mark.parametrize("period", ["M", "Q"])
def test_retention_grid_equals_sql_cohorts(lazy, folder, demo, period):
    grid = kw.RetentionGrid(lazy.revenue, period=period)
    on_pandas = kw.RetentionGrid(demo.revenue, period=period)
    assert grid.error == ""
    pd.testing.assert_frame_equal(grid.result, on_pandas.result)
    expected = assert_cohorts_equal_sql(grid.result, folder, 1 if period == "M" else 3)
    sizes = expected[expected["period_number"] == 0].set_index("cohort")["retained"]
    cohort = pd.Timestamp(sizes.index[1])
    click_point(grid.parts["grid_chart"], "cohort_pick", cohort=str(cohort.date()))
    assert grid.selected_cohort == cohort
    label = f"{cohort:%Y-%m}" if period == "M" else f"{cohort.year}-Q{(cohort.month + 2) // 3}"
    assert f"selected {label} ({sizes.iloc[1]:,} accounts)" in grid.status
    grid.measure = on_pandas.measure = "revenue"
    grid.show = on_pandas.show = "count"
    pd.testing.assert_frame_equal(grid.result, on_pandas.result)
    pd.testing.assert_frame_equal(grid.average_result, on_pandas.average_result)


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_retention_grid_by_channel_from_lazy_opportunities(folder, demo, engine):
    ds = kw.read_dataset(folder, engine=engine)
    won = nw.from_native(ds.opportunities).filter(nw.col("status") == "won")
    accounts = won.select("account_id", "channel").to_native()
    grid = kw.RetentionGrid(ds.revenue, by="channel", attributes=accounts)
    if grid.error:
        raise duckdb.InvalidInputException(grid.error)  # shown in the widget, as designed
    pandas_won = demo.opportunities[demo.opportunities["status"] == "won"]
    on_pandas = kw.RetentionGrid(
        demo.revenue, by="channel", attributes=pandas_won[["account_id", "channel"]]
    )
    grid.breakdown = on_pandas.breakdown = "referral"
    pd.testing.assert_frame_equal(grid.result, on_pandas.result)


# -- forecasts ------------------------------------------------------------------------------


def test_forecast_tracker_equals_sql_scoring(lazy, folder, demo, tmp_path):
    actuals = kw.actuals_from_opportunities(demo.opportunities)
    actuals.to_parquet(tmp_path / "actuals.parquet")
    tracker = kw.ForecastTracker(
        lazy.forecasts, kw.actuals_from_opportunities(lazy.opportunities), lazy.quotas
    )
    on_pandas = kw.ForecastTracker(demo.forecasts, actuals, demo.quotas)
    assert tracker.error == ""
    # The leaderboard: each owner's rep commit calls joined to their quarter's actual.
    assert_leaderboard_equals_sql(tracker.leaderboard_result, folder, tmp_path / "actuals.parquet")
    click_point(tracker.parts["leaderboard_chart"], "owner_pick", owner="Ava Chen")
    assert tracker.owner == "Ava Chen"
    won = sql(
        f"""SELECT date_trunc('quarter', closed_at) AS period, sum(amount) AS won
        FROM read_parquet('{folder}/opportunities.parquet')
        WHERE status = 'won' AND owner = 'Ava Chen' GROUP BY ALL"""
    ).set_index("period")["won"]
    periods = tracker.periods_result
    assert (periods["actual"] == [won.get(p, 0.0) for p in periods["period"]]).all()
    on_pandas.owner = "Ava Chen"
    for name, value in [("metric", "bias"), ("week", 6), ("aggregate", "pooled")]:
        setattr(tracker, name, value)
        setattr(on_pandas, name, value)
    for view in ("periods", "trend", "managers", "projection"):
        tracker.view = on_pandas.view = view
        assert tracker.error == ""
    for frame in ("result", "leaderboard_result", "periods_result", "trend_result",
                  "managers_result", "projection_result", "projection_owners"):  # fmt: skip
        pd.testing.assert_frame_equal(getattr(tracker, frame), getattr(on_pandas, frame))
    assert tracker.status == on_pandas.status


# -- the KPI scorecard ---------------------------------------------------------------------


def test_kpi_board_tiles_equal_sql(lazy, folder, demo):
    board = kw.KPIBoard(lazy)  # the whole catalog
    on_pandas = kw.KPIBoard(demo)
    assert board.error == ""
    pd.testing.assert_frame_equal(board.result, on_pandas.result)
    tiles = board.result.set_index("kpi")
    assert tiles.loc["leads", "value"] == leads_in_q4(folder)
    won, rate = sql(
        f"""SELECT sum(amount) FILTER (WHERE status = 'won'),
               count(*) FILTER (WHERE status = 'won') / count(*)
        FROM read_parquet('{folder}/opportunities.parquet')
        WHERE status IN ('won', 'lost') AND closed_at {IN_Q4}"""
    ).iloc[0]
    assert tiles.loc["revenue", "value"] == won
    assert tiles.loc["opportunity_win_rate", "value"] == pytest.approx(rate)
    # A click on the leads tile's Details, then a breakdown: the detail per channel.
    board._buttons["leads"].click()
    board.breakdown = "channel"
    on_pandas.selected, on_pandas.breakdown = "leads", "channel"
    assert board.selected == "leads" and board.error == ""
    pd.testing.assert_frame_equal(board.detail_result, on_pandas.detail_result)
    query = f"SELECT channel, count(*) AS n FROM '{folder}/leads.parquet' WHERE created_at {IN_Q4}"
    per_channel = sql(query + " GROUP BY channel").set_index("channel")["n"]
    detail = board.detail_result
    at_q4 = detail[detail["period"] == pd.Timestamp(Q4)].set_index("channel")["value"]
    assert at_q4.sort_index().tolist() == per_channel.sort_index().tolist()
    board.period = on_pandas.period = "M"
    pd.testing.assert_frame_equal(board.result, on_pandas.result)
    assert board.parts["detail_table"].value == on_pandas.parts["detail_table"].value


def test_kpi_board_with_every_kpi_on_duckdb(folder, demo):
    board = kw.KPIBoard(kw.read_dataset(folder, engine="duckdb"))
    assert board.error == ""
    pd.testing.assert_frame_equal(board.result, kw.KPIBoard(demo).result)


# -- nothing but aggregates is collected -----------------------------------------------------


def _refuse(_series):
    raise RuntimeError("the raw rows were collected")


def _poisoned(ds) -> kw.Dataset:
    """Every table plus a column no engine can compute: reading whole rows fails."""
    tables = {}
    for name in ds.tables:
        table = ds[name]
        if isinstance(table, duckdb.DuckDBPyRelation):
            tables[name] = table.project("*, CAST(error('raw rows collected') AS BIGINT) AS poison")
        else:
            udf = pl.first().map_batches(_refuse, return_dtype=pl.Int64)
            tables[name] = table.with_columns(udf.alias("poison"))
    return kw.Dataset(**tables)


_NOT_DATA = (type, types.ModuleType, types.FunctionType, types.MethodType, types.CodeType)


def _kept_rows(widget) -> list[int]:
    """The rows of every frame the widget keeps in memory: eager frames, and lazy ones that
    are data in memory on their engine (not a plan over the Parquet files)."""
    seen, todo, rows = {id(widget)}, [widget], []
    while todo:
        obj = todo.pop()
        if isinstance(obj, (pd.DataFrame, pl.DataFrame, pa.Table, np.ndarray, pa.ChunkedArray)):
            rows.append(len(obj) if getattr(obj, "ndim", 1) else 1)
            continue
        if isinstance(obj, (pl.LazyFrame, duckdb.DuckDBPyRelation)):
            plan = obj.explain() if isinstance(obj, pl.LazyFrame) else obj.sql_query()
            if "parquet" not in plan.lower():
                rows.append(int(nw.from_native(obj).select(nw.len()).collect().item()))
        for ref in gc.get_referents(obj):
            if id(ref) not in seen and not isinstance(ref, (*_NOT_DATA, str, bytes, int, float)):
                seen.add(id(ref))
                todo.append(ref)
    return rows


@pytest.mark.parametrize("engine", ["duckdb", "polars"])
def test_the_funnel_keeps_at_most_a_row_per_entity_and_reads_no_raw_rows(rich, engine):
    ds = _poisoned(kw.read_dataset(rich, engine=engine))
    n_events, n_entities = sql(
        f"SELECT count(*), count(DISTINCT entity_id) FROM '{rich}/funnel_events.parquet'"
    ).iloc[0]
    assert n_events > 15 * n_entities
    # (Monthly trend: its aggregate, months x channels x steps, stays below the entities too.)
    explorer = kw.FunnelExplorer(ds.funnel_events, window="90D", freq="M")
    changes = [("by", "channel"), ("selected_step", 2), ("window", "14D"), ("order", "any"),
               ("selected_step", 5), ("attempts", "best"), ("view", "Trend"),
               ("view", "Time to convert"), ("view", "Segments"), ("order", "strict")]  # fmt: skip
    for name, value in changes:
        setattr(explorer, name, value)
        assert explorer.error == "", (name, explorer.error)
    explorer._prepare_csv()  # the whole drop-off list of step 5, on demand
    assert "Download" in explorer.parts["download"].value
    assert 0 < max(_kept_rows(explorer)) <= n_entities


@pytest.mark.parametrize("engine", ["duckdb", "polars"])
def test_retention_keeps_the_grid_not_the_activity(rich, engine):
    ds = _poisoned(kw.read_dataset(rich, engine=engine))
    (n_rows,) = sql(f"SELECT count(*) FROM '{rich}/revenue.parquet'").iloc[0]
    grid = kw.RetentionGrid(ds.revenue)
    for name, value in [("period", "Q"), ("measure", "revenue"), ("period", "W")]:
        setattr(grid, name, value)
        assert grid.error == "", (name, grid.error)
    # The largest frame kept is the weekly grid (or its chart: the grid and the average row).
    drawn = len(grid.result) + len(grid.average_result)
    assert 0 < max(_kept_rows(grid)) <= drawn < n_rows / 3


def test_tracker_and_board_read_no_raw_rows(lazy):
    ds = _poisoned(lazy)
    tracker = kw.ForecastTracker(
        ds.forecasts, kw.actuals_from_opportunities(ds.opportunities), ds.quotas
    )
    for name, value in [("owner", "Ava Chen"), ("view", "trend"), ("view", "managers"),
                        ("view", "projection"), ("category", "best_case")]:  # fmt: skip
        setattr(tracker, name, value)
        assert tracker.error == "", (name, tracker.error)
    board = kw.KPIBoard(ds)
    for name, value in [("selected", "revenue"), ("breakdown", "channel"), ("period", "M")]:
        setattr(board, name, value)
        assert board.error == "", (name, board.error)
