"""RetentionGrid: settings are traitlets, the result is the core's frame, clicks select."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import traitlets
from pandas.testing import assert_frame_equal

import kpiwidgets as kw
from kpiwidgets.widgets.retention import RetentionGrid
from tests.helpers import click_point


@pytest.fixture(scope="module")
def demo():
    ds = kw.load_demo(n_leads=4_000)
    won = ds.opportunities[ds.opportunities["status"] == "won"]
    return ds.revenue, won[["account_id", "channel"]].drop_duplicates("account_id")


@pytest.fixture
def grid(demo):
    revenue, accounts = demo
    return RetentionGrid(revenue, by="channel", attributes=accounts)


def _small():
    """Six accounts over four months; channel a or b; hand-checked below."""
    rows = [
        # account, month, mrr, channel
        (1, "2024-01", 10.0, "a"),
        (1, "2024-02", 10.0, "a"),
        (1, "2024-03", 30.0, "a"),
        (2, "2024-01", 20.0, "a"),
        (3, "2024-01", 5.0, "b"),
        (3, "2024-03", 5.0, "b"),
        (3, "2024-04", 5.0, "b"),
        (4, "2024-02", 8.0, "b"),
        (4, "2024-03", 8.0, "b"),
        (5, "2024-02", 4.0, "a"),
        (6, "2024-04", 1.0, "b"),
    ]
    frame = pd.DataFrame(rows, columns=["account_id", "month", "mrr", "channel"])
    frame["month"] = pd.to_datetime(frame["month"])
    return frame


def test_defaults_fit_the_revenue_table_and_result_is_the_core_frame(demo):
    revenue, _ = demo
    grid = RetentionGrid(revenue)
    assert (grid.value, grid.period, grid.mode, grid.measure, grid.show) == (
        "mrr",
        "M",
        "on",
        "customers",
        "percent",
    )
    assert grid.error == ""
    assert_frame_equal(grid.result, kw.cohort_retention(revenue))
    at_start = grid.result[grid.result["period_number"] == 0]
    assert at_start["cohort_size"].sum() == revenue["account_id"].nunique()
    status = grid.status
    assert "Monthly cohorts" in status and f"{revenue['account_id'].nunique():,} accounts" in status


@pytest.mark.parametrize(
    ("settings", "core"),
    [
        ({"period": "Q"}, {"period": "Q"}),
        ({"period": "W", "mode": "on_or_after"}, {"period": "W", "mode": "on_or_after"}),
        ({"measure": "revenue"}, {"value": "mrr"}),
        # MRR is a snapshot: quarters take their last month's MRR (value_agg="period_end").
        (
            {"measure": "revenue", "period": "Q"},
            {"value": "mrr", "period": "Q", "value_agg": "period_end"},
        ),
    ],
)
def test_setting_traits_recomputes_the_core_result(demo, settings, core):
    revenue, _ = demo
    grid = RetentionGrid(revenue)
    for name, value in settings.items():
        setattr(grid, name, value)
    assert grid.error == ""
    assert_frame_equal(grid.result, kw.cohort_retention(revenue, **core))


def test_all_channels_view_sums_the_split_and_equals_the_unsplit_core(grid, demo):
    revenue, _ = demo
    grid.measure = "revenue"
    # Summed from the channel split in pandas; checked against one scan without by=.
    assert_frame_equal(grid.result, kw.cohort_retention(revenue, value="mrr"))


def test_breakdown_filter_equals_the_core_on_the_filtered_activity(grid, demo):
    revenue, accounts = demo
    grid.measure = "revenue"
    grid.breakdown = "referral"
    referral_accounts = accounts.loc[accounts["channel"] == "referral", "account_id"]
    only = revenue[revenue["account_id"].isin(referral_accounts)]
    # Same as_of as the whole company (the last month in the data), not referral's last month.
    expected = kw.cohort_retention(only, value="mrr", as_of=revenue["month"].max())
    assert_frame_equal(grid.result, expected)
    assert "channel: referral" in grid.status
    assert f"{referral_accounts.isin(revenue['account_id']).sum():,} accounts" in grid.status


def test_breakdown_and_show_changes_do_not_rescan(grid, monkeypatch):
    import kpiwidgets.metrics.retention_session as module

    def no_scan(*args, **kwargs):
        raise AssertionError("the activity was scanned again")

    monkeypatch.setattr(module, "cohort_retention", no_scan)
    grid.show = "count"
    grid.breakdown = "events"
    grid.measure = "revenue"
    grid.cohort_start = "2024-06"
    grid.selected_cohort = "2024-07-01"
    grid.breakdown = None
    assert grid.error == ""


def test_small_example_by_hand():
    activity = _small()
    grid = RetentionGrid(activity, by="channel")
    result = grid.result.set_index(["cohort", "period_number"])
    jan = pd.Timestamp("2024-01-01")
    # January: accounts 1, 2, 3; month 1: only 1; month 2: 1 and 3; month 3: 3.
    assert result.loc[jan, "retained"].tolist() == [3, 1, 2, 1]
    assert result.loc[(jan, 2), "retention"] == pytest.approx(2 / 3)
    grid.breakdown = "b"
    result = grid.result.set_index(["cohort", "period_number"])
    # Channel b in January: account 3 alone, active in months 0, 2, 3.
    assert result.loc[jan, "retained"].tolist() == [1, 0, 1, 1]
    feb = pd.Timestamp("2024-02-01")
    assert result.loc[feb, "retained"].tolist() == [1, 1, 0]  # account 4
    grid.breakdown = None
    grid.measure = "revenue"
    result = grid.result.set_index(["cohort", "period_number"])
    # January revenue: 35 at month 0, 10 at month 1, 30 + 5 at month 2, 5 at month 3.
    assert result.loc[jan, "value_retention"].tolist() == pytest.approx(
        [1.0, 10 / 35, 35 / 35, 5 / 35]
    )


def test_revenue_needs_mode_on_and_the_widget_says_so(grid):
    grid.mode = "on_or_after"
    grid.measure = "revenue"
    assert grid.mode == "on" and grid.measure == "revenue"
    assert "mode switched to 'on'" in grid.note
    assert grid.controls["mode"].disabled
    grid.mode = "on_or_after"
    assert grid.measure == "customers" and "measure switched to customers" in grid.note
    assert not grid.controls["mode"].disabled
    assert grid.error == ""
    assert "value_retention" not in grid.result


def test_settings_from_a_url_reconcile_measure_and_mode_as_the_attributes_do(demo):
    revenue, _ = demo
    grid = RetentionGrid(revenue, measure="revenue")
    assert grid.apply_settings({"mode": "on_or_after"}) == []
    assert grid.error == ""
    assert (grid.mode, grid.measure) == ("on_or_after", "customers")  # as grid.mode = ... does
    assert "measure switched to customers" in grid.note
    assert_frame_equal(grid.result, kw.cohort_retention(revenue, mode="on_or_after"))
    # Both at once, as from a URL: measure wins, as in the constructor.
    assert grid.apply_settings({"mode": "on_or_after", "measure": "revenue"}) == []
    assert (grid.mode, grid.measure) == ("on", "revenue") and grid.error == ""
    assert "mode switched to 'on'" in grid.note


def test_conflicting_measure_and_mode_at_construction_are_said(demo):
    revenue, _ = demo
    grid = RetentionGrid(revenue, mode="on_or_after", measure="revenue")
    assert grid.error == ""
    # Both given: measure wins (RetentionGrid.adjust), and the status line says so.
    assert (grid.mode, grid.measure) == ("on", "revenue") and "value_retention" in grid.result
    assert "mode switched to 'on'" in grid.note and "mode switched to 'on'" in grid.status
    assert_frame_equal(grid.result, kw.cohort_retention(revenue, value="mrr"))


def test_revenue_without_a_value_column_is_an_error_in_the_widget(demo):
    revenue, _ = demo
    grid = RetentionGrid(revenue, value=None)
    assert [v for _, v in grid.controls["measure"].options] == ["customers"]
    grid.measure = "revenue"
    assert "needs a value column" in grid.error
    grid.measure = "customers"
    assert grid.error == ""


def test_cohort_range_keeps_the_cohorts_inside(grid, demo):
    revenue, _ = demo
    grid.cohort_start = "2024-06-15"  # floored to June
    grid.cohort_end = pd.Timestamp("2024-09-01")
    cohorts = sorted(grid.result["cohort"].unique())
    assert cohorts == list(pd.date_range("2024-06-01", "2024-09-01", freq="MS"))
    expected = kw.cohort_retention(revenue)
    expected = expected[expected["cohort"].between("2024-06-01", "2024-09-01")]
    assert grid.result["retained"].tolist() == expected["retained"].tolist()
    # The average row is over the cohorts shown: pooled at k=1 by hand.
    k1 = expected[(expected["period_number"] == 1) & expected["is_complete"]]
    avg = grid.average_result.set_index("period_number")
    assert avg.loc[1, "retention"] == pytest.approx(k1["retained"].sum() / k1["cohort_size"].sum())


def test_click_on_a_cohort_row_selects_it(grid):
    click_point(grid.parts["grid_chart"], "cohort_pick", cohort="2024-05-01")
    assert grid.selected_cohort == pd.Timestamp("2024-05-01")
    shown = grid.result
    may = (shown["cohort"] == pd.Timestamp("2024-05-01")) & (shown["period_number"] == 0)
    size = shown.loc[may, "cohort_size"]
    assert f"selected 2024-05 ({int(size.iloc[0]):,} accounts)" in grid.status
    assert grid.parts["curves_chart"].params.highlight == "2024-05-01"
    # Still wired after a redraw swapped the chart.
    grid.period = "Q"
    assert grid.selected_cohort == pd.Timestamp("2024-04-01")  # May lies in Q2
    click_point(grid.parts["grid_chart"], "cohort_pick", cohort="2024-07-01")
    assert grid.selected_cohort == pd.Timestamp("2024-07-01")
    click_point(grid.parts["grid_chart"], "cohort_pick", cohort="average")
    assert grid.selected_cohort is None


def test_selected_cohort_from_python_highlights_the_curve(grid):
    grid.selected_cohort = "2024-08-20"
    assert grid.selected_cohort == pd.Timestamp("2024-08-01")
    assert grid.parts["curves_chart"].params.highlight == "2024-08-01"
    assert grid.parts["grid_chart"].params.highlight == "2024-08-01"
    # A redraw bakes the selection into the new curve chart's spec.
    grid.show = "count"
    grid.average_method = "simple"
    spec = grid.parts["curves_chart"].chart.to_dict()
    assert {"name": "highlight", "value": "2024-08-01"} in spec["params"]
    grid.selected_cohort = None
    assert grid.parts["curves_chart"].params.highlight == ""


def test_a_filter_without_the_selected_cohort_clears_the_selection():
    grid = RetentionGrid(_small(), by="channel")
    grid.selected_cohort = "2024-04"  # account 6, channel b
    grid.breakdown = "a"
    assert grid.selected_cohort is None and grid.error == ""
    assert "selected" not in grid.status


def test_selecting_a_cohort_not_in_the_grid_is_an_error_in_the_widget(grid):
    grid.selected_cohort = "2031-01"
    assert "not in the grid" in grid.error and grid.selected_cohort is None
    grid.selected_cohort = "2024-05"
    assert grid.error == "" and grid.selected_cohort == pd.Timestamp("2024-05-01")


def test_a_period_outside_the_choices_raises_and_the_grid_keeps_working(grid, demo):
    revenue, _ = demo
    before, settings = grid.result, dict(grid.settings)
    with pytest.raises(traitlets.TraitError, match="'fortnight'"):
        grid.period = "fortnight"
    with pytest.raises(traitlets.TraitError, match="'fortnight'"):
        RetentionGrid(revenue, period="fortnight")
    assert grid.error == "" and grid.parts["error"].layout.display == "none"
    assert grid.result is before and grid.settings == settings  # nothing changed
    assert grid.controls["period"].value == "M"
    grid.period = "Q"
    assert grid.error == "" and grid.parts["error"].layout.display == "none"
    assert_frame_equal(grid.result, kw.cohort_retention(revenue, period="Q"))
    assert grid.controls["period"].value == "Q"


@pytest.mark.parametrize(
    ("arrives", "value", "message"),
    [
        ("constructor", "garbage", "selected_cohort: expected a date"),
        ("apply_settings", "2031-01", "not in the grid"),
    ],
)
def test_a_selected_cohort_wrong_for_the_data_is_shown_however_it_arrives(
    demo, arrives, value, message
):
    revenue, _ = demo
    if arrives == "constructor":
        grid = RetentionGrid(revenue, selected_cohort=value)
    else:
        grid = RetentionGrid(revenue)
        assert grid.apply_settings({"selected_cohort": value}) == []
    assert message in grid.error


def test_the_cohorts_slider_drops_a_selection_it_leaves_out_as_the_attribute_does(demo):
    revenue, _ = demo
    grid = RetentionGrid(revenue)
    cohorts = [value for _, value in grid.controls["cohorts"].options]
    grid.selected_cohort = cohorts[1]
    grid.controls["cohorts"].value = (cohorts[3], cohorts[-1])
    assert grid.cohort_start == cohorts[3] and grid.error == ""
    assert grid.selected_cohort is None and "selected" not in grid.status
    assert RetentionGrid(revenue, **grid.settings).error == ""


def test_curves_per_breakdown_value_are_pooled_averages(grid, demo):
    revenue, accounts = demo
    grid.curves = "breakdown"
    data = pd.DataFrame(grid.parts["curves_chart"].chart.layer[0].data)
    referral = data[data["channel"] == "referral"].set_index("period_number")["percent"]
    joined = revenue.merge(accounts, on="account_id")
    split = kw.cohort_retention(joined[joined["channel"] == "referral"], as_of=revenue.month.max())
    done = split[split["is_complete"]]
    by_k = done.groupby("period_number")[["retained", "cohort_size"]].sum()
    assert referral.to_numpy() == pytest.approx((by_k["retained"] / by_k["cohort_size"]).to_numpy())


def test_attributes_must_have_one_row_per_entity(demo):
    revenue, accounts = demo
    twice = pd.concat([accounts, accounts.head(1)])
    with pytest.raises(ValueError, match="one row per 'account_id'"):
        RetentionGrid(revenue, by="channel", attributes=twice)
    with pytest.raises(ValueError, match="not a column of the activity"):
        RetentionGrid(revenue, by="channel")


def test_tz_aware_activity_keeps_its_zone():
    activity = _small()
    activity["month"] = activity["month"].dt.tz_localize("Europe/Berlin")
    grid = RetentionGrid(activity)
    assert str(grid.result["cohort"].dt.tz) == "Europe/Berlin"
    click_point(grid.parts["grid_chart"], "cohort_pick", cohort="2024-02-01")
    assert grid.selected_cohort == pd.Timestamp("2024-02-01", tz="Europe/Berlin")
    assert "selected 2024-02 (2 accounts)" in grid.status
    grid.cohort_start = "2024-02-01"
    assert grid.error == "" and grid.result["cohort"].min() == grid.selected_cohort
    assert np.isclose(grid.result["retention"].iloc[1], 1 / 2)  # accounts 4, 5: only 4 in March


def test_quarterly_revenue_uses_the_mrr_snapshot_at_quarter_end(grid, demo):
    revenue, _ = demo
    grid.period = "Q"
    grid.measure = "revenue"
    assert grid.error == ""
    expected = kw.cohort_retention(revenue, period="Q", value="mrr", value_agg="period_end")
    assert_frame_equal(grid.result, expected)
    # Independently: the 2024-Q2 cohort's period-0 value is its accounts' June MRR.
    first = revenue.groupby("account_id")["month"].min()
    q2 = first[(first >= "2024-04-01") & (first < "2024-07-01")].index
    june = revenue[(revenue["month"] == "2024-06-01") & revenue["account_id"].isin(q2)]
    cell = grid.result[
        (grid.result["cohort"] == pd.Timestamp("2024-04-01")) & (grid.result["period_number"] == 0)
    ]
    assert cell["value"].iloc[0] == pytest.approx(june["mrr"].sum())


def test_a_garbage_selected_cohort_is_shown_in_the_widget_not_raised(grid):
    grid.selected_cohort = "2024-08"
    grid.selected_cohort = "garbage"
    assert "selected_cohort: expected a date" in grid.error
    assert grid.selected_cohort == pd.Timestamp("2024-08-01")


def test_daily_cohorts_past_altairs_5000_row_guard_still_draw():
    # 120 accounts starting on consecutive days, each active 60 days: the daily triangle has
    # far more than 5,000 cells (sum over cohorts of the days left until the last day).
    start = pd.Timestamp("2024-01-01")
    rows = [(f"A{i}", start + pd.Timedelta(days=i + d)) for i in range(120) for d in range(60)]
    activity = pd.DataFrame(rows, columns=["account_id", "month"])
    grid = RetentionGrid(activity, period="D")
    last = (120 - 1) + (60 - 1)  # day number of the last activity
    cells = sum(last - i + 1 for i in range(120))
    assert cells > 5_000
    assert grid.error == "" and len(grid.result) == cells


def test_rows_left_out_are_said_in_the_status_for_any_engine():
    import polars as pl

    activity = pd.DataFrame(
        {
            "account_id": ["a", "a", None, "b", "c"],
            "month": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-01", None, "2024-02-01"]),
        }
    )
    # One null account id, one null month: two rows left out; a and c remain.
    for frame in (activity, pl.from_pandas(activity)):
        grid = RetentionGrid(frame)
        assert "2 rows left out (null account_id: 1, null month: 1)" in grid.status
        assert grid.result["cohort_size"].tolist()[0] == 1  # January: a only


def test_an_unknown_breakdown_value_is_said_in_the_widget(grid):
    grid.breakdown = "carrier pigeon"
    assert "breakdown: expected one of the channel values" in grid.error
    assert "carrier pigeon" in grid.error and "referral" in grid.error
    grid.breakdown = "referral"
    assert grid.error == ""
