"""Forecast accuracy charts: one chart per view of :class:`kw.ForecastSession`.

Every chart names its metric's formula in its subtitle (and in the tooltips), so a number
on the page never stands without its definition.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from kpiwidgets.charts._base import CATEGORY_SCHEME

__all__ = [
    "OWNER_SELECTION",
    "accuracy_by_week_chart",
    "forecast_periods_chart",
    "forecast_trend_chart",
    "leaderboard_chart",
    "manager_chart",
    "projection_chart",
]

#: Name of the click selection on the leaderboard's bars (a point selection on ``owner``).
OWNER_SELECTION = "owner_pick"
_LABELS = {
    "accuracy": "Accuracy",
    "wape": "WAPE",
    "bias": "Bias",
    "attainment": "Attainment (forecast / actual)",
}
_BANDS = ["over-forecasts", "within ±10 %", "under-forecasts"]
_BAND_COLOURS = ["#d6604d", "#bababa", "#4393c3"]
_CATEGORIES = ["commit", "best_case", "pipeline"]
_MONEY = ",.0f"


def _metric_axis(metric: str) -> alt.Axis:
    return alt.Axis(format="%" if metric != "attainment" else ".2f", title=_LABELS[metric])


def _reference(metric: str) -> float | None:
    """The line a metric is read against: 0 bias, attainment 1."""
    return {"bias": 0.0, "attainment": 1.0}.get(metric)


def _category_scale(frame: pd.DataFrame) -> alt.Scale:
    present = [c for c in _CATEGORIES if c in set(frame["category"])]
    others = sorted(set(frame["category"]) - set(_CATEGORIES))
    return alt.Scale(domain=present + others, scheme=CATEGORY_SCHEME)


def accuracy_by_week_chart(
    frame: pd.DataFrame, *, metric: str, formula: str, width: int = 520, height: int = 260
) -> alt.LayerChart:
    """The headline: ``metric`` by week of period, one line per category.

    ``frame`` is :meth:`ForecastSession.by_week` (columns ``week_of_period``, ``category``,
    ``n`` and the metric).
    """
    data = frame[["week_of_period", "category", "n", metric]].rename(columns={metric: "value"})
    base = alt.Chart(data)
    line = base.mark_line(point=True).encode(
        x=alt.X(
            "week_of_period:Q",
            title="Week of period (0 = first week)",
            axis=alt.Axis(tickMinStep=1),
        ),
        y=alt.Y("value:Q", axis=_metric_axis(metric)),
        color=alt.Color("category:N", scale=_category_scale(data), title="Category"),
        tooltip=[
            alt.Tooltip("category:N"),
            alt.Tooltip("week_of_period:Q", title="week"),
            alt.Tooltip("value:Q", title=_LABELS[metric], format=".3f"),
            alt.Tooltip("n:Q", title="calls scored"),
        ],
    )
    layers: list[alt.Chart] = [line]
    ref = _reference(metric)
    if ref is not None:
        layers.insert(
            0, alt.Chart(pd.DataFrame({"y": [ref]})).mark_rule(color="#888").encode(y=alt.Y("y:Q"))
        )
    return alt.layer(*layers).properties(
        width=width,
        height=height,
        title=alt.Title(f"{_LABELS[metric]} by week of period", subtitle=formula),
    )


def leaderboard_chart(
    board: pd.DataFrame,
    *,
    metric: str,
    formula: str,
    selected: str | None = None,
    width: int = 220,
) -> alt.HConcatChart:
    """Owners side by side: ``metric`` (sorted best first) and signed bias, coloured by band
    (over-forecasts > +10 %, under-forecasts < −10 %). Clicking a bar selects its owner
    (selection ``"owner_pick"``); ``selected`` draws that owner highlighted."""
    data = (
        board[["owner", metric, "bias", "band", "n"]].copy()
        if metric != "bias"
        else board[["owner", "bias", "band", "n"]].copy()
    )
    better_high = metric == "accuracy"
    key = data[metric]
    if metric in ("bias", "attainment"):
        key = (data[metric] - (_reference(metric) or 0.0)).abs()
        better_high = False
    order = data.assign(_k=key).sort_values("_k", ascending=not better_high)["owner"].tolist()
    data["is_selected"] = data["owner"] == selected
    pick = alt.selection_point(name=OWNER_SELECTION, fields=["owner"], on="click", clear=False)
    # Channel objects, not alt.value/alt.condition dicts: Altair converts a dict by searching
    # every schema class, which costs more than building the rest of the chart.
    opacity = (
        alt.OpacityValue(value=0.45, condition={"test": "datum.is_selected", "value": 1.0})
        if selected is not None
        else alt.OpacityValue(value=0.9)
    )
    y = alt.Y("owner:N", sort=order, title=None)
    tooltip = [
        alt.Tooltip("owner:N"),
        alt.Tooltip(f"{metric}:Q", title=_LABELS[metric], format=".3f"),
        alt.Tooltip("bias:Q", title="bias", format="+.1%"),
        alt.Tooltip("band:N"),
        alt.Tooltip("n:Q", title="calls scored"),
    ]
    height = max(22 * len(data), 80)
    left = (
        alt.Chart(data)
        .mark_bar(color="#4c78a8")
        .encode(
            x=alt.X(f"{metric}:Q", axis=_metric_axis(metric)), y=y, opacity=opacity, tooltip=tooltip
        )
        .add_params(pick)
        .properties(width=width, height=height, title=_LABELS[metric])
    )
    right = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("bias:Q", axis=alt.Axis(format="+%", title="Bias (F − A) / A")),
            y=alt.Y("owner:N", sort=order, axis=None),
            color=alt.Color(
                "band:N", scale=alt.Scale(domain=_BANDS, range=_BAND_COLOURS), title="Bias"
            ),
            opacity=opacity,
            tooltip=tooltip,
        )
        .properties(width=width, height=height, title="Signed bias")
    )
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="#555").encode(x=alt.X("x:Q"))
    return alt.hconcat(left, alt.layer(right, zero)).properties(
        title=alt.Title(
            "Owner leaderboard (click an owner to filter the other views)", subtitle=formula
        )
    )


def forecast_periods_chart(
    frame: pd.DataFrame, *, call: str, width: int = 640, height: int = 240
) -> alt.LayerChart:
    """Forecast and actual per period as paired bars, quota as a black tick."""
    long = frame.melt(
        id_vars=["period"], value_vars=["forecast", "actual"], var_name="what", value_name="amount"
    )
    quarter = alt.X("yearquarter(period):O", title="Period")
    bars = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=quarter,
            xOffset=alt.XOffset("what:N", sort=["forecast", "actual"]),
            y=alt.Y("amount:Q", title="Amount", axis=alt.Axis(format="~s")),
            color=alt.Color(
                "what:N",
                scale=alt.Scale(domain=["forecast", "actual"], range=["#9ecae9", "#4c78a8"]),
                title=None,
            ),
            tooltip=[
                alt.Tooltip("period:T", format="%Y-%m-%d"),
                alt.Tooltip("what:N"),
                alt.Tooltip("amount:Q", format=_MONEY),
            ],
        )
    )
    layers: list[Any] = [bars]
    quota = frame.dropna(subset=["quota"])
    if len(quota):
        layers.append(
            alt.Chart(quota)
            .mark_tick(color="black", thickness=2, size=36)
            .encode(x=quarter, y=alt.Y("quota:Q"), tooltip=[alt.Tooltip("quota:Q", format=_MONEY)])
        )
    return alt.layer(*layers).properties(
        width=width,
        height=height,
        title=alt.Title("Forecast vs actual per period", subtitle=f"{call}; black tick = quota"),
    )


def forecast_trend_chart(
    frame: pd.DataFrame, *, period_label: str, width: int = 640, height: int = 240
) -> alt.LayerChart:
    """How one period's calls moved week by week (a line per category), the actual as a rule."""
    lines = (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("week_of_period:Q", title="Week of period", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y("forecast:Q", title="Call", axis=alt.Axis(format="~s")),
            color=alt.Color("category:N", scale=_category_scale(frame), title="Category"),
            tooltip=[
                alt.Tooltip("category:N"),
                alt.Tooltip("week_of_period:Q", title="week"),
                alt.Tooltip("forecast:Q", format=_MONEY, title="call"),
                alt.Tooltip("actual:Q", format=_MONEY),
                alt.Tooltip("bias:Q", format="+.1%"),
            ],
        )
    )
    actual = frame.groupby("category", as_index=False)["actual"].max()["actual"].max()
    rule = (
        alt.Chart(pd.DataFrame({"actual": [actual]}))
        .mark_rule(color="black", strokeDash=[6, 3])
        .encode(y=alt.Y("actual:Q"), tooltip=[alt.Tooltip("actual:Q", format=_MONEY)])
    )
    return alt.layer(lines, rule).properties(
        width=width,
        height=height,
        title=alt.Title(
            f"Calls for {period_label}, week by week",
            subtitle="dashed line = the actual it landed at",
        ),
    )


