"""Engine plumbing shared by every metric: frames in, the caller's frame type out.

Every metric is written once, against narwhals' lazy API, so the same code runs on pandas,
polars (eager or lazy), DuckDB relations and PySpark. Eager pandas input is routed through
DuckDB (zero-copy scan of the pandas frame) because the core's plans are join and group-by
heavy, where DuckDB's vectorised engine beats pandas by an order of magnitude; the result comes
back as pandas. Timestamps with a time zone keep it: the wall-clock values are computed on in
the data's own zone and the zone is put back on the way out (DuckDB would otherwise apply its
session zone).
"""

from __future__ import annotations

import datetime
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets._warnings import DroppedRowsWarning
from kpiwidgets.metrics._engines import SPARK_LIKE, lazy_like
from kpiwidgets.metrics._zones import (
    check_duckdb_zones,
    check_spark_zones,
    from_utc,
    time_zones_of,
    to_utc,
)

__all__ = [
    "DroppedRowsWarning",
    "Prepared",
    "as_datetime",
    "as_list",
    "attach_dropped",
    "datetime_column",
    "drop_null_rows",
    "materialize",
    "prepare",
    "ratio",
    "small_frame",
    "time_range",
]


#: Prefix of the hidden wall-time copies of tz-aware columns in UTC mode (``prepare``).
WALL_PREFIX = "__kw_wall_"


@dataclass
class Prepared:
    """A user frame, made lazy, plus what is needed to hand results back in the caller's type.

    Attributes
    ----------
    lf:
        The narwhals LazyFrame to compute on.
    kind:
        ``"pandas"``, ``"polars"``, ``"polars-lazy"``, ``"pyarrow"`` or ``"lazy"`` (any other
        lazy backend: DuckDB, PySpark, Dask, ...).
    time_zones:
        Column name -> time zone of tz-aware timestamp columns that were made naive (wall time
        in their own zone) before computing; :meth:`finish` puts the zone back.
    dropped:
        Reason -> number of input rows left out (filled in by :func:`drop_null_rows`).
    checks:
        Name -> value of the extra scalar ``checks`` computed by :func:`drop_null_rows` in the
        same scan (over all input rows, before nulls are left out).
    """

    lf: nw.LazyFrame
    kind: str
    time_zones: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    #: True when tz-aware columns were made naive UTC instants (not wall time): see ``prepare``.
    utc: bool = False

    def wall_column(self, column: str) -> str | None:
        """Name of the hidden wall-time copy of a tz-aware ``column`` (UTC mode), or None."""
        return f"{WALL_PREFIX}{column}" if self.utc and column in self.time_zones else None

    def finish(
        self,
        result: nw.LazyFrame,
        *,
        tz_columns: Iterable[str] = (),
        duration_columns: Iterable[str] = (),
        wall_columns: Iterable[str] = (),
    ) -> Any:
        """Return ``result`` as the caller's frame type.

        ``tz_columns`` lists output columns holding timestamps derived from the input's
        tz-aware columns; they get the (single) input zone back. ``duration_columns`` lists
        numeric columns holding microseconds that are returned as durations (rounded to whole
        microseconds): not every engine can cast a number to a duration, so metrics compute
        durations as numbers and convert here.
        """
        zone = next(iter(self.time_zones.values()), None)
        names = result.collect_schema().names()
        restore = [c for c in names if c in set(tz_columns) | set(self.time_zones)]
        # In UTC mode, instants go back to the zone by conversion, wall times by localizing.
        walls = [c for c in names if c in set(wall_columns)] if self.utc else []
        instants = [c for c in restore if c not in walls] if self.utc else []
        restore = [c for c in restore if c not in instants]
        durations = [c for c in names if c in set(duration_columns)]
        if self.kind == "pandas":
            # DuckDB would apply its session zone to tz-aware values: localize in pandas.
            table = result.collect(backend="pyarrow")
            if durations:
                table = table.with_columns(_duration_exprs(durations))
            out = table.to_native().to_pandas()
            if zone is not None:
                for c in restore:
                    out[c] = out[c].dt.tz_localize(zone)
                for c in instants:
                    out[c] = out[c].dt.tz_localize("UTC").dt.tz_convert(zone)
            out.attrs["dropped_rows"] = dict(self.dropped)
            return out
        out: nw.LazyFrame | nw.DataFrame = result
        if self.kind not in ("lazy", "polars-lazy"):
            # Eager callers: collect first, then put the zone back on the (small) result;
            # pyarrow input was computed by DuckDB, which converts only to its own zone.
            out = result.collect(backend="polars" if self.kind == "polars" else "pyarrow")
        if durations:
            out = _as_durations(out, durations)
        if zone is not None and (
            out.implementation.is_duckdb() or out.implementation in SPARK_LIKE
        ):
            # DuckDB's zone is its connection's (UTC here, see prepare), Spark's its session's
            # (UTC for instants, see prepare): naive values become zoned by a cast (narwhals'
            # replace_time_zone leaves them naive there).
            zoned = nw.Datetime("us", zone)
            out = out.with_columns(nw.col(c).cast(zoned) for c in [*restore, *instants])
        elif zone is not None:
            out = out.with_columns(nw.col(c).dt.replace_time_zone(zone) for c in restore)
            out = out.with_columns(from_utc(nw.col(c), zone) for c in instants)
        return out.to_native()

    def from_dict(self, data: dict[str, list[Any]]) -> Any:
        """Build a small result computed in Python (p-values, histogram bins) as the caller's
        frame type; lazy callers get a lazy frame of their engine where narwhals can make one.
        """
        if self.kind == "pandas":
            import pandas as pd

            out = pd.DataFrame(data)
            out.attrs["dropped_rows"] = dict(self.dropped)
            return out
        backend = "polars" if self.kind in ("polars", "polars-lazy") else "pyarrow"
        frame = nw.from_dict(data, backend=backend)
        if self.kind == "polars-lazy":
            return frame.lazy().to_native()
        if self.kind == "lazy":
            lazy = lazy_like(frame, self.lf)
            same = lazy.implementation == self.lf.implementation
            return lazy.to_native() if same else frame.to_native()
        return frame.to_native()


