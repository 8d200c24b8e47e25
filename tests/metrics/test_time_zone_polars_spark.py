"""tz-aware input on polars (eager and lazy) and PySpark gives the numbers worked out by hand,
as test_time_zone_engines.py checks for pyarrow and DuckDB.

The rules (docs/funnels.md "Time zones", docs/retention.md): durations and windows are real
elapsed time between instants, calendar periods are wall time in the data's own zone, and the
result keeps that zone.

Spark: a TIMESTAMP is an instant with no zone of its own; Spark shows it in the session's zone
(UTC in tests.conftest.spark_session) and narwhals reports it as Datetime(<session zone>). So
"Berlin-zoned" Spark input cannot exist: Spark is tested on UTC input, where periods are UTC
calendar periods and come back as TIMESTAMP (naive UTC wall times in ``toPandas``). Two tests
put the shared session in Europe/Berlin for their duration (and back) to see what a team whose
session is in Berlin gets.
"""

from __future__ import annotations

import contextlib
import datetime as dt

import pandas as pd
import polars as pl
import polars.selectors as cs
import pytest

import kpiwidgets as kw
from tests.conftest import ENGINES, spark_session
from tests.helpers import to_pandas

ALL = [name for name in ("polars", "polars-lazy", "spark") if name in ENGINES]
POLARS = ["polars", "polars-lazy"]
BERLIN = "Europe/Berlin"


def _utc(values) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype="object")).dt.tz_localize("UTC")


# Berlin: CET (+01:00) until 2024-03-31 01:00 UTC, then CEST (+02:00) until 2024-10-27 01:00 UTC.
UTC_EVENTS = pd.DataFrame(
    {
        "entity_id": ["u1", "u1", "u2", "u3", "u3"],
        "event": ["a", "b", "a", "a", "b"],
        "timestamp": _utc(
            [
                "2024-03-30 22:30",  # u1 enters (23:30 CET in Berlin) ...
                "2024-03-31 01:30",  # ... converts 3 h later (03:30 CEST: 4 h of wall clock)
                "2024-03-31 00:00",  # u2 never converts (01:00 CET on the 31st in Berlin)
                "2024-10-26 23:00",  # u3 enters (01:00 CEST on 27 October in Berlin) and
                "2024-10-27 23:30",  # converts 24.5 h later (00:30 CET on the 28th: 23.5 h of
            ]  # wall clock), outside a 1-day window
        ),
    }
)

# Two more entries for calendar periods, around midnight of 31 March in Berlin (CEST by then):
# u4 at 21:30 UTC is 23:30 on 31 March in Berlin (the 31st in both zones); u5 at 22:30 UTC is
# 00:30 on 1 April in Berlin (and would still be 23:30 on 31 March with a stale +01:00 offset).
TREND_EVENTS = pd.concat(
    [
        UTC_EVENTS,
        pd.DataFrame(
            {
                "entity_id": ["u4", "u5"],
                "event": ["a", "a"],
                "timestamp": _utc(["2024-03-31 21:30", "2024-03-31 22:30"]),
            }
        ),
    ],
    ignore_index=True,
)

# Monthly revenue rows near month ends in UTC. In Berlin (+01:00 in winter) every one of them is
# in the next month, or on its 1st: A 2024-02-01 00:30 and 2024-03-01 00:30, B 2024-02-01 01:30.
REVENUE = pd.DataFrame(
    {
        "account_id": ["A", "A", "B"],
        "month": _utc(["2024-01-31 23:30", "2024-02-29 23:30", "2024-02-01 00:30"]),
        "mrr": [1.0, 2.0, 3.0],
    }
)

