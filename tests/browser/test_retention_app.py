"""The cohort retention app in a real browser, every outside request blocked."""

from __future__ import annotations

import re

import kpiwidgets as kw
from tests.browser.conftest import open_app

GRID = ".kpi-retention-grid.vega-embed"
# The grid's own marks (legends draw rect and text marks too).
CELLS = ".kpi-retention-grid .mark-rect.role-mark path"
STATUS = ".kpi-retention-status"


def _expected() -> tuple[int, int, int]:
    """Monthly cohorts, accounts and quarterly cohorts of the demo revenue, by plain pandas:
    each account's cohort is the period of its first revenue row."""
    first = kw.load_demo().revenue.groupby("account_id")["month"].min()
    return first.dt.to_period("M").nunique(), len(first), first.dt.to_period("Q").nunique()


def _cell_texts(page) -> list[str]:
    return page.locator(f"{GRID} .mark-text.role-mark text").all_text_contents()


def test_measure_and_period_redraw_the_grid_and_a_click_selects_a_cohort(
    app_page, voila_url, blocked_requests
):
    months, accounts, quarters = _expected()
    page = app_page
    open_app(page, voila_url, "cohort_retention")
    status = page.locator(STATUS)
    status.wait_for()
    page.locator(CELLS).first.wait_for()
    assert re.search(
        rf"Monthly cohorts · customers · .* · {months} cohorts · {accounts} accounts",
        status.inner_text(),
    )
    # n monthly cohorts over n months: a triangle of n·(n+1)/2 cells + the average row (n−1).
    monthly_cells = page.locator(CELLS).count()
    assert monthly_cells == months * (months + 1) // 2 + months - 1
    assert "2024-02 (n=" in page.locator(GRID).inner_text()
    monthly_texts = _cell_texts(page)
    assert all(t.endswith("%") for t in monthly_texts)

    page.locator(".kpi-control-measure button", has_text="Revenue").click()
    page.locator(".kpi-retention-status:has-text('Monthly cohorts · revenue')").wait_for()
    page.locator(".kpi-control-period button", has_text="Quarter").click()
    page.locator(".kpi-retention-status:has-text('Quarterly cohorts · revenue')").wait_for()
    # Quarterly cohorts (2024-Q1 .. 2025-Q4): the same triangle by quarter.
    rects = page.locator(CELLS)
    quarter_cells = quarters * (quarters + 1) // 2 + quarters - 1
    page.wait_for_function(
        "([selector, n]) => document.querySelectorAll(selector).length === n",
        arg=[CELLS, quarter_cells],
    )
    assert rects.count() == quarter_cells
    assert "2024-Q1 (n=" in page.locator(GRID).inner_text()
    assert _cell_texts(page) != monthly_texts
    assert f"{quarters} cohorts · {accounts} accounts" in status.inner_text()

    # Click the number in the first cohort's period-1 cell: the row and its curve light up.
    symbols = ".kpi-retention-curves .mark-symbol path"
    before = page.locator(symbols).count()  # the average curve's points
    first_row = page.locator(f"{GRID} .mark-text.role-mark text").nth(1)
    first_row.click()
    page.locator(".kpi-retention-selected:has-text('selected 2024-Q1')").wait_for()
    assert re.search(r"selected 2024-Q1 \(\d+ accounts\)", status.inner_text())
    # The highlighted curve layer adds the selected cohort's points.
    page.wait_for_function(
        "([selector, n]) => document.querySelectorAll(selector).length > n", arg=[symbols, before]
    )

    assert page.locator(".kpi-error:visible").count() == 0
    assert page.locator(".jp-OutputArea-output pre:has-text('Traceback')").count() == 0
    assert not [url for url in blocked_requests if "vega" in url], blocked_requests
