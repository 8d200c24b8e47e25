"""Deep links: the query string sets a widget's settings; nothing else gets through."""

from __future__ import annotations

import pytest
from pandas.testing import assert_frame_equal

import kpiwidgets as kw
from kpiwidgets.widgets._links import MAX_QUERY, settings_from_query, view_query
from tests.widgets.test_common import CHANGED, FACTORIES, WIDGETS


@pytest.fixture(scope="module")
def ds():
    return kw.load_demo(n_leads=2_000)


@pytest.mark.parametrize("cls", WIDGETS, ids=[c.__name__ for c in WIDGETS])
def test_the_link_to_a_view_opens_the_same_view(cls, ds):
    # A view away from the defaults, its link, and a fresh widget opened with that link.
    first = FACTORIES[cls](ds, **CHANGED[cls])
    assert first.error == ""
    query = view_query(first)
    again = FACTORIES[cls](ds)
    line = kw.deep_link(again, query)
    assert line.ignored == [] and again.error == ""
    # The same view: the same link, the same frame drawn, the same status line (a date
    # given as a date and read back from the URL as text is the same date).
    assert view_query(again) == query
    assert_frame_equal(again.result, first.result)
    assert again.status == first.status
    assert f'href="?{query.replace("&", "&amp;")}"' in line.value


def test_funnel_link_values_are_converted_by_the_setting_kind(ds):
    w = kw.FunnelExplorer(ds.funnel_events)
    line = kw.deep_link(w, "window=14D&by=channel&steps=lead,mql,won&selected_step=2")
    assert (w.window, w.by, w.steps, w.selected_step) == (
        "14D",
        "channel",
        ["lead", "mql", "won"],
        2,
    )
    assert line.ignored == []
    kw.deep_link(w, "by=none")
    assert w.by is None


def test_unknown_and_invalid_values_are_ignored_with_a_notice_never_raised(ds):
    w = kw.FunnelExplorer(ds.funnel_events)
    before = dict(w.settings)
    line = kw.deep_link(w, "order=bogus&__class__=x&window=14D")
    assert w.settings == before | {"window": "14D"}
    assert [i.split(":")[0] for i in line.ignored] == ["__class__", "order='bogus'"]
    assert "Link settings ignored" in line.value


def test_hostile_text_in_a_link_never_reaches_html_unescaped(ds):
    w = kw.RetentionGrid(ds.revenue)
    hostile = "<img src=x onerror=alert(1)>"
    line = kw.deep_link(w, f"period={hostile}&{hostile}=1&measure=revenue")
    assert w.period == "M" and w.measure == "revenue"
    assert hostile not in line.value and "&lt;img src=x onerror=alert(1)&gt;" in line.value
    assert "alert" not in w.status


def test_a_query_is_parsed_not_evaluated_and_its_size_is_bounded(ds):
    w = kw.FunnelExplorer(ds.funnel_events)
    values, ignored = settings_from_query(w, "window=__import__('os').system('x')")
    assert values == {"window": "__import__('os').system('x')"}  # text, never code
    line = kw.deep_link(w, "window=" + "9" * MAX_QUERY)
    assert w.window == "30D" and "longer than" in line.ignored[0]
    values, ignored = settings_from_query(w, "&".join(f"k{i}=1" for i in range(30)))
    assert values == {} and "more than 20 parameters" in ignored[0]
    assert "wrong for the data" not in w.error  # nothing was applied


def test_a_value_wrong_for_the_data_shows_in_the_widget(ds):
    w = kw.FunnelExplorer(ds.funnel_events)
    line = kw.deep_link(w, "steps=lead,demo booked")
    assert line.ignored == [] and "demo booked" in w.error