# Won deals, real elapsed time:
#   o1 2024-01-31 20:00 -> 23:30 UTC: 3.5 h = 3.5/24 d; closed 2024-02-01 00:30 in Berlin.
#   o2 2024-03-30 11:00 -> 03-31 10:00 UTC: 23 h = 23/24 d (12:00 CET -> 12:00 CEST in Berlin:
#      one wall-clock day).
#   o3 2024-10-26 10:00 -> 10-27 11:00 UTC: 25 h = 25/24 d (12:00 CEST -> 12:00 CET: one
#      wall-clock day).
# Median of 3.5/24, 23/24, 25/24 = 23/24 = 0.958333 d (wall clock would give 1.0).
OPPORTUNITIES = pd.DataFrame(
    {
        "opportunity_id": ["o1", "o2", "o3"],
        "status": ["won", "won", "won"],
        "amount": [100.0, 200.0, 300.0],
        "created_at": _utc(["2024-01-31 20:00", "2024-03-30 11:00", "2024-10-26 10:00"]),
        "closed_at": _utc(["2024-01-31 23:30", "2024-03-31 10:00", "2024-10-27 11:00"]),
    }
)

# Lead response minutes, real elapsed time:
#   L1 2024-01-10 09:00 -> 09:05 UTC: 5.
#   L2 2024-03-31 00:50 -> 01:10 UTC: 20 (01:50 CET -> 03:10 CEST in Berlin: 80 of wall clock).
#   L3 2024-03-31 22:30 -> 22:40 UTC: 10 (created 2024-04-01 00:30 CEST in Berlin).
#   L4 2024-10-27 00:50 -> 01:10 UTC: 20 (02:50 CEST -> 02:10 CET in Berlin: -40 of wall
#      clock, clocks going back).
#   L5 unanswered: not counted.
LEADS = pd.DataFrame(
    {
        "lead_id": ["L1", "L2", "L3", "L4", "L5"],
        "created_at": _utc(
            [
                "2024-01-10 09:00",
                "2024-03-31 00:50",
                "2024-03-31 22:30",
                "2024-10-27 00:50",
                "2024-11-05 10:00",
            ]
        ),
        "first_response_at": _utc(
            ["2024-01-10 09:05", "2024-03-31 01:10", "2024-03-31 22:40", "2024-10-27 01:10", None]
        ),
    }
)


# -- helpers -----------------------------------------------------------------------------------


def _native(frame: pd.DataFrame, engine: str, zone: str | None = None):
    """``frame`` on ``engine``; on polars with its tz-aware columns converted to ``zone``."""
    if engine == "spark":
        assert zone is None, "a Spark TIMESTAMP has no zone of its own"
        return spark_session().createDataFrame(frame)
    if engine == "pandas":
        zoned = frame.select_dtypes("datetimetz").columns
        return frame.assign(**{c: frame[c].dt.tz_convert(zone or "UTC") for c in zoned})
    out = pl.from_pandas(frame)
    if zone is not None:
        out = out.with_columns(cs.datetime().dt.convert_time_zone(zone))
    return out.lazy() if engine == "polars-lazy" else out


def _run(engine: str, result) -> pd.DataFrame:
    """The result as pandas, after checking it is the caller's frame type."""
    assert isinstance(result, ENGINES[engine].kind), type(result)
    return to_pandas(result)


def _labels(column: pd.Series) -> list[str]:
    """Timestamps as 'YYYY-MM-DD' plus their UTC offset when tz-aware."""
    fmt = "%Y-%m-%d %z" if column.dt.tz is not None else "%Y-%m-%d"
    return column.dt.strftime(fmt).tolist()


def _zone(column: pd.Series) -> str | None:
    return None if column.dt.tz is None else str(column.dt.tz)


def _spark_timestamp_types(result, *columns: str) -> list[str]:
    return [result.schema[c].dataType.typeName() for c in columns]


@contextlib.contextmanager
def _spark_session_zone(zone: str):
    """The shared session in ``zone`` for a moment, as if the team had configured it so.

    narwhals caches each session's zone (it assumes it never changes), so the cache is
    cleared on the way in and out; the session is back in UTC afterwards either way.
    """
    from narwhals._spark_like.utils import fetch_session_time_zone

    session = spark_session()
    session.conf.set("spark.sql.session.timeZone", zone)
    fetch_session_time_zone.cache_clear()
    try:
        yield session
    finally:
        session.conf.set("spark.sql.session.timeZone", "UTC")
        fetch_session_time_zone.cache_clear()


