"""ForecastTracker's controls: category, metric and team toggles, the owner, week and trend
period menus and the period range slider, each linked to its setting."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import pandas as pd
import traitlets

from kpiwidgets.metrics.choices import Aggregate, choices
from kpiwidgets.metrics.forecast_session import METRICS

__all__ = ["build_controls", "parse_period", "period_label", "sync_controls"]

_ALL = "__all__"
_EVERY_WEEK = -10_000  # the week menu's "every week" entry (None is no selection to a Dropdown)


def period_label(period: Any) -> str:
    """``2025-10-01`` → ``"2025 Q4"`` for a quarter start, else the ISO date."""
    ts = pd.Timestamp(period)
    if ts.day == 1 and ts.month in (1, 4, 7, 10) and ts == ts.normalize():
        return f"{ts.year} Q{(ts.month - 1) // 3 + 1}"
    return str(ts.date())


def parse_period(value: Any, name: str) -> pd.Timestamp | None:
    if value is None or value == "":
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise traitlets.TraitError(
            f"{name}: expected a date such as '2025-10-01', found {value!r}"
        ) from exc
    if pd.isna(ts):
        return None
    return ts.tz_localize(None) if ts.tzinfo is not None else ts


def build_controls(tracker: Any) -> list[widgets.Widget]:
    """The tracker's two control rows, each control linked to its setting."""
    s = tracker.session

    def toggle(name: str, options: list[tuple[str, str]], description: str):
        control = widgets.ToggleButtons(
            options=options,
            description=description,
            style={"button_width": "auto", "description_width": "auto"},
        )
        values = [v for _, v in options]
        return tracker.link(control, name, to_control=lambda v: v if v in values else control.value)

    cats = [(c.replace("_", " "), c) for c in s.categories]
    row1 = [
        toggle("category", cats, "Category"),
        toggle("metric", [("WAPE" if m == "wape" else m, m) for m in METRICS], "Metric"),
        toggle("aggregate", [(a, a) for a in choices(Aggregate)], "Team"),
    ]
    owner = widgets.Dropdown(
        options=[("all owners", _ALL), *((str(o), o) for o in s.owners)],
        description="Owner",
    )
    tracker.link(
        owner,
        "owner",
        from_control=lambda v: None if v == _ALL else v,
        to_control=lambda v: _ALL if v is None else (v if v in s.owners else owner.value),
    )
    week = widgets.Dropdown(
        options=[("every week", _EVERY_WEEK), *((f"week {w}", w) for w in s.weeks)],
        description="Calls",
    )
    tracker.link(
        week,
        "week",
        from_control=lambda v: None if v == _EVERY_WEEK else v,
        to_control=lambda v: _EVERY_WEEK if v is None else (v if v in s.weeks else week.value),
    )
    labels = [(period_label(p), pd.Timestamp(p)) for p in s.periods]
    periods = widgets.SelectionRangeSlider(
        options=labels,
        index=(0, len(labels) - 1),
        description="Periods",
        continuous_update=False,
    )
    periods.layout.width = "420px"
    periods.add_class("kpi-control-periods")
    periods.observe(lambda change: _on_range(tracker, change), "value")
    tracker.controls["periods"] = periods
    focus = widgets.Dropdown(options=[("latest", _ALL), *labels], description="Trend of")
    tracker.link(
        focus,
        "selected_period",
        from_control=lambda v: None if v == _ALL else v,
        to_control=lambda v: _ALL if v is None else (v if v in s.periods else focus.value),
    )
    wrap = widgets.Layout(flex_flow="row wrap", align_items="center")
    return [
        widgets.HBox(row1, layout=wrap),
        widgets.HBox([owner, week, periods, focus], layout=wrap),
    ]


def _on_range(tracker: Any, change: dict[str, Any]) -> None:
    if tracker.holding:
        return
    options = [v for _, v in tracker.controls["periods"].options]
    low, high = change["new"]
    with tracker.hold():
        tracker.start = None if low == options[0] else low
        tracker.end = None if high == options[-1] else high
    tracker.refresh(tracker.REFRESH["start"], changed={"start", "end"})


def sync_controls(tracker: Any) -> None:
    """Show the range in force on the slider; the team toggle means nothing for one owner."""
    slider = tracker.controls["periods"]
    options = [v for _, v in slider.options]
    low = tracker.start if tracker.start in options else options[0]
    high = tracker.end if tracker.end in options else options[-1]
    if slider.value != (low, high):
        slider.value = (low, high)
    tracker.controls["aggregate"].disabled = tracker.owner is not None
