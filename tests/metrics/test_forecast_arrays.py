"""The array pass of ``kw.forecast_accuracy`` (kpiwidgets/metrics/_forecast_arrays.py) against
a loop over calls written here from the documented rules (docs/forecasts.md), and each rule
the module states, with the pass forced on (it normally starts at half a million rows) and
checked to have run. Equality with the lazy plans is checked too (parity, not the proof)."""

from __future__ import annotations

import contextlib
import importlib
import math
import warnings
from collections import defaultdict

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import kpiwidgets as kw

fast = importlib.import_module("kpiwidgets.metrics._forecast_arrays")

RATIOS = ("ape", "accuracy", "attainment", "bias")


@pytest.fixture
def runs(monkeypatch):
    """Force the pass at any size; the list counts the results it built."""
    made: list[int] = []
    real = fast._frame

    def spy(*args, **kwargs):
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(fast, "MIN_ROWS", 0)
    monkeypatch.setattr(fast, "_frame", spy)
    return made


def plans(forecasts, actuals, **kwargs) -> pd.DataFrame:
    """The lazy plans' answer (the pass switched off)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fast, "MIN_ROWS", 10**12)
        return kw.forecast_accuracy(forecasts, actuals, **kwargs)


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kw.DroppedRowsWarning)
        return fn(*args, **kwargs)


def _missing(value) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def by_loop(
    forecasts,
    actuals,
    *,
    submitted="separate",
    zero_actuals="nan",
    category=None,
    start=None,
    end=None,
):
    """``(rows, counts)``: the scored calls, one dict per call in the result's order, by a
    plain loop over the rules: rows with a null are left out; exact repeats count once; the
    week of period is whole days from the period's date to the snapshot's, floor-divided by 7;
    the latest call of each (owner, period, week, category, submitter) is the call; calls
    join the owner's summed actual of the period (a null amount adds 0)."""
    has_sub = "submitted_by" in forecasts.columns
    calls: dict = {}
    n_dupes = 0
    for rec in forecasts.to_dict("records"):
        sub = rec["submitted_by"] if has_sub else "rep"
        keys = (rec["owner"], rec["period"], rec["snapshot_date"], rec["category"], sub)
        if any(_missing(v) for v in (*keys, rec["amount"])):
            continue
        period = rec["period"]
        if start is not None and period < pd.Timestamp(start):
            continue
        if end is not None and period > pd.Timestamp(end):
            continue
        if category is not None and rec["category"] not in category:
            continue
        if keys in calls:
            assert calls[keys] == rec["amount"], "a conflict: the test data has none"
            n_dupes += 1
        calls[keys] = float(rec["amount"])
    weekly: dict = {}
    for (owner, period, snap, cat, sub), amount in calls.items():
        week = (snap.date().toordinal() - period.date().toordinal()) // 7
        cell = (owner, period, week, cat, sub)
        if cell not in weekly or weekly[cell][0] < snap:
            weekly[cell] = (snap, amount)
    if submitted in ("rep", "manager"):
        weekly = {c: v for c, v in weekly.items() if c[4] == submitted}
    elif submitted == "final":
        final = {}
        for (o, p, w, c, s), v in weekly.items():
            if s == "manager" or (s == "rep" and (o, p, w, c, "manager") not in weekly):
                final[(o, p, w, c, "final")] = v
        weekly = final
    actual: dict = defaultdict(float)
    for rec in actuals.to_dict("records"):
        if _missing(rec["owner"]) or _missing(rec["period"]):
            continue
        actual[(rec["owner"], rec["period"])] += 0.0 if _missing(rec["amount"]) else rec["amount"]
    closed = {p for _, p in actual}
    counts = {"duplicate calls": n_dupes, "open": 0, "no actual": 0, "zero": 0}
    rows = []
    for cell in sorted(weekly, key=lambda c: (_order(c[0]), c[1], c[2], _order(c[3]), c[4])):
        owner, period, week, cat, sub = cell
        snap, f = weekly[cell]
        if period not in closed:
            counts["open"] += 1
            continue
        if (owner, period) not in actual:
            counts["no actual"] += 1
            continue
        a = actual[(owner, period)]
        if a <= 0:
            counts["zero"] += 1
            if zero_actuals == "exclude":
                continue
        e = f - a
        pos = a > 0
        rows.append(
            {
                "owner": owner,
                "period": period,
                "week_of_period": week,
                "category": cat,
                "submitted_by": sub,
                "snapshot_date": snap,
                "forecast": f,
                "actual": a,
                "error": e,
                "abs_error": abs(e),
                "ape": abs(e) / a if pos else math.nan,
                "accuracy": max(0.0, 1 - abs(e) / a) if pos else math.nan,
                "attainment": f / a if pos else math.nan,
                "bias": e / a if pos else math.nan,
                "smape": 2 * abs(e) / (abs(a) + abs(f)) if abs(a) + abs(f) > 0 else 0.0,
            }
        )
    return rows, counts


