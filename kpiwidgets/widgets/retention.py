"""``RetentionGrid``: the cohort triangle with its controls and the retention curves."""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ipywidgets as widgets
import pandas as pd
import traitlets

from kpiwidgets.charts.retention import (
    AVERAGE_KEY,
    PERIOD_NAMES,
    cohort_key,
    cohort_label,
    retention_curves,
    retention_heatmap,
)
from kpiwidgets.metrics.retention import average_retention, cohort_retention
from kpiwidgets.widgets._base import (
    ChartSlot,
    KPIWidget,
    left_out_text,
    placeholder_chart,
    rows_left_out,
    to_pandas,
)
from kpiwidgets.widgets._retention_data import columns_of, plural, sum_breakdown, with_attributes

__all__ = ["RetentionGrid"]

_AUTO = "auto"
_ALL = "__all__"  # the breakdown control's "all" entry (None is no selection to a Dropdown)
_VALUE_COLUMNS = ("value", "value_retention")
# pandas period aliases whose start_time is the core's calendar period start (weeks: Monday).
_PANDAS_PERIOD = {"D": "D", "W": "W-SUN", "M": "M", "Q": "Q", "Y": "Y"}
# Charts nested in ipywidgets boxes are embedded before the box is on the page, so a
# "container" width measures 0 px and draws nothing: widgets give their charts pixel widths.
_CURVES_WIDTH = 760
_CELL_WIDTH = 38
# A grid beyond this many cells is unreadable and heavy to send to the page.
# Altair refuses inline data past 5,000 rows by default; the charts lift that limit (see
# ChartSlot), and this cap keeps the page responsive.
_MAX_CELLS = 20_000
# Settings that change the drawing; the value says which charts depend on it.
_REDRAWS = {
    "period": ("grid", "curves"),
    "mode": ("grid", "curves"),
    "measure": ("grid", "curves"),
    "breakdown": ("grid", "curves"),
    "cohort_start": ("grid", "curves"),
    "cohort_end": ("grid", "curves"),
    "average_method": ("grid", "curves"),
    "show": ("grid",),
    "curves": ("curves",),
}