# -- funnel: counts and durations --------------------------------------------------------------


@pytest.mark.parametrize("engine", ALL)
def test_funnel_on_tz_aware_utc_input(engine):
    out = _run(engine, kw.funnel(_native(UTC_EVENTS, engine), ["a", "b"], window="1D"))
    # Entered: u1, u2, u3 = 3. Converted within 24 h: u1 only (3 h); u3 took 24.5 h.
    assert out["entities"].tolist() == [3, 1]
    # u1's conversion spans Berlin's spring-forward night: 3 h of real time, not 2 or 4.
    assert out["median_time_from_previous"].iloc[1] == pd.Timedelta(hours=3)


@pytest.mark.parametrize("engine", POLARS)
def test_funnel_on_berlin_input_counts_and_durations_are_unchanged(engine):
    events = _native(UTC_EVENTS, engine, BERLIN)
    out = _run(engine, kw.funnel(events, ["a", "b"], window="1D"))
    # The same instants: 3 entered, 1 converted. On wall time u1 would take 4 h and u3 23.5 h
    # (inside 1 day, so 2 converted).
    assert out["entities"].tolist() == [3, 1]
    assert out["median_time_from_previous"].iloc[1] == pd.Timedelta(hours=3)


# Spark's funnel_entities returns TIMESTAMP_NTZ step columns: that case is a known bug.


@pytest.mark.parametrize("engine", ALL)
def test_funnel_entities_step_times_stay_instants_in_the_data_zone(engine):
    # docs/funnels.md: the step columns are in the data's zone. Spark: UTC input, and its
    # TIMESTAMP type (an instant) should come back, as funnel_trend's period does.
    zone = None if engine == "spark" else BERLIN
    result = kw.funnel_entities(_native(UTC_EVENTS, engine, zone), ["a", "b"], window="1D")
    if engine == "spark":
        assert _spark_timestamp_types(result, "a", "b") == ["timestamp", "timestamp"]
    out = _run(engine, result).sort_values("entity_id").reset_index(drop=True)
    assert out["furthest_step"].tolist() == ["b", "a", "a"]  # u1 converted; u2, u3 did not
    if engine == "spark":
        # toPandas shows TIMESTAMP in the session zone (UTC), naive.
        assert out["a"].dt.strftime("%Y-%m-%d %H:%M").tolist() == [
            "2024-03-30 22:30",
            "2024-03-31 00:00",
            "2024-10-26 23:00",
        ]
        assert out["b"].iloc[0] == pd.Timestamp("2024-03-31 01:30")
    else:
        assert _zone(out["a"]) == BERLIN and _zone(out["b"]) == BERLIN
        # Berlin wall times: u1 23:30 CET, u2 01:00 CET, u3 01:00 CEST; u1's b 03:30 CEST.
        assert out["a"].dt.strftime("%Y-%m-%d %H:%M %z").tolist() == [
            "2024-03-30 23:30 +0100",
            "2024-03-31 01:00 +0100",
            "2024-10-27 01:00 +0200",
        ]
        assert out["b"].iloc[0].strftime("%Y-%m-%d %H:%M %z") == "2024-03-31 03:30 +0200"
    assert out["b"].iloc[1:].isna().all()


# -- funnel_trend: calendar periods in the data's zone -----------------------------------------


