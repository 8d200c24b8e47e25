"""The array pass behind ``kw.cohort_retention`` (kpiwidgets/metrics/_retention_arrays.py:
``mode="on"``, no ``by``, large pandas tables) against a loop over entities and calendar
periods written here from the documented rules, with the pass forced on (it normally starts
at half a million rows) and checked to have run. Equality with the lazy plan is checked too
(parity, not the proof)."""

from __future__ import annotations

import datetime as dt
import importlib
import math
import warnings
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kpiwidgets as kw

fast = importlib.import_module("kpiwidgets.metrics._retention_arrays")


@pytest.fixture
def runs(monkeypatch):
    """Force the pass at any size; the list counts the cell tables it built."""
    made: list[int] = []
    real = fast._to_lazy

    def spy(table):
        made.append(1)
        return real(table)

    monkeypatch.setattr(fast, "MIN_ROWS", 0)
    monkeypatch.setattr(fast, "_to_lazy", spy)
    return made


def plan(frame, **kwargs) -> pd.DataFrame:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fast, "MIN_ROWS", 10**12)
        return kw.cohort_retention(frame, **kwargs)


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kw.DroppedRowsWarning)
        return fn(*args, **kwargs)


def period_of(moment: dt.datetime, period: str) -> int:
    """A calendar period as a number, consecutive periods one apart (weeks start Monday)."""
    if period == "D":
        return moment.toordinal()
    if period == "W":
        return (moment.toordinal() - moment.isoweekday()) // 7
    months = moment.year * 12 + moment.month - 1
    return {"M": months, "Q": months // 3, "Y": moment.year}[period]


def by_loop(frame, *, period="M", value=None, as_of=None):
    """``{(cohort period, k): (active entities, value)}`` and each cohort's size: an entity's
    cohort is the period of its first row; it is active at k when it has a row in the
    cohort's period + k; values are summed over the rows of the cell (a null adds 0)."""
    cut = pd.Timestamp(as_of) if as_of is not None else None
    periods: dict = defaultdict(set)
    sums: dict = defaultdict(float)
    for rec in frame.to_dict("records"):
        who, when = rec["account_id"], rec["month"]
        if pd.isna(who) or pd.isna(when) or (cut is not None and when > cut):
            continue
        p = period_of(when.to_pydatetime(), period)
        periods[who].add(p)
        v = rec.get(value) if value else None
        sums[(who, p)] += 0.0 if v is None or pd.isna(v) else float(v)
    cells: dict = defaultdict(lambda: [0, 0.0])
    for who, ps in periods.items():
        cohort = min(ps)
        for p in ps:
            cells[(cohort, p - cohort)][0] += 1
            cells[(cohort, p - cohort)][1] += sums[(who, p)]
    return cells


def check_against_loop(out, frame, **kwargs) -> None:
    period = kwargs.get("period", "M")
    cells = by_loop(frame, **kwargs)
    sizes = {c: n for (c, k), (n, _) in cells.items() if k == 0}
    filled = out[out["retained"] > 0]
    got = {}
    for rec in filled.to_dict("records"):
        cohort = period_of(rec["cohort"].to_pydatetime(), period)
        got[(cohort, rec["period_number"])] = rec
        assert rec["cohort_size"] == sizes[cohort]
        assert rec["retention"] == rec["retained"] / sizes[cohort]
    assert set(got) == set(cells)
    for key, (n, v) in cells.items():
        assert got[key]["retained"] == n
        if kwargs.get("value"):
            assert got[key]["value"] == pytest.approx(v, rel=1e-12, abs=1e-9)
    for rec in out.to_dict("records"):  # each cohort's start is the start of its period
        start = rec["cohort"].to_pydatetime()
        assert period_of(start - dt.timedelta(microseconds=1), period) + 1 == period_of(
            start, period
        )


def random_activity(seed: int, n: int = 400, *, unit: str = "us", nulls: bool = True):
    rng = np.random.default_rng(seed)
    start = np.datetime64("2023-11-20T00:00:00", "s").astype(f"datetime64[{unit}]")
    seconds = (
        rng.integers(0, 500 * 86_400, n).astype("timedelta64[s]").astype(f"timedelta64[{unit}]")
    )
    frame = pd.DataFrame(
        {
            "account_id": rng.integers(0, max(n // 4, 1), n) * 7 + 3,
            "month": start + seconds,
            "mrr": rng.choice([0.0, 10.0, 25.5, -5.0, np.nan], n),
        }
    )
    if nulls:
        frame = frame.astype({"account_id": "Int64"})
        frame.loc[rng.random(n) < 0.02, "account_id"] = pd.NA
        frame.loc[rng.random(n) < 0.02, "month"] = pd.NaT
    return frame


@pytest.mark.parametrize("period", ["D", "W", "M", "Q", "Y"])
@pytest.mark.parametrize("value", [None, "mrr"])
def test_the_pass_equals_the_loop_and_the_plan(runs, period, value):
    frame = random_activity(1)
    out = quiet(kw.cohort_retention, frame, period=period, value=value)
    assert runs == [1]
    check_against_loop(out, frame, period=period, value=value)
    ref = quiet(plan, frame, period=period, value=value)
    pd.testing.assert_frame_equal(out, ref)
    assert out.attrs == ref.attrs


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 200),
    period=st.sampled_from(["D", "W", "M", "Q", "Y"]),
    value=st.sampled_from([None, "mrr"]),
    as_of=st.sampled_from([None, "2024-06-30", "2024-06-30 12:00"]),
)
def test_random_tables_equal_the_loop(runs, seed, n, period, value, as_of):
    frame = random_activity(seed, n)
    runs.clear()
    out = quiet(kw.cohort_retention, frame, period=period, value=value, as_of=as_of)
    check_against_loop(out, frame, period=period, value=value, as_of=as_of)
    usable = frame.dropna(subset=["account_id", "month"])
    if as_of is not None:
        usable = usable[usable["month"] <= pd.Timestamp(as_of)]
    assert runs == ([1] if len(usable) else [])  # nothing usable: the plan


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_every_timestamp_unit(runs, unit):
    frame = random_activity(2, unit=unit)
    out = quiet(kw.cohort_retention, frame, value="mrr")
    assert runs == [1]
    check_against_loop(out, frame, value="mrr")
    pd.testing.assert_frame_equal(out, quiet(plan, frame, value="mrr"))


def test_as_of_is_inclusive(runs):
    frame = pd.DataFrame(
        {
            "account_id": [1, 1, 2],
            "month": pd.to_datetime(
                ["2024-01-10", "2024-02-29 23:59:59", "2024-03-01"], format="ISO8601"
            ),
        }
    )
    out = kw.cohort_retention(frame, as_of="2024-02-29 23:59:59")
    assert runs == [1]
    # account 1 at the cut itself counts in February; account 2 (March) is after it
    assert out[["period_number", "retained"]].values.tolist() == [[0, 1], [1, 1]]


def test_weeks_start_on_monday_and_days_are_calendar_days(runs):
    frame = pd.DataFrame(
        {
            "account_id": [1, 1, 1],
            # Sunday 2024-03-03 23:59, Monday 2024-03-04 00:00, and 13 days later
            "month": pd.to_datetime(
                ["2024-03-03 23:59", "2024-03-04 00:00", "2024-03-17 12:00"], format="ISO8601"
            ),
        }
    )
    week = kw.cohort_retention(frame, period="W")
    assert runs == [1]
    assert week["cohort"].iloc[0] == pd.Timestamp("2024-02-26")  # the Sunday's Monday
    assert week[week["retained"] > 0]["period_number"].tolist() == [0, 1, 2]
    day = kw.cohort_retention(frame, period="D")
    assert day[day["retained"] > 0]["period_number"].tolist() == [0, 1, 14]


def test_a_dense_or_sparse_cell_table_gives_one_answer(runs, monkeypatch):
    frame = random_activity(4, 600)
    dense = quiet(kw.cohort_retention, frame, period="D", value="mrr")
    monkeypatch.setattr(fast, "_DENSE_CELLS", 1)
    monkeypatch.setattr(fast, "_LOOKUP_DAYS", 1)
    sparse = quiet(kw.cohort_retention, frame, period="D", value="mrr")
    monthly = quiet(kw.cohort_retention, frame, period="M", value="mrr")
    assert runs == [1, 1, 1]
    pd.testing.assert_frame_equal(dense, sparse)
    check_against_loop(sparse, frame, period="D", value="mrr")
    check_against_loop(monthly, frame, period="M", value="mrr")


def test_text_ids_and_far_apart_ids(runs):
    frame = random_activity(5, nulls=False)
    for ids in (frame["account_id"].map(lambda i: f"acct {i}"), frame["account_id"] * 10**12):
        other = frame.assign(account_id=ids)
        out = quiet(kw.cohort_retention, other, value="mrr")
        check_against_loop(out, other, value="mrr")
    assert runs == [1, 1]


def test_what_the_pass_does_not_read_exactly_goes_to_the_plan(runs):
    frame = random_activity(6, nulls=False)
    zoned = frame.assign(month=frame["month"].dt.tz_localize("Europe/Berlin"))
    dates = frame.assign(month=frame["month"].dt.date)
    arrow_dates = frame.assign(month=frame["month"].astype("date32[pyarrow]"))
    sub_us = frame.astype({"month": "datetime64[ns]"})
    sub_us["month"] += pd.Timedelta(1, "ns")
    for other, kwargs in [
        (zoned, {}),
        (dates, {}),
        (arrow_dates, {}),
        (sub_us, {}),
        (frame.assign(mrr=frame["mrr"] > 0), {"value": "mrr"}),
        (frame.assign(mrr=frame["mrr"].astype("Float64")), {"value": "mrr"}),
        (frame.assign(mrr=frame["mrr"].astype("float64[pyarrow]")), {"value": "mrr"}),
        (frame, {"mode": "on_or_after"}),
        (frame, {"value": "mrr", "value_agg": "period_end"}),
        (frame.assign(plan=frame["account_id"] % 2), {"by": "plan"}),
        (frame, {"tz": "Europe/Berlin"}),
    ]:
        quiet(kw.cohort_retention, other, **kwargs)
    assert runs == []


def test_null_rows_are_counted_as_the_plan_counts_them(runs):
    frame = random_activity(7)
    with pytest.warns(kw.DroppedRowsWarning, match="null account_id"):
        out = kw.cohort_retention(frame)
    assert runs == [1]
    assert out.attrs["dropped_rows"]["null account_id"] == int(frame["account_id"].isna().sum())
    assert out.attrs["dropped_rows"]["null month"] == int(frame["month"].isna().sum())
    assert not math.isnan(out["retention"].iloc[0])
