"""Forecast accuracy metrics on tiny hand-built tables.

Every expected number is worked out by hand in a comment. Sign convention everywhere:
error = F − A (forecast minus actual), so a positive error or bias is an over-forecast.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import kpiwidgets as kw

Q1 = "2025-01-01"  # a Wednesday: weeks of period are counted from the period start, not Monday
Q2 = "2025-04-01"
Q3 = "2025-07-01"
Q4 = "2025-10-01"
Q5 = "2026-01-01"


def _forecasts(rows, *, submitted=False, hours=None):
    """rows: (owner, period, days after the period start, amount[, category][, submitted_by]).

    The category defaults to "commit" when a row has only four values.
    """
    out = []
    for row in rows:
        owner, period, day, amount, *rest = row
        category = rest.pop(0) if rest and rest[0] not in ("rep", "manager") else "commit"
        out.append((owner, period, day, category, amount, *rest))
    columns = ["owner", "period", "day", "category", "amount"]
    if submitted:
        columns.append("submitted_by")
    frame = pd.DataFrame(out, columns=columns)
    frame["period"] = pd.to_datetime(frame["period"])
    frame["snapshot_date"] = frame["period"] + pd.to_timedelta(frame.pop("day"), unit="D")
    if hours is not None:
        frame["snapshot_date"] += pd.to_timedelta(hours, unit="h")
    return frame


def _actuals(rows):
    """rows: (owner, period, amount)."""
    frame = pd.DataFrame(rows, columns=["owner", "period", "amount"])
    frame["period"] = pd.to_datetime(frame["period"])
    return frame


def _nan(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


# --- standalone scores ----------------------------------------------------------------------


def test_mape_is_the_mean_absolute_percentage_error():
    # |100-90|/100 = 0.1, |200-250|/200 = 0.25 -> mean 0.175
    assert kw.mape([100, 200], [90, 250]) == pytest.approx(0.175)


def test_mape_of_a_zero_forecast_is_a_full_miss():
    # |100-0|/100 = 1.0
    assert kw.mape([100], [0]) == pytest.approx(1.0)


def test_mape_zero_actual_nan_policy_gives_nan():
    assert math.isnan(kw.mape([0, 100], [10, 90]))
    assert math.isnan(kw.mape([0, 100], [10, 90], zero_actuals="nan"))


def test_mape_zero_actual_exclude_policy_leaves_the_pair_out():
    # only (100, 90) is left: |100-90|/100 = 0.1
    assert kw.mape([0, 100], [10, 90], zero_actuals="exclude") == pytest.approx(0.1)
    # nothing left -> NaN
    assert math.isnan(kw.mape([0], [10], zero_actuals="exclude"))


def test_mape_zero_actual_raise_policy_raises():
    with pytest.raises(ValueError, match="zero_actuals"):
        kw.mape([0, 100], [10, 90], zero_actuals="raise")


def test_mape_leaves_out_pairs_with_a_nan():
    # (nan, 5) is left out: |100-90|/100 = 0.1
    assert kw.mape([100, float("nan")], [90, 5]) == pytest.approx(0.1)


def test_wape_weights_errors_by_volume():
    # (|100-90| + |300-330|) / (100 + 300) = 40 / 400 = 0.1
    assert kw.wape([100, 300], [90, 330]) == pytest.approx(0.1)
    # a zero actual keeps its error in the numerator: (10 + 10) / 100 = 0.2
    assert kw.wape([0, 100], [10, 90]) == pytest.approx(0.2)
    # Σ|A| = 0 -> NaN
    assert math.isnan(kw.wape([0, 0], [5, 5]))


def test_smape_scores_zero_over_zero_as_zero():
    # terms: A=F=0 -> 0; 2|100-50|/(100+50) = 100/150 -> mean (0 + 2/3) / 2 = 1/3
    assert kw.smape([0, 100], [0, 50]) == pytest.approx(1 / 3)
    assert kw.smape([0], [0]) == 0.0


def test_smape_of_a_forecast_for_nothing_or_a_zero_forecast_is_two():
    # 2|0-10|/(0+10) = 2 ; 2|100-0|/(100+0) = 2
    assert kw.smape([0], [10]) == pytest.approx(2.0)
    assert kw.smape([100], [0]) == pytest.approx(2.0)


def test_bias_is_signed_positive_for_over_forecast():
    # ((90-100) + (330-300)) / (100 + 300) = 20 / 400 = 0.05
    assert kw.bias([100, 300], [90, 330]) == pytest.approx(0.05)
    # a forecast of 0: (0-100)/100 = -1
    assert kw.bias([100], [0]) == pytest.approx(-1.0)
    # Σ A = 0 -> NaN
    assert math.isnan(kw.bias([0], [10]))


def test_tracking_signal_is_the_error_sum_over_the_mean_absolute_error():
    # errors 10, 30, -10: Σ = 30, mean|e| = 50/3 -> 30 / (50/3) = 1.8
    assert kw.tracking_signal([100, 100, 100], [110, 130, 90]) == pytest.approx(1.8)


def test_tracking_signal_of_perfect_forecasts_is_nan():
    assert math.isnan(kw.tracking_signal([100, 200], [100, 200]))


def test_mase_scales_by_the_naive_forecast_error_of_the_history():
    # mean|A-F| = (|120-100| + |100-110|) / 2 = 15
    # scale = mean(|100-80|, |70-100|) = (20 + 30) / 2 = 25 -> 15 / 25 = 0.6
    assert kw.mase([120, 100], [100, 110], history=[80, 100, 70]) == pytest.approx(0.6)


def test_mase_with_a_zero_scale_is_nan():
    assert math.isnan(kw.mase([120], [100], history=[50, 50, 50]))  # never changes
    assert math.isnan(kw.mase([120], [100], history=[50]))  # fewer than two values


@pytest.mark.parametrize("score", [kw.mape, kw.wape, kw.smape, kw.bias, kw.tracking_signal])
def test_scores_reject_a_length_mismatch(score):
    with pytest.raises(ValueError, match="same length"):
        score([100, 200], [100])


def test_mase_rejects_a_length_mismatch():
    with pytest.raises(ValueError, match="same length"):
        kw.mase([100, 200], [100], history=[1, 2])


# --- forecast_accuracy: row metrics ---------------------------------------------------------


def test_row_metrics_sign_accuracy_clip_attainment_bias_ape_smape():
    forecasts = _forecasts([("ava", Q1, 0, 80.0), ("ava", Q1, 7, 130.0), ("ava", Q1, 14, 250.0)])
    actuals = _actuals([("ava", Q1, 100.0)])
    out = kw.forecast_accuracy(forecasts, actuals)
    assert out["week_of_period"].tolist() == [0, 1, 2]
    assert out["forecast"].tolist() == [80.0, 130.0, 250.0]
    assert out["actual"].tolist() == [100.0, 100.0, 100.0]
    # error = F - A: under-forecast negative, over-forecast positive
    assert out["error"].tolist() == [-20.0, 30.0, 150.0]
    assert out["abs_error"].tolist() == [20.0, 30.0, 150.0]
    # accuracy = max(0, 1 - |F-A|/A): 0.8, 0.7, max(0, 1 - 1.5) = 0 (clipped)
    assert out["accuracy"].tolist() == pytest.approx([0.8, 0.7, 0.0])
    # attainment = F/A
    assert out["attainment"].tolist() == pytest.approx([0.8, 1.3, 2.5])
    # bias = (F-A)/A
    assert out["bias"].tolist() == pytest.approx([-0.2, 0.3, 1.5])
    # ape = |F-A|/A
    assert out["ape"].tolist() == pytest.approx([0.2, 0.3, 1.5])
    # smape = 2|F-A|/(|A|+|F|): 40/180, 60/230, 300/350
    assert out["smape"].tolist() == pytest.approx([40 / 180, 60 / 230, 300 / 350])
    assert out["owners"].tolist() == [1, 1, 1]
    assert set(out["aggregate"]) == {"rollup"}


def test_week_of_period_counts_whole_days_from_the_period_start():
    # day 6 at 23:00 -> 6 // 7 = 0; day 7 -> 7 // 7 = 1 (a ceiling or rounding rule would put
    # day 6 in week 1 too, and the two calls would collapse into one row)
    forecasts = _forecasts(
        [("ava", Q1, 6, 10.0), ("ava", Q1, 7, 20.0), ("ava", Q1, 13, 30.0), ("ava", Q1, 14, 40.0)],
        hours=[23, 0, 23, 0],
    )
    out = kw.forecast_accuracy(forecasts, _actuals([("ava", Q1, 100.0)]))
    # 13 // 7 = 1 (replaces day 7's call, being later in week 1), 14 // 7 = 2
    assert out["week_of_period"].tolist() == [0, 1, 2]
    assert out["forecast"].tolist() == [10.0, 30.0, 40.0]


def test_week_of_period_is_negative_for_a_call_before_the_period_start():
    # day -1 -> floor(-1/7) = -1 (truncation would give 0); day -8 -> floor(-8/7) = -2
    forecasts = _forecasts([("ava", Q1, -8, 10.0), ("ava", Q1, -1, 20.0), ("ava", Q1, 0, 30.0)])
    out = kw.forecast_accuracy(forecasts, _actuals([("ava", Q1, 100.0)]))
    assert out["week_of_period"].tolist() == [-2, -1, 0]
    assert out["forecast"].tolist() == [10.0, 20.0, 30.0]


def test_a_later_call_in_the_same_week_replaces_the_earlier_one():
    # days 5 and 1 are both week 0; the later snapshot (day 5, 95) is the call, whatever the
    # row order
    forecasts = _forecasts([("ava", Q1, 5, 95.0), ("ava", Q1, 1, 80.0)])
    out = kw.forecast_accuracy(forecasts, _actuals([("ava", Q1, 100.0)]))
    assert len(out) == 1
    assert out["forecast"].tolist() == [95.0]
    assert out["snapshot_date"].tolist() == [pd.Timestamp("2025-01-06")]
    assert out["error"].tolist() == [-5.0]  # 95 - 100


def test_exact_duplicate_calls_count_once():
    forecasts = _forecasts([("ava", Q1, 3, 90.0), ("ava", Q1, 3, 90.0), ("ava", Q1, 10, 95.0)])
    out = kw.forecast_accuracy(forecasts, _actuals([("ava", Q1, 100.0)]))
    # week 0: one call of 90 (not 180, not two rows): error 90 - 100 = -10
    assert out["forecast"].tolist() == [90.0, 95.0]
    assert out["owners"].tolist() == [1, 1]
    assert out["error"].tolist() == [-10.0, -5.0]
    assert out.attrs["dropped_rows"] == {"duplicate calls": 1}


def test_conflicting_duplicate_calls_raise():
    forecasts = _forecasts([("ava", Q1, 3, 90.0), ("ava", Q1, 3, 70.0)])
    with pytest.raises(ValueError, match="different amounts"):
        kw.forecast_accuracy(forecasts, _actuals([("ava", Q1, 100.0)]))


def test_calls_of_an_open_period_are_left_out_and_counted():
    # Q2 has no actual for anyone: its two calls (weeks 0 and 1) are open, not scored
    forecasts = _forecasts([("ava", Q1, 0, 90.0), ("ava", Q2, 0, 50.0), ("ava", Q2, 7, 60.0)])
    out = kw.forecast_accuracy(forecasts, _actuals([("ava", Q1, 100.0)]))
    assert out["period"].tolist() == [pd.Timestamp(Q1)]
    assert out.attrs["dropped_rows"] == {"calls of open periods (no actual yet)": 2}


def test_an_owner_without_an_actual_in_a_closed_period_is_left_out_and_counted():
    # Q1 is closed (ava has an actual) but bo has none: a missing actual is not a zero
    forecasts = _forecasts([("ava", Q1, 0, 90.0), ("bo", Q1, 0, 50.0)])
    out = kw.forecast_accuracy(forecasts, _actuals([("ava", Q1, 100.0)]))
    assert out["owner"].tolist() == ["ava"]
    assert out.attrs["dropped_rows"] == {"calls with no actual for their owner": 1}


SUBMISSIONS = _forecasts(
    [
        ("ava", Q1, 0, 80.0, "rep"),
        ("ava", Q1, 1, 90.0, "manager"),  # the manager adjusts week 0
        ("ava", Q1, 7, 95.0, "rep"),  # week 1: no adjustment
    ],
    submitted=True,
)
ACT_100 = _actuals([("ava", Q1, 100.0)])


def _calls_of(out):
    return list(zip(out["week_of_period"], out["submitted_by"], out["forecast"], strict=True))


def test_submitted_separate_scores_rep_and_manager_calls_each():
    out = kw.forecast_accuracy(SUBMISSIONS, ACT_100)
    assert _calls_of(out) == [(0, "manager", 90.0), (0, "rep", 80.0), (1, "rep", 95.0)]


def test_submitted_rep_keeps_only_rep_calls():
    out = kw.forecast_accuracy(SUBMISSIONS, ACT_100, submitted="rep")
    assert _calls_of(out) == [(0, "rep", 80.0), (1, "rep", 95.0)]


def test_submitted_manager_keeps_only_manager_calls():
    out = kw.forecast_accuracy(SUBMISSIONS, ACT_100, submitted="manager")
    assert _calls_of(out) == [(0, "manager", 90.0)]


def test_submitted_final_takes_the_manager_call_where_there_is_one():
    # week 0: manager's 90 over the rep's 80; week 1: only the rep's 95
    out = kw.forecast_accuracy(SUBMISSIONS, ACT_100, submitted="final")
    assert _calls_of(out) == [(0, "final", 90.0), (1, "final", 95.0)]
    assert out["error"].tolist() == [-10.0, -5.0]


def test_without_a_submitted_by_column_every_call_is_a_rep_call():
    out = kw.forecast_accuracy(SUBMISSIONS.drop(columns="submitted_by"), ACT_100)
    # weeks 0 (day 1's 90 replaces day 0's 80) and 1
    assert _calls_of(out) == [(0, "rep", 90.0), (1, "rep", 95.0)]


# --- zero actuals ---------------------------------------------------------------------------

ZERO_FC = _forecasts([("ava", Q1, 0, 90.0), ("bo", Q1, 0, 20.0)])
ZERO_ACT = _actuals([("ava", Q1, 100.0), ("bo", Q1, 0.0)])


def test_zero_actual_nan_keeps_the_row_with_nan_ratios():
    out = kw.forecast_accuracy(ZERO_FC, ZERO_ACT)
    bo = out[out["owner"] == "bo"].iloc[0]
    assert bo["error"] == 20.0  # 20 - 0: known
    assert bo["abs_error"] == 20.0
    assert bo["smape"] == pytest.approx(2.0)  # 2 * 20 / (0 + 20)
    for ratio in ("accuracy", "attainment", "bias", "ape"):
        assert math.isnan(bo[ratio]), ratio
    assert out[out["owner"] == "ava"]["accuracy"].tolist() == pytest.approx([0.9])
    assert out.attrs["dropped_rows"] == {"calls with a zero actual (NaN ratios)": 1}


def test_zero_actual_exclude_drops_the_row_and_counts_it():
    out = kw.forecast_accuracy(ZERO_FC, ZERO_ACT, zero_actuals="exclude")
    assert out["owner"].tolist() == ["ava"]
    assert out.attrs["dropped_rows"] == {"calls with a zero actual (excluded)": 1}


def test_zero_actual_raise_raises():
    with pytest.raises(ValueError, match="actual of 0"):
        kw.forecast_accuracy(ZERO_FC, ZERO_ACT, zero_actuals="raise")


def test_summary_zero_actual_nan_counts_in_wape_and_bias_but_not_mape():
    forecasts = _forecasts([("ava", Q1, 0, 90.0), ("ava", Q2, 0, 20.0)])
    actuals = _actuals([("ava", Q1, 100.0), ("ava", Q2, 0.0)])
    s = kw.forecast_summary(forecasts, actuals).iloc[0]
    assert s["n"] == 2
    assert s["zero_actuals"] == 1
    # wape = (|90-100| + |20-0|) / (100 + 0) = 30 / 100 = 0.3
    assert s["wape"] == pytest.approx(0.3)
    # bias = ((90-100) + (20-0)) / 100 = 0.1
    assert s["bias"] == pytest.approx(0.1)
    # attainment = (90 + 20) / 100 = 1.1
    assert s["attainment"] == pytest.approx(1.1)
    # mape and accuracy skip the zero-actual row: 0.1 and 0.9
    assert s["mape"] == pytest.approx(0.1)
    assert s["accuracy"] == pytest.approx(0.9)
    # smape keeps it: (20/190 + 2) / 2
    assert s["smape"] == pytest.approx((20 / 190 + 2) / 2)


def test_summary_zero_actual_exclude_leaves_the_row_out_of_everything():
    forecasts = _forecasts([("ava", Q1, 0, 90.0), ("ava", Q2, 0, 20.0)])
    actuals = _actuals([("ava", Q1, 100.0), ("ava", Q2, 0.0)])
    s = kw.forecast_summary(forecasts, actuals, zero_actuals="exclude").iloc[0]
    assert s["n"] == 1
    assert s["zero_actuals"] == 0
    # only Q1: wape = 10 / 100 = 0.1 (0.3 under "nan"), bias = -10 / 100 = -0.1
    assert s["wape"] == pytest.approx(0.1)
    assert s["bias"] == pytest.approx(-0.1)
    assert s["mape"] == pytest.approx(0.1)


# --- aggregation across owners --------------------------------------------------------------

# One cell (Q1, week 0): ava A=100 F=250 (error +150, clipped accuracy), bo A=300 F=270 (-30).
AGG_FC = _forecasts([("ava", Q1, 0, 250.0), ("bo", Q1, 0, 270.0)])
AGG_ACT = _actuals([("ava", Q1, 100.0), ("bo", Q1, 300.0)])


@pytest.mark.parametrize(
    ("aggregate", "accuracy", "ape", "attainment", "bias"),
    [
        # rollup: F = 520, A = 400: ape = 120/400 = 0.3, accuracy 0.7, F/A 1.3, bias 0.3
        ("rollup", 0.7, 0.3, 1.3, 0.3),
        # pooled: ape = (150 + 30)/400 = 0.45, accuracy 1 - 0.45 = 0.55; attainment and bias
        # as rollup
        ("pooled", 0.55, 0.45, 1.3, 0.3),
        # mean: accuracy (0 + 0.9)/2 = 0.45, ape (1.5 + 0.1)/2 = 0.8,
        # attainment (2.5 + 0.9)/2 = 1.7, bias (1.5 - 0.1)/2 = 0.7
        ("mean", 0.45, 0.8, 1.7, 0.7),
        # weighted by A: accuracy (100*0 + 300*0.9)/400 = 0.675, ape (150 + 30)/400 = 0.45,
        # attainment (100*2.5 + 300*0.9)/400 = 1.3, bias (150 - 30)/400 = 0.3
        ("weighted", 0.675, 0.45, 1.3, 0.3),
    ],
)
def test_accuracy_aggregates_differ_across_owners(aggregate, accuracy, ape, attainment, bias):
    out = kw.forecast_accuracy(AGG_FC, AGG_ACT, by=(), aggregate=aggregate)
    assert len(out) == 1
    row = out.iloc[0]
    assert (row["forecast"], row["actual"], row["error"]) == (520.0, 400.0, 120.0)
    assert row["owners"] == 2
    assert row["aggregate"] == aggregate
    assert row["accuracy"] == pytest.approx(accuracy)
    assert row["ape"] == pytest.approx(ape)
    assert row["attainment"] == pytest.approx(attainment)
    assert row["bias"] == pytest.approx(bias)


def test_accuracy_aggregates_agree_when_scored_per_owner():
    outs = [
        kw.forecast_accuracy(AGG_FC, AGG_ACT, aggregate=a).drop(columns="aggregate")
        for a in ("rollup", "pooled", "mean", "weighted")
    ]
    # ava: accuracy max(0, 1 - 150/100) = 0, ape 1.5; bo: 1 - 30/300 = 0.9, ape 0.1
    assert outs[0]["accuracy"].tolist() == pytest.approx([0.0, 0.9])
    assert outs[0]["ape"].tolist() == pytest.approx([1.5, 0.1])
    for other in outs[1:]:
        pd.testing.assert_frame_equal(other, outs[0])


# Summary: ava has two calls in Q1 (weeks 0 and 1, A=100), bo one (week 0, A=300).
# ava w0 F=80 (error -20, accuracy 0.8), ava w1 F=130 (+30, 0.7), bo w0 F=330 (+30, 0.9).
MIX_FC = _forecasts([("ava", Q1, 0, 80.0), ("ava", Q1, 7, 130.0), ("bo", Q1, 0, 330.0)])
MIX_ACT = _actuals([("ava", Q1, 100.0), ("bo", Q1, 300.0)])


@pytest.mark.parametrize(
    ("aggregate", "n", "accuracy", "wape", "bias"),
    [
        # rollup: team cells w0: F=410 A=400 (accuracy 1 - 10/400 = 0.975), w1: only ava
        # calls, F=130 A=100 (0.7) -> accuracy (0.975 + 0.7)/2 = 0.8375;
        # wape (10 + 30)/(400 + 100) = 0.08; bias (10 + 30)/500 = 0.08
        ("rollup", 2, 0.8375, 0.08, 0.08),
        # pooled: the three owner rows as one set: accuracy (0.8 + 0.7 + 0.9)/3 = 0.8,
        # wape (20 + 30 + 30)/(100 + 100 + 300) = 0.16, bias (-20 + 30 + 30)/500 = 0.08
        ("pooled", 3, 0.8, 0.16, 0.08),
        # mean of owners: ava accuracy 0.75, wape 50/200 = 0.25, bias 10/200 = 0.05;
        # bo 0.9, 0.1, 0.1 -> accuracy 0.825, wape 0.175, bias 0.075
        ("mean", 3, 0.825, 0.175, 0.075),
        # weighted by Σ A (ava 200, bo 300): accuracy (200*0.75 + 300*0.9)/500 = 0.84,
        # wape (50 + 30)/500 = 0.16 (= pooled), bias (10 + 30)/500 = 0.08
        ("weighted", 3, 0.84, 0.16, 0.08),
    ],
)
def test_summary_aggregates_differ_across_owners(aggregate, n, accuracy, wape, bias):
    out = kw.forecast_summary(MIX_FC, MIX_ACT, by=(), aggregate=aggregate)
    assert len(out) == 1
    row = out.iloc[0]
    assert row["n"] == n
    assert out["n"].dtype == "int64"
    assert row["aggregate"] == aggregate
    assert row["accuracy"] == pytest.approx(accuracy)
    assert row["wape"] == pytest.approx(wape)
    assert row["bias"] == pytest.approx(bias)


def test_summary_aggregates_agree_when_scored_per_owner():
    outs = [
        kw.forecast_summary(MIX_FC, MIX_ACT, aggregate=a).drop(columns="aggregate")
        for a in ("rollup", "pooled", "mean", "weighted")
    ]
    # ava: accuracy (0.8 + 0.7)/2 = 0.75, wape 50/200 = 0.25; bo: 0.9, 30/300 = 0.1
    assert outs[0]["owner"].tolist() == ["ava", "bo"]
    assert outs[0]["n"].tolist() == [2, 1]
    assert outs[0]["accuracy"].tolist() == pytest.approx([0.75, 0.9])
    assert outs[0]["wape"].tolist() == pytest.approx([0.25, 0.1])
    for other in outs[1:]:
        pd.testing.assert_frame_equal(other, outs[0])


def test_summary_by_week_of_period_scores_the_team_per_week():
    out = kw.forecast_summary(MIX_FC, MIX_ACT, by=("week_of_period",))
    assert out["week_of_period"].tolist() == [0, 1]
    # w0: team F=410, A=400 -> 1 - 10/400 = 0.975; w1: ava alone, 1 - 30/100 = 0.7
    assert out["accuracy"].tolist() == pytest.approx([0.975, 0.7])
    assert out["n"].tolist() == [1, 1]


# Two owners, two quarters, one call each: ava A 100, 200 with F 110, 190 (errors +10, -10);
# bo A 300, 100 with F 290, 120 (-10, +20). Team: A 400, 300; F 400, 310 (errors 0, +10).
TWO_FC = _forecasts(
    [("ava", Q1, 0, 110.0), ("ava", Q2, 0, 190.0), ("bo", Q1, 0, 290.0), ("bo", Q2, 0, 120.0)]
)
TWO_ACT = _actuals([("ava", Q1, 100.0), ("ava", Q2, 200.0), ("bo", Q1, 300.0), ("bo", Q2, 100.0)])


@pytest.mark.parametrize(
    ("aggregate", "mase"),
    [
        # rollup: team mean|F-A| = (0 + 10)/2 = 5; scale |300 - 400| = 100 -> 0.05
        ("rollup", 0.05),
        # pooled: mean|F-A| over the 4 rows = (10 + 10 + 10 + 20)/4 = 12.5; scale = mean of
        # the owners' steps |200-100| = 100 and |100-300| = 200 -> 150 -> 12.5/150
        ("pooled", 12.5 / 150),
        # mean: ava 10/100 = 0.1, bo 15/200 = 0.075 -> 0.0875
        ("mean", 0.0875),
        # weighted by Σ A (ava 300, bo 400): (300 * 0.1 + 400 * 0.075)/700 = 60/700
        ("weighted", 60 / 700),
    ],
)
def test_summary_mase_scale_follows_the_aggregate(aggregate, mase):
    out = kw.forecast_summary(TWO_FC, TWO_ACT, by=(), aggregate=aggregate)
    assert out["mase"].tolist() == pytest.approx([mase])
    # n: 2 team rows under rollup, else the 4 owner rows; a plain integer column
    assert out["n"].tolist() == [2 if aggregate == "rollup" else 4]
    assert out["n"].dtype == "int64"
    assert out["zero_actuals"].dtype == "int64"


def test_summary_by_period_scores_each_period():
    out = kw.forecast_summary(TWO_FC, TWO_ACT, by=("period",))
    assert out["period"].tolist() == [pd.Timestamp(Q1), pd.Timestamp(Q2)]
    # Q1: team F 400 vs A 400 -> wape 0; Q2: |310 - 300|/300 = 1/30. One period: no MASE.
    assert out["wape"].tolist() == pytest.approx([0.0, 1 / 30])
    assert out["mase"].isna().all()
    # per owner and period: ava Q1 10/100, Q2 10/200; bo Q1 10/300, Q2 20/100
    both = kw.forecast_summary(TWO_FC, TWO_ACT, by=("owner", "period"))
    assert both["wape"].tolist() == pytest.approx([0.1, 0.05, 1 / 30, 0.2])


def test_accuracy_by_a_column_of_the_forecasts():
    forecasts = TWO_FC.assign(region=["n", "n", "s", "s"])
    out = kw.forecast_summary(forecasts, TWO_ACT, by=("region",))
    # n = ava: wape (10 + 10)/300 = 1/15; s = bo: (10 + 20)/400 = 0.075
    assert out["region"].tolist() == ["n", "s"]
    assert out["wape"].tolist() == pytest.approx([1 / 15, 0.075])


def test_start_and_end_keep_periods_in_the_closed_range():
    out = kw.forecast_accuracy(TWO_FC, TWO_ACT, start=Q2, end=Q2)
    assert out["period"].tolist() == [pd.Timestamp(Q2)] * 2
    assert out["error"].tolist() == [-10.0, 20.0]  # ava 190 - 200, bo 120 - 100


def test_summary_week_accepts_a_list():
    forecasts = _forecasts([("ava", Q1, 0, 80.0), ("ava", Q1, 7, 90.0), ("ava", Q1, 14, 50.0)])
    out = kw.forecast_summary(forecasts, ACT_100, week=[0, 2])
    # weeks 0 and 2: (20 + 50)/200 = 0.35
    assert out["wape"].tolist() == pytest.approx([0.35])
    assert out["n"].tolist() == [2]


def test_calls_with_a_null_amount_are_left_out_with_a_warning():
    forecasts = _forecasts([("ava", Q1, 0, 80.0), ("ava", Q1, 7, None)])
    with pytest.warns(kw.DroppedRowsWarning, match="null amount"):
        out = kw.forecast_accuracy(forecasts, ACT_100)
    assert out["forecast"].tolist() == [80.0]
    assert out.attrs["dropped_rows"]["null amount"] == 1


# --- forecast_summary scores ----------------------------------------------------------------


def test_summary_scores_of_one_owner():
    # A = 100, 200, 100 over Q1-Q3; F = 90, 230, 100 -> errors -10, +30, 0
    forecasts = _forecasts([("ava", Q1, 0, 90.0), ("ava", Q2, 0, 230.0), ("ava", Q3, 0, 100.0)])
    actuals = _actuals([("ava", Q1, 100.0), ("ava", Q2, 200.0), ("ava", Q3, 100.0)])
    s = kw.forecast_summary(forecasts, actuals).iloc[0]
    assert (s["owner"], s["category"], s["submitted_by"]) == ("ava", "commit", "rep")
    assert s["n"] == 3
    assert s["zero_actuals"] == 0
    # mape = (0.1 + 0.15 + 0)/3 = 0.083333
    assert s["mape"] == pytest.approx(0.25 / 3)
    # accuracy = (0.9 + 0.85 + 1)/3 = 0.916667
    assert s["accuracy"] == pytest.approx(2.75 / 3)
    # wape = (10 + 30 + 0)/(100 + 200 + 100) = 0.1
    assert s["wape"] == pytest.approx(0.1)
    # smape = (20/190 + 60/430 + 0)/3
    assert s["smape"] == pytest.approx((20 / 190 + 60 / 430) / 3)
    # bias = (-10 + 30 + 0)/400 = 0.05; attainment = 420/400 = 1.05
    assert s["bias"] == pytest.approx(0.05)
    assert s["attainment"] == pytest.approx(1.05)
    # tracking = Σe / mean|e| = 20 / (40/3) = 1.5
    assert s["tracking_signal"] == pytest.approx(1.5)
    assert not s["tracking_flag"]
    # mase: mean|F-A| = 40/3; scale = mean(|200-100|, |100-200|) = 100 -> 0.133333
    assert s["mase"] == pytest.approx(40 / 300)


def test_summary_mase_is_nan_with_a_single_period():
    s = kw.forecast_summary(_forecasts([("ava", Q1, 0, 90.0)]), ACT_100).iloc[0]
    assert math.isnan(s["mase"])


def test_summary_tracking_signal_uses_one_mean_error_per_period():
    # Q1: weeks 0 and 1 with errors +10 and +30 -> one period error of 20; Q2: -10.
    # per period: (20 - 10) / mean(20, 10) = 10 / 15 = 0.6667
    # (per row it would be (10 + 30 - 10) / (50/3) = 1.8)
    forecasts = _forecasts([("ava", Q1, 0, 110.0), ("ava", Q1, 7, 130.0), ("ava", Q2, 0, 90.0)])
    actuals = _actuals([("ava", Q1, 100.0), ("ava", Q2, 100.0)])
    s = kw.forecast_summary(forecasts, actuals).iloc[0]
    assert s["tracking_signal"] == pytest.approx(2 / 3)
    assert s["n"] == 3


def test_summary_tracking_flag_is_beyond_plus_or_minus_four():
    periods = [Q1, Q2, Q3, Q4, Q5]
    errors = {
        "ava": [10, 10, 10, 10, -4],  # 36 / (44/5) = 4.0909 -> flagged
        "bo": [9, 9, 9, 9, -4],  # 32 / (40/5) = 4.0 exactly -> not flagged
        "cy": [-9, -9, -9, -9, 4],  # -32 / 8 = -4.0 exactly -> not flagged
        "dee": [-10, -10, -10, -10, 4],  # -36 / 8.8 = -4.0909 -> flagged
    }
    forecasts = _forecasts(
        [(o, p, 0, 100.0 + e) for o, es in errors.items() for p, e in zip(periods, es, strict=True)]
    )
    actuals = _actuals([(o, p, 100.0) for o in errors for p in periods])
    out = kw.forecast_summary(forecasts, actuals)
    assert out["owner"].tolist() == ["ava", "bo", "cy", "dee"]
    assert out["tracking_signal"].tolist() == pytest.approx([180 / 44, 4.0, -4.0, -180 / 44])
    assert out["tracking_flag"].tolist() == [True, False, False, True]


def test_summary_defaults_to_commit_calls_and_filters_weeks():
    forecasts = _forecasts(
        [("ava", Q1, 0, 80.0), ("ava", Q1, 7, 90.0), ("ava", Q1, 0, 500.0, "pipeline")]
    )
    s = kw.forecast_summary(forecasts, ACT_100)
    # pipeline left out: commit rows 80 and 90 -> wape (20 + 10)/200 = 0.15
    assert s["category"].tolist() == ["commit"]
    assert s["wape"].tolist() == pytest.approx([0.15])
    # week=1 keeps only the 90 call: wape 10/100 = 0.1
    assert kw.forecast_summary(forecasts, ACT_100, week=1)["wape"].tolist() == pytest.approx([0.1])
    # category=None scores every category, one row each
    both = kw.forecast_summary(forecasts, ACT_100, category=None)
    assert both["category"].tolist() == ["commit", "pipeline"]
    assert both["wape"].tolist() == pytest.approx([0.15, 4.0])  # |500-100|/100 = 4


# --- actuals_from_opportunities -------------------------------------------------------------


def _opportunities(latest):
    rows = [
        # owner, status, amount, created_at, closed_at
        ("ava", "won", 50.0, "2025-01-05", "2025-02-10"),
        ("ava", "won", 30.0, "2025-01-20", "2025-03-31 23:00"),  # still Q1
        ("ava", "lost", 99.0, "2025-02-01", "2025-05-01"),  # lost: not an actual
        ("ava", "won", 70.0, "2025-06-01", "2025-08-15"),
        ("ava", "won", 40.0, "2025-09-01", "2025-10-05"),
        ("bo", "lost", 20.0, "2025-03-01", "2025-04-20"),  # bo never wins
        ("bo", "open", 60.0, latest, None),  # the latest timestamp in the table
    ]
    frame = pd.DataFrame(rows, columns=["owner", "status", "amount", "created_at", "closed_at"])
    for c in ("created_at", "closed_at"):
        frame[c] = pd.to_datetime(frame[c], format="ISO8601")
    return frame


def _actual_rows(out):
    rows = out.itertuples(index=False)
    return [(r.owner, r.period.strftime("%Y-%m"), r.amount, r.deals) for r in rows]


def test_actuals_count_won_deals_by_close_quarter_with_zero_rows():
    out = kw.actuals_from_opportunities(_opportunities("2025-12-31 15:00"))
    assert list(out.columns) == ["owner", "period", "amount", "deals"]
    # latest timestamp 2025-12-31 15:00 -> as_of = 2026-01-01 00:00 -> Q4 (ends 2026-01-01)
    # is complete. ava: Q1 50 + 30 = 80 (2 deals), Q2 0 (the lost deal does not count),
    # Q3 70, Q4 40. bo has opportunities but no wins: zeros in every quarter.
    assert _actual_rows(out) == [
        ("ava", "2025-01", 80.0, 2),
        ("ava", "2025-04", 0.0, 0),
        ("ava", "2025-07", 70.0, 1),
        ("ava", "2025-10", 40.0, 1),
        ("bo", "2025-01", 0.0, 0),
        ("bo", "2025-04", 0.0, 0),
        ("bo", "2025-07", 0.0, 0),
        ("bo", "2025-10", 0.0, 0),
    ]


def test_actuals_leave_out_the_incomplete_last_quarter():
    out = kw.actuals_from_opportunities(_opportunities("2025-12-30 00:00"))
    # latest 2025-12-30 -> as_of = 2025-12-31 00:00 < Q4's end 2026-01-01: Q4 left out
    assert [p.strftime("%Y-%m") for p in out["period"].unique()] == [
        "2025-01",
        "2025-04",
        "2025-07",
    ]
    assert out[out["owner"] == "ava"]["amount"].tolist() == [80.0, 0.0, 70.0]


@pytest.mark.parametrize(
    ("as_of", "last"),
    [
        ("2025-10-01", "2025-07"),  # Q3 ends 2025-10-01, on or before as_of: complete
        ("2025-09-30 23:59", "2025-04"),  # a minute short: Q3 is incomplete
        (pd.Timestamp("2026-01-01"), "2025-10"),
    ],
)
def test_actuals_explicit_as_of(as_of, last):
    out = kw.actuals_from_opportunities(_opportunities("2025-12-31 15:00"), as_of=as_of)
    assert out["period"].max().strftime("%Y-%m") == last
    assert set(out["owner"]) == {"ava", "bo"}


def test_actuals_from_opportunities_by_nothing_is_the_team():
    out = kw.actuals_from_opportunities(_opportunities("2025-12-31 15:00"), by=())
    assert list(out.columns) == ["period", "amount", "deals"]
    assert out["amount"].tolist() == [80.0, 0.0, 70.0, 40.0]


# --- forecast_projection --------------------------------------------------------------------

P1, P2, P3, P4, TARGET = "2024-01-01", "2024-04-01", "2024-07-01", "2024-10-01", "2025-01-01"
# ava: week 1 calls of 100 in every past quarter, and a week-3 call of 500 (too late for a
# week-2 projection); actuals 120, 150, 130, 90 -> week-2 landing ratios 1.2, 1.5, 1.3, 0.9.
# bo: only one past quarter, P4: call 100, actual 170. Target quarter: ava calls 200 in week 1
# and 260 in week 3; bo calls 100 in week 1.
PROJ_FC = _forecasts(
    [
        *[("ava", p, 7, 100.0) for p in (P1, P2, P3, P4)],
        *[("ava", p, 21, 500.0) for p in (P1, P2, P3, P4)],
        ("bo", P4, 7, 100.0),
        ("ava", TARGET, 7, 200.0),
        ("ava", TARGET, 21, 260.0),
        ("bo", TARGET, 7, 100.0),
    ]
)
PROJ_ACT = _actuals(
    [
        ("ava", P1, 120.0),
        ("ava", P2, 150.0),
        ("ava", P3, 130.0),
        ("ava", P4, 90.0),
        ("bo", P4, 170.0),
    ]
)


def test_projection_factor_is_the_median_landing_ratio():
    p = kw.forecast_projection(PROJ_FC, PROJ_ACT, week=2)
    ava = p[p["owner"] == "ava"].iloc[0]
    # the call as of week 2 is the week-1 call of 200 (the week-3 call of 260 is later)
    assert (ava["week_of_period"], ava["call"], ava["call_week"]) == (2, 200.0, 1)
    assert ava["period"] == pd.Timestamp(TARGET)
    # ratios at week 2 (the week-3 calls of 500 are after week 2): 120/100, 150/100,
    # 130/100, 90/100 -> sorted 0.9, 1.2, 1.3, 1.5 -> median (1.2 + 1.3)/2 = 1.25
    assert ava["factor"] == pytest.approx(1.25)
    assert ava["projection"] == pytest.approx(250.0)  # 200 * 1.25
    assert ava["history"] == 4
    assert ava["basis"] == "owner"
    assert ava["reason"] == ""
    assert math.isnan(ava["actual"])  # the target quarter is open


def test_projection_interval_is_the_quantiles_of_the_ratios():
    p = kw.forecast_projection(PROJ_FC, PROJ_ACT, week=2)
    ava = p[p["owner"] == "ava"].iloc[0]
    # interval 0.8 -> 10th and 90th percentiles of 0.9, 1.2, 1.3, 1.5 (linear):
    # q10 at position 0.3: 0.9 + 0.3 * (1.2 - 0.9) = 0.99 -> 200 * 0.99 = 198
    # q90 at position 2.7: 1.3 + 0.7 * (1.5 - 1.3) = 1.44 -> 200 * 1.44 = 288
    assert ava["low"] == pytest.approx(198.0)
    assert ava["high"] == pytest.approx(288.0)
    half = kw.forecast_projection(PROJ_FC, PROJ_ACT, week=2, interval=0.5)
    ava = half[half["owner"] == "ava"].iloc[0]
    # q25 at 0.75: 0.9 + 0.75 * 0.3 = 1.125 -> 225; q75 at 2.25: 1.3 + 0.25 * 0.2 = 1.35 -> 270
    assert ava["low"] == pytest.approx(225.0)
    assert ava["high"] == pytest.approx(270.0)


def test_projection_default_week_is_the_latest_week_with_a_call():
    p = kw.forecast_projection(PROJ_FC, PROJ_ACT)
    ava = p[p["owner"] == "ava"].iloc[0]
    # latest target week with a call: 3 -> call 260; ratios as of week 3 use the 500 calls:
    # 0.24, 0.30, 0.26, 0.18 -> median (0.24 + 0.26)/2 = 0.25 -> 260 * 0.25 = 65
    assert (ava["week_of_period"], ava["call"], ava["call_week"]) == (3, 260.0, 3)
    assert ava["factor"] == pytest.approx(0.25)
    assert ava["projection"] == pytest.approx(65.0)


def test_projection_falls_back_to_the_team_with_too_little_owner_history():
    p = kw.forecast_projection(PROJ_FC, PROJ_ACT, week=2)
    bo = p[p["owner"] == "bo"].iloc[0]
    # bo has 1 ratio (< min_history 3): team ratios ΣA/ΣF per past quarter at week 2:
    # P1 120/100 = 1.2, P2 1.5, P3 1.3, P4 (90 + 170)/(100 + 100) = 1.3
    # -> sorted 1.2, 1.3, 1.3, 1.5: median 1.3; q10 1.2 + 0.3 * 0.1 = 1.23; q90 1.3 + 0.7 * 0.2
    # = 1.44
    assert bo["basis"] == "team"
    assert bo["history"] == 4
    assert bo["factor"] == pytest.approx(1.3)
    assert bo["projection"] == pytest.approx(130.0)  # 100 * 1.3
    assert bo["low"] == pytest.approx(123.0)
    assert bo["high"] == pytest.approx(144.0)


def test_projection_with_too_little_team_history_is_nan_with_a_reason():
    p = kw.forecast_projection(PROJ_FC, PROJ_ACT, week=2, min_history=5)
    # ava has 4 ratios, the team 4: both below 5
    for row in p.itertuples(index=False):
        assert math.isnan(row.factor)
        assert math.isnan(row.projection)
        assert math.isnan(row.low)
        assert math.isnan(row.high)
        assert row.basis == ""
        assert row.reason != ""
        assert "need 5" in row.reason
    assert p["call"].tolist() == [200.0, 100.0]  # the call is still shown


def test_projection_of_the_team():
    p = kw.forecast_projection(PROJ_FC, PROJ_ACT, week=2, by=())
    assert len(p) == 1
    team = p.iloc[0]
    assert "owner" not in p.columns
    # call = 200 + 100 = 300; team factor 1.3 (as above) -> 390; low 300 * 1.23 = 369,
    # high 300 * 1.44 = 432
    assert team["call"] == 300.0
    assert team["factor"] == pytest.approx(1.3)
    assert team["projection"] == pytest.approx(390.0)
    assert team["low"] == pytest.approx(369.0)
    assert team["high"] == pytest.approx(432.0)
    assert team["basis"] == "team"
    assert team["history"] == 4
    assert math.isnan(team["actual"])


def test_projection_backtest_of_a_closed_period_shows_its_actual():
    p = kw.forecast_projection(PROJ_FC, PROJ_ACT, period=P4, week=2)
    ava = p[p["owner"] == "ava"].iloc[0]
    # history before P4 only: 1.2, 1.5, 1.3 -> median 1.3; call 100 -> 130; landed at 90
    assert ava["factor"] == pytest.approx(1.3)
    assert ava["projection"] == pytest.approx(130.0)
    # q10 at 0.2: 1.2 + 0.2 * 0.1 = 1.22 -> 122; q90 at 1.8: 1.3 + 0.8 * 0.2 = 1.46 -> 146
    assert ava["low"] == pytest.approx(122.0)
    assert ava["high"] == pytest.approx(146.0)
    assert ava["actual"] == 90.0
    bo = p[p["owner"] == "bo"].iloc[0]
    # bo has no earlier quarter: the team's ratios before P4 are ava's (1.3 median)
    assert bo["basis"] == "team"
    assert bo["projection"] == pytest.approx(130.0)
    assert bo["actual"] == 170.0


def test_projection_rejects_separate_submissions():
    with pytest.raises(ValueError, match="submitted"):
        kw.forecast_projection(PROJ_FC, PROJ_ACT, submitted="separate")


# --- team actuals and error messages --------------------------------------------------------


def test_team_actuals_score_the_summed_calls():
    forecasts = _forecasts([("ava", Q1, 0, 80.0), ("bo", Q1, 0, 90.0)])
    team = pd.DataFrame({"period": pd.to_datetime([Q1]), "amount": [200.0]})
    out = kw.forecast_accuracy(forecasts, team, by=())
    # F = 80 + 90 = 170 vs A = 200: error -30, accuracy 1 - 30/200 = 0.85
    assert out["forecast"].tolist() == [170.0]
    assert out["error"].tolist() == [-30.0]
    assert out["accuracy"].tolist() == pytest.approx([0.85])


def test_team_actuals_with_by_owner_name_the_table_and_column():
    forecasts = _forecasts([("ava", Q1, 0, 80.0)])
    team = pd.DataFrame({"period": pd.to_datetime([Q1]), "amount": [200.0]})
    with pytest.raises(ValueError, match=r"actuals has no owner column.*by=\(\)"):
        kw.forecast_accuracy(forecasts, team, by=("owner",))


def test_a_missing_forecast_column_names_the_table_and_column():
    forecasts = _forecasts([("ava", Q1, 0, 80.0)]).drop(columns="category")
    with pytest.raises(ValueError, match=r"forecasts is missing column\(s\) \['category'\]"):
        kw.forecast_accuracy(forecasts, ACT_100)


def test_a_missing_actuals_column_names_the_table_and_column():
    with pytest.raises(ValueError, match=r"actuals is missing column\(s\) \['amount'\]"):
        kw.forecast_summary(_forecasts([("ava", Q1, 0, 80.0)]), ACT_100.drop(columns="amount"))


def test_summary_results_are_float_nan_not_none():
    out = kw.forecast_summary(ZERO_FC, ZERO_ACT)
    bo = out[out["owner"] == "bo"].iloc[0]
    # bo: only a zero-actual row -> mape, accuracy, wape, bias undefined
    for c in ("mape", "accuracy", "wape", "bias", "attainment"):
        assert isinstance(bo[c], float | np.floating) and _nan(float(bo[c])), c


# -- time zones ---------------------------------------------------------------------------------
def test_tz_aware_calls_keep_their_zone_and_count_weeks_in_wall_time():
    # A call at 23:30 New York time on day 6 of the quarter is week 0 there (it is already
    # day 7 in UTC): weeks are counted on the data's own wall clock.
    f = _forecasts([("ava", Q1, 6, 90.0)], hours=23.5)
    for c in ("period", "snapshot_date"):
        f[c] = f[c].dt.tz_localize("America/New_York")
    a = _actuals([("ava", Q1, 100.0)])
    out = kw.forecast_accuracy(f, a)
    assert str(out["period"].dt.tz) == "America/New_York"
    assert out["week_of_period"].tolist() == [0]
    assert out["accuracy"].tolist() == pytest.approx([0.9])  # 1 − 10/100
    projected = kw.forecast_projection(f, a)
    assert str(projected["period"].dt.tz) == "America/New_York"


def test_actuals_of_tz_aware_opportunities_keep_the_zone_and_close_in_wall_time():
    # Won at 23:00 Berlin time on 30 June: Q2 there (Q3 would be wrong in no zone at all).
    opps = pd.DataFrame(
        {
            "owner": ["ava", "ava"],
            "status": ["won", "won"],
            "amount": [100.0, 50.0],
            "created_at": pd.to_datetime(["2025-05-01 09:00", "2025-06-01 09:00"]),
            "closed_at": pd.to_datetime(["2025-06-30 23:00", "2025-12-31 10:00"]),
        }
    )
    for c in ("created_at", "closed_at"):
        opps[c] = opps[c].dt.tz_localize("Europe/Berlin")
    out = kw.actuals_from_opportunities(opps)
    assert str(out["period"].dt.tz) == "Europe/Berlin"
    by_quarter = dict(zip(out["period"].dt.strftime("%Y-%m"), out["amount"], strict=True))
    assert by_quarter == {"2025-04": 100.0, "2025-07": 0.0, "2025-10": 50.0}


def test_team_backtest_actual_counts_only_the_owners_whose_calls_make_the_team_call():
    # P4 as the target: ava (call 100, won 90) and bo (call 100, won 170) both called
    # commit; only ava called best case (80). The team's commit actual is 90 + 170 = 260,
    # its best case actual ava's 90 alone: a call is compared with the same owners' wins.
    extra = _forecasts([("ava", P4, 7, 80.0, "best_case")])
    forecasts = pd.concat([PROJ_FC, extra], ignore_index=True)
    p = kw.forecast_projection(forecasts, PROJ_ACT, period=P4, week=2, by=(), min_history=1)
    rows = p.set_index("category")
    assert rows.loc["commit", "call"] == 200.0 and rows.loc["commit", "actual"] == 260.0
    assert rows.loc["best_case", "call"] == 80.0 and rows.loc["best_case", "actual"] == 90.0
