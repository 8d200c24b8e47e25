"""The benchmark cases: each runs one kpiwidgets call and its reference on the same input and
checks that both give the same numbers (at every size, before anything is timed).

A case is ``(name, target, ours, reference, check)``; ``target`` is the ratio ours /
reference the issue asks for (``None``: an absolute time target, in the note).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd

import kpiwidgets as kw
from benchmarks import data, ref_funnel, ref_other

__all__ = ["Case", "Sizes", "cases"]

MODES = {  # suite name: (order, attempts, reference mode)
    "ordered/first": ("ordered", "first", "first"),
    "ordered/best": ("ordered", "best", "best"),
    "strict": ("strict", "first", "strict"),
    "any": ("any", "first", "any"),
}


@dataclass(frozen=True)
class Sizes:
    events: int = 10_000_000
    entities: int = 2_000_000
    activity_rows: int = 10_000_000
    activity_entities: int = 1_000_000
    revenue_accounts: int = 1_000_000
    forecast_owners: int = 10_000
    demo_leads: int = 1_000_000

    def scaled(self, factor: float) -> Sizes:
        return Sizes(**{k: max(int(v * factor), 50) for k, v in self.__dict__.items()})


@dataclass
class Case:
    name: str
    group: str
    input_bytes: int
    ours: Callable[[], Any]
    reference: Callable[[], Any] | None
    reference_name: str
    check: Callable[[Any, Any], None]
    target: float | None
    note: str = ""


def _funnel_check(out: pd.DataFrame, ref: list[tuple]) -> None:
    assert out["entities"].tolist() == [r[1] for r in ref], (out["entities"].tolist(), ref)
    got = out["median_time_from_previous"] / pd.Timedelta(microseconds=1)
    want = [np.nan if r[2] is None else r[2] for r in ref]
    assert np.allclose(got.to_numpy(float), want, equal_nan=True, atol=1.0), (got, want)


def _funnel_cases(sizes: Sizes, con: duckdb.DuckDBPyConnection) -> Iterator[Case]:
    events = data.event_log(sizes.events, sizes.entities)
    con.register("bench_events", events)
    size = data.frame_bytes(events)
    steps = data.STEPS
    for name, (order, attempts, mode) in MODES.items():

        def ours(order=order, attempts=attempts):
            return kw.funnel(events, steps, window="30D", order=order, attempts=attempts)

        yield Case(
            name=f"funnel {name}",
            group="funnel",
            input_bytes=size,
            ours=ours,
            reference=lambda mode=mode: ref_funnel.run(con, "bench_events", steps, 30, mode),
            reference_name="DuckDB SQL, ASOF joins",
            check=_funnel_check,
            target=0.7 if name == "ordered/first" else 1.0,
        )

    def entities():
        return kw.funnel_entities(events, steps, window="30D")

    def entities_sql():
        return con.sql(ref_funnel.entities_sql("bench_events", steps, 30)).arrow()

    def entities_check(out: pd.DataFrame, ref: Any) -> None:
        ref = ref.read_all() if hasattr(ref, "read_all") else ref
        assert len(out) == ref.num_rows, (len(out), ref.num_rows)
        reached = [int(out[label].notna().sum()) for label in steps]
        assert reached == [ref.num_rows - ref.column(f"t{k}").null_count for k in range(1, 7)]

    yield Case(
        name="funnel_entities ordered/first",
        group="funnel",
        input_bytes=size,
        ours=entities,
        reference=entities_sql,
        reference_name="DuckDB SQL, ASOF joins, to Arrow",
        check=entities_check,
        target=1.0,
    )
    yield _retentioneering(events, steps, size)


def _retentioneering(events: pd.DataFrame, steps: list[str], size: int) -> Case:
    """``kw.funnel`` with no window beside retentioneering's ``Eventstream.funnel_data``
    (its one-off eventstream build not timed). Only where retentioneering is installed: it is
    not a dependency (see the README's benchmark section).

    Both run on the log with every timestamp made unique (a distinct microsecond offset per
    row): at equal timestamps we count a step at the same instant as the one before (our
    documented rule) and retentioneering does not, which on this log of whole hours differs
    by about 0.2 % of the entities at each step.
    """
    offsets = np.random.default_rng(1).permutation(len(events)).astype("timedelta64[us]")
    events = events.assign(timestamp=events["timestamp"].to_numpy() + offsets)

    def ours():
        return kw.funnel(events, steps, window="100000D")

    try:
        os.environ.setdefault("RETENTIONEERING_NO_TRACK", "1")
        from retentioneering.eventstream import Eventstream
    except ImportError:
        return Case(
            "funnel no window",
            "funnel",
            size,
            ours,
            None,
            "retentioneering not installed",
            lambda out, ref: None,
            1.0,
        )
    log = events.rename(columns={"entity_id": "user_id"})
    stream = Eventstream(log, schema={"path_cols": ["user_id"]})

    def check(out: pd.DataFrame, ref: dict) -> None:
        theirs = [s["unique_paths"] for s in ref["steps"]]
        assert out["entities"].tolist() == theirs, (out["entities"].tolist(), theirs)

    return Case(
        name="funnel no window",
        group="funnel",
        input_bytes=size,
        ours=ours,
        reference=lambda: stream.funnel_data(steps),
        reference_name="retentioneering 5.2.4 funnel_data",
        check=check,
        target=1.0,
    )


def _retention_cases(sizes: Sizes, con: duckdb.DuckDBPyConnection) -> Iterator[Case]:
    for month_start in (False, True):
        frame = data.activity(sizes.activity_rows, sizes.activity_entities, month_start=month_start)
        table = f"bench_activity_{int(month_start)}"
        con.register(table, frame)
        stamps = "month-start" if month_start else "to the second"
        for value in (False, True):

            def ours(frame=frame, value=value):
                return kw.cohort_retention(frame, value="mrr" if value else None)

            def check(out: pd.DataFrame, ref: pd.DataFrame, value=value) -> None:
                filled = out[out["retained"] > 0].reset_index(drop=True)
                assert len(filled) == len(ref), (len(filled), len(ref))
                assert (filled["retained"].to_numpy() == ref["retained"].to_numpy()).all()
                assert (filled["is_complete"].to_numpy() == ref["is_complete"].to_numpy()).all()
                if value:
                    assert np.allclose(filled["value"].to_numpy(), ref["value"].to_numpy())

            query = ref_other.retention_sql(table, value)
            yield Case(
                name=f"cohort_retention {'revenue' if value else 'logo'}, {stamps}",
                group="retention",
                input_bytes=data.frame_bytes(frame),
                ours=ours,
                reference=lambda query=query: con.sql(query).df(),
                reference_name="DuckDB SQL, group by month",
                check=check,
                target=1.0,
            )


def _revenue_case(sizes: Sizes, con: duckdb.DuckDBPyConnection) -> Case:
    revenue = data.revenue(sizes.revenue_accounts)
    con.register("revenue", revenue)
    cols = ["mrr_start", "new", "reactivation", "expansion", "contraction", "churn", "mrr_end"]

    def check(out: pd.DataFrame, ref: pd.DataFrame) -> None:
        assert len(out) == len(ref), (len(out), len(ref))
        assert np.allclose(out[cols].to_numpy(float), ref[cols].to_numpy(float))

    return Case(
        "mrr_movements",
        "revenue",
        data.frame_bytes(revenue),
        lambda: kw.mrr_movements(revenue),
        lambda: con.sql(ref_other.MRR_SQL).df(),
        "DuckDB SQL, joins on the month before",
        check,
        1.0,
    )


def _forecast_case(sizes: Sizes, con: duckdb.DuckDBPyConnection) -> Case:
    calls, won = data.forecasts(sizes.forecast_owners)
    con.register("forecasts", calls)
    con.register("actuals", won)
    keys = ["owner", "period", "week_of_period", "category"]

    def ours():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # repeated calls and owners with no actual: counted
            return kw.forecast_accuracy(calls, won)

    def check(out: pd.DataFrame, ref: pd.DataFrame) -> None:
        out = out.sort_values(keys).reset_index(drop=True)
        assert len(out) == len(ref), (len(out), len(ref))
        assert (out["forecast"].to_numpy() == ref["forecast"].to_numpy()).all()
        assert np.allclose(
            out["accuracy"].to_numpy(float), ref["accuracy"].to_numpy(float), equal_nan=True
        )

    return Case(
        "forecast_accuracy",
        "forecast",
        data.frame_bytes(calls) + data.frame_bytes(won),
        ours,
        lambda: con.sql(ref_other.FORECAST_SQL).df(),
        "DuckDB SQL, last call per week",
        check,
        1.0,
    )


def _catalog_case(sizes: Sizes) -> Case:
    ds = kw.load_demo(n_leads=sizes.demo_leads)
    size = sum(data.frame_bytes(ds[t]) for t in ds.tables)

    def ours():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return kw.kpi_table(ds, period="Q")

    def check(out: pd.DataFrame, ref: Any) -> None:
        assert set(out["kpi"]) == set(kw.kpi_catalog()["name"]), "every catalog KPI computed"

    return Case(
        "KPI catalog, demo company",
        "kpis",
        size,
        ours,
        None,
        "target: under 10 s (each KPI against SQL: tests/metrics/test_kpi_sql.py)",
        check,
        None,
    )


def cases(sizes: Sizes, groups: set[str] | None = None) -> Iterator[Case]:
    """Every case (or those of ``groups``), generating each group's data when it is reached."""
    con = duckdb.default_connection()
    makers: dict[str, Callable[[], Any]] = {
        "funnel": lambda: _funnel_cases(sizes, con),
        "retention": lambda: _retention_cases(sizes, con),
        "revenue": lambda: [_revenue_case(sizes, con)],
        "forecast": lambda: [_forecast_case(sizes, con)],
        "kpis": lambda: [_catalog_case(sizes)],
    }
    for group, make in makers.items():
        if groups is None or group in groups:
            yield from make()