@pytest.mark.parametrize("engine", POLARS)
def test_funnel_trend_days_and_months_are_berlin_calendar_periods(engine):
    events = _native(TREND_EVENTS, engine, BERLIN)
    daily = _run(engine, kw.funnel_trend(events, ["a", "b"], freq="D"))
    assert _zone(daily["period"]) == BERLIN
    entered = daily[daily.step_number == 1]
    converted = daily[daily.step_number == 2]
    # Berlin days of the entries: u1 30 March (23:30 CET); u2 (01:00 CET) and u4 (23:30 CEST)
    # 31 March; u5 1 April (00:30 CEST); u3 27 October (01:00 CEST). Each day starts at
    # Berlin midnight, with that day's offset.
    assert _labels(entered["period"]) == [
        "2024-03-30 +0100",
        "2024-03-31 +0100",
        "2024-04-01 +0200",
        "2024-10-27 +0200",
    ]
    assert entered["entities"].tolist() == [1, 2, 1, 1]
    # Converted within the default 30 days, by entry day: u1 (30 March), u3 (27 October).
    assert converted["entities"].tolist() == [1, 0, 0, 1]

    monthly = _run(engine, kw.funnel_trend(events, ["a", "b"], freq="M"))
    assert _zone(monthly["period"]) == BERLIN
    entered = monthly[monthly.step_number == 1]
    # March: u1, u2, u4; April: u5 (still March in UTC); October: u3.
    assert _labels(entered["period"]) == [
        "2024-03-01 +0100",
        "2024-04-01 +0200",
        "2024-10-01 +0200",
    ]
    assert entered["entities"].tolist() == [3, 1, 1]
    assert monthly[monthly.step_number == 2]["entities"].tolist() == [1, 0, 1]


@pytest.mark.parametrize("engine", ALL)
def test_funnel_trend_days_of_utc_input_are_utc_days(engine):
    result = kw.funnel_trend(_native(TREND_EVENTS, engine), ["a", "b"], freq="D")
    if engine == "spark":
        # Spark: the period stays a TIMESTAMP (an instant); toPandas shows it naive in the
        # session zone, UTC.
        assert _spark_timestamp_types(result, "period") == ["timestamp"]
    out = _run(engine, result)
    entered = out[out.step_number == 1]
    # UTC days: u1 30 March; u2, u4, u5 31 March; u3 26 October (23:00 UTC).
    days = ["2024-03-30", "2024-03-31", "2024-10-26"]
    if engine == "spark":
        assert _zone(out["period"]) is None
        assert _labels(entered["period"]) == days
    else:
        assert _zone(out["period"]) == "UTC"
        assert _labels(entered["period"]) == [f"{d} +0000" for d in days]
    assert entered["entities"].tolist() == [1, 3, 1]
    assert out[out.step_number == 2]["entities"].tolist() == [1, 0, 1]


# -- cohort_retention: cohort months in the data's zone ----------------------------------------


def _cohorts(out: pd.DataFrame) -> list[tuple]:
    columns = [_labels(out["cohort"]), out["period_number"], out["cohort_size"], out["retention"]]
    return list(zip(*columns, strict=True))


@pytest.mark.parametrize("engine", ALL)
def test_cohort_retention_on_tz_aware_utc_input(engine):
    result = kw.cohort_retention(_native(REVENUE, engine), value="mrr")
    if engine == "spark":
        assert _spark_timestamp_types(result, "cohort") == ["timestamp"]
    out = _run(engine, result)
    # UTC months: A January (1) and February (2); B February (3). January cohort {A}: back
    # in February (period 1). February cohort {B}.
    suffix = "" if engine == "spark" else " +0000"
    assert _zone(out["cohort"]) == (None if engine == "spark" else "UTC")
    assert _cohorts(out) == [
        (f"2024-01-01{suffix}", 0, 1, 1.0),
        (f"2024-01-01{suffix}", 1, 1, 1.0),
        (f"2024-02-01{suffix}", 0, 1, 1.0),
    ]
    assert out["value"].tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("engine", POLARS)
