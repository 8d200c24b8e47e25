"""The funnel explorer app in a real browser: breakdown, click a step, see who dropped off."""

from __future__ import annotations

import re

import kpiwidgets as kw
from tests.browser.conftest import open_app


def _expected():
    """What the page must show, from the data: leads entered and channels by plain pandas,
    the drop-offs after MQL from kw.funnel_entities (not the funnel table the page draws)."""
    ds = kw.load_demo()
    events = ds.funnel_events
    steps = ["lead", "mql", "sql", "opportunity", "won"]
    entered = events.loc[events["event"] == "lead", "entity_id"].nunique()
    channels = events.loc[events["event"] == "lead", "channel"].nunique()
    entities = kw.funnel_entities(events, steps, window="180D")
    assert len(entities) == entered
    dropped_after_mql = int((entities["furthest_step_number"] == 2).sum())
    return entered, channels, dropped_after_mql


def test_funnel_app_breakdown_and_drill_down(app_page, voila_url, blocked_requests):
    entered, channels, dropped_after_mql = _expected()
    open_app(app_page, voila_url, "funnel_explorer")
    status = app_page.locator(".kpi-funnel-status")
    status.get_by_text(re.compile(rf"{entered:,} entered")).wait_for()
    bars = app_page.locator(".kpi-funnel-chart .mark-rect path")
    bars.first.wait_for()
    assert bars.count() == 5

    # Break down by channel: one bar per channel and step, grouped.
    app_page.locator(".kpi-control-by select").select_option("channel")
    status.get_by_text("by channel").wait_for()
    app_page.wait_for_function(
        "(n) => document.querySelectorAll('.kpi-funnel-chart .mark-rect path').length === n",
        arg=channels * 5,
    )

    # Back to no breakdown, then click the second step's bar (mql).
    app_page.locator(".kpi-control-by select").select_option("(none)")
    app_page.wait_for_function(
        "() => document.querySelectorAll('.kpi-funnel-chart .mark-rect path').length === 5"
    )
    app_page.locator(".kpi-funnel-chart .mark-rect path").nth(1).click()
    title = app_page.locator(".kpi-funnel-dropoffs .kpi-drill-title")
    title.wait_for()
    assert "Dropped off after step 2 (mql)" in title.inner_text()
    assert f"{dropped_after_mql:,} entities" in title.inner_text()
    rows = app_page.locator(".kpi-funnel-dropoffs table tbody tr")
    assert rows.count() == min(10, dropped_after_mql)
    assert app_page.locator(".kpi-error:visible").count() == 0
    assert blocked_requests == []
