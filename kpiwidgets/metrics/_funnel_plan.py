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
    prepare,
)
from kpiwidgets.metrics._names import internal
from kpiwidgets.metrics.choices import Attempts, Order, check_choice

Steps = Sequence[str | Sequence[str]]
ROW = internal("row")
TS = internal("ts")
FURTHEST = internal("furthest")

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
    return internal(f"t{k}")


def step_row(k: int) -> str:
    return internal(f"r{k}")


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


def name_check(name: str) -> str:
    """Key of "is step name ``name`` present" among the scan's checks."""
    return f"step name {name}"


def step_name_checks(spec: FunnelSpec) -> dict[str, nw.Expr]:
    """One "is this step name present" aggregate per name, for :func:`check_step_names`."""
    wanted = sorted({n for names in spec.steps for n in names})
    checks = {name_check(n): (nw.col(spec.event) == n).any() for n in wanted}
    return {**checks, "events": nw.col(spec.event).count()}


def check_step_names(lf: nw.LazyFrame, spec: FunnelSpec, present: dict[str, Any]) -> None:
    """Raise ValueError naming unknown step names and listing the event names present.

    ``present`` holds the values of :func:`step_name_checks` (computed in the null-count scan).
    An empty event log has no names to check: its funnel is zero at every step.
    """
    wanted = sorted({n for names in spec.steps for n in names})
    missing = [n for n in wanted if not present.get(name_check(n))]
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


def _check_default_connection(relation: Any) -> None:
    """Funnels keep intermediate results on DuckDB's default connection (where pandas and
    Arrow input is scanned), and DuckDB cannot join relations of two connections."""
    import duckdb

    try:
        _connection().sql("select 1 as __kw_probe").cross(relation)
    except duckdb.InvalidInputException:
        raise ValueError(
            "events: this DuckDB relation belongs to a connection other than DuckDB's default "
            "one, and funnels compute on the default connection; build the relation with "
            "duckdb.sql(...) / duckdb.from_df(...), or pass relation.arrow() or a polars frame"
        ) from None


def setup(events: Any, steps: Steps, **params: Any) -> tuple[Prepared, FunnelSpec, nw.LazyFrame]:
    """Validate, route to a lazy engine, drop (and count) null rows, check step names.

    ``params`` are :func:`make_spec`'s keywords (the public functions' funnel parameters).
    """
    prep, spec = plan(events, steps, **params)
    return prep, spec, scan(prep, spec)


def plan(events: Any, steps: Steps, **params: Any) -> tuple[Prepared, FunnelSpec]:
    """:func:`setup` up to the scan: validated parameters and the routed frame."""
    prep = prepare(events, name="events", instants=True)
    if prep.lf.implementation.is_duckdb():
        _check_default_connection(prep.lf.to_native())
    if prep.kind == "pyarrow":
        # narwhals' pyarrow backend lacks the window functions the plan needs; Arrow tables are
        # scanned by DuckDB zero-copy and the result goes back to Arrow in ``finish``.
        prep.lf = nw.from_native(_connection().from_arrow(prep.lf.collect().to_native()))
    spec = make_spec(prep, steps, **params)
    event_type = prep.lf.collect_schema()[spec.event]
    if event_type not in (nw.String, nw.Categorical) and not isinstance(event_type, nw.Enum):
        # Event codes stored as numbers: steps name them as text ("3"), on every engine alike.
        prep.lf = prep.lf.with_columns(nw.col(spec.event).cast(nw.String))
    return prep, spec


Counted = tuple[dict[str, int], int, dict[str, Any]]


def scan(prep: Prepared, spec: FunnelSpec, counted: Counted | None = None) -> nw.LazyFrame:
    """:func:`setup` from the scan on: null rows dropped and counted, step names checked.

    ``counted`` (nulls per key column, rows with any null, :func:`step_name_checks` values)
    replaces the scan when the caller has read the columns itself.
    """
    keys = [spec.entity, spec.event, spec.timestamp]
    if counted is None:
        prep = drop_null_rows(prep, keys, name="events", checks=step_name_checks(spec))
    else:
        per_column, total, present = counted
        prep = drop_null_rows(prep, keys, name="events", counted=(per_column, total))
        prep.checks.update(present)
    lf = prepared_events(prep, spec)
    check_step_names(lf, spec, prep.checks)
    return lf
