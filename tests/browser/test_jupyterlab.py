"""The four widgets in a real JupyterLab, every outside request blocked.

Analysts use the widgets in JupyterLab, not only in the Voila apps. This test writes a
notebook that shows ``FunnelExplorer``, ``RetentionGrid``, ``ForecastTracker`` and
``KPIBoard`` (one per cell, on a small demo company), starts a real ``jupyter lab`` on
127.0.0.1 with none of this machine's Jupyter state (config, data, runtime, settings and
workspaces dirs in a tmp dir) and none of the server's own outside requests (news feed,
update check, PyPI extension manager), opens the notebook in headless Chromium and runs it
with Run → Run All Cells. It proves that:

* every widget's charts draw: the funnel's bars, the retention grid's cells, the forecast
  leaderboard's bars and the KPI tiles are counted against plain pandas on the same data;
  the retention curves and the forecast's by-week and periods charts draw marks,
* a control change in the page reaches the kernel and redraws a chart in place (the funnel
  broken down by channel: one bar per step and channel), and a KPI tile's *Details* draws
  its trend chart,
* no cell raised and no widget shows an error,
* no request left 127.0.0.1: the page's requests to any other host are aborted and
  recorded, and the record must stay empty.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest

import kpiwidgets as kw
from tests.browser.conftest import APP_TIMEOUT_MS, free_port, only_local, start_server, stop_server

N_LEADS = 2_000  # a small demo company keeps the kernel side to a few seconds
NOTEBOOK = "widgets.ipynb"
DONE = "KPIWIDGETS: every cell ran"
STEPS = 5  # lead, mql, sql, opportunity, won: the explorer's default steps

FUNNEL_BARS = ".kpi-funnel-explorer .kpi-funnel-chart .mark-rect.role-mark path"
GRID_CELLS = ".kpi-retention .kpi-retention-grid .mark-rect.role-mark path"
CURVES = ".kpi-retention .kpi-retention-curves .role-mark path"
LEADERBOARD_BARS = ".kpi-forecast .kpi-forecast-leaderboard .mark-rect.role-mark path"
BY_WEEK_MARKS = ".kpi-forecast .kpi-forecast-by-week .role-mark path"
PERIODS_MARKS = ".kpi-forecast .kpi-forecast-periods .role-mark path"
TILES = ".kpi-board .kpi-tile"
SPARKS = ".kpi-board .kpi-tile svg.kpi-spark"
DETAIL_LINES = ".kpi-board .kpi-detail-chart .mark-line.role-mark path"

CELLS = [
    f"import kpiwidgets as kw\n\nds = kw.load_demo(n_leads={N_LEADS:_})",
    'kw.FunnelExplorer(ds.funnel_events, window="180D")',
    "kw.RetentionGrid(ds.revenue)",
    "kw.ForecastTracker(\n"
    "    ds.forecasts, kw.actuals_from_opportunities(ds.opportunities), ds.quotas\n"
    ")",
    "kw.KPIBoard(ds)",
    f"print({DONE!r})",
]


def _notebook(path: Path) -> None:
    """The notebook an analyst would write: one widget per cell, no outputs yet."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    # A kernelspec, so JupyterLab starts Python 3 instead of asking which kernel to use.
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def jupyterlab_url(tmp_path):
    """A real ``jupyter lab`` serving a tmp dir with the notebook; its base URL."""
    root = tmp_path / "notebooks"
    root.mkdir()
    _notebook(root / NOTEBOOK)
    state = tmp_path / "jupyter"
    # Nothing of this machine's Jupyter state leaks in (the labextensions of ipywidgets and
    # anywidget and the python3 kernelspec come from sys.prefix/share/jupyter, still seen).
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(state / "config"),
        "JUPYTER_DATA_DIR": str(state / "data"),
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
        "IPYTHONDIR": str(state / "ipython"),
    }
    # The page would ask whether to fetch the news feed (a toast over the notebook).
    notification = state / "settings" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
        "--PasswordIdentityProvider.hashed_password=",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={state / 'settings'}",
        f"--LabApp.workspaces_dir={state / 'workspaces'}",
        # Outside requests the server itself could make (the page's are blocked below):
        # JupyterLab's news feed and its latest version,
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        # The default ("pypi") asks pypi.org for the latest version of each extension.
        "--LabApp.extension_manager=readonly",
    ]
    process = start_server(command, cwd=root, log=tmp_path / "jupyterlab.log", base=base, env=env)
    yield base
    stop_server(process)


