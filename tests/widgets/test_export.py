"""The export bar (``kpiwidgets/widgets/_export.py``) and its place in every chart slot.

Images are checked from their bytes (the PNG signature and IHDR chunk read by hand, the SVG
parsed as XML), tables against counts worked out here with plain pandas from the demo data,
and the bar's messages by recording what it sends to the page.
"""

from __future__ import annotations

import io
import re
import struct
import xml.etree.ElementTree as ET
import zlib
from typing import Any

import altair as alt
import ipywidgets as widgets
import numpy as np
import pandas as pd
import pytest

import kpiwidgets as kw
from kpiwidgets.widgets._export import (
    EXPORT_WIDTH,
    ExportBar,
    chart_table,
    export_bytes,
    file_stem,
)
from kpiwidgets.widgets._parts import ChartSlot
from tests.widgets.test_common import FACTORIES

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # an empty IEND chunk and its CRC
SVG = "{http://www.w3.org/2000/svg}"
SCALE = 2  # the PNG scale factor: an image pixel per half css pixel
FUNNEL_TITLE = "Funnel — click a step to see who dropped off"
STEPS = ["lead", "mql", "sql", "opportunity", "won"]  # the explorer's default steps
WINDOW = pd.Timedelta(days=30)  # the explorer's default window, "30D"


# -- reading the files by hand ---------------------------------------------------------------
def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the PNG's framing."""
    assert data[:8] == PNG_SIGNATURE
    length, chunk = struct.unpack(">I4s", data[8:16])
    assert (length, chunk) == (13, b"IHDR")  # IHDR is first and 13 bytes long
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", data[16:29]
    )
    (crc,) = struct.unpack(">I", data[29:33])
    assert crc == zlib.crc32(data[12:29])  # over the chunk type and body
    assert depth in {1, 2, 4, 8, 16} and colour in {0, 2, 3, 4, 6}
    assert (compression, filtering) == (0, 0) and interlace in {0, 1}
    assert data.endswith(PNG_END)
    return width, height


def svg_root(data: bytes) -> ET.Element:
    root = ET.fromstring(data)
    assert root.tag == f"{SVG}svg"
    return root


def svg_size(root: ET.Element) -> tuple[int, int]:
    return round(float(root.get("width"))), round(float(root.get("height")))


def svg_plot_width(root: ET.Element) -> float:
    """Width of the plot area: the background path of Vega's root frame, ``M0.5,0.5h<w>v…``."""
    for group in root.iter(f"{SVG}g"):
        classes = (group.get("class") or "").split()
        if "role-frame" in classes and "root" in classes:
            for path in group.iter(f"{SVG}path"):
                if path.get("class") == "background":
                    found = re.search(r"h(-?[\d.]+)v", path.get("d"))
                    assert found, path.get("d")
                    return float(found.group(1))
    raise AssertionError("no root frame in the SVG")


def svg_texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def assert_csv_holds(data: bytes, table: pd.DataFrame) -> pd.DataFrame:
    """``data`` read back as CSV has ``table``'s columns, rows and values (typed per column)."""
    back = pd.read_csv(io.BytesIO(data))
    assert list(back.columns) == [str(c) for c in table.columns]
    assert len(back) == len(table)
    for name in table.columns:
        want, got = table[name].reset_index(drop=True), back[str(name)]
        if pd.api.types.is_bool_dtype(want):
            assert got.tolist() == want.tolist(), name
        elif pd.api.types.is_timedelta64_dtype(want):
            seconds = pd.to_timedelta(got).dt.total_seconds()
            np.testing.assert_allclose(seconds, want.dt.total_seconds(), err_msg=name)
        elif pd.api.types.is_datetime64_any_dtype(want):
            ns = "datetime64[ns]"
            assert pd.to_datetime(got).astype(ns).equals(want.astype(ns)), name
        elif pd.api.types.is_numeric_dtype(want):
            np.testing.assert_allclose(got.to_numpy(float), want.to_numpy(float), err_msg=name)
        else:
            # (CSV writes "" and a null alike: both read back as missing)
            shown = want.astype(object).where(want.notna() & (want != ""), None)
            assert got.astype(object).where(got.notna(), None).tolist() == shown.tolist(), name
    return back


