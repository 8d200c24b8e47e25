"""Constants every chart shares (the widget layer owns putting charts on a page)."""

from __future__ import annotations

__all__ = ["CATEGORY_SCHEME", "WIDGET_CHART_WIDTH"]

# One palette for categorical series across every chart, so "events" is the same colour in
# the overview, the funnel breakdown and the retention curves.
CATEGORY_SCHEME = "tableau10"

#: Width of charts inside widgets. A chart sized "container" measures its container when it
#: is embedded; nested in ipywidgets boxes it is embedded before the box is attached to the
#: page, measures 0 px and draws blank until the window is resized. Widgets therefore use a
#: fixed width (top-level charts in a notebook may use "container").
WIDGET_CHART_WIDTH = 760
