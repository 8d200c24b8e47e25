"""Pipeline KPIs: open pipeline snapshots, coverage, and the CRM stage funnel (time in
stage, stage conversion, backward moves) from ``stage_history``."""

from __future__ import annotations

from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.metrics._frames import small_frame
from kpiwidgets.metrics.kpis._base import (
    P,
    Query,
    combine,
    count,
    days,
    instant_column,
    median,
    period_end,
    ratio,
    register,
    total,
)
from kpiwidgets.metrics.kpis.sales import OPP_BY, opportunities

# -- pipeline: snapshots at period end ------------------------------------------------------


def _snapshots(q: Query) -> nw.LazyFrame:
    """One row per (open deal, period): the deals open at each period's end (created before
    it, not closed by it). Every period from the first creation to the latest timestamp has
    its snapshot, a quiet one too. Without a period, one snapshot at ``end`` (or the latest
    timestamp of the table, included)."""
    lf = opportunities(q)
    first, latest = (
        lf.select(
            nw.col("created_at").min().alias("a"),
            nw.max_horizontal(nw.col("created_at").max(), nw.col("closed_at").max()).alias("b"),
        )
        .collect()
        .row(0)
    )
    if first is None:
        return lf.head(0).with_columns(nw.col("created_at").alias("__kw_end"))
    if q.period:
        starts = _period_starts(first, latest, q.period, q.start, q.end)
        grid = small_frame({P: starts}, lf).with_columns(
            period_end(nw.col(P), q.period).alias("__kw_end")
        )
        rows = lf.join(grid, how="cross")
    elif q.end is None:
        rows = lf.with_columns(nw.lit(latest).alias("__kw_end"))
        rows = rows.filter(nw.col("created_at") <= nw.col("__kw_end"))
        return rows.filter(
            nw.col("closed_at").is_null() | (nw.col("closed_at") > nw.col("__kw_end"))
        )
    else:
        rows = lf.with_columns(nw.lit(q.end).alias("__kw_end"))
    is_open = (nw.col("created_at") < nw.col("__kw_end")) & (
        nw.col("closed_at").is_null() | (nw.col("closed_at") >= nw.col("__kw_end"))
    )
    return rows.filter(is_open)


def _period_starts(first: Any, latest: Any, period: str, start: Any, end: Any) -> list[Any]:
    """Starts of the calendar periods from the one holding ``first`` to the one holding
    ``latest``, within [start, end)."""
    import pandas as pd

    alias = {"M": "M", "Q": "Q", "Y": "Y"}[period]
    lo = pd.Timestamp(first).to_period(alias).start_time
    hi = pd.Timestamp(latest).to_period(alias).start_time
    starts = pd.date_range(lo, hi, freq={"M": "MS", "Q": "QS", "Y": "YS"}[period])
    keep = [
        s
        for s in starts
        if (start is None or s >= pd.Timestamp(start)) and (end is None or s < pd.Timestamp(end))
    ]
    return [s.to_pydatetime() for s in keep]


@register(
    "pipeline_value",
    label="Open pipeline",
    formula="amount of the opportunities open at period end (created before it, not closed)",
    unit="currency",
    better="higher",
    tables=("opportunities",),
    period_by="a snapshot at period end",
    group="sales",
    by=OPP_BY,
)
def _pipeline_value(q: Query) -> nw.LazyFrame:
    return total(q, _snapshots(q), "amount")


@register(
    "pipeline_volume",
    label="Open deals",
    formula="opportunities open at period end",
    unit="count",
    better="higher",
    tables=("opportunities",),
    period_by="a snapshot at period end",
    group="sales",
    by=OPP_BY,
)
def _pipeline_volume(q: Query) -> nw.LazyFrame:
    return count(q, _snapshots(q))


