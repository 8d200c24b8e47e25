"""The funnel's per-entity step chain, written once against narwhals' lazy API.

Plan (one pass per step, no cross joins):

1. Keep the rows whose event is named by some step. When two steps share an event name (a
   repeated step ``A, A, B`` or overlapping list steps) the rows get an index ordered by
   (entity, timestamp, event), so one row can never fill two steps; the index is monotone in
   time within an entity, which lets a single ``min`` pick the earliest row and its index.
2. Entries: step-1 rows in ``[start, end)``; the earliest per entity (``attempts="first"``) or
   one attempt per distinct step-1 time (``attempts="best"``).
3. For k = 2..N: left-join the chain with the entity's step-k rows and keep, per attempt, the
   earliest qualifying row (``group_by().agg(min)``). Qualifying: at or after step k-1
   (``"ordered"``/``"strict"``) or the entry (``"any"``), not a row used by an earlier step,
   within the horizon, and for ``"strict"`` no other event strictly between.
4. :func:`apply_window` turns the chain into per-entity step times for one window: a step
   counts when its time is at most entry + window. For ordered and strict funnels step times
   never decrease, so the earliest step-k row after step k-1 does not depend on the window:
   a chain computed once with the widest horizon answers every narrower window.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.metrics._frames import (
    Prepared,
    _connection,
    drop_null_rows,
    materialize,
    prepare,
)
from kpiwidgets.metrics.choices import Attempts, Order, check_choice

Steps = Sequence[str | Sequence[str]]
_P = "__kw_"  # prefix of internal columns, so they never clash with the user's
ROW = f"{_P}row"
TS = f"{_P}ts"
FURTHEST = f"{_P}furthest"

_UNITS = {
    "us": dt.timedelta(microseconds=1),
    "ms": dt.timedelta(milliseconds=1),
    "s": dt.timedelta(seconds=1),
    "min": dt.timedelta(minutes=1),
    "h": dt.timedelta(hours=1),
    "d": dt.timedelta(days=1),
    "w": dt.timedelta(weeks=1),
}
_WINDOW_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d|w)\s*$", re.IGNORECASE)


def is_one_of(column: str, names: Sequence[str]) -> nw.Expr:
    """``column`` equals one of ``names``, as ORed equalities: engines push equalities down
    into scans (DuckDB evaluates ``is_in``'s list lookup row by row)."""
    expr = nw.col(column) == names[0]
    for name in names[1:]:
        expr = expr | (nw.col(column) == name)
    return expr


def step_time(k: int) -> str:
    """Internal column holding the time of step ``k`` (1-based)."""
    return f"{_P}t{k}"


def _step_row(k: int) -> str:
    return f"{_P}r{k}"


@dataclass(frozen=True)
class FunnelSpec:
    """Validated funnel parameters (see :func:`kpiwidgets.funnel` for their meaning)."""

    steps: tuple[tuple[str, ...], ...]
    labels: tuple[str, ...]
    entity: str
    event: str
    timestamp: str
    window: dt.timedelta
    order: str
    attempts: str
    by: tuple[str, ...]
    start: dt.datetime | None
    end: dt.datetime | None

    @property
    def n_steps(self) -> int:
        return len(self.steps)

    def overlaps(self, k: int) -> list[int]:
        """Earlier steps (1-based) sharing an event name with step ``k``."""
        names = set(self.steps[k - 1])
        return [j for j in range(1, k) if names & set(self.steps[j - 1])]

    @property
    def needs_row_index(self) -> bool:
        return any(self.overlaps(k) for k in range(2, self.n_steps + 1))


def parse_window(window: Any, *, name: str = "window") -> dt.timedelta:
    """``"90s"``, ``"30min"``, ``"2h"``, ``"14D"``, ``"6W"`` or a timedelta -> timedelta."""
    if isinstance(window, dt.timedelta):
        value = window
    elif isinstance(window, str) and (m := _WINDOW_RE.match(window)):
        value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    else:
        raise ValueError(
            f"{name}: expected a duration such as '90s', '30min', '2h', '14D', '6W' or a "
            f"datetime.timedelta, found {window!r}"
        )
    if value < dt.timedelta(0):
        raise ValueError(f"{name}: expected a duration of zero or more, found {window!r}")
    # Timestamps are compared at microsecond precision; drop pandas' nanoseconds.
    return dt.timedelta(microseconds=round(value / dt.timedelta(microseconds=1)))


def _bound(value: Any, name: str, zone: str | None) -> dt.datetime | None:
    if value is None:
        return None
    import pandas as pd

    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected a date or datetime, found {value!r}") from exc
    if ts.tzinfo is not None:
        if zone is None:
            raise ValueError(
                f"{name}: found the time-zone-aware {value!r} but the timestamps have no zone"
            )
    elif zone is not None:
        # A naive bound is wall time in the data's zone; a wall time that happens twice (the
        # hour repeated when clocks fall back) means its first occurrence.
        ts = ts.tz_localize(zone, ambiguous=True, nonexistent="shift_forward")
    if zone is not None:
        # Funnels compute on UTC instants (order and windows are real durations).
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.to_pydatetime(warn=False)


def _parse_steps(steps: Any) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]:
    if isinstance(steps, str) or not isinstance(steps, Sequence) or len(steps) == 0:
        raise ValueError(
            "steps: expected a non-empty list of event names (a step may be a list of names "
            f"meaning 'any of these'), found {steps!r}"
        )
    parsed = []
    for i, step in enumerate(steps, start=1):
        if isinstance(step, str):
            names: tuple[Any, ...] = (step,)
        elif isinstance(step, Sequence):
            names = tuple(step)
        else:
            names = ()
        if not names or not all(isinstance(n, str) for n in names):
            raise ValueError(
                f"steps: step {i} must be an event name or a non-empty list of names, "
                f"found {step!r}"
            )
        parsed.append(tuple(dict.fromkeys(names)))
    return tuple(parsed), tuple(" or ".join(names) for names in parsed)


