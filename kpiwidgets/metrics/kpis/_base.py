"""The KPI registry and the query every KPI function computes through.

A KPI is one registry entry (:func:`register`) and one small function ``f(q) -> LazyFrame``
over a :class:`Query`, which hands out the Dataset's tables as narwhals lazy frames, puts
rows into calendar periods, and shapes the tidy output (docs/kpis.md).
"""

from __future__ import annotations

import datetime as _dt
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets._warnings import DroppedRowsWarning
from kpiwidgets.metrics._engines import microseconds_between
from kpiwidgets.metrics._frames import (
    Prepared,
    as_list,
    materialize,
    prepare,
)
from kpiwidgets.metrics._periods import check_period, period_end, period_start

__all__ = ["KPI", "REGISTRY", "Query", "register"]

UNITS = ("count", "currency", "ratio", "multiple", "days", "minutes", "months", "touches")
GROUPS = ("marketing", "sales", "customers")
# Plan-internal period column (the output calls it "period").
P = "__kw_period"


@dataclass(frozen=True)
class KPI:
    """One catalog entry: what the KPI is, what it needs, and the function computing it."""

    name: str
    label: str
    formula: str
    unit: str
    better: str  # "higher" or "lower"
    tables: tuple[str, ...]
    period_by: str
    group: str
    by: tuple[str, ...]
    options: Mapping[str, tuple[Any, str]]
    func: Callable[[Query], nw.LazyFrame]
    needs_period: bool = False
    default_by: str | None = None
    #: What a scorecard tile shows: "overall", or "largest" (the largest value of the
    #: default breakdown, e.g. the biggest channel's revenue share).
    headline: str = "overall"


REGISTRY: dict[str, KPI] = {}


def register(
    name: str,
    *,
    label: str,
    formula: str,
    unit: str,
    better: str,
    tables: Sequence[str],
    period_by: str,
    group: str,
    by: Sequence[str] = (),
    options: Mapping[str, tuple[Any, str]] | None = None,
    needs_period: bool = False,
    default_by: str | None = None,
    headline: str = "overall",
) -> Callable[[Callable[[Query], nw.LazyFrame]], Callable[[Query], nw.LazyFrame]]:
    """Add a KPI to the catalog (the decorated function computes it)."""
    assert unit in UNITS and better in ("higher", "lower") and group in GROUPS, name

    def decorate(func: Callable[[Query], nw.LazyFrame]) -> Callable[[Query], nw.LazyFrame]:
        assert name not in REGISTRY, name
        REGISTRY[name] = KPI(
            name=name,
            label=label,
            formula=formula,
            unit=unit,
            better=better,
            tables=tuple(tables),
            period_by=period_by,
            group=group,
            by=tuple(by),
            options=dict(options or {}),
            func=func,
            needs_period=needs_period,
            default_by=default_by,
            headline=headline,
        )
        return func

    return decorate


@dataclass
class Query:
    """What one KPI computation is asked: the data, period, range, breakdown and options.

    ``tables`` is shared by :func:`kw.kpi_table`, so every table is prepared (and, for
    pandas, registered with DuckDB) once for all the KPIs computed together.
    """

    kpi: KPI
    data: Any
    period: str | None
    start: _dt.datetime | None
    end: _dt.datetime | None
    by: list[str]
    options: dict[str, Any]
    tables: dict[str, Prepared] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    driver: Prepared | None = None

    @property
    def keys(self) -> list[str]:
        """Output grouping columns: the period (when asked) and the breakdown."""
        return ([P] if self.period else []) + self.by

    def table(self, name: str, columns: Sequence[str] = ()) -> nw.LazyFrame:
        """The Dataset's table ``name`` as a lazy frame, with ``columns`` checked."""
        prep = self.tables.get(name)
        if prep is None:
            frame = _get(self.data, name)
            if frame is None:
                raise MissingTable(name, self.kpi.name)
            prep = _with_instants(prepare(frame, name=name, instants=True))
            self.tables[name] = prep
        schema = prep.lf.collect_schema()
        missing = [c for c in columns if c not in schema]
        if missing:
            raise MissingTable(name, self.kpi.name, columns=missing, found=list(schema.names()))
        if self.driver is None:
            self.driver = prep
        return prep.lf

    def bucket(self, lf: nw.LazyFrame, timestamp: str | nw.Expr) -> nw.LazyFrame:
        """Rows with a ``timestamp`` in [start, end), each put in its period (column ``P``).
        Rows with a null timestamp are not in any period (a lead with no ``mql_at`` is not
        an MQL), so they are left out without being counted as bad rows."""
        ts = nw.col(timestamp) if isinstance(timestamp, str) else timestamp
        lf = lf.filter(~ts.is_null())
        if self.start is not None:
            lf = lf.filter(ts >= self.start)
        if self.end is not None:
            lf = lf.filter(ts < self.end)
        if self.period:
            lf = lf.with_columns(period_start(ts, self.period).alias(P))
        return lf

    def shared(self, key: tuple, build: Callable[[], nw.LazyFrame]) -> nw.LazyFrame:
        """``build()`` computed once per ``key`` for every KPI of a :func:`kw.kpi_table`
        call (the monthly revenue snapshots several customer KPIs read), materialized."""
        full = ("__shared__", *key, self.period, tuple(self.by), self.start, self.end)
        if full not in self.tables:
            frame = materialize(build())
            self.tables[full] = (frame, self.driver)
        frame, driver = self.tables[full]
        if self.driver is None:
            self.driver = driver  # results go back as the type of the table it was read from
        return frame

    def option(self, name: str) -> Any:
        return self.options.get(name, self.kpi.options[name][0])

    def count_dropped(self, reason: str, lf: nw.LazyFrame) -> None:
        """Count the rows of ``lf`` (left out for ``reason``) and say so."""
        n = int(lf.select(nw.len().alias("n")).collect()["n"][0])
        if n:
            self.dropped[reason] = self.dropped.get(reason, 0) + n
            warnings.warn(
                DroppedRowsWarning(f"{self.kpi.name}: left out {n} row(s): {reason}", {reason: n}),
                stacklevel=4,
            )


