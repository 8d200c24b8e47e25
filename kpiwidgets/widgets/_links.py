"""Deep links: a page's query string sets a widget's initial settings, and a link gives the
URL of the current view.

The query string is untrusted input: it is parsed, never evaluated; only known settings
with valid values apply (:meth:`KPIWidget.apply_settings`), everything else is said in a
visible notice ("… ignored"), and no text from it reaches HTML unescaped.
"""

from __future__ import annotations

import html
import os
from typing import Any
from urllib.parse import parse_qsl, urlencode

import ipywidgets as widgets
import pandas as pd
import traitlets

from kpiwidgets.widgets._base import KPIWidget

__all__ = ["ViewLink", "deep_link", "page_query", "settings_from_query", "view_query"]

MAX_QUERY = 2_000  # characters read from the query string
MAX_KEYS = 20
MAX_VALUE = 200
_NONE = ("", "none", "null", "all")


def page_query() -> str:
    """The query string of the page running this kernel (Voila), or "" outside Voila."""
    query = os.environ.get("QUERY_STRING", "")
    if not query:
        try:  # a preheated kernel learns it when the real request arrives
            from voila.utils import get_query_string

            query = get_query_string() or ""
        except Exception:
            query = ""
    return query


def settings_from_query(widget: KPIWidget, query: str) -> tuple[dict[str, Any], list[str]]:
    """Parse ``query`` into the widget's settings: (values to apply, lines about what was
    ignored). Values are converted by the setting's kind: a list from commas, a number from
    digits, "none" / "all" / "" to None where None is allowed."""
    ignored: list[str] = []
    if len(query) > MAX_QUERY:
        ignored.append(f"the link's query string is longer than {MAX_QUERY} characters: ignored")
        return {}, ignored
    pairs = parse_qsl(query.lstrip("?"), keep_blank_values=True)
    if len(pairs) > MAX_KEYS:
        ignored.append(f"more than {MAX_KEYS} parameters: the ones after the {MAX_KEYS}th ignored")
        pairs = pairs[:MAX_KEYS]
    names = set(widget.setting_names())
    values: dict[str, Any] = {}
    for key, raw in pairs:
        if key not in names:
            ignored.append(f"{_short(key)}: not a setting of {type(widget).__name__}")
            continue
        if len(raw) > MAX_VALUE:
            ignored.append(f"{key}: a value longer than {MAX_VALUE} characters")
            continue
        values[key] = _convert(widget.traits()[key], raw)
    return values, ignored


def _convert(trait: traitlets.TraitType, raw: str) -> Any:
    if raw.strip().lower() in _NONE and trait.allow_none:
        return None
    if isinstance(trait, traitlets.List):
        return [part.strip() for part in raw.split(",") if part.strip()]
    if isinstance(trait, traitlets.Bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(trait, (traitlets.Int, traitlets.Float)):
        try:
            return int(raw) if isinstance(trait, traitlets.Int) else float(raw)
        except ValueError:
            return raw  # apply_settings says it is not a valid value
    return raw


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def view_query(widget: KPIWidget) -> str:
    """The query string that opens ``widget``'s current view (its non-default settings)."""
    pairs = []
    for name in widget.setting_names():
        value = widget.settings.get(name)
        if value == widget.traits()[name].default():
            continue
        pairs.append((name, _text(value)))
    return urlencode(pairs)


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    if isinstance(value, pd.Timestamp):
        return str(value.date()) if value == value.normalize() else value.isoformat()
    if isinstance(value, pd.Timedelta):
        return f"{value.days}D" if value == pd.Timedelta(days=value.days) else str(value)
    return str(value)


class ViewLink(widgets.HTML):
    """The page's line under a widget: what a link's settings ignored, and a "Link to this
    view" kept in step with the widget's settings. :meth:`apply` applies a query string."""

    def __init__(self, widget: KPIWidget) -> None:
        super().__init__()
        self.add_class("kpi-deep-link")
        self.widget = widget
        self.ignored: list[str] = []
        widget.observe(self._refresh, "settings")
        self._refresh()

    def apply(self, query: str | None = None) -> list[str]:
        """Apply ``query`` (default: the page's query string) to the widget's settings;
        return (and show) what was ignored."""
        values, ignored = settings_from_query(self.widget, page_query() if query is None else query)
        if values:
            ignored += self.widget.apply_settings(values)
        self.ignored = ignored
        self._refresh()
        return ignored

    def _refresh(self, _change: Any = None) -> None:
        notice = ""
        if self.ignored:
            notice = (
                '<div class="kpi-link-ignored" style="color:#8a5300">Link settings ignored: '
                + html.escape("; ".join(self.ignored))
                + "</div>"
            )
        href = "?" + view_query(self.widget)
        self.value = notice + (
            f'<a class="kpi-view-link" href="{html.escape(href, quote=True)}" '
            'target="_self">Link to this view</a>'
        )


def deep_link(widget: KPIWidget, query: str | None = None, *, apply: bool = True) -> ViewLink:
    """A :class:`ViewLink` for ``widget``; with ``apply`` (default) the page's query string
    (or ``query``) is applied at once. Apps apply it after their checks
    (``link = kw.deep_link(w, apply=False)`` ... ``link.apply()``).

    >>> import kpiwidgets as kw
    >>> board = kw.KPIBoard(kw.load_demo(n_leads=1_000), kpis=["leads"])
    >>> line = deep_link(board, "period=Y&colour=<b>red</b>")
    >>> board.period, "colour" in line.value, "<b>red" in line.value
    ('Y', True, False)
    """
    line = ViewLink(widget)
    if apply:
        line.apply(query)
    return line
