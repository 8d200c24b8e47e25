"""The cohort retention app in a real browser, every outside request blocked."""

from __future__ import annotations

import re

from tests.browser.conftest import open_app

GRID = ".kpi-retention-grid.vega-embed"
# The grid's own marks (legends draw rect and text marks too).
CELLS = ".kpi-retention-grid .mark-rect.role-mark path"
STATUS = ".kpi-retention-status"


def _cell_texts(page) -> list[str]:
    return page.locator(f"{GRID} .mark-text.role-mark text").all_text_contents()


def test_measure_and_period_redraw_the_grid_and_a_click_selects_a_cohort(
    app_page, voila_url, blocked_requests
):
    page = app_page
    open_app(page, voila_url, "cohort_retention")
    status = page.locator(STATUS)
    status.wait_for()
    page.locator(CELLS).first.wait_for()
    assert re.search(
        r"Monthly cohorts · customers · .* · 23 cohorts · 573 accounts", status.inner_text()
    )
    # 23 monthly cohorts over 23 months: a triangle of 23·24/2 cells + the average row (22).
    monthly_cells = page.locator(CELLS).count()
    assert monthly_cells == 23 * 24 // 2 + 22
    assert "2024-02 (n=" in page.locator(GRID).inner_text()
    monthly_texts = _cell_texts(page)
    assert all(t.endswith("%") for t in monthly_texts)

    page.locator(".kpi-control-measure button", has_text="Revenue").click()
    page.locator(".kpi-retention-status:has-text('Monthly cohorts · revenue')").wait_for()
    page.locator(".kpi-control-period button", has_text="Quarter").click()
    page.locator(".kpi-retention-status:has-text('Quarterly cohorts · revenue')").wait_for()
    # Eight quarterly cohorts (2024-Q1 .. 2025-Q4): 8·9/2 cells + the average row (7).
    rects = page.locator(CELLS)
    page.wait_for_function(
        "([selector, n]) => document.querySelectorAll(selector).length === n",
        arg=[CELLS, 8 * 9 // 2 + 7],
    )
    assert rects.count() == 8 * 9 // 2 + 7
    assert "2024-Q1 (n=" in page.locator(GRID).inner_text()
    assert _cell_texts(page) != monthly_texts
    assert "8 cohorts · 573 accounts" in status.inner_text()

    # Click the number in the first cohort's period-1 cell: the row and its curve light up.
    first_row = page.locator(f"{GRID} .mark-text.role-mark text").nth(1)
    first_row.click()
    page.locator(".kpi-retention-selected:has-text('selected 2024-Q1')").wait_for()
    assert re.search(r"selected 2024-Q1 \(\d+ accounts\)", status.inner_text())
    # The highlighted curve layer draws the selected cohort's points in colour.
    page.wait_for_function(
        "() => document.querySelectorAll('.kpi-retention-curves .mark-symbol path').length > 0"
    )
    assert page.locator(".kpi-retention-curves .mark-symbol path").count() >= 2

    assert page.locator(".kpi-error:visible").count() == 0
    assert page.locator(".jp-OutputArea-output pre:has-text('Traceback')").count() == 0
    assert not [url for url in blocked_requests if "vega" in url], blocked_requests
