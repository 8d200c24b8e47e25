"""Speed of ``kw.funnel`` against a hand-written DuckDB SQL query on the same pandas frame.

Run: ``.venv/bin/python benchmarks/bench_funnel.py [n_events]`` (default 10 M). Prints the
median of several interleaved runs of each and the ratio (target: funnel / SQL <= 1.5).
"""

from __future__ import annotations

import statistics
import sys
import time

import duckdb
import numpy as np
import pandas as pd

STEPS = ["lead", "mql", "sql", "opportunity", "won"]


def funnel_sql(table: str, steps: list[str], window_days: int) -> str:
    """Ordered, first-attempt funnel counts per step as plain SQL (an independent method).

    Step 1: each entity's earliest step-1 event; step k: the earliest step-k event at or after
    step k-1 and at most entry + window. Returns one row with columns n1..nN.
    """
    ctes = [
        f"s1 AS (SELECT entity_id, min(timestamp) AS t1, min(timestamp) AS tp FROM {table} "
        f"WHERE event = '{steps[0]}' GROUP BY entity_id)"
    ]
    for k, name in enumerate(steps[1:], start=2):
        ctes.append(
            f"s{k} AS (SELECT s.entity_id, s.t1, min(e.timestamp) AS tp FROM s{k - 1} s "
            f"JOIN {table} e ON e.entity_id = s.entity_id AND e.event = '{name}' "
            f"AND e.timestamp >= s.tp AND e.timestamp <= s.t1 + INTERVAL {window_days} DAY "
            f"GROUP BY s.entity_id, s.t1)"
        )
    counts = ", ".join(f"(SELECT count(*) FROM s{k}) AS n{k}" for k in range(1, len(steps) + 1))
    return f"WITH {', '.join(ctes)} SELECT {counts}"


def event_log(n_events: int, seed: int = 0) -> pd.DataFrame:
    """A funnel-shaped log of about ``n_events`` rows, generated with numpy.

    Each entity enters at a random hour and reaches step k with probability 0.6^(k-1); steps
    follow each other by 0..12 days on whole hours (so equal timestamps happen). About 10 % of
    the step rows are repeated (same or later time) and a quarter of the rows are "visit"
    noise events. Rows are shuffled.
    """
    rng = np.random.default_rng(seed)
    n_entities = max(n_events // 4, 1)
    depth = np.minimum(rng.geometric(0.4, n_entities), len(STEPS))
    entity = np.repeat(np.arange(n_entities), depth)
    step = np.arange(len(entity)) - np.repeat(np.cumsum(depth) - depth, depth)
    gap = np.where(
        step == 0, rng.integers(0, 24 * 180, len(entity)), rng.integers(0, 24 * 12, len(entity))
    )
    hours = np.cumsum(gap)
    hours = hours - np.repeat(
        hours[np.cumsum(depth) - depth] - gap[np.cumsum(depth) - depth], depth
    )
    repeat = rng.random(len(entity)) < 0.1
    entity = np.concatenate([entity, entity[repeat]])
    step = np.concatenate([step, step[repeat]])
    hours = np.concatenate([hours, hours[repeat] + rng.integers(0, 24 * 3, repeat.sum())])
    n_noise = max(n_events - len(entity), 0)
    names = np.array([*STEPS, "visit"])
    entity = np.concatenate([entity, rng.integers(0, n_entities, n_noise)])
    step = np.concatenate([step, np.full(n_noise, len(STEPS))])
    hours = np.concatenate([hours, rng.integers(0, 24 * 200, n_noise)])
    order = rng.permutation(len(entity))
    ts = np.datetime64("2024-01-01T00:00", "us") + hours[order].astype("timedelta64[h]")
    return pd.DataFrame({"entity_id": entity[order], "event": names[step[order]], "timestamp": ts})


def _interleaved(fns: dict, runs: int) -> dict[str, list[float]]:
    """Run each function ``runs`` times, alternating between them (load on a shared machine
    then hits both alike); returns the times of each."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return times


def main(n_events: int = 10_000_000, runs: int = 5) -> None:
    import kpiwidgets as kw

    try:
        demo = kw.load_demo(n_leads=n_events // 4).funnel_events
        events = demo[["entity_id", "event", "timestamp"]] if len(demo) >= n_events // 2 else None
    except Exception:  # the demo may not exist yet or be too small; fall back
        events = None
    if events is None:
        events = event_log(n_events)
    steps = [s for s in STEPS if s in set(events["event"].unique())]
    con = duckdb.default_connection()
    con.register("bench_events", events)
    query = funnel_sql("bench_events", steps, 30)
    expected = list(con.sql(query).fetchall()[0])
    got = kw.funnel(events, steps, window="30D")["entities"].tolist()
    assert got == expected, (got, expected)

    times = _interleaved(
        {
            "kw.funnel": lambda: kw.funnel(events, steps, window="30D"),
            "DuckDB SQL": lambda: con.sql(query).fetchall(),
        },
        runs,
    )
    print(f"events: {len(events):,}  steps: {steps}")
    for name, spent in times.items():
        shown = ", ".join(f"{t:.2f}" for t in spent)
        print(f"{name:<11} median of {runs}: {statistics.median(spent):.3f} s  ({shown})")
    ratio = statistics.median(times["kw.funnel"]) / statistics.median(times["DuckDB SQL"])
    print(f"ratio funnel / SQL: {ratio:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000)
