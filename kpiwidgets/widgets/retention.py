"""``RetentionGrid``: the cohort triangle with its controls and the retention curves."""

from __future__ import annotations

import datetime as _dt
import html
from typing import Any, ClassVar

import ipywidgets as widgets
import pandas as pd
import traitlets

from kpiwidgets.charts.retention import (
    AVERAGE_KEY,
    PERIOD_NAMES,
    cohort_key,
    cohort_label,
    retention_heatmap,
)
from kpiwidgets.charts.retention_curves import retention_curves
from kpiwidgets.metrics.choices import (
    AverageMethod,
    Curves,
    Measure,
    Period,
    RetentionMode,
    Show,
    choices,
)
from kpiwidgets.metrics.retention_session import RetentionSession, columns_of
from kpiwidgets.widgets._base import COMPUTE, Frame, KPIWidget
from kpiwidgets.widgets._parts import ChartSlot, left_out_text, placeholder_chart
from kpiwidgets.widgets._retention_controls import build_controls, sync_controls

__all__ = ["RetentionGrid"]

_AUTO = "auto"
# Charts nested in ipywidgets boxes are embedded before the box is on the page, so a
# "container" width measures 0 px and draws nothing: widgets give their charts pixel widths.
_CURVES_WIDTH = 760
_CELL_WIDTH = 38
# A grid beyond this many cells is unreadable and heavy to send to the page.
# Altair refuses inline data past 5,000 rows by default; the charts lift that limit (see
# ChartSlot), and this cap keeps the page responsive.
_MAX_CELLS = 20_000
_BOTH = (COMPUTE, "grid", "curves")


def _plural(entity: str) -> str:
    """``account_id`` → ``accounts``: how the status line counts entities."""
    noun = entity.removesuffix("_id").replace("_", " ") or "entity"
    return noun if noun.endswith("s") else noun + "s"


