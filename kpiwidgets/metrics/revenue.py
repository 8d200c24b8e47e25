"""Recurring-revenue movements, logo churn and revenue retention (docs/retention.md).

All three read a ``revenue`` table (account_id, month, mrr) as monthly snapshots: an account's
MRR in a month is the sum of its rows in that calendar month (in the timestamps' own zone), and
an account is *active* in a month when that MRR is above 0 (negative MRR counts as 0). Each
compares a month with an earlier one by a union of the monthly table with a copy of itself moved
forward in time, then a group-by: no self-join, so every engine runs one lean plan. Written once
against narwhals' lazy API; any narwhals-supported frame in, the caller's type out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.metrics._frames import (
    Prepared,
    datetime_column,
    drop_null_rows,
    prepare,
    ratio,
    time_range,
)
from kpiwidgets.metrics._names import internal
from kpiwidgets.metrics._periods import period_index, period_index_of, period_start
from kpiwidgets.metrics._revenue_kernel import movements

__all__ = ["logo_churn", "mrr_movements", "revenue_retention"]

# Plan-internal columns: entity, time, value, month index, month start, first month.
_E, _T, _V, _M, _S, _FIRST = (internal(n) for n in ("e", "t", "v", "m", "s", "first"))
_MOVEMENTS = ("new", "reactivation", "expansion", "contraction", "churn")


def mrr_movements(
    revenue: Any, *, entity: str = "account_id", timestamp: str = "month", value: str = "mrr"
) -> Any:
    """Month-over-month MRR movements, which add up to the change in MRR.

    For each account, with ``prev`` its MRR last month and ``now`` this month:

    * ``new``: ``now`` of accounts with revenue for the first time (prev = 0);
    * ``reactivation``: ``now`` of accounts back after a month or more without revenue;
    * ``expansion``: ``now − prev`` when ``0 < prev < now``;
    * ``contraction``: ``prev − now`` when ``0 < now < prev``;
    * ``churn``: ``prev`` when ``now = 0 < prev``.

    ``net_change = new + reactivation + expansion − contraction − churn = mrr_end − mrr_start``.
    The first month of the data counts every account as new; a month with no revenue at all
    after a month with some shows up (all churn).

    Returns
    -------
    The caller's frame type: ``month`` (start), ``mrr_start`` (last month's MRR), ``new``,
    ``reactivation``, ``expansion``, ``contraction``, ``churn``, ``net_change``, ``mrr_end``;
    sorted by month. Rows with a null account or month are left out and counted; a null MRR
    counts as 0.

    Examples
    --------
    >>> import pandas as pd
    >>> revenue = pd.DataFrame({
    ...     "account_id": ["a", "b", "a", "c"],
    ...     "month": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01", "2024-02-01"]),
    ...     "mrr": [100.0, 50.0, 120.0, 30.0]})
    >>> mrr_movements(revenue)[["month", "new", "expansion", "churn", "net_change"]]
           month    new  expansion  churn  net_change
    0 2024-01-01  150.0        0.0    0.0       150.0
    1 2024-02-01   30.0       20.0   50.0         0.0
    """
    compiled = movements(revenue, entity, timestamp, value)  # large pandas tables
    if compiled is not None:
        return compiled
    data = _monthly(revenue, entity, timestamp, value, where="mrr_movements")
    pairs = _pairs(data, months=1).filter(nw.col(_M) <= data.last)
    first = nw.when(nw.col("now") > 0).then(nw.col(_M)).min().over(_E)
    was, now, prev = nw.col("prev") > 0, nw.col("now"), nw.col("prev")
    arrived = ~was & (now > 0)
    movement = {
        "new": nw.when(arrived & (nw.col(_M) == nw.col(_FIRST))).then(now),
        "reactivation": nw.when(arrived & (nw.col(_M) != nw.col(_FIRST))).then(now),
        "expansion": nw.when(was & (now > prev)).then(now - prev),
        "contraction": nw.when(was & (now > 0) & (now < prev)).then(prev - now),
        "churn": nw.when(was & (now <= 0)).then(prev),
    }
    out = (
        pairs.with_columns(first.alias(_FIRST))
        .with_columns(*(e.otherwise(0.0).alias(name) for name, e in movement.items()))
        .group_by(_M)
        .agg(
            nw.col(_S).min().alias("month"),
            prev.sum().alias("mrr_start"),
            *(nw.col(name).sum() for name in _MOVEMENTS),
            now.sum().alias("mrr_end"),
        )
        .with_columns(
            (
                nw.col("new")
                + nw.col("reactivation")
                + nw.col("expansion")
                - nw.col("contraction")
                - nw.col("churn")
            ).alias("net_change")
        )
        .sort(_M)
        .select("month", "mrr_start", *_MOVEMENTS, "net_change", "mrr_end")
    )
    return data.prep.finish(out, tz_columns=["month"])


def logo_churn(
    revenue: Any,
    *,
    entity: str = "account_id",
    timestamp: str = "month",
    value: str | None = "mrr",
    months: int = 1,
) -> Any:
    """Share of the accounts active at the start of a window that are gone at its end.

    For each month m with data ``months`` earlier: *start* = accounts active in month
    m − ``months``, *end* = accounts active in m.

    * ``churn_rate = churned / customers_start`` with ``churned`` = start accounts not active
      at the end; accounts that join inside the window are in neither number.
    * ``retention_rate = (customers_end − new) / customers_start = retained / customers_start``.

    NaN when ``customers_start`` is 0 (the core's one zero rule). ``value=None`` counts any
    row as activity.

    Returns
    -------
    The caller's frame type: ``month`` (end of the window), ``customers_start``,
    ``customers_end``, ``retained``, ``churned``, ``new``, ``churn_rate``, ``retention_rate``.

    Examples
    --------
    >>> import pandas as pd
    >>> revenue = pd.DataFrame({
    ...     "account_id": ["a", "b", "c", "a", "d"],
    ...     "month": pd.to_datetime(["2024-01-01"] * 3 + ["2024-02-01"] * 2),
    ...     "mrr": [10.0, 20.0, 30.0, 10.0, 5.0]})
    >>> logo_churn(revenue)[["month", "customers_start", "churned", "new", "churn_rate"]]
           month  customers_start  churned  new  churn_rate
    0 2024-02-01                3        2    1    0.666667
    """
    _check_months(months, where="logo_churn")
    data = _monthly(revenue, entity, timestamp, value, where="logo_churn")
    pairs = _pairs(data, months=months)
    start, end = nw.col("prev") > 0, nw.col("now") > 0
    out = (
        pairs.filter(nw.col(_M).is_between(data.first + months, data.last))
        .group_by(_M)
        .agg(
            nw.col(_S).min().alias("month"),
            start.cast(nw.Int64).sum().alias("customers_start"),
            end.cast(nw.Int64).sum().alias("customers_end"),
            (start & end).cast(nw.Int64).sum().alias("retained"),
        )
        .with_columns(
            (nw.col("customers_start") - nw.col("retained")).alias("churned"),
            (nw.col("customers_end") - nw.col("retained")).alias("new"),
        )
        .with_columns(
            ratio(nw.col("churned").cast(nw.Float64), nw.col("customers_start")).alias(
                "churn_rate"
            ),
            ratio(nw.col("retained").cast(nw.Float64), nw.col("customers_start")).alias(
                "retention_rate"
            ),
        )
        .sort(_M)
        .select(
            "month",
            *(
                nw.col(c).cast(nw.Int64)
                for c in ("customers_start", "customers_end", "retained", "churned", "new")
            ),
            "churn_rate",
            "retention_rate",
        )
    )
    return data.prep.finish(out, tz_columns=["month"])


def revenue_retention(
    revenue: Any,
    *,
    entity: str = "account_id",
    timestamp: str = "month",
    value: str = "mrr",
    months: int = 12,
) -> Any:
    """Net and gross revenue retention of the accounts active ``months`` before each month.

    Over the accounts with MRR > 0 in month m − ``months`` (the *start* accounts):

    * ``net_revenue_retention = Σ MRR_m / Σ MRR_start`` (expansion can lift it above 1);
    * ``gross_revenue_retention = Σ min(MRR_m, MRR_start) / Σ MRR_start`` (each account capped
      at its starting MRR, so at most 1).

    Accounts that join after the start are left out; a month without starting accounts has
    no row (so no ``Σ MRR_start`` is 0). The default window is a year (annual NRR);
    ``months=1`` gives month-over-month retention.

    Returns
    -------
    The caller's frame type: ``month`` (end of the window), ``customers_start``,
    ``mrr_start``, ``mrr_now``, ``mrr_now_capped``, ``net_revenue_retention``,
    ``gross_revenue_retention``; sorted by month.

    Examples
    --------
    >>> import pandas as pd
    >>> revenue = pd.DataFrame({
    ...     "account_id": ["a", "b", "a", "b", "c"],
    ...     "month": pd.to_datetime(["2024-01-01"] * 2 + ["2024-02-01"] * 3),
    ...     "mrr": [100.0, 100.0, 150.0, 60.0, 500.0]})
    >>> out = revenue_retention(revenue, months=1)
    >>> out[["month", "net_revenue_retention", "gross_revenue_retention"]]
           month  net_revenue_retention  gross_revenue_retention
    0 2024-02-01                   1.05                      0.8
    """
    _check_months(months, where="revenue_retention")
    data = _monthly(revenue, entity, timestamp, value, where="revenue_retention")
    now, start = nw.col("now"), nw.col("prev")
    out = (
        _pairs(data, months=months)
        .filter(nw.col(_M).is_between(data.first + months, data.last) & (start > 0))
        .group_by(_M)
        .agg(
            nw.col(_S).min().alias("month"),
            nw.len().cast(nw.Int64).alias("customers_start"),
            start.sum().alias("mrr_start"),
            now.sum().alias("mrr_now"),
            nw.min_horizontal(now, start).sum().alias("mrr_now_capped"),
        )
        .with_columns(
            ratio(nw.col("mrr_now"), nw.col("mrr_start")).alias("net_revenue_retention"),
            ratio(nw.col("mrr_now_capped"), nw.col("mrr_start")).alias("gross_revenue_retention"),
        )
        .sort(_M)
        .drop(_M)
    )
    return data.prep.finish(out, tz_columns=["month"])


# -- plumbing ---------------------------------------------------------------------------------


@dataclass
class _Monthly:
    prep: Prepared
    lf: nw.LazyFrame  # one row per (account, month): _e, _m (month index), _s (start), _v
    first: int  # month index of the first and last month of the data
    last: int


def _monthly(
    revenue: Any, entity: str, timestamp: str, value: str | None, *, where: str
) -> _Monthly:
    prep = prepare(revenue, name="revenue")
    wanted = [entity, timestamp, *([value] if value else [])]
    ts = datetime_column(prep, wanted, timestamp=timestamp, where=where, table="revenue")
    amount = nw.col(value).cast(nw.Float64).fill_null(0.0) if value else nw.lit(1.0)
    prep.lf = prep.lf.select(nw.col(entity), ts.alias(timestamp), amount.alias(_V))
    prep = drop_null_rows(prep, [entity, timestamp], name="revenue")
    lf = prep.lf.rename({entity: _E, timestamp: _T})
    lo, hi = time_range(lf, _T)
    monthly = (
        lf.with_columns(period_index(nw.col(_T), "M").alias(_M))
        .group_by(_E, _M)
        .agg(nw.col(_T).min().alias(_S), nw.col(_V).sum())
        .with_columns(period_start(nw.col(_S), "M"), nw.col(_V).clip(lower_bound=0.0))
    )
    if lo is None or hi is None:
        return _Monthly(prep, monthly, 0, -1)
    return _Monthly(prep, monthly, period_index_of(lo, "M"), period_index_of(hi, "M"))


def _pairs(data: _Monthly, *, months: int) -> nw.LazyFrame:
    """One row per (account, month m): ``now`` = its MRR in m, ``prev`` = in m − ``months``.

    The monthly table unioned with a copy moved ``months`` forward, then summed per key; an
    account present in only one of the two months gets 0 for the other.
    """
    now = data.lf.select(
        _E,
        _M,
        _S,
        nw.col(_V).alias("now"),
        nw.lit(0.0).alias("prev"),
    )
    moved = data.lf.select(
        _E,
        (nw.col(_M) + months).alias(_M),
        nw.col(_S).dt.offset_by(f"{months}mo"),
        nw.lit(0.0).alias("now"),
        nw.col(_V).alias("prev"),
    )
    return (
        nw.concat([now, moved], how="vertical")
        .group_by(_E, _M)
        .agg(nw.col(_S).min(), nw.col("now").sum(), nw.col("prev").sum())
    )


def _check_months(months: int, *, where: str) -> None:
    if not isinstance(months, int) or isinstance(months, bool) or months < 1:
        raise ValueError(f"{where}: months must be a whole number ≥ 1, found {months!r}")
