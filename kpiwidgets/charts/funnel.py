"""Funnel charts: one chart per result frame of the funnel metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import narwhals.stable.v2 as nw
import pandas as pd

from kpiwidgets.charts._base import CATEGORY_SCHEME

__all__ = ["STEP_SELECTION", "funnel_chart", "funnel_trend_chart", "time_to_convert_chart"]

#: Name of the click selection on the funnel bars (a point selection on ``step_number``).
STEP_SELECTION = "step"
_NO_VALUE = "(no value)"  # the null breakdown value in the trend chart, as the widgets say
_ALL_LABEL = "all"  # the overall line of the trend chart with a breakdown
_OVERALL = "overall"  # the boolean column marking a breakdown's overall rows
_ALL_COLOUR = "#222222"
_DASH = {"strokeDash": [5, 3]}
# Vega's "tableau10" (CATEGORY_SCHEME) spelled out: the trend's colour scale adds black to it.
_CATEGORY_COLOURS = [
    "#4c78a8",
    "#f58518",
    "#e45756",
    "#72b7b2",
    "#54a24b",
    "#eeca3b",
    "#b279a2",
    "#ff9da6",
    "#9d755d",
    "#bab0ac",
]


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
    trend: Any,
    *,
    by: str | Sequence[str] | None = None,
    width: int | str = "container",
    height: int = 220,
) -> alt.Chart | alt.FacetChart:
    """Conversion from the first step per entry period, one line per step after the first.

    ``trend`` is a :func:`kw.funnel_trend` frame; periods whose window is still open
    (``is_complete`` false) are drawn dashed and said so in the tooltip. Step 1 is left out:
    its conversion is always 100 %.

    With a breakdown the lines of different breakdown values must not be joined, so the chart
    is a grid of small multiples: one panel per step after the first, in step order, each with
    its own y scale. A panel holds one line per breakdown value (colour; the null value is
    labelled ``"(no value)"``, several ``by`` columns are joined with ``" · "``) and the
    overall rows as a thick black line ``"all"``; the tooltip adds the entities that entered
    the funnel in that period. The breakdown columns are ``by``, or else read from the frame:
    the columns between ``period`` and ``step`` of a frame with an ``overall`` column. With a
    breakdown ``width`` is the width of the whole grid (``"container"``: panels 320 px wide)
    and ``height`` that of one panel.

    Examples
    --------
    >>> import pandas as pd
    >>> trend = pd.DataFrame({
    ...     "period": pd.to_datetime(["2024-01-01"] * 6),
    ...     "channel": [None, None, "ads", "ads", None, None],
    ...     "overall": [True, True, False, False, False, False],
    ...     "step": ["lead", "won"] * 3, "step_number": [1, 2] * 3,
    ...     "entities": [5, 2, 4, 2, 1, 0],
    ...     "conversion_from_first": [1.0, 0.4, 1.0, 0.5, 1.0, 0.0], "is_complete": [True] * 6})
    >>> spec = funnel_trend_chart(trend).to_dict()
    >>> spec["facet"]["field"], spec["spec"]["layer"][0]["encoding"]["color"]["field"]
    ('step_label', 'channel')
    >>> [(r["channel"], r["entered"]) for r in spec["datasets"][spec["data"]["name"]]]
    [('all', 5), ('ads', 4), ('(no value)', 1)]
    """
    data = _pandas(trend)
    keys = _breakdown_columns(data, by)
    if keys:
        return _trend_by(data, keys, width=width, height=height)
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


def _breakdown_columns(data: pd.DataFrame, by: str | Sequence[str] | None) -> list[str]:
    """The breakdown columns of a trend frame: ``by``, or those between period and step."""
    if by is not None:
        return [by] if isinstance(by, str) else list(by)
    if _OVERALL not in data.columns:
        return []
    columns = list(data.columns)
    between = columns[columns.index("period") + 1 : columns.index("step")]
    return [c for c in between if c != _OVERALL]


def _trend_by(
    data: pd.DataFrame, keys: list[str], *, width: int | str, height: int
) -> alt.FacetChart:
    """Small multiples of a trend with a breakdown (see :func:`funnel_trend_chart`)."""
    overall = data[_OVERALL].astype(bool) if _OVERALL in data else pd.Series(False, data.index)
    labels = data[keys].astype(object).where(data[keys].notna(), _NO_VALUE).astype(str)
    series = pd.Series(
        [" · ".join(row) for row in labels.itertuples(index=False)], index=data.index, dtype=object
    )
    values = list(dict.fromkeys(series[~overall]))
    # A breakdown value literally called "all" keeps its name; the overall line gives way.
    everyone = _ALL_LABEL if _ALL_LABEL not in values else f"{_ALL_LABEL} (overall)"
    # One colour field: the breakdown column itself, or the values joined for several.
    field = keys[0] if len(keys) == 1 else " · ".join(keys)
    entry = data["entities"].where(data["step_number"] == 1)
    data = data.assign(
        **{field: series.where(~overall, everyone)},
        overall=overall,
        entered=entry.groupby([data["period"], overall, series]).transform("max").astype("Int64"),
        step_label=[f"{k}. {s}" for k, s in zip(data["step_number"], data["step"], strict=True)],
        status=data["is_complete"].map({True: "complete", False: "in progress"}),
    )
    data = data[data["step_number"] > 1]
    done = data["period"].where(data["is_complete"])
    last_done = done.groupby([data["step_number"], data["overall"], series]).transform("max")
    data = data.assign(bridge=data["period"] == last_done)
    order = data.sort_values("step_number")["step_label"].drop_duplicates().tolist()
    columns = 1 if len(order) < 2 else 2
    gap = 70  # a panel's y axis and the space between panels
    panel = 320 if isinstance(width, str) else max(160, (width - gap * (columns - 1)) // columns)
    # The overall line is black within the same scale as the breakdown values, so a single
    # legend lists them all (a second, independent colour scale repeats its legend per panel).
    palette = [_CATEGORY_COLOURS[i % len(_CATEGORY_COLOURS)] for i in range(len(values))]
    colour = alt.Color(
        f"{field}:N",
        title=field,
        scale=alt.Scale(domain=[everyone, *values], range=[_ALL_COLOUR, *palette]),
        legend=alt.Legend(symbolType="stroke", symbolStrokeWidth=3),
    )
    encoding = {
        "x": alt.X("period:T", title="entry period"),
        "y": alt.Y("conversion_from_first:Q", axis=alt.Axis(format="%"), title="conversion"),
        "color": colour,
        "tooltip": [
            alt.Tooltip("period:T", format="%Y-%m-%d", title="entry period"),
            alt.Tooltip(f"{field}:N"),
            alt.Tooltip("step:N"),
            alt.Tooltip("entities:Q", format=","),
            alt.Tooltip("entered:Q", format=",", title="entered"),
            alt.Tooltip("conversion_from_first:Q", format=".1%", title="conversion"),
            alt.Tooltip("status:N"),
        ],
    }

    def lines(rows: str, stroke: float, size: int) -> list[alt.Chart]:
        # Solid through the complete periods, dashed from the last complete one on: a line
        # split by a strokeDash field would leave a gap between the two.
        kinds = [("datum.is_complete", {}), ("(!datum.is_complete || datum.bridge)", _DASH)]
        return [
            alt.Chart()
            .transform_filter(f"{rows} && {which}")
            .mark_line(point=alt.OverlayMarkDef(size=size), strokeWidth=stroke, **dash)
            .encode(**encoding)
            for which, dash in kinds
        ]

    layers = [*lines(f"!datum.{_OVERALL}", 1.5, 16), *lines(f"datum.{_OVERALL}", 3, 28)]
    return (
        alt.layer(*layers, data=data)
        .properties(width=panel, height=height)
        .facet(
            facet=alt.Facet(
                "step_label:N",
                sort=order,
                title=None,
                header=alt.Header(labelAnchor="start", labelFontWeight="bold", labelFontSize=12),
            ),
            columns=columns,
            title=alt.Title(
                "Conversion by entry period",
                subtitle=(
                    f"conversion from the first step, one line per {field}; black: {everyone}; "
                    "dashed: still in progress"
                ),
                anchor="start",
            ),
        )
        .resolve_scale(y="independent")
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
