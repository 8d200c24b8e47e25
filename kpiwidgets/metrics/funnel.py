"""Funnels over event logs (semantics: docs/funnels.md).

Every function takes an event log (one row per event: entity, event name, timestamp, plus
optional property columns) as any narwhals-supported frame and returns the caller's frame type.
The per-entity step chain is computed by :mod:`kpiwidgets.metrics._funnel_plan`; this module
holds the public functions and the cached-chain helpers the funnel explorer widget uses to
change the window without rescanning the events.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.metrics._funnel_chain import entities_frame, entity_columns
from kpiwidgets.metrics._funnel_kernel import funnel_counts
from kpiwidgets.metrics._funnel_plan import Steps, is_one_of, plan, scan, step_time
from kpiwidgets.metrics._funnel_steps import (
    apply_window,
    counts_from_steps,
    entity_chain,
    per_entity_steps,
    step_frames,
)
from kpiwidgets.metrics._funnel_table import (
    OVERALL,
    counts_table,
    funnel_columns,
    funnel_table,
    label_breakdown,
    ratio,
    sort_groups,
    step_counts,
    step_counts_from_steps,
)
from kpiwidgets.metrics._periods import period_end, period_start
from kpiwidgets.metrics.choices import Attempts, Order, Period, check_choice
from kpiwidgets.metrics.segments import segment_comparison
from kpiwidgets.metrics.time_to_convert import TimeToConvert, time_to_convert

"""Column of a materialised chain: the row's rank by (entity, entry time)."""

__all__ = [
    "OVERALL",
    "TimeToConvert",
    "funnel",
    "funnel_entities",
    "funnel_trend",
    "segment_comparison",
    "time_to_convert",
]


def funnel(
    events: Any,
    steps: Steps,
    *,
    entity: str = "entity_id",
    event: str = "event",
    timestamp: str = "timestamp",
    window: str | dt.timedelta = "30D",
    order: Order = "ordered",
    attempts: Attempts = "first",
    by: str | Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
) -> Any:
    """How many entities reached each step of a funnel, and how they converted.

    Parameters
    ----------
    events
        Event log, any narwhals-supported frame (pandas, polars, DuckDB, PySpark, ...): one
        row per event. Row order never matters. Rows with a null entity, event or timestamp
        are left out and counted (a :class:`~kpiwidgets.DroppedRowsWarning`, and
        ``result.attrs["dropped_rows"]`` on pandas results).
    steps
        Event names in funnel order; a step may be a list of names meaning "any of these"
        (shown as ``"a or b"``). Names missing from the data raise ``ValueError``.
    entity, event, timestamp
        Column names of who, what and when.
    window
        Duration from the entry (step-1 time) within which later steps count, inclusive:
        ``"90s"``, ``"30min"``, ``"2h"``, ``"14D"``, ``"6W"`` or a ``timedelta``.
    order
        ``"ordered"``: step k is the earliest step-k event at or after step k-1.
        ``"strict"``: as ordered, and no other event of the entity (funnel step or not) lies
        strictly between step k-1 and step k (events at the same instant are not "between").
        ``"any"``: step k counts if done anywhere in ``[entry, entry + window]``; counts need
        not decrease.
    attempts
        ``"first"``: the earliest step-1 event in range is the entry. ``"best"``: every
        step-1 event in range starts an attempt; each entity counts with the attempt that
        reaches the furthest step (ties: the earliest).
    by
        Column(s) to break down by; the value on the entry event is used (tied entry rows:
        the smallest value). Breakdown values are returned as text (a null value stays
        null). The overall rows, computed by the engine, come first: a boolean ``overall``
        column is true on them (their ``by`` values are null), as SQL's ``GROUPING()``
        marks a rollup's total, so a value that is literally ``"(all)"`` is its own group
        (``docs/breakdowns.md``).
    start, end
        Entry range ``[start, end)``; later steps may fall after ``end``. For tz-aware data
        naive bounds are wall time in the data's zone.

    Returns
    -------
    frame of the caller's type
        One row per (breakdown values, step): ``step``, ``step_number``, ``entities``,
        ``conversion_from_first`` = entities / entities at step 1,
        ``conversion_from_previous`` = entities / entities at step k-1 (1.0 at step 1),
        ``drop_off`` = entities at k-1 − entities at k (0 at step 1),
        ``drop_off_rate`` = drop_off / entities at k-1 (0 at step 1),
        ``median_time_from_previous`` = median of t_k − t_{k-1} over entities that reached
        both (a duration; null at step 1; may be negative with ``order="any"``), and
        ``ci_low``, ``ci_high``: the 95 % Wilson interval of conversion_from_first,
        (p + z²/2n ± z·sqrt(p(1−p)/n + z²/4n²)) / (1 + z²/n) with z = 1.96 and n the
        entities at step 1.

    Notes
    -----
    Zero denominators give NaN (e.g. no entity entered: conversions and intervals are NaN,
    counts 0). Events at the same instant count as in step order; one event row never fills
    two steps (``A, A, B`` needs two A rows). When two steps share a name and several rows tie,
    the row with the alphabetically first event name is used first. Without ``by`` the result
    always has one row per step; with ``by`` it has rows for the groups that entered.

    Examples
    --------
    >>> import pandas as pd
    >>> import kpiwidgets as kw
    >>> events = pd.DataFrame({
    ...     "entity_id": [1, 1, 1, 2, 2, 3],
    ...     "event": ["lead", "mql", "won", "lead", "mql", "lead"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-09",
    ...                                  "2024-01-02", "2024-03-01", "2024-01-05"]),
    ... })
    >>> result = kw.funnel(events, ["lead", "mql", "won"])
    >>> result[["step", "entities", "conversion_from_first", "drop_off"]]
       step  entities  conversion_from_first  drop_off
    0  lead         3               1.000000         0
    1   mql         1               0.333333         2
    2   won         1               0.333333         0
    >>> result["median_time_from_previous"].tolist()[1]
    Timedelta('2 days 00:00:00')
    """
    prep, spec = plan(
        events,
        steps,
        entity=entity,
        event=event,
        timestamp=timestamp,
        window=window,
        order=order,
        attempts=attempts,
        by=by,
        start=start,
        end=end,
    )
    fast = funnel_counts(events, prep, spec) if prep.kind == "pandas" else None
    if fast is not None:
        # A large in-memory log: one compiled pass instead of a join per step.
        table = counts_table(*fast, spec)
    elif counts_from_steps(spec):
        # Count each step from its own frame: assembling the per-entity frame (a left join
        # per step over every entered entity) would cost more than the steps themselves.
        frames = step_frames(scan(prep, spec), spec, horizon=spec.window, carry_by=True)
        table = funnel_columns(step_counts_from_steps(frames, spec, None), spec, [])
    else:
        chain = entity_chain(scan(prep, spec), spec, horizon=spec.window)
        table = funnel_table(apply_window(chain, spec, spec.window), spec, [])
    return prep.finish(table, duration_columns=["median_time_from_previous"])


