"""Command line: ``kpiwidgets serve`` starts Voila over the curated app notebooks."""

from __future__ import annotations

import argparse
import os
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


def _serve(args: argparse.Namespace) -> int:
    from voila.app import Voila

    folder = apps_folder()
    _trust(folder)
    argv = [
        str(folder),
        f"--port={args.port}",
        f"--Voila.ip={args.ip}",
        # Voila's lab template minus its CDN stylesheets (installed with the package).
        "--template=kpiwidgets",
        f"--VoilaConfiguration.show_tracebacks={args.tracebacks}",
    ]
    if os.name == "posix":
        # Kernel traffic over Unix sockets instead of loopback TCP (ipykernel warns that TCP
        # is unencrypted); Windows has no such transport and stays on TCP.
        argv.append("--KernelManager.transport=ipc")
    url = f"http://{args.ip}:{args.port}/"
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
    os.chdir(folder)  # Voila reads a voila.json beside the notebooks, as `voila DIR` would
    # jupyter_server's websocket keeps a 90 s ping timeout that tornado caps at the 30 s ping
    # interval, with a warning on every start; set what tornado would use anyway.
    Voila.launch_instance(argv=argv, tornado_settings={"ws_ping_timeout": 30_000})
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kpiwidgets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the KPI apps with Voila")
    serve.add_argument("--port", type=int, default=8866)
    serve.add_argument("--ip", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    serve.add_argument(
        "--tracebacks",
        action="store_true",
        help="show Python tracebacks in the pages (for developing the apps)",
    )
    serve.set_defaults(run=_serve)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
