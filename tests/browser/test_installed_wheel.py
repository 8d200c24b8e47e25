"""The README's main job as a new user runs it: the wheel installed alone serves working apps.

Builds the wheel, installs it **without** the test extra into a fresh virtual environment,
starts ``kpiwidgets serve`` from a folder outside the repository, and opens every app in the
system Chromium with every outside request blocked. The test extra pulls in packages (a Jupyter
kernel, through nbval) that a user's ``pip install kpiwidgets`` does not have; this test is
what notices when the apps need something the runtime dependencies lack.

The virtual environment reuses pip's cache, so after the first run it installs in about a
minute; one server serves every app.
"""

from __future__ import annotations

import os
import sys

import pytest

import kpiwidgets as kw
from tests.browser.conftest import (
    APP_TIMEOUT_MS,
    NOTEBOOKS,
    ROOT,
    free_port,
    only_local,
    open_app,
    run_command,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.install

APPS = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))


@pytest.fixture(scope="module")
def installed_server(tmp_path_factory):
    """``kpiwidgets serve`` from the wheel alone in a fresh venv; yields (base URL, log path)."""
    work = tmp_path_factory.mktemp("wheel")
    dist = work / "dist"
    run_command([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", dist, ROOT])
    (wheel,) = dist.glob("kpiwidgets-*.whl")
    venv = work / "venv"
    run_command([sys.executable, "-m", "venv", venv])
    # A user's environment: none of ours leaks in, and no Jupyter state of this machine's
    # user (kernels, config) either.
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.pop("DISPLAY", None)  # a headless machine: serve must say where the apps are
    env.pop("WAYLAND_DISPLAY", None)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        env[name] = str(work / name.lower())
    env.pop("JUPYTER_PATH", None)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    run_command([venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel], env=env)
    elsewhere = work / "somewhere-else"
    elsewhere.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = work / "serve.log"
    # No --no-browser: the command exactly as the README gives it.
    command = [venv / "bin" / "kpiwidgets", "serve", f"--port={port}"]
    process = start_server(command, cwd=elsewhere, log=log, base=base, env=env, timeout=120)
    yield base, log
    stop_server(process)


@pytest.mark.parametrize("app", APPS)
def test_installed_wheel_serves_every_app(installed_server, page, app):
    base, log = installed_server
    blocked: list[str] = []
    only_local(page, base, blocked)
    response = open_app(page, base, app)
    assert response is not None and response.status == 200, (
        f"{app}: HTTP {response and response.status}\n{log.read_text()[-3000:]}"
    )
    # Every chart is drawn: vega-embed put an SVG with marks into each visible chart.
    # The scorecard's first view is its tiles (its chart opens with a tile's detail).
    ready = (
        ".kpi-tile .kpi-spark polyline" if app == "kpi_scorecard" else ".vega-embed svg .role-mark"
    )
    page.wait_for_selector(ready, timeout=APP_TIMEOUT_MS)
    charts = page.locator(".vega-embed:visible")
    assert charts.count() >= (0 if app == "kpi_scorecard" else 1)
    for i in range(charts.count()):
        assert charts.nth(i).locator("svg .role-mark").count() >= 1, f"{app}: chart {i} empty"
    text = page.locator("body").inner_text()
    for problem in ("Traceback", "There was an error when executing cell", "Error displaying"):
        assert problem not in text, f"{app}: the page says {problem!r}"
    assert page.locator(".kpi-error:visible").count() == 0
    assert blocked == []


def test_installed_wheel_landing_page_with_thumbnails(installed_server, page):
    """The wheel carries the template: its landing page, a card and a thumbnail per app."""
    base, _ = installed_server
    blocked: list[str] = []
    only_local(page, base, blocked)
    page.goto(base + "/")
    cards = page.locator(".kpi-app-card")
    cards.first.wait_for()
    assert [cards.nth(i).get_attribute("data-app") for i in range(cards.count())] == [
        app.name for app in kw.apps.APPS
    ]
    page.wait_for_function(
        "() => [...document.querySelectorAll('.kpi-app-card img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    assert blocked == []


def test_installed_serve_log_has_no_warnings(installed_server, page):
    """After the apps ran, the server said nothing a user would have to wonder about."""
    base, log = installed_server
    only_local(page, base, [])
    open_app(page, base, APPS[0])  # at least one app ran in this server, whatever the order
    lines = log.read_text().splitlines()
    assert lines[0].startswith("kpiwidgets: serving the apps in ")
    assert "open that address in a browser" in lines[0]
    warnings = [line for line in lines if "WARNING" in line or "Traceback" in line]
    assert warnings == []