def funnel_entities(
    events: Any,
    steps: Steps,
    *,
    entity: str = "entity_id",
    event: str = "event",
    timestamp: str = "timestamp",
    window: str | dt.timedelta = "30D",
    order: Order = "ordered",
    attempts: Attempts = "first",
    by: str | Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
) -> Any:
    """One row per entered entity: how far it got and when it did each step.

    Same parameters and semantics as :func:`funnel`; the drill-down behind "who dropped at step
    k". Counting the non-null values of each step column gives exactly ``funnel``'s
    ``entities``.

    Returns
    -------
    frame of the caller's type
        Sorted by entity: the entity column (under its own name), the ``by`` columns (values on
        the entry event, original types), ``furthest_step`` (label of the highest step reached),
        ``furthest_step_number`` and one timestamp column per step named by the step label
        (a repeated label gets its step number, ``"A (2)"``), null where not reached. With
        ``attempts="best"`` the times are those of the chosen attempt.

    Examples
    --------
    >>> import pandas as pd
    >>> import kpiwidgets as kw
    >>> events = pd.DataFrame({
    ...     "entity_id": [1, 1, 2],
    ...     "event": ["lead", "mql", "lead"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-02"]),
    ... })
    >>> kw.funnel_entities(events, ["lead", "mql"])
       entity_id furthest_step  furthest_step_number       lead        mql
    0          1           mql                     2 2024-01-01 2024-01-03
    1          2          lead                     1 2024-01-02        NaT
    """
    prep, spec, per_entity = per_entity_steps(
        events,
        steps,
        entity=entity,
        event=event,
        timestamp=timestamp,
        window=window,
        order=order,
        attempts=attempts,
        by=by,
        start=start,
        end=end,
        compiled=True,
    )
    return prep.finish(entities_frame(per_entity, spec), tz_columns=entity_columns(spec))


