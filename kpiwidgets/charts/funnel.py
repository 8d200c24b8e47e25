"""Funnel charts: one chart per result frame of the funnel metrics."""

from __future__ import annotations

from typing import Any

import altair as alt
import narwhals.stable.v2 as nw
import pandas as pd

from kpiwidgets.charts._base import CATEGORY_SCHEME

__all__ = ["STEP_SELECTION", "funnel_chart", "funnel_trend_chart", "time_to_convert_chart"]

#: Name of the click selection on the funnel bars (a point selection on ``step_number``).
STEP_SELECTION = "step"


def _pandas(frame: Any) -> pd.DataFrame:
    # A copy: charts add columns, and the caller's frame (a widget's result) must not change.
    return nw.from_native(frame, eager_only=True).to_pandas().copy()


def funnel_chart(
    result: Any,
    *,
    by: str | None = None,
    selected_step: int | None = None,
    width: int | str = "container",
    height: int = 300,
) -> alt.LayerChart:
    """Bars of conversion from the first step, with 95 % Wilson whiskers and drop-offs.

    ``result`` is a :func:`kw.funnel` frame. Each bar is labelled with its entities and
    conversion; each step's axis label gives the drop-off from the previous step (count and
    rate).
    With ``by``, bars are grouped per step, one colour per segment, and the drop-offs are
    in the tooltip (each segment has its own). Clicking a bar selects its step (selection
    ``"step"`` on ``step_number``); ``selected_step`` draws that step highlighted.

    Examples
    --------
    >>> import pandas as pd
    >>> result = pd.DataFrame({
    ...     "step": ["lead", "won"], "step_number": [1, 2], "entities": [10, 4],
    ...     "conversion_from_first": [1.0, 0.4], "conversion_from_previous": [1.0, 0.4],
    ...     "drop_off": [0, 6], "drop_off_rate": [0.0, 0.6],
    ...     "ci_low": [0.72, 0.17], "ci_high": [1.0, 0.69]})
    >>> spec = funnel_chart(result).to_dict()
    >>> [layer["mark"]["type"] for layer in spec["layer"]]
    ['bar', 'rule', 'text']
    >>> sorted(row["step_label"] for row in spec["datasets"][spec["data"]["name"]])
    ['1. lead', '2. won|−6 dropped (60%)']
    """
    data = _pandas(result)
    # Vega-Lite has no duration type: durations travel as days.
    median = data.pop("median_time_from_previous") if "median_time_from_previous" in data else None
    if median is not None:
        data["median_days_from_previous"] = pd.to_timedelta(median) / pd.Timedelta(days=1)
    data = data.assign(
        label=[
            f"{n:,} ({c:.0%})" if pd.notna(c) else f"{n:,}"
            for n, c in zip(data["entities"], data["conversion_from_first"], strict=True)
        ],
        # The axis label carries the drop-off on a second line ("|" splits it): labels
        # inside the plot collide with short bars. With a breakdown each segment has its own
        # drop-off (in the tooltip): one label per step keeps the segments' bars grouped.
        step_label=[
            f"{k}. {name}|−{d:,} dropped ({r:.0%})"
            if k > 1 and pd.notna(r) and by is None
            else f"{k}. {name}"
            for k, name, d, r in zip(
                data["step_number"],
                data["step"],
                data["drop_off"],
                data["drop_off_rate"],
                strict=True,
            )
        ],
    )
    pick = alt.selection_point(
        name=STEP_SELECTION,
        fields=["step_number"],
        on="click",
        clear="dblclick",
        value=[{"step_number": selected_step}] if selected_step is not None else alt.Undefined,
    )
    step_order = data.sort_values("step_number")["step_label"].drop_duplicates().tolist()
    x = alt.X(
        "step_label:N",
        sort=step_order,
        title=None,
        axis=alt.Axis(labelAngle=0, labelExpr="split(datum.label, '|')", labelPadding=6),
    )
    y = alt.Y(
        "conversion_from_first:Q",
        title="conversion from first step",
        axis=alt.Axis(format="%"),
        scale=alt.Scale(domain=[0, 1.08]),
    )
    tooltip = [
        alt.Tooltip("step:N"),
        alt.Tooltip("entities:Q", format=","),
        alt.Tooltip("conversion_from_first:Q", format=".1%", title="from first"),
        alt.Tooltip("conversion_from_previous:Q", format=".1%", title="from previous"),
        alt.Tooltip("drop_off:Q", format=",", title="dropped"),
        alt.Tooltip("median_days_from_previous:Q", format=".1f", title="median days from previous"),
        alt.Tooltip("ci_low:Q", format=".1%", title="95% CI low"),
        alt.Tooltip("ci_high:Q", format=".1%", title="95% CI high"),
    ]
    offset: dict[str, Any] = {}
    colour: Any = alt.value("#4c78a8")
    if by is not None:
        offset = {"xOffset": alt.XOffset(f"{by}:N")}
        colour = alt.Color(f"{by}:N", scale=alt.Scale(scheme=CATEGORY_SCHEME))
        tooltip.insert(0, alt.Tooltip(f"{by}:N"))
    base = alt.Chart(data).encode(x=x, **offset)
    bars = base.mark_bar(cursor="pointer").encode(
        y=y,
        color=colour,
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.45)),
        tooltip=tooltip,
    )
    bars = bars.add_params(pick)
    whiskers = base.mark_rule(color="#333", strokeWidth=1.5).encode(y="ci_low:Q", y2="ci_high:Q")
    layers = [bars, whiskers]
    if by is None:
        # Grouped bars are too narrow for "1,438 (39%)": with a breakdown the numbers are in
        # the tooltip only.
        layers.append(base.mark_text(dy=-8, fontSize=11).encode(y="ci_high:Q", text="label:N"))
    return alt.layer(*layers).properties(
        width=width, height=height, title="Funnel — click a step to see who dropped off"
    )


