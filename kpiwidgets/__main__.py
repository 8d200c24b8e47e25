"""Command line: ``kpiwidgets serve`` starts Voila over the curated app notebooks."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import webbrowser
from pathlib import Path


def apps_folder() -> Path:
    """The curated notebooks: the repository's ``notebooks/`` or the copy inside the wheel."""
    package = Path(__file__).resolve().parent
    for candidate in (package.parent / "notebooks", package / "_apps"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("kpiwidgets: the app notebooks are missing from this installation")


def _trust(folder: Path) -> None:
    """Sign the curated notebooks in the user's Jupyter trust store (as ``jupyter trust`` does).

    They are the package's own notebooks, committed without outputs; signing them keeps
    Jupyter's "Notebook ... is not trusted" warning out of the server log on every page.
    """
    import nbformat
    from nbformat.sign import NotebookNotary

    notary = NotebookNotary()
    for path in sorted(folder.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        if not notary.check_signature(notebook):
            notary.sign(notebook)


def _has_browser() -> bool:
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _check_data(args: argparse.Namespace) -> dict[str, str] | None:
    """Read ``--data`` once, before serving: the environment the apps' kernels get, or None
    (after printing why) when the folder cannot be used."""
    if args.data is None:
        return {}
    from kpiwidgets.apps import DATA_ENV, OPTIONS_ENV, describe
    from kpiwidgets.datasets import read_dataset

    options = {
        k: v
        for k, v in {
            "preset": args.preset,
            "dayfirst": args.dayfirst,
            "decimal": args.decimal,
            "engine": args.engine,
        }.items()
        if v is not None
    }
    try:
        ds = read_dataset(args.data, **options)
    except (OSError, ValueError) as exc:
        print(
            f"kpiwidgets serve: cannot use --data {args.data}:\n{exc}\n"
            "Fix the files (or pass --preset, --dayfirst / --monthfirst, --decimal) and start "
            "again; `kpiwidgets serve` without --data serves the demo company.",
            file=sys.stderr,
        )
        return None
    print("\n".join(describe(args.data, ds, engine=args.engine or "pandas")), flush=True)
    return {DATA_ENV: str(Path(args.data).resolve()), OPTIONS_ENV: json.dumps(options)}


def _token(args: argparse.Namespace) -> str | None:
    """The token the apps require: ``--token``, or a generated one beyond loopback."""
    if args.token:
        return args.token
    if args.host in LOOPBACK:
        return None
    # The apps show the company's revenue: bound beyond this machine, they need a token.
    return secrets.token_urlsafe(24)


def _serve(args: argparse.Namespace) -> int:
    from voila.app import Voila

    folder = Path(args.notebooks).resolve() if args.notebooks else apps_folder()
    data_env = _check_data(args)
    if data_env is None:
        return 2
    _trust(folder)
    token = _token(args)
    argv = [
        str(folder),
        f"--port={args.port}",
        f"--Voila.ip={args.host}",
        # Voila's lab template minus its CDN stylesheets, plus the landing page and the
        # navigation between apps (installed with the package).
        "--template=kpiwidgets",
        f"--VoilaConfiguration.show_tracebacks={args.tracebacks}",
    ]
    if args.pool_size > 0:
        # Preheated kernels: each app runs in a kernel started before anyone asks, so its
        # first chart is drawn about as soon as a one-chart page's (see benchmarks/).
        argv += [
            "--VoilaConfiguration.preheat_kernel=True",
            f"--VoilaConfiguration.default_pool_size={args.pool_size}",
        ]
    if token:
        argv.append(f"--token={token}")
    if os.name == "posix":
        # Kernel traffic over Unix sockets instead of loopback TCP (ipykernel warns that TCP
        # is unencrypted); Windows has no such transport and stays on TCP.
        argv.append("--KernelManager.transport=ipc")
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{shown_host}:{args.port}/" + (f"?token={token}" if token else "")
    # With no browser on the machine (a server, a container) Voila would log a warning that
    # reads like a failure; say instead where the apps are.
    opens = not args.no_browser and _has_browser()
    if not opens:
        argv.append("--no-browser")
    where = "opening it in your browser" if opens else "open that address in a browser"
    print(
        f"kpiwidgets: serving the apps in {folder} at {url} ({where}; Ctrl+C stops the server)",
        flush=True,
    )
    os.environ.update(data_env)  # the kernels Voila starts inherit the server's environment
    os.chdir(folder)  # Voila reads a voila.json beside the notebooks, as `voila DIR` would
    # jupyter_server's websocket keeps a 90 s ping timeout that tornado caps at the 30 s ping
    # interval, with a warning on every start; set what tornado would use anyway.
    Voila.launch_instance(argv=argv, tornado_settings={"ws_ping_timeout": 30_000})
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kpiwidgets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve the KPI apps with Voila",
        description="Serve the KPI apps (a landing page and one page per app) with Voila, on "
        "the demo company or on your own export files (--data).",
    )
    serve.add_argument("--port", type=int, default=8866)
    serve.add_argument(
        "--host",
        "--ip",
        dest="host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; any other address "
        "requires a token in the URL)",
    )
    serve.add_argument(
        "--token",
        default=None,
        help="the token the pages require (default: none on 127.0.0.1, a generated one, "
        "printed with the address, beyond it)",
    )
    serve.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    data = serve.add_argument_group("your own data (default: the demo company)")
    data.add_argument(
        "--data",
        metavar="DIR",
        default=None,
        help="a folder of export files named after the tables (leads.csv, opportunities.xlsx, "
        "revenue.parquet, ...), read with kw.read_dataset; every app uses them",
    )
    data.add_argument("--preset", default=None, help="the CRM the files come from (kw.PRESETS)")
    order = data.add_mutually_exclusive_group()
    order.add_argument(
        "--dayfirst",
        dest="dayfirst",
        action="store_const",
        const=True,
        default=None,
        help="dates that read both ways are day first (31/01 style)",
    )
    order.add_argument(
        "--monthfirst",
        dest="dayfirst",
        action="store_const",
        const=False,
        help="dates that read both ways are month first (01/31 style)",
    )
    data.add_argument(
        "--decimal", default=None, choices=[".", ","], help="the decimal mark of number columns"
    )
    data.add_argument(
        "--engine",
        default=None,
        choices=["pandas", "duckdb", "polars"],
        help="how the apps read --data (kw.read_dataset's engine): pandas (default) reads every "
        "table into memory; duckdb or polars keep Parquet files on disk as lazy tables, and "
        "the apps compute on that engine (Parquet only)",
    )
    serve.add_argument(
        "--pool-size",
        type=int,
        default=1,
        help="preheated kernels kept ready per app (default 1; 0 starts a kernel per request)",
    )
    serve.add_argument(
        "--tracebacks",
        action="store_true",
        help="show Python tracebacks in the pages (for developing the apps)",
    )
    serve.add_argument(
        "--notebooks",
        metavar="DIR",
        default=None,
        help="serve these notebooks instead of the curated apps, with the same template",
    )
    serve.set_defaults(run=_serve)
    args = parser.parse_args(argv)
    if getattr(args, "engine", None) is not None and args.data is None:
        serve.error(
            "--engine applies to the tables of --data; the demo company is built in memory "
            "(pandas): pass --data DIR, or leave out --engine"
        )
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