class MissingTable(ValueError):
    """A KPI's table (or a column of it) is not in the Dataset."""

    def __init__(
        self,
        table: str,
        kpi: str,
        *,
        columns: Sequence[str] = (),
        found: Sequence[str] = (),
    ) -> None:
        self.table, self.kpi, self.columns = table, kpi, list(columns)
        blocked = sorted(k.name for k in REGISTRY.values() if table in k.tables)
        if columns:
            what = f"the {table!r} table has no column(s) {list(columns)} (found {list(found)})"
        else:
            what = f"the dataset has no {table!r} table"
        super().__init__(
            f"kpi {kpi!r}: {what}; without it these KPIs cannot be computed: {', '.join(blocked)}"
        )


def _get(data: Any, name: str) -> Any:
    if isinstance(data, Mapping):
        return data.get(name)
    try:
        return data[name] if name in data else None  # noqa: SIM401 - a Dataset has no .get
    except (KeyError, TypeError):
        return None


# -- output shapes ---------------------------------------------------------------------------


def safe_ratio(num: nw.Expr, den: nw.Expr) -> nw.Expr:
    """num / den as a float, NaN when den is 0 (or below)."""
    return (
        nw.when(den > 0)
        .then(num.cast(nw.Float64) / den.cast(nw.Float64))
        .otherwise(nw.lit(float("nan")))
    )


def count(q: Query, lf: nw.LazyFrame) -> nw.LazyFrame:
    """value = n = rows per key."""
    return _group(q, lf, nw.len().cast(nw.Int64).alias("n")).with_columns(
        nw.col("n").cast(nw.Float64).alias("value")
    )


def total(q: Query, lf: nw.LazyFrame, column: str | nw.Expr) -> nw.LazyFrame:
    """value = the sum of ``column`` per key; n = rows."""
    expr = nw.col(column) if isinstance(column, str) else column
    return _group(
        q,
        lf,
        expr.cast(nw.Float64).fill_null(0.0).sum().alias("value"),
        nw.len().cast(nw.Int64).alias("n"),
    )


def median(q: Query, lf: nw.LazyFrame, column: str | nw.Expr) -> nw.LazyFrame:
    """value = the median of ``column`` per key (nulls left out); n = values behind it."""
    expr = nw.col(column) if isinstance(column, str) else column
    lf = lf.with_columns(expr.cast(nw.Float64).alias("__kw_x")).filter(~nw.col("__kw_x").is_null())
    return _group(
        q, lf, nw.col("__kw_x").median().alias("value"), nw.len().cast(nw.Int64).alias("n")
    )


def ratio(
    q: Query, lf: nw.LazyFrame, numerator: nw.Expr, denominator: nw.Expr | None = None
) -> nw.LazyFrame:
    """value = Σ numerator / Σ denominator per key (the denominator defaults to the rows:
    a share), both kept; n = rows."""
    den = (
        nw.len().cast(nw.Float64)
        if denominator is None
        else denominator.cast(nw.Float64).fill_null(0.0).sum()
    )
    out = _group(
        q,
        lf,
        numerator.cast(nw.Float64).fill_null(0.0).sum().alias("numerator"),
        den.alias("denominator"),
        nw.len().cast(nw.Int64).alias("n"),
    )
    return with_value(out)


def with_value(out: nw.LazyFrame) -> nw.LazyFrame:
    return out.with_columns(safe_ratio(nw.col("numerator"), nw.col("denominator")).alias("value"))


