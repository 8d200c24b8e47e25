"""Calendar periods as narwhals expressions that every backend can run."""

from __future__ import annotations

import narwhals.stable.v2 as nw

__all__ = ["PERIODS", "check_period", "period_start"]

PERIODS = ("D", "W", "M", "Q", "Y")
_TRUNCATE = {"D": "1d", "M": "1mo", "Q": "1q", "Y": "1y"}


def check_period(period: str, *, where: str) -> None:
    if period not in PERIODS:
        raise ValueError(f"{where}: period must be one of {', '.join(PERIODS)}, found {period!r}")


def period_start(expr: nw.Expr, period: str) -> nw.Expr:
    """Start of the calendar period holding ``expr``; weeks start on Monday.

    Narwhals has no portable week truncation (backends align "7d" buckets differently), so
    weeks step back from the day by its ISO weekday with constant offsets, which every
    backend supports.
    """
    if period != "W":
        return expr.dt.truncate(_TRUNCATE[period])
    day = expr.dt.truncate("1d")
    weekday = expr.dt.weekday()  # 1 = Monday ... 7 = Sunday
    start = day
    for k in range(2, 8):
        start = nw.when(weekday == k).then(day.dt.offset_by(f"-{k - 1}d")).otherwise(start)
    return start
