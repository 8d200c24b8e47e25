"""The shared widget shell: errors stay inside the widget, chart selections survive swaps."""

from __future__ import annotations

import altair as alt
import pandas as pd

from kpiwidgets.widgets._base import ChartSlot, KPIWidget, csv_download_link, html_table
from tests.helpers import click_point


def _bar_chart(values):
    pick = alt.selection_point(name="pick", fields=["x"])
    data = pd.DataFrame({"x": values, "y": range(len(values))})
    return alt.Chart(data).mark_bar().encode(x="x:N", y="y:Q").add_params(pick)


def _click(slot, value):
    click_point(slot.widget, "pick", x=value)


def test_failed_update_is_shown_in_the_widget_and_the_widget_keeps_working():
    w = KPIWidget()
    w.children = [w._status, w._error_box]

    def broken():
        raise ValueError("step 'demo' is not in the data; events present: lead, won")

    assert w._update(broken) is False
    assert w.error.startswith("step 'demo'")
    assert "&#x27;demo&#x27;" in w._error_box.value  # escaped, shown
    assert w._error_box.layout.display == ""
    assert w.busy is False
    assert w._update(lambda: "12 leads") is True
    assert w.error == "" and w._error_box.layout.display == "none"
    assert w._status.value == "12 leads"


def test_chart_slot_keeps_selection_observers_after_a_chart_swap():
    seen = []
    slot = ChartSlot(_bar_chart(["a", "b"]), css_class="kpi-test")
    slot.on_select("pick", lambda value: seen.append(value))
    _click(slot, "a")
    slot.update(_bar_chart(["a", "b", "c"]))
    _click(slot, "c")
    assert [v.value[0]["x"] for v in seen] == ["a", "c"]
    assert "kpi-test" in slot.widget._dom_classes and "kpi-chart" in slot.widget._dom_classes


def test_html_table_escapes_user_text_and_says_what_is_cut():
    frame = pd.DataFrame({"name": ["<script>alert(1)</script>", "ok", "x"]})
    out = html_table(frame, max_rows=2)
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "first 2 of 3 rows" in out


def test_csv_download_link_carries_the_full_frame():
    import base64

    frame = pd.DataFrame({"entity": [f"L{i}" for i in range(100)]})
    link = csv_download_link(frame, filename='drop "offs".csv', label="Download")
    payload = link.split("base64,")[1].split('"')[0]
    assert base64.b64decode(payload).decode().splitlines()[1:] == frame.entity.tolist()
    assert 'download="drop &quot;offs&quot;.csv"' in link
