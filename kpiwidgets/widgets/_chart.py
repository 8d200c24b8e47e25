"""Putting an Altair chart on a page: offline JupyterChart widgets.

``alt.JupyterChart`` is an ipywidgets DOMWidget, so it lives in the widget layer; ``charts/``
only builds chart specs.
"""

from __future__ import annotations

import functools

import altair as alt

__all__ = ["chart_widget", "enable_offline"]


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
