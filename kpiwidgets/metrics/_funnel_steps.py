"""The funnel's step algorithms: one narrow frame per step, assembled into per-entity step
times, and the window applied to them (the plan :mod:`._funnel_plan` validates and sets up).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.metrics._frames import Prepared, materialize
from kpiwidgets.metrics._funnel_kernel import entity_times
from kpiwidgets.metrics._funnel_plan import (
    FURTHEST,
    ROW,
    TS,
    FunnelSpec,
    Steps,
    is_one_of,
    plan,
    scan,
    step_row,
    step_time,
)
from kpiwidgets.metrics._names import internal

__all__ = [
    "StepFrames",
    "apply_window",
    "assemble",
    "counts_from_steps",
    "entity_chain",
    "per_entity_steps",
    "step_frames",
]


@dataclass(frozen=True)
class StepFrames:
    """The funnel as one narrow frame per step (see :func:`step_frames`).

    ``entered``: one row per attempt: ``key`` (the entity, plus the entry time for
    ``attempts="best"``), the entry time :func:`step_time` ``(1)``, the ``by`` columns.
    ``reached[k]`` (k >= 2): one row per attempt that reached step k: ``key``, the entry time,
    :func:`step_time` ``(k)``, for ordered and strict funnels also ``step_time(k - 1)``, and
    the ``by`` columns when built with ``carry_by``.
    """

    key: tuple[str, ...]
    entered: nw.LazyFrame
    reached: dict[int, nw.LazyFrame]


def step_frames(
    lf: nw.LazyFrame, spec: FunnelSpec, horizon: dt.timedelta | None, *, carry_by: bool = False
) -> StepFrames:
    """Per-step frames of the attempts reaching each step, step times bounded by ``horizon``.

    Each step joins its event rows only with the attempts that reached the step before
    (ordered, strict) or entered (any), filters, and keeps the earliest qualifying row per
    attempt. The frames stay narrow (key, entry time, step time, and the row indexes a later
    step must not reuse) and shrink step by step, instead of carrying every entered attempt
    and all earlier times through each ``group_by``. ``carry_by`` carries the entry's ``by``
    values along, for counting per group straight from the step frames.
    """
    e, ts, ev = spec.entity, spec.timestamp, spec.event
    all_names = sorted({n for names in spec.steps for n in names})
    with_row = spec.needs_row_index
    rows = lf
    if with_row:
        rows = lf.filter(is_one_of(ev, all_names)).select(e, ev, ts, *spec.by)
        rows = rows.with_row_index(ROW, order_by=[e, ts, ev])
    # Otherwise each step filters the input itself: engines push the equality into the scan,
    # which beats materialising the union of all step rows.
    # A step's row index is carried only while a later step shares one of its names.
    keep_row = {j for k in range(2, spec.n_steps + 1) for j in spec.overlaps(k)}
    ordered = spec.order != "any"

    entries = rows.filter(is_one_of(ev, spec.steps[0]))
    if spec.start is not None:
        entries = entries.filter(nw.col(ts) >= spec.start)
    if spec.end is not None:
        entries = entries.filter(nw.col(ts) < spec.end)
    t1 = step_time(1)
    row_agg = [nw.col(ROW).min().alias(step_row(1))] if 1 in keep_row else []
    by_agg = [nw.col(b).min() for b in spec.by]  # tied entry rows: the smallest value wins
    if spec.attempts == "first":
        key = [e]
        if spec.by:
            first = entries.group_by(e).agg(nw.col(ts).min().alias(t1))
            entries = entries.join(first, on=e).filter(nw.col(ts) == nw.col(t1))
        entered = entries.group_by(e).agg(nw.col(ts).min().alias(t1), *by_agg, *row_agg)
    else:
        key = [e, t1]
        entered = entries.rename({ts: t1}).group_by(e, t1).agg(*by_agg, *row_agg)
    # ``entered`` feeds step 2 and the final assembly (and every step of an "any" funnel).
    entered = materialize(entered)
    anchor = [c for c in (t1,) if c not in key]  # entry time kept beside the key
    by_cols = list(spec.by) if carry_by else []

    # reached[k]: the attempts that reached step k (see StepFrames).
    reached = {1: entered.select(*key, *anchor, *by_cols, *_rows_of(1, keep_row))}
    # Strict funnels read the next-event times at every step: compute them once (DuckDB).
    nexts = materialize(_next_event_times(lf, spec)) if spec.order == "strict" else None
    for k in range(2, spec.n_steps + 1):
        prev, tk = step_time(k - 1), step_time(k)
        step_rows = rows.filter(is_one_of(ev, spec.steps[k - 1]))
        step_rows = step_rows.select(e, nw.col(ts).alias(TS), *([ROW] if with_row else []))
        base = reached[k - 1] if ordered else reached[1]
        for j in spec.overlaps(k):
            if step_row(j) not in base.collect_schema().names():
                # "any": the row step j used comes from step j's attempts (none: no exclusion).
                base = base.join(reached[j].select(*key, step_row(j)), on=key, how="left")
        lower = prev if ordered else t1
        ok = nw.col(TS) >= nw.col(lower)
        if horizon is not None:
            ok = ok & (nw.col(TS) <= nw.col(t1) + horizon)
        for j in spec.overlaps(k):
            ok = ok & (nw.col(step_row(j)).is_null() | (nw.col(ROW) != nw.col(step_row(j))))
        if nexts is not None:
            # Strict: nothing else strictly between step k-1 and step k (ties are not between).
            nxt = internal("next")
            base = base.join(nexts.rename({ts: prev, "next": nxt}), on=[e, prev], how="left")
            ok = ok & (nw.col(nxt).is_null() | (nw.col(TS) <= nw.col(nxt)))
        # Ordered: whoever reached step k reached every earlier step, so the row indexes a
        # later step needs are known here; the previous time is kept for time-from-previous.
        names = base.collect_schema().names()
        carried = [c for c in _rows_of(k - 1, keep_row) if c in names]
        if ordered and prev not in (*key, *anchor):
            carried.append(prev)
        aggs = [nw.col(c).min() for c in (*anchor, *by_cols, *carried)]
        aggs.append(nw.col(TS).min().alias(tk))
        if k in keep_row:
            aggs.append(nw.col(ROW).min().alias(step_row(k)))
        step = base.join(step_rows, on=e, how="inner").filter(ok).group_by(*key).agg(*aggs)
        # Read again by the next step and the assembly: compute once (DuckDB).
        reached[k] = materialize(step) if k < spec.n_steps else step
    return StepFrames(key=tuple(key), entered=entered, reached=reached)


def entity_chain(lf: nw.LazyFrame, spec: FunnelSpec, horizon: dt.timedelta | None) -> nw.LazyFrame:
    """Per-attempt step times, unbounded by the window except for ``horizon`` (pruning only).

    Columns: the entity column, the ``by`` columns (values on the entry row), and
    :func:`step_time` ``(k)`` for k = 1..N (null where the step was not reached). One row per
    entity for ``attempts="first"``; one per (entity, distinct entry time) for ``"best"``.
    """
    return assemble(step_frames(lf, spec, horizon), spec)


def assemble(frames: StepFrames, spec: FunnelSpec) -> nw.LazyFrame:
    """One row per entered attempt with every step time: left joins on the attempt key."""
    key = list(frames.key)
    t1 = step_time(1)
    chain = frames.entered.select(*key, *([t1] if t1 not in key else []), *spec.by)
    for k in range(2, spec.n_steps + 1):
        chain = chain.join(frames.reached[k].select(*key, step_time(k)), on=key, how="left")
    times = [step_time(k) for k in range(1, spec.n_steps + 1)]
    return chain.select(spec.entity, *spec.by, *times)


def counts_from_steps(spec: FunnelSpec) -> bool:
    """Whether the funnel counts can come from the step frames without assembling them.

    True for first-attempt ordered and strict funnels: an attempt reaching step k reached
    every earlier step, its step-k frame holds the previous step time, and step times never
    decrease, so "step k within the window" is a filter on the step-k frame alone.
    """
    return spec.attempts == "first" and spec.order != "any"


def _rows_of(k: int, keep_row: set[int]) -> list[str]:
    """Row-index columns of steps 1..k that a later step needs."""
    return [step_row(j) for j in sorted(keep_row) if j <= k]


def _next_event_times(lf: nw.LazyFrame, spec: FunnelSpec) -> nw.LazyFrame:
    """Each (entity, event time) with the entity's next later event time among all events."""
    e, ts = spec.entity, spec.timestamp
    return (
        lf.select(e, ts)
        .unique()
        .with_columns(nw.col(ts).shift(-1).over(e, order_by=ts).alias("next"))
    )


