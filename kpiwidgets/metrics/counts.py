"""Counting rows per calendar period: the simplest KPI shape, and the overview app's chart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.metrics._frames import drop_null_rows, prepare
from kpiwidgets.metrics._periods import check_period, period_start
from kpiwidgets.metrics.choices import Period

__all__ = ["count_by_period"]


def count_by_period(
    frame: Any,
    *,
    timestamp: str,
    period: Period = "M",
    by: str | Sequence[str] | None = None,
) -> Any:
    """Rows per calendar period (and per ``by`` value).

    ``period`` is ``"D"``, ``"W"`` (weeks start Monday), ``"M"``, ``"Q"`` or ``"Y"``; the
    ``period`` column holds the period's start. Rows with a null ``timestamp`` are left out and
    counted (a ``DroppedRowsWarning``). Output columns: ``period``, the ``by`` columns,
    ``count``; sorted by period then ``by``. Periods with no rows are absent (not zero).

    Examples
    --------
    >>> import pandas as pd
    >>> leads = pd.DataFrame({
    ...     "created_at": pd.to_datetime(["2024-01-03", "2024-01-30", "2024-02-01"]),
    ...     "channel": ["web", "events", "web"]})
    >>> count_by_period(leads, timestamp="created_at")
          period  count
    0 2024-01-01      2
    1 2024-02-01      1
    """
    check_period(period, where="count_by_period")
    keys = [by] if isinstance(by, str) else list(by or [])
    prep = drop_null_rows(prepare(frame, name="count_by_period"), [timestamp])
    result = (
        prep.lf.with_columns(period_start(nw.col(timestamp), period).alias("period"))
        .group_by("period", *keys)
        .agg(nw.len().alias("count"))
        .with_columns(nw.col("count").cast(nw.Int64))
        .sort("period", *keys)
    )
    return prep.finish(result, tz_columns=["period"])