def manager_chart(
    frame: pd.DataFrame, *, metric: str, formula: str, width: int = 640, height: int = 220
) -> alt.LayerChart:
    """Rep call vs manager adjustment of the same calls, per week of period; the subtitle
    adds both scores over all weeks (the rows with no ``week_of_period``)."""
    overall = frame[frame["week_of_period"].isna()].set_index("submitted_by")
    lines = [formula]
    if {"rep", "manager"} <= set(overall.index):
        fmt = "{:.1%}" if metric != "attainment" else "{:.2f}"
        rep, manager = overall.loc["rep", metric], overall.loc["manager", metric]
        lines.append(
            f"all weeks: rep {fmt.format(rep)}, manager {fmt.format(manager)} "
            f"on {int(overall.loc['rep', 'n'])} calls a manager adjusted"
        )
    data = frame.dropna(subset=["week_of_period"]).astype({"week_of_period": int})
    data = data.rename(columns={metric: "value"})
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("week_of_period:O", title="Week of period", axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("submitted_by:N", sort=["rep", "manager"]),
            y=alt.Y("value:Q", axis=_metric_axis(metric)),
            color=alt.Color(
                "submitted_by:N",
                scale=alt.Scale(domain=["rep", "manager"], range=["#9ecae9", "#f58518"]),
                title="Call by",
            ),
            tooltip=[
                alt.Tooltip("submitted_by:N"),
                alt.Tooltip("week_of_period:O", title="week"),
                alt.Tooltip("value:Q", title=_LABELS[metric], format=".3f"),
                alt.Tooltip("n:Q", title="calls (pairs)"),
            ],
        )
    )
    return bars.properties(
        width=width,
        height=height,
        title=alt.Title("Rep calls vs manager adjustments (the same calls)", subtitle=lines),
    )


