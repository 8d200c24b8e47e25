"""RetentionGrid's controls: toggles, the breakdown menu and the cohort range slider, each
linked to its setting, and the options they offer kept in step with the data."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import pandas as pd

from kpiwidgets.charts.retention import cohort_label

__all__ = ["build_controls", "sync_controls"]

_ALL = "__all__"  # the breakdown control's "all" entry (None is no selection to a Dropdown)


def build_controls(grid: Any) -> list[widgets.Widget]:
    """The grid's control rows, each linked to its setting."""

    def toggle(name: str, options: list[tuple[str, str]], description: str):
        control = widgets.ToggleButtons(
            options=options,
            description=description,
            style={"button_width": "auto", "description_width": "auto"},
        )
        return grid.link(
            control,
            name,
            to_control=lambda v: v if v in [o for _, o in options] else control.value,
        )

    measures = [("Customers", "customers")]
    if grid.value is not None:
        measures.append(("Revenue", "revenue"))
    row1 = [
        toggle("period", [("Week", "W"), ("Month", "M"), ("Quarter", "Q")], "Period"),
        toggle("mode", [("active in k", "on"), ("active in k or later", "on_or_after")], "Count"),
        toggle("measure", measures, "Measure"),
        toggle("show", [("%", "percent"), ("count", "count")], "Show"),
    ]
    grid.controls["measure"].disabled = grid.value is None
    average = toggle("average_method", [("pooled", "pooled"), ("simple", "simple")], "Average")
    cohorts = widgets.SelectionRangeSlider(
        options=[("", 0)], description="Cohorts", continuous_update=False
    )
    cohorts.layout.width = "420px"
    cohorts.add_class("kpi-control-cohorts")
    cohorts.observe(lambda change: _from_range(grid, change), "value")
    grid.controls["cohorts"] = cohorts
    row2: list[widgets.Widget] = [cohorts, average]
    if grid.by is not None:
        breakdown = widgets.Dropdown(
            options=[(f"all {grid.by.replace('_', ' ')}s", _ALL)],
            description=grid.by.replace("_", " ").capitalize(),
        )
        grid.link(
            breakdown,
            "breakdown",
            from_control=lambda v: None if v == _ALL else v,
            to_control=lambda v: _ALL if v is None else v,
        )
        curves = toggle(
            "curves", [("per cohort", "cohort"), (f"per {grid.by}", "breakdown")], "Curves"
        )
        row2 = [breakdown, *row2, curves]
    wrap = widgets.Layout(flex_flow="row wrap", align_items="center")
    return [widgets.HBox(row1, layout=wrap), widgets.HBox(row2, layout=wrap)]


def _from_range(grid: Any, change: dict[str, Any]) -> None:
    if grid.holding:
        return
    options = [v for _, v in grid.controls["cohorts"].options]
    low, high = change["new"]
    with grid.hold():
        grid.cohort_start = None if low == options[0] else low
        grid.cohort_end = None if high == options[-1] else high
    grid.note = ""
    grid.refresh(grid.REFRESH["cohort_start"], changed={"cohort_start", "cohort_end"})


def sync_controls(grid: Any) -> None:
    """Offer the data's breakdown values and cohorts in their controls."""
    # Value retention exists for mode 'on' only.
    grid.controls["mode"].disabled = grid.measure == "revenue"
    split = grid.session.split(grid.period, grid.mode)
    if grid.by is not None:
        values = sorted(split[grid.by].dropna().unique().tolist(), key=str)
        options = [(f"all {grid.by.replace('_', ' ')}s", _ALL)]
        options += [(str(v), v) for v in values]
        control = grid.controls["breakdown"]
        if list(control.options) != options:
            control.options = options
        control.value = grid.breakdown if grid.breakdown in values else _ALL
    cohorts = sorted(split.loc[split["period_number"] == 0, "cohort"].unique())
    slider = grid.controls["cohorts"]
    options = [(cohort_label(c, grid.period), pd.Timestamp(c)) for c in cohorts]
    if options and list(slider.options) != options:
        slider.options = options
    if options and grid.result is not None and len(grid.result):
        shown = grid.result["cohort"]
        slider.value = (shown.min(), shown.max())
    slider.disabled = not options
