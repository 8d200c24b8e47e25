"""``kpiwidgets serve``: the arguments it hands to Voila and the line it prints.

Starting the real server is covered by the browser tests; here the one stub is
``voila.app.Voila.launch_instance``, which records its arguments instead of serving. The argv
it receives is then parsed by a real (never started) ``Voila`` application, so the flags are
checked for what they mean to Voila, not only for how they are spelled.
"""

from __future__ import annotations

import json
import os
import webbrowser
from pathlib import Path

import nbformat
import pytest
from nbformat.sign import NotebookNotary
from voila.app import Voila

from kpiwidgets.__main__ import main
from kpiwidgets.apps import DATA_ENV, OPTIONS_ENV

APPS = {"overview.ipynb", "funnel_explorer.ipynb", "cohort_retention.ipynb"}


def _machine_has_browser() -> bool:
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


@pytest.fixture
def serve(monkeypatch, tmp_path, capsys):
    """Run ``kpiwidgets serve ARGS`` with Voila's launch recorded; returns what it got."""
    calls: list[dict] = []

    def launch_instance(*args, **kwargs):
        calls.append({"args": args, "kwargs": kwargs, "cwd": os.getcwd()})

    monkeypatch.setattr(Voila, "launch_instance", staticmethod(launch_instance))
    # The notebooks are signed in the Jupyter data dir: keep that out of the user's home.
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))
    monkeypatch.chdir(tmp_path)  # serve changes directory; monkeypatch changes it back
    # serve hands --data to the kernels through its environment: restore it afterwards.
    for name in (DATA_ENV, OPTIONS_ENV):
        monkeypatch.setenv(name, "")  # recorded, so teardown restores the variable's absence
        monkeypatch.delenv(name)

    def run(*args: str) -> dict:
        calls.clear()
        assert main(["serve", *args]) == 0
        assert len(calls) == 1
        call = calls[0]
        assert call["args"] == ()
        argv = call["kwargs"]["argv"]
        app = Voila()
        app.parse_command_line(argv)
        folder = Path(argv[0])
        return {**call, "argv": argv, "app": app, "folder": folder, "out": capsys.readouterr().out}

    return run


def test_defaults(serve):
    got = serve()
    folder, app = got["folder"], got["app"]
    # Voila serves the folder of app notebooks, and runs in it (it reads voila.json there).
    assert folder.is_dir() and {p.name for p in folder.glob("*.ipynb")} >= APPS
    assert Path(got["cwd"]) == folder
    assert app.extra_args == [str(folder)]
    assert app.port == 8866
    assert app.ip == "127.0.0.1"
    assert app.config.VoilaConfiguration.template == "kpiwidgets"
    assert app.config.VoilaConfiguration.show_tracebacks is False
    assert got["kwargs"]["tornado_settings"] == {"ws_ping_timeout": 30_000}
    # Opens a browser only when the machine has one; otherwise passes --no-browser and says
    # where to open the apps.
    has_browser = _machine_has_browser()
    assert app.open_browser is has_browser
    where = "opening it in your browser" if has_browser else "open that address in a browser"
    assert got["out"] == (
        f"kpiwidgets: serving the apps in {folder} at http://127.0.0.1:8866/ "
        f"({where}; Ctrl+C stops the server)\n"
    )


def test_port_host_no_browser_and_tracebacks(serve):
    got = serve("--port", "9123", "--host", "0.0.0.0", "--no-browser", "--tracebacks")
    app = got["app"]
    assert app.port == 9123
    assert app.ip == "0.0.0.0"
    assert app.open_browser is False
    assert "--no-browser" in got["argv"]
    assert app.config.VoilaConfiguration.show_tracebacks is True
    # Beyond loopback the apps need a token: generated, handed to Voila, printed in the URL.
    token = app.token
    assert isinstance(token, str) and len(token) >= 32
    assert got["out"] == (
        f"kpiwidgets: serving the apps in {got['folder']} at http://0.0.0.0:9123/?token={token} "
        "(open that address in a browser; Ctrl+C stops the server)\n"
    )
    # A new token each start, and --ip is the older spelling of --host.
    again = serve("--ip", "0.0.0.0", "--no-browser")
    assert again["app"].ip == "0.0.0.0" and again["app"].token not in ("", token)


def test_loopback_needs_no_token_unless_given(serve):
    assert serve("--no-browser")["app"].token is None  # Voila then serves without one
    got = serve("--no-browser", "--token", "s3cret")
    assert got["app"].token == "s3cret"
    assert "http://127.0.0.1:8866/?token=s3cret " in got["out"]


def test_preheated_kernels_one_per_app_by_default(serve):
    config = serve("--no-browser")["app"].config.VoilaConfiguration
    assert config.preheat_kernel is True and config.default_pool_size == 1
    config = serve("--no-browser", "--pool-size", "0")["app"].config.VoilaConfiguration
    assert "preheat_kernel" not in config  # a kernel per request, Voila's default


