"""Retention curves: one line per cohort (or breakdown value) over the periods since the
cohort started, with the average cohort on top (see :mod:`kpiwidgets.charts.retention` for
the shared params and data keys)."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from kpiwidgets.charts._base import CATEGORY_SCHEME
from kpiwidgets.charts.retention import (
    AVERAGE_COLOUR,
    MIN_COHORTS,
    MIN_ENTITIES,
    PERIOD_NAMES,
    SELECTED_COLOUR,
    average_cells,
    cell_fields,
    cohort_key,
    cohort_label,
    colour_domain,
    pandas_frame,
)

__all__ = ["retention_curves"]


def retention_curves(
    result: Any,
    average: Any = None,
    *,
    measure: str = "customers",
    period: str = "M",
    series: str = "cohort",
    selected: str = "",
    title: str = "",
    width: int | str = "container",
    min_cohorts: int = MIN_COHORTS,
    min_entities: int = MIN_ENTITIES,
) -> alt.LayerChart:
    """Retention against period number: one line per cohort or per breakdown value.

    Only complete cells are drawn, so every point is a finished period. With
    ``series="cohort"`` the cohorts are thin grey lines, the cohort whose :func:`cohort_key`
    is in the ``highlight`` param (initially ``selected``) is drawn on top in colour, and
    ``average`` is a dashed black line. Any other ``series`` names a column of ``result`` (a
    breakdown such as ``channel``, e.g. the rows of an :func:`kw.average_retention` per
    channel) and draws one coloured line per value. ``width`` as in :func:`retention_heatmap`.

    The average line has a point per period number whose tooltip gives the complete cohorts
    and entities (pooled ``cohort_size``) behind it. Where they are fewer than
    ``min_cohorts`` or ``min_entities`` (``thin`` in the chart data; the tail, which rests on
    the oldest cohorts alone) the line is faded and its points hollow.

    Examples
    --------
    >>> result = pd.DataFrame({
    ...     "cohort": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01"]),
    ...     "period_number": [0, 1, 0], "cohort_size": [4, 4, 2], "retained": [4, 1, 2],
    ...     "retention": [1.0, 0.25, 1.0], "is_complete": [True, True, True]})
    >>> spec = retention_curves(result, selected="2024-01-01").to_dict()
    >>> spec["params"][0]["name"], spec["params"][0]["value"]
    ('highlight', '2024-01-01')
    >>> average = pd.DataFrame({"period_number": [0, 1], "method": "pooled", "cohorts": [2, 1],
    ...     "cohort_size": [6, 4], "retained": [6, 1], "retention": [1.0, 0.25]})
    >>> spec = retention_curves(result, average, min_cohorts=2, min_entities=5).to_dict()
    >>> [row["thin"] for row in spec["datasets"][spec["layer"][-1]["data"]["name"]]]
    [False, True]
    """
    percent, _, _ = cell_fields(measure, "percent")
    data = pandas_frame(result)
    data = data[data["is_complete"]] if "is_complete" in data else data
    noun = PERIOD_NAMES.get(period, ("", "period"))[1]
    percent_title = "retention" if measure == "customers" else "revenue retention"
    top = colour_domain(data[percent])[1]
    x = alt.X(
        "period_number:Q", title=f"{noun}s since first activity", axis=alt.Axis(tickMinStep=1)
    )
    y = alt.Y(
        "percent:Q",
        title=percent_title,
        axis=alt.Axis(format=".0%"),
        scale=alt.Scale(domain=[0, top], clamp=True),
    )
    highlight = alt.param(name="highlight", value=selected)
    layers: list[alt.Chart] = []
    if series == "cohort":
        lines = pd.DataFrame(
            {
                "cohort": data["cohort"].map(cohort_key),
                "label": data["cohort"].map(lambda c: cohort_label(c, period)),
                "period_number": data["period_number"],
                "percent": data[percent],
                "cohort_size": data["cohort_size"],
            }
        )
        tooltip = [
            alt.Tooltip("label:N", title="cohort"),
            alt.Tooltip("period_number:Q", title=f"{noun}s since"),
            alt.Tooltip("percent:Q", title=percent_title, format=".1%"),
            alt.Tooltip("cohort_size:Q", title="cohort size", format=","),
        ]
        base = alt.Chart(lines).encode(x=x, y=y, detail="cohort:N", tooltip=tooltip)
        layers.append(
            base.mark_line(color="#b9c4cf", strokeWidth=1, interpolate="monotone").add_params(
                highlight
            )
        )
        picked = base.transform_filter("datum.cohort === highlight")
        layers.append(picked.mark_line(color=SELECTED_COLOUR, strokeWidth=3))
        layers.append(picked.mark_point(color=SELECTED_COLOUR, filled=True, size=30))
        subtitle = "grey: cohorts; red: the selected cohort"
    else:
        lines = pd.DataFrame(
            {
                series: data[series],
                "period_number": data["period_number"],
                "percent": data[percent],
                "cohort_size": data["cohort_size"],
            }
        )
        layers.append(
            alt.Chart(lines)
            .mark_line(strokeWidth=2, point=True)
            .encode(
                x=x,
                y=y,
                color=alt.Color(
                    f"{series}:N",
                    title=series.replace("_", " "),
                    scale=alt.Scale(scheme=CATEGORY_SCHEME),
                ),
                tooltip=[
                    alt.Tooltip(f"{series}:N"),
                    alt.Tooltip("period_number:Q", title=f"{noun}s since"),
                    alt.Tooltip("percent:Q", title=percent_title, format=".1%"),
                    alt.Tooltip("cohort_size:Q", title="entities", format=","),
                ],
            )
            .add_params(highlight)
        )
        subtitle = f"one line per {series.replace('_', ' ')} (pooled over its cohorts)"
    if average is not None:
        avg = average_cells(average, min_cohorts, min_entities)
        method = str(avg["method"].iloc[0]) if len(avg) else "pooled"
        mean = pd.DataFrame(
            {
                "label": f"average · {method}",
                "period_number": avg["period_number"],
                "percent": avg[percent],
                "cohorts": avg["cohorts"],
                "entities": avg["entities"],
                "thin": avg["thin"],
            }
        )
        tooltip = [
            alt.Tooltip("label:N", title="line"),
            alt.Tooltip("period_number:Q", title=f"{noun}s since"),
            alt.Tooltip("percent:Q", title=percent_title, format=".1%"),
            alt.Tooltip("cohorts:Q", title="complete cohorts"),
            alt.Tooltip("entities:Q", title="entities", format=","),
        ]
        dashed = {"color": AVERAGE_COLOUR, "strokeWidth": 2, "strokeDash": [6, 3]}
        mean_chart = alt.Chart(mean).encode(x=x, y=y, tooltip=tooltip)
        # The whole line faded, then its well-supported part (all but the tail) over it at
        # full strength (the dashes line up: both lines start at k = 0), then the points,
        # hollow where thin.
        layers.append(mean_chart.mark_line(opacity=0.35, **dashed))
        layers.append(mean_chart.transform_filter("!datum.thin").mark_line(**dashed))
        layers.append(
            mean_chart.mark_point(
                filled=True, size=28, stroke=AVERAGE_COLOUR, strokeWidth=1.5
            ).encode(
                fill=alt.condition("datum.thin", alt.value("white"), alt.value(AVERAGE_COLOUR))
            )
        )
        subtitle += f"; dashed: average ({method})"
        if mean["thin"].any():
            subtitle += f", faded where < {min_cohorts} cohorts or < {min_entities} entities"
    return alt.layer(*layers).properties(
        width=width,
        height=260,
        title=alt.Title(title or "Retention curves", subtitle=subtitle, anchor="start"),
    )