def _duration_exprs(columns: list[str]) -> list[nw.Expr]:
    return [nw.col(c).round(0).cast(nw.Int64).cast(nw.Duration("us")) for c in columns]


def _as_durations(result: nw.LazyFrame, columns: list[str]) -> nw.LazyFrame:
    exprs = _duration_exprs(columns)
    if result.implementation.is_polars() or result.implementation.is_pyarrow():
        return result.with_columns(exprs)
    # Some lazy engines (DuckDB, Spark) cannot cast a number to a duration: results are
    # small, so convert through Arrow and hand back a frame of the same engine.
    table = nw.from_native(result.collect(backend="pyarrow").to_native()).with_columns(exprs)
    return lazy_like(table, result)


def _connection() -> Any:
    import duckdb

    return duckdb.default_connection()


def prepare(frame: Any, *, name: str = "input", instants: bool = False) -> Prepared:
    """Wrap any narwhals-supported frame as a lazy frame for the core to compute on.

    pandas frames are scanned by DuckDB; tz-aware timestamp columns are converted to naive
    wall time in their own zone (all tz-aware columns of one frame must share a zone): right
    for calendar periods. With ``instants=True`` they become naive UTC instead — right for
    order and durations, which wall time gets wrong across a daylight-saving change — and a
    hidden wall-time copy of each (:meth:`Prepared.wall_column`) stays for calendar periods.

    Raises
    ------
    TypeError
        If ``frame`` is not a dataframe narwhals knows.
    """
    if isinstance(frame, (nw.DataFrame, nw.LazyFrame)):
        frame = frame.to_native()
    try:
        nw_frame = nw.from_native(frame)
    except TypeError as exc:
        raise TypeError(
            f"{name}: expected a dataframe (pandas, polars, pyarrow, DuckDB, PySpark, ...), "
            f"found {type(frame).__name__}"
        ) from exc

    time_zones = time_zones_of(nw_frame)
    if time_zones and len(set(time_zones.values())) > 1:
        raise ValueError(
            f"{name}: timestamp columns must share one time zone, found "
            + ", ".join(f"{c}={z}" for c, z in time_zones.items())
        )

    if isinstance(nw_frame, nw.LazyFrame):
        kind = "polars-lazy" if nw_frame.implementation.is_polars() else "lazy"
        lf = nw_frame
    elif nw_frame.implementation.is_pandas():
        kind = "pandas"
        native = frame
        if time_zones:
            native = native.copy(deep=False)
            for c in time_zones:
                if instants:
                    native[f"{WALL_PREFIX}{c}"] = native[c].dt.tz_localize(None)
                    native[c] = native[c].dt.tz_convert("UTC").dt.tz_localize(None)
                else:
                    native[c] = native[c].dt.tz_localize(None)
        lf = nw.from_native(_connection().from_df(native))
        return Prepared(lf=lf, kind=kind, time_zones=time_zones, utc=instants and bool(time_zones))
    elif nw_frame.implementation.is_polars():
        kind = "polars"
        lf = nw_frame.lazy()
    else:
        kind = "pyarrow"
        # narwhals runs pyarrow eagerly, without calendar offsets or conditional
        # aggregations; DuckDB scans the Arrow table zero-copy and runs every plan. (With
        # time zones pyarrow keeps its own path: DuckDB would apply its session zone.)
        lf = nw_frame.lazy() if time_zones else nw.from_native(_connection().from_arrow(frame))
    if time_zones and lf.implementation.is_duckdb():
        check_duckdb_zones(name, time_zones)
    if time_zones and instants and lf.implementation in SPARK_LIKE:
        check_spark_zones(name, time_zones)
    if time_zones and instants:
        lf = lf.with_columns(
            *(nw.col(c).dt.replace_time_zone(None).alias(f"{WALL_PREFIX}{c}") for c in time_zones),
            *(to_utc(nw.col(c), z) for c, z in time_zones.items()),
        )
    elif time_zones:
        lf = lf.with_columns(nw.col(c).dt.replace_time_zone(None) for c in time_zones)
    return Prepared(lf=lf, kind=kind, time_zones=time_zones, utc=instants and bool(time_zones))


