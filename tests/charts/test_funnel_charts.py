"""Funnel chart specs, read with ``chart.to_dict()`` (no browser)."""

from __future__ import annotations

import pandas as pd
import pytest

import kpiwidgets as kw
from kpiwidgets.charts.funnel import funnel_chart, funnel_trend_chart, time_to_convert_chart

T0 = pd.Timestamp("2024-01-01")


def _rows(spec):
    return spec["datasets"][spec["data"]["name"]]


def _result():
    """A funnel frame worked out by hand: 12,000 leads, 2,000 mql, 500 won."""
    return pd.DataFrame(
        {
            "step": ["lead", "mql", "won"],
            "step_number": [1, 2, 3],
            "entities": [12_000, 2_000, 500],
            "conversion_from_first": [1.0, 2_000 / 12_000, 500 / 12_000],
            "conversion_from_previous": [1.0, 2_000 / 12_000, 0.25],
            "drop_off": [0, 10_000, 1_500],
            "drop_off_rate": [0.0, 10_000 / 12_000, 0.75],
            "median_time_from_previous": pd.to_timedelta([None, "36h", "3D"]),
            "ci_low": [0.9997, 0.160, 0.038],
            "ci_high": [1.0, 0.173, 0.045],
        }
    )


def test_bars_whiskers_and_labels_encode_the_frame():
    spec = funnel_chart(_result()).to_dict()
    bars, whiskers, labels = spec["layer"]
    assert [bars["mark"]["type"], whiskers["mark"]["type"], labels["mark"]["type"]] == [
        "bar",
        "rule",
        "text",
    ]
    assert bars["encoding"]["y"]["field"] == "conversion_from_first"
    assert whiskers["encoding"]["y"]["field"] == "ci_low"
    assert whiskers["encoding"]["y2"]["field"] == "ci_high"
    rows = {row["step"]: row for row in _rows(spec)}
    # Bar text: entities and conversion from the first step, 2,000 / 12,000 = 17 %.
    assert [rows[s]["label"] for s in ("lead", "mql", "won")] == [
        "12,000 (100%)",
        "2,000 (17%)",
        "500 (4%)",
    ]
    # Durations travel as days: 36 h = 1.5 d, 3 D = 3.0 d.
    assert rows["mql"]["median_days_from_previous"] == 1.5
    assert rows["won"]["median_days_from_previous"] == 3.0
    assert rows["lead"]["median_days_from_previous"] is None


def test_axis_labels_carry_the_drop_off_computed_from_the_frame():
    result = _result()
    spec = funnel_chart(result).to_dict()
    # Independently: drop = entities at k-1 - entities at k, rate = drop / entities at k-1.
    previous = result["entities"].shift()
    drop = (previous - result["entities"]).iloc[1:].astype(int).tolist()
    rate = ((previous - result["entities"]) / previous).iloc[1:].tolist()
    assert drop == [10_000, 1_500] and rate == pytest.approx([0.8333, 0.75], abs=1e-4)
    expected = [
        "1. lead",
        "2. mql|−10,000 dropped (83%)",
        "3. won|−1,500 dropped (75%)",
    ]
    assert [row["step_label"] for row in _rows(spec)] == expected
    # Steps stay in step order on the axis whatever the row order of the frame.
    shuffled = funnel_chart(result.iloc[[2, 0, 1]]).to_dict()
    assert shuffled["layer"][0]["encoding"]["x"]["sort"] == expected
    assert shuffled["layer"][0]["encoding"]["x"]["field"] == "step_label"


def test_drop_off_labels_on_a_funnel_computed_by_kw_funnel():
    # 4 leads; 2 reach mql; 1 wins: drops 2 (50 %) then 1 (50 %).
    events = pd.DataFrame(
        {
            "entity_id": [1, 1, 1, 2, 2, 3, 4],
            "event": ["lead", "mql", "won", "lead", "mql", "lead", "lead"],
            "timestamp": [T0 + pd.Timedelta(hours=h) for h in (0, 1, 5, 0, 3, 0, 2)],
        }
    )
    spec = funnel_chart(kw.funnel(events, ["lead", "mql", "won"])).to_dict()
    assert [row["step_label"] for row in _rows(spec)] == [
        "1. lead",
        "2. mql|−2 dropped (50%)",
        "3. won|−1 dropped (50%)",
    ]


