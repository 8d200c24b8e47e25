"""FunnelExplorer's secondary views (trend, time to convert, segments) and its drill-down:
what each draws from the session, kept apart from the widget's settings and lifecycle."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from kpiwidgets.charts._base import WIDGET_CHART_WIDTH
from kpiwidgets.charts.funnel import funnel_trend_chart, time_to_convert_chart
from kpiwidgets.metrics.funnel import OVERALL
from kpiwidgets.widgets._funnel_inputs import readable_segments
from kpiwidgets.widgets._parts import ChartSlot, html_table, placeholder_chart, to_pandas

__all__ = ["DRILL_ROWS", "VIEWS", "DrillDown", "SecondaryViews", "stopped_at"]

DRILL_ROWS = 10
VIEWS = ("Funnel", "Trend", "Time to convert", "Segments")


class SecondaryViews:
    """The Trend, Time to convert and Segments panels, computed when first shown after a
    change (so the funnel itself stays fast)."""

    def __init__(self, freq_control: widgets.Widget) -> None:
        self.trend = ChartSlot(placeholder_chart(), css_class="kpi-funnel-trend")
        self.ttc = ChartSlot(placeholder_chart(), css_class="kpi-funnel-time")
        self.ttc_summary = widgets.HTML()
        self.segments = widgets.HTML()
        self.segments.add_class("kpi-funnel-segments")
        self.panels = {
            "Trend": widgets.VBox([freq_control, self.trend.view]),
            "Time to convert": widgets.VBox([self.ttc.view, self.ttc_summary]),
            "Segments": self.segments,
        }
        self.stale: set[str] = set(self.panels)

    def draw(self, view: str, session: Any, steps: list[str], settings: dict, freq: str) -> None:
        if view not in self.stale:
            return
        self.stale.discard(view)
        by = settings.get("by")
        if view == "Trend":
            trend = to_pandas(session.trend(steps, freq=freq, **settings))
            self.trend.update(funnel_trend_chart(trend, width=WIDGET_CHART_WIDTH))
        elif view == "Time to convert":
            ttc = session.time_to_convert(steps, **settings)
            title = f"Time from {steps[0]} to {steps[-1]}"
            self.ttc.update(
                time_to_convert_chart(to_pandas(ttc.bins), title=title, width=WIDGET_CHART_WIDTH)
            )
            self.ttc_summary.value = html_table(to_pandas(ttc.summary), css_class="kpi-table")
        elif view == "Segments":
            if by is None:
                self.segments.value = "<i>Choose a breakdown to compare its segments.</i>"
                return
            table = to_pandas(session.segments(steps, **settings))
            self.segments.value = (
                f"<b>Reached {html.escape(str(steps[-1]))}: each {html.escape(by)} "
                "against all the others</b>"
                + html_table(readable_segments(table), max_rows=50, css_class="kpi-table")
                + "<div class='kpi-table-note'>p: two-proportion z-test, or Fisher's exact "
                "test under small counts; not corrected for multiple comparisons. "
                "* fewer than 30 entities.</div>"
            )


class DrillDown:
    """The list of entities that stopped at the selected step: count, first rows, CSV."""

    def __init__(self) -> None:
        self.html = widgets.HTML()
        self.html.add_class("kpi-funnel-dropoffs")
        self.button = widgets.Button(description="Prepare CSV of the full list", icon="")
        self.button.add_class("kpi-funnel-download")
        self.link = widgets.HTML()

    def draw(self, step: int | None, steps: list[str], count: int, first_rows: Any) -> None:
        self.link.value = ""
        if step is None:
            self.html.value = (
                "<i>Click a step's bar to list the entities that dropped off after it.</i>"
            )
            self.button.layout.display = "none"
            return
        name = html.escape(str(steps[step - 1]))
        if step == len(steps):
            title = f"Completed the funnel (reached step {step}, {name}): {count:,} entities"
        else:
            following = html.escape(str(steps[step]))
            title = (
                f"Dropped off after step {step} ({name}), never reached {following}: "
                f"{count:,} entities"
            )
        table = html_table(first_rows, max_rows=DRILL_ROWS, css_class="kpi-table")
        if count > len(first_rows):
            table += (
                f"<div class='kpi-table-more'>first {len(first_rows):,} of {count:,} rows</div>"
            )
        self.html.value = f"<b class='kpi-drill-title'>{title}</b>{table}"
        self.button.layout.display = "" if count else "none"


def stopped_at(result: Any, step: int, n_steps: int) -> int:
    """Entities whose furthest step is ``step``, read off an ordered or strict funnel table:
    reaching step k+1 implies reaching step k, so it is entities(k) − entities(k+1)."""
    frame = to_pandas(result)
    if OVERALL in frame:
        frame = frame[frame[OVERALL]]
    reached = frame.set_index("step_number")["entities"]
    following = int(reached.get(step + 1, 0)) if step < n_steps else 0
    return int(reached.get(step, 0)) - following
