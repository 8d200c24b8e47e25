"""The cells of :func:`.retention.cohort_retention` (``mode="on"``, no ``by``) for a large
pandas table, on numpy arrays.

The lazy plan makes the distinct (entity, period) pairs with a hash group-by over every row,
joins each pair with its entity's cohort and groups again. For a pandas table of at least
:data:`._compiled.MIN_ROWS` rows this pass instead packs each row's (entity, period) into one
integer and sorts those integers once: in that order the distinct pairs are the changes, each
entity's first pair is its cohort, and the cells (cohort, k) are counted with ``bincount``;
values are summed from the rows by the same cell numbers. Only the cell table (one row per
cohort and k) goes back to the plan, which zero-fills the triangle and derives the ratios as
it always does, so both give one answer.

Anything it does not read exactly returns ``None`` and the plan runs: other frames, timestamps
that are not naive datetimes (zoned, dates, sub-microsecond parts), values that are not
plain numpy numbers (Arrow-backed and nullable columns tell NaN from null), ids Arrow cannot
hold, and tables with no usable row.
"""

from __future__ import annotations

from typing import Any

import narwhals.stable.v2 as nw
import numpy as np

from kpiwidgets.metrics._compiled import MIN_ROWS, NONE, entity_codes, times
from kpiwidgets.metrics._frames import _connection

__all__ = ["cells_on"]

_EPOCH_MONTH = 1970 * 12  # period index of January 1970 for "M" (year * 12 + month - 1)
_EPOCH_DAY = 719_163  # datetime.date(1970, 1, 1).toordinal(): the "D" index of 1970-01-01
_LOOKUP_DAYS = 1 << 20  # data spanning fewer days finds each day's month in a table
_DENSE_CELLS = 1 << 22  # up to this many (cohort, k) slots are counted in one bincount


def cells_on(
    activity: Any,
    *,
    entity: str,
    timestamp: str,
    value: str | None,
    period: str,
    cut: Any,
    names: dict[str, str],
) -> nw.LazyFrame | None:
    """The plan's cell table (``names``: its column names for the cohort index, the count,
    the first timestamp and the value) from the rows with a time up to ``cut`` (``None``: all
    rows), or ``None`` when the plan must run."""
    read = _read(activity, entity, timestamp, value)
    if read is None:
        return None
    codes, base, ts, scale, values, dtype = read
    usable = (codes >= base) & (ts != NONE)
    if cut is not None:
        usable &= ts <= int(np.datetime64(cut, "us").astype(np.int64)) * scale
    if not usable.any():
        return None
    rows = slice(None) if usable.all() else np.flatnonzero(usable)
    del usable
    entities = codes[rows] - base
    index = _period_index(ts[rows], scale, period)
    lo = int(index.min())
    span = int(index.max()) - lo + 1
    # (entity, period) as one integer, sorted: equal pairs lie together, an entity's first
    # pair is its cohort.
    pairs = entities * span + (index - lo)
    pairs.sort()
    pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
    owner, offset = np.divmod(pairs, span)
    del pairs
    starts = np.concatenate(([True], owner[1:] != owner[:-1]))
    first = np.flatnonzero(starts)
    cohort = np.repeat(offset[first], np.diff(np.append(first, len(owner))))
    counts = _count(cohort * span + (offset - cohort), span * span)
    del offset, starts
    columns = {}
    if values is not None:
        of_entity = np.zeros(int(owner.max()) + 1, np.int64)
        of_entity[owner[first]] = cohort[first]
        row_cohort = of_entity[entities]
        cells = row_cohort * span + (index - lo - row_cohort)
        sums = _sum(cells, np.nan_to_num(values[rows], nan=0.0), counts[0])
        columns[names["value"]] = sums
    slots = counts[0]
    c, k = np.divmod(slots, span)
    table = {
        names["cohort"]: c + lo,
        "period_number": k,
        names["count"]: counts[1],
        names["first"]: _period_starts(c + lo, period, dtype),
        **columns,
    }
    return _to_lazy(table)


def _read(activity: Any, entity: str, timestamp: str, value: str | None) -> tuple | None:
    import pandas as pd

    if not isinstance(activity, pd.DataFrame) or len(activity) < MIN_ROWS:
        return None
    if any(c not in activity.columns for c in (entity, timestamp, *([value] if value else []))):
        return None
    stamps = activity[timestamp]
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        return None  # wall times of a zone: the plan
    read = times(stamps)
    ids = None if read is None else entity_codes(activity[entity])
    if read is None or ids is None:
        return None
    values = None
    if value is not None:
        column = activity[value]
        if not isinstance(column.dtype, np.dtype) or column.dtype.kind not in "fiu":
            return None  # Arrow and masked values tell NaN from null: the plan
        values = column.to_numpy(np.float64, na_value=np.nan)
    ts, scale, _ = read
    codes, base, _, _ = ids
    return codes, base, ts, scale, values, stamps.dtype


def _period_index(ts: np.ndarray, scale: int, period: str) -> np.ndarray:
    """The plan's ``period_index`` of times in microseconds x ``scale`` (days count like
    ``date.toordinal``; weeks start on Monday)."""
    days = ts // (86_400_000_000 * scale)
    if period in ("D", "W"):
        ordinal = days + _EPOCH_DAY
        if period == "D":
            return ordinal
        iso_weekday = (ordinal - 1) % 7 + 1  # ordinal 1 (0001-01-01) is a Monday
        return (ordinal - iso_weekday) // 7
    first, last = int(days.min()), int(days.max())
    if last - first < _LOOKUP_DAYS:
        # The calendar month of each day of the data's range, then one lookup a row.
        calendar = np.arange(first, last + 1).astype("datetime64[D]")
        of_day = calendar.astype("datetime64[M]").astype(np.int64) + _EPOCH_MONTH
        months = of_day[days - first]
    else:
        months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        months += _EPOCH_MONTH
    if period == "M":
        return months
    return months // 3 if period == "Q" else months // 12


def _period_starts(index: np.ndarray, period: str, dtype: Any) -> np.ndarray:
    """The first instant of each period ``index`` as datetimes of the input's unit."""
    if period in ("D", "W"):
        ordinal = index if period == "D" else index * 7 + 1  # a week's Monday
        days = (ordinal - _EPOCH_DAY).astype("datetime64[D]")
        return days.astype(dtype)
    months = {"M": index, "Q": index * 3, "Y": index * 12}[period] - _EPOCH_MONTH
    return months.astype("datetime64[M]").astype(dtype)


def _count(slots: np.ndarray, n_slots: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``slots`` and how often each occurs."""
    if n_slots <= _DENSE_CELLS:
        counts = np.bincount(slots, minlength=n_slots)
        seen = np.flatnonzero(counts)
        return seen, counts[seen]
    return np.unique(slots, return_counts=True)


def _sum(slots: np.ndarray, weights: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Sums of ``weights`` per slot, for the slots ``seen`` (sorted)."""
    if int(seen[-1]) < _DENSE_CELLS:
        return np.bincount(slots, weights=weights, minlength=int(seen[-1]) + 1)[seen]
    at = np.searchsorted(seen, slots)
    return np.bincount(at, weights=weights, minlength=len(seen))


def _to_lazy(table: dict[str, np.ndarray]) -> nw.LazyFrame:
    import pyarrow as pa

    return nw.from_native(_connection().from_arrow(pa.table(table)))