def make_spec(
    prep: Prepared,
    steps: Any,
    *,
    entity: str,
    event: str,
    timestamp: str,
    window: Any,
    order: str,
    attempts: str,
    by: str | Sequence[str] | None,
    start: Any,
    end: Any,
) -> FunnelSpec:
    """Validate every parameter against the frame's schema; errors name the parameter."""
    schema = prep.lf.collect_schema()
    columns = list(schema.names())
    by_cols: tuple[str, ...] = () if by is None else (by,) if isinstance(by, str) else tuple(by)
    for param, col in [("entity", entity), ("event", event), ("timestamp", timestamp)] + [
        ("by", b) for b in by_cols
    ]:
        if not isinstance(col, str) or col not in columns:
            raise ValueError(
                f"{param}: expected a column of the events frame, found {col!r} "
                f"(columns: {', '.join(columns)})"
            )
    clash = set(by_cols) & {entity, event, timestamp}
    if clash:
        raise ValueError(f"by: expected property columns, found the key column(s) {sorted(clash)}")
    ts_type = schema[timestamp]
    if not isinstance(ts_type, (nw.Datetime, nw.Date)):
        raise ValueError(f"timestamp: expected a datetime column {timestamp!r}, found {ts_type}")
    parsed, labels = _parse_steps(steps)
    zone = prep.time_zones.get(timestamp)
    spec = FunnelSpec(
        steps=parsed,
        labels=labels,
        entity=entity,
        event=event,
        timestamp=timestamp,
        window=parse_window(window),
        order=check_choice(order, Order, name="order", where="funnel"),
        attempts=check_choice(attempts, Attempts, name="attempts", where="funnel"),
        by=by_cols,
        start=_bound(start, "start", zone),
        end=_bound(end, "end", zone),
    )
    if spec.start is not None and spec.end is not None and spec.start >= spec.end:
        raise ValueError(f"start/end: expected start < end, found {start!r} >= {end!r}")
    return spec


def prepared_events(prep: Prepared, spec: FunnelSpec) -> nw.LazyFrame:
    """The events frame with a datetime timestamp (dates become midnight)."""
    lf = prep.lf
    if isinstance(lf.collect_schema()[spec.timestamp], nw.Date):
        lf = lf.with_columns(nw.col(spec.timestamp).cast(nw.Datetime("us")))
    return lf


def step_name_checks(spec: FunnelSpec) -> dict[str, nw.Expr]:
    """One "is this step name present" aggregate per name, for :func:`check_step_names`."""
    wanted = sorted({n for names in spec.steps for n in names})
    checks = {f"step name {n}": (nw.col(spec.event) == n).any() for n in wanted}
    return {**checks, "events": nw.col(spec.event).count()}


