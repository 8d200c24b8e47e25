"""`FunnelExplorer`: a funnel you can reshape, break down and click into."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any, ClassVar

import ipywidgets as widgets
import pandas as pd
import traitlets

from kpiwidgets.charts._base import WIDGET_CHART_WIDTH
from kpiwidgets.charts.funnel import STEP_SELECTION, funnel_chart
from kpiwidgets.metrics.choices import Attempts, Order, Period, choices
from kpiwidgets.metrics.funnel import OVERALL
from kpiwidgets.metrics.funnel_session import FunnelSession
from kpiwidgets.widgets._base import COMPUTE, KPIWidget
from kpiwidgets.widgets._funnel_inputs import (
    LIFECYCLE,
    as_date,
    default_steps,
    describe_events,
    window_text,
)
from kpiwidgets.widgets._funnel_views import (
    DRILL_ROWS,
    VIEWS,
    DrillDown,
    SecondaryViews,
    stopped_at,
)
from kpiwidgets.widgets._parts import (
    ChartSlot,
    csv_download_link,
    left_out_text,
    placeholder_chart,
    to_pandas,
)

__all__ = ["LIFECYCLE", "FunnelExplorer"]

_WINDOWS = ["1D", "7D", "14D", "30D", "60D", "90D", "180D", "365D"]
_NO_BREAKDOWN = "(none)"
_NO_VALUE = "(no value)"  # chart label of the group whose breakdown value is null
_FUNNEL = (COMPUTE, "funnel", "drill", "views")


class FunnelExplorer(KPIWidget):
    """Explore a funnel over an event log: steps, window, order, attempts, breakdown, dates.

    Every control is a setting (a traitlet), so ``explorer.window = "14D"`` recomputes
    exactly as the control does, and ``explorer.result`` is the frame the funnel chart draws
    — equal to ``kw.funnel(events, explorer.steps, window=..., ...)`` for the same settings,
    as pandas whatever the engine (it is a few rows per step).
    Bad settings follow :class:`KPIWidget`'s policy: ``explorer.order = "bogus"`` raises
    ``TraitError``; ``explorer.steps = ["lead", "nope"]`` (a step the log does not have) or
    an unreadable window shows in the widget.

    Parameters
    ----------
    events:
        An event log (any narwhals-supported frame): entity, event name, timestamp, plus
        descriptive columns offered as breakdowns.
    entity, event, timestamp:
        Column names.
    steps, **settings:
        Initial values of the settings below (``steps`` defaults to the lead lifecycle, lead
        → mql → sql → opportunity → won, when those events are present, else the five most
        frequent event names).

    Settings
    --------
    steps, window, order, attempts, by (one column), start, end
        As in :func:`kw.funnel` (``window`` also accepts a ``datetime.timedelta``).
    freq
        Entry period of the trend view.
    selected_step
        The step whose drop-offs are listed (set by a click on its bar).
    view
        The view shown: "Funnel", "Trend", "Time to convert" or "Segments".

    Parts (``explorer.parts``): ``status``, ``error``, ``funnel_chart``, ``drill`` (the
    drill-down title and first rows), ``download``, ``trend_chart``, ``time_chart``,
    ``time_summary``, ``segments``.

    Views
    -----
    *Funnel* (conversion from the first step with 95 % Wilson whiskers and drop-offs; click a
    bar to list who dropped off after that step, with a CSV of the full list), *Trend*
    (conversion per entry period), *Time to convert* (first to last step), *Segments*
    (each breakdown value against the rest, with p-values). Secondary views are computed
    when first shown after a change, so the funnel itself stays fast.

    Speed: changing the window, the breakdown or the selected step reuses the session's
    per-entity step chain (no rescan of the events); steps, order, attempts and dates rescan.

    Lazy inputs (a DuckDB relation, a polars LazyFrame, e.g. from
    ``kw.read_dataset(folder, engine="duckdb")``) stay on their engine: the events are not
    collected. What crosses into Python is aggregates (event counts, the funnel table, the
    views), the per-entity chain (one row per entity, or per attempt with
    ``attempts="best"``), and of a drill-down list its count and the rows shown;
    :attr:`drop_offs` (the CSV) converts the whole list of that step, on demand. (A strict
    funnel on DuckDB also holds each entity's event times while it scans: see the README.)
    """

    REFRESH: ClassVar[dict[str, tuple[str, ...]]] = {
        "steps": _FUNNEL,
        "window": _FUNNEL,
        "order": _FUNNEL,
        "attempts": _FUNNEL,
        "by": _FUNNEL,
        "start": _FUNNEL,
        "end": _FUNNEL,
        "freq": ("trend",),
        "selected_step": ("select",),
        "view": ("views",),
    }

    steps = traitlets.List(traitlets.Unicode(), help="Event names in funnel order.").tag(
        setting=True
    )
    window = traitlets.Union(
        [traitlets.Unicode(), traitlets.Instance(dt.timedelta)],
        default_value="30D",
        help="Conversion window from the entry, e.g. '14D' (a timedelta is shown as text).",
    ).tag(setting=True)
    order = traitlets.Enum(choices(Order), "ordered").tag(setting=True)
    attempts = traitlets.Enum(choices(Attempts), "first").tag(setting=True)
    by = traitlets.Unicode(None, allow_none=True, help="Breakdown column, or None.").tag(
        setting=True
    )
    start = traitlets.Any(None, help="Entry range start (inclusive), date or None.").tag(
        setting=True
    )
    end = traitlets.Any(None, help="Entry range end (exclusive), date or None.").tag(setting=True)
    freq = traitlets.Enum(choices(Period)[:4], "W", help="Entry period of the trend view.").tag(
        setting=True
    )
    selected_step = traitlets.Int(None, allow_none=True, help="Step number clicked (1..N).").tag(
        setting=True
    )
    view = traitlets.Enum(VIEWS, "Funnel", help="The view shown.").tag(setting=True)
    drop_off_count = traitlets.Int(None, allow_none=True, help="Size of the drill-down list.")

    def __init__(
        self,
        events: Any,
        steps: list[str] | None = None,
        *,
        entity: str = "entity_id",
        event: str = "event",
        timestamp: str = "timestamp",
        **settings: Any,
    ) -> None:
        columns = {"entity": entity, "event": event, "timestamp": timestamp}
        self._event_names, self._breakdowns = describe_events(events, entity, event, timestamp)
        self._session = FunnelSession(events, **columns)
        if steps is not None:
            settings["steps"] = steps
        settings.setdefault("steps", default_steps(self._event_names))
        super().__init__(**settings)
        self.add_class("kpi-funnel-explorer")

    @traitlets.validate("window")
    def _window_as_text(self, proposal: dict[str, Any]) -> str:
        return window_text(proposal["value"])

    # -- layout ---------------------------------------------------------------------------
    def layout(self) -> tuple[list[widgets.Widget], list[widgets.Widget]]:
        def dropdown(options: Any, description: str, width: str) -> widgets.Dropdown:
            return widgets.Dropdown(
                options=options, description=description, layout=widgets.Layout(width=width)
            )

        steps = widgets.TagsInput(
            allowed_tags=self._event_names,
            allow_duplicates=True,
            layout=widgets.Layout(width="100%"),
        )
        # A setting the control cannot show (an unknown step, column or date) leaves the
        # control as it is: the widget shows the problem instead.
        self.link(
            steps,
            "steps",
            to_control=lambda v: v if set(v) <= set(self._event_names) else steps.value,
        )
        window = widgets.Combobox(
            options=_WINDOWS,
            ensure_option=False,
            continuous_update=False,
            description="Window",
            layout=widgets.Layout(width="190px"),
        )
        self.link(window, "window")
        order = dropdown(
            [("ordered", "ordered"), ("strict", "strict"), ("any order", "any")], "Order", "200px"
        )
        self.link(order, "order")
        attempts = dropdown(
            [("first entry", "first"), ("best attempt", "best")], "Attempts", "210px"
        )
        self.link(attempts, "attempts")
        by = dropdown([_NO_BREAKDOWN, *self._breakdowns], "Breakdown", "230px")
        self.link(
            by,
            "by",
            from_control=lambda v: None if v == _NO_BREAKDOWN else v,
            to_control=lambda v: (
                _NO_BREAKDOWN if v is None else v if v in self._breakdowns else by.value
            ),
        )
        start = widgets.DatePicker(description="Entered from", layout=_auto())
        end = widgets.DatePicker(description="before", layout=_auto())
        self.link(start, "start", to_control=lambda v: as_date(v, start.value))
        self.link(end, "end", to_control=lambda v: as_date(v, end.value))
        freq = dropdown(
            [("day", "D"), ("week", "W"), ("month", "M"), ("quarter", "Q")], "Trend by", "200px"
        )
        self.link(freq, "freq")
        for control in self.controls.values():
            control.style.description_width = "initial"

        self._status_line.add_class("kpi-funnel-status")
        self._funnel = ChartSlot(placeholder_chart(), css_class="kpi-funnel-chart")
        self._funnel.on_select(STEP_SELECTION, self._on_click)
        self._drill = DrillDown()
        self._drill.button.on_click(self._prepare_csv)
        self._views = SecondaryViews(freq)
        panels = {
            "Funnel": widgets.VBox(
                [
                    self._funnel.view,
                    self._drill.html,
                    widgets.HBox([self._drill.button, self._drill.link]),
                ]
            ),
            **self._views.panels,
        }
        # Toggle buttons and one visible panel rather than ipywidgets.Tab: a Vega chart sized
        # to its container draws blank inside a Lumino tab panel, and a panel shown again
        # gets fresh chart views that measure their container.
        view_picker = widgets.ToggleButtons(options=list(VIEWS))
        view_picker.add_class("kpi-funnel-views")
        self.link(view_picker, "view")
        self._view_box = widgets.VBox([panels["Funnel"]])
        self._panels = panels
        self.parts.update(
            funnel_chart=self._funnel.widget,
            drill=self._drill.html,
            download=self._drill.link,
            trend_chart=self._views.trend.widget,
            time_chart=self._views.ttc.widget,
            time_summary=self._views.ttc_summary,
            segments=self._views.segments,
        )
        wrap = widgets.Layout(flex_flow="row wrap")
        controls = [
            widgets.HTML("<b>Steps</b> (type or pick event names; drag to reorder)"),
            steps,
            widgets.HBox([window, order, attempts, by], layout=wrap),
            widgets.HBox([start, end]),
        ]
        return controls, [view_picker, self._view_box]

    # -- the lifecycle hooks ----------------------------------------------------------------
    def _settings(self) -> dict[str, Any]:
        names = ("window", "order", "attempts", "by", "start", "end")
        return {name: getattr(self, name) for name in names}

    def compute(self) -> None:
        # The funnel table is a few rows per step: pandas on every engine, read once here.
        self.result = to_pandas(self._session.funnel(list(self.steps), **self._settings()))
        # Gone with fewer steps: the selection ends. Set now to a step that does not exist:
        # the drill-down says so (the policy for values wrong for the data).
        gone = self.selected_step is not None and self.selected_step > len(self.steps)
        if gone and "selected_step" not in self.changed:
            self.selected_step = None
        self._views.stale = set(self._views.panels)

    def draw(self, parts: set[str]) -> None:
        if "funnel" in parts or ("select" in parts and self._clicked_step() != self.selected_step):
            # (Set from Python, not by a click on the chart: redraw to highlight the bar.)
            self._draw_funnel()
        if parts & {"drill", "select"}:
            self._draw_drill()
        if "trend" in parts:
            self._views.stale.add("Trend")
        if parts & {"views", "trend"}:
            view = self.view
            self._view_box.children = [self._panels[view]]
            if view != "Funnel":
                steps = list(self.steps)
                self._views.draw(view, self._session, steps, self._settings(), self.freq)

    def _on_click(self, selection: Any) -> None:
        values = getattr(selection, "value", None) or []
        self.selected_step = int(values[0]["step_number"]) if values else None

    def _clicked_step(self) -> int | None:
        selection = getattr(self._funnel.widget.selections, STEP_SELECTION, None)
        values = getattr(selection, "value", None) or []
        return int(values[0]["step_number"]) if values else None

    def _draw_funnel(self) -> None:
        frame = self._overall_or_groups()
        chart = funnel_chart(
            frame, by=self.by, selected_step=self.selected_step, width=WIDGET_CHART_WIDTH
        )
        self._funnel.update(chart, table=frame)

    def _overall_or_groups(self) -> pd.DataFrame:
        frame = to_pandas(self.result)
        if OVERALL not in frame:
            return frame
        groups = frame[~frame[OVERALL]].drop(columns=OVERALL)
        # Entities with no value are a group of their own; the chart needs a label for it.
        return groups.assign(**{self.by: groups[self.by].fillna(_NO_VALUE)})

    @property
    def drop_offs(self) -> pd.DataFrame | None:
        """The full drill-down list: entities whose furthest step is ``selected_step``.

        Rows of :func:`kw.funnel_entities` for the current settings, sorted by entity; None
        while no step is selected. Computed on first access (the page shows only the first
        rows and the count, so a window change does not convert the whole list).
        """
        k = self.selected_step
        if k is None or not 1 <= k <= len(self.steps):
            return None
        entities = self._session.entities(list(self.steps), furthest=k, **self._settings())
        return to_pandas(entities).reset_index(drop=True)

    def _draw_drill(self) -> None:
        k = self.selected_step
        if k is None:
            self.drop_off_count = None
            self._drill.draw(None, list(self.steps), 0, None)
            return
        last = len(self.steps)
        if not 1 <= k <= last:
            raise ValueError(f"selected_step: expected a step number 1..{last}, found {k}")
        steps, settings = list(self.steps), self._settings()
        if self.order == "any":  # reaching k+1 does not imply k: count them (in the engine)
            count = self._session.count(steps, furthest=k, **settings)
        else:
            count = stopped_at(self.result, k, last)
        # Only the rows shown cross over to pandas: filtered and cut in the engine.
        first = self._session.entities(steps, furthest=k, limit=DRILL_ROWS, **settings)
        self.drop_off_count = count
        self._drill.draw(k, steps, count, to_pandas(first))

    def _prepare_csv(self, _button: Any = None) -> None:
        drop_offs = self.drop_offs
        if drop_offs is None:
            return
        self._drill.link.value = csv_download_link(
            drop_offs,
            filename=f"funnel_step_{self.selected_step}_drop_offs.csv",
            label=f"Download {len(drop_offs):,} rows (CSV)",
        )

    def status_text(self) -> str:
        frame = to_pandas(self.result)
        if OVERALL in frame:
            frame = frame[frame[OVERALL]]
        entered = int(frame["entities"].iloc[0]) if len(frame) else 0
        converted = frame["conversion_from_first"].iloc[-1] if len(frame) else float("nan")
        parts = [
            f"{len(self.steps)} steps",
            self.order,
            f"{self.attempts} attempt" if self.attempts == "best" else "first entry",
            f"{html.escape(self.window)} window",
            f"{entered:,} entered",
            f"{converted:.1%} reached {html.escape(self.steps[-1])}" if entered else "",
        ]
        # The scan that built the cached chain counted them, whatever the engine.
        chain = self._session.chain(
            list(self.steps),
            order=self.order,
            attempts=self.attempts,
            start=self.start,
            end=self.end,
        )
        parts.append(left_out_text(chain.prep.dropped))
        if self.by:
            parts.append(f"by {html.escape(self.by)}")
        return " · ".join(p for p in parts if p)


def _auto() -> widgets.Layout:
    return widgets.Layout(width="auto")
