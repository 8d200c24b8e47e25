"""Binder's launch path: ``binder/`` alone installs a working set of apps.

repo2docker (what mybinder.org builds with) runs ``pip install -r binder/requirements.txt`` and
then ``binder/postBuild`` from the repository's root, and the image's ``jupyter server`` serves
the repository with Voila's server extension, under the hub's ``/user/<name>/`` prefix; the
README's badge opens ``voila/tree/notebooks`` there.

This test does the same on this machine: it copies the repository's files (those git tracks,
and new ones it does not ignore) to a temporary folder, creates a fresh virtual environment,
installs from ``binder/`` there with a temporary ``$HOME`` and no Jupyter state of this
machine's user, starts ``jupyter server`` over the copy as Binder does (with a prefix), and
fetches the pages the badge and the apps' links lead to.

pip's configuration (its indexes) and cache are this machine's; everything takes about
1.5 minutes.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.browser.conftest import ROOT, free_port, run_command, start_server, stop_server

pytestmark = pytest.mark.install

# mybinder.org's JupyterHub serves each session under a prefix of its own; a page that links to
# /voila/... instead of <prefix>voila/... works here without one but breaks on Binder.
PREFIX = "/user/kpiwidgets-binder-test/"
# A cold kernel on a busy 2-core machine builds the demo company before the page is sent.
PAGE_TIMEOUT_S = 180
# What Voila's own lab template loads from a CDN (Font Awesome), and the kpiwidgets template not.
OUTSIDE_RESOURCE = re.compile(r"<(?:link|script)\b[^>]*\b(?:href|src)=[\"'](?:https?:)?//", re.I)
LOCAL_URL = re.compile(r"\b(?:href|src)=[\"'](/[^\"']*)", re.I)


def _copy_repository(destination: Path) -> None:
    """The files a clone of the repository would have (plus new ones not yet committed)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a file deleted in the work tree is listed until committed
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _pip_settings() -> dict[str, str]:
    """This machine's pip cache and user configuration, which a temporary $HOME would hide."""
    home = Path.home()
    settings = {}
    if "PIP_CACHE_DIR" not in os.environ:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache")
        settings["PIP_CACHE_DIR"] = str(cache / "pip")
    if "PIP_CONFIG_FILE" not in os.environ:
        config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
        for candidate in (config / "pip" / "pip.conf", home / ".pip" / "pip.conf"):
            if candidate.is_file():
                settings["PIP_CONFIG_FILE"] = str(candidate)
                break
    return settings


@pytest.fixture(scope="module")
def binder_server(tmp_path_factory):
    """``jupyter server`` over a copy of the repository installed from binder/.

    Yields (the server's URL with Binder's prefix, its log's path).
    """
    work = tmp_path_factory.mktemp("binder")
    repo = work / "repo"
    _copy_repository(repo)
    home = work / "home"
    home.mkdir()
    venv = work / "venv"
    run_command([sys.executable, "-m", "venv", venv])
    # Binder's user: a home of its own and the environment's tools first on the PATH; none of
    # this machine's Python or Jupyter settings (config, kernels, data dirs) leak in.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "DISPLAY", "WAYLAND_DISPLAY")
        and not k.startswith(("JUPYTER_", "IPYTHON"))
    }
    env.update(_pip_settings())
    env["HOME"] = str(home)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    # repo2docker's assemble steps, from the repository's root: requirements.txt, postBuild.
    pip = [venv / "bin" / "python", "-m", "pip", "install", "--quiet"]
    run_command([*pip, "-r", "binder/requirements.txt"], cwd=repo, env=env)
    postbuild = repo / "binder" / "postBuild"
    if postbuild.exists():
        postbuild.chmod(0o755)  # repo2docker makes it executable, then runs it
        run_command([postbuild], cwd=repo, env=env)
    port = free_port()
    base = f"http://127.0.0.1:{port}{PREFIX.rstrip('/')}"
    log = work / "server.log"
    # The image's command (jupyterhub-singleuser is a jupyter server), with the hub's prefix.
    command = [
        venv / "bin" / "jupyter",
        "server",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--ServerApp.base_url={PREFIX}",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--allow-root",
        f"--ServerApp.root_dir={repo}",
    ]
    process = start_server(command, cwd=repo, log=log, base=base, env=env, timeout=120)
    yield base, log
    stop_server(process)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=PAGE_TIMEOUT_S) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


@pytest.fixture(scope="module")
def overview_page(binder_server):
    """The overview app as Binder serves it: (HTTP status, HTML, server log)."""
    base, log = binder_server
    status, page = _get(f"{base}/voila/render/notebooks/overview.ipynb")
    return status, page, log.read_text()


def _title(notebook: Path) -> str:
    """The notebook's first heading (the app's title), as it is today."""
    cells = json.loads(notebook.read_text())["cells"]
    for cell in cells:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise AssertionError(f"{notebook.name} has no title")


def _assert_served_by_kpiwidgets_template(page: str) -> None:
    assert f"{PREFIX}voila/templates/kpiwidgets/static/" in page, "not the kpiwidgets template"
    # Every link to the server carries the hub's prefix (on Binder, one without it is a 404).
    unprefixed = [url for url in LOCAL_URL.findall(page) if not url.startswith(PREFIX)]
    assert unprefixed == []


def test_binder_serves_the_apps_executed(overview_page):
    status, page, log = overview_page
    assert status == 200, f"HTTP {status}\n{page[-2000:]}\n{log[-3000:]}"
    assert _title(ROOT / "notebooks" / "overview.ipynb") in html.unescape(page)
    # Voila sends the page once every cell ran: the widgets' outputs are in it, no error is.
    assert page.count('"application/vnd.jupyter.widget-view+json"') >= 2  # table and chart
    for problem in ('"output_type": "error"', "Traceback", "There was an error when executing"):
        assert problem not in page, f"the page says {problem!r}"


def test_binder_serves_the_apps_with_the_kpiwidgets_template(overview_page):
    status, page, _ = overview_page
    assert status == 200
    _assert_served_by_kpiwidgets_template(page)
    # Voila's lab template would add Font Awesome stylesheets from a CDN; ours loads nothing
    # from outside.
    assert "fontawesome" not in page.lower()
    assert OUTSIDE_RESOURCE.findall(page) == []


def test_binder_badge_opens_the_landing_page(binder_server):
    """The README's badge: ?urlpath=voila/tree/notebooks."""
    base, log = binder_server
    status, page = _get(f"{base}/voila/tree/notebooks")
    assert status == 200, f"HTTP {status}\n{page[-2000:]}\n{log.read_text()[-3000:]}"
    _assert_served_by_kpiwidgets_template(page)
    # The landing page, not Voila's file list: it links to every app, and loads nothing from
    # outside either.
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f'href="{PREFIX}voila/render/notebooks/{notebook.name}"' in page, notebook.name
    assert OUTSIDE_RESOURCE.findall(page) == []


def test_binder_server_log_has_no_traceback(binder_server, overview_page):
    _, log = binder_server
    text = log.read_text()
    assert "Traceback" not in text, text[-4000:]
    assert "voila.server_extension | extension was successfully loaded" in text