def test_the_step_selection_is_a_click_on_step_number():
    spec = funnel_chart(_result()).to_dict()
    (param,) = [p for p in spec["params"] if p["name"] == "step"]
    assert param["select"]["type"] == "point"
    assert param["select"]["fields"] == ["step_number"]
    assert param["select"]["on"] == "click"
    assert "value" not in param
    assert spec["layer"][0]["encoding"]["opacity"]["condition"]["param"] == "step"
    spec = funnel_chart(_result(), selected_step=2).to_dict()
    (param,) = [p for p in spec["params"] if p["name"] == "step"]
    assert param["value"] == [{"step_number": 2}]


def test_breakdown_bars_are_grouped_per_step():
    by_segment = pd.concat(
        [
            _result().assign(channel="ads"),
            _result().assign(channel="seo", entities=[100, 40, 10], drop_off=[0, 60, 30]),
        ],
        ignore_index=True,
    )
    spec = funnel_chart(by_segment, by="channel").to_dict()
    bars = spec["layer"][0]["encoding"]
    assert bars["xOffset"]["field"] == "channel"
    assert bars["color"]["field"] == "channel"
    # Grouped bars are too narrow for text labels: bars and whiskers only.
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["bar", "rule"]
    # One axis band per step (segments' drop-offs differ, so they are not in the label).
    assert bars["x"]["sort"] == ["1. lead", "2. mql", "3. won"]
    assert {row["step_label"] for row in _rows(spec)} == {"1. lead", "2. mql", "3. won"}


def test_the_callers_frame_is_not_changed():
    result = _result()
    before = result.copy()
    funnel_chart(result)
    pd.testing.assert_frame_equal(result, before)


def test_time_to_convert_chart_draws_bins_in_days():
    # Durations 1 D and 4 D: 2 bins (ceil(cbrt(2)) = 2) over [1, 4] days, 1.5 days wide.
    events = pd.DataFrame(
        {
            "entity_id": [1, 1, 2, 2, 3],
            "event": ["lead", "won", "lead", "won", "lead"],
            "timestamp": pd.to_datetime(
                ["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-05", "2024-01-01"]
            ),
            "channel": ["ads", "ads", "seo", "seo", "seo"],
        }
    )
    ttc = kw.time_to_convert(events, ["lead", "won"])
    spec = time_to_convert_chart(ttc.bins, title="lead to won").to_dict()
    rows = _rows(spec)
    assert [(r["start_days"], r["end_days"], r["entities"]) for r in rows] == [
        (1.0, 2.5, 1),
        (2.5, 4.0, 1),
    ]
    assert spec["encoding"]["x"]["field"] == "start_days"
    assert spec["encoding"]["x2"]["field"] == "end_days"
    assert spec["title"] == "lead to won"
    # With a breakdown only the overall bins are drawn (same bins, same counts).
    by_channel = kw.time_to_convert(events, ["lead", "won"], by="channel")
    assert len(by_channel.bins) == 6  # overall, ads, seo x 2 bins
    assert by_channel.bins["overall"].tolist() == [True, True] + [False] * 4
    assert _rows(time_to_convert_chart(by_channel.bins).to_dict()) == rows


def test_time_to_convert_chart_hand_made_bins():
    bins = pd.DataFrame(
        {
            "bin": [0, 1, 2],
            "bin_start": pd.to_timedelta(["0h", "12h", "36h"]),
            "bin_end": pd.to_timedelta(["12h", "36h", "7D"]),
            "entities": [5, 0, 2],
        }
    )
    rows = _rows(time_to_convert_chart(bins).to_dict())
    assert [r["start_days"] for r in rows] == [0.0, 0.5, 1.5]
    assert [r["end_days"] for r in rows] == [0.5, 1.5, 7.0]
    assert [r["entities"] for r in rows] == [5, 0, 2]


