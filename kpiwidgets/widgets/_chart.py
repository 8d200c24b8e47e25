"""Putting an Altair chart on a page: offline JupyterChart widgets.

``alt.JupyterChart`` is an ipywidgets DOMWidget, so it lives in the widget layer; ``charts/``
only builds chart specs.
"""

from __future__ import annotations

import functools

import altair as alt
import anywidget
import ipywidgets as widgets
import traitlets

__all__ = ["Chart", "VegaBundle", "chart_widget", "enable_offline"]


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


class VegaBundle(anywidget.AnyWidget):
    """The offline Vega JavaScript (Altair's chart widget bundled with vega-embed, ~0.9 MB),
    sent to the page once per kernel and shared by every :class:`Chart`."""

    _esm = traitlets.Unicode("export default {};").tag(sync=True)
    source = traitlets.Unicode().tag(sync=True)


@functools.cache
def shared_bundle() -> VegaBundle:
    """The kernel's one :class:`VegaBundle` (made on first use)."""
    enable_offline()
    return VegaBundle(source=alt.JupyterChart._esm)


# A chart's own module is this loader: it imports the shared bundle's source once per page
# (cached by the bundle's model id) and lets Altair's widget code draw the chart.
_LOADER = """
const cache = (globalThis.__kpiwidgetsVega ??= new Map());
function bundle(model) {
  const id = String(model.get("_bundle")).replace(/^IPY_MODEL_/, "");
  if (!cache.has(id)) {
    cache.set(id, model.widget_manager.get_model(id).then((holder) => {
      const url = URL.createObjectURL(
        new Blob([holder.get("source")], { type: "text/javascript" })
      );
      return import(/* webpackIgnore: true */ url);
    }));
  }
  return cache.get(id);
}
export default {
  async render(context) {
    const altair = await bundle(context.model);
    return altair.default.render(context);
  },
};
"""


class Chart(alt.JupyterChart):
    """An offline :class:`altair.JupyterChart` that does not carry the Vega JavaScript itself.

    ``alt.JupyterChart.enable_offline()`` puts the whole bundle into every chart widget's
    state, so a page of twelve charts receives twelve copies (12 MB). Here each chart refers
    to the kernel's one :class:`VegaBundle`, and the page imports it once.
    """

    _esm = traitlets.Unicode(_LOADER).tag(sync=True)
    _bundle = traitlets.Instance(VegaBundle).tag(sync=True, **widgets.widget_serialization)

    def __init__(self, chart: alt.TopLevelMixin, **kwargs) -> None:
        super().__init__(chart, _bundle=shared_bundle(), **kwargs)


def chart_widget(chart: alt.TopLevelMixin, *, css_class: str = "kpi-chart") -> Chart:
    """Wrap ``chart`` in an offline chart widget (:class:`Chart`) with a stable CSS class.

    Browser tests and app styles find charts by ``css_class``; vega-embed puts its own
    ``vega-embed`` class on the same element. Charts are drawn as SVG so each mark is an
    element a test (or a screen reader) can find.
    """
    widget = Chart(chart, embed_options={"renderer": "svg", "actions": False})
    widget.add_class(css_class)
    # Charts sized "container" need a container with a width: a bare JupyterChart is 0 px
    # wide in Voila and JupyterLab, so the chart would draw nothing.
    widget.layout.width = "100%"
    return widget