class RetentionGrid(KPIWidget):
    """Cohort retention grid: heatmap of the cohort triangle, controls, retention curves.

    The widget draws :func:`kw.cohort_retention` for its settings (``result``), with the
    :func:`kw.average_retention` row at the bottom (``average_result``). Every control is a
    traitlet, so ``grid.period = "Q"`` recomputes just like a click on *Quarter*.

    Parameters
    ----------
    activity
        One row per (entity, time) of activity, e.g. ``kw.load_demo().revenue``; any frame
        :func:`kw.cohort_retention` accepts.
    entity, timestamp, as_of, tz
        Passed to :func:`kw.cohort_retention` (defaults fit the ``revenue`` table).
    value
        Column behind revenue retention. Default ``"auto"``: ``"mrr"`` when the activity
        has that column, else none. ``None`` turns revenue retention off. Without a value
        column the *measure* control offers customers only.
    value_agg
        ``"sum"`` or ``"period_end"`` (see :func:`kw.cohort_retention`). Default ``"auto"``:
        ``"period_end"`` for an ``mrr`` column (a snapshot: a quarter shows its last month's
        MRR, so quarterly revenue retention is not inflated by adding up months), ``"sum"``
        for any other column (flows such as order amounts).
    by
        Optional breakdown column (e.g. ``"channel"``), on the activity rows or in
        ``attributes``. Each entity belongs to the value of its first activity row. Enables the
        breakdown filter and the per-breakdown curves.
    attributes
        Optional frame keyed by ``entity`` holding the ``by`` column (one row per entity, e.g.
        the won opportunities with their acquisition channel); joined onto the activity once,
        at construction. Must be the same kind of frame as ``activity``. Entities without a
        row count in the "all" view only.
    **settings
        Initial values of the traitlets below.

    Traitlets
    ---------
    period : {"W", "M", "Q"} (also "D", "Y")
        Calendar period of cohorts and columns. Default ``"M"``.
    mode : {"on", "on_or_after"}
        Retained at k when active in period k, or in k or any later period. Default ``"on"``.
    measure : {"customers", "revenue"}
        Share of entities retained, or value retention (``value`` in period k / value in
        period 0; net revenue retention of the cohort, can pass 100 %). Revenue needs mode
        ``"on"``: choosing revenue switches mode to ``"on"``, choosing ``"on_or_after"``
        switches measure to customers; the status line says so (``note``).
    show : {"percent", "count"}
        What the cells print: the percentage, or the count behind it (retained entities; the
        value sum for revenue). The colour is always the percentage.
    breakdown : value of ``by`` or None
        Show one breakdown value only (None: all entities).
    cohort_start, cohort_end : date-like or None
        Show the cohorts from the period holding ``cohort_start`` up to ``cohort_end``.
    average_method : {"pooled", "simple"}
        How the average row is formed (see :func:`kw.average_retention`).
    curves : {"cohort", "breakdown"}
        One curve per cohort, or (with ``by``) one pooled curve per breakdown value.
    selected_cohort : pd.Timestamp or None
        The highlighted cohort (set by a click on its row; settable from Python with anything
        ``pd.Timestamp`` reads, floored to the period: ``"2024-03-15"`` → March 2024).

    Notes
    -----
    One scan of the activity per (period, mode): computed once with ``by=`` the breakdown
    column (and the value column when mode is ``"on"``) and cached. Measure, show, breakdown
    filter, cohort range, average method and selection are then derived from the cached
    frame in pandas (the "all" view sums the breakdown values, which partition the
    entities), so they redraw without touching the activity. A breakdown value's grid is
    therefore ``kw.cohort_retention`` of that value's entities with the whole activity's
    ``as_of`` (its last timestamp unless ``as_of=`` is given), so every view shares one calendar.

    Examples
    --------
    >>> import kpiwidgets as kw
    >>> grid = RetentionGrid(kw.load_demo(n_leads=2_000).revenue)
    >>> grid.value, int(grid.result["period_number"].max()) >= 12
    ('mrr', True)
    >>> grid.period = "Q"
    >>> grid.result["cohort"].dt.month.isin([1, 4, 7, 10]).all()
    np.True_
    """

    period = traitlets.Unicode("M", help="Calendar period: W, M or Q (also D, Y).")
    mode = traitlets.Unicode("on", help="'on' or 'on_or_after'.")
    measure = traitlets.Unicode("customers", help="'customers' or 'revenue'.")
    show = traitlets.Unicode("percent", help="Cells print 'percent' or 'count'.")
    breakdown = traitlets.Any(None, allow_none=True, help="One value of `by`, or None: all.")
    cohort_start = traitlets.Any(None, allow_none=True, help="First cohort shown (date-like).")
    cohort_end = traitlets.Any(None, allow_none=True, help="Last cohort shown (date-like).")
    average_method = traitlets.Unicode("pooled", help="Average row: 'pooled' or 'simple'.")
    curves = traitlets.Unicode("cohort", help="Curves per 'cohort' or per 'breakdown' value.")
    selected_cohort = traitlets.Any(None, allow_none=True, help="Highlighted cohort start.")
    average_result = traitlets.Any(None, help="The average row drawn (average_retention).")
    note = traitlets.Unicode("", help="Why a setting was adjusted automatically, or ''.")

    def __init__(
        self,
        activity: Any,
        *,
        entity: str = "account_id",
        timestamp: str = "month",
        value: str | None = _AUTO,
        value_agg: str = _AUTO,
        by: str | None = None,
        attributes: Any = None,
        as_of: _dt.datetime | _dt.date | str | None = None,
        tz: str | None = None,
        entity_label: str | None = None,
        **settings: Any,
    ) -> None:
        super().__init__()
        self.add_class("kpi-retention")
        self._quiet = False
        columns = columns_of(activity)
        if value == _AUTO:
            value = "mrr" if "mrr" in columns else None
        if value_agg == _AUTO:
            value_agg = "period_end" if value == "mrr" else "sum"
        self.entity, self.timestamp, self.value, self.by = entity, timestamp, value, by
        self.value_agg = value_agg
        self._as_of, self._tz = as_of, tz
        self._activity = with_attributes(activity, attributes, entity=entity, by=by)
        self._entities = entity_label or plural(entity)
        self._cache: dict[tuple[str, str], pd.DataFrame] = {}
        self._left_out: dict[str, int] = {}  # rows the last scan left out (null ids, times)
        self._shown_cohorts: list[pd.Timestamp] = []
        self._summary = ""

        self._grid = ChartSlot(placeholder_chart(), css_class="kpi-retention-grid")
        self._curves = ChartSlot(placeholder_chart(), css_class="kpi-retention-curves")
        self._grid.on_select("cohort_pick", self._on_click)
        self._status.add_class("kpi-retention-status")
        self._controls = self._build_controls()
        self.children = [
            self._styles,
            *self._controls,
            self._status,
            self._error_box,
            self._grid.widget,
            self._curves.widget,
        ]

        with self._hold():
            for name, setting in settings.items():
                if name not in _REDRAWS and name != "selected_cohort":
                    raise TypeError(f"RetentionGrid() got an unexpected keyword argument {name!r}")
                setattr(self, name, setting)
            self.note = self._resolve("measure")
        self._refresh(_REDRAWS["period"])

    # -- the data -----------------------------------------------------------------------------

    def _split(self) -> pd.DataFrame:
        """The core result for (period, mode), split by ``by``; one scan per key, cached."""
        key = (self.period, self.mode)
        if key not in self._cache:
            with rows_left_out() as self._left_out:
                result = cohort_retention(
                    self._activity,
                    entity=self.entity,
                    timestamp=self.timestamp,
                    period=self.period,
                    mode=self.mode,
                    value=self.value if self.mode == "on" else None,
                    value_agg=self.value_agg,
                    by=self.by,
                    as_of=self._as_of,
                    tz=self._tz,
                )
            self._cache[key] = to_pandas(result)
        return self._cache[key]

    def _derive(self, split: pd.DataFrame, *, every_value: bool = False) -> pd.DataFrame:
        """The frame drawn: breakdown filter, cohort range and measure applied to ``split``.

        ``every_value`` keeps the ``by`` column and every breakdown value (for the curves per
        breakdown value) instead of applying the breakdown filter.
        """
        frame = split
        if self.by is not None and not every_value:
            if self.breakdown is None:
                frame = sum_breakdown(split, self.by)
            else:
                values = split[self.by].drop_duplicates()
                if not (values == self.breakdown).any():
                    shown = ", ".join(map(str, sorted(values.astype(str))[:20]))
                    raise ValueError(
                        f"breakdown: expected one of the {self.by} values ({shown}) or None "
                        f"for all, found {self.breakdown!r}"
                    )
                frame = split[split[self.by] == self.breakdown].drop(columns=self.by)
        start, end = self._floor(self.cohort_start), self._floor(self.cohort_end)
        if start is not None:
            frame = frame[frame["cohort"] >= start]
        if end is not None:
            frame = frame[frame["cohort"] <= end]
        if self.measure == "customers":
            frame = frame.drop(columns=[c for c in _VALUE_COLUMNS if c in frame])
        return frame.reset_index(drop=True)

    def _floor(self, moment: Any) -> pd.Timestamp | None:
        """Start of the period holding ``moment``, in the cohorts' zone."""
        if moment is None:
            return None
        ts = pd.Timestamp(moment)
        zone = ts.tz
        start = ts.tz_localize(None).to_period(_PANDAS_PERIOD[self.period]).start_time
        zone = zone or self._cohort_zone()
        return start.tz_localize(zone) if zone is not None else start

    def _cohort_zone(self) -> Any:
        cached = next(iter(self._cache.values()), None)
        return None if cached is None else getattr(cached["cohort"].dt, "tz", None)

    # -- drawing ------------------------------------------------------------------------------

    def _refresh(self, charts: tuple[str, ...]) -> None:
        self._update(lambda: self._redraw(charts))

    def _redraw(self, charts: tuple[str, ...]) -> str:
        self._check_settings()
        split = self._split()
        shown = self._derive(split)
        if len(shown) > _MAX_CELLS:
            raise ValueError(
                f"{len(shown):,} cells are too many to draw: choose a longer period or a "
                "narrower cohort range"
            )
        average = average_retention(shown, method=self.average_method)
        cohorts = list(shown.loc[shown["period_number"] == 0, "cohort"])
        selected = self.selected_cohort
        if selected is not None:
            selected = self._floor(selected)
            if selected not in cohorts:  # gone with the new period or range
                selected = None
            with self._hold():
                self.selected_cohort = selected
        key = "" if selected is None else cohort_key(selected)
        common = {"measure": self.measure, "period": self.period, "selected": key}
        n_columns = int(shown["period_number"].max()) + 1 if len(shown) else 1
        grid_width = min(max(_CELL_WIDTH * n_columns, 320), 960)
        if "grid" in charts:
            self._grid.update(
                retention_heatmap(shown, average, show=self.show, width=grid_width, **common)
            )
        if "curves" in charts:
            if self.curves == "breakdown" and self.by is not None:
                per_value = self._derive(split, every_value=True)
                drawn = average_retention(per_value, method=self.average_method)
                self._curves.update(
                    retention_curves(drawn, average, series=self.by, width=_CURVES_WIDTH, **common)
                )
            else:
                self._curves.update(retention_curves(shown, average, width=_CURVES_WIDTH, **common))
        self._shown_cohorts = cohorts
        self.result = shown
        self.average_result = average
        self._sync_controls(split)
        self._summary = self._describe(shown)
        return self._status_text()

    def _check_settings(self) -> None:
        choices = {
            "period": tuple(PERIOD_NAMES),
            "mode": ("on", "on_or_after"),
            "measure": ("customers", "revenue"),
            "show": ("percent", "count"),
            "average_method": ("pooled", "simple"),
            "curves": ("cohort", "breakdown"),
        }
        for name, allowed in choices.items():
            found = getattr(self, name)
            if found not in allowed:
                raise ValueError(
                    f"{name} must be one of {', '.join(map(repr, allowed))}, found {found!r}"
                )
        if self.measure == "revenue" and self.value is None:
            raise ValueError(
                "measure 'revenue' needs a value column to sum: pass value= (e.g. value='mrr') "
                "to RetentionGrid; the activity has columns "
                + ", ".join(columns_of(self._activity))
            )
        if self.by is None and (self.breakdown is not None or self.curves == "breakdown"):
            raise ValueError("a breakdown needs a by= column: pass by= (and attributes=)")

    def _describe(self, shown: pd.DataFrame) -> str:
        at_zero = shown[shown["period_number"] == 0]
        mode = "active in period k" if self.mode == "on" else "active in period k or later"
        parts = [
            f"{PERIOD_NAMES[self.period][0]} cohorts",
            self.measure,
            f"{mode} ({self.mode})",
            f"{len(at_zero):,} cohorts",
            f"{int(at_zero['cohort_size'].sum()):,} {self._entities}",
        ]
        if self.by is not None:
            shown_value = "all" if self.breakdown is None else str(self.breakdown)
            parts.append(f"{self.by}: {shown_value}")
        return " · ".join(html.escape(p) for p in parts)

    def _status_text(self) -> str:
        text = self._summary
        if self.selected_cohort is not None:
            row = self.result[
                (self.result["cohort"] == self.selected_cohort)
                & (self.result["period_number"] == 0)
            ]
            size = int(row["cohort_size"].iloc[0]) if len(row) else 0
            label = cohort_label(self.selected_cohort, self.period)
            text += (
                f' · <span class="kpi-retention-selected">selected {html.escape(label)} '
                f"({size:,} {html.escape(self._entities)})</span>"
            )
        left_out = left_out_text(self._left_out)
        if left_out:
            text += f' · <span class="kpi-retention-left-out">{left_out}</span>'
        if self.note:
            text += f'<br><span class="kpi-retention-note">{html.escape(self.note)}</span>'
        return text

    # -- settings and selection ---------------------------------------------------------------

    @contextmanager
    def _hold(self) -> Iterator[None]:
        """Change traits without each change triggering its own redraw."""
        quiet, self._quiet = self._quiet, True
        try:
            yield
        finally:
            self._quiet = quiet

    def _resolve(self, changed: str) -> str:
        """Make measure and mode agree (value retention is defined for mode 'on' only)."""
        if self.measure != "revenue" or self.mode == "on":
            return ""
        with self._hold():
            if changed == "mode":
                self.measure = "customers"
                return "Mode 'on or after' counts customers only: measure switched to customers."
            self.mode = "on"
            return "Revenue retention counts each period's own revenue: mode switched to 'on'."

    @traitlets.observe(*_REDRAWS)
    def _on_setting(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        self.note = self._resolve(change["name"])
        self._refresh(_REDRAWS[change["name"]])

    @traitlets.validate("selected_cohort")
    def _valid_selection(self, proposal: dict[str, Any]) -> pd.Timestamp | None:
        value = proposal["value"]
        if value is None:
            return None
        try:
            if self.period not in _PANDAS_PERIOD:
                return pd.Timestamp(value)
            return self._floor(value)
        except (ValueError, TypeError):
            # Shown in the widget, not raised: the selection stays as it was.
            self._show_error(
                ValueError(f"selected_cohort: expected a date such as '2024-03', found {value!r}")
            )
            return self.selected_cohort

    @traitlets.observe("selected_cohort")
    def _on_selected(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        self._update(self._highlight)

    def _highlight(self) -> str:
        selected = self.selected_cohort
        if selected is not None and selected not in self._shown_cohorts:
            shown = ", ".join(cohort_label(c, self.period) for c in self._shown_cohorts[:1])
            with self._hold():
                self.selected_cohort = None
            self._set_highlight("")
            raise ValueError(
                f"cohort {cohort_label(selected, self.period)} is not in the grid "
                f"(cohorts shown start at {shown or 'none'})"
            )
        # A param change, not a new chart: the page updates in place, nothing is recomputed.
        self._set_highlight("" if selected is None else cohort_key(selected))
        return self._status_text()

    def _set_highlight(self, key: str) -> None:
        for slot in (self._grid, self._curves):
            if "highlight" in slot.widget.params.trait_names():
                slot.widget.params.highlight = key

    def _on_click(self, selection: Any) -> None:
        picked = [v.get("cohort") for v in (selection.value or [])]
        if not picked:
            # A chart swap resets the page's selection to empty; that is not a user's click.
            return
        if picked[0] == AVERAGE_KEY:
            self.selected_cohort = None
            return
        cohort = pd.Timestamp(picked[0])
        zone = self._cohort_zone()
        self.selected_cohort = cohort.tz_localize(zone) if zone is not None else cohort

    # -- controls -----------------------------------------------------------------------------

    def _build_controls(self) -> list[widgets.Widget]:
        def toggle(name: str, options: list[tuple[str, str]], description: str):
            control = widgets.ToggleButtons(
                options=options,
                description=description,
                style={"button_width": "auto", "description_width": "auto"},
            )
            control.add_class(f"kpi-control-{name.replace('_', '-')}")
            control.observe(lambda change: self._from_control(name, change["new"]), "value")
            return control

        measures = [("Customers", "customers")]
        if self.value is not None:
            measures.append(("Revenue", "revenue"))
        self._control = {
            "period": toggle("period", [("Week", "W"), ("Month", "M"), ("Quarter", "Q")], "Period"),
            "mode": toggle(
                "mode", [("active in k", "on"), ("active in k or later", "on_or_after")], "Count"
            ),
            "measure": toggle("measure", measures, "Measure"),
            "show": toggle("show", [("%", "percent"), ("count", "count")], "Show"),
            "average_method": toggle(
                "average_method", [("pooled", "pooled"), ("simple", "simple")], "Average"
            ),
        }
        self._control["measure"].disabled = self.value is None
        row1 = [self._control[n] for n in ("period", "mode", "measure", "show")]
        cohorts = widgets.SelectionRangeSlider(
            options=[("", 0)], description="Cohorts", continuous_update=False
        )
        cohorts.layout.width = "420px"
        cohorts.add_class("kpi-control-cohorts")
        cohorts.observe(self._from_range, "value")
        self._control["cohorts"] = cohorts
        row2: list[widgets.Widget] = [cohorts, self._control["average_method"]]
        if self.by is not None:
            breakdown = widgets.Dropdown(description=self.by.replace("_", " ").capitalize())
            breakdown.add_class("kpi-control-breakdown")
            breakdown.observe(
                lambda c: self._from_control("breakdown", None if c["new"] == _ALL else c["new"]),
                "value",
            )
            self._control["breakdown"] = breakdown
            self._control["curves"] = toggle(
                "curves", [("per cohort", "cohort"), (f"per {self.by}", "breakdown")], "Curves"
            )
            row2 = [breakdown, *row2, self._control["curves"]]
        wrap = widgets.Layout(flex_flow="row wrap", align_items="center")
        return [widgets.HBox(row1, layout=wrap), widgets.HBox(row2, layout=wrap)]

    def _from_control(self, name: str, value: Any) -> None:
        if not self._quiet:
            setattr(self, name, value)

    def _from_range(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        options = [v for _, v in self._control["cohorts"].options]
        low, high = change["new"]
        with self._hold():
            self.cohort_start = None if low == options[0] else low
            self.cohort_end = None if high == options[-1] else high
        self.note = ""
        self._refresh(_REDRAWS["cohort_start"])

    def _sync_controls(self, split: pd.DataFrame) -> None:
        """Show the traits' values in the controls (values a control lacks are left alone)."""
        with self._hold():
            for name in ("period", "mode", "measure", "show", "average_method", "curves"):
                control = self._control.get(name)
                if control is not None and getattr(self, name) in [v for _, v in control.options]:
                    control.value = getattr(self, name)
            # Value retention exists for mode 'on' only.
            self._control["mode"].disabled = self.measure == "revenue"
            if self.by is not None:
                values = sorted(split[self.by].dropna().unique().tolist(), key=str)
                options = [(f"all {self.by.replace('_', ' ')}s", _ALL)]
                options += [(str(v), v) for v in values]
                control = self._control["breakdown"]
                if list(control.options) != options:
                    control.options = options
                control.value = self.breakdown if self.breakdown in values else _ALL
            cohorts = sorted(split.loc[split["period_number"] == 0, "cohort"].unique())
            slider = self._control["cohorts"]
            options = [(cohort_label(c, self.period), pd.Timestamp(c)) for c in cohorts]
            if options and list(slider.options) != options:
                slider.options = options
            if options and self.result is not None and len(self.result):
                shown = self.result["cohort"]
                slider.value = (shown.min(), shown.max())
            slider.disabled = not options


# -- helpers ----------------------------------------------------------------------------------
