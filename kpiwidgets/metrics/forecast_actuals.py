"""Actuals for forecasts: won amount per owner and close period, complete periods only."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.metrics._frames import (
    as_datetime,
    as_list,
    datetime_column,
    drop_null_rows,
    prepare,
    small_frame,
)
from kpiwidgets.metrics._periods import check_period, period_start
from kpiwidgets.metrics.choices import Period

__all__ = ["actuals_from_opportunities"]


def actuals_from_opportunities(
    opportunities: Any,
    period: Period = "Q",
    by: str | Sequence[str] = ("owner",),
    *,
    as_of: Any = None,
) -> Any:
    """Won amount per close period (and ``by``): the actuals forecasts are scored against.

    A deal counts in the period holding its ``closed_at`` when its ``status`` is ``"won"``.
    Every ``by`` group that has any opportunity gets a row for every period from the first
    to the last complete one, 0 where it won nothing (an owner who called a quarter and
    closed nothing is a miss, not a gap). A period is complete when it ends on or before
    ``as_of``; the current, unfinished period is left out, because scoring calls against
    half a quarter's wins would show everyone over-forecasting. ``as_of`` defaults to the end
    of the day of the latest ``created_at`` or ``closed_at`` in the table (an export holds
    the whole day it was taken on).

    Returns
    -------
    ``by``…, ``period`` (period start), ``amount`` (won), ``deals`` (won deals); sorted.
    Deals with a null status, amount or close date among the won ones are left out and
    counted.

    Examples
    --------
    >>> import kpiwidgets as kw
    >>> actuals = kw.actuals_from_opportunities(kw.load_demo(n_leads=2_000).opportunities)
    >>> list(actuals.columns), str(actuals["period"].max().date())
    (['owner', 'period', 'amount', 'deals'], '2025-10-01')
    """
    where = "actuals_from_opportunities"
    check_period(period, where=where)
    keys = as_list(by)
    prep = prepare(opportunities, name="opportunities")
    closed = datetime_column(
        prep,
        ["status", "amount", "closed_at", "created_at", *keys],
        timestamp="closed_at",
        where=where,
        table="opportunities",
    )
    created = datetime_column(
        prep, ["created_at"], timestamp="created_at", where=where, table="opportunities"
    )
    lf = prep.lf.with_columns(closed.alias("__kw_closed"), created.alias("__kw_created"))
    bounds = lf.select(
        nw.max_horizontal(nw.col("__kw_closed").max(), nw.col("__kw_created").max()).alias("hi"),
        nw.col("__kw_closed").min().alias("lo"),
    ).collect()
    if as_of is None:
        latest = bounds["hi"][0]
        if latest is None:
            raise ValueError(f"{where}: opportunities has no created_at or closed_at values")
        latest = _dt.datetime.combine(latest.date(), _dt.time())
        cutoff = latest + _dt.timedelta(days=1)
    else:
        cutoff = as_datetime(as_of)
    # every group with any opportunity, won or not, gets a row per period
    groups = lf.select(*keys).drop_nulls().unique() if keys else None
    lf = lf.filter(nw.col("status") == "won")
    prep.lf = lf
    prep = drop_null_rows(prep, ["__kw_closed", "amount", *keys], name="opportunities (won)")
    won = prep.lf.with_columns(period_start(nw.col("__kw_closed"), period).alias("period"))
    grid = _period_grid(bounds["lo"][0], cutoff, period)
    # Complete periods only: the grid's (the period holding the cutoff is unfinished).
    won = won.filter(nw.col("period") <= grid[-1]) if grid else won.head(0)
    sums = won.group_by(*keys, "period").agg(
        nw.col("amount").cast(nw.Float64).sum(), nw.len().cast(nw.Int64).alias("deals")
    )
    if not grid:
        return prep.finish(sums.sort(*keys, "period"), tz_columns=["period"])
    full = small_frame({"period": grid}, sums)
    if groups is not None:
        present = groups.collect(backend="pyarrow").to_dict(as_series=False)
        full = small_frame(present, sums).join(full, how="cross")
    out = full.join(sums, on=[*keys, "period"], how="left").with_columns(
        nw.col("amount").fill_null(0.0), nw.col("deals").fill_null(0).cast(nw.Int64)
    )
    return prep.finish(out.sort(*keys, "period"), tz_columns=["period"])


def _period_grid(first: Any, cutoff: _dt.datetime, period: str) -> list[_dt.datetime]:
    """Starts of the complete periods from the one holding ``first`` up to ``cutoff``."""
    if first is None:
        return []
    import pandas as pd

    freq = {"D": "D", "W": "W-MON", "M": "MS", "Q": "QS", "Y": "YS"}[period]
    lo = pd.Timestamp(first).to_period(
        {"D": "D", "W": "W-SUN", "M": "M", "Q": "Q", "Y": "Y"}[period]
    )
    starts = pd.date_range(lo.start_time, cutoff, freq=freq)
    step = {"D": "1D", "W": "7D"}.get(period)
    ends = starts + (pd.Timedelta(step) if step else pd.tseries.frequencies.to_offset(freq))
    return [s.to_pydatetime() for s, e in zip(starts, ends, strict=True) if e <= cutoff]
