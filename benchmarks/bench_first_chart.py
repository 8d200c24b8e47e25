"""Time to the first chart of each app, against a one-chart notebook, under one server.

What a visitor waits for: from asking for the page to the first chart's marks drawn in the
page (headless Chromium, every outside request blocked), with ``kpiwidgets serve`` as a user
starts it (preheated kernels, one per app). The reference is a notebook that draws a single
small Altair chart through the same offline widget, served by the same server in the same
run: the floor of Voila + a kernel + the chart JavaScript on this machine. Target: the median
of the apps within 1.3x the reference.

Each round opens every page once, in a rotating order. Before each request the server gets
``--settle`` seconds to refill the preheated kernel the previous request took (a refill runs
the whole notebook, which on two cores slows down whatever page is opened meanwhile), so each
request finds a kernel ready and a quiet machine, as a visitor arriving after another would.
Time is counted from the request to the first chart's marks in the page (not the page's load
event). Prints each page's median over the rounds and the ratio of the apps' median to the
reference.

    .venv/bin/python benchmarks/bench_first_chart.py [--rounds 3] [--settle 30]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.browser.conftest import (  # noqa: E402
    FIRST_CHART,
    NOTEBOOKS,
    _find_chromium,
    free_port,
    only_local,
    start_server,
    stop_server,
)

REFERENCE = "one_chart"
ONE_CHART = """\
import altair as alt
import pandas as pd
from IPython.display import display

import kpiwidgets as kw

frame = pd.DataFrame({"month": ["Jan", "Feb", "Mar"], "leads": [120, 95, 140]})
chart = alt.Chart(frame).mark_bar().encode(x=alt.X("month:N"), y=alt.Y("leads:Q"))
display(kw.widgets.chart_widget(chart))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settle", type=float, default=30.0, help="seconds before a request")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kpi-first-chart-"))
    for path in NOTEBOOKS.glob("*.ipynb"):
        shutil.copy(path, work / path.name)
    reference = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(ONE_CHART)])
    reference.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(reference, work / f"{REFERENCE}.ipynb")
    selectors = {REFERENCE: ".kpi-chart svg .mark-rect path", **FIRST_CHART}

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "kpiwidgets", "serve", "--no-browser", f"--port={port}"]
    command += ["--notebooks", str(work)]
    server = start_server(command, cwd=work, log=work / "serve.log", base=base, timeout=120)
    times: dict[str, list[float]] = {name: [] for name in selectors}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=_find_chromium(),
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            time.sleep(args.settle)  # every pool filled at start
            names = list(selectors)
            for round_number in range(args.rounds):
                shift = round_number % len(names)
                for name in names[shift:] + names[:shift]:
                    selector = selectors[name]
                    time.sleep(args.settle)  # the kernel the last request took, refilled
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    blocked: list[str] = []
                    only_local(page, base, blocked)
                    start = time.perf_counter()
                    url = f"{base}/voila/render/{name}.ipynb"
                    page.goto(url, wait_until="commit", timeout=180_000)
                    page.locator(selector).first.wait_for(timeout=180_000)
                    times[name].append(time.perf_counter() - start)
                    assert not blocked, blocked
                    page.close()
                line = "  ".join(f"{n} {t[-1]:.2f}s" for n, t in times.items())
                print(f"round {round_number + 1}: {line}", flush=True)
            browser.close()
    finally:
        stop_server(server)
        shutil.rmtree(work, ignore_errors=True)

    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f"\nfirst chart, median of {args.rounds} rounds (s):")
    for name, value in medians.items():
        print(f"  {name:<20} {value:6.2f}   {value / medians[REFERENCE]:.2f}x the one-chart page")
    apps = statistics.median(v for n, v in medians.items() if n != REFERENCE)
    print(
        f"median of the apps {apps:.2f} s vs one-chart notebook {medians[REFERENCE]:.2f} s: "
        f"ratio {apps / medians[REFERENCE]:.2f} (target <= 1.30)"
    )


if __name__ == "__main__":
    main()
