"""Save a chart as PNG or SVG and its table as CSV, from the page, offline.

The images are drawn in the kernel by vl-convert (through Altair's ``save``), which carries
its own Vega and fonts: nothing is fetched, and the file is the chart as specified, not a
screenshot of the page. A click on a button sends a message to the kernel; the kernel answers
with the file's bytes, which the browser saves under the file name given.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import altair as alt
import anywidget
import pandas as pd
import traitlets

__all__ = ["EXPORT_WIDTH", "ExportBar", "chart_table", "export_bytes", "file_stem"]

#: Width in pixels of an exported chart sized to its container (a file has no container).
EXPORT_WIDTH = 900
KINDS = {
    "png": ("image/png", "PNG", "Save the chart as a PNG image"),
    "svg": ("image/svg+xml", "SVG", "Save the chart as an SVG image"),
    "csv": ("text/csv", "CSV", "Download the chart's table as CSV"),
}

_ESM = """
function render({ model, el }) {
  el.classList.add("kpi-export");
  const note = document.createElement("span");
  note.className = "kpi-export-note";
  const buttons = [];
  const draw = () => {
    for (const b of buttons) b.remove();
    buttons.length = 0;
    for (const [kind, label, title] of model.get("kinds")) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "kpi-export-button kpi-export-" + kind;
      b.textContent = label;
      b.title = title;
      b.addEventListener("click", () => {
        note.textContent = "";
        model.send({ kind });
      });
      buttons.push(b);
      el.insertBefore(b, note);
    }
  };
  el.appendChild(note);
  draw();
  model.on("change:kinds", draw);
  model.on("msg:custom", (msg, buffers) => {
    if (msg.error) {
      note.textContent = msg.error;
      return;
    }
    const blob = new Blob([buffers[0]], { type: msg.mime });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = msg.filename;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
  });
}
export default { render };
"""

_CSS = """
.kpi-export { display: flex; gap: 4px; justify-content: flex-end; align-items: center;
  font-size: 11px; margin: 2px 0; }
.kpi-export-button { font-size: 11px; padding: 1px 8px; border: 1px solid #c8d0da;
  border-radius: 3px; background: #fff; color: #34495e; cursor: pointer; }
.kpi-export-button:hover { background: #eef3f8; }
.kpi-export-note { color: #b00020; }
"""


class ExportBar(anywidget.AnyWidget):
    """Buttons that save a chart (PNG, SVG) and its table (CSV); see the module docstring.

    ``chart`` and ``table`` are callables returning the current chart and frame, so the
    file is always the view on the page. A failure is said beside the buttons.
    """

    _esm = traitlets.Unicode(_ESM).tag(sync=True)
    _css = traitlets.Unicode(_CSS).tag(sync=True)
    kinds = traitlets.List().tag(sync=True)

    def __init__(
        self,
        chart: Callable[[], alt.TopLevelMixin],
        table: Callable[[], pd.DataFrame | None],
        *,
        name: str,
    ) -> None:
        super().__init__(kinds=[[k, label, title] for k, (_, label, title) in KINDS.items()])
        self._chart, self._table, self.name = chart, table, name
        self.on_msg(self._on_message)
        self.sent: list[tuple[str, str, int]] = []  # (filename, mime, size): what was saved

    def _on_message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        kind = content.get("kind") if isinstance(content, dict) else None
        if not isinstance(kind, str) or kind not in KINDS:
            return  # a message of the page we do not know: nothing to do
        self.save(kind)

    def save(self, kind: str) -> bytes | None:
        """Make the file of ``kind`` and send it to the page; returns its bytes."""
        mime = KINDS[kind][0]
        filename = f"{self.name}.{kind}"
        try:
            table = self._table() if kind == "csv" else None  # images need only the chart
            data = export_bytes(kind, self._chart(), table)
        except Exception as exc:  # the page says it; the widget keeps working
            self.send({"error": f"{kind.upper()} not saved: {exc}"})
            return None
        self.sent.append((filename, mime, len(data)))
        self.send({"filename": filename, "mime": mime}, buffers=[data])
        return data


def export_bytes(kind: str, chart: alt.TopLevelMixin, table: pd.DataFrame | None) -> bytes:
    """The file of ``kind`` ("png", "svg", "csv") for ``chart`` and its ``table``."""
    if kind not in KINDS:
        raise ValueError(f"export: unknown kind {kind!r}; one of {', '.join(KINDS)}")
    if kind == "csv":
        frame = table if table is not None else chart_table(chart)
        if frame is None:
            raise ValueError("this chart has no table")
        return frame.to_csv(index=False).encode()
    if getattr(chart, "width", None) == "container":
        chart = chart.properties(width=EXPORT_WIDTH)
    if kind == "png":
        out = io.BytesIO()
        chart.save(out, format="png", scale_factor=2)
        return out.getvalue()
    text = io.StringIO()
    chart.save(text, format="svg")
    return text.getvalue().encode()


def chart_table(chart: alt.TopLevelMixin) -> pd.DataFrame | None:
    """The frame a chart draws: its own data, or the first of its layers' / panels' (a
    repeated or faceted chart's inner spec included)."""
    data = getattr(chart, "data", None)
    if isinstance(data, pd.DataFrame):
        return data
    spec = getattr(chart, "spec", None)
    if isinstance(spec, alt.SchemaBase):
        found = chart_table(spec)
        if found is not None:
            return found
    for part in ("layer", "hconcat", "vconcat", "concat"):
        subs = getattr(chart, part, None)
        for sub in subs if isinstance(subs, list) else ():
            found = chart_table(sub)
            if found is not None:
                return found
    return None


def file_stem(css_class: str) -> str:
    """A file name from a chart's CSS class: ``kpi-funnel-chart`` → ``funnel-chart``."""
    return re.sub(r"[^a-z0-9_-]+", "-", css_class.removeprefix("kpi-").lower()).strip("-")