def test_data_folder_is_read_at_start_and_handed_to_the_kernels(serve, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "leads.csv").write_text(
        "lead_id,created_at,channel\nL1,31/01/2025,web\nL2,01/02/2025,web\nL3,02/02/2025,ads\n"
    )
    got = serve("--no-browser", "--data", str(folder), "--dayfirst", "--preset", "hubspot")
    assert os.environ[DATA_ENV] == str(folder.resolve())
    assert json.loads(os.environ[OPTIONS_ENV]) == {"preset": "hubspot", "dayfirst": True}
    # What was read, and which apps lack a table, before the address.
    out = got["out"]
    assert f"kpiwidgets: data from {folder.resolve()}:\n  leads: 3 rows\n" in out
    assert "app funnel_explorer: needs funnel_events (not in the folder)" in out
    assert "app overview:" not in out  # the overview needs only leads
    assert out.index("data from") < out.index("serving the apps")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (None, "is not a folder"),
        ({}, "no table files in"),
        ({"leads.csv": "lead_id,created_at\nL1,03/04/2025\nL2,05/06/2025\n"}, "reads two ways"),
    ],
    ids=["missing-folder", "no-table-file", "ambiguous-dates"],
)
def test_bad_data_folder_stops_before_serving(files, expected, monkeypatch, tmp_path, capsys):
    launched = []
    monkeypatch.setattr(Voila, "launch_instance", staticmethod(lambda **kw: launched.append(kw)))
    folder = tmp_path / "export"
    if files is not None:
        folder.mkdir()
        for name, text in files.items():
            (folder / name).write_text(text)
    assert main(["serve", "--no-browser", "--data", str(folder)]) == 2
    assert launched == []
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"kpiwidgets serve: cannot use --data {folder}:" in captured.err
    assert expected in captured.err
    assert DATA_ENV not in os.environ


def test_kernel_transport_is_ipc_on_posix(serve):
    got = serve("--no-browser")
    transport = got["app"].config.KernelManager.get("transport")
    if os.name == "posix":
        assert str(transport) == "ipc"
    else:  # Windows has no IPC transport: Voila's default (TCP) stays
        assert transport is None


def test_serve_signs_the_app_notebooks_in_the_jupyter_data_dir(serve, tmp_path):
    got = serve("--no-browser")
    notary = NotebookNotary(data_dir=str(tmp_path / "jupyter"))
    for name in sorted(APPS):
        notebook = nbformat.read(got["folder"] / name, as_version=4)
        assert notary.check_signature(notebook), name


@pytest.mark.parametrize(
    "args",
    [[], ["serve", "--port", "eighty"], ["serve", "--colour"], ["launch"]],
)
def test_bad_arguments_exit_with_usage(args, serve, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert "usage: kpiwidgets" in capsys.readouterr().err


def test_engine_reads_the_parquet_folder_lazily_and_hands_it_to_the_kernels(serve, tmp_path):
    import pandas as pd

    folder = tmp_path / "parquet"
    folder.mkdir()
    created = pd.to_datetime(["2025-01-31", "2025-02-01", "2025-02-02"])
    pd.DataFrame({"lead_id": ["L1", "L2", "L3"], "created_at": created}).to_parquet(
        folder / "leads.parquet"
    )
    for engine in ("duckdb", "polars"):
        got = serve("--no-browser", "--data", str(folder), "--engine", engine)
        assert json.loads(os.environ[OPTIONS_ENV]) == {"engine": engine}
        # Counted by the engine, from the Parquet file (nothing read into pandas).
        assert (
            f"kpiwidgets: data from {folder.resolve()} (lazy {engine} tables over the Parquet "
            "files):\n  leads: 3 rows\n"
        ) in got["out"]
    got = serve("--no-browser", "--data", str(folder), "--engine", "pandas")
    assert json.loads(os.environ[OPTIONS_ENV]) == {"engine": "pandas"}
    assert f"kpiwidgets: data from {folder.resolve()}:\n  leads: 3 rows\n" in got["out"]


def test_a_lazy_engine_on_text_files_stops_before_serving(monkeypatch, tmp_path, capsys):
    launched = []
    monkeypatch.setattr(Voila, "launch_instance", staticmethod(lambda **kw: launched.append(kw)))
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "leads.csv").write_text("lead_id,created_at\nL1,2025-01-31\n")
    assert main(["serve", "--no-browser", "--data", str(folder), "--engine", "duckdb"]) == 2
    assert launched == []
    err = capsys.readouterr().err
    assert f"kpiwidgets serve: cannot use --data {folder}:" in err
    assert "engine='duckdb' reads Parquet files only, found leads.csv" in err
    assert DATA_ENV not in os.environ


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engine", "duckdb"], "--engine applies to the tables of --data"),
        (["--data", "x", "--engine", "spark"], "argument --engine: invalid choice: 'spark'"),
    ],
)
def test_engine_needs_data_and_one_of_the_three_engines(args, message, serve, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--no-browser", *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
