"""Charts of cohort retention: the cohort triangle as a heatmap (retention curves are in
:mod:`kpiwidgets.charts.retention_curves`, drawn from the same data and params).

Both take a :func:`kw.cohort_retention` result (and optionally its :func:`kw.average_retention`)
and share two Vega params, so a widget can drive them from Python without rebuilding them:

* ``cohort_pick`` — a point selection on the ``cohort`` field of the heatmap (a click on a
  cell or its number). In the chart data ``cohort`` is the cohort start as ``"YYYY-MM-DD"``
  (see :func:`cohort_key`); the average row has ``cohort == "average"``.
* ``highlight`` — a plain param holding the ``cohort`` key to highlight (``""``: none); the
  heatmap outlines that row, the curve chart draws that cohort on top in colour.
"""

from __future__ import annotations

import math
from typing import Any

import altair as alt
import narwhals.stable.v2 as nw
import pandas as pd

__all__ = [
    "AVERAGE_COLOUR",
    "AVERAGE_KEY",
    "MIN_COHORTS",
    "MIN_ENTITIES",
    "PERIOD_NAMES",
    "SELECTED_COLOUR",
    "average_cells",
    "cell_fields",
    "cohort_key",
    "cohort_label",
    "colour_domain",
    "pandas_frame",
    "retention_heatmap",
]

AVERAGE_KEY = "average"
# period code -> (adjective for titles, noun for axes)
PERIOD_NAMES = {
    "D": ("Daily", "day"),
    "W": ("Weekly", "week"),
    "M": ("Monthly", "month"),
    "Q": ("Quarterly", "quarter"),
    "Y": ("Yearly", "year"),
}
# Past this many period columns a printed number no longer fits in its cell; the numbers stay
# in the tooltips.
MAX_PRINTED_COLUMNS = 30
_HIGHLIGHT_TEST = f"datum.cohort === highlight && datum.cohort !== '{AVERAGE_KEY}'"
#: Default thresholds below which a cell of the average rests on too little to read: fewer
#: complete cohorts, or fewer entities (their pooled ``cohort_size``), than these.
MIN_COHORTS = 3
MIN_ENTITIES = 30
SELECTED_COLOUR = "#e45756"
AVERAGE_COLOUR = "#222222"
_SOLID_TEST = "datum.is_complete && !datum.thin"  # a cell drawn at full strength


def cohort_key(cohort: Any) -> str:
    """The chart-data key of a cohort: its start date as ``"YYYY-MM-DD"``.

    >>> cohort_key(pd.Timestamp("2024-03-01"))
    '2024-03-01'
    """
    return pd.Timestamp(cohort).strftime("%Y-%m-%d")


def cohort_label(cohort: Any, period: str) -> str:
    """How a cohort is named on screen: ``2024-03``, ``2024-Q1``, ``2024-03-04`` (week of).

    >>> cohort_label(pd.Timestamp("2024-04-01"), "Q"), cohort_label("2024-03-01", "M")
    ('2024-Q2', '2024-03')
    """
    ts = pd.Timestamp(cohort)
    if period == "M":
        return ts.strftime("%Y-%m")
    if period == "Q":
        return f"{ts.year}-Q{ts.quarter}"
    if period == "Y":
        return str(ts.year)
    return ts.strftime("%Y-%m-%d")


def cell_fields(measure: str, show: str) -> tuple[str, str, str]:
    """(percent field, printed field, printed format) for a measure and a show setting."""
    if measure not in ("customers", "revenue"):
        raise ValueError(f"measure must be 'customers' or 'revenue', found {measure!r}")
    if show not in ("percent", "count"):
        raise ValueError(f"show must be 'percent' or 'count', found {show!r}")
    percent = "retention" if measure == "customers" else "value_retention"
    if show == "percent":
        return percent, percent, ".0%"
    if measure == "customers":
        return percent, "retained", ","
    return percent, "value", ".3~s"  # revenue sums: 23.9k fits a cell, 23,917.42 does not


def pandas_frame(frame: Any) -> pd.DataFrame:
    return nw.from_native(frame, eager_only=True).to_pandas()


