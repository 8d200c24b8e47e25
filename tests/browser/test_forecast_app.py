"""The forecast accuracy app in a real browser, every outside request blocked."""

from __future__ import annotations

import kpiwidgets as kw
from tests.browser.conftest import open_app

STATUS = ".kpi-forecast .kpi-status"
LEADERBOARD = ".kpi-forecast-leaderboard"
PERIODS = ".kpi-forecast-periods"


def _final_calls(owner: str) -> list[str]:
    """The owner's last rep commit call of each quarter, by plain pandas, as the periods
    chart's tooltips print them."""
    f = kw.load_demo().forecasts
    calls = f[(f["owner"] == owner) & (f["category"] == "commit") & (f["submitted_by"] == "rep")]
    last = calls.sort_values("snapshot_date").groupby("period")["amount"].last()
    return [f"amount: {amount:,.0f}" for amount in last]


def _labels(page, selector: str) -> list[str]:
    return [
        label
        for label in page.locator(f"{selector} path[aria-label]").evaluate_all(
            "els => els.map(e => e.getAttribute('aria-label'))"
        )
        if label
    ]


def test_metric_change_and_a_click_on_an_owner_filters_the_other_views(
    app_page, voila_url, blocked_requests
):
    page = app_page
    open_app(page, voila_url, "forecast_accuracy")
    status = page.locator(STATUS)
    status.wait_for()
    page.locator(f"{LEADERBOARD} .mark-rect.role-mark path").first.wait_for()
    assert "8 owners · 8 periods (2024 Q1 – 2025 Q4) · commit calls" in status.inner_text()
    # The demo's over-forecaster and sandbagger are coloured at first sight.
    labels = _labels(page, LEADERBOARD)
    assert any("Hugo Martin" in t and "band: over-forecasts" in t for t in labels), labels
    assert any("Dmitri Volkov" in t and "band: under-forecasts" in t for t in labels), labels
    team_periods = _labels(page, PERIODS)

    # The metric: the headline redraws with the formula of bias in its subtitle.
    headline = page.locator(".kpi-forecast-by-week")
    assert "accuracy = max(0, 1 − |F − A| / A)" in headline.inner_text()
    page.locator(".kpi-control-metric button", has_text="bias").click()
    page.locator(".kpi-forecast-by-week:has-text('bias = Σ(F − A) / ΣA')").wait_for()

    # A click on Hugo Martin's bar filters every other view to his calls.
    page.locator(f"{LEADERBOARD} path[aria-label*='Hugo Martin']").first.click()
    page.locator(f"{STATUS}:has-text('owner: Hugo Martin')").wait_for()
    page.wait_for_function(
        "([selector, before]) => { const ls = [...document.querySelectorAll(selector)]"
        ".map(e => e.getAttribute('aria-label')).filter(Boolean);"
        " return ls.length > 0 && ls.join('|') !== before; }",
        arg=[f"{PERIODS} path[aria-label]", "|".join(team_periods)],
    )
    shown = " | ".join(_labels(page, PERIODS))
    for amount in _final_calls("Hugo Martin"):
        assert amount in shown, (amount, shown)
    assert page.locator(".kpi-control-owner select").input_value() == "Hugo Martin"
    # The leaderboard keeps every owner.
    assert sum("owner:" in t for t in _labels(page, LEADERBOARD)) == 16  # 8 owners × 2 bars

    assert page.locator(".kpi-error:visible").count() == 0
    assert page.locator(".jp-OutputArea-output pre:has-text('Traceback')").count() == 0
    assert not blocked_requests, blocked_requests
