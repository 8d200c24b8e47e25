"""What differs between engines and is handled once: Spark-like frames (no duration
arithmetic in narwhals, no lazy frame without a session) and making a small result lazy on
the caller's engine."""

from __future__ import annotations

import datetime
from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.metrics._periods import period_index

__all__ = ["SPARK_LIKE", "lazy_like", "microseconds_between"]


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
