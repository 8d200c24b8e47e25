"""Retention charts, read through their Vega-Lite dicts (no browser)."""

from __future__ import annotations

import pandas as pd
import pytest

import kpiwidgets as kw
from kpiwidgets.charts.retention import cohort_label, retention_heatmap
from kpiwidgets.charts.retention_curves import retention_curves


@pytest.fixture
def result():
    """Two monthly cohorts, hand-made: January (4 accounts) and February (2)."""
    activity = pd.DataFrame(
        {
            "account_id": [1, 2, 3, 4, 1, 2, 1, 5, 6, 5],
            "month": pd.to_datetime(
                ["2024-01-01"] * 4
                + ["2024-02-01"] * 2
                + ["2024-03-01"]
                + ["2024-02-01"] * 2
                + ["2024-03-01"]
            ),
            "mrr": [10.0, 10.0, 10.0, 10.0, 12.0, 10.0, 30.0, 5.0, 5.0, 5.0],
        }
    )
    return kw.cohort_retention(activity, value="mrr")


def _cells(chart):
    spec = chart.to_dict()
    data = spec["datasets"][spec["data"]["name"]] if "data" in spec else None
    if data is None:  # layered: the data sits on the first layer
        data = spec["datasets"][spec["layer"][0]["data"]["name"]]
    return pd.DataFrame(data), spec


def test_heatmap_rows_cells_and_printed_numbers(result):
    chart = retention_heatmap(result, kw.average_retention(result))
    cells, spec = _cells(chart)
    # January: 4 accounts, 2 back in February (50 %), 1 in March (25 %, in progress).
    jan = cells[cells["cohort"] == "2024-01-01"].set_index("period_number")
    assert jan["row"].unique().tolist() == ["2024-01 (n=4)"]
    assert jan["percent"].tolist() == [1.0, 0.5, 0.25]
    assert spec["layer"][0]["encoding"]["y"]["sort"] == [
        "2024-01 (n=4)",
        "2024-02 (n=2)",
        "Average · pooled",
    ]
    text = spec["layer"][1]["encoding"]["text"]
    assert (text["field"], text["format"]) == ("printed", ".0%")


def test_incomplete_cells_are_pale_and_say_so(result):
    cells, spec = _cells(retention_heatmap(result))
    opacity = spec["layer"][0]["encoding"]["opacity"]
    assert opacity["condition"] == {"test": "datum.is_complete && !datum.thin", "value": 1.0}
    assert opacity["value"] == 0.35
    # March is the last month in the data: its cells (Jan k=2, Feb k=1) are in progress.
    pending = cells[~cells["is_complete"]]
    assert sorted(zip(pending["cohort"], pending["period_number"], strict=True)) == [
        ("2024-01-01", 2),
        ("2024-02-01", 1),
    ]
    assert pending["status"].str.startswith("in progress").all()
    assert not cells["thin"].any()  # no average row: nothing thin
    assert (cells.loc[cells["is_complete"], "status"] == "complete").all()
    tooltip_fields = [t["field"] for t in spec["layer"][0]["encoding"]["tooltip"]]
    assert "status" in tooltip_fields


def test_average_row_is_labelled_with_its_method_and_prints_percent(result):
    average = kw.average_retention(result, method="simple")
    cells, spec = _cells(retention_heatmap(result, average, show="count"))
    avg = cells[cells["cohort"] == "average"].set_index("period_number")
    assert avg["row"].unique().tolist() == ["Average · simple"]
    # k=0: both cohorts complete, 100 %; k=1: only January is complete (50 %).
    assert avg["percent"].tolist() == [1.0, 0.5]
    # Counts for the cohorts, but a percentage for the average row (its own text layer).
    assert spec["layer"][1]["encoding"]["text"]["field"] == "printed"
    assert spec["layer"][1]["encoding"]["text"]["format"] == ","
    assert spec["layer"][2]["encoding"]["text"] == {
        "field": "percent",
        "format": ".0%",
        "type": "quantitative",
    }
    assert spec["layer"][2]["transform"] == [{"filter": "datum.cohort === 'average'"}]
    jan = cells[cells["cohort"] == "2024-01-01"]
    assert jan["printed"].tolist() == [4, 2, 1]


def test_revenue_measure_prints_value_retention(result):
    cells, spec = _cells(retention_heatmap(result, measure="revenue", show="percent"))
    jan = cells[cells["cohort"] == "2024-01-01"].set_index("period_number")
    # January MRR: 40, then 12 + 10 = 22, then 30.
    assert jan["percent"].tolist() == pytest.approx([1.0, 22 / 40, 30 / 40])
    assert spec["layer"][0]["encoding"]["color"]["title"] == "revenue retention"
    cells, spec = _cells(retention_heatmap(result, measure="revenue", show="count"))
    jan = cells[cells["cohort"] == "2024-01-01"]
    assert jan["printed"].tolist() == [40.0, 22.0, 30.0]
    assert spec["layer"][1]["encoding"]["text"]["format"] == ".3~s"