@register(
    "pipeline_coverage",
    label="Pipeline coverage",
    formula="open pipeline expected to close in the period, at its start / (quota − won so "
    "far: 0 at the start)",
    unit="multiple",
    better="higher",
    tables=("opportunities", "quotas"),
    period_by="quotas.period (measured at the period start)",
    group="sales",
    by=("owner",),
    needs_period=True,
)
def _pipeline_coverage(q: Query) -> nw.LazyFrame:
    quotas = q.table("quotas", ["period", "quota", *q.by])
    quotas = q.bucket(quotas, "period")
    den = total(q, quotas, "quota").rename({"value": "denominator"})
    lf = opportunities(q, ("expected_close_at",))
    starts = den.select(P).unique().with_columns(period_end(nw.col(P), q.period).alias("__kw_end"))
    rows = lf.join(starts, how="cross")
    open_at_start = (nw.col("created_at") < nw.col(P)) & (
        nw.col("closed_at").is_null() | (nw.col("closed_at") >= nw.col(P))
    )
    closing_in = (nw.col("expected_close_at") >= nw.col(P)) & (
        nw.col("expected_close_at") < nw.col("__kw_end")
    )
    rows = rows.filter(open_at_start & closing_in)
    num = total(q, rows, "amount").rename({"value": "numerator"})
    return combine(q, num, den)


@register(
    "time_in_stage",
    label="Time in stage",
    formula="median days a deal spent in each stage (until it entered the next)",
    unit="days",
    better="lower",
    tables=("stage_history",),
    period_by="stage_history.entered_at",
    group="sales",
    by=("stage",),
    default_by="stage",
)
def _time_in_stage(q: Query) -> nw.LazyFrame:
    lf = stage_steps(q)
    lf = lf.with_columns(days(lf, "__kw_next", "entered_at").alias("__kw_days"))
    return median(q, q.bucket(lf, "entered_at"), "__kw_days")


def stage_steps(q: Query) -> nw.LazyFrame:
    """Each stage entry with the time the deal entered its next stage (null for the last)."""
    lf = q.table("stage_history", ["opportunity_id", "stage", "entered_at"])
    lf = lf.filter(~nw.col("entered_at").is_null())
    # Order by the instant where the column was tz-aware (wall time repeats an hour in autumn).
    columns = [c for c in ("entered_at", instant_column("entered_at")) if c in lf.collect_schema()]
    nexts = [
        nw.col(c).shift(-1).over("opportunity_id", order_by=columns[-1]).alias(name)
        for c, name in zip(columns, ["__kw_next", instant_column("__kw_next")], strict=False)
    ]
    return lf.with_columns(*nexts)


@register(
    "stage_conversion",
    label="Stage conversion",
    formula="of the deals that entered a stage, the share that moved on to another stage",
    unit="ratio",
    better="higher",
    tables=("stage_history",),
    period_by="stage_history.entered_at",
    group="sales",
    by=("stage",),
    default_by="stage",
)
def _stage_conversion(q: Query) -> nw.LazyFrame:
    lf = q.bucket(stage_steps(q), "entered_at")
    lf = lf.filter(~nw.col("stage").is_in(["closed_won", "closed_lost"]))
    return ratio(q, lf, (~nw.col("__kw_next").is_null()).cast(nw.Int64))


@register(
    "backward_moves",
    label="Backward stage moves",
    formula="moves back to an earlier stage (one the deal first reached before the stage it "
    "leaves), by the day of the move",
    unit="count",
    better="lower",
    tables=("stage_history",),
    period_by="stage_history.entered_at",
    group="sales",
    by=("stage",),
)
def _backward_moves(q: Query) -> nw.LazyFrame:
    # A move is backward when the stage entered was first reached before the stage the deal
    # leaves: lead → qualified → lead → qualified has one backward move, not two re-entries.
    lf = q.table("stage_history", ["opportunity_id", "stage", "entered_at"]).filter(
        ~nw.col("entered_at").is_null()
    )
    first = nw.col("entered_at").min().over("opportunity_id", "stage")
    lf = lf.with_columns(first.alias("__kw_first"))
    before = nw.col("__kw_first").shift(1).over("opportunity_id", order_by="entered_at")
    lf = lf.with_columns(before.alias("__kw_left"))
    moves = lf.filter(nw.col("__kw_first") < nw.col("__kw_left"))
    return count(q, q.bucket(moves, "entered_at"))
