"""The lifecycle every widget shares (``KPIWidget``), on a tiny widget defined here; and the
parts widgets are built from (chart slots, escaped tables, CSV links)."""

from __future__ import annotations

import base64
import html
from typing import ClassVar

import altair as alt
import ipywidgets as widgets
import pandas as pd
import pytest
import traitlets

from kpiwidgets.widgets._base import KPIWidget
from kpiwidgets.widgets._parts import ChartSlot, csv_download_link, html_table
from tests.helpers import click_point


class Head(KPIWidget):
    """The first ``n`` values of a list, with a colour and a title that only redraw.

    It counts its own compute runs and records the parts each draw was asked for.
    """

    REFRESH: ClassVar[dict[str, tuple[str, ...]]] = {
        "n": ("compute", "table"),
        "colour": ("table",),
        "title": ("heading",),
    }

    n = traitlets.Int(3).tag(setting=True)
    colour = traitlets.Enum(["red", "blue"], "red").tag(setting=True)
    title = traitlets.Unicode("values").tag(setting=True)

    def __init__(self, values: list[int], **settings):
        self.values = list(values)
        self.computed = 0
        self.drawn: list[list[str]] = []
        self.busy_while_computing: list[bool] = []
        self.adjusted: list[set[str]] = []  # what adjust() was told
        self.changed_seen: list[set[str]] = []  # what compute() saw in self.changed
        super().__init__(**settings)

    def layout(self):
        n = widgets.IntText()
        colour = widgets.Dropdown(options=["red", "blue"])
        title = widgets.Dropdown(options=[("Values", "values"), ("Numbers", "numbers")])
        self.link(n, "n")
        self.link(colour, "colour")
        self.link(
            title,
            "title",
            # A title the dropdown does not offer leaves the dropdown as it is.
            to_control=lambda v: v if v in ("values", "numbers") else title.value,
        )
        return [widgets.HBox([n, colour, title])], []

    def adjust(self, changed):
        self.adjusted.append(set(changed))
        if "n" in changed and self.n == 0:
            self.title = "none"  # a dependent setting made to agree

    def compute(self):
        self.computed += 1
        self.busy_while_computing.append(self.busy)
        self.changed_seen.append(set(self.changed))
        if self.n < 0:
            raise ValueError(f"n: expected a count of at least 0, found {self.n} <rows>")
        if self.n > len(self.values):
            self.n = len(self.values)  # inside the refresh: must not start another one
        self.result = pd.DataFrame({"value": self.values[: self.n]})

    def draw(self, parts):
        self.drawn.append(sorted(parts))

    def status_text(self):
        return f"<b>{len(self.result)}</b> {html.escape(self.title)} &lt;of&gt; {len(self.values)}"


VALUES = [10, 20, 30, 40, 50]


@pytest.fixture
def head():
    return Head(VALUES)


def test_setting_names_are_the_tagged_traits_in_declaration_order():
    assert Head.setting_names() == ["n", "colour", "title"]
    assert "result" not in Head.setting_names() and "busy" not in Head.setting_names()


def test_construction_computes_once_and_draws_every_part(head):
    assert head.computed == 1
    assert head.drawn == [["heading", "table"]]
    assert head.result["value"].tolist() == [10, 20, 30]
    assert head.status == "3 values <of> 5"  # plain text: tags dropped, entities unescaped
    assert head.parts["status"].value == "<b>3</b> values &lt;of&gt; 5"
    assert head.error == "" and head.busy is False
    assert head.busy_while_computing == [True]
    assert head.settings == {"n": 3, "colour": "red", "title": "values"}


def test_an_unknown_keyword_is_a_type_error_naming_the_settings():
    with pytest.raises(TypeError, match=r"'colur'.*its settings are: n, colour, title"):
        Head(VALUES, colur="blue")


def test_a_value_outside_the_choices_raises_and_changes_nothing(head):
    with pytest.raises(traitlets.TraitError):
        Head(VALUES, colour="green")
    before = head.result
    with pytest.raises(traitlets.TraitError):
        head.colour = "green"
    with pytest.raises(traitlets.TraitError):
        head.n = "three"  # the wrong type, as ipywidgets' own widgets do
    assert head.colour == "red" and head.n == 3
    assert head.result is before and head.computed == 1 and len(head.drawn) == 1
    assert head.error == "" and head.settings["colour"] == "red"
    assert head.controls["colour"].value == "red"


def test_an_error_in_compute_is_shown_in_the_widget_which_keeps_its_result_and_recovers(head):
    before = head.result
    head.n = -1  # must not raise
    assert head.error == "n: expected a count of at least 0, found -1 <rows>"
    box = head.parts["error"]
    assert box.layout.display == ""
    assert "Could not update" in box.value and "&lt;rows&gt;" in box.value  # escaped
    assert "<rows>" not in box.value
    assert head.result is before  # the last good result stays, nothing is drawn
    assert head.drawn == [["heading", "table"]]
    assert head.status == "3 values <of> 5" and head.busy is False
    head.n = 2
    assert head.error == "" and box.layout.display == "none" and box.value == ""
    assert head.result["value"].tolist() == [10, 20]
    assert head.status == "2 values <of> 5"


def test_an_error_at_construction_is_shown_not_raised():
    broken = Head(VALUES, n=-2)
    assert "found -2" in broken.error and broken.result is None
    broken.n = 1
    assert broken.error == "" and broken.result["value"].tolist() == [10]


