"""The parts widgets are built from: chart slots that survive chart swaps, escaped HTML
tables, CSV links, the rows-left-out status text, and the page styles."""

from __future__ import annotations

import base64
import html
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import altair as alt
import ipywidgets as widgets
import pandas as pd

from kpiwidgets.metrics import DroppedRowsWarning
from kpiwidgets.metrics._engines import collect_pandas as to_pandas
from kpiwidgets.widgets._chart import chart_widget
from kpiwidgets.widgets._export import ExportBar, file_stem

__all__ = [
    "STYLES",
    "ChartSlot",
    "csv_download_link",
    "html_table",
    "placeholder_chart",
    "rows_left_out",
    "to_pandas",
]

STYLES = """<style>
.kpi-table { border-collapse: collapse; font-size: 12px; margin: 4px 0; }
.kpi-table th, .kpi-table td { padding: 3px 10px; text-align: right;
  border-bottom: 1px solid #e0e0e0; white-space: nowrap; }
.kpi-table th { border-bottom: 2px solid #999; background: #f6f6f6; }
.kpi-table td:first-child, .kpi-table th:first-child { text-align: left; }
.kpi-table-more, .kpi-table-note { color: #666; font-size: 11px; margin: 2px 0 6px; }
.kpi-busy { opacity: 0.6; transition: opacity 0.2s; }
.kpi-busy-label { color: #b35c00; }
</style>"""


class ChartSlot:
    """One chart widget on the page whose chart is replaced in place.

    Assigning a new chart to a JupyterChart rebuilds its ``selections`` object, which silently
    drops observers registered on the old one; the slot re-registers them after every swap.
    Reusing one widget also keeps the offline Vega bundle from being sent again.
    """

    def __init__(self, chart: alt.TopLevelMixin, *, css_class: str) -> None:
        with _inline_rows_unlimited():
            self.widget = chart_widget(chart, css_class="kpi-chart")
        self.widget.add_class(css_class)
        self._observers: list[tuple[str, Callable[[Any], None]]] = []
        self._chart, self._table = chart, None
        #: PNG / SVG / CSV of what the slot shows (see ``_export``); ``view`` is what a layout
        #: places: the buttons above the chart.
        self.export = ExportBar(lambda: self._chart, lambda: self._table, name=file_stem(css_class))
        self.export.add_class(f"{css_class}-export")
        self.view = widgets.VBox([self.export, self.widget], layout=widgets.Layout(width="100%"))

    def update(self, chart: alt.TopLevelMixin, table: pd.DataFrame | None = None) -> None:
        """Show ``chart``; ``table`` is what its CSV holds (default: the chart's own data)."""
        self._chart, self._table = chart, table
        with _inline_rows_unlimited():
            self.widget.chart = chart
        for name, callback in self._observers:
            self._register(name, callback)

    def on_select(self, name: str, callback: Callable[[Any], None]) -> None:
        """Call ``callback(selection)`` when the chart's selection ``name`` changes."""
        self._observers.append((name, callback))
        self._register(name, callback)

    def _register(self, name: str, callback: Callable[[Any], None]) -> None:
        selections = self.widget.selections
        if name in selections.trait_names():
            selections.observe(lambda change: callback(change["new"]), [name])


@contextmanager
def rows_left_out() -> Iterator[dict[str, int]]:
    """Collect the rows a metric left out (its ``DroppedRowsWarning`` counts), any engine.

    The warnings are caught, not shown: the widget says it in its status line instead.
    """
    counts: dict[str, int] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DroppedRowsWarning)
        yield counts
    for warning in caught:
        if isinstance(warning.message, DroppedRowsWarning):
            for reason, n in warning.message.counts.items():
                counts[reason] = max(counts.get(reason, 0), n)
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )


def left_out_text(counts: dict[str, int]) -> str:
    """Status-line text for rows left out, e.g. "12 rows left out (null entity_id: 12)"."""
    total = counts.get("rows left out", 0)
    if not total:
        return ""
    detail = ", ".join(f"{k}: {v:,}" for k, v in counts.items() if k != "rows left out")
    return html.escape(f"{total:,} rows left out ({detail})")


@contextmanager
def _inline_rows_unlimited() -> Iterator[None]:
    """Lift Altair's 5,000-row guard on inline data while a widget chart is built.

    Widgets send only aggregated results, but a daily retention grid or a long trend can pass
    the guard. Only Altair's default transformer has it; a user who chose another transformer
    ("json", "csv", ...) keeps theirs untouched. The previous setting is restored on exit.
    """
    if alt.data_transformers.active != "default":
        yield
        return
    with alt.data_transformers.enable("default", max_rows=None):
        yield


def html_table(frame: pd.DataFrame, *, max_rows: int = 20, css_class: str = "") -> str:
    """Render the first ``max_rows`` rows as an HTML table; every cell is escaped.

    Durations are shown in days, floats with four significant digits.
    """
    shown = frame.head(max_rows).copy()
    for column in shown.columns:
        # Durations read best in days; pandas would print "12 days 02:30:46.250000".
        if pd.api.types.is_timedelta64_dtype(shown[column]):
            days = shown[column] / pd.Timedelta(days=1)
            shown[column] = [f"{d:,.1f} d" if pd.notna(d) else "" for d in days]
    body = shown.to_html(
        index=False,
        escape=True,
        na_rep="",
        border=0,
        classes=css_class,
        float_format=lambda v: f"{v:,.4g}",
    )
    if len(frame) > max_rows:
        body += f"<div class='kpi-table-more'>first {max_rows:,} of {len(frame):,} rows</div>"
    return body


def csv_download_link(frame: pd.DataFrame, *, filename: str, label: str) -> str:
    """An ``<a download>`` link carrying ``frame`` as CSV in a data URL (no server needed)."""
    payload = base64.b64encode(frame.to_csv(index=False).encode()).decode()
    return (
        f'<a class="kpi-download" download="{html.escape(filename, quote=True)}" '
        f'href="data:text/csv;base64,{payload}">{html.escape(label)}</a>'
    )


def placeholder_chart() -> alt.Chart:
    """An empty chart for a slot whose real chart is drawn on first use."""
    return alt.Chart(pd.DataFrame({"x": []})).mark_point()
