"""Forecast charts, read through their Vega-Lite dicts (no browser)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from kpiwidgets.charts.forecast import (
    OWNER_SELECTION,
    accuracy_by_week_chart,
    leaderboard_chart,
    manager_chart,
    projection_chart,
)


@pytest.fixture
def board():
    """Three owners, hand-made: Ava calls 20 % high, Ben 5 % low, Cy 30 % low."""
    return pd.DataFrame(
        {
            "owner": ["Ava", "Ben", "Cy"],
            "n": [4, 4, 4],
            "accuracy": [0.80, 0.90, 0.70],
            "wape": [0.20, 0.10, 0.30],
            "bias": [0.20, -0.05, -0.30],
            "attainment": [1.20, 0.95, 0.70],
            "band": ["over-forecasts", "within ±10 %", "under-forecasts"],
        }
    )


def _order(spec: dict) -> list[str]:
    return spec["hconcat"][0]["encoding"]["y"]["sort"]


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("accuracy", ["Ben", "Ava", "Cy"]),  # higher is better
        ("wape", ["Ben", "Ava", "Cy"]),  # lower is better
        ("bias", ["Ben", "Ava", "Cy"]),  # closer to 0: |−0.05| < |0.20| < |−0.30|
        ("attainment", ["Ben", "Ava", "Cy"]),  # closer to 1: 0.05 < 0.20 < 0.30
    ],
)
def test_the_leaderboard_sorts_owners_best_first_for_each_metric(board, metric, expected):
    spec = leaderboard_chart(board, metric=metric, formula="f").to_dict()
    assert _order(spec) == expected


def test_the_leaderboard_sorts_wape_ascending_not_like_accuracy(board):
    # Ben 0.10 < Cy 0.25 < Ava 0.40 by WAPE, while accuracy ranks Ava first.
    board = board.assign(wape=[0.40, 0.10, 0.25], accuracy=[0.95, 0.90, 0.70])
    assert _order(leaderboard_chart(board, metric="wape", formula="f").to_dict()) == [
        "Ben",
        "Cy",
        "Ava",
    ]
    assert _order(leaderboard_chart(board, metric="accuracy", formula="f").to_dict()) == [
        "Ava",
        "Ben",
        "Cy",
    ]


def test_the_leaderboard_colours_bias_bands_and_offers_a_click_on_owners(board):
    spec = leaderboard_chart(board, metric="accuracy", formula="the formula").to_dict()
    colour = spec["hconcat"][1]["layer"][0]["encoding"]["color"]
    assert colour["field"] == "band"
    assert colour["scale"]["domain"] == ["over-forecasts", "within ±10 %", "under-forecasts"]
    assert [p["name"] for p in spec["params"]] == [OWNER_SELECTION]
    assert spec["params"][0]["select"]["fields"] == ["owner"]
    assert spec["title"]["subtitle"] == "the formula"


def test_a_selected_owner_is_drawn_opaque_and_the_others_faded(board):
    spec = leaderboard_chart(board, metric="accuracy", formula="f", selected="Cy").to_dict()
    opacity = spec["hconcat"][0]["encoding"]["opacity"]
    assert opacity["condition"] == {"test": "datum.is_selected", "value": 1.0}
    assert opacity["value"] == 0.45
    rows = next(v for v in spec["datasets"].values() if v and "owner" in v[0])
    assert [r["owner"] for r in rows if r["is_selected"]] == ["Cy"]


@pytest.mark.parametrize(("metric", "line"), [("bias", 0.0), ("attainment", 1.0)])
def test_bias_and_attainment_are_drawn_against_their_reference_line(metric, line):
    frame = pd.DataFrame(
        {"week_of_period": [0, 1], "category": "commit", "n": 2, metric: [0.1, 0.2]}
    )
    spec = accuracy_by_week_chart(frame, metric=metric, formula="f").to_dict()
    rules = [layer for layer in spec["layer"] if layer["mark"]["type"] == "rule"]
    assert len(rules) == 1
    values = next(v for k, v in spec["datasets"].items() if v and "y" in v[0])
    assert values == [{"y": line}]


def test_accuracy_has_no_reference_line():
    frame = pd.DataFrame({"week_of_period": [0], "category": "commit", "n": 2, "accuracy": [0.8]})
    spec = accuracy_by_week_chart(frame, metric="accuracy", formula="f").to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["line"]


def test_the_projection_draws_the_actual_only_once_the_period_closed():
    team = pd.DataFrame(
        {
            "category": ["commit"],
            "call": [100.0],
            "factor": [1.1],
            "projection": [110.0],
            "low": [90.0],
            "high": [130.0],
            "history": [4],
            "actual": [math.nan],
        }
    )
    open_marks = [layer["mark"]["type"] for layer in projection_chart(team).to_dict()["layer"]]
    assert open_marks == ["bar", "rule", "point"]
    closed = projection_chart(team.assign(actual=[105.0])).to_dict()
    assert [layer["mark"]["type"] for layer in closed["layer"]] == ["bar", "rule", "point", "tick"]


def test_the_manager_chart_leaves_out_the_overall_row():
    frame = pd.DataFrame(
        {
            "week_of_period": pd.array([4, 4, None, None], dtype="Int64"),
            "submitted_by": ["manager", "rep", "manager", "rep"],
            "n": [3, 3, 9, 9],
            "accuracy": [0.9, 0.8, 0.85, 0.75],
        }
    )
    spec = manager_chart(frame, metric="accuracy", formula="f").to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert [(r["week_of_period"], r["submitted_by"]) for r in rows] == [
        (4, "manager"),
        (4, "rep"),
    ]


def test_the_manager_chart_subtitle_gives_both_scores_over_all_weeks():
    frame = pd.DataFrame(
        {
            "week_of_period": pd.array([4, 4, None, None], dtype="Int64"),
            "submitted_by": ["manager", "rep", "manager", "rep"],
            "n": [3, 3, 9, 9],
            "accuracy": [0.9, 0.8, 0.85, 0.75],
        }
    )
    spec = manager_chart(frame, metric="accuracy", formula="the formula").to_dict()
    assert spec["title"]["subtitle"] == [
        "the formula",
        "all weeks: rep 75.0%, manager 85.0% on 9 calls a manager adjusted",
    ]
