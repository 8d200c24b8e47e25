"""``kw.app_data``: what the apps run on (the demo, or the folder ``serve --data`` hands over).

The server side (reading the folder at start, the environment it sets) is in test_cli.py; the
pages themselves in tests/browser/test_serve_options.py.
"""

from __future__ import annotations

import json

import pytest

import kpiwidgets as kw
from kpiwidgets import apps
from kpiwidgets.apps import DATA_ENV, OPTIONS_ENV, AppDataError


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A folder of two exports (day-first dates), handed over as `serve --data` does."""
    (tmp_path / "leads.csv").write_text(
        "lead_id,created_at,channel\nL1,31/01/2025,web\nL2,01/02/2025,ads\nL3,,ads\n"
    )
    (tmp_path / "revenue.csv").write_text("account_id,month,mrr\nA1,01/01/2025,100\n")
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    monkeypatch.setenv(OPTIONS_ENV, json.dumps({"dayfirst": True}))
    monkeypatch.setattr(apps, "_loaded", {})
    return tmp_path


def test_without_a_folder_the_apps_run_on_the_demo(monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    assert apps.on_demo()
    ds = kw.app_data("overview")
    assert set(ds.tables) == set(kw.TABLES)
    assert kw.app_data() is ds  # read once per kernel


def test_the_folder_is_read_with_its_options(folder):
    assert not apps.on_demo()
    with pytest.warns(kw.DroppedRowsWarning):  # the lead without a date, said as it is read
        ds = kw.app_data("overview")
    assert ds.tables == ["leads", "revenue"]
    # Read day first, as the option says; the lead without a date is left out and counted.
    assert ds.leads["created_at"].dt.strftime("%Y-%m-%d").tolist() == ["2025-01-31", "2025-02-01"]
    assert ds.dropped == {"leads": {"null created_at": 1, "rows left out": 1}}


@pytest.mark.filterwarnings("ignore::kpiwidgets.DroppedRowsWarning")
def test_an_app_lacking_a_table_names_it(folder):
    with pytest.raises(AppDataError) as error:
        kw.app_data("forecast_accuracy")
    message = str(error.value)
    assert "needs the table(s) forecasts, opportunities" in message
    assert str(folder) in message and "it has: leads, revenue" in message
    assert "forecasts.csv" in message  # what to add
    assert apps.readiness(kw.app_data()) == {
        "overview": (),
        "funnel_explorer": ("funnel_events",),
        "cohort_retention": ("opportunities",),
        "forecast_accuracy": ("forecasts", "opportunities"),
        "kpi_scorecard": (),
    }


@pytest.mark.filterwarnings("ignore::kpiwidgets.DroppedRowsWarning")
def test_an_unknown_app_or_option_is_refused(folder, monkeypatch):
    with pytest.raises(ValueError, match="unknown app 'funnel'"):
        kw.app_data("funnel")
    monkeypatch.setenv(OPTIONS_ENV, json.dumps({"dayfirst": True, "encoding": "latin-1"}))
    with pytest.raises(AppDataError, match=r"unknown option\(s\) \['encoding'\]"):
        kw.app_data()
    monkeypatch.setenv(OPTIONS_ENV, json.dumps({"engine": "spark"}))  # known, but not an engine
    with pytest.raises(AppDataError, match="cannot be read: read_dataset: engine must be one of"):
        kw.app_data()


def test_a_folder_that_cannot_be_read_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "gone"))
    monkeypatch.setattr(apps, "_loaded", {})
    with pytest.raises(AppDataError, match=r"cannot be read: read_dataset: .* is not a folder"):
        kw.app_data()


def test_in_a_notebook_the_problem_is_shown_escaped_without_a_traceback(
    tmp_path, monkeypatch, capsys
):
    """IPython's handler shows the message as HTML (escaped) instead of a traceback."""
    from IPython.core.interactiveshell import InteractiveShell

    hostile = tmp_path / "<img src=x onerror=alert(1)>"
    hostile.mkdir()
    (hostile / "revenue.csv").write_text("account_id,month,mrr\nA1,2025-01-01,100\n")
    monkeypatch.setenv(DATA_ENV, str(hostile))
    monkeypatch.setattr(apps, "_loaded", {})
    shell = InteractiveShell.instance()
    shown = []
    monkeypatch.setattr(shell.display_pub, "publish", lambda data, **kw: shown.append(data))
    try:
        result = shell.run_cell('import kpiwidgets as kw\nkw.app_data("funnel_explorer")')
    finally:
        InteractiveShell.clear_instance()
    assert not result.success  # the cell fails, so Voila runs nothing after it
    (html,) = [d["text/html"] for d in shown if "text/html" in d]
    assert html.startswith("<div class='kpi-app-problem' role='alert'")
    assert "needs the table(s) funnel_events" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html
    assert "Traceback" not in capsys.readouterr().out


@pytest.mark.parametrize("engine", ["duckdb", "polars"])
def test_the_engine_option_gives_the_kernels_lazy_tables(tmp_path, monkeypatch, engine):
    """``serve --engine``: every app's kernel reads the Parquet files lazily, and the widgets
    compute on the engine."""
    import duckdb
    import pandas as pd
    import polars as pl

    demo = kw.load_demo(n_leads=300)
    demo.funnel_events.to_parquet(tmp_path / "funnel_events.parquet")
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    monkeypatch.setenv(OPTIONS_ENV, json.dumps({"engine": engine}))
    monkeypatch.setattr(apps, "_loaded", {})
    ds = kw.app_data("funnel_explorer")
    lazy_type = {"duckdb": duckdb.DuckDBPyRelation, "polars": pl.LazyFrame}[engine]
    assert isinstance(ds.funnel_events, lazy_type)
    assert kw.app_data() is ds  # read once per kernel
    explorer = kw.FunnelExplorer(ds.funnel_events, window="180D")
    expected = kw.FunnelExplorer(demo.funnel_events, window="180D").result
    assert explorer.error == ""
    pd.testing.assert_frame_equal(explorer.result, expected)
