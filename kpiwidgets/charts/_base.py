"""Shared chart plumbing: offline rendering and the JupyterChart wrapper every widget uses."""

from __future__ import annotations

import functools

import altair as alt

__all__ = ["chart_widget", "enable_offline"]

# One palette for categorical series across every chart, so "events" is the same colour in
# the overview, the funnel breakdown and the retention curves.
CATEGORY_SCHEME = "tableau10"

#: Width of charts inside widgets. A chart sized "container" measures its container when it
#: is embedded; nested in ipywidgets boxes it is embedded before the box is attached to the
#: page, measures 0 px and draws blank until the window is resized. Widgets therefore use a
#: fixed width (top-level charts in a notebook may use "container").
WIDGET_CHART_WIDTH = 760


@functools.cache
def enable_offline() -> None:
    """Serve the Vega JavaScript from the installed packages, never from a CDN.

    Needs ``vl-convert-python`` (which carries the JavaScript) and ``anywidget``; both are
    dependencies of kpiwidgets. Idempotent.
    """
    try:
        alt.JupyterChart.enable_offline()
    except ImportError as exc:  # pragma: no cover - both are declared dependencies
        raise ImportError(
            "kpiwidgets charts need the packages 'vl-convert-python' and 'anywidget' to draw "
            "offline: pip install vl-convert-python anywidget"
        ) from exc
    alt.renderers.enable("jupyter", offline=True)


def chart_widget(chart: alt.TopLevelMixin, *, css_class: str = "kpi-chart") -> alt.JupyterChart:
    """Wrap ``chart`` in an offline :class:`altair.JupyterChart` with a stable CSS class.

    Browser tests and app styles find charts by ``css_class``; vega-embed puts its own
    ``vega-embed`` class on the same element. Charts are drawn as SVG so each mark is an
    element a test (or a screen reader) can find.
    """
    enable_offline()
    widget = alt.JupyterChart(chart, embed_options={"renderer": "svg", "actions": False})
    widget.add_class(css_class)
    # Charts sized "container" need a container with a width: a bare JupyterChart is 0 px
    # wide in Voila and JupyterLab, so the chart would draw nothing.
    widget.layout.width = "100%"
    return widget
