"""Speed of FunnelExplorer control changes on the demo funnel events.

``kw.load_demo(n_leads=1_000_000).funnel_events`` (about 1.6 M events) in a
``kw.FunnelExplorer(events, window="180D")``. Each change is timed from setting the traitlet
until the widget holds its new ``result``, chart spec and drill-down (what is sent to the
page): median of several runs per value, alternating between values, and the slowest value's
median is printed. Before each run the session's memo of finished results is cleared (a user
trying a new value would not hit it); for changes that rescan, the cached per-entity chains
are cleared too, so every run rescans.

Targets: window, breakdown and selected step < 300 ms (they reuse the cached chain); steps,
order, attempts and dates (a rescan) < 3 s.

    .venv/bin/python benchmarks/bench_funnel_widget.py [--leads 1_000_000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import kpiwidgets as kw

LIFECYCLE = ["lead", "mql", "sql", "opportunity", "won"]
FAST_MS, RESCAN_MS = 300.0, 3000.0


def _median_ms(explorer: Any, name: str, values: list, repeat: int, *, rescan: bool) -> float:
    """The slowest of the per-value medians (values can differ a lot: strict vs ordered)."""
    spent: dict[int, list[float]] = {i: [] for i in range(len(values))}
    for i in range(repeat * len(values)):
        value = values[i % len(values)]
        explorer._session._memo.clear()
        if rescan:
            explorer._session._chains.clear()
        t0 = time.perf_counter()
        setattr(explorer, name, value)
        spent[i % len(values)].append(time.perf_counter() - t0)
        assert explorer.error == "", explorer.error
    return max(statistics.median(times) for times in spent.values()) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=lambda s: int(s.replace("_", "")), default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    events = kw.load_demo(n_leads=args.leads).funnel_events
    t0 = time.perf_counter()
    explorer = kw.FunnelExplorer(events, window="180D")
    first = time.perf_counter() - t0
    print(f"events={len(events):,} leads={args.leads:,} repeat={args.repeat}")
    print(f"first draw (scan + chain + chart)        {first * 1000:8.0f} ms")

    # (trait, values to alternate, needs a rescan). The drill-down list of the selected step
    # is recomputed on every change, so changes are timed with it closed and open (step 1:
    # the longest list, about two thirds of the leads).
    closed = [
        ("window", ["90D", "30D", "180D"], False),
        ("by", ["channel", None], False),
        ("selected_step", [2, 4, 1], False),
    ]
    opened = [
        ("window", ["90D", "30D", "180D"], False),
        ("by", ["segment", None], False),
        ("order", ["strict", "ordered"], True),
        ("attempts", ["best", "first"], True),
        ("steps", [["lead", "mql", "won"], LIFECYCLE], True),
        ("start", ["2025-01-01", None], True),
    ]
    worst = {False: 0.0, True: 0.0}
    for drill, changes in (("closed", closed), ("open", opened)):
        for name, values, rescan in changes:
            if drill == "open":
                explorer.selected_step = 1
            ms = _median_ms(explorer, name, values, args.repeat, rescan=rescan)
            worst[rescan] = max(worst[rescan], ms)
            target = RESCAN_MS if rescan else FAST_MS
            mark = "ok" if ms < target else "SLOW"
            shown = ", ".join(map(str, values)) if name != "steps" else "3 steps, 5 steps"
            label = f"{name:<14} [{shown}]"
            print(f"{label:<42} drill {drill:<6} median {ms:8.1f} ms  ({mark})")
    print(f"slowest chain-reuse change: {worst[False]:.1f} ms (target < {FAST_MS:.0f} ms)")
    print(f"slowest rescan change:      {worst[True]:.1f} ms (target < {RESCAN_MS:.0f} ms)")


if __name__ == "__main__":
    main()