def _order(value):
    """Text sorts by its UTF-8 bytes (as the result is documented to), numbers as numbers."""
    return value.encode() if isinstance(value, str) else value


def check_against_loop(out: pd.DataFrame, forecasts, actuals, **kwargs) -> None:
    rows, counts = by_loop(forecasts, actuals, **kwargs)
    assert len(out) == len(rows)
    for got, want in zip(out.to_dict("records"), rows, strict=True):
        for name, value in want.items():
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(got[name]), name
            elif isinstance(value, float):
                assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-9), name
            else:
                assert got[name] == value, name
        assert got["owners"] == 1
    dropped = out.attrs["dropped_rows"]
    assert dropped.get("duplicate calls", 0) == counts["duplicate calls"]
    assert dropped.get("calls of open periods (no actual yet)", 0) == counts["open"]
    assert dropped.get("calls with no actual for their owner", 0) == counts["no actual"]
    zero = dropped.get("calls with a zero actual (excluded)", 0) + dropped.get(
        "calls with a zero actual (NaN ratios)", 0
    )
    assert zero == counts["zero"]


PERIODS = pd.to_datetime(["2025-01-01", "2025-04-01", "2025-07-01", "2025-10-01"])


def random_calls(seed: int, n: int = 600, *, owners=None, submitted=True, nulls=True):
    """Calls with repeats, same-week resubmissions, calls before the period start, snapshots
    at odd hours, several submitters and nulls; actuals with zeros, gaps and open periods."""
    rng = np.random.default_rng(seed)
    names = owners if owners is not None else ["ava", "Bo", "cy", "Dé", "eli", "ava2"]
    period = PERIODS[rng.integers(0, 3, n)]  # the fourth period is open for everyone
    offset = pd.to_timedelta(rng.integers(-20 * 24, 95 * 24, n), unit="h")
    frame = pd.DataFrame(
        {
            "owner": np.array(names, dtype=object)[rng.integers(0, len(names), n)],
            "period": period,
            "snapshot_date": period + offset,
            "category": np.array(["commit", "best_case", "pipeline"], dtype=object)[
                rng.integers(0, 3, n)
            ],
            "amount": rng.integers(0, 50, n) * 10.0,
        }
    )
    if submitted:
        frame["submitted_by"] = np.array(["rep", "manager", "other"], dtype=object)[
            rng.choice(3, n, p=[0.6, 0.3, 0.1])
        ]
    frame = pd.concat([frame, frame.sample(n // 10, random_state=seed)], ignore_index=True)
    if nulls:
        for column in frame.columns:
            frame.loc[rng.random(len(frame)) < 0.01, column] = None
    open_calls = frame.head(5).copy()
    open_calls["period"] = PERIODS[3]
    frame = pd.concat([frame, open_calls], ignore_index=True)
    act_owner = np.array(names, dtype=object)[rng.integers(0, len(names), 20)]
    actuals = pd.DataFrame(
        {
            "owner": act_owner,
            "period": PERIODS[rng.integers(0, 3, 20)],
            "amount": rng.choice([0.0, 100.0, 250.0, 40.0, np.nan], 20),
        }
    )
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True), actuals


def _deduplicated(frame: pd.DataFrame) -> pd.DataFrame:
    """Leave one amount per call: random data can give a call two amounts (an error)."""
    keys = [
        c
        for c in ("owner", "period", "snapshot_date", "category", "submitted_by")
        if c in frame.columns
    ]
    first = frame.groupby(keys, dropna=False)["amount"].transform("first")
    return frame.assign(amount=frame["amount"].where(frame["amount"].isna(), first))


OPTIONS = [
    {},
    {"submitted": "rep"},
    {"submitted": "manager"},
    {"submitted": "final"},
    {"zero_actuals": "exclude"},
    {"category": ["commit", "pipeline"]},
    {"start": "2025-04-01", "end": "2025-04-01"},
]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("seed", [0, 1])
def test_the_pass_equals_the_loop_and_the_plans(runs, seed, options):
    forecasts, actuals = random_calls(seed)
    forecasts = _deduplicated(forecasts)
    out = quiet(kw.forecast_accuracy, forecasts, actuals, **options)
    assert runs == [1]
    check_against_loop(out, forecasts, actuals, **options)
    pd.testing.assert_frame_equal(out, quiet(plans, forecasts, actuals, **options))
    assert out.attrs == quiet(plans, forecasts, actuals, **options).attrs


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 120),
    options=st.sampled_from(OPTIONS),
    submitted=st.booleans(),
)
@example(seed=1, n=1, options={"submitted": "final"}, submitted=True)  # no rep or manager call
def test_random_tables_equal_the_loop(runs, seed, n, options, submitted):
    forecasts, actuals = random_calls(seed, n, submitted=submitted)
    forecasts = _deduplicated(forecasts)
    runs.clear()
    out = quiet(kw.forecast_accuracy, forecasts, actuals, **options)
    check_against_loop(out, forecasts, actuals, **options)
    assert runs == ([1] if _usable(forecasts, **options) else [])  # none: the plans


