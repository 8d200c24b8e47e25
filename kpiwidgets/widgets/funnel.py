"""`FunnelExplorer`: a funnel you can reshape, break down and click into."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import narwhals.stable.v2 as nw
import pandas as pd
import traitlets

from kpiwidgets.charts._base import WIDGET_CHART_WIDTH
from kpiwidgets.charts.funnel import (
    STEP_SELECTION,
    funnel_chart,
    funnel_trend_chart,
    time_to_convert_chart,
)
from kpiwidgets.metrics._funnel_session import FunnelSession
from kpiwidgets.metrics._funnel_table import OVERALL
from kpiwidgets.widgets._base import (
    ChartSlot,
    KPIWidget,
    csv_download_link,
    html_table,
    left_out_text,
    placeholder_chart,
    to_pandas,
)
from kpiwidgets.widgets._funnel_inputs import (
    LIFECYCLE,
    as_date,
    default_steps,
    describe_events,
    readable_segments,
    window_text,
)

__all__ = ["LIFECYCLE", "FunnelExplorer"]

_WINDOWS = ["1D", "7D", "14D", "30D", "60D", "90D", "180D", "365D"]
_NO_BREAKDOWN = "(none)"
_NO_VALUE = "(no value)"  # chart label of the group whose breakdown value is null
_DRILL_ROWS = 10
_VIEWS = ("Funnel", "Trend", "Time to convert", "Segments")


class FunnelExplorer(KPIWidget):
    """Explore a funnel over an event log: steps, window, order, attempts, breakdown, dates.

    Every control is a traitlet, so ``explorer.window = "14D"`` recomputes exactly as the
    control does, and ``explorer.result`` is the frame the funnel chart draws — equal to
    ``kw.funnel(events, explorer.steps, window=..., ...)`` for the same settings.

    Parameters
    ----------
    events:
        An event log (any narwhals-supported frame): entity, event name, timestamp, plus
        descriptive columns offered as breakdowns.
    steps:
        Event names in funnel order. Default: the lead lifecycle (lead → mql → sql →
        opportunity → won) when those events are present, else the five most frequent event
        names by decreasing count.
    entity, event, timestamp:
        Column names.
    **funnel_kwargs:
        ``window``, ``order``, ``attempts``, ``by`` (one column), ``start``, ``end`` as in
        :func:`kw.funnel`, and ``freq`` for the trend view.

    Views
    -----
    *Funnel* (conversion from the first step with 95 % Wilson whiskers and drop-offs; click a
    bar to list who dropped off after that step, with a CSV of the full list), *Trend*
    (conversion per entry period), *Time to convert* (first to last step), *Segments*
    (each breakdown value against the rest, with p-values). Secondary views are computed
    when first shown after a change, so the funnel itself stays fast.

    Speed: changing the window, the breakdown or the selected step reuses the per-entity step
    chain (no rescan of the events); steps, order, attempts and dates rescan.
    """

    steps = traitlets.List(traitlets.Unicode(), help="Event names in funnel order.")
    window = traitlets.Unicode("30D", help="Conversion window from the entry, e.g. '14D'.")
    order = traitlets.Enum(("ordered", "strict", "any"), "ordered")
    attempts = traitlets.Enum(("first", "best"), "first")
    by = traitlets.Unicode(None, allow_none=True, help="Breakdown column, or None.")
    start = traitlets.Any(None, help="Entry range start (inclusive), date or None.")
    end = traitlets.Any(None, help="Entry range end (exclusive), date or None.")
    freq = traitlets.Enum(("D", "W", "M", "Q"), "W", help="Entry period of the trend view.")
    selected_step = traitlets.Int(None, allow_none=True, help="Step number clicked (1..N).")
    drop_off_count = traitlets.Int(None, allow_none=True, help="Size of the drill-down list.")

    def __init__(
        self,
        events: Any,
        steps: list[str] | None = None,
        *,
        entity: str = "entity_id",
        event: str = "event",
        timestamp: str = "timestamp",
        **funnel_kwargs: Any,
    ) -> None:
        self._events = events
        self._columns = {"entity": entity, "event": event, "timestamp": timestamp}
        self._event_names, self._breakdowns = describe_events(events, entity, event, timestamp)
        self._session = FunnelSession(events, **self._columns)
        self._stale: set[str] = set()
        self._ready = False
        super().__init__()
        self.add_class("kpi-funnel-explorer")
        with self.hold_trait_notifications():
            self.steps = steps if steps is not None else default_steps(self._event_names)
            for name, value in funnel_kwargs.items():
                if name not in ("window", "order", "attempts", "by", "start", "end", "freq"):
                    raise TypeError(f"FunnelExplorer got an unexpected argument {name!r}")
                setattr(self, name, window_text(value) if name == "window" else value)
        self._build()
        self._ready = True
        self._recompute()
        self.observe(self._on_settings, ["steps", "order", "attempts", "start", "end"])
        self.observe(self._on_window_or_by, ["window", "by"])
        self.observe(self._on_freq, ["freq"])
        self.observe(self._on_selected_step, ["selected_step"])

    # -- layout -------------------------------------------------------------------------------
    def _build(self) -> None:
        self._steps_input = widgets.TagsInput(
            value=list(self.steps),
            allowed_tags=self._event_names,
            allow_duplicates=True,
            layout=widgets.Layout(width="100%"),
        )
        self._window_input = widgets.Combobox(
            value=self.window,
            options=_WINDOWS,
            ensure_option=False,
            continuous_update=False,
            description="Window",
            layout=widgets.Layout(width="190px"),
        )
        self._order_input = widgets.Dropdown(
            options=[("ordered", "ordered"), ("strict", "strict"), ("any order", "any")],
            value=self.order,
            description="Order",
            layout=widgets.Layout(width="200px"),
        )
        self._attempts_input = widgets.Dropdown(
            options=[("first entry", "first"), ("best attempt", "best")],
            value=self.attempts,
            description="Attempts",
            layout=widgets.Layout(width="210px"),
        )
        self._by_input = widgets.Dropdown(
            options=[_NO_BREAKDOWN, *self._breakdowns],
            value=self.by or _NO_BREAKDOWN,
            description="Breakdown",
            layout=widgets.Layout(width="230px"),
        )
        self._start_input = widgets.DatePicker(
            value=as_date(self.start), description="Entered from", layout=_auto()
        )
        self._end_input = widgets.DatePicker(
            value=as_date(self.end), description="before", layout=_auto()
        )
        self._freq_input = widgets.Dropdown(
            options=[("day", "D"), ("week", "W"), ("month", "M"), ("quarter", "Q")],
            value=self.freq,
            description="Trend by",
            layout=widgets.Layout(width="200px"),
        )
        controls = {
            "steps": self._steps_input,
            "window": self._window_input,
            "order": self._order_input,
            "attempts": self._attempts_input,
            "by": self._by_input,
            "start": self._start_input,
            "end": self._end_input,
            "freq": self._freq_input,
        }
        for name, control in controls.items():
            control.add_class(f"kpi-control-{name}")
            control.style.description_width = "initial"
        # Two-way links: a control change sets the trait, a trait change moves the control.
        # A trait value the control cannot show (unknown step, column or date) leaves the
        # control as it is: the widget then shows the error instead of raising TraitError.
        widgets.link(
            (self._steps_input, "value"),
            (self, "steps"),
            transform=[
                _keep,
                lambda v: v if set(v) <= set(self._event_names) else self._steps_input.value,
            ],
        )
        widgets.link((self._window_input, "value"), (self, "window"))
        widgets.link((self._order_input, "value"), (self, "order"))
        widgets.link((self._attempts_input, "value"), (self, "attempts"))
        widgets.link((self._freq_input, "value"), (self, "freq"))
        widgets.link(
            (self._by_input, "value"),
            (self, "by"),
            transform=[
                lambda v: None if v == _NO_BREAKDOWN else v,
                lambda v: (
                    _NO_BREAKDOWN
                    if v is None
                    else v
                    if v in self._breakdowns
                    else self._by_input.value
                ),
            ],
        )
        widgets.link(
            (self._start_input, "value"),
            (self, "start"),
            transform=[_keep, lambda v: as_date(v, self._start_input.value)],
        )
        widgets.link(
            (self._end_input, "value"),
            (self, "end"),
            transform=[_keep, lambda v: as_date(v, self._end_input.value)],
        )

        self._status.add_class("kpi-funnel-status")
        self._funnel = ChartSlot(placeholder_chart(), css_class="kpi-funnel-chart")
        self._funnel.on_select(STEP_SELECTION, self._on_click)
        self._drill = widgets.HTML()
        self._drill.add_class("kpi-funnel-dropoffs")
        self._download = widgets.Button(description="Prepare CSV of the full list", icon="")
        self._download.add_class("kpi-funnel-download")
        self._download.on_click(self._prepare_csv)
        self._download_link = widgets.HTML()
        self._trend = ChartSlot(placeholder_chart(), css_class="kpi-funnel-trend")
        self._ttc = ChartSlot(placeholder_chart(), css_class="kpi-funnel-time")
        self._ttc_summary = widgets.HTML()
        self._segments = widgets.HTML()
        self._segments.add_class("kpi-funnel-segments")
        self._panels = {
            "Funnel": widgets.VBox(
                [
                    self._funnel.widget,
                    self._drill,
                    widgets.HBox([self._download, self._download_link]),
                ]
            ),
            "Trend": widgets.VBox([self._freq_input, self._trend.widget]),
            "Time to convert": widgets.VBox([self._ttc.widget, self._ttc_summary]),
            "Segments": self._segments,
        }
        # Toggle buttons and one visible panel rather than ipywidgets.Tab: a Vega chart sized
        # to its container draws blank inside a Lumino tab panel, and a panel shown again
        # gets fresh chart views that measure their container.
        self._view_picker = widgets.ToggleButtons(options=list(_VIEWS), value="Funnel")
        self._view_picker.add_class("kpi-funnel-views")
        self._view_box = widgets.VBox([self._panels["Funnel"]])
        self._view_picker.observe(self._on_view, ["value"])
        self.children = [
            self._styles,
            widgets.HTML("<b>Steps</b> (type or pick event names; drag to reorder)"),
            self._steps_input,
            widgets.HBox(
                [self._window_input, self._order_input, self._attempts_input, self._by_input],
                layout=widgets.Layout(flex_flow="row wrap"),
            ),
            widgets.HBox([self._start_input, self._end_input]),
            self._status,
            self._error_box,
            self._view_picker,
            self._view_box,
        ]

    # -- reactions ----------------------------------------------------------------------------
    def _settings(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "order": self.order,
            "attempts": self.attempts,
            "by": self.by,
            "start": self.start,
            "end": self.end,
        }

    def _on_settings(self, _change: dict) -> None:
        self._recompute()

    def _on_window_or_by(self, _change: dict) -> None:
        self._recompute()

    def _on_freq(self, _change: dict) -> None:
        self._stale.add("Trend")
        self._update(self._refresh_views)

    def _on_click(self, selection: Any) -> None:
        values = getattr(selection, "value", None) or []
        self.selected_step = int(values[0]["step_number"]) if values else None

    def _on_selected_step(self, _change: dict) -> None:
        def work() -> None:
            # Set from Python (not by a click on the chart): redraw to highlight the bar.
            if self._clicked_step() != self.selected_step:
                self._draw_funnel()
            self._draw_drill()

        self._update(work)

    def _clicked_step(self) -> int | None:
        selection = getattr(self._funnel.widget.selections, STEP_SELECTION, None)
        values = getattr(selection, "value", None) or []
        return int(values[0]["step_number"]) if values else None

    def _recompute(self) -> None:
        if not self._ready:
            return

        def work() -> str:
            self.result = self._session.funnel(list(self.steps), **self._settings())
            if self.selected_step is not None and self.selected_step > len(self.steps):
                self.selected_step = None
            self._draw_funnel()
            self._draw_drill()
            self._stale = {"Trend", "Time to convert", "Segments"}
            self._refresh_views()
            return self._status_text()

        self._update(work)

    def _draw_funnel(self) -> None:
        self._funnel.update(
            funnel_chart(
                self._overall_or_groups(),
                by=self.by,
                selected_step=self.selected_step,
                width=WIDGET_CHART_WIDTH,
            )
        )

    def _overall_or_groups(self) -> pd.DataFrame:
        frame = to_pandas(self.result)
        if self.by is None:
            return frame
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
        self._download_link.value = ""
        k = self.selected_step
        if k is None:
            self.drop_off_count = None
            self._drill.value = (
                "<i>Click a step's bar to list the entities that dropped off after it.</i>"
            )
            self._download.layout.display = "none"
            return
        last = len(self.steps)
        if not 1 <= k <= last:
            raise ValueError(f"selected_step: expected a step number 1..{last}, found {k}")
        count = self._count_stopped_at(k)
        # Only the rows shown cross over to pandas: filtered and cut in the engine.
        first_rows = to_pandas(
            self._session.entities(
                list(self.steps), furthest=k, limit=_DRILL_ROWS, **self._settings()
            )
        )
        self.drop_off_count = count
        name = html.escape(str(self.steps[k - 1]))
        if k == last:
            title = f"Completed the funnel (reached step {k}, {name}): {count:,} entities"
        else:
            following = html.escape(str(self.steps[k]))
            title = (
                f"Dropped off after step {k} ({name}), never reached {following}: "
                f"{count:,} entities"
            )
        table = html_table(first_rows, max_rows=_DRILL_ROWS, css_class="kpi-table")
        if count > len(first_rows):
            table += (
                f"<div class='kpi-table-more'>first {len(first_rows):,} of {count:,} rows</div>"
            )
        self._drill.value = f"<b class='kpi-drill-title'>{title}</b>{table}"
        self._download.layout.display = "" if count else "none"

    def _count_stopped_at(self, k: int) -> int:
        """Entities whose furthest step is k, from the funnel table when it holds the answer.

        In ordered and strict funnels reaching step k+1 implies reaching step k, so the count
        is entities(k) − entities(k+1), read off ``result`` for free. In any-order funnels it
        is not, and the session counts the list.
        """
        if self.order == "any":
            entities = self._session.entities(list(self.steps), furthest=k, **self._settings())
            return int(nw.from_native(entities).lazy().select(nw.len()).collect().item())
        frame = to_pandas(self.result)
        if OVERALL in frame:
            frame = frame[frame[OVERALL]]
        reached = frame.set_index("step_number")["entities"]
        following = int(reached.get(k + 1, 0)) if k < len(self.steps) else 0
        return int(reached.get(k, 0)) - following

    def _prepare_csv(self, _button: Any = None) -> None:
        drop_offs = self.drop_offs
        if drop_offs is None:
            return
        self._download_link.value = csv_download_link(
            drop_offs,
            filename=f"funnel_step_{self.selected_step}_drop_offs.csv",
            label=f"Download {len(drop_offs):,} rows (CSV)",
        )

    def _on_view(self, change: dict) -> None:
        self._view_box.children = [self._panels[change["new"]]]
        self._update(self._refresh_views)

    def _refresh_views(self) -> None:
        view = self._view_picker.value
        if view not in self._stale:
            return
        self._stale.discard(view)
        steps, settings = list(self.steps), self._settings()
        if view == "Trend":
            trend = self._session.trend(steps, freq=self.freq, **settings)
            self._trend.update(funnel_trend_chart(trend, width=WIDGET_CHART_WIDTH))
        elif view == "Time to convert":
            ttc = self._session.time_to_convert(steps, **settings)
            self._ttc.update(
                time_to_convert_chart(
                    ttc.bins,
                    title=f"Time from {steps[0]} to {steps[-1]}",
                    width=WIDGET_CHART_WIDTH,
                )
            )
            self._ttc_summary.value = html_table(to_pandas(ttc.summary), css_class="kpi-table")
        elif view == "Segments":
            if self.by is None:
                self._segments.value = "<i>Choose a breakdown to compare its segments.</i>"
            else:
                table = to_pandas(self._session.segments(steps, **settings))
                self._segments.value = (
                    f"<b>Reached {html.escape(str(steps[-1]))}: each {html.escape(self.by)} "
                    "against all the others</b>"
                    + html_table(readable_segments(table), max_rows=50, css_class="kpi-table")
                    + "<div class='kpi-table-note'>p: two-proportion z-test, or Fisher's exact "
                    "test under small counts; not corrected for multiple comparisons. "
                    "* fewer than 30 entities.</div>"
                )

    def _status_text(self) -> str:
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


def _keep(value: Any) -> Any:
    return value


def _auto() -> widgets.Layout:
    return widgets.Layout(width="auto")