def funnel_trend_chart(
    trend: Any, *, width: int | str = "container", height: int = 220
) -> alt.Chart:
    """Conversion from the first step per entry period, one line per step after the first.

    ``trend`` is a :func:`kw.funnel_trend` frame; periods whose window is still open
    (``is_complete`` false) are drawn hollow and said so in the tooltip.
    """
    data = _pandas(trend)
    data = data[data["step_number"] > 1].assign(
        status=lambda d: d["is_complete"].map({True: "complete", False: "in progress"})
    )
    return (
        alt.Chart(data, title="Conversion by entry period")
        .mark_line(point=True)
        .encode(
            x=alt.X("period:T", title="entry period"),
            y=alt.Y("conversion_from_first:Q", axis=alt.Axis(format="%"), title="conversion"),
            color=alt.Color("step:N", sort=alt.SortField("step_number")),
            strokeDash=alt.StrokeDash("status:N", title=None),
            tooltip=[
                alt.Tooltip("period:T"),
                alt.Tooltip("step:N"),
                alt.Tooltip("entities:Q", format=","),
                alt.Tooltip("conversion_from_first:Q", format=".1%"),
                alt.Tooltip("status:N"),
            ],
        )
        .properties(width=width, height=height)
    )


def time_to_convert_chart(
    bins: Any, *, title: str = "Time to convert", width: int | str = "container"
) -> alt.Chart:
    """Histogram of conversion times from a ``kw.time_to_convert(...).bins`` frame.

    Bin edges (durations) are drawn in days; with a breakdown only the overall group
    (the rows whose ``overall`` column is true) is drawn.

    Examples
    --------
    >>> import pandas as pd
    >>> bins = pd.DataFrame({"bin": [0, 1], "entities": [3, 1],
    ...     "bin_start": pd.to_timedelta(["0D", "2D"]), "bin_end": pd.to_timedelta(["2D", "4D"])})
    >>> spec = time_to_convert_chart(bins).to_dict()
    >>> spec["encoding"]["x"]["field"], spec["datasets"][spec["data"]["name"]][1]["start_days"]
    ('start_days', 2.0)
    """
    data = _pandas(bins)
    if "overall" in data.columns:
        data = data[data["overall"].astype(bool)]
    day = pd.Timedelta(days=1)
    data = pd.DataFrame(
        {
            "start_days": pd.to_timedelta(data["bin_start"]) / day,
            "end_days": pd.to_timedelta(data["bin_end"]) / day,
            "entities": data["entities"].astype(int),
        }
    )
    return (
        alt.Chart(data, title=title)
        .mark_bar()
        .encode(
            x=alt.X("start_days:Q", bin="binned", title="days"),
            x2="end_days:Q",
            y=alt.Y("entities:Q", title="entities"),
            tooltip=[
                alt.Tooltip("start_days:Q", format=".1f", title="from (days)"),
                alt.Tooltip("end_days:Q", format=".1f", title="to (days)"),
                alt.Tooltip("entities:Q", format=","),
            ],
        )
        .properties(width=width, height=200)
    )
