"""Cohort retention: who keeps coming back, period by period (semantics: docs/retention.md).

Written once against narwhals' lazy API. The plan is kept lean because activity tables are
large: the period of each row is computed once, one group-by on (entity, period) makes the
distinct entity-periods, each entity's cohort is its smallest period, and the cells count
those pairs — no distinct count and no window over the activity (with ``by``, a window
partitioned by entity gives each row its entity's first row). Everything after that (the
zero-filled triangle, cohort sizes, ratios) works on the small cell table.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.metrics._frames import (
    as_list,
    datetime_column,
    drop_null_rows,
    materialize,
    prepare,
    ratio,
    time_range,
)
from kpiwidgets.metrics._names import internal
from kpiwidgets.metrics._periods import check_period, period_index, period_index_of, period_start
from kpiwidgets.metrics._retention_arrays import cells_on as cells_on_arrays
from kpiwidgets.metrics._zones import convert_zone, wall_time
from kpiwidgets.metrics.choices import (
    Period,
    RetentionMode,
    ValueAgg,
    check_choice,
)

__all__ = ["OUTPUT", "cohort_retention"]

# Plan-internal columns (kpiwidgets.metrics._names): never a user's column name.
_C, _E, _FIRST, _LAST, _N, _P, _S, _T, _V, _V0 = (
    internal(n) for n in ("c", "e", "first", "last", "n", "p", "s", "t", "v", "v0")
)


OUTPUT = (
    "cohort",
    "period_number",
    "cohort_size",
    "retained",
    "retention",
    "value",
    "value_retention",
    "is_complete",
)


def cohort_retention(
    activity: Any,
    *,
    entity: str = "account_id",
    timestamp: str = "month",
    period: Period = "M",
    mode: RetentionMode = "on",
    value: str | None = None,
    by: str | Sequence[str] | None = None,
    as_of: _dt.datetime | _dt.date | str | None = None,
    tz: str | None = None,
    value_agg: ValueAgg = "sum",
) -> Any:
    """Share of each cohort still active ``k`` calendar periods after its first activity.

    The cohort of an entity is the calendar period of its first activity in ``activity``;
    ``period_number`` k counts whole calendar periods from the cohort period to the activity
    period (``"M"``: 12·(y₂ − y₁) + (m₂ − m₁); ``"Q"`` alike; ``"W"``: days between the
    Monday starts / 7; ``"D"``: days; ``"Y"``: years).

    * ``retention = retained / cohort_size``, where ``retained`` counts the cohort's entities
      active in period k (``mode="on"``) or in period k or any later one (``"on_or_after"``,
      i.e. last active period ≥ k).
    * ``value_retention = value in cell k / value of the cohort in period 0`` (net revenue
      retention of the cohort; above 1 when customers expand). NaN when the period-0 value
      is 0 (the core's one zero rule).

    Parameters
    ----------
    activity
        One row per (entity, time) of activity; any narwhals-supported frame.
    entity, timestamp
        Column names of the entity id and of the activity time (datetime or date).
    period
        ``"D"``, ``"W"`` (weeks start Monday), ``"M"``, ``"Q"`` or ``"Y"``; calendar periods
        in the timestamps' own zone.
    mode
        ``"on"`` or ``"on_or_after"``.
    value
        Optional column to sum per cell (e.g. ``"mrr"``); ``mode="on"`` only.
    by
        Column(s) splitting cohorts; each entity takes the value of its first activity row
        (ties at the same timestamp: the smallest value).
    as_of
        The moment the data is known up to; default the last timestamp. Rows after it are left
        out; a cell whose period has not ended by ``as_of`` has ``is_complete`` false; periods
        starting after it have no cell. A naive ``as_of`` is wall time in the data's zone.
        With period-stamped data (``month`` = first of the month) the last month is therefore
        incomplete unless ``as_of`` is set to its end.
    tz
        Convert timestamps to this zone first (naive timestamps are taken as UTC); the
        ``cohort`` column is then in this zone.
    value_agg
        How ``value`` fills a cell: ``"sum"`` (default; flows such as orders or payments) or
        ``"period_end"`` (snapshots such as MRR: only rows in the period's last month in the
        data count — its last day for ``"D"``/``"W"`` periods — so a quarter of monthly MRR
        rows is its third month's MRR rather than three months added up; summing would make
        a cohort's partial first quarter look small and its retention far above 100 %).

    Returns
    -------
    The caller's frame type with the ``by`` columns, then ``cohort`` (period start, tz-aware
    if the input is), ``period_number``, ``cohort_size``, ``retained``, ``retention``,
    ``value`` and ``value_retention`` (only with ``value=``), ``is_complete``; one row for
    every (cohort, k) with cohort period + k ≤ the period of ``as_of`` (zero-retention cells
    included), sorted by ``by``, cohort, k. Rows with a null entity or timestamp are left out
    and counted (``DroppedRowsWarning``; pandas results carry ``.attrs["dropped_rows"]``).

    Raises
    ------
    ValueError
        For an unknown ``period``/``mode``, ``value`` with ``mode="on_or_after"``, a missing
        column, or a timestamp column that is not a datetime.

    Examples
    --------
    >>> import pandas as pd
    >>> activity = pd.DataFrame({
    ...     "account_id": [1, 1, 2, 2, 3],
    ...     "month": pd.to_datetime(["2024-01-05", "2024-02-07", "2024-01-09", "2024-03-02",
    ...                              "2024-02-11"])})
    >>> cohort_retention(activity, as_of="2024-03-31")
          cohort  period_number  cohort_size  retained  retention  is_complete
    0 2024-01-01              0            2         2        1.0         True
    1 2024-01-01              1            2         1        0.5         True
    2 2024-01-01              2            2         1        0.5        False
    3 2024-02-01              0            1         1        1.0         True
    4 2024-02-01              1            1         0        0.0        False
    """
    where = "cohort_retention"
    check_period(period, where=where)
    check_choice(mode, RetentionMode, name="mode", where=where)
    if value is not None and mode != "on":
        raise ValueError(f"{where}: value= needs mode='on', found mode={mode!r}")
    check_choice(value_agg, ValueAgg, name="value_agg", where=where)
    keys = as_list(by)
    clash = sorted(set(keys) & {*OUTPUT, entity, timestamp})
    if clash:
        raise ValueError(f"{where}: by must not name an output or key column, found {clash}")

    if tz is not None:
        activity = convert_zone(activity, timestamp, tz)
    prep = prepare(activity, name="activity")
    wanted = [entity, timestamp, *keys, *([value] if value else [])]
    ts = datetime_column(prep, wanted, timestamp=timestamp, where=where)
    prep.lf = prep.lf.select(
        nw.col(entity),
        ts.alias(timestamp),
        *(nw.col(k) for k in keys),
        *([nw.col(value).cast(nw.Float64).alias(_V)] if value else []),
    )
    prep = drop_null_rows(prep, [entity, timestamp], name="activity")
    prep.lf = prep.lf.rename({entity: _E, timestamp: _T})

    first, last = time_range(prep.lf, _T)
    cut = wall_time(as_of, prep) if as_of is not None else last
    rows = prep.lf if as_of is None else prep.lf.filter(nw.col(_T) <= cut)
    if cut is None or first is None or first > cut:
        cut = first = _dt.datetime(2000, 1, 1)  # no rows: any calendar gives an empty grid
    cut_index = period_index_of(cut, period)
    max_k = cut_index - period_index_of(first, period)

    if value is not None and value_agg == "period_end":
        # The snapshot is the period's last month in the data (its last day for D and W
        # periods), not one exact timestamp: accounts' snapshots may be dated on other days.
        grain = "D" if period in ("D", "W") else "M"
        snapshot = period_index(nw.col(_T), grain).alias(_S)
        at_end = nw.col(_S) == nw.col(_S).max().over(_P)
        rows = (
            rows.with_columns(period_index(nw.col(_T), period).alias(_P), snapshot)
            .with_columns(nw.when(at_end).then(nw.col(_V)).otherwise(0.0).alias(_V))
            .drop(_P, _S)
        )
    cells = None
    if mode == "on" and not keys and tz is None and (value is None or value_agg == "sum"):
        # A large pandas table: the cells from one sort of packed (entity, period) integers.
        names = {"cohort": _C, "count": _N, "first": _FIRST, "value": _V}
        cut_at = cut if as_of is not None else None
        arrays = {"entity": entity, "timestamp": timestamp, "value": value, "names": names}
        cells = cells_on_arrays(activity, period=period, cut=cut_at, **arrays)
    if cells is None and mode == "on":
        cells = _cells_on(rows, keys, period, with_value=value is not None)
    elif cells is None:
        cells = _cells_on_or_after(rows, keys, period)
    cells = materialize(cells)
    result = _triangle(
        cells, keys, period, max_k, cut_index, mode=mode, with_value=value is not None
    )
    return prep.finish(result, tz_columns=["cohort"])


def _with_first(rows: nw.LazyFrame, keys: list[str]) -> nw.LazyFrame:
    """Activity rows plus each entity's first timestamp; ``by`` values from its first row.

    Window expressions partitioned by entity rather than a group-by joined back: one
    partitioning pass serves all of them, and engines run it faster than the join.
    """
    first = nw.col(_T).min().over(_E).alias(_FIRST)
    rows = rows.with_columns(first)
    if keys:
        at_first = nw.col(_T) == nw.col(_FIRST)
        # Ties at the first timestamp: the smallest value, so the answer is deterministic.
        rows = rows.with_columns(
            nw.when(at_first).then(nw.col(k)).min().over(_E).alias(k) for k in keys
        )
    return rows


def _cells_on(
    rows: nw.LazyFrame, keys: list[str], period: str, *, with_value: bool
) -> nw.LazyFrame:
    if not keys:
        return _cells_on_pairs(rows, period, with_value=with_value)
    cohort = period_index(nw.col(_FIRST), period)
    return (
        _with_first(rows, keys)
        .select(
            *keys,
            _E,
            _FIRST,
            *_value_col(with_value),
            cohort.alias(_C),
            (period_index(nw.col(_T), period) - cohort).alias("period_number"),
        )
        .group_by(*keys, _C, "period_number")
        .agg(
            nw.col(_E).n_unique().alias(_N),
            nw.col(_FIRST).min(),
            *_value_col(with_value, agg=True),
        )
    )


def _cells_on_pairs(rows: nw.LazyFrame, period: str, *, with_value: bool) -> nw.LazyFrame:
    """The cells without ``by``, from the distinct (entity, period index) pairs (the period
    computed once per row, on integers from there on) joined with each entity's cohort (its
    smallest period): no distinct count and no window over the whole activity table. Values
    are summed from the rows joined with the cohorts, not through the pairs: the pairs then
    hold two integers, and the largest thing held at once is their hash table."""
    rows = rows.with_columns(period_index(nw.col(_T), period).alias(_P))
    firsts = rows.group_by(_E).agg(nw.col(_P).min().alias(_C), nw.col(_T).min().alias(_FIRST))
    firsts = materialize(firsts, same_connection=True)  # read by the pairs and the values
    number = (nw.col(_P) - nw.col(_C)).alias("period_number")
    cells = (
        rows.select(_E, _P)
        .unique([_E, _P])
        .join(firsts, on=_E)
        .group_by(_C, number)
        .agg(nw.len().alias(_N), nw.col(_FIRST).min())
    )
    if not with_value:
        return cells
    values = (
        rows.select(_E, _P, _V)
        .join(firsts.select(_E, _C), on=_E)
        .group_by(_C, number)
        .agg(*_value_col(with_value, agg=True))
    )
    return cells.join(values, on=[_C, "period_number"], how="left")


def _cells_on_or_after(rows: nw.LazyFrame, keys: list[str], period: str) -> nw.LazyFrame:
    # Retained at k <=> last active period >= k, so a histogram of each entity's last
    # period number, summed from the far end (in _triangle), is the whole answer.
    if keys:
        rows = _with_first(rows, keys)
    cohort = period_index(nw.col(_FIRST), period)
    return (
        rows.group_by(_E, *keys)
        .agg(nw.col(_T).min().alias(_FIRST), nw.col(_T).max().alias(_LAST))
        .select(
            *keys,
            _FIRST,
            cohort.alias(_C),
            (period_index(nw.col(_LAST), period) - cohort).alias("period_number"),
        )
        .group_by(*keys, _C, "period_number")
        .agg(nw.len().alias(_N), nw.col(_FIRST).min())
    )


def _triangle(
    cells: nw.LazyFrame,
    keys: list[str],
    period: str,
    max_k: int,
    cut_index: int,
    *,
    mode: str,
    with_value: bool,
) -> nw.LazyFrame:
    """Zero-fill every (cohort, k) up to the period of ``as_of`` and derive the ratios."""
    group = [*keys, "cohort", _C, "period_number"]
    tidy = [
        *group,
        nw.col(_N).cast(nw.Int64),
        *([nw.col(_V).cast(nw.Float64)] if with_value else []),
    ]
    # Every entity of a cohort starts inside the cohort period, so any of their first
    # timestamps gives its start; the big group-by keeps to integer keys.
    cells = cells.with_columns(
        period_start(nw.col(_FIRST), period).alias("cohort"),
        nw.col("period_number").cast(nw.Int64),
    ).select(*tidy)
    # A literal range 0..max_k built from the cells themselves, so it lives in their backend.
    ks = (
        cells.head(1)
        .select(*(nw.lit(k, dtype=nw.Int64).alias(f"k{k}") for k in range(max(max_k, 0) + 1)))
        .unpivot(value_name="period_number")
        .select("period_number")
    )
    zeros = (
        cells.select(*keys, "cohort", _C)
        .unique()
        .join(ks, how="cross")
        .filter(nw.col(_C) + nw.col("period_number") <= cut_index)
        .with_columns(
            nw.lit(0, dtype=nw.Int64).alias(_N),
            *([nw.lit(0.0, dtype=nw.Float64).alias(_V)] if with_value else []),
        )
        .select(*tidy)
    )
    # Union + group-by rather than a left join: a null `by` value would not match in a join.
    grid = (
        nw.concat([cells, zeros], how="vertical")
        .group_by(*group)
        .agg(nw.col(_N).sum(), *_value_col(with_value, agg=True))
    )
    cohort = [*keys, "cohort"]
    at_zero = nw.col("period_number") == 0
    retained = nw.col(_N)
    if mode == "on_or_after":
        retained = retained.cum_sum(reverse=True).over(*cohort, order_by="period_number")
    # Everyone in a cohort is retained at k = 0 in both modes: that cell is the cohort size.
    grid = grid.with_columns(retained.alias("retained")).with_columns(
        nw.when(at_zero)
        .then(nw.col("retained"))
        .otherwise(0)
        .sum()
        .over(*cohort)
        .alias("cohort_size"),
        *(
            [nw.when(at_zero).then(nw.col(_V)).otherwise(0.0).sum().over(*cohort).alias(_V0)]
            if with_value
            else []
        ),
    )
    out = [
        *keys,
        "cohort",
        "period_number",
        nw.col("cohort_size").cast(nw.Int64),
        nw.col("retained").cast(nw.Int64),
        (nw.col("retained").cast(nw.Float64) / nw.col("cohort_size")).alias("retention"),
    ]
    if with_value:
        out += [
            nw.col(_V).alias("value"),
            ratio(nw.col(_V), nw.col(_V0)).alias("value_retention"),
        ]
    out.append((nw.col(_C) + nw.col("period_number") < cut_index).alias("is_complete"))
    return grid.select(*out).sort(*cohort, "period_number", nulls_last=True)


def _value_col(with_value: bool, *, agg: bool = False) -> list[nw.Expr]:
    if not with_value:
        return []
    return [nw.col(_V).sum()] if agg else [nw.col(_V)]