@pytest.mark.parametrize("how", ["berlin input", "tz= on utc input"])
def test_cohort_retention_in_berlin_months(engine, how):
    if how == "berlin input":
        result = kw.cohort_retention(_native(REVENUE, engine, BERLIN), value="mrr")
    else:
        result = kw.cohort_retention(_native(REVENUE, engine), value="mrr", tz=BERLIN)
    out = _run(engine, result)
    assert _zone(out["cohort"]) == BERLIN
    # Berlin months: A February (00:30 on the 1st) and March; B February. One February cohort
    # {A, B}; in March only A: 1 / 2.
    assert _cohorts(out) == [("2024-02-01 +0100", 0, 2, 1.0), ("2024-02-01 +0100", 1, 2, 0.5)]
    # MRR: February A 1 + B 3 = 4; March A 2, 2 / 4 = 0.5 of the cohort's first month.
    assert out["value"].tolist() == [4.0, 2.0]
    assert out["value_retention"].tolist() == [1.0, 0.5]


def test_cohort_retention_tz_on_spark_is_narwhals_clear_error():
    # A Spark TIMESTAMP has no zone to convert to: narwhals refuses, naming the session zone.
    revenue = _native(REVENUE, "spark")
    with pytest.raises(NotImplementedError, match=r"PySpark stores the time zone in the session"):
        kw.cohort_retention(revenue, tz=BERLIN)


def test_cohort_retention_on_a_spark_session_in_berlin_has_berlin_months():
    # The same instants, read by a session in Berlin: Spark's calendar is the session's, so
    # the months are Berlin's as on polars (one February cohort {A, B}, A alone in March).
    with _spark_session_zone(BERLIN) as session:
        out = to_pandas(kw.cohort_retention(session.createDataFrame(REVENUE)))
    assert _cohorts(out) == [("2024-02-01", 0, 2, 1.0), ("2024-02-01", 1, 2, 0.5)]


def test_funnel_on_a_spark_session_in_berlin_is_a_clear_error():
    # Funnels compute on UTC instants; narwhals cannot make them in a Berlin session, so the
    # error names the setting to change (as DuckDB's does) rather than a wrong order.
    with _spark_session_zone(BERLIN) as session:
        events = session.createDataFrame(UTC_EVENTS)
        with pytest.raises(ValueError, match=r"spark\.sql\.session\.timeZone.*UTC"):
            kw.funnel(events, ["a", "b"], window="1D")


# -- KPIs: durations and periods ---------------------------------------------------------------


@pytest.mark.parametrize("engine", ALL)
def test_sales_cycle_length_on_tz_aware_utc_input(engine):
    data = {"opportunities": _native(OPPORTUNITIES, engine)}
    out = _run(engine, kw.kpi("sales_cycle_length", data))
    # Median of 3.5/24, 23/24, 25/24 days = 23/24.
    assert out["value"].tolist() == pytest.approx([23 / 24], rel=1e-9)
    assert out["n"].tolist() == [3]


@pytest.mark.parametrize("engine", ALL)
def test_lead_response_time_by_month_on_tz_aware_utc_input(engine):
    result = kw.kpi("lead_response_time", {"leads": _native(LEADS, engine)}, period="M")
    if engine == "spark":
        assert _spark_timestamp_types(result, "period") == ["timestamp"]
    out = _run(engine, result)
    # UTC months of creation: January L1 5; March L2 20 and L3 10 -> 15; October L4 20.
    months = ["2024-01-01", "2024-03-01", "2024-10-01"]
    if engine == "spark":
        assert _labels(out["period"]) == months
    else:
        assert _zone(out["period"]) == "UTC"
        assert _labels(out["period"]) == [f"{m} +0000" for m in months]
    assert out["value"].tolist() == pytest.approx([5.0, 15.0, 20.0], rel=1e-9)
    assert out["n"].tolist() == [1, 2, 1]


@pytest.mark.parametrize("engine", POLARS)
def test_sales_cycle_length_periods_of_berlin_input_are_berlin_months(engine):
    data = {"opportunities": _native(OPPORTUNITIES, engine, BERLIN)}
    out = _run(engine, kw.kpi("sales_cycle_length", data, period="M"))
    # Close months in Berlin: o1 February (00:30 on the 1st; January in UTC), o2 March,
    # o3 October; one deal each.
    assert _zone(out["period"]) == BERLIN
    assert _labels(out["period"]) == ["2024-02-01 +0100", "2024-03-01 +0100", "2024-10-01 +0200"]
    assert out["n"].tolist() == [1, 1, 1]