def check_step_names(lf: nw.LazyFrame, spec: FunnelSpec, present: dict[str, Any]) -> None:
    """Raise ValueError naming unknown step names and listing the event names present.

    ``present`` holds the values of :func:`step_name_checks` (computed in the null-count scan).
    An empty event log has no names to check: its funnel is zero at every step.
    """
    wanted = sorted({n for names in spec.steps for n in names})
    missing = [n for n in wanted if not present.get(f"step name {n}")]
    if missing and present.get("events"):
        names_found = (
            lf.select(nw.col(spec.event).cast(nw.String)).unique().collect()[spec.event].to_list()
        )
        shown = sorted(names_found)[:50]
        more = f" (and {len(names_found) - 50} more)" if len(names_found) > 50 else ""
        raise ValueError(
            f"steps: unknown event name(s) {missing} in column {spec.event!r}; "
            f"event names present: {shown}{more}"
        )


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
    row_agg = [nw.col(ROW).min().alias(_step_row(1))] if 1 in keep_row else []
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
            if _step_row(j) not in base.collect_schema().names():
                # "any": the row step j used comes from step j's attempts (none: no exclusion).
                base = base.join(reached[j].select(*key, _step_row(j)), on=key, how="left")
        lower = prev if ordered else t1
        ok = nw.col(TS) >= nw.col(lower)
        if horizon is not None:
            ok = ok & (nw.col(TS) <= nw.col(t1) + horizon)
        for j in spec.overlaps(k):
            ok = ok & (nw.col(_step_row(j)).is_null() | (nw.col(ROW) != nw.col(_step_row(j))))
        if nexts is not None:
            # Strict: nothing else strictly between step k-1 and step k (ties are not between).
            nxt = f"{_P}next"
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
            aggs.append(nw.col(ROW).min().alias(_step_row(k)))
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
    return [_step_row(j) for j in sorted(keep_row) if j <= k]


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
        best, first = f"{_P}best", f"{_P}first"
        out = (
            out.with_columns(nw.col(FURTHEST).max().over(spec.entity).alias(best))
            .filter(nw.col(FURTHEST) == nw.col(best))
            .with_columns(nw.col(step_time(1)).min().over(spec.entity).alias(first))
            .filter(nw.col(step_time(1)) == nw.col(first))
            .drop(best, first)
        )
    return out


def setup(events: Any, steps: Steps, **params: Any) -> tuple[Prepared, FunnelSpec, nw.LazyFrame]:
    """Validate, route to a lazy engine, drop (and count) null rows, check step names.

    ``params`` are :func:`make_spec`'s keywords (the public functions' funnel parameters).
    """
    prep = prepare(events, name="events", instants=True)
    if prep.kind == "pyarrow":
        # narwhals' pyarrow backend lacks the window functions the plan needs; Arrow tables are
        # scanned by DuckDB zero-copy and the result goes back to Arrow in ``finish``.
        prep.lf = nw.from_native(_connection().from_arrow(prep.lf.collect().to_native()))
    spec = make_spec(prep, steps, **params)
    entity, event, timestamp = spec.entity, spec.event, spec.timestamp
    event_type = prep.lf.collect_schema()[event]
    if event_type not in (nw.String, nw.Categorical) and not isinstance(event_type, nw.Enum):
        # Event codes stored as numbers: steps name them as text ("3"), on every engine alike.
        prep.lf = prep.lf.with_columns(nw.col(event).cast(nw.String))
    prep = drop_null_rows(
        prep, [entity, event, timestamp], name="events", checks=step_name_checks(spec)
    )
    lf = prepared_events(prep, spec)
    check_step_names(lf, spec, prep.checks)
    return prep, spec, lf


def per_entity_steps(
    events: Any, steps: Steps, **params: Any
) -> tuple[Prepared, FunnelSpec, nw.LazyFrame]:
    """Validated parameters and per-entity step times within the window (one lazy plan)."""
    prep, spec, lf = setup(events, steps, **params)
    chain = entity_chain(lf, spec, horizon=spec.window)
    return prep, spec, apply_window(chain, spec, spec.window)