def drop_null_rows(
    prep: Prepared,
    columns: Sequence[str],
    *,
    name: str = "input",
    checks: dict[str, nw.Expr] | None = None,
    counted: tuple[dict[str, int], int] | None = None,
) -> Prepared:
    """Leave out rows with a null in any of ``columns``, counting them per column.

    The counts land in ``prep.dropped`` (``{"null entity_id": 3, ...}``); a
    :class:`DroppedRowsWarning` names them so they are never dropped silently. ``checks``
    (name -> scalar aggregate expression) are evaluated in the same scan, saving a pass over
    large inputs; their values land in ``prep.checks``. ``counted`` gives the counts instead
    of a scan (nulls per column, rows with any null), for callers that read the columns
    themselves.
    """
    extra = checks or {}
    if counted is None:
        counts = (
            prep.lf.select(
                *(nw.col(c).is_null().cast(nw.Int64).sum().alias(c) for c in columns),
                *(expr.alias(f"__check_{key}") for key, expr in extra.items()),
            )
            .collect()
            .to_dict(as_series=False)
        )
        for key in extra:
            prep.checks[key] = counts.pop(f"__check_{key}")[0]
        per_column = {c: int(v[0] or 0) for c, v in counts.items()}
    else:
        per_column, total = counted
    dropped = {f"null {c}": v for c, v in per_column.items() if v}
    if dropped:
        any_null = nw.any_horizontal(*(nw.col(c).is_null() for c in columns), ignore_nulls=True)
        if counted is None:
            total = int(prep.lf.select(any_null.cast(nw.Int64).sum().alias("n")).collect()["n"][0])
        prep.lf = prep.lf.filter(~any_null)
        prep.dropped.update(dropped)
        prep.dropped["rows left out"] = total
        message = (
            f"{name}: left out {total} row(s) with nulls ("
            + ", ".join(f"{k}: {v}" for k, v in dropped.items())
            + ")"
        )
        warnings.warn(DroppedRowsWarning(message, prep.dropped), stacklevel=3)
    return prep


