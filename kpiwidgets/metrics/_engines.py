"""What differs between engines and is handled once: Spark-like frames (no duration
arithmetic in narwhals, no lazy frame without a session) and making a small result lazy on
the caller's engine."""

from __future__ import annotations

import datetime
from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.metrics._periods import period_index

__all__ = ["SPARK_LIKE", "collect_pandas", "lazy_like", "microseconds_between"]


def microseconds_between(lf: nw.LazyFrame, later: str, earlier: str) -> nw.Expr:
    """``later - earlier`` in whole microseconds (Int64), for two timestamp columns of ``lf``.

    Spark-like engines have no duration arithmetic in narwhals (``total_microseconds`` is not
    implemented there), so each timestamp becomes microseconds since 1970 first: a zoned
    timestamp (an instant) by its cast to epoch seconds, exact to the microsecond in a double
    for any date of this era; a naive one (TIMESTAMP_NTZ, which cannot be cast) from its
    calendar parts, so the difference is the wall-clock one every other engine gives.
    """
    if lf.implementation not in SPARK_LIKE:
        return (nw.col(later) - nw.col(earlier)).dt.total_microseconds()
    schema = lf.collect_schema()
    return _epoch_us(later, schema[later]) - _epoch_us(earlier, schema[earlier])


SPARK_LIKE = {
    nw.Implementation.PYSPARK,
    nw.Implementation.PYSPARK_CONNECT,
    nw.Implementation.SQLFRAME,
}


_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


def _epoch_us(column: str, dtype: Any) -> nw.Expr:
    """Microseconds since 1970-01-01 of a timestamp column (see microseconds_between)."""
    col = nw.col(column)
    if getattr(dtype, "time_zone", None) is not None:
        return (col.cast(nw.Float64) * 1_000_000.0).round(0).cast(nw.Int64)
    days = period_index(col, "D") - _EPOCH_ORDINAL  # days since 1970-01-01, from its parts
    seconds = days * 86_400 + col.dt.hour() * 3_600 + col.dt.minute() * 60 + col.dt.second()
    return seconds.cast(nw.Int64) * 1_000_000 + col.dt.microsecond().cast(nw.Int64)


def lazy_like(table: nw.DataFrame, like: nw.LazyFrame) -> nw.LazyFrame:
    """A small eager ``table`` as a lazy frame of ``like``'s engine (polars when narwhals
    cannot make one there). Spark frames are made in ``like``'s own session, from Arrow."""
    impl = like.implementation
    if impl in SPARK_LIKE:
        session = like.to_native().sparkSession
        return nw.from_native(session.createDataFrame(table.to_arrow()))
    try:
        return table.lazy(backend=impl)
    except (ValueError, TypeError, NotImplementedError):
        return table.lazy(backend="polars")


def collect_pandas(frame: Any, backend: str | None = None) -> Any:
    """A metric result (any engine, eager or lazy) as pandas: widgets and sessions show small
    results.

    Only call it on results (aggregates, or a drill-down cut with ``head``), never on the
    input. Durations come back as ``timedelta64[us]`` on every engine: DuckDB hands its
    INTERVALs to Arrow as month-day-nanosecond intervals (pandas ``DateOffset`` objects), so
    they cross as microseconds. Spark timestamps (instants, read in the session's zone, which
    must be UTC) come back naive, as Spark's own ``toPandas`` gives them: the wall times of
    naive input, not instants marked UTC (a browser would show those in its own zone).
    ``backend``: what a lazy frame is collected to first (narwhals' default when None).
    """
    import pandas as pd

    native = nw.from_native(frame)
    durations: list[str] = []
    spark = native.implementation in SPARK_LIKE
    if isinstance(native, nw.LazyFrame):
        if native.implementation.is_duckdb():
            schema = native.collect_schema()
            durations = [c for c, dtype in schema.items() if isinstance(dtype, nw.Duration)]
            native = native.with_columns(nw.col(c).dt.total_microseconds() for c in durations)
        native = native.collect(backend=backend)
    out = native.to_pandas()
    if spark:
        for column, dtype in native.schema.items():
            if isinstance(dtype, nw.Datetime) and dtype.time_zone == "UTC":
                out[column] = out[column].dt.tz_localize(None)
    for column in durations:
        out[column] = pd.to_timedelta(out[column], unit="us").astype("timedelta64[us]")
    return out
