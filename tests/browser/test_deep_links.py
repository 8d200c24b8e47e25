"""Deep links in the browser: the URL's query string opens the stated view, and a hostile or
unknown parameter is said on the page, escaped, never run."""

from __future__ import annotations

from tests.browser.conftest import open_app

HOSTILE = "%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"  # <img src=x onerror=alert(1)>


def test_a_deep_link_opens_the_stated_view_and_says_what_it_ignored(
    app_page, voila_url, blocked_requests
):
    page = app_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    query = f"?window=14D&by=channel&order=bogus&{HOSTILE}=1"
    response = open_app(page, voila_url, "funnel_explorer", query)
    assert response.status == 200
    status = page.locator(".kpi-funnel-status")
    page.locator(".kpi-funnel-status:has-text('by channel')").wait_for()
    notice = page.locator(".kpi-link-ignored")
    notice.wait_for()
    text = notice.inner_text()
    assert "order='bogus'" in text and "<img src=x onerror=alert(1)>" in text  # as text
    assert page.locator(".kpi-deep-link img").count() == 0  # never as an element
    link = page.locator(".kpi-view-link").get_attribute("href")
    assert "window=14D" in link and "by=channel" in link and "bogus" not in link
    assert "by channel" in status.inner_text()
    assert not dialogs and not blocked_requests, (dialogs, blocked_requests)
    assert page.locator(".jp-OutputArea-output pre:has-text('Traceback')").count() == 0
