"""A compiled single pass for :func:`.revenue.mrr_movements` on large pandas tables.

The lazy plans (:mod:`.revenue`) sum the table per account and month, union it with a copy
moved a month forward and group that again: on DuckDB two hash tables of every
(account, month), several times the input's size. For a pandas table of at least
:data:`._compiled.MIN_ROWS` rows this pass instead groups the rows by account with one
counting sort (a month index and a value per row), then walks each account's months once in
order, adding each month's movement to a table with one row per month of the data. The rules
are the plans' own (docs/retention.md):

* an account's MRR in a month is the sum of its rows in that calendar month, in the
  timestamps' own zone (wall time), below 0 counted as 0; a null MRR counts as 0;
* a month is reported when some account has a row in it or in the month before, up to the
  data's last month;
* ``new`` is an arrival in the account's first month with MRR above 0, ``reactivation`` any
  later arrival.

Anything it does not read exactly returns ``None`` and the caller runs the plans: other
frames, timestamps that are not datetimes (or have sub-microsecond parts), values that are not
numbers, ids Arrow cannot hold, or no usable row.
"""

from __future__ import annotations

from functools import partial
from itertools import pairwise
from typing import Any

import narwhals.stable.v2 as nw
import numpy as np

from kpiwidgets.metrics._compiled import (
    MIN_ROWS,
    NONE,
    entity_codes,
    run_threads,
    thread_count,
    times,
)
from kpiwidgets.metrics._frames import _connection, drop_null_rows, prepare

__all__ = ["MIN_ROWS", "movements"]

THREAD_MIN_ROWS = 1_000_000
"""Smallest table whose walk is shared out between threads (one per core, up to 4)."""

_COLUMNS = ("mrr_start", "new", "reactivation", "expansion", "contraction", "churn", "mrr_end")


def movements(revenue: Any, entity: str, timestamp: str, value: str) -> Any:
    """:func:`.revenue.mrr_movements` of a large pandas table (same columns, types, order,
    counted nulls and warning), or ``None`` before reading anything when the plans must
    run."""
    read = _read(revenue, entity, timestamp, value)
    if read is None:
        return None
    jit, codes, base, n_entities, ts, per_day, values = read
    per_entity = np.zeros(n_entities, np.int64)
    used, lo, hi = jit.count_rows(codes, base, ts, per_entity)
    if not used:
        return None  # nothing to report: the plans say it in their own words
    prep = prepare(revenue, name="revenue")
    per_column = {
        entity: int(np.count_nonzero(codes < base)),
        timestamp: int(np.count_nonzero(ts == NONE)),
    }
    drop_null_rows(prep, [entity, timestamp], name="revenue", counted=(per_column, len(ts) - used))

    starts = np.zeros(n_entities + 1, np.int64)
    np.cumsum(per_entity, out=starts[1:])
    del per_entity
    r_month = np.empty(used, np.int32)
    r_value = np.empty(used, np.float64)
    jit.place_rows(codes, base, ts, values, per_day, starts[:-1].copy(), r_month, r_value)
    first, last = jit.month_index(lo, per_day), jit.month_index(hi, per_day)

    threads = thread_count(used, THREAD_MIN_ROWS)
    cuts = np.searchsorted(starts, np.linspace(0, used, threads + 1), side="left")
    cuts[0], cuts[-1] = 0, n_entities
    ranges = list(pairwise(np.maximum.accumulate(cuts)))
    outs = [np.zeros((last - first + 1, 8)) for _ in ranges]
    run_threads(
        [
            partial(jit.walk, starts, r_month, r_value, g_lo, g_hi, first, last, out)
            for (g_lo, g_hi), out in zip(ranges, outs, strict=True)
        ]
    )
    total = np.sum(outs, axis=0)
    seen = np.flatnonzero(total[:, jit.SEEN] > 0)
    return prep.finish(_table(total[seen], first + seen), tz_columns=["month"])


def _table(sums: np.ndarray, months: np.ndarray) -> nw.LazyFrame:
    """The result's columns (as the plans give them) from the walk's sums per month."""
    import pyarrow as pa

    starts = (months - 1970 * 12).astype("datetime64[M]").astype("datetime64[us]")
    columns: dict[str, Any] = {"month": pa.array(starts, pa.timestamp("us"))}
    for offset, name in enumerate(_COLUMNS, start=1):
        columns[name] = sums[:, offset]
    columns["net_change"] = (
        columns["new"]
        + columns["reactivation"]
        + columns["expansion"]
        - columns["contraction"]
        - columns["churn"]
    )
    order = ["month", *_COLUMNS[:-1], "net_change", "mrr_end"]
    table = pa.table({name: columns[name] for name in order})
    return nw.from_native(_connection().from_arrow(table))


def _read(revenue: Any, entity: str, timestamp: str, value: str) -> tuple[Any, ...] | None:
    """The compiled module, account codes, wall times, units a day, values as float64."""
    import pandas as pd

    if not isinstance(revenue, pd.DataFrame) or len(revenue) < MIN_ROWS:
        return None
    if any(c not in revenue.columns for c in (entity, timestamp, value)):
        return None  # the plans name what is missing
    amounts = revenue[value]
    if not pd.api.types.is_numeric_dtype(amounts) or pd.api.types.is_bool_dtype(amounts):
        return None
    jit = _kernel()
    if jit is None:
        return None
    stamps = revenue[timestamp]
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_localize(None)  # months are calendar months of the wall time
    read = times(stamps)
    ids = None if read is None else entity_codes(revenue[entity])
    if read is None or ids is None:
        return None
    ts, scale, _ = read
    codes, base, n_entities, _ = ids
    values = amounts.to_numpy(np.float64, na_value=np.nan)
    return jit, codes, base, n_entities, ts, 86_400_000_000 * scale, values


def _kernel() -> Any:
    """The compiled module (numba, cached on disk), or ``None`` without numba."""
    try:
        from kpiwidgets.metrics import _revenue_jit
    except ImportError:
        return None
    return _revenue_jit