def test_refresh_routes_each_setting_to_its_parts(head):
    head.colour = "blue"  # redraw only
    assert head.computed == 1 and head.drawn[-1] == ["table"]
    head.title = "numbers"  # another part only; the status line follows
    assert head.computed == 1 and head.drawn[-1] == ["heading"]
    assert head.status == "3 numbers <of> 5"
    head.n = 4  # compute, then the parts it names
    assert head.computed == 2 and head.drawn[-1] == ["table"]
    assert head.result["value"].tolist() == [10, 20, 30, 40]
    assert len(head.drawn) == 4


def test_a_setting_changed_inside_compute_does_not_start_another_refresh(head):
    head.n = 99
    assert head.n == 5 and head.computed == 2 and len(head.result) == 5
    assert head.settings["n"] == 5


def test_hold_suppresses_refreshes_until_one_is_asked_for(head):
    before = head.result
    with head.hold():
        head.n = 1
        head.colour = "blue"
        head.title = "numbers"
        assert head.computed == 1 and len(head.drawn) == 1 and head.result is before
    assert head.computed == 1 and head.result is before
    assert head.refresh(["compute", "table"]) is True
    assert head.computed == 2 and head.drawn[-1] == ["table"]
    assert head.result["value"].tolist() == [10]
    assert head.settings == {"n": 1, "colour": "blue", "title": "numbers"}


def test_adjust_makes_dependent_settings_agree_within_one_refresh(head):
    head.n = 0
    assert head.title == "none" and head.status == "0 none <of> 5"
    assert head.computed == 2 and len(head.drawn) == 2  # one refresh, not two
    assert "table" in head.drawn[-1]
    assert Head(VALUES, n=0).title == "none"


def test_apply_settings_makes_dependent_settings_agree_too(head):
    assert head.apply_settings({"n": 0, "colour": "blue"}) == []
    assert head.title == "none" and head.colour == "blue"
    assert head.adjusted[-1] == {"n", "colour"}  # once, with every setting applied
    assert head.computed == 2


def test_adjust_and_compute_are_told_which_settings_were_just_set():
    head = Head(VALUES, n=2, title="numbers")
    assert head.adjusted == [{"n", "title"}] and head.changed_seen == [{"n", "title"}]
    head.n = 4
    assert head.adjusted[-1] == {"n"} and head.changed_seen[-1] == {"n"}
    head.colour = "blue"  # told to adjust, but no compute for a redraw
    assert head.adjusted[-1] == {"colour"} and len(head.changed_seen) == 2
    head.apply_settings({"n": 1, "colour": "green", "nope": 0})
    assert head.adjusted[-1] == {"n"} and head.changed_seen[-1] == {"n"}  # only those applied


def test_settings_round_trip_rebuilds_the_same_view(head):
    head.n = 2
    head.colour = "blue"
    head.title = "numbers"
    again = Head(VALUES, **head.settings)
    assert again.settings == head.settings == {"n": 2, "colour": "blue", "title": "numbers"}
    pd.testing.assert_frame_equal(again.result, head.result)
    assert again.status == head.status == "2 numbers <of> 5"


def test_apply_settings_keeps_the_valid_values_and_returns_the_others(head):
    ignored = head.apply_settings(
        {"n": 4, "colour": "green", "title": "numbers", "sort": "desc", "n_max": 9}
    )
    assert len(ignored) == 3
    assert ignored[0].startswith("colour='green'")
    assert ignored[1] == "sort: not a setting of Head"
    assert ignored[2] == "n_max: not a setting of Head"
    assert head.settings == {"n": 4, "colour": "red", "title": "numbers"}
    assert head.computed == 2  # all values at once: one refresh
    assert head.drawn[-1] == ["heading", "table"]
    assert head.result["value"].tolist() == [10, 20, 30, 40]
    # A value of the right kind that is wrong for the data shows in the widget, as usual.
    assert head.apply_settings({"n": -1}) == []
    assert "found -1" in head.error and len(head.result) == 4
    # A value of the wrong type is ignored, not raised.
    (line,) = head.apply_settings({"n": "many"})
    assert line.startswith("n='many'") and head.n == -1


def test_link_syncs_control_and_setting_both_ways(head):
    controls = head.controls
    assert set(controls) == {"n", "colour", "title"}
    assert (controls["n"].value, controls["colour"].value) == (3, "red")
    controls["n"].value = 2  # as a person would
    assert head.n == 2 and head.result["value"].tolist() == [10, 20] and head.computed == 2
    controls["colour"].value = "blue"
    assert head.colour == "blue" and head.computed == 2
    head.n = 4
    head.colour = "red"
    assert controls["n"].value == 4 and controls["colour"].value == "red"
    # Clamped inside compute: the control shows the value the widget settled on.
    head.n = 50
    assert head.n == 5 and controls["n"].value == 5
    # A value the control cannot show leaves the control as it is; the setting takes it.
    head.title = "odd <title>"
    assert controls["title"].value == "values" and head.title == "odd <title>"
    assert head.status == "5 odd <title> <of> 5"
    controls["title"].value = "numbers"
    assert head.title == "numbers"


# -- the parts ------------------------------------------------------------------------------
def _bar_chart(values):
    pick = alt.selection_point(name="pick", fields=["x"])
    data = pd.DataFrame({"x": values, "y": range(len(values))})
    return alt.Chart(data).mark_bar().encode(x="x:N", y="y:Q").add_params(pick)


def _click(slot, value):
    click_point(slot.widget, "pick", x=value)


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
    frame = pd.DataFrame({"entity": [f"L{i}" for i in range(100)]})
    link = csv_download_link(frame, filename='drop "offs".csv', label="Download")
    payload = link.split("base64,")[1].split('"')[0]
    assert base64.b64decode(payload).decode().splitlines()[1:] == frame.entity.tolist()
    assert 'download="drop &quot;offs&quot;.csv"' in link
