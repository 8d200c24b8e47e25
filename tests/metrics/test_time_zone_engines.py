"""tz-aware input on pyarrow and DuckDB gives the numbers worked out by hand (as pandas does),
or a clear error where the engine cannot do it."""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

import kpiwidgets as kw

UTC_EVENTS = pd.DataFrame(
    {
        "entity_id": ["u1", "u1", "u2", "u3", "u3"],
        "event": ["a", "b", "a", "a", "b"],
        "timestamp": pd.to_datetime(
            [
                "2024-03-30 22:30",  # u1 enters ...
                "2024-03-31 01:30",  # ... converts 3 h later (across Berlin's DST change)
                "2024-03-31 00:00",  # u2 never converts
                "2024-10-26 23:00",  # u3 converts after 24.5 h: outside a 1-day window
                "2024-10-27 23:30",
            ]
        ).tz_localize("UTC"),
    }
)

REVENUE = pd.DataFrame(
    {
        "account_id": ["A", "A", "B"],
        "month": pd.to_datetime(
            ["2024-01-31 23:30", "2024-02-29 23:30", "2024-02-01 00:30"]
        ).tz_localize("UTC"),
        "mrr": [1.0, 2.0, 3.0],
    }
)


def _native(frame, engine):
    if engine == "pyarrow":
        return pa.Table.from_pandas(frame, preserve_index=False)
    connection = duckdb.default_connection()
    connection.sql("SET TimeZone = 'UTC'")  # what these tests assume (a machine may differ)
    return connection.from_df(frame)


def _pandas(result):
    return result.to_pandas() if hasattr(result, "to_pandas") else result.df()


@pytest.mark.parametrize("engine", ["pyarrow", "duckdb"])
def test_funnel_on_tz_aware_utc_input(engine):
    out = _pandas(kw.funnel(_native(UTC_EVENTS, engine), ["a", "b"], window="1D"))
    assert out["entities"].tolist() == [3, 1]
    assert out["median_time_from_previous"].iloc[1] == pd.Timedelta(hours=3)


def test_funnel_trend_on_a_tz_aware_arrow_table_keeps_the_zone():
    berlin = UTC_EVENTS.assign(timestamp=UTC_EVENTS.timestamp.dt.tz_convert("Europe/Berlin"))
    out = _pandas(kw.funnel_trend(_native(berlin, "pyarrow"), ["a", "b"], freq="D"))
    entered = out[out.step_number == 1]
    # Wall-clock days in Berlin: u1 enters 23:30 on the 30th, u2 01:00 on the 31st, u3 01:00
    # on 27 October.
    assert entered["period"].dt.strftime("%Y-%m-%d %z").tolist() == [
        "2024-03-30 +0100",
        "2024-03-31 +0100",
        "2024-10-27 +0200",
    ]
    assert entered["entities"].tolist() == [1, 1, 1]


@pytest.mark.parametrize("engine", ["pyarrow", "duckdb"])
def test_cohort_retention_on_tz_aware_input(engine):
    if engine == "pyarrow":
        # In Berlin A's first row (23:30 UTC on 31 Jan) is already 1 February: A and B share
        # the February cohort, and A alone is back in March.
        frame = REVENUE.assign(month=REVENUE.month.dt.tz_convert("Europe/Berlin"))
        expected = [("2024-02-01 +0100", 0, 2, 1.0), ("2024-02-01 +0100", 1, 2, 0.5)]
    else:
        frame = REVENUE
        expected = [
            ("2024-01-01 +0000", 0, 1, 1.0),
            ("2024-01-01 +0000", 1, 1, 1.0),
            ("2024-02-01 +0000", 0, 1, 1.0),
        ]
    out = _pandas(kw.cohort_retention(_native(frame, engine)))
    got = list(
        zip(
            out.cohort.dt.strftime("%Y-%m-%d %z"),
            out.period_number,
            out.cohort_size,
            out.retention,
            strict=True,
        )
    )
    assert got == expected


def test_duckdb_timestamptz_in_another_zone_is_a_clear_error():
    connection = duckdb.connect()
    connection.sql("SET TimeZone = 'Europe/Berlin'")
    relation = connection.from_df(UTC_EVENTS)
    with pytest.raises(ValueError, match=r"DuckDB TIMESTAMPTZ .* 'Europe/Berlin'.*SET TimeZone"):
        kw.funnel(relation, ["a", "b"])


def test_a_relation_of_another_duckdb_connection_is_a_clear_error():
    # Funnels join intermediate results on DuckDB's default connection; DuckDB refuses to
    # join relations of two connections, so say that instead of DuckDB's internal message.
    naive = UTC_EVENTS.assign(timestamp=UTC_EVENTS.timestamp.dt.tz_localize(None))
    relation = duckdb.connect().from_df(naive)
    with pytest.raises(ValueError, match=r"other than DuckDB's default one"):
        kw.funnel(relation, ["a", "b"])
    # The same data on the default connection counts as by hand: 3 entered, 1 converted.
    out = kw.funnel(duckdb.from_df(naive), ["a", "b"], window="1D").df()
    assert out["entities"].tolist() == [3, 1]
