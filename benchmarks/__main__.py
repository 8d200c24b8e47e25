"""The benchmark suite: ``python -m benchmarks`` (see the README's Benchmarks section).

Generates each input at the chosen size, checks that kpiwidgets and the reference give the
same numbers, then times both in this one process, alternating runs, and prints per case the
medians, the ratio ours / reference against its target, and peak memory (our call's, and as
a multiple of the input frame's size; target under 3x). ``--write`` appends the run, with
the command and the machine, to ``benchmarks/RESULTS.md``.

    python -m benchmarks                    # the issue's sizes: 10 M events, ... (~15 min)
    python -m benchmarks --scale 0.01       # a quick run
    python -m benchmarks --only funnel,retention --repeat 5
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import warnings
from pathlib import Path

from benchmarks._measure import compare, peak_memory
from benchmarks.cases import Sizes, cases

GROUPS = ("funnel", "retention", "revenue", "forecast", "kpis")
RESULTS = Path(__file__).with_name("RESULTS.md")


def machine() -> str:
    import duckdb
    import narwhals
    import pandas

    cores = os.cpu_count()
    memory = ""
    try:
        with open("/proc/meminfo") as info:
            memory = f", {int(info.readline().split()[1]) / 2**20:.0f} GiB"
    except OSError:
        pass
    return (
        f"{platform.machine()}, {cores} cores{memory}, Python {platform.python_version()}, "
        f"pandas {pandas.__version__}, DuckDB {duckdb.__version__}, narwhals {narwhals.__version__}"
    )


def _mb(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 2**20:,.0f}"


def child_peak(scale: float, group: str, name: str) -> int | None:
    """Peak memory of one case's call, in a fresh process (see ``benchmarks._measure``)."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--scale", str(scale), "--peak-of", f"{group}:{name}"],
        capture_output=True,
        text=True,
        check=False,
    )
    last = done.stdout.strip().splitlines()[-1:] or ["n/a"]
    return int(last[0]) if last[0].isdigit() else None


def measure_peak(sizes: Sizes, group: str, name: str) -> None:
    """The ``--peak-of`` child: build the group's inputs, run the named case once, print bytes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for case in cases(sizes, {group}):
            if case.name == name:
                _, peak = peak_memory(case.ours)
                print("n/a" if peak is None else peak)
                return
    raise SystemExit(f"no case {name!r} in group {group!r}")


def run(sizes: Sizes, groups: set[str], repeat: int, scale: float) -> list[str]:
    lines = [
        f"{'case':<38} {'ours s':>7} {'ref s':>7} {'ratio':>6} {'target':>7} {'peak MB':>8} "
        f"{'x input':>7}  reference",
    ]
    print(lines[0], flush=True)
    for case in cases(sizes, groups):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fns = {"ours": case.ours}
            if case.reference is not None:
                fns["ref"] = case.reference
            ours = case.ours()
            case.check(ours, case.reference() if case.reference is not None else None)
            del ours
            timings = compare(fns, repeat)
        mine = timings["ours"]
        peak = child_peak(scale, case.group, case.name)
        ref = timings.get("ref")
        ratio = f"{mine.median / ref.median:.2f}" if ref else "-"
        target = f"<= {case.target:.1f}" if case.target is not None and ref else "-"
        times = f"{ref.median:7.2f}" if ref else f"{'-':>7}"
        multiple = f"{peak / case.input_bytes:.2f}" if peak is not None else "n/a"
        line = (
            f"{case.name:<38} {mine.median:7.2f} {times} {ratio:>6} {target:>7} "
            f"{_mb(peak):>8} {multiple:>7}  {case.reference_name}"
        )
        print(line, flush=True)
        lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (default 3)")
    parser.add_argument("--only", default=",".join(GROUPS), help=f"groups: {','.join(GROUPS)}")
    parser.add_argument("--write", action="store_true", help="append the run to RESULTS.md")
    parser.add_argument("--peak-of", help=argparse.SUPPRESS)  # GROUP:CASE, the memory child
    args = parser.parse_args(argv)
    groups = {g.strip() for g in args.only.split(",") if g.strip()}
    unknown = groups - set(GROUPS)
    if unknown:
        parser.error(f"--only: unknown group(s) {sorted(unknown)}; choose from {', '.join(GROUPS)}")
    sizes = Sizes().scaled(args.scale)
    header = [
        f"sizes: {sizes.events:,} events / {sizes.entities:,} entities; activity "
        f"{sizes.activity_rows:,} rows / {sizes.activity_entities:,} accounts; revenue "
        f"{sizes.revenue_accounts:,} accounts; forecasts {sizes.forecast_owners:,} reps; "
        f"demo {sizes.demo_leads:,} leads; medians of {args.repeat} runs",
        f"machine: {machine()}",
    ]
    if args.peak_of:
        group, name = args.peak_of.split(":", 1)
        measure_peak(sizes, group, name)
        return 0
    print("\n".join(header), flush=True)
    lines = run(sizes, groups, args.repeat, args.scale)
    if args.write:
        command = "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])
        with RESULTS.open("a") as results:
            results.write(
                f"\n## Suite run {dt.date.today().isoformat()} (`{command.strip()}`)\n\n"
                + "\n".join(header)
                + "\n\n```\n"
                + "\n".join(lines)
                + "\n```\n"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