def test_selection_and_highlight_params(result):
    spec = retention_heatmap(result, selected="2024-02-01").to_dict()
    params = {p["name"]: p for p in spec["params"]}
    assert params["cohort_pick"]["select"]["fields"] == ["cohort"]
    assert params["highlight"]["value"] == "2024-02-01"
    stroke = spec["layer"][0]["encoding"]["strokeWidth"]
    assert "highlight" in stroke["condition"]["test"] and stroke["condition"]["value"] == 2.5


def test_many_columns_drop_the_printed_numbers():
    activity = pd.DataFrame(
        {"account_id": [1, 1], "month": pd.to_datetime(["2024-01-01", "2024-12-30"])}
    )
    wide = kw.cohort_retention(activity, period="D")  # 365 columns
    spec = retention_heatmap(wide, period="D").to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["rect"]


def test_curves_draw_complete_cells_and_the_selected_cohort_on_top(result):
    chart = retention_curves(result, kw.average_retention(result), selected="2024-01-01")
    spec = chart.to_dict()
    lines = pd.DataFrame(spec["datasets"][spec["layer"][0]["data"]["name"]])
    # Complete cells only: Jan k=0, 1 and Feb k=0.
    assert sorted(zip(lines["cohort"], lines["period_number"], strict=True)) == [
        ("2024-01-01", 0),
        ("2024-01-01", 1),
        ("2024-02-01", 0),
    ]
    assert spec["layer"][1]["transform"] == [{"filter": "datum.cohort === highlight"}]
    assert spec["layer"][1]["mark"]["color"] == "#e45756"
    faded, solid, points = spec["layer"][-3:]
    assert faded["mark"]["strokeDash"] == solid["mark"]["strokeDash"] == [6, 3]
    avg = pd.DataFrame(spec["datasets"][solid["data"]["name"]])
    assert avg["label"].unique().tolist() == ["average · pooled"]
    assert avg["percent"].tolist() == [1.0, 0.5]
    assert points["mark"]["type"] == "point"


def test_curves_per_breakdown_value_are_coloured_by_it():
    frame = pd.DataFrame(
        {
            "channel": ["a", "a", "b", "b"],
            "period_number": [0, 1, 0, 1],
            "cohort_size": [10, 10, 5, 5],
            "retention": [1.0, 0.6, 1.0, 0.2],
        }
    )
    spec = retention_curves(frame, series="channel").to_dict()
    assert spec["layer"][0]["encoding"]["color"]["field"] == "channel"
    assert spec["layer"][0]["encoding"]["color"]["scale"] == {"scheme": "tableau10"}


def _triangle():
    """Four monthly cohorts written by hand, the last diagonal still in progress.

    Retained: January (10 accounts) 10, 6, 4, 3; February (20) 20, 10, 8; March (5) 5, 5;
    April (30) 30. Complete cells: January k0-k2, February k0-k1, March k0.
    """
    retained = {"2024-01-01": [10, 6, 4, 3], "2024-02-01": [20, 10, 8], "2024-03-01": [5, 5]}
    retained["2024-04-01"] = [30]
    rows = []
    for cohort, counts in retained.items():
        for k, n in enumerate(counts):
            rows.append(
                {
                    "cohort": pd.Timestamp(cohort),
                    "period_number": k,
                    "cohort_size": counts[0],
                    "retained": n,
                    "retention": n / counts[0],
                    "is_complete": k < len(counts) - 1,
                }
            )
    return pd.DataFrame(rows)


# The average over the complete cells: k0 January, February, March -> 3 cohorts, 35 accounts
# (35/35); k1 January, February -> 2 cohorts, 30 accounts (16/30); k2 January -> 1, 10 (4/10).
# (No k3: January's is in progress.)
TRIANGLE_AVERAGE = {"cohorts": [3, 2, 1], "entities": [35, 30, 10], "retained": [35, 16, 4]}


