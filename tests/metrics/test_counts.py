"""count_by_period, checked against DuckDB SQL on generated data and on every engine."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

import kpiwidgets as kw
from kpiwidgets.metrics.counts import count_by_period


@pytest.fixture(scope="module")
def leads():
    rng = np.random.default_rng(7)
    n = 5_000
    start = np.datetime64("2024-01-01T00:00:00")
    offsets = rng.integers(0, 400 * 24 * 3600, n).astype("timedelta64[s]")
    return pd.DataFrame(
        {
            "created_at": (start + offsets).astype("datetime64[us]"),
            "channel": rng.choice(["web", "events", "referral"], n),
        }
    )


@pytest.mark.parametrize(
    ("period", "trunc"), [("M", "month"), ("W", "week"), ("Q", "quarter"), ("D", "day")]
)
def test_matches_duckdb_sql(leads, period, trunc):
    got = count_by_period(leads, timestamp="created_at", period=period, by="channel")
    expected = duckdb.sql(
        f"select date_trunc('{trunc}', created_at) as period, channel, count(*) as count "
        "from leads group by all order by period, channel"
    ).df()
    assert got["count"].tolist() == expected["count"].tolist()
    assert (
        got["period"].astype("datetime64[us]") == expected["period"].astype("datetime64[us]")
    ).all()
    assert got["count"].sum() == len(leads)


def test_weeks_start_monday():
    # 2024-01-07 is a Sunday, 2024-01-08 a Monday.
    frame = pd.DataFrame({"t": pd.to_datetime(["2024-01-07 23:59", "2024-01-08 00:00"])})
    got = count_by_period(frame, timestamp="t", period="W")
    assert got["period"].tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-08")]


def test_engines_agree_and_keep_their_type(leads):
    base = count_by_period(leads, timestamp="created_at", by="channel")
    eager = count_by_period(pl.from_pandas(leads), timestamp="created_at", by="channel")
    lazy = count_by_period(pl.from_pandas(leads).lazy(), timestamp="created_at", by="channel")
    rel = count_by_period(duckdb.from_df(leads), timestamp="created_at", by="channel")
    assert isinstance(eager, pl.DataFrame) and isinstance(lazy, pl.LazyFrame)
    assert isinstance(rel, duckdb.DuckDBPyRelation)
    for other in (eager.to_pandas(), lazy.collect().to_pandas(), rel.df()):
        assert other["count"].tolist() == base["count"].tolist()


def test_tz_aware_periods_are_in_the_data_zone():
    # 23:30 on Jan 31 in New York is already February in UTC: it must count for January.
    t = pd.to_datetime(["2024-01-31 23:30", "2024-02-01 00:30"]).tz_localize("America/New_York")
    got = count_by_period(pd.DataFrame({"t": t}), timestamp="t")
    assert got["count"].tolist() == [1, 1]
    assert str(got["period"].dt.tz) == "America/New_York"
    assert got["period"][0] == pd.Timestamp("2024-01-01", tz="America/New_York")


def test_null_timestamps_are_counted():
    frame = pd.DataFrame({"t": pd.to_datetime(["2024-01-02", None, None])})
    with pytest.warns(kw.DroppedRowsWarning, match="left out 2 row"):
        got = count_by_period(frame, timestamp="t")
    assert got["count"].tolist() == [1]
    assert got.attrs["dropped_rows"]["null t"] == 2


def test_bad_period():
    with pytest.raises(
        ValueError, match="period must be one of 'D', 'W', 'M', 'Q', 'Y', found 'month'"
    ):
        count_by_period(pd.DataFrame({"t": []}), timestamp="t", period="month")