def funnel_trend(
    events: Any,
    steps: Steps,
    *,
    entity: str = "entity_id",
    event: str = "event",
    timestamp: str = "timestamp",
    window: str | dt.timedelta = "30D",
    order: Order = "ordered",
    attempts: Attempts = "first",
    by: str | Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    freq: Period = "W",
) -> Any:
    """Funnel conversion per entry period (the period of each entity's step-1 time).

    Same parameters and semantics as :func:`funnel`, plus ``freq``: ``"D"``, ``"W"``
    (weeks starting Monday), ``"M"``, ``"Q"`` or ``"Y"``.

    Returns
    -------
    frame of the caller's type
        One row per (period, breakdown values, step) for periods with entries: ``period``
        (period start), the ``by`` columns (as in :func:`funnel`), ``step``, ``step_number``,
        ``entities``, ``conversion_from_first`` = entities / entities at step 1 of that
        period, and ``is_complete``: false while period end + window lies after the last
        timestamp in the data (entities of that period may still convert). With tz-aware
        timestamps periods are calendar periods in the data's zone and this comparison is
        made on wall time, so across a daylight-saving change it can be off by that hour.

    Examples
    --------
    >>> import pandas as pd
    >>> import kpiwidgets as kw
    >>> events = pd.DataFrame({
    ...     "entity_id": [1, 1, 2, 3, 3],
    ...     "event": ["lead", "mql", "lead", "lead", "mql"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03",
    ...                                  "2024-01-08", "2024-01-09"]),
    ... })
    >>> trend = kw.funnel_trend(events, ["lead", "mql"], window="1D", freq="W")
    >>> trend[["period", "step", "entities", "conversion_from_first", "is_complete"]]
          period  step  entities  conversion_from_first  is_complete
    0 2024-01-01  lead         2                    1.0         True
    1 2024-01-01   mql         1                    0.5         True
    2 2024-01-08  lead         1                    1.0        False
    3 2024-01-08   mql         1                    1.0        False
    """
    check_choice(freq, Period, name="freq", where="funnel_trend")
    prep, spec, per_entity = per_entity_steps(
        events,
        steps,
        entity=entity,
        event=event,
        timestamp=timestamp,
        window=window,
        order=order,
        attempts=attempts,
        by=by,
        start=start,
        end=end,
        compiled=True,
    )
    entry, wall = nw.col(step_time(1)), prep.wall_column(timestamp)
    if wall is not None:
        # tz-aware input: the funnel ran on UTC instants; the entry period is the calendar
        # period in the data's own zone, so fetch the entry row's wall time.
        walls = (
            prep.lf.filter(is_one_of(event, spec.steps[0]))
            .select(nw.col(entity), nw.col(timestamp).alias(step_time(1)), nw.col(wall))
            .unique([entity, step_time(1)], keep="any")
        )
        per_entity = per_entity.join(walls, on=[entity, step_time(1)], how="left")
        entry = nw.col(wall)
    last = prep.lf.select(nw.col(wall or timestamp).max()).collect().item()
    per_entity = per_entity.with_columns(period_start(entry, freq).alias("period"))
    by_cols = list(spec.by)
    if by_cols:
        per_entity = label_breakdown(per_entity, spec.by)
    counts = step_counts(per_entity, spec, [*by_cols, "period"], medians=False, total_by=spec.by)
    labels = [(k, text) for k, text in enumerate(spec.labels, start=1)]
    step: Any = nw.lit(None, dtype=nw.String)
    for k, text in labels:
        step = nw.when(nw.col("step_number") == k).then(nw.lit(text)).otherwise(step)
    if last is None:
        complete = nw.lit(False)
    else:
        complete = (period_end(nw.col("period"), freq) + spec.window) <= nw.lit(last)
    out = counts.with_columns(
        step.alias("step"),
        ratio("entities", "entities_first").alias("conversion_from_first"),
        complete.alias("is_complete"),
    )
    columns = ["period", *by_cols, *([OVERALL] if by_cols else []), "step", "step_number"]
    columns += ["entities"]
    columns += ["conversion_from_first", "is_complete"]
    out = sort_groups(out, by_cols, ["period", "step_number"]).select(columns)
    return prep.finish(out, tz_columns=["period"], wall_columns=["period"])