def attach_dropped(result: Any, dropped: dict[str, int]) -> Any:
    """Record the dropped-row counts on a pandas result (``result.attrs["dropped_rows"]``)."""
    attrs = getattr(result, "attrs", None)
    if isinstance(attrs, dict):
        attrs["dropped_rows"] = dict(dropped)
    return result


# -- shared helpers for metrics (calendar arithmetic, parameters, as_of, materializing) -------


def ratio(numerator: Any, denominator: Any) -> nw.Expr:
    """numerator / denominator as a float; NaN when the denominator is 0 (every rate of the
    core follows this one rule: a zero denominator is NaN, never an error or a null).

    Counts, sums of clipped values and cohort sizes are never negative; a negative
    denominator would be NaN too. Accepts column names or expressions.
    """
    num = nw.col(numerator) if isinstance(numerator, str) else numerator
    den = nw.col(denominator) if isinstance(denominator, str) else denominator
    return (
        nw.when(den > 0)
        .then(num.cast(nw.Float64) / den.cast(nw.Float64))
        .otherwise(nw.lit(float("nan")))
    )


def as_list(columns: str | Sequence[str] | None) -> list[str]:
    return [columns] if isinstance(columns, str) else list(columns or [])


def datetime_column(
    prep: Prepared, wanted: list[str], *, timestamp: str, where: str, table: str = "activity"
) -> nw.Expr:
    """Check the columns exist; return ``timestamp`` as a datetime expression (dates cast)."""
    schema = prep.lf.collect_schema()
    missing = [c for c in wanted if c not in schema]
    if missing:
        raise ValueError(
            f"{where}: {table} is missing column(s) {missing}; found {list(schema.names())}"
        )
    dtype = schema[timestamp]
    if isinstance(dtype, nw.Datetime):
        return nw.col(timestamp)
    if isinstance(dtype, nw.Date):
        return nw.col(timestamp).cast(nw.Datetime("us"))
    raise ValueError(
        f"{where}: timestamp column {timestamp!r} must hold datetimes or dates, found {dtype}"
    )


def time_range(
    lf: nw.LazyFrame, column: str
) -> tuple[datetime.datetime | None, datetime.datetime | None]:
    """First and last value of a timestamp column (naive), ``(None, None)`` when empty."""
    row = lf.select(nw.col(column).min().alias("lo"), nw.col(column).max().alias("hi")).collect()
    return _naive_datetime(row["lo"][0]), _naive_datetime(row["hi"][0])


def _naive_datetime(moment: Any) -> datetime.datetime | None:
    if moment is None or moment != moment:  # None or NaT
        return None
    if hasattr(moment, "to_pydatetime"):
        moment = moment.to_pydatetime()
    return moment.replace(tzinfo=None)


def materialize(small: nw.LazyFrame, *, same_connection: bool = False) -> nw.LazyFrame:
    """Compute a small intermediate result once when the engine would otherwise recompute it.

    Use before reading an aggregate several times: DuckDB re-runs a relation at every use,
    which would repeat the scan of the whole input. Polars (common-subplan elimination) and
    Spark (exchange reuse) share the work themselves, so their plans stay lazy. A DuckDB
    result lands on the default connection (where small frames built here live), or with
    ``same_connection`` on its own (to be joined with relations of an input from another
    connection).
    """
    if not small.implementation.is_duckdb():
        return small
    native = small.to_native()
    if same_connection and hasattr(native, "materialize"):
        return nw.from_native(native.materialize())
    return nw.from_native(_connection().from_arrow(small.collect(backend="pyarrow").to_native()))


def small_frame(data: dict[str, list[Any]], like: nw.LazyFrame) -> nw.LazyFrame:
    """A small frame built in Python (a grid of periods, a few keys) on the same engine as
    ``like``, so the two can be joined."""
    frame = nw.from_dict(data, backend="pyarrow")
    return frame.lazy() if like.implementation.is_pyarrow() else lazy_like(frame, like)


def as_datetime(value: Any) -> Any:
    """A date-like bound (ISO string, date, datetime, pandas Timestamp) as a naive datetime;
    None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.datetime.fromisoformat(value)
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day)
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().replace(tzinfo=None)
    raise TypeError(f"a period bound must be a date, datetime or ISO string, found {value!r}")
