"""Cohort retention on small hand-made tables; every expected number is worked out in a comment."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import kpiwidgets as kw
from kpiwidgets import DroppedRowsWarning
from kpiwidgets.metrics._periods import period_index_of
from kpiwidgets.metrics.retention import cohort_retention
from kpiwidgets.metrics.retention_average import average_retention, retention_triangle


def _activity(
    rows: list[tuple], columns: tuple[str, ...] = ("account_id", "month")
) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    frame["month"] = pd.to_datetime(frame["month"], format="ISO8601")
    return frame


def _grid(result: pd.DataFrame, column: str = "retained") -> dict[tuple[str, int], object]:
    return {
        (c.strftime("%Y-%m-%d"), int(k)): v
        for c, k, v in zip(result["cohort"], result["period_number"], result[column], strict=True)
    }


# A: Jan, Feb, Apr. B: Jan and Apr only (a gap: active in k=0 and k=3). C: Jan only.
# D: Feb, Mar (February cohort). E: Apr (April cohort). No one starts in March.
GAPS = _activity(
    [
        ("A", "2024-01-03"),
        ("A", "2024-01-20"),  # second row in the same month: still one entity
        ("A", "2024-02-10"),
        ("A", "2024-04-10"),
        ("B", "2024-01-15"),
        ("B", "2024-04-02"),
        ("C", "2024-01-31"),
        ("D", "2024-02-01"),
        ("D", "2024-03-31"),
        ("E", "2024-04-12"),
    ]
)


def test_mode_on_counts_activity_in_the_period_and_keeps_zero_cells():
    result = cohort_retention(GAPS)
    # Jan cohort {A, B, C}: k0 all 3; k1 (Feb) only A; k2 (Mar) nobody -> a zero cell, still
    # present; k3 (Apr) A and B. Feb cohort {D}: Feb, Mar, then nothing in Apr.
    # Apr cohort {E}. No March cohort (nobody started then).
    assert _grid(result) == {
        ("2024-01-01", 0): 3,
        ("2024-01-01", 1): 1,
        ("2024-01-01", 2): 0,
        ("2024-01-01", 3): 2,
        ("2024-02-01", 0): 1,
        ("2024-02-01", 1): 1,
        ("2024-02-01", 2): 0,
        ("2024-04-01", 0): 1,
    }
    assert _grid(result, "cohort_size")[("2024-01-01", 3)] == 3
    assert _grid(result, "retention")[("2024-01-01", 1)] == pytest.approx(1 / 3)
    # as_of defaults to the last timestamp (Apr 12): April has not ended -> only April cells
    # are incomplete.
    complete = _grid(result, "is_complete")
    assert [key for key, done in complete.items() if not done] == [
        ("2024-01-01", 3),
        ("2024-02-01", 2),
        ("2024-04-01", 0),
    ]
    assert list(result.columns) == [
        "cohort",
        "period_number",
        "cohort_size",
        "retained",
        "retention",
        "is_complete",
    ]
    assert result.attrs["dropped_rows"] == {}


def test_mode_on_or_after_counts_entities_whose_last_period_is_at_least_k():
    result = cohort_retention(GAPS, mode="on_or_after")
    # Last active k: A 3, B 3 (the gap does not matter), C 0 -> Jan cohort 3, 2, 2, 2.
    # D: last k 1 -> 1, 1, 0.
    assert _grid(result) == {
        ("2024-01-01", 0): 3,
        ("2024-01-01", 1): 2,
        ("2024-01-01", 2): 2,
        ("2024-01-01", 3): 2,
        ("2024-02-01", 0): 1,
        ("2024-02-01", 1): 1,
        ("2024-02-01", 2): 0,
        ("2024-04-01", 0): 1,
    }


def test_as_of_cuts_the_data_and_marks_the_period_in_progress():
    # as_of = April 1st 00:00: March has ended (complete); April has started (a cell,
    # incomplete) but rows after as_of are unknown yet: A's and B's April activity and all
    # of E go. The Jan cohort's April cell is therefore 0.
    result = cohort_retention(GAPS, as_of=dt.datetime(2024, 4, 1))
    assert _grid(result) == {
        ("2024-01-01", 0): 3,
        ("2024-01-01", 1): 1,
        ("2024-01-01", 2): 0,
        ("2024-01-01", 3): 0,
        ("2024-02-01", 0): 1,
        ("2024-02-01", 1): 1,
        ("2024-02-01", 2): 0,
    }
    assert _grid(result, "is_complete")[("2024-01-01", 2)]
    assert not _grid(result, "is_complete")[("2024-01-01", 3)]
    # as_of a string and late: periods after the data still get (zero) cells up to as_of.
    later = cohort_retention(GAPS, as_of="2024-05-15")
    assert _grid(later)[("2024-01-01", 4)] == 0
    assert _grid(later, "is_complete")[("2024-01-01", 3)]


def test_weekly_periods_start_on_monday():
    # 2024-01-01 is a Monday. X: Sun Jan 7 (week of Jan 1, k0), Mon Jan 8 and Sun Jan 14 (week
    # of Jan 8, k1), Mon Jan 15 (k2). Y: Wed Jan 3 (k0), Sun Jan 21 (week of Jan 15, k2).
    # as_of Mon Jan 22: the week of Jan 22 exists (k3, nobody, incomplete).
    activity = _activity(
        [
            ("X", "2024-01-07 18:00"),
            ("X", "2024-01-08 00:00"),
            ("X", "2024-01-14 23:59"),
            ("X", "2024-01-15"),
            ("Y", "2024-01-03"),
            ("Y", "2024-01-21"),
        ]
    )
    result = cohort_retention(activity, period="W", as_of="2024-01-22")
    assert _grid(result) == {
        ("2024-01-01", 0): 2,
        ("2024-01-01", 1): 1,
        ("2024-01-01", 2): 2,
        ("2024-01-01", 3): 0,
    }
    assert _grid(result, "is_complete") == {
        ("2024-01-01", 0): True,
        ("2024-01-01", 1): True,
        ("2024-01-01", 2): True,
        ("2024-01-01", 3): False,
    }


def test_weeks_cross_the_new_year():
    # Mon 2024-12-30 starts the week holding Jan 1-5 2025: Tue Dec 31 and Sun Jan 5 are both
    # k0 of the cohort "2024-12-30"; Mon Jan 6 is k1.
    activity = _activity([("Z", "2024-12-31"), ("Z", "2025-01-05"), ("Z", "2025-01-06")])
    result = cohort_retention(activity, period="W")
    assert _grid(result) == {("2024-12-30", 0): 1, ("2024-12-30", 1): 1}


def test_quarter_boundaries():
    # P: Mar 31 23:59 (Q1 2024) and Apr 1 00:00 (Q2, k1). Q: Feb 15 (Q1) and Jan 1 2025
    # (Q1 2025, k4). Cohort Q1 2024 = {P, Q}: k0 2, k1 1, k2 0, k3 0, k4 1; the last
    # timestamp is Jan 1 2025, so Q1 2025 (k4) is in progress.
    activity = _activity(
        [
            ("P", "2024-03-31 23:59"),
            ("P", "2024-04-01 00:00"),
            ("Q", "2024-02-15"),
            ("Q", "2025-01-01"),
        ]
    )
    result = cohort_retention(activity, period="Q")
    assert _grid(result) == {
        ("2024-01-01", 0): 2,
        ("2024-01-01", 1): 1,
        ("2024-01-01", 2): 0,
        ("2024-01-01", 3): 0,
        ("2024-01-01", 4): 1,
    }
    assert _grid(result, "is_complete")[("2024-01-01", 3)]
    assert not _grid(result, "is_complete")[("2024-01-01", 4)]


def test_daily_and_yearly_periods():
    # Days: Feb 28 -> Mar 1 2024 is 2 days (leap year). Years: 2023 -> 2025 is k2.
    activity = _activity([("A", "2024-02-28 08:00"), ("A", "2024-03-01 22:00")])
    assert _grid(cohort_retention(activity, period="D")) == {
        ("2024-02-28", 0): 1,
        ("2024-02-28", 1): 0,
        ("2024-02-28", 2): 1,
    }
    years = _activity([("A", "2023-06-01"), ("A", "2025-12-31")])
    assert _grid(cohort_retention(years, period="Y")) == {
        ("2023-01-01", 0): 1,
        ("2023-01-01", 1): 0,
        ("2023-01-01", 2): 1,
    }


def test_tz_aware_input_uses_its_own_zone_and_keeps_it():
    # 2024-01-31 23:30 in New York is January there (04:30 on Feb 1 in UTC). With the Feb 15
    # activity that is cohort January, k1 - but in UTC both fall in February (k0 only).
    activity = _activity([("a", "2024-01-31 23:30"), ("a", "2024-02-15 12:00")])
    activity["month"] = activity["month"].dt.tz_localize("America/New_York")
    local = cohort_retention(activity)
    assert str(local["cohort"].dt.tz) == "America/New_York"
    assert local["cohort"].tolist() == [pd.Timestamp("2024-01-01", tz="America/New_York")] * 2
    assert local["retained"].tolist() == [1, 1]

    utc = cohort_retention(activity, tz="UTC")
    assert utc["cohort"].tolist() == [pd.Timestamp("2024-02-01", tz="UTC")]
    assert utc["retained"].tolist() == [1]

    # A tz-aware as_of is converted to the data's zone: 2024-02-01 04:45 UTC is Jan 31 23:45
    # in New York, so the Feb 15 row is after it and January is in progress.
    cut = cohort_retention(activity, as_of=pd.Timestamp("2024-02-01 04:45", tz="UTC"))
    assert _grid(cut) == {("2024-01-01", 0): 1}
    assert not cut["is_complete"].iloc[0]


def test_naive_input_with_tz_is_taken_as_utc():
    # Naive 2024-02-01 02:00 taken as UTC is Jan 31 21:00 in New York: cohort January.
    activity = _activity([("a", "2024-02-01 02:00")])
    result = cohort_retention(activity, tz="America/New_York")
    assert result["cohort"].tolist() == [pd.Timestamp("2024-01-01", tz="America/New_York")]


def test_value_retention_can_exceed_one():
    # Jan cohort {A, B, C}: Jan MRR 100 + 100 + 50 = 250. Feb: A expands to 250, B contracts
    # to 80, C churns: 330 -> value_retention 330 / 250 = 1.32 while retention is 2/3.
    activity = _activity(
        [
            ("A", "2024-01-01", 100.0),
            ("B", "2024-01-01", 100.0),
            ("C", "2024-01-01", 50.0),
            ("A", "2024-02-01", 250.0),
            ("B", "2024-02-01", 80.0),
        ],
        columns=("account_id", "month", "mrr"),
    )
    result = cohort_retention(activity, value="mrr")
    assert result["value"].tolist() == [250.0, 330.0]
    assert result["value_retention"].tolist() == pytest.approx([1.0, 1.32])
    assert result["retention"].tolist() == pytest.approx([1.0, 2 / 3])
    assert list(result.columns)[-3:] == ["value", "value_retention", "is_complete"]


def test_value_retention_is_null_when_period_zero_value_is_zero():
    # A free first month: 0 in period 0, 40 in period 1 -> no ratio (NaN), never an error.
    activity = _activity(
        [("A", "2024-01-01", 0.0), ("A", "2024-02-01", 40.0)],
        columns=("account_id", "month", "mrr"),
    )
    result = cohort_retention(activity, value="mrr")
    assert result["value_retention"].isna().all()


def test_by_takes_the_attribute_of_the_first_activity_row():
    # A's first row says "web" (later "ads"): A counts in web. B and C are ads from the start.
    # web: {A} -> Jan 1, Feb 1. ads: {B} Jan cohort (Jan only), {C} Feb cohort.
    activity = _activity(
        [
            ("A", "2024-01-05", "web"),
            ("A", "2024-02-05", "ads"),
            ("B", "2024-01-09", "ads"),
            ("C", "2024-02-07", "ads"),
        ],
        columns=("account_id", "month", "channel"),
    )
    result = cohort_retention(activity, by="channel", as_of="2024-03-01")
    assert list(result.columns[:2]) == ["channel", "cohort"]
    got = {
        (ch, c.strftime("%m"), k): n
        for ch, c, k, n in result[["channel", "cohort", "period_number", "retained"]].itertuples(
            index=False
        )
    }
    # as_of Mar 1 00:00: March has begun, so each cohort also gets a March cell (0).
    assert got == {
        ("ads", "01", 0): 1,
        ("ads", "01", 1): 0,
        ("ads", "01", 2): 0,
        ("ads", "02", 0): 1,
        ("ads", "02", 1): 0,
        ("web", "01", 0): 1,
        ("web", "01", 1): 1,
        ("web", "01", 2): 0,
    }


def test_average_row_pooled_and_simple():
    # From GAPS: Jan cohort size 3, Feb size 1, Apr size 1 (April cells incomplete).
    # k0: complete cells Jan (3/3) and Feb (1/1) -> pooled 4/4 = 1, simple 1.
    # k1: Jan 1/3, Feb 1/1 -> pooled 2/4 = 0.5; simple (1/3 + 1) / 2 = 2/3.
    # k2: Jan 0/3 (complete); Feb's k2 is April (incomplete, left out) -> 0 from one cohort.
    # k3: only Jan's incomplete cell -> no row.
    result = cohort_retention(GAPS)
    pooled = average_retention(result)
    assert pooled["period_number"].tolist() == [0, 1, 2]
    assert pooled["retention"].tolist() == pytest.approx([1.0, 0.5, 0.0])
    assert pooled["cohorts"].tolist() == [2, 2, 1]
    assert pooled["cohort_size"].tolist() == [4, 4, 3]
    assert pooled["retained"].tolist() == [4, 2, 0]
    assert set(pooled["method"]) == {"pooled"}
    simple = average_retention(result, method="simple")
    assert simple["retention"].tolist() == pytest.approx([1.0, 2 / 3, 0.0])
    assert set(simple["method"]) == {"simple"}


def test_average_row_keeps_by_groups_and_averages_value_retention():
    # Two web cohorts. Jan: MRR 100 -> 150 (1.5); Feb: MRR 300 -> 300 (1.0).
    # as_of Apr 1 makes k1 complete for both. Pooled value retention (150 + 300) / (100 + 300)
    # = 1.125; simple (1.5 + 1.0) / 2 = 1.25.
    activity = _activity(
        [
            ("A", "2024-01-01", "web", 100.0),
            ("A", "2024-02-01", "web", 150.0),
            ("B", "2024-02-01", "web", 300.0),
            ("B", "2024-03-01", "web", 300.0),
        ],
        columns=("account_id", "month", "channel", "mrr"),
    )
    result = cohort_retention(activity, value="mrr", by="channel", as_of="2024-04-01")
    pooled = average_retention(result)
    row = pooled[pooled["period_number"] == 1].iloc[0]
    assert row["channel"] == "web"
    assert row["value_retention"] == pytest.approx(1.125)
    simple = average_retention(result, method="simple")
    assert simple.loc[simple["period_number"] == 1, "value_retention"].item() == pytest.approx(1.25)


def test_average_row_counts_the_cohorts_and_entities_behind_each_cell():
    # Jan cohort {A, B, C}, Feb {D, E}, Mar {F}; April is in progress (as_of Apr 15).
    # Complete cells: Jan k0-k2, Feb k0-k1, Mar k0 -> the tail rests on the oldest cohort.
    # k0: 3 cohorts, 3 + 2 + 1 = 6 entities, all retained.
    # k1: Jan (A back in Feb) and Feb (D back in Mar): 2 cohorts, 3 + 2 = 5 entities, 2 kept.
    # k2: Jan alone (A and B in Mar): 1 cohort, 3 entities, 2 kept. k3 (April): no row.
    activity = _activity(
        [
            ("A", "2024-01-05", "web"),
            ("A", "2024-02-05", "web"),
            ("A", "2024-03-05", "web"),
            ("A", "2024-04-05", "web"),
            ("B", "2024-01-10", "web"),
            ("B", "2024-03-10", "web"),
            ("C", "2024-01-20", "ads"),
            ("D", "2024-02-02", "web"),
            ("D", "2024-03-02", "web"),
            ("E", "2024-02-20", "ads"),
            ("F", "2024-03-03", "ads"),
            ("F", "2024-04-03", "ads"),
        ],
        columns=("account_id", "month", "channel"),
    )
    result = cohort_retention(activity.drop(columns="channel"), as_of="2024-04-15")
    for method in ("pooled", "simple"):
        average = average_retention(result, method=method)
        assert average["period_number"].tolist() == [0, 1, 2]
        assert average["cohorts"].tolist() == [3, 2, 1]
        assert average["cohort_size"].tolist() == [6, 5, 3]
        assert average["retained"].tolist() == [6, 2, 2]
    # Per channel. web: Jan {A, B}, Feb {D}; ads: Jan {C}, Feb {E}, Mar {F}.
    # web k0: 2 cohorts, 3 entities; k1: Jan (A), Feb (D): 2, 3, 2 kept; k2: Jan: 1, 2, 2 kept.
    # ads k0: 3 cohorts, 3 entities; k1: Jan (C), Feb (E): 2, 2, none kept; k2: Jan: 1, 1, 0.
    by = cohort_retention(activity, by="channel", as_of="2024-04-15")
    average = average_retention(by)
    got = {
        (c, int(k)): (int(n), int(size), int(kept))
        for c, k, n, size, kept in zip(
            average["channel"],
            average["period_number"],
            average["cohorts"],
            average["cohort_size"],
            average["retained"],
            strict=True,
        )
    }
    assert got == {
        ("ads", 0): (3, 3, 3),
        ("ads", 1): (2, 2, 0),
        ("ads", 2): (1, 1, 0),
        ("web", 0): (2, 3, 3),
        ("web", 1): (2, 3, 2),
        ("web", 2): (1, 2, 2),
    }


def test_triangle_pivots_cohorts_by_period_number():
    table = retention_triangle(cohort_retention(GAPS), values="retained")
    assert list(table.columns) == [0, 1, 2, 3]
    assert table.loc[pd.Timestamp("2024-01-01")].tolist() == [3, 1, 0, 2]
    assert table.loc[pd.Timestamp("2024-04-01")].isna().tolist() == [False, True, True, True]


def test_null_rows_are_left_out_and_reported():
    activity = _activity(
        [("A", "2024-01-01"), (None, "2024-01-02"), ("B", None), ("B", "2024-02-01")]
    )
    with pytest.warns(DroppedRowsWarning, match="2 row"):
        result = cohort_retention(activity)
    assert result.attrs["dropped_rows"] == {
        "null account_id": 1,
        "null month": 1,
        "rows left out": 2,
    }
    # What is left: A (Jan) and B (Feb) -> two cohorts of one.
    assert _grid(result) == {("2024-01-01", 0): 1, ("2024-01-01", 1): 0, ("2024-02-01", 0): 1}


def test_date_columns_work_like_datetimes():
    activity = _activity([("A", "2024-01-05"), ("A", "2024-02-05")])
    activity["month"] = activity["month"].dt.date.astype("date32[pyarrow]")
    assert _grid(cohort_retention(activity)) == {("2024-01-01", 0): 1, ("2024-01-01", 1): 1}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"period": "X"}, "period must be one of 'D', 'W', 'M', 'Q', 'Y', found 'X'"),
        ({"mode": "after"}, "mode must be one of 'on', 'on_or_after', found 'after'"),
        ({"mode": "on_or_after", "value": "mrr"}, "value= needs mode='on'"),
        ({"entity": "user"}, r"missing column\(s\) \['user'\]"),
        ({"by": "cohort"}, "by must not name an output"),
        ({"timestamp": "account_id"}, "must hold datetimes or dates, found String"),
    ],
)
def test_bad_parameters_say_what_was_expected_and_found(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cohort_retention(GAPS, **kwargs)


def test_bad_helper_parameters():
    result = cohort_retention(GAPS)
    with pytest.raises(ValueError, match="method must be one of 'pooled', 'simple', found 'x'"):
        average_retention(result, method="x")
    with pytest.raises(ValueError, match="missing columns"):
        average_retention(result.drop(columns="is_complete"))
    with pytest.raises(ValueError, match="values must be a column of the result, found 'nope'"):
        retention_triangle(result, values="nope")


def test_empty_input_gives_an_empty_grid():
    result = cohort_retention(GAPS.iloc[:0])
    assert len(result) == 0
    assert "retention" in result.columns


@pytest.mark.parametrize(
    ("moment", "period", "expected"),
    [
        (dt.date(2024, 1, 31), "M", 2024 * 12),
        (dt.date(2024, 12, 1), "Q", 2024 * 4 + 3),
        (dt.date(1, 1, 1), "D", 1),
        (dt.date(2024, 1, 7), "W", period_index_of(dt.date(2024, 1, 1), "W")),  # Sun -> Mon
        (dt.date(2024, 1, 8), "W", period_index_of(dt.date(2024, 1, 1), "W") + 1),
    ],
)
def test_python_period_index(moment, period, expected):
    assert period_index_of(moment, period) == expected


def test_value_agg_period_end_takes_each_quarters_last_month_snapshot():
    # A: Jan 100, Feb 100, Mar 120, Apr 120, May 130, Jun 150; B joins in March: Mar 50,
    # Apr 50, (no May row), Jun 60. Both are in the 2024-Q1 cohort.
    months = ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]
    rows = [("A", m, v) for m, v in zip(months, [100, 100, 120, 120, 130, 150], strict=True)]
    rows += [("B", "2024-03", 50), ("B", "2024-04", 50), ("B", "2024-06", 60)]
    revenue = pd.DataFrame(rows, columns=["account_id", "month", "mrr"])
    revenue["month"] = pd.to_datetime(revenue["month"])
    snap = kw.cohort_retention(revenue, period="Q", value="mrr", value_agg="period_end")
    summed = kw.cohort_retention(revenue, period="Q", value="mrr")
    # Snapshot at the quarter's last month in the data: Q1 = March 120 + 50 = 170,
    # Q2 = June 150 + 60 = 210.
    assert snap["value"].tolist() == [170.0, 210.0]
    assert snap["value_retention"].tolist() == pytest.approx([1.0, 210 / 170])
    # Summed: Q1 = 100 + 100 + 120 + 50 = 370, Q2 = 120 + 130 + 150 + 50 + 60 = 510.
    assert summed["value"].tolist() == [370.0, 510.0]
    # Retained counts do not depend on how the value is aggregated.
    assert snap["retained"].tolist() == summed["retained"].tolist() == [2, 2]
    with pytest.raises(ValueError, match="value_agg"):
        kw.cohort_retention(revenue, value="mrr", value_agg="mean")


def test_value_agg_period_end_takes_each_accounts_snapshot_in_the_last_month():
    # A's MRR is stamped on the 5th, B's on the 20th: both are March snapshots of Q1.
    rows = [("A", f"2024-0{m}-05", 100.0) for m in (1, 2, 3)]
    rows += [("B", f"2024-0{m}-20", 50.0) for m in (1, 2, 3)]
    activity = pd.DataFrame(rows, columns=["account_id", "month", "mrr"])
    activity["month"] = pd.to_datetime(activity["month"])
    got = kw.cohort_retention(
        activity, period="Q", value="mrr", value_agg="period_end", as_of="2024-03-31"
    )
    assert got["value"].tolist() == [150.0]


def test_user_columns_named_like_internal_ones_do_not_clash():
    # Entity and time columns called "_t" and "_e" (the names the plan once used inside):
    # A is active in Jan and Feb, B in Feb only -> Jan cohort keeps 1 of 1, Feb cohort 1 of 1.
    frame = pd.DataFrame(
        {
            "_t": ["A", "A", "B"],
            "_e": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-02-01"]),
            "_v": [10.0, 20.0, 5.0],
        }
    )
    out = cohort_retention(frame, entity="_t", timestamp="_e", value="_v")
    got = [
        (str(r.cohort.date()), r.period_number, r.cohort_size, r.value) for r in out.itertuples()
    ]
    assert got == [
        ("2024-01-01", 0, 1, 10.0),
        ("2024-01-01", 1, 1, 20.0),
        ("2024-02-01", 0, 1, 5.0),
    ]