def _usable(forecasts, *, category=None, start=None, end=None, **_) -> int:
    """Rows with no null key or amount, in the periods and categories asked for."""
    rows = forecasts.dropna()
    if category is not None:
        rows = rows[rows["category"].isin(category)]
    if start is not None:
        rows = rows[rows["period"].between(pd.Timestamp(start), pd.Timestamp(end))]
    return len(rows)


def test_integer_owners_sort_as_numbers(runs):
    forecasts, actuals = random_calls(3, owners=[10, 9, 100, 2], nulls=False)
    forecasts = _deduplicated(forecasts).astype({"owner": np.int64})
    actuals = actuals.astype({"owner": np.int64})
    out = quiet(kw.forecast_accuracy, forecasts, actuals)
    assert runs == [1]
    check_against_loop(out, forecasts, actuals)
    assert out["owner"].dtype == np.int64
    pd.testing.assert_frame_equal(out, quiet(plans, forecasts, actuals))


def test_text_owners_sort_by_bytes(runs):
    # "B" (0x42) < "a" (0x61) < "É" (0xC3 0x89): bytes, not a locale's order
    names = ["a", "É", "B"]
    forecasts = pd.DataFrame(
        {
            "owner": names,
            "period": pd.to_datetime(["2025-01-01"] * 3),
            "snapshot_date": pd.to_datetime(["2025-01-02"] * 3),
            "category": "commit",
            "amount": [1.0, 2.0, 3.0],
        }
    )
    actuals = forecasts[["owner", "period", "amount"]]
    out = kw.forecast_accuracy(forecasts, actuals)
    assert runs == [1]
    assert out["owner"].tolist() == ["B", "a", "É"]