def _expected() -> dict[str, int]:
    """What the charts must draw, from the same demo data by plain pandas."""
    ds = kw.load_demo(n_leads=N_LEADS)
    leads = ds.funnel_events[ds.funnel_events["event"] == "lead"]
    # Each account's cohort is the month of its first revenue row; a cohort has a cell per
    # month from its start to the last month of data, and the average row one per period
    # after period 0 of the longest cohort. (The full demo has a cohort every month, so
    # there it is the n·(n+1)/2 + n−1 of test_retention_app; a small one skips some months.)
    first = ds.revenue.groupby("account_id")["month"].min().dt.to_period("M")
    last = ds.revenue["month"].max().to_period("M")
    spans = [(last - start).n + 1 for start in first.unique()]
    reps = ds.forecasts[ds.forecasts["submitted_by"] == "rep"]
    return {
        "entered": leads["entity_id"].nunique(),
        "channels": leads["channel"].nunique(),
        "grid_cells": sum(spans) + max(spans) - 1,
        "owners": reps["owner"].nunique(),
        "kpis": len(kw.kpi_catalog()),
    }


def _wait_count(page, selector: str, n: int) -> None:
    """Wait until exactly ``n`` elements match ``selector`` (a chart finished drawing)."""
    page.wait_for_function(
        "([selector, n]) => document.querySelectorAll(selector).length === n",
        arg=[selector, n],
    )


def _wait_drawn(page, selector: str) -> None:
    page.locator(selector).first.wait_for(state="attached")


def test_jupyterlab_runs_a_notebook_of_all_widgets_and_redraws_on_a_control_change(
    page, jupyterlab_url, blocked_requests
):
    expected = _expected()
    only_local(page, jupyterlab_url, blocked_requests)
    page.goto(f"{jupyterlab_url}/lab/tree/{NOTEBOOK}", timeout=APP_TIMEOUT_MS)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    # Run All Cells before the kernel is ready runs nothing: wait for the status bar's "Idle".
    page.locator(".jp-StatusBar-TextItem", has_text="| Idle").wait_for()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
    # Run All stops at a cell that raises: wait for the last cell's output or a traceback.
    ran = page.locator(f".jp-OutputArea-output:has-text('{DONE}')")
    raised = page.locator(".jp-OutputArea-output:has-text('Traceback')")
    ran.or_(raised).first.wait_for(state="attached")
    assert raised.count() == 0, raised.first.inner_text()

    # Every widget drew its charts, with the marks the data calls for.
    _wait_count(page, FUNNEL_BARS, STEPS)
    status = page.locator(".kpi-funnel-explorer .kpi-funnel-status")
    assert f"{expected['entered']:,} entered" in status.inner_text()
    _wait_count(page, GRID_CELLS, expected["grid_cells"])
    _wait_drawn(page, CURVES)
    _wait_count(page, LEADERBOARD_BARS, 2 * expected["owners"])  # accuracy and bias bars
    _wait_drawn(page, BY_WEEK_MARKS)
    _wait_drawn(page, PERIODS_MARKS)
    _wait_count(page, TILES, expected["kpis"])
    assert page.locator(SPARKS).count() == expected["kpis"]

    # A control change in the page reaches the kernel and redraws the chart in place:
    # broken down by channel, the funnel has one bar per step and channel.
    page.locator(".kpi-funnel-explorer .kpi-control-by select").select_option("channel")
    page.locator(".kpi-funnel-explorer .kpi-funnel-status:has-text('by channel')").wait_for()
    _wait_count(page, FUNNEL_BARS, STEPS * expected["channels"])
    # A tile's Details draws the KPI's trend chart (its line and the dashed target line).
    page.locator(".kpi-board .kpi-tile-cost_per_lead .kpi-tile-details").click()
    _wait_count(page, DETAIL_LINES, 2)

    assert page.locator(".kpi-error:visible").count() == 0
    assert raised.count() == 0
    assert blocked_requests == []
