"""Take the README's screenshot of each app and the landing page's thumbnails.

Run from the repository root with the apps served (``kpiwidgets serve --no-browser``)::

    python docs/screenshots.py [http://127.0.0.1:8866]

Writes ``docs/<app>.png`` (1280 px wide, the page as a user sees it on opening) and
``share/jupyter/voila/templates/kpiwidgets/static/<app>.png`` (a 480 px thumbnail of the same
view). Needs Playwright and the system Chromium (``KPIWIDGETS_CHROMIUM`` or ``chromium``);
every request outside the server is blocked, as in the browser tests.
"""

from __future__ import annotations

import base64
import os
import shutil
import sys
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from kpiwidgets.apps import APPS  # noqa: E402
from tests.browser.conftest import FIRST_CHART  # noqa: E402

THUMBS = ROOT / "share/jupyter/voila/templates/kpiwidgets/static"


def main(base: str = "http://127.0.0.1:8866") -> None:
    chromium = os.environ.get("KPIWIDGETS_CHROMIUM") or shutil.which("chromium")
    allowed = urlparse(base).netloc
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.route(
            "**/*",
            lambda r: (
                r.continue_()
                if urlparse(r.request.url).netloc == allowed or r.request.url.startswith("data:")
                else r.abort()
            ),
        )
        for app in APPS:
            page.goto(f"{base}/voila/render/{app.name}.ipynb", timeout=120_000)
            page.wait_for_selector("#loading", state="hidden", timeout=120_000)
            page.locator(FIRST_CHART[app.name]).first.wait_for(timeout=120_000)
            page.wait_for_timeout(1500)  # let vega finish its transitions
            shot = page.screenshot()
            (ROOT / "docs" / f"{app.name}.png").write_bytes(shot)
            thumb = browser.new_page(viewport={"width": 480, "height": 300})
            data = base64.b64encode(shot).decode()
            thumb.set_content(
                "<body style='margin:0'><img style='width:480px' "
                f"src='data:image/png;base64,{data}'>"
            )
            THUMBS.mkdir(parents=True, exist_ok=True)
            thumb.screenshot(path=str(THUMBS / f"{app.name}.png"))
            thumb.close()
            print(f"{app.name}: docs/{app.name}.png and its thumbnail", flush=True)
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
