"""Calendar periods as narwhals expressions that every backend can run."""

from __future__ import annotations

import datetime

import narwhals.stable.v2 as nw

from kpiwidgets.metrics.choices import Period, check_choice, choices

__all__ = [
    "PERIODS",
    "check_period",
    "period_end",
    "period_index",
    "period_index_of",
    "period_start",
]

PERIODS = choices(Period)
_TRUNCATE = {"D": "1d", "M": "1mo", "Q": "1q", "Y": "1y"}


def check_period(period: str, *, where: str) -> None:
    check_choice(period, Period, name="period", where=where)


def period_start(expr: nw.Expr, period: str) -> nw.Expr:
    """Start of the calendar period holding ``expr``; weeks start on Monday.

    Narwhals has no portable week truncation (backends align "7d" buckets differently), so
    weeks step back from the day by its ISO weekday with constant offsets, which every
    backend supports.
    """
    if period != "W":
        return expr.dt.truncate(_TRUNCATE[period])
    day = expr.dt.truncate("1d")
    weekday = iso_weekday(expr)
    start = day
    for k in range(2, 8):
        start = nw.when(weekday == k).then(day.dt.offset_by(f"-{k - 1}d")).otherwise(start)
    return start


def period_end(start: nw.Expr, period: str) -> nw.Expr:
    """End (exclusive) of the calendar period starting at ``start``."""
    if period == "D":
        return start + datetime.timedelta(days=1)
    if period == "W":
        return start + datetime.timedelta(weeks=1)
    return start.dt.offset_by({"M": "1mo", "Q": "3mo", "Y": "1y"}[period])


def period_index(expr: nw.Expr, period: str) -> nw.Expr:
    """Integer number of the calendar period holding ``expr``; consecutive periods differ by 1.

    Built from ``year``/``month``/``ordinal_day``/``weekday`` and integer arithmetic only, so
    every backend evaluates it the same way. Days count like :meth:`datetime.date.toordinal`.
    """
    year = expr.dt.year().cast(nw.Int64)
    if period == "Y":
        return year
    month = expr.dt.month().cast(nw.Int64)
    if period == "M":
        return year * 12 + month - 1
    if period == "Q":
        return year * 4 + (month - 1) // 3
    y = year - 1
    day = y * 365 + y // 4 - y // 100 + y // 400 + expr.dt.ordinal_day().cast(nw.Int64)
    if period == "D":
        return day
    return (day - iso_weekday(expr)) // 7  # all Mondays of a week agree


def iso_weekday(expr: nw.Expr) -> nw.Expr:
    """1 = Monday ... 7 = Sunday on every engine (Int64).

    narwhals' ``dt.weekday`` gives Sunday as 0 on Spark (7 elsewhere); ``(w + 6) % 7 + 1``
    maps both 0 and 7 to 7 and leaves 1..6 as they are.
    """
    return (expr.dt.weekday().cast(nw.Int64) + 6) % 7 + 1


def period_index_of(moment: datetime.date, period: str) -> int:
    """:func:`period_index` of one Python date or datetime."""
    if period == "Y":
        return moment.year
    if period == "M":
        return moment.year * 12 + moment.month - 1
    if period == "Q":
        return moment.year * 4 + (moment.month - 1) // 3
    day = moment.toordinal()
    return day if period == "D" else (day - moment.isoweekday()) // 7
