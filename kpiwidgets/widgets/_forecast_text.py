"""The projection tab's text: each quarter's projection with its arithmetic, then the rows."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pandas as pd

from kpiwidgets.widgets._parts import html_table

PROJECTION_COLUMNS = [
    "owner",
    "category",
    "call",
    "call_week",
    "factor",
    "projection",
    "low",
    "high",
    "history",
    "basis",
    "actual",
    "reason",
]


def projection_html(
    team: pd.DataFrame,
    owners: pd.DataFrame,
    *,
    category: str,
    owner: Any,
    money: Callable[[float], str],
) -> str:
    """One escaped line per projection of ``category`` (latest call × median landing ratio =
    projection, its interval, where it landed), then the per-owner rows as a table."""
    shown = owners[owners["category"] == category][PROJECTION_COLUMNS]
    lines = []
    who = "Team" if owner is None else owner
    for row in team[team["category"] == category].itertuples():
        if row.reason:
            lines.append(f"{who} {row.category}: no projection: {row.reason}.")
        else:
            lines.append(
                f"{who} {row.category} at week {row.week_of_period}: latest call "
                f"{money(row.call)} × median landing ratio {row.factor:.3f} of "
                f"{row.history} earlier periods = {money(row.projection)} "
                f"(interval {money(row.low)} – {money(row.high)})"
                + (
                    f"; it landed at {money(row.actual)}."
                    if pd.notna(row.actual)
                    else "; the period is still open."
                )
            )
    note = "".join(f"<div class='kpi-table-note'>{html.escape(t)}</div>" for t in lines)
    return note + html_table(shown, max_rows=50, css_class="kpi-table")