def apply_window(chain: nw.LazyFrame, spec: FunnelSpec, window: dt.timedelta) -> nw.LazyFrame:
    """Per-entity step times within ``window`` of the entry, plus the furthest step number.

    A step time beyond entry + window becomes null. For ``attempts="best"`` each entity keeps
    the attempt reaching the furthest step (ties: the earliest entry).
    """
    n = spec.n_steps
    limit = nw.col(step_time(1)) + window
    capped = [
        nw.when(nw.col(step_time(k)) <= limit).then(nw.col(step_time(k))).alias(step_time(k))
        for k in range(2, n + 1)
    ]
    furthest: Any = nw.lit(1)
    for k in range(2, n + 1):
        furthest = (
            nw.when(nw.col(step_time(k)).is_null().__invert__()).then(nw.lit(k)).otherwise(furthest)
        )
    out = chain.with_columns(*capped) if capped else chain
    out = out.with_columns(furthest.cast(nw.Int64).alias(FURTHEST))
    if spec.attempts == "best":
        best, first = internal("best"), internal("first")
        out = (
            out.with_columns(nw.col(FURTHEST).max().over(spec.entity).alias(best))
            .filter(nw.col(FURTHEST) == nw.col(best))
            .with_columns(nw.col(step_time(1)).min().over(spec.entity).alias(first))
            .filter(nw.col(step_time(1)) == nw.col(first))
            .drop(best, first)
        )
    return out


def per_entity_steps(
    events: Any, steps: Steps, *, compiled: bool = False, **params: Any
) -> tuple[Prepared, FunnelSpec, nw.LazyFrame]:
    """Validated parameters and per-entity step times within the window (one lazy plan).

    ``compiled``: from the compiled pass where it applies (a large pandas log, an ordered
    funnel without ``by``: :func:`._funnel_kernel.entity_times`), else the plan.
    """
    prep, spec = plan(events, steps, **params)
    if compiled and prep.kind == "pandas":
        per_entity = entity_times(events, prep, spec)
        if per_entity is not None:
            return prep, spec, per_entity
    chain = entity_chain(scan(prep, spec), spec, horizon=spec.window)
    return prep, spec, apply_window(chain, spec, spec.window)
