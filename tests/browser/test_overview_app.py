"""The overview app in a real browser, every outside request blocked."""

from __future__ import annotations

from tests.browser.conftest import open_app


def test_overview_draws_tables_and_leads_chart(app_page, voila_url, blocked_requests):
    open_app(app_page, voila_url, "overview")
    tables = app_page.locator(".kpi-overview-tables table")
    tables.wait_for()
    text = tables.inner_text()
    for name in ("leads", "opportunities", "revenue", "funnel_events", "forecasts"):
        assert name in text
    # The chart: vega-embed on our widget, drawn as SVG bars (one per month x channel).
    chart = app_page.locator(".kpi-chart.vega-embed")
    chart.wait_for()
    bars = chart.locator(".mark-rect path")
    bars.first.wait_for()
    assert bars.count() >= 24  # at least 24 months, several channels each
    assert app_page.locator(".jp-OutputArea-output pre:has-text('Traceback')").count() == 0
    # The page asked for nothing outside its own server (chart code and styles are local).
    assert blocked_requests == []