@pytest.mark.parametrize("engine", ["pandas", *POLARS])
def test_sales_cycle_length_on_berlin_input_is_elapsed_time(engine):
    data = {"opportunities": _native(OPPORTUNITIES, engine, BERLIN)}
    overall = _run(engine, kw.kpi("sales_cycle_length", data))
    monthly = _run(engine, kw.kpi("sales_cycle_length", data, period="M"))
    # Real time across both DST changes: 23 h and 25 h, not one wall-clock day each.
    assert overall["value"].tolist() == pytest.approx([23 / 24], rel=1e-9)
    assert monthly["value"].tolist() == pytest.approx([3.5 / 24, 23 / 24, 25 / 24], rel=1e-9)


@pytest.mark.parametrize("engine", ["pandas", *POLARS])
def test_lead_response_time_on_berlin_input_is_elapsed_time(engine):
    leads = {"leads": _native(LEADS, engine, BERLIN)}
    out = _run(engine, kw.kpi("lead_response_time", leads, period="M"))
    # Berlin months of creation: January L1 5; March L2 20 (01:50 CET); April L3 10
    # (00:30 CEST on the 1st); October L4 20 (clocks going back: still 20 real minutes).
    assert _labels(out["period"]) == [
        "2024-01-01 +0100",
        "2024-03-01 +0100",
        "2024-04-01 +0200",
        "2024-10-01 +0200",
    ]
    assert out["value"].tolist() == pytest.approx([5.0, 20.0, 10.0, 20.0], rel=1e-9)
    assert out["n"].tolist() == [1, 1, 1, 1]


def test_durations_are_not_wall_clock_differences_sanity():
    # The hand numbers above: o2 is 23 h of real time, L4 20 minutes, though one wall-clock day
    # and -40 wall-clock minutes in Berlin.
    o2 = OPPORTUNITIES.iloc[1]
    assert o2.closed_at - o2.created_at == dt.timedelta(hours=23)
    l4 = LEADS.iloc[3]
    assert l4.first_response_at - l4.created_at == dt.timedelta(minutes=20)

    def wall(moment):
        return moment.tz_convert(BERLIN).tz_localize(None)

    assert wall(l4.first_response_at) - wall(l4.created_at) == dt.timedelta(minutes=-40)
    assert wall(o2.closed_at) - wall(o2.created_at) == dt.timedelta(days=1)


STAGES = pd.DataFrame(
    {
        "opportunity_id": ["o1", "o1"],
        "stage": ["qualify", "proposal"],
        # 12:00 Berlin on both days, across the night clocks go back: 10:00 and 11:00 UTC.
        "entered_at": _utc(["2024-10-26 10:00", "2024-10-27 11:00"]),
    }
)


@pytest.mark.parametrize("engine", ["pandas", *POLARS])
def test_time_in_stage_on_berlin_input_is_elapsed_time(engine):
    data = {"stage_history": _native(STAGES, engine, BERLIN)}
    out = _run(engine, kw.kpi("time_in_stage", data, by="stage"))
    # qualify lasted 25 real hours (one wall-clock day); proposal has no next stage.
    assert out.set_index("stage")["value"].to_dict() == pytest.approx({"qualify": 25 / 24})


def test_a_duration_between_a_zoned_and_a_naive_column_is_a_clear_error():
    leads = pd.DataFrame(
        {
            "lead_id": ["a"],
            "created_at": _utc(["2024-01-01 10:00"]),
            "first_response_at": pd.to_datetime(["2024-01-01 10:05"]),  # naive
        }
    )
    with pytest.raises(ValueError, match=r"first_response_at.*created_at.*both be time-zone-aware"):
        kw.kpi("lead_response_time", {"leads": leads})
