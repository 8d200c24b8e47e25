"""Command line: ``kpiwidgets serve`` starts Voila over the curated app notebooks."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path


def apps_folder() -> Path:
    """The curated notebooks: the repository's ``notebooks/`` or the copy inside the wheel."""
    package = Path(__file__).resolve().parent
    for candidate in (package.parent / "notebooks", package / "_apps"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("kpiwidgets: the app notebooks are missing from this installation")


def _serve(args: argparse.Namespace) -> int:
    folder = apps_folder()
    command = [
        sys.executable,
        "-m",
        "voila",
        str(folder),
        f"--port={args.port}",
        f"--Voila.ip={args.ip}",
        # Voila's lab template minus its CDN stylesheets (installed with the package).
        "--template=kpiwidgets",
        "--VoilaConfiguration.show_tracebacks=False",
    ]
    if args.no_browser:
        command.append("--no-browser")
    print(f"kpiwidgets: serving {folder} at http://{args.ip}:{args.port}/", flush=True)
    try:
        return subprocess.call(command, cwd=folder, env=os.environ.copy())
    except KeyboardInterrupt:
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kpiwidgets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the KPI apps with Voila")
    serve.add_argument("--port", type=int, default=8866)
    serve.add_argument("--ip", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    serve.set_defaults(run=_serve)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
