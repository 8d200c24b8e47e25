"""The apps' data: the demo company, or the folder given to ``kpiwidgets serve --data``.

The curated notebooks in ``notebooks/`` start with ``ds = kw.app_data("<app>")``. ``kpiwidgets
serve`` checks the user's folder once, at start (a folder that cannot be read stops the server
with the reason, before any page is served), and hands it to every app's kernel through the
environment: ``KPIWIDGETS_DATA`` holds the folder, ``KPIWIDGETS_DATA_OPTIONS`` the
:func:`kpiwidgets.read_dataset` options as JSON (``engine`` among them: with ``"duckdb"`` or
``"polars"`` every kernel gets lazy tables over the Parquet files, and the widgets collect only
aggregates). Without them the apps run on the demo company.

An app whose tables are missing from the user's data says which ones, inside the page, and
runs nothing more (no traceback): see :func:`app_data`.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.datasets import Dataset, load_demo, read_dataset

__all__ = ["APPS", "App", "AppDataError", "app_data", "data_from_env", "on_demo", "readiness"]

DATA_ENV = "KPIWIDGETS_DATA"
OPTIONS_ENV = "KPIWIDGETS_DATA_OPTIONS"
#: The read_dataset options `kpiwidgets serve` passes on (the rest keep their defaults).
DATA_OPTIONS = ("preset", "dayfirst", "decimal", "duplicates", "engine")


@dataclass(frozen=True)
class App:
    """One curated notebook: its name (``notebooks/<name>.ipynb``) and the tables it needs."""

    name: str
    needs: tuple[str, ...]


#: Every app, in the order of the landing page. Titles, descriptions and thumbnails live in
#: the Voila template (``apps.macro.html.j2``), which draws the landing page and the navigation;
#: a test keeps the two lists and ``notebooks/`` in step.
APPS = (
    App("overview", ("leads",)),
    App("funnel_explorer", ("funnel_events",)),
    App("cohort_retention", ("revenue", "opportunities")),
    App("forecast_accuracy", ("forecasts", "opportunities")),
    App("kpi_scorecard", ()),
)


class AppDataError(Exception):
    """An app cannot run on the data it was given; the message says why and what to do."""


def data_from_env(environ: Mapping[str, str] | None = None) -> tuple[str | None, dict[str, Any]]:
    """The user's folder and read options from the environment (``(None, {})``: the demo)."""
    environ = os.environ if environ is None else environ
    folder = environ.get(DATA_ENV) or None
    options = json.loads(environ.get(OPTIONS_ENV) or "{}")
    unknown = sorted(set(options) - set(DATA_OPTIONS))
    if unknown:
        raise AppDataError(f"{OPTIONS_ENV} has unknown option(s) {unknown}; known: {DATA_OPTIONS}")
    return folder, options


def on_demo() -> bool:
    """True when the apps run on the demo company (no ``kpiwidgets serve --data``)."""
    return data_from_env()[0] is None


_loaded: dict[str, Dataset] = {}


def app_data(app: str | None = None) -> Dataset:
    """The dataset the apps run on: the ``--data`` folder of ``kpiwidgets serve``, or the demo.

    With ``app`` (a name of :data:`APPS`), the tables that app needs are checked first. When
    one is missing, or the folder cannot be read, an :class:`AppDataError` says so; in a
    notebook (Voila, JupyterLab) it is shown as a message in the page instead of a traceback,
    and the rest of the notebook does not run. Read once per kernel.
    """
    _show_problems_in_page()
    folder, options = data_from_env()
    key = json.dumps([folder, options], sort_keys=True)
    if key not in _loaded:
        if folder is None:
            _loaded[key] = load_demo()
        else:
            try:
                _loaded[key] = read_dataset(folder, **options)
            except (OSError, ValueError) as exc:
                raise AppDataError(f"The data in {folder} cannot be read: {exc}") from exc
    ds = _loaded[key]
    if app is not None:
        missing = _missing(ds, app)
        if missing:
            where = folder or "the demo company"
            raise AppDataError(
                f"This app needs the table(s) {', '.join(missing)}, which {where} does not have "
                f"(it has: {', '.join(ds.tables) or 'no tables'}). Add a file named after each "
                f"({missing[0]}.csv, .xlsx or .parquet) and restart kpiwidgets serve."
            )
    return ds


def readiness(ds: Dataset) -> dict[str, tuple[str, ...]]:
    """For each app, the tables it needs that ``ds`` lacks (empty: the app can run)."""
    return {app.name: _missing(ds, app.name) for app in APPS}


def _missing(ds: Dataset, name: str) -> tuple[str, ...]:
    apps = {app.name: app for app in APPS}
    if name not in apps:
        raise ValueError(f"app_data: unknown app {name!r}; apps: {', '.join(apps)}")
    return tuple(t for t in apps[name].needs if t not in ds)


def _show_problems_in_page() -> None:
    """In IPython, show an :class:`AppDataError` as an escaped message, without a traceback.

    IPython's custom exception handler still ends the cell as failed, so Voila and nbclient
    stop running the notebook there: the app shows its problem and nothing after it runs.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return
    shell = get_ipython()
    if shell is None:
        return

    def show(shell, etype, value, tb, tb_offset=None):
        from IPython.display import HTML, display

        display(
            HTML(
                "<div class='kpi-app-problem' role='alert' style='border-left:4px solid #b00020;"
                "padding:8px 12px;background:#fdecea;font-size:14px'>"
                f"{html.escape(str(value))}</div>"
            )
        )

    shell.set_custom_exc((AppDataError,), show)


def describe(folder: str | os.PathLike[str], ds: Dataset, *, engine: str = "pandas") -> list[str]:
    """Lines ``kpiwidgets serve`` prints about the user's data: tables, rows, app readiness.

    Rows are counted by each table's engine (one aggregate per table: a lazy table over
    Parquet files, ``engine="duckdb"`` / ``"polars"``, is not read).
    """
    lazy = "" if engine == "pandas" else f" (lazy {engine} tables over the Parquet files)"
    lines = [f"kpiwidgets: data from {Path(folder).resolve()}{lazy}:"]
    for name in ds.tables:
        count = nw.from_native(ds[name]).lazy().select(nw.len().alias("n")).collect()
        lines.append(f"  {name}: {int(count['n'][0]):,} rows")
    for name, missing in readiness(ds).items():
        if missing:
            lines.append(f"  app {name}: needs {', '.join(missing)} (not in the folder)")
    return lines
