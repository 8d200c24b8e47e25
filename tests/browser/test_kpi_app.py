"""The KPI scorecard app in a real browser, every outside request blocked."""

from __future__ import annotations

import kpiwidgets as kw
from tests.browser.conftest import open_app

TILE = ".kpi-tile-cost_per_lead"
CHART = ".kpi-detail-chart"
LINES = f"{CHART} .mark-line.role-mark path"


def _q4_cost_per_lead() -> str:
    """Marketing spend / leads created in 2025 Q4, by plain pandas, as the tile prints it."""
    ds = kw.load_demo()
    leads = ds.leads[(ds.leads["created_at"] >= "2025-10-01")]
    spend = ds.spend[(ds.spend["team"] == "marketing") & (ds.spend["date"] >= "2025-10-01")]
    return f"${spend['amount'].sum() / len(leads):,.2f}"


def test_a_tile_opens_its_detail_and_the_breakdown_redraws_it(
    app_page, voila_url, blocked_requests
):
    page = app_page
    open_app(page, voila_url, "kpi_scorecard")
    page.locator(TILE).wait_for()
    status = page.locator(".kpi-board .kpi-status")
    assert "44 KPIs · 2025 Q4 against the period before · 44 computed" in status.inner_text()
    tile = page.locator(TILE)
    assert _q4_cost_per_lead() in tile.inner_text()
    assert "target $75.00 · not met" in tile.inner_text()
    assert page.locator(".kpi-detail:visible").count() == 0

    tile.locator(".kpi-tile-details").click()
    page.locator(".kpi-detail-head:has-text('marketing spend / leads created')").wait_for()
    page.locator(LINES).first.wait_for()
    overall = page.locator(LINES).count()
    page.locator(".kpi-detail select").select_option("channel")
    # One line per channel (6) instead of the overall one and its dashed target line.
    page.wait_for_function(
        "([selector, n]) => document.querySelectorAll(selector).length === n",
        arg=[LINES, 6],
    )
    assert overall == 2
    legend = " ".join(page.locator(f"{CHART} .role-legend text").all_text_contents())
    assert "referral" in legend and "events" in legend
    # The rows under the chart follow it (the table is sent just after the chart).
    # (The table is replaced as a whole: wait for the new one's single download link rather
    # than count while the old one is being swapped out.)
    page.locator(".kpi-detail-table").get_by_text("2025 Q4").first.wait_for()
    page.wait_for_function(
        "(selector) => document.querySelectorAll(selector).length === 1",
        arg=".kpi-detail-table a[download]",
    )

    assert page.locator(".kpi-error:visible").count() == 0
    assert page.locator(".jp-OutputArea-output pre:has-text('Traceback')").count() == 0
    assert not blocked_requests, blocked_requests