@pytest.mark.parametrize(
    ("thresholds", "thin"),
    [
        ({}, [False, True, True]),  # defaults: fewer than 3 cohorts or 30 accounts
        ({"min_cohorts": 2}, [False, False, True]),  # 30 accounts is not fewer than 30
        ({"min_cohorts": 1, "min_entities": 31}, [False, True, True]),
        ({"min_cohorts": 1, "min_entities": 1}, [False, False, False]),
    ],
)
def test_heatmap_average_cells_on_few_cohorts_or_entities_are_pale(thresholds, thin):
    result = _triangle()
    cells, spec = _cells(retention_heatmap(result, kw.average_retention(result), **thresholds))
    avg = cells[cells["cohort"] == "average"]
    assert avg["period_number"].tolist() == [0, 1, 2]
    assert avg["cohorts"].tolist() == TRIANGLE_AVERAGE["cohorts"]
    assert avg["entities"].tolist() == TRIANGLE_AVERAGE["entities"]
    assert avg["retained"].tolist() == TRIANGLE_AVERAGE["retained"]
    assert avg["thin"].tolist() == thin
    assert not cells.loc[cells["cohort"] != "average", "thin"].any()
    # Thin cells are pale (the opacity test) and printed in black on their pale colour.
    opacity = spec["layer"][0]["encoding"]["opacity"]
    assert opacity["condition"]["test"] == "datum.is_complete && !datum.thin"
    assert not avg.loc[avg["thin"], "dark"].any()
    # The counts are in the tooltip (status), with a warning on the thin cells only.
    assert "status" in [t["field"] for t in spec["layer"][0]["encoding"]["tooltip"]]
    assert avg["status"].str.startswith("average over").all()
    assert avg["status"].tolist()[1].startswith("average over 2 complete cohorts, 30 entities")
    assert avg["status"].str.contains("read with care").tolist() == thin
    assert ("average over" in spec["title"]["subtitle"]) == any(thin)


def test_heatmap_default_thresholds_on_the_fixture(result):
    # January (4 accounts) and February (2): k0 averages 2 cohorts, 6 accounts; k1 one, 4.
    cells, _ = _cells(retention_heatmap(result, kw.average_retention(result)))
    avg = cells[cells["cohort"] == "average"]
    assert avg["cohorts"].tolist() == [2, 1] and avg["entities"].tolist() == [6, 4]
    assert avg["thin"].tolist() == [True, True]
    assert avg["status"].tolist()[1] == (
        "average over 1 complete cohort, 4 entities "
        "(fewer than 3 cohorts or 30 entities: read with care)"
    )


@pytest.mark.parametrize(
    ("thresholds", "thin"),
    [({}, [False, True, True]), ({"min_cohorts": 2}, [False, False, True])],
)
def test_curves_fade_the_average_where_it_rests_on_few_cohorts(thresholds, thin):
    result = _triangle()
    spec = retention_curves(result, kw.average_retention(result), **thresholds).to_dict()
    faded, solid, points = spec["layer"][-3:]
    avg = pd.DataFrame(spec["datasets"][points["data"]["name"]])
    assert avg["period_number"].tolist() == [0, 1, 2]
    assert avg["percent"].tolist() == pytest.approx([1.0, 16 / 30, 4 / 10])
    assert avg["cohorts"].tolist() == TRIANGLE_AVERAGE["cohorts"]
    assert avg["entities"].tolist() == TRIANGLE_AVERAGE["entities"]
    assert avg["thin"].tolist() == thin
    # All of the line faded; the well-supported part drawn over it at full strength.
    assert faded["mark"]["opacity"] == 0.35 and "transform" not in faded
    assert "opacity" not in solid["mark"]
    assert solid["transform"] == [{"filter": "!datum.thin"}]
    # Points: hollow (white fill) where thin, the counts in their tooltip.
    assert points["mark"]["type"] == "point"
    assert points["encoding"]["fill"]["condition"] == {"test": "datum.thin", "value": "white"}
    assert points["encoding"]["fill"]["value"] == "#222222"
    tooltip = [t["field"] for t in points["encoding"]["tooltip"]]
    assert {"cohorts", "entities"} <= set(tooltip)
    assert "faded where < " in spec["title"]["subtitle"]


def test_curves_say_nothing_of_thin_cells_when_there_are_none():
    result = _triangle()
    average = kw.average_retention(result)
    spec = retention_curves(result, average, min_cohorts=1, min_entities=1).to_dict()
    avg = pd.DataFrame(spec["datasets"][spec["layer"][-1]["data"]["name"]])
    assert not avg["thin"].any()
    assert "faded" not in spec["title"]["subtitle"]


@pytest.mark.parametrize(
    ("period", "label"),
    [("M", "2024-05"), ("Q", "2024-Q2"), ("Y", "2024"), ("W", "2024-05-06"), ("D", "2024-05-06")],
)
def test_cohort_labels(period, label):
    assert cohort_label(pd.Timestamp("2024-05-06"), period) == label


def test_unknown_measure_is_refused(result):
    with pytest.raises(ValueError, match="measure must be"):
        retention_heatmap(result, measure="logos")
