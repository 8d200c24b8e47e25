"""ForecastTracker without a browser, on a tiny hand-made team: every number checked here is
worked out by hand in a comment (never only compared with the function the widget calls).

The team (built by :func:`_frames`); quarters Q1..Q4 of 2025, snapshots on day 0, 7 and 21 of
each quarter, i.e. weeks of period 0, 1 and 3 (no call is ever made in week 2):

Commit calls (rep) at weeks 0 / 1 / 3, and the actual A of the quarter::

              Q1 (A)            Q2 (A)            Q3 (A)            Q4 (A)
    Ava    60  70  80 (100)  40  50  50 (100)  80  90 100 (100)  70  80  80 (100)
    Ben   260 240 220 (200) 200 220 200 (200) 180 200 180 (200) 240 260 240 (200)
    Cy          —            150 140 130 (100) 120 120 110 (100) 160 150  — (100)

* best case calls, week 3 only: Ava 100, 80, 120, 100; Ben 240, 240, 220, 260; Cy —, 150,
  130, — (Cy has no Q1 at all and no week-3 call in Q4);
* manager adjustments (commit): Ben Q1 week 3: 190 (his rep call 220); Ben Q2 week 1: 200
  (his rep call 220);
* quotas: Ava 70 + 50 (two rows, they add up) in Q1 and 120 after; Ben 220; Cy 110 from Q2.

Team actual per quarter: Q1 100 + 200 = 300; Q2, Q3, Q4 100 + 200 + 100 = 400.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
import traitlets
from altair.utils.selection import PointSelection

import kpiwidgets as kw
from tests.helpers import click_point

Q1, Q2, Q3, Q4 = pd.to_datetime(["2025-01-01", "2025-04-01", "2025-07-01", "2025-10-01"])
QUARTERS = (Q1, Q2, Q3, Q4)
DAY_OF_WEEK = {0: 0, 1: 7, 3: 21}  # week of period -> snapshot day after the period start
COMMIT = {  # owner -> quarter index -> rep calls at weeks (0, 1, 3)
    "Ava": {0: (60, 70, 80), 1: (40, 50, 50), 2: (80, 90, 100), 3: (70, 80, 80)},
    "Ben": {0: (260, 240, 220), 1: (200, 220, 200), 2: (180, 200, 180), 3: (240, 260, 240)},
    "Cy": {1: (150, 140, 130), 2: (120, 120, 110), 3: (160, 150)},
}
BEST_CASE = {  # owner -> quarter index -> rep call at week 3
    "Ava": {0: 100, 1: 80, 2: 120, 3: 100},
    "Ben": {0: 240, 1: 240, 2: 220, 3: 260},
    "Cy": {1: 150, 2: 130},
}
MANAGER = [("Ben", 0, 3, 190), ("Ben", 1, 1, 200)]  # owner, quarter index, week, amount
ACTUAL = {
    "Ava": {0: 100, 1: 100, 2: 100, 3: 100},
    "Ben": {0: 200, 1: 200, 2: 200, 3: 200},
    "Cy": {1: 100, 2: 100, 3: 100},
}
QUOTAS = [
    ("Ava", Q1, 70.0),
    ("Ava", Q1, 50.0),
    *[("Ava", q, 120.0) for q in (Q2, Q3, Q4)],
    *[("Ben", q, 220.0) for q in QUARTERS],
    *[("Cy", q, 110.0) for q in (Q2, Q3, Q4)],
]
F_COLUMNS = ["owner", "period", "snapshot_date", "category", "amount", "submitted_by"]


def _frames(rename: dict[str, str] | None = None):
    """(forecasts, actuals, quotas) of the module docstring; ``rename`` renames owners."""
    rows = []

    def call(owner, quarter, week, category, amount, by="rep"):
        period = QUARTERS[quarter]
        snapshot = period + pd.Timedelta(days=DAY_OF_WEEK[week])
        rows.append((owner, period, snapshot, category, float(amount), by))

    for owner, quarters in COMMIT.items():
        for quarter, calls in quarters.items():
            for week, amount in zip((0, 1, 3), calls, strict=False):
                call(owner, quarter, week, "commit", amount)
    for owner, quarters in BEST_CASE.items():
        for quarter, amount in quarters.items():
            call(owner, quarter, 3, "best_case", amount)
    for owner, quarter, week, amount in MANAGER:
        call(owner, quarter, week, "commit", amount, by="manager")
    forecasts = pd.DataFrame(rows, columns=F_COLUMNS)
    actuals = pd.DataFrame(
        [(o, QUARTERS[i], float(v)) for o, by_q in ACTUAL.items() for i, v in by_q.items()],
        columns=["owner", "period", "amount"],
    )
    quotas = pd.DataFrame(QUOTAS, columns=["owner", "period", "quota"])
    if rename:
        forecasts, actuals, quotas = (
            t.replace({"owner": rename}) for t in (forecasts, actuals, quotas)
        )
    return forecasts, actuals, quotas


@pytest.fixture
def data():
    return _frames()


@pytest.fixture
def tracker(data):
    return kw.ForecastTracker(*data)


def _one(frame: pd.DataFrame, **keys) -> pd.Series:
    """The single row of ``frame`` matching ``keys``."""
    mask = pd.Series(True, index=frame.index)
    for column, value in keys.items():
        mask &= frame[column].isna() if value is None else frame[column] == value
    (index,) = frame.index[mask]
    return frame.loc[index]


def _chart_frames(chart):
    """Every inline data frame of an Altair chart (top level, layers and concatenations)."""
    if isinstance(getattr(chart, "data", None), pd.DataFrame):
        yield chart.data
    for attr in ("layer", "hconcat", "vconcat", "concat"):
        subcharts = getattr(chart, attr, None)
        if isinstance(subcharts, list):
            for sub in subcharts:
                yield from _chart_frames(sub)


def _chart_data(chart, column: str) -> pd.DataFrame:
    """The chart's data with ``column`` (the leaderboard's two bar charts share one table)."""
    frames = [f for f in _chart_frames(chart) if column in f.columns]
    assert frames, f"no data with a {column!r} column in the chart"
    for other in frames[1:]:
        pd.testing.assert_frame_equal(other, frames[0])
    return frames[0]


# -- the headline ---------------------------------------------------------------------------


def test_headline_accuracy_by_week_is_the_team_rollup_by_hand(tracker):
    assert tracker.error == ""
    result = tracker.result
    # Rep calls only; best case is called in week 3 alone, and nobody calls in week 2.
    assert list(zip(result["week_of_period"], result["category"], strict=True)) == [
        (0, "commit"),
        (1, "commit"),
        (3, "best_case"),
        (3, "commit"),
    ]
    week0 = _one(result, week_of_period=0, category="commit")
    # Rollup: per quarter sum the owners' calls and actuals, score that team call, then
    # average the quarters. Week 0 commit:
    #   Q1 F = 60 + 260 = 320,       A = 300: 1 - 20/300 = 0.93333
    #   Q2 F = 40 + 200 + 150 = 390, A = 400: 1 - 10/400 = 0.975
    #   Q3 F = 80 + 180 + 120 = 380, A = 400: 1 - 20/400 = 0.95
    #   Q4 F = 70 + 240 + 160 = 470, A = 400: 1 - 70/400 = 0.825
    # accuracy = (0.93333 + 0.975 + 0.95 + 0.825) / 4 = 0.920833 over n = 4 team calls;
    # WAPE = (20 + 10 + 20 + 70) / (300 + 400 + 400 + 400) = 120 / 1500 = 0.08;
    # bias = (+20 - 10 - 20 + 70) / 1500 = 0.04.
    assert week0["accuracy"] == pytest.approx((1 - 20 / 300 + 0.975 + 0.95 + 0.825) / 4)
    assert week0["accuracy"] == pytest.approx(0.920833, abs=1e-6)
    assert week0["n"] == 4
    assert week0["wape"] == pytest.approx(0.08)
    assert week0["bias"] == pytest.approx(0.04)
    # Week 3 commit uses Ben's REP call 220 in Q1, not the manager's 190:
    #   Q1 80 + 220 = 300 vs 300: 1.0;  Q2 50 + 200 + 130 = 380 vs 400: 0.95;
    #   Q3 100 + 180 + 110 = 390 vs 400: 0.975;  Q4 (Cy has no week-3 call, so his actual
    #   is not in the cell) 80 + 240 = 320 vs 300: 1 - 20/300 = 0.93333 -> mean 0.964583.
    week3 = _one(result, week_of_period=3, category="commit")
    assert week3["accuracy"] == pytest.approx((1.0 + 0.95 + 0.975 + (1 - 20 / 300)) / 4)
    # Week 3 best case: Q1 100 + 240 = 340 vs 300: 0.86667; Q2 80 + 240 + 150 = 470 vs 400:
    # 0.825; Q3 120 + 220 + 130 = 470 vs 400: 0.825; Q4 100 + 260 = 360 vs 300: 0.8.
    best = _one(result, week_of_period=3, category="best_case")
    assert best["accuracy"] == pytest.approx((1 - 40 / 300 + 0.825 + 0.825 + 0.8) / 4)
    # 3 owners; 12 + 12 + 8 = 32 rep commit calls (the 2 manager adjustments are not rep calls).
    assert tracker.status == (
        "3 owners · 4 periods (2025 Q1 – 2025 Q4) · commit calls · 32 rep calls scored"
        " · team = rollup"
    )


def test_aggregate_mean_averages_the_owners_accuracies_and_differs_from_rollup(tracker):
    rollup = _one(tracker.result, week_of_period=0, category="commit")["accuracy"]
    tracker.aggregate = "mean"
    assert tracker.error == ""
    week0 = _one(tracker.result, week_of_period=0, category="commit")
    # Each owner's mean accuracy of his week-0 commit calls, then the plain mean of owners:
    #   Ava |60-100|, |40-100|, |80-100|, |70-100| over 100 -> 0.6, 0.4, 0.8, 0.7 -> 0.625
    #   Ben |260-200|, |200-200|, |180-200|, |240-200| over 200 -> 0.7, 1.0, 0.9, 0.8 -> 0.85
    #   Cy  |150-100|, |120-100|, |160-100| over 100 -> 0.5, 0.8, 0.4 -> 0.566667
    # mean = (0.625 + 0.85 + 0.566667) / 3 = 0.680556, over 4 + 4 + 3 = 11 owner calls.
    assert week0["accuracy"] == pytest.approx((0.625 + 0.85 + 1.7 / 3) / 3)
    assert week0["accuracy"] == pytest.approx(0.680556, abs=1e-6)
    assert week0["n"] == 11
    assert week0["accuracy"] != pytest.approx(rollup)  # rollup gave 0.920833
    assert "team = mean" in tracker.status


# -- the leaderboard ------------------------------------------------------------------------


def test_leaderboard_accuracy_bias_and_band_by_hand(tracker):
    board = tracker.leaderboard_result.set_index("owner")
    assert board.index.tolist() == ["Ava", "Ben", "Cy"]
    # Every week's rep commit calls of every quarter.
    # Ava (A = 100): errors -40 -30 -20 | -60 -50 -50 | -20 -10 0 | -30 -20 -20 = -350,
    #   ΣA = 12 × 100 = 1200 -> bias -0.291667 (< -0.10: under-forecasts);
    #   accuracy = mean(0.6 0.7 0.8 | 0.4 0.5 0.5 | 0.8 0.9 1.0 | 0.7 0.8 0.8) = 8.5/12.
    assert board.loc["Ava", "n"] == 12
    assert board.loc["Ava", "bias"] == pytest.approx(-350 / 1200)
    assert board.loc["Ava", "wape"] == pytest.approx(350 / 1200)
    assert board.loc["Ava", "accuracy"] == pytest.approx(8.5 / 12)
    assert board.loc["Ava", "band"] == "under-forecasts"
    # Ben (A = 200): errors +60 +40 +20 | 0 +20 0 | -20 0 -20 | +40 +60 +40 = +240,
    #   ΣA = 12 × 200 = 2400 -> bias = 240/2400 = +0.10 EXACTLY: not > +0.10, so within;
    #   accuracy = mean(0.7 0.8 0.9 | 1 0.9 1 | 0.9 1 0.9 | 0.8 0.7 0.8) = 10.4/12.
    #   His manager's 190 and 200 are not rep calls: n = 12, not 14.
    assert board.loc["Ben", "n"] == 12
    assert board.loc["Ben", "bias"] == 0.1  # exactly the band edge (240.0 / 2400.0)
    assert board.loc["Ben", "accuracy"] == pytest.approx(10.4 / 12)
    assert board.loc["Ben", "wape"] == pytest.approx(320 / 2400)
    assert board.loc["Ben", "band"] == "within ±10 %"
    # Cy (A = 100): errors +50 +40 +30 | +20 +20 +10 | +60 +50 = +280, ΣA = 800 -> +0.35;
    #   accuracy = mean(0.5 0.6 0.7 | 0.8 0.8 0.9 | 0.4 0.5) = 5.2/8 = 0.65.
    assert board.loc["Cy", "n"] == 8
    assert board.loc["Cy", "bias"] == pytest.approx(0.35)
    assert board.loc["Cy", "accuracy"] == pytest.approx(0.65)
    assert board.loc["Cy", "band"] == "over-forecasts"


def test_metric_changes_only_what_is_drawn(tracker):
    before, board = tracker.result, tracker.leaderboard_result
    tracker.metric = "wape"
    assert tracker.error == ""
    assert tracker.result is before and tracker.leaderboard_result is board  # no recompute
    drawn = _chart_data(tracker.parts["by_week_chart"].chart, "value")
    assert drawn["value"].tolist() == pytest.approx(before["wape"].tolist())
    # Week 0 commit WAPE by hand: 120 / 1500 = 0.08 (see the headline test).
    assert _one(drawn, week_of_period=0, category="commit")["value"] == pytest.approx(0.08)
    # The leaderboard draws the WAPE too: Ava 350 / 1200.
    bars = _chart_data(tracker.parts["leaderboard_chart"].chart, "wape")
    assert _one(bars, owner="Ava")["wape"] == pytest.approx(350 / 1200)
    assert "WAPE" in str(tracker.parts["by_week_chart"].chart.title)


# -- choosing an owner ----------------------------------------------------------------------


def _expect_ava_alone(tracker):
    # Ava's final (week-3) commit call of each quarter, against her actual 100 and her
    # quota: Q1 70 + 50 = 120 (two rows), then 120.
    periods = tracker.periods_result
    assert periods["period"].tolist() == list(QUARTERS)
    assert periods["forecast"].tolist() == [80.0, 50.0, 100.0, 80.0]
    assert periods["actual"].tolist() == [100.0] * 4
    assert periods["quota"].tolist() == [120.0] * 4
    assert periods["owners"].tolist() == [1] * 4
    # The headline is Ava's alone: week 0 commit 0.6, 0.4, 0.8, 0.7 -> 0.625.
    week0 = _one(tracker.result, week_of_period=0, category="commit")
    assert week0["accuracy"] == pytest.approx(0.625)
    # The leaderboard still lists every owner, Ava highlighted.
    assert tracker.leaderboard_result["owner"].tolist() == ["Ava", "Ben", "Cy"]
    bars = _chart_data(tracker.parts["leaderboard_chart"].chart, "is_selected")
    assert bars.set_index("owner")["is_selected"].to_dict() == {
        "Ava": True,
        "Ben": False,
        "Cy": False,
    }
    assert "owner: Ava" in tracker.status and "team = " not in tracker.status


def test_clicking_an_owner_on_the_leaderboard_filters_the_other_views(tracker):
    chart = tracker.parts["leaderboard_chart"]
    assert isinstance(chart.selections.owner_pick, PointSelection)
    # altair.JupyterChart's selections are read-only from Python (Selections._make_read_only
    # raises); the browser sets the synced traitlet ``_vl_selections`` and JupyterChart
    # turns it into a new PointSelection(value=[{"owner": ...}]) via Selections._set_value.
    with pytest.raises(ValueError, match="may not be set from Python"):
        chart.selections.owner_pick = PointSelection("owner_pick", [{"owner": "Ava"}], [])
    assert tracker.owner is None
    # So a click is simulated the browser's way (tests.helpers.click_point).
    click_point(chart, "owner_pick", owner="Ava")
    assert tracker.owner == "Ava" and tracker.error == ""
    _expect_ava_alone(tracker)
    # The chart was redrawn (a new selection object); clicking Ava again clears the owner.
    click_point(tracker.parts["leaderboard_chart"], "owner_pick", owner="Ava")
    assert tracker.owner is None
    assert tracker.periods_result["owners"].tolist() == [2, 3, 3, 3]
    assert "team = rollup" in tracker.status and "owner:" not in tracker.status
    # Another owner after that: Ben.
    click_point(tracker.parts["leaderboard_chart"], "owner_pick", owner="Ben")
    assert tracker.owner == "Ben"


def test_owner_set_from_python_filters_a_bad_owner_is_shown_and_a_good_one_recovers(tracker):
    tracker.owner = "Ava"
    assert tracker.error == ""
    _expect_ava_alone(tracker)
    assert tracker.controls["owner"].value == "Ava"
    good, status = tracker.result, tracker.status
    tracker.owner = "Nobody"
    assert tracker.error == "owner 'Nobody' has no calls; owners: Ava, Ben, Cy"
    box = tracker.parts["error"]
    assert box.layout.display == "" and "owner &#x27;Nobody&#x27; has no calls" in box.value
    assert tracker.result is good and tracker.status == status  # the last good view stays
    tracker.owner = "Ben"
    assert tracker.error == "" and box.layout.display == "none"
    # Ben's final calls: 220 (rep; the manager's 190 is not a rep call), 200, 180, 240.
    assert tracker.periods_result["forecast"].tolist() == [220.0, 200.0, 180.0, 240.0]
    assert tracker.periods_result["quota"].tolist() == [220.0] * 4
    assert "owner: Ben" in tracker.status


# -- the week -------------------------------------------------------------------------------


def test_week_from_a_url_a_bad_week_and_a_week_without_calls(tracker):
    assert tracker.apply_settings({"week": "3"}) == []
    assert tracker.week == 3 and tracker.error == ""
    board = tracker.leaderboard_result.set_index("owner")
    # Week-3 rep commit calls only:
    #   Ava 80 50 100 80 vs 100: accuracy (0.8 + 0.5 + 1.0 + 0.8)/4 = 0.775, bias -90/400;
    #   Ben 220 200 180 240 vs 200: errors +20 0 -20 +40 -> bias 40/800 = 0.05 (within);
    #   Cy 130 110 vs 100: errors +30 +10 -> bias 40/200 = 0.2 (over).
    assert board["n"].to_dict() == {"Ava": 4, "Ben": 4, "Cy": 2}
    assert board.loc["Ava", "accuracy"] == pytest.approx(0.775)
    assert board.loc["Ava", "bias"] == pytest.approx(-90 / 400)
    assert board.loc["Ben", "bias"] == pytest.approx(0.05)
    assert board["band"].to_dict() == {
        "Ava": "under-forecasts",
        "Ben": "within ±10 %",
        "Cy": "over-forecasts",
    }
    assert "10 rep calls scored" in tracker.status and "week 3 calls" in tracker.status
    with pytest.raises(traitlets.TraitError, match="whole number"):
        tracker.week = "abc"
    assert tracker.week == 3
    # A URL value that is no week is ignored and said, never raised.
    (ignored,) = tracker.apply_settings({"week": "abc"})
    assert ignored.startswith("week=") and tracker.week == 3
    good = tracker.result
    tracker.week = 2  # a whole number, but nobody called in week 2
    assert tracker.error == "week 2 has no calls; weeks of period run from 0 to 3"
    assert tracker.result is good
    tracker.week = None
    assert tracker.error == "" and "32 rep calls scored" in tracker.status


# -- the tabs' frames -----------------------------------------------------------------------


def test_trend_of_a_chosen_quarter_by_hand_and_a_period_out_of_range(tracker):
    # Default: the latest quarter, Q4. Summed rep calls per week:
    #   commit w0 70 + 240 + 160 = 470, w1 80 + 260 + 150 = 490 (A 400 for both);
    #   commit w3 80 + 240 = 320 (Cy made no week-3 call, so A = 100 + 200 = 300).
    latest = tracker.trend_result
    assert _one(latest, week_of_period=1, category="commit")["forecast"] == 490.0
    assert _one(latest, week_of_period=3, category="commit")[["forecast", "actual"]].tolist() == [
        320.0,
        300.0,
    ]
    tracker.selected_period = "2025-04-01"
    assert tracker.error == "" and tracker.selected_period == Q2
    trend = tracker.trend_result
    # Q2: commit w0 40 + 200 + 150 = 390; w1 50 + 220 + 140 = 410 (Ben's rep 220, not his
    # manager's 200); w3 50 + 200 + 130 = 380; best case w3 80 + 240 + 150 = 470;
    # the quarter's actual 100 + 200 + 100 = 400 on every row.
    assert list(
        zip(trend["week_of_period"], trend["category"], trend["forecast"], strict=True)
    ) == [
        (0, "commit", 390.0),
        (1, "commit", 410.0),
        (3, "best_case", 470.0),
        (3, "commit", 380.0),
    ]
    assert trend["actual"].tolist() == [400.0] * 4
    assert trend["owners"].tolist() == [3] * 4
    # Q2 outside the range shown: said in the widget, the last good view stays.
    good = tracker.result
    tracker.start = "2025-07-01"
    assert tracker.error == (
        "selected_period 2025 Q2 is not among the periods shown (2025 Q3 to 2025 Q4)"
    )
    assert tracker.result is good
    tracker.selected_period = None  # back to the latest shown: Q4
    assert tracker.error == ""
    assert _one(tracker.trend_result, week_of_period=0, category="commit")["forecast"] == 470.0
    assert "2 periods (2025 Q3 – 2025 Q4)" in tracker.status


def test_periods_final_calls_and_quotas_by_hand(tracker):
    periods = tracker.periods_result
    # week None: each owner's final rep commit call of the quarter (his last week):
    #   Q1 Ava 80 + Ben 220 = 300 vs 300;  Q2 50 + 200 + 130 = 380 vs 400;
    #   Q3 100 + 180 + 110 = 390 vs 400;   Q4 Ava 80 + Ben 240 + Cy 150 (his last call was
    #   week 1) = 470 vs 400.
    # Quotas summed over owners: Q1 Ava 70 + 50 + Ben 220 = 340; then 120 + 220 + 110 = 450.
    assert periods["forecast"].tolist() == [300.0, 380.0, 390.0, 470.0]
    assert periods["actual"].tolist() == [300.0, 400.0, 400.0, 400.0]
    assert periods["owners"].tolist() == [2, 3, 3, 3]
    assert periods["quota"].tolist() == [340.0, 450.0, 450.0, 450.0]
    # Q4: 1 - 70/400 = 0.825.
    assert periods["accuracy"].tolist() == pytest.approx([1.0, 0.95, 0.975, 0.825])
    tracker.week = 1
    assert tracker.error == ""
    # Week-1 calls: Q1 70 + 240 = 310; Q2 50 + 220 + 140 = 410; Q3 90 + 200 + 120 = 410;
    # Q4 80 + 260 + 150 = 490.
    periods = tracker.periods_result
    assert periods["forecast"].tolist() == [310.0, 410.0, 410.0, 490.0]
    assert periods["quota"].tolist() == [340.0, 450.0, 450.0, 450.0]


def test_managers_are_scored_on_the_same_calls_only(tracker):
    managers = tracker.managers_result
    # The pairs: (Ben, Q1, week 3) rep 220 / manager 190 and (Ben, Q2, week 1) rep 220 /
    # manager 200, each against Ben's actual 200. Ben's other 10 rep calls are not scored
    # here (on all 12 his accuracy is 10.4/12 = 0.867, on the pairs 0.9).
    overall_rep = _one(managers, week_of_period=None, submitted_by="rep")
    overall_manager = _one(managers, week_of_period=None, submitted_by="manager")
    # rep: |220-200|/200 twice -> accuracy 0.9; bias (20 + 20)/400 = +0.1.
    assert overall_rep["n"] == 2
    assert overall_rep["accuracy"] == pytest.approx(0.9)
    assert overall_rep["bias"] == pytest.approx(0.1)
    # manager: |190-200|/200 -> 0.95, |200-200| -> 1.0; accuracy 0.975; bias -10/400.
    assert overall_manager["n"] == 2
    assert overall_manager["accuracy"] == pytest.approx(0.975)
    assert overall_manager["bias"] == pytest.approx(-0.025)
    # Per week: week 1 rep 0.9 / manager 1.0; week 3 rep 0.9 / manager 0.95.
    assert _one(managers, week_of_period=1, submitted_by="manager")["accuracy"] == 1.0
    assert _one(managers, week_of_period=3, submitted_by="manager")["accuracy"] == pytest.approx(
        0.95
    )
    assert _one(managers, week_of_period=3, submitted_by="rep")["accuracy"] == pytest.approx(0.9)
    assert sorted(managers["week_of_period"].dropna().tolist()) == [1, 1, 3, 3]


# -- the projection -------------------------------------------------------------------------


def test_projection_arithmetic_by_hand_with_the_team_fallback(tracker):
    # Latest quarter Q4, at its latest week with a call (3), from the calls of record (the
    # manager's where one adjusted). Landing ratio r = A / F of the week-3 call of Q1..Q3.
    owners = tracker.projection_owners
    owners = owners[owners["category"] == "commit"].set_index("owner")
    ava = owners.loc["Ava"]
    # Ava: 100/80 = 1.25, 100/50 = 2.0, 100/100 = 1.0 -> median 1.25; call 80 -> 100.
    # Interval (10th / 90th percentile, linear) of [1.0, 1.25, 2.0]:
    #   1.0 + 0.2 × 0.25 = 1.05 -> 84;  1.25 + 0.8 × 0.75 = 1.85 -> 148.
    assert ava[["call", "call_week", "history", "basis"]].tolist() == [80.0, 3, 3, "owner"]
    assert ava["factor"] == pytest.approx(1.25)
    assert ava["projection"] == pytest.approx(100.0)
    assert (ava["low"], ava["high"]) == (pytest.approx(84.0), pytest.approx(148.0))
    assert ava["actual"] == 100.0 and ava["reason"] == ""
    # Ben: his Q1 call of record is the manager's 190: 200/190, 200/200, 200/180 -> median
    # 200/190 = 1.052632; 240 × 1.052632 = 252.63 (with the rep's 220 the median would be 1.0).
    assert owners.loc["Ben", "projection"] == pytest.approx(240 * 200 / 190)
    # Cy: only Q2 and Q3 (2 ratios < min_history 3) -> the team's ratios, r = ΣA / ΣF:
    #   Q1 (Ava 80 + Ben 190 = 270) 300/270 = 1.1111; Q2 (50 + 200 + 130 = 380) 400/380 =
    #   1.0526; Q3 (100 + 180 + 110 = 390) 400/390 = 1.0256 -> median 20/19.
    #   His call as of week 3 is his week-1 call 150 -> 150 × 20/19 = 157.89.
    cy = owners.loc["Cy"]
    assert cy[["call", "call_week", "history", "basis"]].tolist() == [150.0, 1, 3, "team"]
    assert cy["factor"] == pytest.approx(20 / 19)
    assert cy["projection"] == pytest.approx(150 * 20 / 19)
    # The team: call 80 + 240 + 150 = 470; × 20/19 = 494.74; interval of
    # [1.025641, 1.052632, 1.111111]: 1.025641 + 0.2 × 0.026991 = 1.031039 -> 484.59 and
    # 1.052632 + 0.8 × 0.058480 = 1.099415 -> 516.73; it landed at 400.
    team = _one(tracker.projection_result, category="commit")
    assert team["call"] == 470.0 and team["history"] == 3 and team["basis"] == "team"
    assert team["projection"] == pytest.approx(470 * 20 / 19)
    low = 400 / 390 + 0.2 * (400 / 380 - 400 / 390)
    high = 400 / 380 + 0.8 * (300 / 270 - 400 / 380)
    assert (team["low"], team["high"]) == (pytest.approx(470 * low), pytest.approx(470 * high))
    assert team["actual"] == 400.0
    # The table under the chart says the same arithmetic (drawn when its tab is shown).
    tracker.view = "projection"
    table = tracker.parts["projection_table"].value
    assert (
        "Team commit at week 3: latest call $470 × median landing ratio 1.053 of 3 earlier "
        "periods = $495 (interval $485 – $517); it landed at $400." in table
    )
    # In the team's currency and locale (Babel): Brazilian reals, a decimal comma.
    brl = kw.ForecastTracker(*_frames(), currency="BRL", locale="pt_BR", view="projection")
    assert "latest call R$\xa0470 × median" in brl.parts["projection_table"].value
    assert table.count("</tr>") == 1 + 3  # header + Ava, Ben, Cy (commit rows only)


def test_projection_with_too_little_history_is_nan_with_a_reason(tracker):
    tracker.selected_period = "2025-07-01"
    assert tracker.error == ""
    # Projecting Q3 at week 3: only Q1 and Q2 are earlier -> 2 ratios for everyone, the team
    # too (2 < min_history 3): no projection, and the reason says so.
    reason = "only 2 earlier period(s) with a week-3 call and an actual (need 3)"
    team = _one(tracker.projection_result, category="commit")
    assert team["call"] == 390.0  # 100 + 180 + 110
    assert math.isnan(team["projection"]) and math.isnan(team["factor"])
    assert team["history"] == 2 and team["basis"] == "" and team["reason"] == reason
    ava = _one(tracker.projection_owners, owner="Ava", category="commit")
    assert ava["call"] == 100.0 and math.isnan(ava["projection"]) and ava["reason"] == reason
    tracker.view = "projection"
    assert f"no projection: {reason}." in tracker.parts["projection_table"].value


def test_tabs_are_drawn_when_shown_and_follow_view(tracker):
    tabs = tracker.parts["tabs"]
    assert tracker.view == "periods" and tabs.selected_index == 0
    # Not shown yet: the projection slot holds the empty placeholder chart, no table.
    placeholder = tracker.parts["projection_chart"].chart
    assert placeholder.to_dict()["mark"]["type"] == "point" and len(placeholder.data) == 0
    assert tracker.parts["projection_table"].value == ""
    tracker.view = "projection"
    assert tabs.selected_index == 3
    drawn = tracker.parts["projection_chart"].chart
    assert drawn.title.text == "Projected landing"
    calls = _chart_data(drawn, "call")
    assert _one(calls, category="commit")["call"] == 470.0  # 80 + 240 + 150
    # A person clicking the "Snapshot trend" tab sets view.
    tabs.selected_index = 1
    assert tracker.view == "trend"
    assert tracker.parts["trend_chart"].chart.title.text == "Calls for 2025 Q4, week by week"
    # A setting changed while another tab is shown is drawn when its tab is shown again.
    tracker.owner = "Ava"
    tracker.view = "projection"
    calls = _chart_data(tracker.parts["projection_chart"].chart, "call")
    assert _one(calls, category="commit")["call"] == 80.0  # Ava's week-3 call of Q4


# -- user text, rows left out, round trip ---------------------------------------------------


def test_owner_names_are_escaped_in_the_status_and_the_projection_table():
    name = "<b>x</b>&"
    tracker = kw.ForecastTracker(*_frames({"Cy": name}), view="projection")
    assert tracker.error == ""
    escaped = "&lt;b&gt;x&lt;/b&gt;&amp;"
    table = tracker.parts["projection_table"].value
    assert f"<td>{escaped}</td>" in table and name not in table
    tracker.owner = name
    assert tracker.error == ""
    status_html = tracker.parts["status"].value
    assert f"owner: {escaped}" in status_html and name not in status_html
    assert f"owner: {name}" in tracker.status  # the plain-text status holds the name itself
    assert name not in tracker.parts["projection_table"].value
    # A bad owner with markup is escaped in the red box too.
    tracker.owner = "<i>zz</i>"
    assert "<i>" not in tracker.parts["error"].value
    assert "&lt;i&gt;zz&lt;/i&gt;" in tracker.parts["error"].value


def test_rows_left_out_are_counted_in_the_status(data):
    forecasts, actuals, quotas = data
    # One call for 2026 Q1, a quarter nobody has an actual for yet.
    open_call = pd.DataFrame(
        [("Ava", pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-08"), "commit", 90.0, "rep")],
        columns=F_COLUMNS,
    )
    tracker = kw.ForecastTracker(pd.concat([forecasts, open_call]), actuals, quotas)
    assert tracker.error == ""
    assert "calls of open periods (no actual yet): 1" in tracker.status
    assert "kpi-forecast-left-out" in tracker.parts["status"].value
    # It is not scored: still 32 rep calls, the same headline numbers.
    assert "32 rep calls scored" in tracker.status
    week0 = _one(tracker.result, week_of_period=0, category="commit")
    assert week0["accuracy"] == pytest.approx(0.920833, abs=1e-6)
    # Without it nothing is said.
    assert "not scored" not in kw.ForecastTracker(*data).status


def test_python_settings_round_trip_rebuilds_the_same_view(data):
    tracker = kw.ForecastTracker(*data)
    tracker.metric = "bias"
    tracker.aggregate = "mean"
    tracker.start = "2025-04-01"
    tracker.selected_period = "2025-07-01"
    tracker.week = 3
    tracker.owner = "Ben"
    tracker.view = "managers"
    assert tracker.error == ""
    settings = tracker.settings
    assert settings["owner"] == "Ben" and settings["week"] == 3 and settings["start"] == Q2
    again = kw.ForecastTracker(*data, **settings)
    assert again.error == "" and again.settings == settings
    pd.testing.assert_frame_equal(again.result, tracker.result)
    assert again.status == tracker.status
    # Q2..Q4, week-3 rep commit calls of every owner (the leaderboard keeps them all):
    # Ava 50, 100, 80; Ben 200, 180, 240; Cy 130, 110 (none in Q4) -> 3 + 3 + 2 = 8.
    assert again.status == (
        "3 owners · 3 periods (2025 Q2 – 2025 Q4) · commit calls · 8 rep calls scored"
        " · owner: Ben · week 3 calls"
    )
    pd.testing.assert_frame_equal(again.leaderboard_result, tracker.leaderboard_result)


# -- library bugs ---------------------------------------------------------------------------


def test_a_bad_owner_keeps_its_error_and_the_last_good_tabs_when_a_tab_is_shown(tracker):
    tracker.owner = "Nobody"
    assert tracker.error.startswith("owner 'Nobody' has no calls")
    tracker.view = "trend"
    # The last good drawing stays: Q4's team trend (commit week 0: 470, see above) ...
    assert len(tracker.trend_result) == 4
    assert _one(tracker.trend_result, week_of_period=0, category="commit")["forecast"] == 470.0
    # ... and the widget still says what is wrong, after a redraw-only change too.
    assert tracker.error.startswith("owner 'Nobody' has no calls")
    tracker.metric = "wape"
    assert tracker.error.startswith("owner 'Nobody' has no calls")
    assert tracker.parts["error"].layout.display == ""
    tracker.owner = "Ava"
    assert tracker.error == ""


def test_integer_owner_ids_can_be_selected():
    ids = {"Ava": 1, "Ben": 2, "Cy": 3}
    forecasts, actuals, quotas = (t.replace({"owner": ids}) for t in _frames())
    tracker = kw.ForecastTracker(forecasts, actuals, quotas)
    assert tracker.error == "" and tracker.leaderboard_result["owner"].tolist() == [1, 2, 3]
    click_point(tracker.parts["leaderboard_chart"], "owner_pick", owner=1)  # Ava's bar
    assert tracker.error == ""
    # Ava's final calls, as in _expect_ava_alone.
    assert tracker.periods_result["forecast"].tolist() == [80.0, 50.0, 100.0, 80.0]
    # From a URL the id arrives as text and still selects the owner 2.
    assert tracker.apply_settings({"owner": "2"}) == [] and tracker.owner == 2
    assert set(tracker.periods_result["owners"]) == {1}