def test_a_week_starts_at_the_period_start_and_an_earlier_call_is_in_a_negative_week(runs):
    period = pd.Timestamp("2025-01-01")  # a Wednesday
    snaps = pd.to_datetime(
        [
            "2024-12-24 23:00",  # 8 days before (by date): week -2
            "2024-12-25 00:00",  # 7 days before: week -1
            "2024-12-31 23:59",  # 1 day before: week -1, later than the 25th: the call
            "2025-01-07 23:59",  # day 6: week 0
            "2025-01-08 00:00",  # day 7: week 1
        ]
    )
    forecasts = pd.DataFrame(
        {
            "owner": "ava",
            "period": period,
            "snapshot_date": snaps,
            "category": "commit",
            "amount": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    actuals = pd.DataFrame({"owner": ["ava"], "period": [period], "amount": [10.0]})
    out = kw.forecast_accuracy(forecasts, actuals)
    assert runs == [1]
    assert out["week_of_period"].tolist() == [-2, -1, 0, 1]
    assert out["forecast"].tolist() == [1.0, 3.0, 4.0, 5.0]


def test_the_latest_call_of_a_week_wins_whatever_the_row_order(runs):
    forecasts = pd.DataFrame(
        {
            "owner": "ava",
            "period": pd.Timestamp("2025-01-01"),
            "snapshot_date": pd.to_datetime(["2025-01-05", "2025-01-02", "2025-01-03"]),
            "category": "commit",
            "amount": [50.0, 10.0, 30.0],
        }
    )
    actuals = pd.DataFrame(
        {"owner": ["ava"], "period": [pd.Timestamp("2025-01-01")], "amount": [100.0]}
    )
    out = kw.forecast_accuracy(forecasts, actuals)
    assert runs == [1]
    assert out["forecast"].tolist() == [50.0]
    assert out["snapshot_date"].tolist() == [pd.Timestamp("2025-01-05")]


def test_final_takes_the_manager_call_over_the_rep_and_ignores_other_submitters(runs):
    forecasts = pd.DataFrame(
        {
            "owner": "ava",
            "period": pd.Timestamp("2025-01-01"),
            "snapshot_date": pd.to_datetime(
                ["2025-01-02", "2025-01-03", "2025-01-09", "2025-01-10"]
            ),
            "category": "commit",
            # week 0: rep 80, manager 90 -> 90; week 1: rep 70, other 60 -> 70
            "amount": [80.0, 90.0, 70.0, 60.0],
            "submitted_by": ["rep", "manager", "rep", "other"],
        }
    )
    actuals = pd.DataFrame(
        {"owner": ["ava"], "period": [pd.Timestamp("2025-01-01")], "amount": [100.0]}
    )
    out = kw.forecast_accuracy(forecasts, actuals, submitted="final")
    assert runs == [1]
    assert out["forecast"].tolist() == [90.0, 70.0]
    assert out["submitted_by"].tolist() == ["final", "final"]


def test_period_bounds_are_inclusive_and_categories_filter(runs):
    forecasts, actuals = random_calls(5, nulls=False)
    forecasts = _deduplicated(forecasts)
    out = quiet(
        kw.forecast_accuracy,
        forecasts,
        actuals,
        start="2025-04-01",
        end="2025-07-01",
        category="best_case",
    )
    assert runs == [1]
    assert set(out["period"]) == {pd.Timestamp("2025-04-01"), pd.Timestamp("2025-07-01")}
    assert set(out["category"]) == {"best_case"}
    check_against_loop(
        out, forecasts, actuals, start="2025-04-01", end="2025-07-01", category=["best_case"]
    )


def test_nulls_are_left_out_counted_and_warned_as_the_plans_do(runs):
    forecasts, actuals = random_calls(7)
    forecasts = _deduplicated(forecasts)
    with pytest.warns(kw.DroppedRowsWarning) as ours:
        out = kw.forecast_accuracy(forecasts, actuals)
    assert runs == [1]
    with pytest.warns(kw.DroppedRowsWarning) as theirs:
        ref = plans(forecasts, actuals)
    forecast_warnings = [str(w.message) for w in ours if "forecasts" in str(w.message)]
    assert forecast_warnings == [str(w.message) for w in theirs if "forecasts" in str(w.message)]
    assert len(forecast_warnings) == 1
    nulls = forecasts[
        ["owner", "period", "snapshot_date", "category", "amount", "submitted_by"]
    ].isna()
    assert out.attrs["dropped_rows"]["rows left out"] == int(nulls.any(axis=1).sum())
    assert out.attrs["dropped_rows"]["null owner"] == int(nulls["owner"].sum())
    assert out.attrs == ref.attrs


def test_a_call_given_twice_with_two_amounts_raises_the_plans_error(runs):
    forecasts = pd.DataFrame(
        {
            "owner": "ava",
            "period": pd.Timestamp("2025-01-01"),
            "snapshot_date": pd.Timestamp("2025-01-02"),
            "category": "commit",
            "amount": [80.0, 90.0],
        }
    )
    actuals = pd.DataFrame(
        {"owner": ["ava"], "period": [pd.Timestamp("2025-01-01")], "amount": [100.0]}
    )
    with pytest.raises(ValueError, match="given twice with different amounts"):
        kw.forecast_accuracy(forecasts, actuals)
    assert runs == []


def test_zero_actuals_raise_names_a_call(runs):
    forecasts = pd.DataFrame(
        {
            "owner": ["ava", "bo"],
            "period": pd.Timestamp("2025-01-01"),
            "snapshot_date": pd.Timestamp("2025-01-02"),
            "category": "commit",
            "amount": [80.0, 90.0],
        }
    )
    actuals = pd.DataFrame(
        {"owner": ["ava", "bo"], "period": pd.Timestamp("2025-01-01"), "amount": [100.0, 0.0]}
    )
    with pytest.raises(ValueError, match=r"1 call\(s\) .*'bo', period 2025-01-01 00:00:00"):
        kw.forecast_accuracy(forecasts, actuals, zero_actuals="raise")
    with pytest.raises(ValueError, match=r"1 call\(s\) .*'bo', period 2025-01-01 00:00:00"):
        plans(forecasts, actuals, zero_actuals="raise")


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_every_timestamp_unit_keeps_its_unit(runs, unit):
    forecasts, actuals = random_calls(11, nulls=False)
    forecasts = _deduplicated(forecasts)
    forecasts = forecasts.astype(
        {"period": f"datetime64[{unit}]", "snapshot_date": f"datetime64[{unit}]"}
    )
    out = quiet(kw.forecast_accuracy, forecasts, actuals)
    assert runs == [1]
    assert out["snapshot_date"].dtype == np.dtype(f"datetime64[{unit}]")
    check_against_loop(out, forecasts, actuals)
    pd.testing.assert_frame_equal(out, quiet(plans, forecasts, actuals))


def test_what_the_pass_does_not_read_exactly_goes_to_the_plans(runs):
    forecasts, actuals = random_calls(13, nulls=False)
    forecasts = _deduplicated(forecasts)
    zoned = forecasts.assign(
        snapshot_date=forecasts["snapshot_date"].dt.tz_localize("UTC"),
        period=forecasts["period"].dt.tz_localize("UTC"),
    )
    sub_us = forecasts.astype({"snapshot_date": "datetime64[ns]", "period": "datetime64[ns]"})
    sub_us["snapshot_date"] += pd.Timedelta(1, "ns")
    mixed = forecasts.assign(owner=forecasts["owner"].where(forecasts.index % 2 == 0, 7))
    numbers_as_objects = forecasts.assign(owner=np.arange(len(forecasts)).astype(object))
    cases = [
        (numbers_as_objects, actuals.assign(owner=np.int64(1)), {}),
        (zoned, actuals, {}),
        (sub_us, actuals, {}),
        (forecasts.assign(category=forecasts["category"].astype("category")), actuals, {}),
        (forecasts.assign(amount=forecasts["amount"] > 0), actuals, {}),
        (forecasts, actuals, {"by": ()}),
        (forecasts, actuals, {"by": ("owner", "category")}),
        (pl.from_pandas(forecasts), pl.from_pandas(actuals), {}),
    ]
    for frame, act, kwargs in cases:
        with contextlib.suppress(Exception):  # only the route is checked here
            quiet(kw.forecast_accuracy, frame, act, **kwargs)
    with pytest.raises(Exception):  # noqa: B017 - mixed owners: the plans' own error
        quiet(kw.forecast_accuracy, mixed, actuals)
    assert runs == []


def test_keys_too_wide_for_64_bits_go_to_the_plans(runs):
    # 2,000 rows of distinct owners, periods, snapshots, categories and submitters need
    # 11 bits each, 77 with the row number: more than 63
    n = 2_000
    rng = np.random.default_rng(0)
    period = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.permutation(n), unit="D")
    forecasts = pd.DataFrame(
        {
            "owner": [f"o{i}" for i in range(n)],
            "period": period,
            "snapshot_date": period + pd.to_timedelta(rng.integers(0, 10**6, n), unit="s"),
            "category": [f"c{i}" for i in range(n)],
            "amount": 1.0,
            "submitted_by": [f"s{i}" for i in range(n)],
        }
    )
    actuals = pd.DataFrame({"owner": forecasts["owner"], "period": period, "amount": 2.0})
    out = kw.forecast_accuracy(forecasts, actuals)
    assert runs == []
    assert len(out) == n
    assert (out["error"] == -1.0).all()


def test_small_frames_run_the_plans(monkeypatch):
    made: list[int] = []
    monkeypatch.setattr(fast, "_frame", lambda *a, **k: made.append(1))
    forecasts, actuals = random_calls(17, nulls=False)
    if len(forecasts) >= fast.MIN_ROWS:
        pytest.skip("KPIWIDGETS_KERNEL_MIN_ROWS forces the pass on small tables")
    quiet(kw.forecast_accuracy, _deduplicated(forecasts), actuals)
    assert made == []  # below MIN_ROWS (half a million rows by default)


def _two_reps():
    forecasts = pd.DataFrame(
        {
            "owner": ["ava", "ava", "ben", "ben"],
            "period": pd.to_datetime(["2025-01-01"] * 4),
            "snapshot_date": pd.to_datetime(["2025-01-06", "2025-03-24"] * 2),
            "category": "commit",
            "amount": [80.0, 110.0, 300.0, 250.0],
        }
    )
    actuals = pd.DataFrame(
        {
            "owner": ["ava", "ben"],
            "period": pd.to_datetime(["2025-01-01"] * 2),
            "amount": [100.0, 200.0],
        }
    )
    return forecasts, actuals


def _said(fn, *args, **kwargs):
    """``(result or error text, warnings in order)``."""
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        try:
            out = fn(*args, **kwargs)
        except ValueError as exc:
            out = str(exc)
    return out, [f"{w.category.__name__}: {w.message}" for w in said]


def test_nan_and_null_that_arrow_tells_apart_go_to_the_plans(runs):
    arrow_nan = pd.array(
        pa.array([np.nan, 200.0], from_pandas=False), dtype=pd.ArrowDtype(pa.float64())
    )
    forecasts, actuals = _two_reps()
    cases = [
        (
            forecasts,
            actuals.assign(period=actuals["period"].astype(pd.ArrowDtype(pa.timestamp("us")))),
        ),
        (
            forecasts,
            actuals.assign(
                period=actuals["period"].astype("datetime64[ns]") + pd.Timedelta(500, "ns")
            ),
        ),
        (forecasts, actuals.assign(amount=arrow_nan)),  # a NaN actual DuckDB keeps
        (forecasts, actuals.assign(amount=[np.inf, 200.0])),
        (
            forecasts.assign(
                amount=pd.array(
                    pa.array([np.nan, 110.0, 300.0, 250.0], from_pandas=False),
                    dtype=pd.ArrowDtype(pa.float64()),
                )
            ),
            actuals,
        ),
        (forecasts.assign(amount=forecasts["amount"].astype("Float64")), actuals),
    ]
    for f, a in cases:
        out, said = _said(kw.forecast_accuracy, f, a)
        ref, ref_said = _said(plans, f, a)
        pd.testing.assert_frame_equal(out, ref)
        assert said == ref_said
    assert runs == []


def test_warnings_come_in_the_plans_order_and_once(runs):
    forecasts, actuals = _two_reps()
    forecasts.loc[0, "category"] = None
    actuals = pd.concat(
        [
            actuals,
            pd.DataFrame(
                {"owner": [None], "period": pd.to_datetime(["2025-01-01"]), "amount": [1.0]}
            ),
        ],
        ignore_index=True,
    )
    out, said = _said(kw.forecast_accuracy, forecasts, actuals)
    assert runs == [1]
    ref, ref_said = _said(plans, forecasts, actuals)
    assert said == ref_said
    assert [s.split(":")[1].strip() for s in said] == ["forecasts", "actuals"]
    pd.testing.assert_frame_equal(out, ref)
    # zero_actuals="raise": the same warnings, then the same error
    zero = actuals.assign(amount=[100.0, 0.0, 1.0])
    assert _said(kw.forecast_accuracy, forecasts, zero, zero_actuals="raise") == _said(
        plans, forecasts, zero, zero_actuals="raise"
    )
    # the pass handing over after reading the actuals (an owner the forecasts' type cannot
    # hold) leaves the warnings to the plans: each once
    f = forecasts.assign(owner=np.array([1, 1, 2, 2], np.int32))
    a = pd.DataFrame(
        {
            "owner": np.array([1, 2, 2**40, 5]),
            "period": pd.to_datetime(["2025-01-01"] * 3 + [None]),
            "amount": [100.0, 200.0, 5.0, 1.0],
        }
    )
    runs.clear()
    out, said = _said(kw.forecast_accuracy, f, a)
    assert runs == []
    assert (out, said)[1] == _said(plans, f, a)[1]
    assert sum("actuals" in s for s in said) == 1


def test_an_infinite_call_scores_as_the_plans_without_numpy_warnings(runs):
    forecasts, actuals = _two_reps()
    forecasts.loc[2, "amount"] = np.inf
    out, said = _said(kw.forecast_accuracy, forecasts, actuals)
    assert runs == [1]
    assert said == []
    pd.testing.assert_frame_equal(out, plans(forecasts, actuals))
    assert out["error"].iloc[2] == np.inf
