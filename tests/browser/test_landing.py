"""The apps as a product, in a real browser with every outside request blocked: the landing
page lists every app, the bar on each page leads to the others, and charts save as files."""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import kpiwidgets as kw
from kpiwidgets.apps import APPS
from tests.browser.conftest import APP_TIMEOUT_MS, NOTEBOOKS, open_app

TEMPLATE = Path(__file__).resolve().parents[2] / "share/jupyter/voila/templates/kpiwidgets"


def _template_titles() -> dict[str, str]:
    """App name -> title, read from the template's app list (the test's own parse)."""
    text = (TEMPLATE / "apps.macro.html.j2").read_text()
    return dict(re.findall(r'"name": "(\w+)", "title": "([^"]+)"', text))


def test_template_list_matches_the_apps_and_notebooks():
    titles = _template_titles()
    assert list(titles) == [app.name for app in APPS]
    assert set(titles) == {p.stem for p in NOTEBOOKS.glob("*.ipynb")}
    for name in titles:  # each card has its thumbnail
        png = (TEMPLATE / "static" / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n", name


def test_landing_page_lists_the_apps_and_leads_to_each(app_page, voila_url, blocked_requests):
    titles = _template_titles()
    response = app_page.goto(voila_url + "/")
    assert response.status == 200
    assert app_page.title() == "kpiwidgets — sales and marketing KPI apps"
    cards = app_page.locator(".kpi-app-card")
    assert cards.count() == len(APPS)
    assert [cards.nth(i).get_attribute("data-app") for i in range(len(APPS))] == list(titles)
    for i, (name, title) in enumerate(titles.items()):
        card = cards.nth(i)
        assert card.locator("h2").inner_text() == title
        assert len(card.locator("p").inner_text()) > 40  # a one-line description
        assert card.locator("a").get_attribute("href") == f"/voila/render/{name}.ipynb"
    # Every thumbnail loaded (from the template's static files, not from outside).
    app_page.wait_for_function(
        "() => [...document.querySelectorAll('.kpi-app-card img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    # No Jupyter chrome: no file list, no icon font, no "Select items to open" header.
    assert app_page.locator(".voila-notebooks, .list-header").count() == 0

    # Into an app from its card, then across to another app from the bar on top.
    cards.filter(has_text="Funnel explorer").locator("a").click()
    app_page.wait_for_selector("#loading", state="hidden", timeout=APP_TIMEOUT_MS)
    app_page.locator(".kpi-funnel-chart svg .mark-rect path").first.wait_for()
    assert app_page.title() == "Funnel explorer — kpiwidgets"
    bar = app_page.locator(".kpi-topbar")
    assert bar.locator("[aria-current=page]").inner_text() == "Funnel explorer"
    assert [a.inner_text() for a in bar.locator("a[data-app]").all()] == list(titles.values())
    bar.get_by_text("Cohort retention").click()
    app_page.wait_for_selector("#loading", state="hidden", timeout=APP_TIMEOUT_MS)
    app_page.locator(".kpi-retention-grid svg .mark-rect path").first.wait_for()
    assert app_page.url == f"{voila_url}/voila/render/cohort_retention.ipynb"
    # And home again.
    app_page.locator(".kpi-topbar .kpi-home").click()
    app_page.locator(".kpi-app-card").first.wait_for()
    assert app_page.url.rstrip("/") in (voila_url, f"{voila_url}/voila/tree")
    assert blocked_requests == []


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


def test_chart_saves_as_png_svg_and_csv(app_page, voila_url, blocked_requests):
    open_app(app_page, voila_url, "funnel_explorer")
    app_page.locator(".kpi-funnel-chart svg .mark-rect path").first.wait_for()
    bar = app_page.locator(".kpi-funnel-chart-export")
    files = {}
    for kind in ("png", "svg", "csv"):
        with app_page.expect_download() as download:
            bar.locator(f".kpi-export-{kind}").click()
        files[kind] = (download.value.suggested_filename, Path(download.value.path()).read_bytes())
    name, png = files["png"]
    assert name == "funnel-chart.png"
    width, height = _png_size(png)
    assert width > 400 and height > 200  # a real chart, drawn at twice its size
    name, svg = files["svg"]
    root = ET.fromstring(svg)
    assert name == "funnel-chart.svg" and root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "click a step" in svg.decode()  # the chart's own title, as text
    name, csv = files["csv"]
    header, first = csv.decode().splitlines()[:2]
    assert name == "funnel-chart.csv" and header.startswith("step,step_number,entities")
    # The first step's entities: every demo lead with a "lead" event, counted in pandas.
    events = kw.load_demo().funnel_events
    assert int(first.split(",")[2]) == events.loc[events["event"] == "lead", "entity_id"].nunique()
    assert app_page.locator(".kpi-export-note").first.inner_text() == ""
    assert blocked_requests == []