def average_cells(average: Any, min_cohorts: int, min_entities: int) -> pd.DataFrame:
    """An :func:`kw.average_retention` frame as pandas, plus ``entities`` and ``thin``.

    ``entities`` is the pooled ``cohort_size``; ``thin`` marks the cells built from fewer than
    ``min_cohorts`` cohorts or fewer than ``min_entities`` entities (the tail of the average,
    where only the oldest cohorts are complete), and ``support`` says all this in words.
    """
    avg = pandas_frame(average)
    avg["entities"] = avg["cohort_size"]
    avg["thin"] = (avg["cohorts"] < min_cohorts) | (avg["entities"] < min_entities)
    support = [
        f"average over {c:,} complete cohort{'s' if c != 1 else ''}, {n:,} entities"
        for c, n in zip(avg["cohorts"], avg["entities"], strict=True)
    ]
    few = f" (fewer than {min_cohorts} cohorts or {min_entities} entities: read with care)"
    avg["support"] = [t + few if thin else t for t, thin in zip(support, avg["thin"], strict=True)]
    return avg


def colour_domain(percent: pd.Series) -> tuple[float, float]:
    """Colour scale ends: from the lowest retention (rounded down to 10 %, at most 50 %) to
    100 %, or past it for revenue retention.

    Retention is mostly high, so a scale from 0 would paint every cell the same dark blue;
    the lower end keeps contrast. The top is capped at 200 % so one tiny cohort at 400 %
    does not wash out every other cell.
    """
    if not percent.notna().any():
        return 0.0, 1.0
    low = min(0.5, math.floor(float(percent.min()) * 10) / 10)
    top = min(max(1.0, float(percent.max())), 2.0)
    return max(low, 0.0), top