# -- funnel counts by hand ---------------------------------------------------------------------
def hand_funnel(events: pd.DataFrame, steps: list[str], window: pd.Timedelta) -> pd.DataFrame:
    """Ordered funnel, first entry: one row per entity and step reached, with its time.

    Entry = the entity's earliest step-1 event; step k = its earliest step-k event at or after
    step k-1 and no later than entry + window.
    """
    first = events[events["event"] == steps[0]]
    first = first.sort_values("timestamp").drop_duplicates("entity_id")
    reached = first[["entity_id", "timestamp"]].rename(columns={"timestamp": "t"})
    entry = reached.rename(columns={"t": "entry"})
    rows = [reached.assign(step_number=1)]
    for k, name in enumerate(steps[1:], start=2):
        candidates = events.loc[events["event"] == name, ["entity_id", "timestamp"]]
        joined = candidates.merge(reached, on="entity_id").merge(entry, on="entity_id")
        ok = joined[
            (joined["timestamp"] >= joined["t"]) & (joined["timestamp"] <= joined["entry"] + window)
        ]
        reached = ok.groupby("entity_id", as_index=False)["timestamp"].min()
        reached = reached.rename(columns={"timestamp": "t"})
        rows.append(reached.assign(step_number=k))
    return pd.concat(rows, ignore_index=True)


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ds():
    return kw.load_demo(n_leads=2_000)


@pytest.fixture(scope="module")
def explorer(ds):
    """A FunnelExplorer with its default settings; a test that changes one puts it back."""
    return FACTORIES[kw.FunnelExplorer](ds)


def widget_slots(widget: Any) -> dict[str, ChartSlot]:
    """The widget's chart slots, after showing every view so that each slot is drawn."""
    if isinstance(widget, kw.FunnelExplorer):
        for view in ("Trend", "Time to convert", "Funnel"):
            widget.view = view
        return {"funnel": widget._funnel, "trend": widget._views.trend, "ttc": widget._views.ttc}
    if isinstance(widget, kw.RetentionGrid):
        return {"grid": widget._grid, "curves": widget._curves}
    if isinstance(widget, kw.ForecastTracker):
        for view in ("periods", "trend", "managers", "projection"):
            widget.view = view
        return dict(widget._slots)
    if isinstance(widget, kw.KPIBoard):
        widget.selected = "leads"
        return {"detail": widget._detail_chart}
    raise AssertionError(f"no slots known for {type(widget).__name__}: add them here")


SLOT_NAMES = {
    kw.FunnelExplorer: {
        "funnel": "kpi-funnel-chart",
        "trend": "kpi-funnel-trend",
        "ttc": "kpi-funnel-time",
    },
    kw.RetentionGrid: {"grid": "kpi-retention-grid", "curves": "kpi-retention-curves"},
    kw.ForecastTracker: {
        k: f"kpi-forecast-{k.replace('_', '-')}"
        for k in ("by_week", "leaderboard", "periods", "trend", "managers", "projection")
    },
    kw.KPIBoard: {"detail": "kpi-detail-chart"},
}
SLOT_CASES = [(cls, name) for cls in FACTORIES for name in SLOT_NAMES[cls]]
SLOT_IDS = [f"{cls.__name__}-{name}" for cls, name in SLOT_CASES]


@pytest.fixture(scope="module")
def drawn(ds, explorer):
    """Every widget of the registry, built on the demo with every slot drawn."""
    built = {}
    for cls, factory in FACTORIES.items():
        widget = explorer if cls is kw.FunnelExplorer else factory(ds)
        built[cls] = (widget, widget_slots(widget))
        assert widget.error == "", widget.error
    return built