def test_funnel_trend_chart_drops_step_one_and_marks_open_periods():
    # Week of Jan 1: 2 leads, 1 mql; week of Jan 8: 1 lead, 1 mql. The data end on Jan 9,
    # so the second week (ends Jan 15, + 1 day window) is still open.
    events = pd.DataFrame(
        {
            "entity_id": [1, 1, 2, 3, 3],
            "event": ["lead", "mql", "lead", "lead", "mql"],
            "timestamp": pd.to_datetime(
                ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-08", "2024-01-09"]
            ),
        }
    )
    trend = kw.funnel_trend(events, ["lead", "mql"], window="1D", freq="W")
    spec = funnel_trend_chart(trend).to_dict()
    rows = _rows(spec)
    assert [r["step_number"] for r in rows] == [2, 2]
    assert [r["conversion_from_first"] for r in rows] == [0.5, 1.0]
    assert [r["status"] for r in rows] == ["complete", "in progress"]
    assert [r["period"][:10] for r in rows] == ["2024-01-01", "2024-01-08"]
    assert spec["encoding"]["strokeDash"]["field"] == "status"
    assert spec["encoding"]["y"]["field"] == "conversion_from_first"
    assert spec["mark"]["type"] == "line"


def _trend_by_channel():
    """A trend frame by channel, written by hand: two months, steps lead -> mql -> won.

    January: ads 4 leads, 2 mql, 1 won; seo 2, 1, 0; no channel 1, 1, 1 -> overall 7, 4, 2.
    February (window still open): ads 2, 1, 0; seo 3, 3, 1; nobody without a channel
    -> overall 5, 4, 1. Overall rows first, as kw.funnel_trend returns them.
    """
    counts = {
        ("2024-01-01", None): (7, 4, 2),
        ("2024-01-01", "ads"): (4, 2, 1),
        ("2024-01-01", "seo"): (2, 1, 0),
        ("2024-01-01", "(none)"): (1, 1, 1),  # stands for the null value, replaced below
        ("2024-02-01", None): (5, 4, 1),
        ("2024-02-01", "ads"): (2, 1, 0),
        ("2024-02-01", "seo"): (3, 3, 1),
    }
    rows = []
    for (period, channel), entities in counts.items():
        for k, (step, n) in enumerate(zip(["lead", "mql", "won"], entities, strict=True), 1):
            rows.append(
                {
                    "period": pd.Timestamp(period),
                    "channel": None if channel == "(none)" else channel,
                    "overall": channel is None,
                    "step": step,
                    "step_number": k,
                    "entities": n,
                    "conversion_from_first": n / entities[0],
                    "is_complete": period == "2024-01-01",
                }
            )
    return pd.DataFrame(rows)


