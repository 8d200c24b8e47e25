"""``kpiwidgets serve --data`` and ``--host``/``--token`` against a real server.

* A folder of CSV exports written here, with counts known by construction, is what every app
  shows (checked in Chromium with outside requests blocked); an app whose table the folder
  lacks says which, in its page, with no traceback. The same folder as Parquet files served
  with ``--engine duckdb`` (lazy tables: the apps compute on DuckDB) shows the same numbers.
* Bound beyond loopback, the server refuses a request without the token and serves one with it.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from datetime import datetime, timedelta

import pytest

from tests.browser.conftest import free_port, only_local, open_app, start_server, stop_server

# Six leads by construction: 4 reach mql, 2 of those reach sql; three on "web", three "ads".
LEADS = [
    ("L1", "2025-01-06 09:00:00", "web"),
    ("L2", "2025-01-07 10:00:00", "web"),
    ("L3", "2025-01-08 11:00:00", "web"),
    ("L4", "2025-02-03 12:00:00", "ads"),
    ("L5", "2025-02-04 13:00:00", "ads"),
    ("L6", "2025-02-05 14:00:00", "ads"),
]
REACHED = {"mql": ["L1", "L2", "L4", "L5"], "sql": ["L1", "L4"]}


def _write_export(folder, parquet: bool = False) -> None:
    folder.mkdir()
    lines = ["lead_id,created_at,channel"] + [",".join(row) for row in LEADS]
    (folder / "leads.csv").write_text("\n".join(lines) + "\n")
    events = ["entity_id,event,timestamp,channel"]
    for lead, created, channel in LEADS:
        events.append(f"{lead},lead,{created},{channel}")
        for days, step in ((3, "mql"), (9, "sql")):
            if lead in REACHED[step]:
                at = datetime.fromisoformat(created) + timedelta(days=days)
                events.append(f"{lead},{step},{at:%Y-%m-%d %H:%M:%S},{channel}")
    (folder / "funnel_events.csv").write_text("\n".join(events) + "\n")
    if parquet:  # the same tables, typed, as Parquet files (what lazy engines read)
        import pandas as pd

        for name, when in (("leads", "created_at"), ("funnel_events", "timestamp")):
            csv = folder / f"{name}.csv"
            pd.read_csv(csv, parse_dates=[when]).to_parquet(folder / f"{name}.parquet")
            csv.unlink()


@pytest.fixture(scope="module", params=["csv", "parquet-duckdb"])
def data_server(tmp_path_factory, request):
    work = tmp_path_factory.mktemp("data")
    folder = work / "export"
    lazy = request.param == "parquet-duckdb"
    _write_export(folder, parquet=lazy)
    port = free_port()
    command = [sys.executable, "-m", "kpiwidgets", "serve", "--no-browser", f"--port={port}"]
    command += ["--data", str(folder), *(["--engine", "duckdb"] if lazy else [])]
    base = f"http://127.0.0.1:{port}"
    process = start_server(command, cwd=work, log=work / "serve.log", base=base)
    yield base, (work / "serve.log")
    stop_server(process)


def test_data_folder_numbers_are_what_the_apps_show(page, data_server, blocked_requests):
    base, log = data_server
    assert "leads: 6 rows" in log.read_text() and "funnel_events: 12 rows" in log.read_text()
    only_local(page, base, blocked_requests)
    open_app(page, base, "overview")
    tables = page.locator(".kpi-overview-tables table").inner_text()
    assert "leads\t6" in tables and "funnel_events\t12" in tables
    assert "opportunities" not in tables  # only the folder's tables, not the demo's
    # Leads per month by channel: January 3 web, February 3 ads -> two bars.
    page.locator(".kpi-chart svg .mark-rect path").first.wait_for()
    assert page.locator(".kpi-chart svg .mark-rect path").count() == 2

    open_app(page, base, "funnel_explorer")
    status = page.locator(".kpi-funnel-status")
    status.get_by_text("6 entered").wait_for()
    page.locator(".kpi-funnel-chart svg .mark-rect path").first.wait_for()
    labels = page.locator(".kpi-funnel-chart svg text").evaluate_all(
        "els => els.map(e => e.textContent)"
    )
    for expected in ("6 (100%)", "4 (67%)", "2 (33%)"):
        assert expected in labels

    # The forecast app needs tables this folder lacks: it says which, and nothing else runs.
    open_app(page, base, "forecast_accuracy")
    problem = page.locator(".kpi-app-problem")
    problem.wait_for()
    assert "needs the table(s) forecasts, opportunities" in problem.inner_text()
    assert page.locator(".kpi-forecast").count() == 0
    assert page.get_by_text("Traceback").count() == 0
    assert page.get_by_text("There was an error").count() == 0
    assert blocked_requests == []


class _Refuse(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect comes back as an HTTPError with its status and Location


_no_redirects = urllib.request.build_opener(_Refuse)


def test_beyond_loopback_a_request_without_the_token_is_refused(tmp_path):
    port = free_port()
    token = "k3y-for-this-test"
    command = [sys.executable, "-m", "kpiwidgets", "serve", "--no-browser", f"--port={port}"]
    command += ["--host", "0.0.0.0", "--token", token, "--pool-size", "0"]
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    process = start_server(command, cwd=tmp_path, log=log, base=base, probe=f"/?token={token}")
    try:
        assert f"http://0.0.0.0:{port}/?token={token} " in log.read_text()
        for path in ("/", "/voila/render/overview.ipynb", "/voila/tree", "/?token=wrong"):
            # Refused: sent to the login page (no app), never the page asked for.
            with pytest.raises(urllib.error.HTTPError) as refused:
                _no_redirects.open(base + path, timeout=30)
            assert refused.value.code == 302, path
            assert refused.value.headers["Location"].startswith("/login?next="), path
            with urllib.request.urlopen(base + path, timeout=30) as login:
                body = login.read()
            assert login.url.startswith(f"{base}/login") and b"kpi-app-card" not in body
            assert b"kpiwidgets" not in body and b"funnel" not in body.lower()
        with urllib.request.urlopen(f"{base}/?token={token}", timeout=30) as ok:
            assert ok.status == 200 and b"kpi-app-card" in ok.read()
        # A browser that opened the printed address keeps its login (a cookie), so the links
        # of the landing page, which carry no token, open the apps.
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        browser.open(f"{base}/?token={token}", timeout=30).read()
        with browser.open(f"{base}/voila/tree", timeout=30) as tree:
            assert tree.url == f"{base}/voila/tree" and b"kpi-app-card" in tree.read()
    finally:
        stop_server(process)