def _setting(trait: traitlets.TraitType) -> traitlets.TraitType:
    return trait.tag(setting=True)


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

    Settings
    --------
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

    Bad settings follow :class:`KPIWidget`'s policy: ``grid.period = "fortnight"`` raises
    ``TraitError``; a breakdown value the data does not have, or ``measure="revenue"``
    without a value column, shows in the widget.

    Notes
    -----
    The data comes from a :class:`kw.RetentionSession` (``grid.session``): one scan of the
    activity per (period, mode), cached; measure, show, breakdown filter, cohort range,
    average method and selection are derived from the cached frame, so they redraw without
    touching the activity. A breakdown value's grid is ``kw.cohort_retention`` of that
    value's entities with the whole activity's ``as_of``, so every view shares one calendar.

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

    REFRESH: ClassVar[dict[str, tuple[str, ...]]] = {
        "period": _BOTH,
        "mode": _BOTH,
        "measure": _BOTH,
        "breakdown": _BOTH,
        "cohort_start": _BOTH,
        "cohort_end": _BOTH,
        "average_method": _BOTH,
        "show": ("grid",),
        "curves": ("curves",),
        "selected_cohort": ("highlight",),
    }

    period = _setting(traitlets.Enum(choices(Period), "M", help="Calendar period."))
    mode = _setting(traitlets.Enum(choices(RetentionMode), "on"))
    measure = _setting(traitlets.Enum(choices(Measure), "customers"))
    show = _setting(traitlets.Enum(choices(Show), "percent", help="What the cells print."))
    breakdown = _setting(traitlets.Any(None, allow_none=True, help="One value of `by`, or None."))
    cohort_start = _setting(traitlets.Any(None, allow_none=True, help="First cohort shown."))
    cohort_end = _setting(traitlets.Any(None, allow_none=True, help="Last cohort shown."))
    average_method = _setting(traitlets.Enum(choices(AverageMethod), "pooled"))
    curves = _setting(traitlets.Enum(choices(Curves), "cohort"))
    selected_cohort = _setting(traitlets.Any(None, allow_none=True, help="Highlighted cohort."))
    average_result = Frame(None, help="The average row drawn (average_retention).")
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
        if value == _AUTO:
            value = "mrr" if "mrr" in columns_of(activity) else None
        if value_agg == _AUTO:
            value_agg = "period_end" if value == "mrr" else "sum"
        self.entity, self.timestamp, self.value, self.by = entity, timestamp, value, by
        self.value_agg = value_agg
        self.session = RetentionSession(
            activity,
            entity=entity,
            timestamp=timestamp,
            value=value,
            value_agg=value_agg,
            by=by,
            attributes=attributes,
            as_of=as_of,
            tz=tz,
        )
        self._entities = entity_label or _plural(entity)
        self._shown_cohorts: list[pd.Timestamp] = []
        self._good_selection: pd.Timestamp | None = None
        self._summary = ""
        self._grid = ChartSlot(placeholder_chart(), css_class="kpi-retention-grid")
        self._curves = ChartSlot(placeholder_chart(), css_class="kpi-retention-curves")
        self._grid.on_select("cohort_pick", self._on_click)
        super().__init__(**settings)
        self.parts.update(grid_chart=self._grid.widget, curves_chart=self._curves.widget)
        self.add_class("kpi-retention")
        self._status_line.add_class("kpi-retention-status")

    # -- the lifecycle hooks ----------------------------------------------------------------
    def adjust(self, changed: set[str]) -> None:
        """Make measure and mode agree (value retention is defined for mode 'on' only): the
        setting just chosen wins (measure, when both were given), and ``note`` says so."""
        self.note = ""
        if self.measure != "revenue" or self.mode == "on":
            return
        if "mode" in changed and "measure" not in changed:
            self.measure = "customers"
            self.note = "Mode 'on or after' counts customers only: measure switched to customers."
        else:
            self.mode = "on"
            self.note = "Revenue retention counts each period's own revenue: mode switched to 'on'."

    def _view(self, every_value: bool = False) -> pd.DataFrame:
        return self.session.view(
            period=self.period,
            mode=self.mode,
            measure=self.measure,
            breakdown=self.breakdown,
            cohort_start=self.cohort_start,
            cohort_end=self.cohort_end,
            every_value=every_value,
        )

    def compute(self) -> None:
        if self.by is None and self.curves == "breakdown":
            raise ValueError("curves per breakdown value need a by= column: pass by=")
        shown = self._view()
        if len(shown) > _MAX_CELLS:
            raise ValueError(
                f"{len(shown):,} cells are too many to draw: choose a longer period or a "
                "narrower cohort range"
            )
        self.average_result = self.session.average(shown, method=self.average_method)
        cohorts = list(shown.loc[shown["period_number"] == 0, "cohort"])
        self._shown_cohorts = cohorts
        if self.selected_cohort is not None and "selected_cohort" not in self.changed:
            selected = self.session.floor(self.selected_cohort, self.period)
            # Gone with the new period or range: nothing is selected any more. (One set just
            # now and wrong for the data is said by the highlight step instead.)
            self.selected_cohort = selected if selected in cohorts else None
            self._good_selection = self.selected_cohort
        self._shown_cohorts = cohorts
        self.result = shown
        self._summary = self._describe(shown)

    def draw(self, parts: set[str]) -> None:
        shown, average = self.result, self.average_result
        selected = self.selected_cohort
        shown_selection = selected is not None and selected in self._shown_cohorts
        key = cohort_key(selected) if shown_selection else ""
        common = {"measure": self.measure, "period": self.period, "selected": key}
        if "grid" in parts:
            n_columns = int(shown["period_number"].max()) + 1 if len(shown) else 1
            grid_width = min(max(_CELL_WIDTH * n_columns, 320), 960)
            self._grid.update(
                retention_heatmap(shown, average, show=self.show, width=grid_width, **common),
                table=shown,
            )
        if "curves" in parts:
            if self.curves == "breakdown" and self.by is not None:
                per_value = self.session.average(self._view(every_value=True), self.average_method)
                chart = retention_curves(
                    per_value, average, series=self.by, width=_CURVES_WIDTH, **common
                )
            else:
                chart = retention_curves(shown, average, width=_CURVES_WIDTH, **common)
            self._curves.update(chart)
        self._sync_controls()
        if "highlight" in parts:
            self._highlight()  # last: a selection wrong for the data is said after drawing

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

    def status_text(self) -> str:
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
        left_out = left_out_text(self.session.left_out)
        if left_out:
            text += f' · <span class="kpi-retention-left-out">{left_out}</span>'
        if self.note:
            text += f'<br><span class="kpi-retention-note">{html.escape(self.note)}</span>'
        return text

    def layout(self) -> tuple[list[widgets.Widget], list[widgets.Widget]]:
        return build_controls(self), [self._grid.view, self._curves.view]

    def _sync_controls(self) -> None:
        sync_controls(self)

    # -- selection ---------------------------------------------------------------------------
    @traitlets.validate("selected_cohort")
    def _valid_selection(self, proposal: dict[str, Any]) -> pd.Timestamp | None:
        value = proposal["value"]
        if value is None:
            return None
        try:
            return self.session.floor(value, self.period)
        except (ValueError, TypeError):
            # Wrong for the data, not for the type: kept as given, and the refresh says so.
            return value

    def _check_selection(self) -> None:
        selected = self.selected_cohort
        if selected is not None and not isinstance(selected, pd.Timestamp):
            self.selected_cohort = self._good_selection  # the last good one stays
            raise ValueError(
                f"selected_cohort: expected a date such as '2024-03', found {selected!r}"
            )
        if selected is not None and selected not in self._shown_cohorts:
            shown = ", ".join(cohort_label(c, self.period) for c in self._shown_cohorts[:1])
            self.selected_cohort = None
            self._set_highlight("")
            raise ValueError(
                f"cohort {cohort_label(selected, self.period)} is not in the grid "
                f"(cohorts shown start at {shown or 'none'})"
            )

    def _highlight(self) -> None:
        self._check_selection()
        selected = self._good_selection = self.selected_cohort
        # A param change, not a new chart: the page updates in place, nothing is recomputed.
        self._set_highlight("" if selected is None else cohort_key(selected))

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
        zone = self.session.cohort_zone()
        self.selected_cohort = cohort.tz_localize(zone) if zone is not None else cohort
