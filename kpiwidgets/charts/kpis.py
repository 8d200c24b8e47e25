"""KPI charts: a KPI over time (one line, or one per breakdown value), and tile sparklines."""

from __future__ import annotations

import math
from collections.abc import Sequence

import altair as alt
import pandas as pd

from kpiwidgets.charts._base import CATEGORY_SCHEME
from kpiwidgets.charts.format import Formatter

__all__ = ["kpi_trend_chart", "sparkline_svg"]

_D3 = {"currency": "~s", "ratio": ".0%", "count": "~s"}


def kpi_trend_chart(
    frame: pd.DataFrame,
    *,
    label: str,
    unit: str,
    formula: str,
    by: str | None = None,
    target: pd.DataFrame | None = None,
    formatter: Formatter | None = None,
    width: int = 640,
    height: int = 260,
) -> alt.LayerChart:
    """``value`` per ``period`` (a :func:`kw.kpi` frame), one line per ``by`` value.

    Tooltips carry the value formatted in the team's currency and locale (``shown``);
    ``target`` (period, target) draws as a dashed line.
    """
    fmt = formatter or Formatter()
    data = frame.copy()
    data["shown"] = [fmt.value(v, unit) for v in data["value"]]
    series = by if by is not None else None
    if series is not None:
        data[series] = data[series].astype("string").fillna("(none)")
    tooltip = [
        alt.Tooltip("period:T", title="period", format="%Y-%m-%d"),
        *([alt.Tooltip(f"{series}:N")] if series else []),
        alt.Tooltip("shown:N", title=label),
        alt.Tooltip("n:Q", title="rows"),
    ]
    encoding = {
        "x": alt.X("period:T", title=None),
        "y": alt.Y("value:Q", title=label, axis=alt.Axis(format=_D3.get(unit, "~r"))),
        "tooltip": tooltip,
    }
    if series:
        encoding["color"] = alt.Color(
            f"{series}:N", title=series, scale=alt.Scale(scheme=CATEGORY_SCHEME)
        )
    layers: list[alt.Chart] = [alt.Chart(data).mark_line(point=True).encode(**encoding)]
    if target is not None and len(target):
        shown = target.assign(shown=[fmt.value(v, unit) for v in target["target"]])
        layers.append(
            alt.Chart(shown)
            .mark_line(strokeDash=[6, 3], color="#555")
            .encode(
                x=alt.X("period:T"),
                y=alt.Y("target:Q"),
                tooltip=[alt.Tooltip("shown:N", title="target")],
            )
        )
    return alt.layer(*layers).properties(
        width=width, height=height, title=alt.Title(label, subtitle=formula)
    )


def sparkline_svg(values: Sequence[float], *, width: int = 120, height: int = 28) -> str:
    """A small inline SVG line of ``values`` (gaps for NaN): numbers only, nothing to escape."""
    points = [(i, v) for i, v in enumerate(values) if v is not None and not math.isnan(v)]
    if len(points) < 2:
        return f'<svg class="kpi-spark" width="{width}" height="{height}"></svg>'
    lo = min(v for _, v in points)
    hi = max(v for _, v in points)
    span = hi - lo or 1.0
    step = width / max(len(values) - 1, 1)
    coords = " ".join(
        f"{i * step:.1f},{height - 2 - (v - lo) / span * (height - 4):.1f}" for i, v in points
    )
    last_x, last_v = points[-1]
    last_y = height - 2 - (last_v - lo) / span * (height - 4)
    return (
        f'<svg class="kpi-spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f'<polyline fill="none" stroke="#4c78a8" stroke-width="1.5" points="{coords}"/>'
        f'<circle cx="{last_x * step:.1f}" cy="{last_y:.1f}" r="2.5" fill="#4c78a8"/></svg>'
    )