def test_trend_by_channel_is_one_line_per_channel_in_one_panel_per_step():
    spec = funnel_trend_chart(_trend_by_channel()).to_dict()
    # Small multiples by step, in step order; step 1 (always 100 %) is left out.
    assert spec["facet"] == {
        "field": "step_label",
        "type": "nominal",
        "sort": ["2. mql", "3. won"],
        "title": None,
        "header": {"labelAnchor": "start", "labelFontSize": 12, "labelFontWeight": "bold"},
    }
    assert spec["resolve"] == {"scale": {"y": "independent"}}
    layers = spec["spec"]["layer"]
    # Breakdown values, then the overall line on top; each solid through the complete
    # periods and dashed from the last complete one on (no gap between the two).
    assert [layer["transform"] for layer in layers] == [
        [{"filter": "!datum.overall && datum.is_complete"}],
        [{"filter": "!datum.overall && (!datum.is_complete || datum.bridge)"}],
        [{"filter": "datum.overall && datum.is_complete"}],
        [{"filter": "datum.overall && (!datum.is_complete || datum.bridge)"}],
    ]
    assert ["strokeDash" in layer["mark"] for layer in layers] == [False, True, False, True]
    for layer in layers:
        assert layer["mark"]["type"] == "line"
        assert layer["encoding"]["color"]["field"] == "channel"
        assert layer["encoding"]["x"]["field"] == "period"
        assert layer["encoding"]["y"]["field"] == "conversion_from_first"
    # The overall line is black and thicker, first in the legend; the null value is labelled.
    scale = layers[0]["encoding"]["color"]["scale"]
    assert all(layer["encoding"]["color"]["scale"] == scale for layer in layers)
    assert scale["domain"] == ["all", "ads", "seo", "(no value)"]
    assert scale["range"][0] == "#222222"
    assert len(set(scale["range"])) == 4
    assert layers[2]["mark"]["strokeWidth"] > layers[0]["mark"]["strokeWidth"]

    rows = pd.DataFrame(_rows(spec))
    assert sorted(rows["step_label"].unique()) == ["2. mql", "3. won"]
    # Per step: 4 series (all, ads, seo, no value); 4 points in January, 3 in February.
    for _, panel in rows.groupby("step_label"):
        assert panel["channel"].nunique() == 4
        assert panel.groupby("period").size().tolist() == [4, 3]
    # No line mixes channels: one point per (step, channel, period).
    assert not rows.duplicated(["step_label", "channel", "period"]).any()
    assert set(rows.loc[rows["overall"], "channel"]) == {"all"}
    # The dashed part starts at each line's last complete period: January here.
    assert set(rows.loc[rows["bridge"], "period"].str[:7]) == {"2024-01"}
    assert rows["bridge"].sum() == 2 * 4
    got = {
        (r.step, r.channel, r.period[:7]): (r.conversion_from_first, r.entered, r.status)
        for r in rows.itertuples()
    }
    assert got == {
        # January: mql 2/4, 1/2, 1/1, overall 4/7; won 1/4, 0/2, 1/1, overall 2/7.
        ("mql", "all", "2024-01"): (pytest.approx(4 / 7), 7, "complete"),
        ("mql", "ads", "2024-01"): (0.5, 4, "complete"),
        ("mql", "seo", "2024-01"): (0.5, 2, "complete"),
        ("mql", "(no value)", "2024-01"): (1.0, 1, "complete"),
        ("won", "all", "2024-01"): (pytest.approx(2 / 7), 7, "complete"),
        ("won", "ads", "2024-01"): (0.25, 4, "complete"),
        ("won", "seo", "2024-01"): (0.0, 2, "complete"),
        ("won", "(no value)", "2024-01"): (1.0, 1, "complete"),
        # February: mql 1/2, 3/3, overall 4/5; won 0/2, 1/3, overall 1/5.
        ("mql", "all", "2024-02"): (0.8, 5, "in progress"),
        ("mql", "ads", "2024-02"): (0.5, 2, "in progress"),
        ("mql", "seo", "2024-02"): (1.0, 3, "in progress"),
        ("won", "all", "2024-02"): (0.2, 5, "in progress"),
        ("won", "ads", "2024-02"): (0.0, 2, "in progress"),
        ("won", "seo", "2024-02"): (pytest.approx(1 / 3), 3, "in progress"),
    }


def test_trend_breakdown_given_by_name_and_a_value_called_all():
    trend = _trend_by_channel()
    trend["channel"] = trend["channel"].replace({"seo": "all"})
    spec = funnel_trend_chart(trend, by="channel", width=600).to_dict()
    domain = spec["spec"]["layer"][0]["encoding"]["color"]["scale"]["domain"]
    # A channel literally called "all" stays a channel; the overall line gives way.
    assert domain == ["all (overall)", "ads", "all", "(no value)"]
    # width is the whole grid: two panels of (600 - 70) / 2 px.
    assert spec["spec"]["width"] == 265
    assert spec["columns"] == 2


def test_trend_breakdown_read_from_a_kw_funnel_trend_frame():
    # Week of Jan 1: ads 1 and 2 (1 reaches mql), seo 3 (reaches mql); week of Jan 8: ads 4.
    events = pd.DataFrame(
        {
            "entity_id": [1, 1, 2, 3, 3, 4],
            "event": ["lead", "mql", "lead", "lead", "mql", "lead"],
            "timestamp": pd.to_datetime(
                ["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03", "2024-01-03", "2024-01-08"]
            ),
            "channel": ["ads", "ads", "ads", "seo", "seo", "ads"],
        }
    )
    trend = kw.funnel_trend(events, ["lead", "mql"], window="7D", by="channel", freq="W")
    spec = funnel_trend_chart(trend).to_dict()
    assert spec["spec"]["layer"][0]["encoding"]["color"]["field"] == "channel"
    rows = pd.DataFrame(_rows(spec))
    got = {(r.channel, r.period[:10]): r.conversion_from_first for r in rows.itertuples()}
    # Overall: 2 of 3 in week 1, 0 of 1 in week 2; ads 1/2 then 0/1; seo 1/1 (week 1 only).
    assert got == {
        ("all", "2024-01-01"): pytest.approx(2 / 3),
        ("all", "2024-01-08"): 0.0,
        ("ads", "2024-01-01"): 0.5,
        ("ads", "2024-01-08"): 0.0,
        ("seo", "2024-01-01"): 1.0,
    }