def combine(q: Query, numerator: nw.LazyFrame, denominator: nw.LazyFrame) -> nw.LazyFrame:
    """A ratio of two tables: ``numerator`` (keys + ``numerator``) and ``denominator`` (keys +
    ``denominator`` + ``n``) stacked and summed per key, so a key on one side only still shows
    (with a zero on the other)."""
    keys = q.keys
    num = numerator.select(
        *keys,
        nw.col("numerator").cast(nw.Float64),
        nw.lit(0.0).alias("denominator"),
        nw.lit(0).cast(nw.Int64).alias("n"),
    )
    den = denominator.select(
        *keys,
        nw.lit(0.0).alias("numerator"),
        nw.col("denominator").cast(nw.Float64),
        nw.col("n").cast(nw.Int64),
    )
    both = nw.concat([num, den], how="vertical")
    sums = [nw.col(c).sum() for c in ("numerator", "denominator", "n")]
    out = both.group_by(*keys).agg(*sums) if keys else both.select(*sums)
    return with_value(out.with_columns(nw.col("n").cast(nw.Int64)))


def _group(q: Query, lf: nw.LazyFrame, *aggs: nw.Expr) -> nw.LazyFrame:
    keys = q.keys
    return lf.group_by(*keys).agg(*aggs) if keys else lf.select(*aggs)


INSTANT_PREFIX = "__kw_instant_"


def instant_column(column: str) -> str:
    """Hidden column holding the naive UTC instant of a tz-aware ``column`` (see
    :func:`_with_instants`)."""
    return f"{INSTANT_PREFIX}{column}"


def _with_instants(prep: Prepared) -> Prepared:
    """KPI tables keep tz-aware timestamps as wall time in their zone (periods are calendar
    periods there) and each one's UTC instant in :func:`instant_column`, which durations are
    computed from: a lead answered 20 minutes after it came in across the night clocks fall
    back is 20 minutes, not -40."""
    if not prep.utc:
        return prep
    zoned = list(prep.time_zones)
    walls = [nw.col(prep.wall_column(c)).alias(c) for c in zoned]
    instants = [nw.col(c).alias(instant_column(c)) for c in zoned]
    prep.lf = prep.lf.with_columns(*walls, *instants).drop([prep.wall_column(c) for c in zoned])
    prep.utc = False
    return prep


def seconds(lf: nw.LazyFrame, later: str, earlier: str) -> nw.Expr:
    """Fractional seconds between two timestamp columns of ``lf`` (from microseconds:
    narwhals' ``total_seconds`` drops the fraction), on their UTC instants where the columns
    were tz-aware (:func:`instant_column`)."""
    names = set(lf.collect_schema().names())
    pair = [instant_column(c) if instant_column(c) in names else c for c in (later, earlier)]
    if (pair[0] == later) != (pair[1] == earlier):
        raise ValueError(
            f"durations: {later!r} and {earlier!r} must both be time-zone-aware or both naive, "
            "found one of each; give both columns the same kind (e.g. localize the naive one "
            "to the other's zone)"
        )
    delta = microseconds_between(lf, *pair)
    return delta.cast(nw.Float64) / 1_000_000.0


def days(lf: nw.LazyFrame, later: str, earlier: str) -> nw.Expr:
    """Fractional days between two timestamp columns of ``lf`` (seconds / 86 400)."""
    return seconds(lf, later, earlier) / 86_400.0


def check_period_arg(period: str | None, where: str) -> None:
    if period is not None:
        check_period(period, where=where)
        if period not in ("M", "Q", "Y"):
            raise ValueError(f"{where}: period must be 'M', 'Q', 'Y' or None, found {period!r}")


__all__ += [
    "MissingTable",
    "as_list",
    "check_period_arg",
    "combine",
    "count",
    "days",
    "instant_column",
    "join_on_keys",
    "median",
    "period_end",
    "ratio",
    "safe_ratio",
    "seconds",
    "total",
    "with_value",
]


_NULL_KEY = "\x00kw:null"  # stands for a null breakdown value while two parts are joined


def join_on_keys(q: Query, left: nw.LazyFrame, right: nw.LazyFrame, how: str) -> nw.LazyFrame:
    """Join two parts of a KPI on its keys, a null breakdown value matching a null (a join
    never matches null with null, which would lose the null group)."""
    keys = q.keys
    if not keys:
        return left.join(right, how="cross")
    text = [b for b in q.by if left.collect_schema()[b] == nw.String]
    mark = [nw.col(b).fill_null(_NULL_KEY) for b in text]
    left = left.with_columns(*mark) if mark else left
    right = right.with_columns(*mark) if mark else right
    out = left.join(right, on=keys, how=how)
    back = [nw.when(nw.col(b) == _NULL_KEY).then(None).otherwise(nw.col(b)).alias(b) for b in text]
    return out.with_columns(*back) if back else out