class Recorder:
    """Stands in for ``ExportBar.send``: keeps (content, buffers) of each message."""

    def __init__(self) -> None:
        self.messages: list[tuple[dict[str, Any], list[bytes] | None]] = []

    def __call__(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        self.messages.append((content, buffers))


def recording(bar: ExportBar) -> Recorder:
    recorder = Recorder()
    bar.send = recorder  # on the instance only
    return recorder


def points(width: Any = None, title: str = "Points") -> alt.Chart:
    frame = pd.DataFrame({"x": [0, 1, 2, 3], "y": [3, 1, 4, 1]})
    chart = alt.Chart(frame, title=title).mark_point().encode(x="x:Q", y="y:Q")
    sizes = {"height": 200} if width is None else {"width": width, "height": 200}
    return chart.properties(**sizes)


class BrokenChart:
    """A chart whose renderer fails."""

    width = 400

    def save(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("renderer is down")


# -- file_stem ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("css_class", "stem"),
    [
        ("kpi-funnel-chart", "funnel-chart"),
        ("kpi-forecast-by-week", "forecast-by-week"),
        ("kpi-kpi-board", "kpi-board"),  # one prefix only
        ("funnel-chart", "funnel-chart"),  # no prefix: kept
        ("kpi-Detail Chart", "detail-chart"),  # lower case, space replaced
        ("kpi-a/b\\c:d", "a-b-c-d"),  # path separators and colons cannot reach the name
        ("kpi-by_week", "by_week"),  # underscores are kept
        ("kpi-..grid..", "grid"),  # a run of odd characters is one dash; none at the ends
        ("kpi-größe", "gr-e"),  # not ASCII: replaced
    ],
)
def test_file_stem(css_class, stem):
    assert file_stem(css_class) == stem
    assert re.fullmatch(r"[a-z0-9_-]+", stem)


# -- PNG -----------------------------------------------------------------------------------
def test_png_of_a_container_chart_is_export_width_at_scale_2():
    chart = points(width="container")
    png = export_bytes("png", chart, None)
    svg = svg_root(export_bytes("svg", chart, None))
    # The plot area is EXPORT_WIDTH css px; axes and padding add to the image around it.
    assert svg_plot_width(svg) == EXPORT_WIDTH
    svg_width, svg_height = svg_size(svg)
    assert EXPORT_WIDTH < svg_width < EXPORT_WIDTH + 200
    width, height = png_size(png)
    assert (width, height) == (SCALE * svg_width, SCALE * svg_height)
    assert SCALE * EXPORT_WIDTH < width < SCALE * (EXPORT_WIDTH + 200)
    assert SCALE * 200 < height < SCALE * (200 + 200)  # height=200 plus the axis and title
    assert chart.width == "container"  # the chart on the page is not changed


def test_png_of_a_layered_container_chart_is_widened_too():
    chart = points(width="container") + points().mark_line()
    svg = svg_root(export_bytes("svg", chart, None))
    assert svg_plot_width(svg) == EXPORT_WIDTH
    assert png_size(export_bytes("png", chart, None))[0] > SCALE * EXPORT_WIDTH


def test_png_of_a_fixed_width_chart_keeps_its_width():
    chart = points(width=300)
    svg = svg_root(export_bytes("svg", chart, None))
    assert svg_plot_width(svg) == 300
    width, height = png_size(export_bytes("png", chart, None))
    assert (width, height) == tuple(SCALE * v for v in svg_size(svg))
    assert SCALE * 300 < width < SCALE * (300 + 200) < SCALE * EXPORT_WIDTH


def test_png_of_the_funnel_keeps_the_widget_width(explorer):
    slot = explorer._funnel
    data = slot.export.save("png")
    svg = svg_root(slot.export.save("svg"))
    assert slot._chart.width != "container"
    assert svg_plot_width(svg) == slot._chart.width
    assert png_size(data) == tuple(SCALE * v for v in svg_size(svg))
    assert png_size(data)[0] < SCALE * EXPORT_WIDTH


# -- SVG -----------------------------------------------------------------------------------
def test_svg_of_the_funnel_is_svg_with_its_title_and_counts(ds, explorer):
    root = svg_root(explorer._funnel.export.save("svg"))
    texts = svg_texts(root)
    assert FUNNEL_TITLE in texts
    # The bar labels: "2,000 (100%)" for the first step, entities counted by hand.
    leads = ds.funnel_events.loc[ds.funnel_events["event"] == "lead", "entity_id"].nunique()
    assert f"{leads:,} (100%)" in texts


def test_svg_of_a_chart_is_standalone_xml():
    data = export_bytes("svg", points(title="Made by hand"), None)
    root = svg_root(data)
    assert "Made by hand" in svg_texts(root)
    assert data.lstrip().startswith(b"<svg")  # no HTML page around it
    assert not root.findall(f".//{SVG}foreignObject")


# -- CSV -----------------------------------------------------------------------------------
def test_csv_of_the_funnel_holds_the_table_and_the_counts_by_hand(ds, explorer):
    data = explorer._funnel.export.save("csv")
    back = assert_csv_holds(data, explorer._funnel._table)
    events = ds.funnel_events
    assert back["entities"].iloc[0] == events.loc[events["event"] == "lead", "entity_id"].nunique()
    by_hand = hand_funnel(events, STEPS, WINDOW).groupby("step_number")["entity_id"].nunique()
    assert back["step"].tolist() == STEPS
    assert back["step_number"].tolist() == list(range(1, len(STEPS) + 1))
    assert back["entities"].tolist() == by_hand.reindex(back["step_number"], fill_value=0).tolist()
    assert back["drop_off"].tolist() == [0, *(-np.diff(by_hand.to_numpy()))]


def test_csv_after_a_breakdown_holds_the_new_table(ds, explorer):
    before = pd.read_csv(io.BytesIO(explorer._funnel.export.save("csv")))
    assert "channel" not in before
    explorer.by = "channel"
    try:
        assert explorer.error == ""
        data = explorer._funnel.export.save("csv")
        back = assert_csv_holds(data, explorer._funnel._table)
    finally:
        explorer.by = None
    assert "channel" in back and "overall" not in back  # the groups the chart draws
    events = ds.funnel_events
    entry = events[events["event"] == "lead"].sort_values("timestamp")
    entry = entry.drop_duplicates("entity_id").set_index("entity_id")["channel"]
    first = back[back["step_number"] == 1].set_index("channel")["entities"].sort_index()
    assert first.to_dict() == entry.value_counts().sort_index().to_dict()
    steps = hand_funnel(events, STEPS, WINDOW).assign(channel=lambda d: d["entity_id"].map(entry))
    by_hand = steps.groupby(["channel", "step_number"])["entity_id"].nunique()
    got = back.set_index(["channel", "step_number"])["entities"]
    assert got.to_dict() == by_hand.reindex(got.index, fill_value=0).to_dict()
    # Back to no breakdown: the file follows.
    assert "channel" not in pd.read_csv(io.BytesIO(explorer._funnel.export.save("csv")))


def test_csv_of_the_retention_grid_counts_cohorts_by_hand(ds, drawn):
    slot = drawn[kw.RetentionGrid][1]["grid"]
    back = assert_csv_holds(slot.export.save("csv"), slot._table)
    back["cohort"] = pd.to_datetime(back["cohort"])
    revenue = ds.revenue
    cohort = revenue.groupby("account_id")["month"].min().rename("cohort")
    rows = revenue.join(cohort, on="account_id")
    months = (rows["month"].dt.year - rows["cohort"].dt.year) * 12 + (
        rows["month"].dt.month - rows["cohort"].dt.month
    )
    active = rows.assign(period_number=months).drop_duplicates(["account_id", "period_number"])
    retained = active.groupby(["cohort", "period_number"])["account_id"].nunique()
    got = back.set_index(["cohort", "period_number"])
    assert got["retained"].to_dict() == retained.reindex(got.index, fill_value=0).to_dict()
    size = cohort.value_counts()
    assert got["cohort_size"].tolist() == size.reindex(back["cohort"]).tolist()


def test_csv_of_the_board_detail_counts_leads_by_hand(ds, drawn):
    board, slots = drawn[kw.KPIBoard]
    assert board.selected == "leads" and board.period == "Q"
    back = assert_csv_holds(slots["detail"].export.save("csv"), slots["detail"]._table)
    quarter = ds.leads["created_at"].dt.to_period("Q").dt.start_time
    by_hand = quarter.value_counts().sort_index()
    assert pd.to_datetime(back["period"]).tolist() == by_hand.index.tolist()
    assert back["value"].tolist() == by_hand.tolist()
    assert back["n"].tolist() == by_hand.tolist()


def test_csv_uses_the_table_given_over_the_charts_data():
    table = pd.DataFrame({"label": ["a, b", 'say "hi"', "é"], "amount": [1.5, None, 3.0]})
    data = export_bytes("csv", points(), table)
    assert data.decode("utf-8").splitlines()[0] == "label,amount"  # no index column
    back = pd.read_csv(io.BytesIO(data))
    assert back["label"].tolist() == ["a, b", 'say "hi"', "é"]  # quoted, UTF-8
    assert back["amount"].isna().tolist() == [False, True, False]


def test_csv_without_a_table_is_the_charts_own_data():
    chart = points()
    back = pd.read_csv(io.BytesIO(export_bytes("csv", chart, None)))
    assert back.to_dict("list") == {"x": [0, 1, 2, 3], "y": [3, 1, 4, 1]}


# -- chart_table -----------------------------------------------------------------------------
def test_chart_table_finds_the_data_where_it_sits():
    top = pd.DataFrame({"a": [1]})
    on_layer = pd.DataFrame({"b": [2]})
    other = pd.DataFrame({"c": [3]})
    assert chart_table(alt.Chart(top).mark_point()) is top
    layered = alt.layer(alt.Chart().mark_rule(), alt.Chart(on_layer).mark_point())
    assert not isinstance(layered.data, pd.DataFrame)  # the data sits on the second layer
    assert chart_table(layered) is on_layer
    two = alt.layer(alt.Chart(on_layer).mark_point(), alt.Chart(other).mark_line())
    assert chart_table(two) is on_layer  # the first layer's
    nested = alt.vconcat(alt.Chart().mark_rule(), alt.hconcat(alt.Chart(other).mark_bar()))
    assert chart_table(nested) is other
    assert chart_table(alt.layer(alt.Chart().mark_rule(), data=top)) is top
    assert chart_table(alt.Chart(top).mark_point().facet("a:N")) is top


@pytest.mark.parametrize(
    "chart",
    [
        alt.Chart("data/cars.json").mark_point(),
        alt.Chart(alt.Data(values=[{"x": 1}])).mark_point(),
        alt.layer(alt.Chart().mark_rule(), alt.Chart().mark_point()),
    ],
    ids=["url", "inline-values", "layers-without-data"],
)
def test_a_chart_without_a_frame_has_no_table(chart):
    assert chart_table(chart) is None
    with pytest.raises(ValueError, match="no table"):
        export_bytes("csv", chart, None)


def test_chart_table_of_a_repeated_chart():
    frame = pd.DataFrame({"x": [1, 2], "y": [3, 4]})
    chart = (
        alt.Chart(frame)
        .mark_point()
        .encode(x=alt.X(alt.repeat("column"), type="quantitative"))
        .repeat(column=["x", "y"])
    )
    assert chart_table(chart) is frame


def test_export_bytes_refuses_an_unknown_kind():
    with pytest.raises(ValueError):
        export_bytes("pdf", points(), None)


# -- ExportBar: messages -----------------------------------------------------------------------
def test_bar_offers_png_svg_csv_in_that_order():
    bar = ExportBar(points, lambda: None, name="points")
    assert [k for k, _, _ in bar.kinds] == ["png", "svg", "csv"]
    assert [label for _, label, _ in bar.kinds] == ["PNG", "SVG", "CSV"]
    assert all(title for _, _, title in bar.kinds)
    assert bar.get_state()["kinds"] == bar.kinds  # synced to the page
    assert bar.sent == []


def test_a_png_message_sends_the_file():
    bar = ExportBar(lambda: points(width=300), lambda: None, name="funnel-chart")
    sent = recording(bar)
    bar._on_message(bar, {"kind": "png"}, [])
    [(content, buffers)] = sent.messages
    assert content == {"filename": "funnel-chart.png", "mime": "image/png"}
    [data] = buffers
    png_size(data)
    assert bar.sent == [("funnel-chart.png", "image/png", len(data))]


def test_a_message_from_the_page_reaches_the_bar():
    """Through the widget's custom-message path, as the page's ``model.send({kind})`` does."""
    table = pd.DataFrame({"n": [1, 2]})
    bar = ExportBar(points, lambda: table, name="t")
    sent = recording(bar)
    bar._handle_custom_msg({"kind": "csv"}, [])
    [(content, [data])] = sent.messages
    assert content == {"filename": "t.csv", "mime": "text/csv"}
    assert data == b"n\n1\n2\n"
    assert bar.sent == [("t.csv", "text/csv", 6)]


@pytest.mark.parametrize(
    "message",
    [{"kind": "pdf"}, {"kind": None}, {"kind": "PNG"}, {}, {"other": "png"}, "png", None, ["png"]],
)
def test_a_message_the_bar_does_not_know_does_nothing(message):
    bar = ExportBar(points, lambda: None, name="x")
    sent = recording(bar)
    bar._on_message(bar, message, [])
    assert sent.messages == [] and bar.sent == []


@pytest.mark.parametrize("kind", [["png"], {"png": 1}])
def test_an_unhashable_kind_does_nothing(kind):
    bar = ExportBar(points, lambda: None, name="x")
    sent = recording(bar)
    bar._on_message(bar, {"kind": kind}, [])
    assert sent.messages == [] and bar.sent == []


def test_a_failing_image_is_said_not_raised():
    bar = ExportBar(BrokenChart, lambda: None, name="x")
    sent = recording(bar)
    bar._on_message(bar, {"kind": "png"}, [])
    assert bar.save("svg") is None
    [(png, png_buffers), (svg, _)] = sent.messages
    assert png == {"error": "PNG not saved: renderer is down"} and png_buffers is None
    assert svg["error"].startswith("SVG not saved:")
    assert bar.sent == []


def test_a_failing_table_is_said_not_raised():
    def table() -> pd.DataFrame:
        raise KeyError("amount")

    bar = ExportBar(points, table, name="x")
    sent = recording(bar)
    bar._on_message(bar, {"kind": "csv"}, [])
    [(content, _)] = sent.messages
    assert content["error"].startswith("CSV not saved:")
    assert "amount" in content["error"]
    assert bar.sent == []


def test_a_chart_without_a_table_says_so():
    bar = ExportBar(lambda: alt.Chart("data/cars.json").mark_point(), lambda: None, name="x")
    sent = recording(bar)
    assert bar.save("csv") is None
    assert sent.messages == [({"error": "CSV not saved: this chart has no table"}, None)]


def test_the_bar_keeps_working_after_a_failure():
    charts = [BrokenChart(), points(width=300)]
    bar = ExportBar(lambda: charts[0], lambda: None, name="x")
    sent = recording(bar)
    assert bar.save("png") is None
    charts.pop(0)
    data = bar.save("png")
    assert png_size(data)[0] == png_size(sent.messages[-1][1][0])[0]
    assert sent.messages[0][0]["error"].startswith("PNG not saved:")
    assert sent.messages[1][0] == {"filename": "x.png", "mime": "image/png"}
    assert bar.sent == [("x.png", "image/png", len(data))]


def test_an_image_does_not_need_the_table():
    def table() -> pd.DataFrame:
        raise RuntimeError("table not ready")

    bar = ExportBar(lambda: points(width=300), table, name="x")
    sent = recording(bar)
    assert bar.save("png") is not None
    assert "error" not in sent.messages[-1][0]


# -- ChartSlot: the bar follows the chart -------------------------------------------------------
def test_the_slot_exports_what_it_shows_now():
    slot = ChartSlot(points(width=300, title="First chart"), css_class="kpi-test-chart")
    assert slot.export.name == "test-chart"
    sent = recording(slot.export)
    assert "First chart" in svg_texts(svg_root(slot.export.save("svg")))
    table = pd.DataFrame({"kept": ["yes"]})
    slot.update(points(width=300, title="Second chart"), table=table)
    texts = svg_texts(svg_root(slot.export.save("svg")))
    assert "Second chart" in texts and "First chart" not in texts
    assert slot.export.save("csv") == b"kept\nyes\n"
    slot.update(points(width=300, title="Third chart"))  # no table: the chart's own data
    assert pd.read_csv(io.BytesIO(slot.export.save("csv"))).columns.tolist() == ["x", "y"]
    names = [content["filename"] for content, _ in sent.messages]
    assert names == ["test-chart.svg", "test-chart.svg", "test-chart.csv", "test-chart.csv"]


@pytest.mark.parametrize(("cls", "name"), SLOT_CASES, ids=SLOT_IDS)
def test_every_slot_has_its_bar_above_its_chart(drawn, cls, name):
    widget, slots = drawn[cls]
    assert set(slots) == set(SLOT_NAMES[cls])
    slot = slots[name]
    css_class = SLOT_NAMES[cls][name]
    assert isinstance(slot.view, widgets.VBox)
    assert slot.view.children == (slot.export, slot.widget)
    assert isinstance(slot.export, ExportBar)
    assert [k for k, _, _ in slot.export.kinds] == ["png", "svg", "csv"]
    assert css_class in slot.widget._dom_classes
    assert f"{css_class}-export" in slot.export._dom_classes
    assert slot.export.name == css_class.removeprefix("kpi-")
    # Shown on the page (a secondary view of the explorer once it is picked).
    view = {"trend": "Trend", "ttc": "Time to convert"}.get(name)
    if cls is kw.FunnelExplorer and view is not None:
        widget.view = view
    try:
        assert slot.view in set(_descendants(widget))
    finally:
        if cls is kw.FunnelExplorer:
            widget.view = "Funnel"


@pytest.mark.parametrize(("cls", "name"), SLOT_CASES, ids=SLOT_IDS)
def test_every_slot_saves_svg_and_csv_of_its_chart(drawn, cls, name):
    slot = drawn[cls][1][name]
    sent = recording(slot.export)
    stem = SLOT_NAMES[cls][name].removeprefix("kpi-")
    root = svg_root(slot.export.save("svg"))
    width = slot._chart.width if isinstance(getattr(slot._chart, "width", None), int) else None
    if width is not None:  # a fixed plot width is kept, not EXPORT_WIDTH
        assert svg_plot_width(root) == width
    csv = slot.export.save("csv")
    if slot._table is not None:
        assert_csv_holds(csv, slot._table)
    else:  # the rows of a dataset the chart embeds in its spec
        with alt.data_transformers.enable("default", max_rows=None):
            datasets = slot._chart.to_dict()["datasets"].values()
        back = pd.read_csv(io.BytesIO(csv))
        assert len(back) > 0
        shapes = [(len(rows), list(rows[0]) if rows else []) for rows in datasets]
        assert (len(back), list(back.columns)) in shapes
    assert [c for c, _ in sent.messages] == [
        {"filename": f"{stem}.svg", "mime": "image/svg+xml"},
        {"filename": f"{stem}.csv", "mime": "text/csv"},
    ]
    assert [s[0] for s in slot.export.sent[-2:]] == [f"{stem}.svg", f"{stem}.csv"]


def _descendants(widget: widgets.Widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _descendants(child)
