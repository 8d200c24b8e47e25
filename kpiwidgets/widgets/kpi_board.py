"""``KPIBoard``: the scorecard — a tile per KPI, and a click opens its detail."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import ipywidgets as widgets
import pandas as pd
import traitlets

from kpiwidgets.charts.format import Formatter
from kpiwidgets.charts.kpis import kpi_trend_chart, sparkline_svg
from kpiwidgets.metrics.kpis import entry
from kpiwidgets.metrics.scorecard import ScorecardSession
from kpiwidgets.widgets._base import COMPUTE, Frame, KPIWidget
from kpiwidgets.widgets._parts import ChartSlot, csv_download_link, html_table, placeholder_chart

__all__ = ["KPIBoard"]

GROUPS = ("all", "marketing", "sales", "customers")
_TITLES = {"marketing": "Marketing", "sales": "Sales", "customers": "Customers"}
_OVERALL = "__overall__"
_TILE_CSS = """<style>
.kpi-tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr));
  gap: 8px; margin: 4px 0 12px; }
.kpi-tile { border: 1px solid #ddd; border-radius: 6px; padding: 8px 10px; background: #fff; }
.kpi-tile.kpi-tile-selected { border-color: #4c78a8; box-shadow: 0 0 0 2px #4c78a8 inset; }
.kpi-tile.kpi-tile-missing { background: #f3f3f3; color: #888; }
.kpi-tile-label { font-size: 12px; color: #555; }
.kpi-tile-value { font-size: 22px; font-weight: 600; margin: 2px 0; }
.kpi-tile-change { font-size: 12px; }
.kpi-tile-good { color: #1a7f37; } .kpi-tile-bad { color: #c0392b; } .kpi-tile-flat { color: #777; }
.kpi-tile-target { font-size: 11px; color: #555; }
.kpi-tile-met { color: #1a7f37; font-weight: 600; }
.kpi-tile-notmet { color: #c0392b; font-weight: 600; }
.kpi-group-title { font-weight: 600; margin: 6px 0 2px; }
.kpi-detail-formula { color: #555; font-size: 12px; margin: 2px 0 6px; }
</style>"""


def _setting(trait: traitlets.TraitType) -> traitlets.TraitType:
    return trait.tag(setting=True)


def _period_label(ts: pd.Timestamp, period: str) -> str:
    if period == "Y":
        return str(ts.year)
    if period == "Q":
        return f"{ts.year} Q{(ts.month - 1) // 3 + 1}"
    return f"{ts.year}-{ts.month:02d}"


class KPIBoard(KPIWidget):
    """A scorecard of KPI tiles (value, change, target, sparkline); a click on a tile's
    *Details* opens the KPI over time, broken down by a chosen column, with its formula and
    the numbers behind it as CSV.

    Parameters
    ----------
    data
        A :class:`kw.Dataset` (e.g. ``kw.load_demo()``) or a mapping of table → frame.
    kpis
        Catalog names to show (default: the whole catalog), in groups marketing, sales,
        customers.
    period
        ``"M"``, ``"Q"`` (default) or ``"Y"`` (also a setting).
    targets
        A frame (kpi, period, target) or ``{kpi: target}``; default the Dataset's
        ``targets`` table (see :class:`kw.ScorecardSession`).
    currency, locale
        How money and numbers are written (Babel): ``currency="BRL", locale="pt_BR"``
        shows ``R$ 1.234,56``. Default USD / en.

    Settings
    --------
    period : {"M", "Q", "Y"}
    as_of : date-like or None
        The period the tiles show (its start; default the latest with values). Change is
        against the period before it.
    group : {"all", "marketing", "sales", "customers"}
    selected : str or None
        The KPI whose detail is open (a click on *Details* sets it).
    breakdown : str or None
        The detail's breakdown column (one the selected KPI allows), None for overall.

    ``board.result`` is the frame of tile values (:meth:`ScorecardSession.tiles`);
    ``board.detail_result`` the detail's frame. A KPI whose table is missing shows as a
    greyed tile naming the table, not as an error.

    Examples
    --------
    >>> import kpiwidgets as kw
    >>> board = KPIBoard(kw.load_demo(n_leads=2_000), kpis=["leads", "cost_per_lead"])
    >>> board.result[["kpi", "value"]].values.tolist()[0]
    ['leads', 291.0]
    >>> board.selected = "cost_per_lead"
    >>> board.breakdown = "channel"
    >>> sorted(board.detail_result["channel"].unique())[:2]
    ['content', 'events']
    """

    REFRESH: ClassVar[dict[str, tuple[str, ...]]] = {
        "period": (COMPUTE, "tiles", "detail"),
        "as_of": (COMPUTE, "tiles"),
        "group": ("tiles",),
        "selected": (COMPUTE, "tiles", "detail"),
        "breakdown": (COMPUTE, "detail"),
    }

    period = _setting(traitlets.Enum(("M", "Q", "Y"), "Q", help="Calendar period."))
    as_of = _setting(traitlets.Any(None, allow_none=True, help="The period shown."))
    group = _setting(traitlets.Enum(GROUPS, "all", help="KPI group shown."))
    selected = _setting(traitlets.Any(None, allow_none=True, help="KPI with its detail open."))
    breakdown = _setting(traitlets.Any(None, allow_none=True, help="Detail breakdown."))
    detail_result = Frame(None, help="The detail drawn (ScorecardSession.detail).")

    def __init__(
        self,
        data: Any,
        kpis: Sequence[str] | None = None,
        period: str = "Q",
        targets: Any = None,
        *,
        currency: str = "USD",
        locale: str = "en",
        **settings: Any,
    ) -> None:
        self.format = Formatter(currency=currency, locale=locale)
        self.session = ScorecardSession(data, kpis=kpis, targets=targets)
        self._tiles_box = widgets.VBox()
        self._tiles_box.add_class("kpi-board-tiles")
        self._detail_head = widgets.HTML()
        self._detail_head.add_class("kpi-detail-head")
        self._detail_chart = ChartSlot(placeholder_chart(), css_class="kpi-detail-chart")
        self._detail_table = widgets.HTML()
        self._detail_table.add_class("kpi-detail-table")
        self._breakdown = widgets.Dropdown(options=[("overall", _OVERALL)], description="By")
        self._detail = widgets.VBox(
            [self._detail_head, self._breakdown, self._detail_chart.view, self._detail_table]
        )
        self._detail.add_class("kpi-detail")
        self._buttons: dict[str, widgets.Button] = {}
        self._summary = ""
        super().__init__(period=period, **settings)
        self.parts.update(
            tiles=self._tiles_box,
            detail=self._detail,
            detail_head=self._detail_head,
            detail_chart=self._detail_chart.widget,
            detail_table=self._detail_table,
        )
        self.add_class("kpi-board")

    # -- settings ------------------------------------------------------------------------
    @traitlets.validate("as_of")
    def _valid_as_of(self, proposal: dict[str, Any]) -> pd.Timestamp | None:
        value = proposal["value"]
        if value is None or value == "":
            return None
        try:
            return pd.Timestamp(value)
        except (TypeError, ValueError) as exc:
            raise traitlets.TraitError(
                f"as_of: expected a period start such as '2025-10-01', found {value!r}"
            ) from exc

    @traitlets.validate("selected", "breakdown")
    def _valid_name(self, proposal: dict[str, Any]) -> str | None:
        value = proposal["value"]
        return None if value in (None, "", _OVERALL) else str(value)

    def adjust(self, changed: set[str]) -> None:
        """A breakdown the newly selected KPI does not allow falls back to overall."""
        if "selected" in changed and "breakdown" not in changed and self.selected is not None:
            allowed = entry(self.selected).by if self.selected in self.session.names else ()
            if self.breakdown not in allowed:
                self.breakdown = None

    # -- lifecycle -----------------------------------------------------------------------
    def compute(self) -> None:
        s = self.session
        if self.selected is not None and self.selected not in s.names:
            raise ValueError(
                f"selected: {self.selected!r} is not a KPI on this board; on it: "
                f"{', '.join(s.names[:8])}{'…' if len(s.names) > 8 else ''}"
            )
        self.result = s.tiles(self.period, self.as_of)
        if self.selected is not None:
            self.detail_result = s.detail(self.selected, self.period, self.breakdown)
        else:
            self.detail_result = None
        at = self.result["period"].iloc[0]
        shown = int(self.result["available"].sum())
        self._summary = html.escape(
            f"{len(self.result)} KPIs · {_period_label(at, self.period)} against the period "
            f"before · {shown} computed"
            + (
                f", {len(self.result) - shown} need tables the data lacks"
                if shown < len(self.result)
                else ""
            )
        )

    def draw(self, parts: set[str]) -> None:
        if "tiles" in parts:
            self._draw_tiles()
        if "detail" in parts:
            self._draw_detail()

    def status_text(self) -> str:
        return self._summary

    def layout(self) -> tuple[list[widgets.Widget], list[widgets.Widget]]:
        def toggle(name: str, options: list[tuple[str, str]], description: str):
            control = widgets.ToggleButtons(
                options=options,
                description=description,
                style={"button_width": "auto", "description_width": "auto"},
            )
            return self.link(control, name)

        period = toggle("period", [("Month", "M"), ("Quarter", "Q"), ("Year", "Y")], "Period")
        group = toggle("group", [(g.capitalize(), g) for g in GROUPS], "Show")
        as_of = widgets.Dropdown(options=[("latest", _OVERALL)], description="As of")
        self.link(
            as_of,
            "as_of",
            from_control=lambda v: None if v == _OVERALL else v,
            to_control=lambda v: _OVERALL if v is None else v,
        )
        self.link(
            self._breakdown,
            "breakdown",
            from_control=lambda v: None if v == _OVERALL else v,
            to_control=lambda v: _OVERALL if v is None else v,
        )
        style = widgets.HTML(_TILE_CSS, layout=widgets.Layout(display="none"))
        wrap = widgets.Layout(flex_flow="row wrap", align_items="center")
        # The detail sits above the tiles, where a click on Details shows it at once.
        return [style, widgets.HBox([period, as_of, group], layout=wrap)], [
            self._detail,
            self._tiles_box,
        ]

    # -- drawing ---------------------------------------------------------------------------
    def _draw_tiles(self) -> None:
        self._sync_as_of()
        tiles = self.result
        boxes: list[widgets.Widget] = []
        self._buttons = {}
        groups = [g for g in GROUPS[1:] if self.group in ("all", g)]
        for group in groups:
            rows = tiles[tiles["group"] == group]
            if rows.empty:
                continue
            cells = [self._tile(row) for row in rows.itertuples()]
            title = widgets.HTML(f'<div class="kpi-group-title">{_TITLES[group]}</div>')
            grid = widgets.Box(cells)
            grid.add_class("kpi-tiles")
            boxes += [title, grid]
        self._tiles_box.children = boxes

    def _tile(self, row: Any) -> widgets.Widget:
        f = self.format
        label = html.escape(str(row.label))
        if not row.available:
            body = (
                f'<div class="kpi-tile-label">{label}</div>'
                f'<div class="kpi-tile-value">–</div>'
                f'<div class="kpi-tile-target">{html.escape(_needs(row.reason))}</div>'
            )
            cell = widgets.VBox([widgets.HTML(body)])
            cell.add_class("kpi-tile")
            cell.add_class("kpi-tile-missing")
            cell.add_class(f"kpi-tile-{row.kpi}")
            return cell
        value = f.compact(row.value, row.unit)
        if row.leader is not None and not (
            isinstance(row.leader, float) and math.isnan(row.leader)
        ):
            value = f"{html.escape(str(row.leader))}: {html.escape(value)}"
        else:
            value = html.escape(value)
        change = f.change(row.delta, row.unit, relative=row.relative)
        flat = f.rounds_to_zero(row.delta, row.unit, row.relative)
        good = "flat" if flat else _direction(row.delta, row.better)
        target = ""
        if not _nan(row.target):
            mark = {"met": "met", "not met": "not met"}.get(row.status, "")
            css = "kpi-tile-met" if row.status == "met" else "kpi-tile-notmet"
            goal = html.escape(f.compact(row.target, row.unit))
            target = (
                f'<div class="kpi-tile-target">target {goal}'
                f' · <span class="{css}">{mark}</span></div>'
            )
        body = (
            f'<div class="kpi-tile-label" title="{html.escape(str(entry(row.kpi).formula))}">'
            f"{label}</div>"
            f'<div class="kpi-tile-value">{value}</div>'
            f'<div class="kpi-tile-change kpi-tile-{good}">{html.escape(change)} vs previous</div>'
            f"{target}{sparkline_svg(row.history)}"
        )
        button = widgets.Button(description="Details", layout=widgets.Layout(width="auto"))
        button.add_class("kpi-tile-details")
        button.on_click(lambda _b, name=row.kpi: self._open(name))
        self._buttons[row.kpi] = button
        cell = widgets.VBox([widgets.HTML(body), button])
        cell.add_class("kpi-tile")
        cell.add_class(f"kpi-tile-{row.kpi}")
        if row.kpi == self.selected:
            cell.add_class("kpi-tile-selected")
        return cell

    def _open(self, name: str) -> None:
        self.selected = None if name == self.selected else name

    def _sync_as_of(self) -> None:
        control = self.controls["as_of"]
        periods = self.session.periods(self.period)
        options = [("latest", _OVERALL)] + [(_period_label(p, self.period), p) for p in periods]
        if list(control.options) != options:
            control.options = options
        control.value = _OVERALL if self.as_of is None else self.as_of

    def _draw_detail(self) -> None:
        name = self.selected
        self._detail.layout.display = "none" if name is None else ""
        if name is None:
            return
        k = entry(name)
        options = [("overall", _OVERALL)] + [(b, b) for b in k.by]
        if list(self._breakdown.options) != options:
            keep = self.breakdown
            with self.hold():
                # New options reset the menu to its first entry, which would write "overall"
                # back into the setting: put the setting back.
                self._breakdown.options = options
                self.breakdown = keep
        self._breakdown.value = _OVERALL if self.breakdown is None else self.breakdown
        self._breakdown.disabled = not k.by
        opts = "; ".join(f"{o} = {d!r} ({why})" for o, (d, why) in k.options.items())
        self._detail_head.value = (
            f"<h3>{html.escape(k.label)}</h3>"
            f'<div class="kpi-detail-formula">{html.escape(k.formula)} · tables: '
            f"{html.escape(', '.join(k.tables))} · a row's period by {html.escape(k.period_by)}"
            + (f"<br>options: {html.escape(opts)}" if opts else "")
            + "</div>"
        )
        frame = self.detail_result
        target = None
        t = self.session.targets
        if isinstance(t, pd.DataFrame) and self.breakdown is None:
            periods = frame.get("period", [])
            target = pd.DataFrame(
                {
                    "period": list(periods),
                    "target": [self.session.target_for(name, self.period, p) for p in periods],
                }
            ).dropna()
        self._detail_chart.update(
            kpi_trend_chart(
                frame,
                label=k.label,
                unit=k.unit,
                formula=k.formula,
                by=self.breakdown,
                target=target,
                formatter=self.format,
            ),
            table=frame,
        )
        self._detail_table.value = ""  # replaced below; kept short while the chart swaps
        shown = _display(frame, k.unit, self.format, self.period)
        link = csv_download_link(
            frame, filename=f"{name}_{self.period}.csv", label="Download these rows (CSV)"
        )
        self._detail_table.value = html_table(shown, max_rows=40, css_class="kpi-table") + link


def _display(frame: pd.DataFrame, unit: str, f: Formatter, period: str) -> pd.DataFrame:
    """The detail's rows as the page shows them: latest period first, values in the team's
    format (the CSV keeps the raw numbers)."""
    shown = frame.copy()
    if "period" in shown:
        shown = shown.sort_values("period", ascending=False, kind="stable")
        shown["period"] = [_period_label(p, period) for p in shown["period"]]
    if "value" in shown:
        shown["value"] = [f.value(v, unit) for v in shown["value"]]
    for column in ("numerator", "denominator"):
        if column in shown:
            shown[column] = [f.number(v, 0 if float(v).is_integer() else 2) for v in shown[column]]
    if "n" in shown:
        shown["n"] = [f.number(v) for v in shown["n"]]
    return shown


def _needs(reason: str) -> str:
    if "no '" in reason:
        table = reason.split("no '", 1)[1].split("'", 1)[0]
        return f"needs the {table!r} table"
    return "cannot be computed: " + reason.split(";", 1)[0]


def _nan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _direction(delta: float, better: str) -> str:
    if _nan(delta) or delta == 0:
        return "flat"
    up = delta > 0
    return "good" if up == (better == "higher") else "bad"