def retention_heatmap(
    result: Any,
    average: Any = None,
    *,
    measure: str = "customers",
    show: str = "percent",
    period: str = "M",
    selected: str = "",
    title: str = "",
    width: int | str = "container",
    min_cohorts: int = MIN_COHORTS,
    min_entities: int = MIN_ENTITIES,
) -> alt.LayerChart:
    """The cohort triangle: one row per cohort, one column per period number.

    Colour is the retention (``retention`` for ``measure="customers"``, ``value_retention`` for
    ``"revenue"``); each cell prints it (``show="percent"``) or the count behind it (``retained``
    customers or the ``value`` sum). Rows are labelled ``"<cohort> (n=<cohort_size>)"``. Cells
    of a period still in progress (``is_complete`` false) are pale and say so in the tooltip.
    With ``average`` (an :func:`kw.average_retention` result) a last row ``"Average ·
    <method>"`` prints the average percentage, whatever ``show`` is (an average of counts
    would mix cohorts of different sizes). Its cells built from fewer than ``min_cohorts``
    complete cohorts or fewer than ``min_entities`` entities (the pooled ``cohort_size``) are
    pale too (``thin`` in the chart data); every average cell's tooltip gives both counts.
    ``selected`` is the :func:`cohort_key` of the row to outline. ``width`` is the plot width
    in pixels, or ``"container"`` to fill the page (charts nested in ipywidgets boxes need a
    number: they measure their box before it is on the page).

    Examples
    --------
    >>> result = pd.DataFrame({
    ...     "cohort": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01"]),
    ...     "period_number": [0, 1, 0], "cohort_size": [4, 4, 2], "retained": [4, 1, 2],
    ...     "retention": [1.0, 0.25, 1.0], "is_complete": [True, False, False]})
    >>> spec = retention_heatmap(result).to_dict()
    >>> [layer["mark"]["type"] for layer in spec["layer"]]
    ['rect', 'text']
    >>> spec["layer"][0]["encoding"]["y"]["sort"]
    ['2024-01 (n=4)', '2024-02 (n=2)']
    >>> average = pd.DataFrame({"period_number": [0, 1], "method": "pooled", "cohorts": [2, 1],
    ...     "cohort_size": [6, 4], "retained": [6, 1], "retention": [1.0, 0.25]})
    >>> spec = retention_heatmap(result, average, min_cohorts=2, min_entities=5).to_dict()
    >>> [(c["period_number"], c["thin"]) for c in spec["datasets"][spec["data"]["name"]]
    ...  if c["cohort"] == "average"]
    [(0, False), (1, True)]
    """
    percent, printed, fmt = cell_fields(measure, show)
    data = pandas_frame(result)
    noun = PERIOD_NAMES.get(period, ("", "period"))[1]
    cells = pd.DataFrame(
        {
            "cohort": data["cohort"].map(cohort_key),
            "row": [
                f"{cohort_label(c, period)} (n={n:,})"
                for c, n in zip(data["cohort"], data["cohort_size"], strict=True)
            ],
            "period_number": data["period_number"],
            "cohort_size": data["cohort_size"],
            "retained": data["retained"],
            "percent": data[percent],
            "printed": data[printed],
            "is_complete": data["is_complete"],
            "status": data["is_complete"].map(
                {True: "complete", False: "in progress: the period has not ended yet"}
            ),
            "thin": False,
        }
    )
    if measure == "revenue":
        cells["value"] = data["value"]
    rows = list(dict.fromkeys(cells["row"]))
    if average is not None:
        avg = average_cells(average, min_cohorts, min_entities)
        method = str(avg["method"].iloc[0]) if len(avg) else "pooled"
        average_row = f"Average · {method}"
        avg_cells = pd.DataFrame(
            {
                "cohort": AVERAGE_KEY,
                "row": average_row,
                "period_number": avg["period_number"],
                "cohort_size": avg["cohort_size"],
                "retained": avg["retained"],
                "percent": avg[percent],
                "printed": avg[percent],
                "is_complete": True,
                "status": avg["support"],
                "thin": avg["thin"],
                "cohorts": avg["cohorts"],
                "entities": avg["entities"],
            }
        )
        cells = pd.concat([cells, avg_cells], ignore_index=True)
        rows.append(average_row)
    low, top = colour_domain(cells["percent"])
    # White numbers on dark cells, black on pale ones (incomplete and thin cells are pale).
    solid = cells["is_complete"] & ~cells["thin"].astype(bool)
    cells["dark"] = ((cells["percent"] - low) / (top - low) > 0.55) & solid

    pick = alt.selection_point(name="cohort_pick", fields=["cohort"], on="click", clear=False)
    highlight = alt.param(name="highlight", value=selected)
    n_columns = int(cells["period_number"].max()) + 1 if len(cells) else 0
    base = alt.Chart(cells).encode(
        x=alt.X(
            "period_number:O",
            title=f"{noun}s since first activity",
            axis=alt.Axis(orient="top", labelAngle=0, labelOverlap="parity"),
        ),
        y=alt.Y("row:O", sort=rows, title=None, axis=alt.Axis(labelLimit=220)),
    )
    percent_title = "retention" if measure == "customers" else "revenue retention"
    tooltip = [
        alt.Tooltip("row:N", title="cohort"),
        alt.Tooltip("period_number:Q", title=f"{noun}s since"),
        alt.Tooltip("percent:Q", title=percent_title, format=".1%"),
        alt.Tooltip("retained:Q", title="retained", format=","),
        alt.Tooltip("cohort_size:Q", title="cohort size", format=","),
        *([alt.Tooltip("value:Q", title="revenue", format=",.0f")] if measure == "revenue" else []),
        alt.Tooltip("status:N", title="status"),
    ]
    rect = (
        base.mark_rect(cursor="pointer")
        .encode(
            color=alt.Color(
                "percent:Q",
                title=percent_title,
                scale=alt.Scale(scheme="blues", domain=[low, top], clamp=True),
                legend=alt.Legend(format=".0%", orient="right", gradientLength=120),
            ),
            opacity=alt.condition(_SOLID_TEST, alt.value(1.0), alt.value(0.35)),
            stroke=alt.condition(_HIGHLIGHT_TEST, alt.value("#111111"), alt.value("white")),
            strokeWidth=alt.condition(_HIGHLIGHT_TEST, alt.value(2.5), alt.value(0.5)),
            tooltip=tooltip,
        )
        .add_params(pick, highlight)
    )
    layers = [rect]
    if n_columns <= MAX_PRINTED_COLUMNS:
        text_colour = alt.condition("datum.dark", alt.value("white"), alt.value("#222222"))
        is_average = f"datum.cohort === '{AVERAGE_KEY}'"
        # The text lies on top of the cells, so it carries the selection too: a click on the
        # number selects the cohort just like a click on the cell around it.
        layers.append(
            base.transform_filter(f"!({is_average})")
            .mark_text(fontSize=10, cursor="pointer")
            .encode(
                text=alt.Text("printed:Q", format=fmt),
                color=text_colour,
                tooltip=tooltip,
            )
            .add_params(pick)
        )
        if average is not None:
            layers.append(
                base.transform_filter(is_average)
                .mark_text(fontSize=10, fontWeight="bold", cursor="pointer")
                .encode(
                    text=alt.Text("percent:Q", format=".0%"),
                    color=text_colour,
                    tooltip=tooltip,
                )
                .add_params(pick)
            )
    shown = "customers retained" if measure == "customers" else "revenue kept"
    pale = "period still in progress"
    if cells["thin"].any():
        pale += f", or an average over < {min_cohorts} cohorts or < {min_entities} entities"
    subtitle = (
        f"{shown}, {'as % of period 0' if show == 'percent' else 'as counts'}; "
        f"pale cells: {pale}; click a row to follow its curve"
    )
    return alt.layer(*layers).properties(
        width=width,
        height=max(18 * len(rows), 80),
        title=alt.Title(title or "Cohort retention", subtitle=subtitle, anchor="start"),
    )