def projection_chart(team: pd.DataFrame, *, width: int = 640, height: int = 200) -> alt.LayerChart:
    """Per category: the latest call (bar), the projection with its interval (point and
    whisker) and, for a closed period, the actual (black tick)."""
    data = team[["category", "call", "factor", "projection", "low", "high", "history", "actual"]]
    y = alt.Y("category:N", sort=_CATEGORIES, title=None)
    money = alt.Axis(format="~s", title="Amount")
    tooltip = [
        alt.Tooltip("category:N"),
        alt.Tooltip("call:Q", format=_MONEY),
        alt.Tooltip("factor:Q", format=".3f", title="landing factor"),
        alt.Tooltip("projection:Q", format=_MONEY),
        alt.Tooltip("low:Q", format=_MONEY),
        alt.Tooltip("high:Q", format=_MONEY),
        alt.Tooltip("history:Q", title="past periods"),
        alt.Tooltip("actual:Q", format=_MONEY),
    ]
    call = (
        alt.Chart(data)
        .mark_bar(color="#c6dbef", height=18)
        .encode(x=alt.X("call:Q", axis=money), y=y, tooltip=tooltip)
    )
    whisker = (
        alt.Chart(data)
        .mark_rule(color="#e45756", strokeWidth=2)
        .encode(x=alt.X("low:Q"), x2=alt.X2("high"), y=y, tooltip=tooltip)
    )
    point = (
        alt.Chart(data)
        .mark_point(color="#e45756", filled=True, size=80)
        .encode(x=alt.X("projection:Q"), y=y, tooltip=tooltip)
    )
    layers: list[Any] = [call, whisker, point]
    if data["actual"].notna().any():
        layers.append(
            alt.Chart(data)
            .mark_tick(color="black", thickness=2, size=26)
            .encode(x=alt.X("actual:Q"), y=y, tooltip=tooltip)
        )
    return alt.layer(*layers).properties(
        width=width,
        height=height,
        title=alt.Title(
            "Projected landing",
            subtitle="bar = latest call; red = call × median landing ratio, with its interval; "
            "black = actual",
        ),
    )
