"""Independent cross-check: a plain DuckDB SQL funnel over a generated log of ~100 k events
(ties and repeated events included) gives exactly ``funnel``'s counts per step."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import kpiwidgets as kw

_spec = importlib.util.spec_from_file_location(
    "bench_funnel", Path(__file__).parents[2] / "benchmarks" / "bench_funnel.py"
)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    # Timestamps on the hour over ~half a year with 20 k entities: many equal timestamps and
    # repeated step events per entity.
    return bench.event_log(100_000, seed=7)


def test_generated_log_has_ties_and_repeats(events):
    assert events.duplicated(["entity_id", "timestamp"]).sum() > 100
    assert events.duplicated(["entity_id", "event"]).sum() > 1000


@pytest.mark.parametrize("window_days", [30, 7])
def test_funnel_counts_equal_sql(events, window_days):
    con = duckdb.connect()
    con.register("events", events)
    expected = list(con.sql(bench.funnel_sql("events", bench.STEPS, window_days)).fetchall()[0])
    got = kw.funnel(events, bench.STEPS, window=f"{window_days}D")["entities"].tolist()
    assert got == expected
    assert expected[-1] > 0  # the funnel is not trivially empty
