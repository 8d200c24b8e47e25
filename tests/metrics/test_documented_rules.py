"""Documented rules pinned on small hand-built inputs, through the public API only.

Every expected number is worked out by hand in a comment, and each input is built so that the
documented rule and its obvious alternatives (min vs max, ``<`` vs ``<=``, UTC vs wall time,
...) give different numbers: flipping the rule makes the test fail.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

import kpiwidgets as kw

T0 = pd.Timestamp("2024-01-01")  # a Monday
H = pd.Timedelta(hours=1)


def _log(rows, columns=("entity_id", "event", "timestamp")):
    """rows: (entity, event, hours after T0, *extra values)."""
    frame = pd.DataFrame(rows, columns=list(columns))
    frame[columns[2]] = [T0 + r[2] * H for r in rows]
    return frame


def _by_rows(result, by):
    """{(overall, *by values (None for null), step_number): entities} of a funnel result."""
    out = {}
    for row in result.to_dict("records"):
        values = tuple(None if pd.isna(row[b]) else row[b] for b in by)
        out[(bool(row["overall"]), *values, int(row["step_number"]))] = int(row["entities"])
    return out


# --- a. funnel(by=...): tied entry rows take the smallest value --------------------------------

TIED_ENTRY = _log(
    [
        # Entity 1: two lead rows at the same instant, channels "b" and "a", then won.
        # The smallest value, "a", is its channel; max would put it in "b".
        (1, "lead", 0, "b"),
        (1, "lead", 0, "a"),
        (1, "won", 1, "z"),  # a later row's value is never used
        # Entity 2: one lead row, "b"; never wins.
        (2, "lead", 0, "b"),
        # Entity 3: entry at 0h is "z", a later lead at 1h is "a": the entry's value "z" is
        # used (not the smallest over all its rows, which would be "a").
        (3, "lead", 0, "z"),
        (3, "lead", 1, "a"),
    ],
    columns=("entity_id", "event", "timestamp", "channel"),
)


@pytest.mark.parametrize(
    ("order", "attempts"),
    [("ordered", "first"), ("strict", "first"), ("any", "first"), ("ordered", "best")],
)
def test_funnel_by_tied_entry_rows_take_the_smallest_value(order, attempts):
    out = kw.funnel(
        TIED_ENTRY, ["lead", "won"], by="channel", window="1D", order=order, attempts=attempts
    )
    # min rule: a = {1} (1 entered, 1 won), b = {2} (1, 0), z = {3} (1, 0); overall 3 and 1.
    # max rule would give b = {1, 2} (2, 1) and no "a" group.
    # (best attempts: entity 3's attempts at 0h "z" and 1h "a" both stop at step 1; ties keep
    # the earliest attempt, so still "z".)
    assert _by_rows(out, ["channel"]) == {
        (True, None, 1): 3,
        (True, None, 2): 1,
        (False, "a", 1): 1,
        (False, "a", 2): 1,
        (False, "b", 1): 1,
        (False, "b", 2): 0,
        (False, "z", 1): 1,
        (False, "z", 2): 0,
    }


def test_funnel_by_tie_compares_values_not_their_text():
    # The tie is broken on the column's own values: 9 < 10 for integers (as text "10" < "9",
    # so a text comparison would pick 10). The result shows the value as text.
    events = TIED_ENTRY.assign(tier=[10, 9, 1, 5, 3, 1])
    ents = kw.funnel_entities(events, ["lead", "won"], by="tier", window="1D")
    assert ents["tier"].tolist() == [9, 5, 3]  # entity 1: min(10, 9) = 9; 2: 5; 3: entry 3
    out = kw.funnel(events, ["lead", "won"], by="tier", window="1D")
    assert _by_rows(out, ["tier"])[(False, "9", 2)] == 1  # entity 1 won, in group "9"
    # segment_comparison groups entities the same way: "a" holds entity 1 (1 of 1 converted).
    seg = kw.segment_comparison(TIED_ENTRY, ["lead", "won"], by="channel", window="1D")
    assert seg[["channel", "entities", "converted"]].values.tolist() == [
        ["a", 1, 1],
        ["b", 1, 0],
        ["z", 1, 0],
    ]


# --- b. cohort_retention(by=...): first row, ties at that timestamp -> the smallest value -----


@pytest.mark.parametrize("mode", ["on", "on_or_after"])
def test_cohort_retention_by_tied_first_rows_take_the_smallest_value(mode):
    activity = pd.DataFrame(
        [
            # A's first timestamp has two rows, "web" and "ads": A is "ads" (max: "web").
            ("A", "2024-01-05", "web"),
            ("A", "2024-01-05", "ads"),
            # A later row's "aaa" is ignored (the smallest over all rows would be "aaa").
            ("A", "2024-02-10", "aaa"),
            ("B", "2024-01-20", "web"),
        ],
        columns=["account_id", "month", "channel"],
    )
    activity["month"] = pd.to_datetime(activity["month"])
    result = kw.cohort_retention(activity, by="channel", mode=mode)
    got = {
        (r.channel, r.cohort.strftime("%Y-%m"), r.period_number): (r.cohort_size, r.retained)
        for r in result.itertuples()
    }
    # ads: {A}, January cohort; A is active in February (k1) -> k0 1/1, k1 1/1.
    # web: {B}, January cohort; B only in January -> k0 1/1, k1 0/1.
    # (on_or_after: A's last period is k1, B's k0 -> the same numbers.)
    assert got == {
        ("ads", "2024-01", 0): (1, 1),
        ("ads", "2024-01", 1): (1, 1),
        ("web", "2024-01", 0): (1, 1),
        ("web", "2024-01", 1): (1, 0),
    }


# --- c. segment_comparison: Fisher below an expected count of 5, z-test at 5 ------------------


def _segments(n_a, x_a, n_b, x_b):
    rows = []
    for seg, n, x in (("a", n_a, x_a), ("b", n_b, x_b)):
        for i in range(n):
            rows.append((f"{seg}{i}", "lead", 0, seg))
            if i < x:
                rows.append((f"{seg}{i}", "won", 1, seg))
    return _log(rows, columns=("entity_id", "event", "timestamp", "segment"))


def test_segment_comparison_uses_z_when_the_smallest_expected_count_is_exactly_5():
    stats = pytest.importorskip("scipy.stats")
    # a: 7 of 10 converted, b: 3 of 10. Totals: 20 entities, 10 converted, 10 not.
    # Expected counts n_seg * column total / 20 = 10 * 10 / 20 = 5.0 in all four cells: the
    # smallest is exactly 5, not below 5 -> z-test. (A "<=" rule, or one on the observed
    # counts, whose smallest is 3, would switch to Fisher.)
    out = kw.segment_comparison(_segments(10, 7, 10, 3), ["lead", "won"], by="segment")
    assert out["test"].tolist() == ["z", "z"]
    # By hand: p_a = 0.7, p_b = 0.3, pooled p = 0.5,
    # z = 0.4 / sqrt(0.5 * 0.5 * (1/10 + 1/10)) = 0.4 / sqrt(0.05) = 1.788854...
    z = 0.4 / math.sqrt(0.5 * 0.5 * (1 / 10 + 1 / 10))
    assert z == pytest.approx(1.7888543819998317)
    p = 2 * stats.norm.sf(z)  # two-sided: 2 (1 - Phi(|z|)) = 0.07364...
    assert p == pytest.approx(0.0736382, abs=1e-6)
    assert out["p_value"].tolist() == pytest.approx([p, p], rel=1e-9)
    # The same as scipy's chi-square without continuity correction, and not Fisher's p.
    _, chi2_p, _, _ = stats.chi2_contingency([[7, 3], [3, 7]], correction=False)
    assert chi2_p == pytest.approx(p, rel=1e-9)
    _, fisher_p = stats.fisher_exact([[7, 3], [3, 7]])
    assert abs(fisher_p - p) > 0.05


def test_segment_comparison_uses_fisher_just_below_an_expected_count_of_5():
    stats = pytest.importorskip("scipy.stats")
    # a: 8 of 99 converted, b: 2 of 101. Totals: 200 entities, 10 converted, 190 not.
    # Expected: a-converted 99 * 10 / 200 = 4.95 (< 5), b-converted 101 * 10 / 200 = 5.05,
    # a-not 99 * 190 / 200 = 94.05, b-not 95.95 -> the smallest, 4.95, is below 5 -> Fisher.
    # (A threshold of 4.9 or less, or the z-test everywhere, would say "z".)
    out = kw.segment_comparison(_segments(99, 8, 101, 2), ["lead", "won"], by="segment")
    assert out["test"].tolist() == ["fisher", "fisher"]
    _, p = stats.fisher_exact([[8, 91], [2, 99]])  # two-sided
    assert out["p_value"].tolist() == pytest.approx([p, p], rel=1e-9)
    # ... which is not what the z-test would have given on this table.
    pooled = 10 / 200
    z = (8 / 99 - 2 / 101) / math.sqrt(pooled * (1 - pooled) * (1 / 99 + 1 / 101))
    assert abs(2 * stats.norm.sf(abs(z)) - p) > 0.005
    assert out["conversion"].tolist() == pytest.approx([8 / 99, 2 / 101])
    assert out["rest_conversion"].tolist() == pytest.approx([2 / 101, 8 / 99])


# --- d. cohort_retention(value_agg="period_end", period="W"): the week-end snapshot ----------

# Snapshots (2024-01-01 is a Monday; weeks Mon 1-Sun 7, Mon 8-Sun 14, Mon 15-Sun 21).
SNAPSHOTS = pd.DataFrame(
    [
        # week 1: the last day in the data is Sun Jan 7 (A at 09:00, B at 18:00).
        ("A", "2024-01-01 09:00", 100.0),
        ("A", "2024-01-07 09:00", 120.0),
        ("B", "2024-01-03 12:00", 50.0),
        ("B", "2024-01-07 18:00", 60.0),
        ("C", "2024-01-05 12:00", 30.0),  # C's last row of week 1 is a Friday
        # week 2: the last day in the data is Sat Jan 13.
        ("A", "2024-01-10 12:00", 130.0),
        ("A", "2024-01-13 08:00", 140.0),
        ("B", "2024-01-13 20:00", 70.0),
        ("C", "2024-01-12 12:00", 40.0),  # Friday again
        # week 3: Sun Jan 21 (B is gone).
        ("A", "2024-01-21 10:00", 150.0),
        ("C", "2024-01-21 11:00", 45.0),
    ],
    columns=["account_id", "month", "mrr"],
)
SNAPSHOTS["month"] = pd.to_datetime(SNAPSHOTS["month"])


def test_weekly_period_end_value_is_the_last_day_of_each_week():
    weekly = kw.cohort_retention(SNAPSHOTS, period="W", value="mrr", value_agg="period_end")
    # One cohort (week of Jan 1) = {A, B, C}.
    # k0: rows of Sun Jan 7, the week's last day in the data: A 120 + B 60 = 180 (both rows of
    #     that day count, not only the one at the week's last timestamp, 18:00, which would be
    #     60; C's Friday row is not on that day).
    # k1: Sat Jan 13: A 140 + B 70 = 210.
    # k2: Sun Jan 21: A 150 + C 45 = 195.
    assert weekly["cohort"].tolist() == [T0] * 3
    assert weekly["value"].tolist() == [180.0, 210.0, 195.0]
    assert weekly["value_retention"].tolist() == pytest.approx([1.0, 210 / 180, 195 / 180])
    # Activity still counts every row: all three in k0 and k1, A and C in k2.
    assert weekly["retained"].tolist() == [3, 3, 2]
    # Summing instead (value_agg="sum"): k0 = 100 + 120 + 50 + 60 + 30 = 360.
    summed = kw.cohort_retention(SNAPSHOTS, period="W", value="mrr")
    assert summed["value"].tolist()[0] == 360.0


def test_monthly_period_end_value_differs_from_the_weekly_one():
    # period="M": the snapshot is the period's last month in the data (a monthly grain), so
    # every January row counts: 100 + 120 + 50 + 60 + 30 + 130 + 140 + 70 + 40 + 150 + 45
    # = 935 -- not the last week's 195 nor the last day's.
    monthly = kw.cohort_retention(SNAPSHOTS, period="M", value="mrr", value_agg="period_end")
    assert monthly["value"].tolist() == [935.0]
    assert monthly["retained"].tolist() == [3]


# --- e. funnel_trend(...).is_complete: period end + window <= last timestamp ------------------


@pytest.mark.parametrize(
    ("last", "complete"),
    [
        (pd.Timestamp("2024-01-10 00:00"), True),  # exactly period end + window
        (pd.Timestamp("2024-01-10 00:00") - pd.Timedelta(microseconds=1), False),
    ],
)
def test_funnel_trend_is_complete_at_the_period_edge(last, complete):
    # Week of Mon Jan 1 ends (exclusive) Mon Jan 8 00:00; + window 2D = Jan 10 00:00.
    # The last timestamp in the data is a non-step "visit" event of entity 2: at exactly
    # Jan 10 00:00, 01-10 <= 01-10 -> complete; one microsecond earlier it is not.
    # (A strict "<" would make the first case False; leaving the window out, or using the
    # period start, would make both True.)
    events = pd.DataFrame(
        {
            "entity_id": [1, 1, 2],
            "event": ["lead", "won", "visit"],
            "timestamp": [T0 + 10 * H, T0 + 30 * H, last],
        }
    )
    trend = kw.funnel_trend(events, ["lead", "won"], window="2D", freq="W")
    assert trend["period"].tolist() == [T0, T0]
    assert trend["entities"].tolist() == [1, 1]
    assert trend["is_complete"].tolist() == [complete, complete]


# --- f. multi-column by ------------------------------------------------------------------------


def test_funnel_by_two_columns_counts_each_combination_and_the_overall_rows():
    events = _log(
        [
            (1, "lead", 0, "ads", "smb"),
            (1, "won", 2, "seo", "ent"),  # values on later rows are ignored
            (2, "lead", 0, "ads", "smb"),
            (3, "lead", 0, "ads", "ent"),
            (3, "won", 1, "ads", "ent"),
            (4, "lead", 0, "seo", "smb"),
            (4, "won", 5, "seo", "smb"),
            (5, "lead", 0, "seo", None),  # null segment: its own group
            (6, "lead", 0, None, "ent"),  # null channel
            (6, "won", 3, None, "ent"),
        ],
        columns=("entity_id", "event", "timestamp", "channel", "segment"),
    )
    out = kw.funnel(events, ["lead", "won"], by=["channel", "segment"])
    assert list(out.columns[:3]) == ["channel", "segment", "overall"]
    # Overall: 6 entered; won: 1, 3, 4, 6 -> 4. Groups by the entry row's values:
    # (ads, ent) {3}: 1, 1;  (ads, smb) {1, 2}: 2, 1;  (seo, smb) {4}: 1, 1;
    # (seo, null) {5}: 1, 0;  (null, ent) {6}: 1, 1.
    assert _by_rows(out, ["channel", "segment"]) == {
        (True, None, None, 1): 6,
        (True, None, None, 2): 4,
        (False, "ads", "ent", 1): 1,
        (False, "ads", "ent", 2): 1,
        (False, "ads", "smb", 1): 2,
        (False, "ads", "smb", 2): 1,
        (False, "seo", "smb", 1): 1,
        (False, "seo", "smb", 2): 1,
        (False, "seo", None, 1): 1,
        (False, "seo", None, 2): 0,
        (False, None, "ent", 1): 1,
        (False, None, "ent", 2): 1,
    }
    # Order: overall rows first, then by channel, segment with null values last.
    firsts = out[out["step_number"] == 1]
    shown = [
        (bool(o), None if pd.isna(c) else c, None if pd.isna(s) else s)
        for o, c, s in zip(firsts["overall"], firsts["channel"], firsts["segment"], strict=True)
    ]
    assert shown == [
        (True, None, None),
        (False, "ads", "ent"),
        (False, "ads", "smb"),
        (False, "seo", "smb"),
        (False, "seo", None),
        (False, None, "ent"),
    ]
    # Conversion within a group: (ads, smb) 1 / 2; overall 4 / 6.
    won = out[out["step_number"] == 2]
    assert won["conversion_from_first"].tolist() == pytest.approx([4 / 6, 1, 0.5, 1, 0, 1])
    # Overall median won - lead over 1, 3, 4, 6: 2h, 1h, 5h, 3h -> (2 + 3) / 2 = 2.5h.
    assert won["median_time_from_previous"].iloc[0] == pd.Timedelta(minutes=150)


# --- g. tz-aware data with naive and tz-aware start/end ----------------------------------------

BERLIN = "Europe/Berlin"


def _berlin_log():
    # Berlin is UTC+1 in winter. Wall times in Berlin:
    # e1: lead Mar 1 00:30 (= Feb 29 23:30 UTC), won Mar 1 01:00.
    # e2: lead Mar 1 23:30 (= 22:30 UTC).
    # e3: lead Feb 29 23:30 (= 22:30 UTC on Feb 29).
    wall = pd.to_datetime(
        ["2024-03-01 00:30", "2024-03-01 01:00", "2024-03-01 23:30", "2024-02-29 23:30"]
    )
    return pd.DataFrame(
        {
            "entity_id": ["e1", "e1", "e2", "e3"],
            "event": ["lead", "won", "lead", "lead"],
            "timestamp": wall.tz_localize(BERLIN),
        }
    )


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # Naive bounds are Berlin wall time: [Mar 1 00:00, Mar 2 00:00) Berlin holds e1 and
        # e2 (e3 is Feb 29) -> 2 entered, e1 won. Read as UTC they would drop e1 (23:30 UTC
        # Feb 29) and give [1, 0].
        ("2024-03-01", "2024-03-02", [2, 1]),
        # The same instants given tz-aware in Berlin.
        (
            pd.Timestamp("2024-03-01", tz=BERLIN),
            pd.Timestamp("2024-03-02", tz=BERLIN),
            [2, 1],
        ),
        # Mar 1 00:00 UTC = 01:00 Berlin: e1 (00:30 Berlin) is now before start -> e2 only.
        (pd.Timestamp("2024-03-01", tz="UTC"), None, [1, 0]),
        # Feb 29 18:15 New York = 23:15 UTC = 00:15 Berlin: e1 in, e3 (22:30 UTC) out.
        (pd.Timestamp("2024-02-29 18:15", tz="America/New_York"), None, [2, 1]),
        # end is exclusive: end = e2's entry wall time leaves e2 out -> e1 only (won).
        ("2024-03-01", "2024-03-01 23:30", [1, 1]),
        # Naive end at Mar 1 00:00 Berlin: only e3 (Feb 29 23:30 Berlin) enters.
        (None, "2024-03-01", [1, 0]),
    ],
)
def test_funnel_tz_aware_data_with_naive_and_aware_bounds(start, end, expected):
    out = kw.funnel(_berlin_log(), ["lead", "won"], start=start, end=end)
    assert out["entities"].tolist() == expected


# --- h. custom column names --------------------------------------------------------------------


def test_funnel_with_custom_column_names():
    # 4 leads; 1 and 2 do mql (after 1h and 3h), 1 then wins 4h after its mql.
    rows = [
        ("L1", "lead", 0),
        ("L1", "mql", 1),
        ("L1", "won", 5),
        ("L2", "lead", 0),
        ("L2", "mql", 3),
        ("L3", "lead", 0),
        ("L4", "lead", 2),
    ]
    events = pd.DataFrame(
        {
            "lead_id": [r[0] for r in rows],
            "action": [r[1] for r in rows],
            "at": [T0 + r[2] * H for r in rows],
            # Decoys under the default names: if they were read, the numbers would change
            # (one entity, no "won" event).
            "entity_id": ["X"] * len(rows),
            "event": ["lead"] * len(rows),
            "timestamp": [T0] * len(rows),
        }
    )
    names = {"entity": "lead_id", "event": "action", "timestamp": "at"}
    out = kw.funnel(events, ["lead", "mql", "won"], **names)
    # entities 4, 2, 1; conversion from first 1, 2/4, 1/4; from previous 1, 2/4, 1/2.
    assert out["entities"].tolist() == [4, 2, 1]
    assert out["conversion_from_first"].tolist() == [1.0, 0.5, 0.25]
    assert out["conversion_from_previous"].tolist() == [1.0, 0.5, 0.5]
    # mql - lead: 1h, 3h -> 2h; won - mql: 5h - 1h = 4h.
    assert out["median_time_from_previous"].tolist()[1:] == [2 * H, 4 * H]
    ents = kw.funnel_entities(events, ["lead", "mql", "won"], **names)
    assert ents.columns[0] == "lead_id"
    assert ents["lead_id"].tolist() == ["L1", "L2", "L3", "L4"]
    assert ents["furthest_step_number"].tolist() == [3, 2, 1, 1]


def test_cohort_retention_with_custom_column_names():
    activity = pd.DataFrame(
        {
            "user": ["U1", "U1", "U2", "U2", "U3"],
            "ts": pd.to_datetime(
                ["2024-01-05", "2024-02-07", "2024-01-09", "2024-03-02", "2024-02-11"]
            ),
            "amount": [100.0, 120.0, 50.0, 60.0, 30.0],
            # Decoys under the default names.
            "account_id": ["X"] * 5,
            "month": pd.to_datetime(["2024-01-01"] * 5),
            "mrr": [0.0] * 5,
        }
    )
    result = kw.cohort_retention(
        activity, entity="user", timestamp="ts", value="amount", as_of="2024-03-31"
    )
    # Jan cohort {U1, U2}: k0 2 (100 + 50 = 150), k1 U1 (120), k2 U2 (60).
    # Feb cohort {U3}: k0 1 (30), k1 0 (0). as_of Mar 31 00:00: March has not ended.
    jan, feb = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01")
    assert result["cohort"].tolist() == [jan, jan, jan, feb, feb]
    assert result["period_number"].tolist() == [0, 1, 2, 0, 1]
    assert result["cohort_size"].tolist() == [2, 2, 2, 1, 1]
    assert result["retained"].tolist() == [2, 1, 1, 1, 0]
    assert result["value"].tolist() == [150.0, 120.0, 60.0, 30.0, 0.0]
    # 120 / 150 = 0.8, 60 / 150 = 0.4; Feb: 0 / 30 = 0.
    assert result["value_retention"].tolist() == pytest.approx([1.0, 0.8, 0.4, 1.0, 0.0])
    assert result["is_complete"].tolist() == [True, True, False, True, False]
