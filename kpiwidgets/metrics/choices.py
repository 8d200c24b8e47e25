"""The vocabulary of choices: one ``Literal`` alias per kind of setting, used by the metric
signatures and by the widgets' trait choices alike, and one check with one message shape.

>>> from kpiwidgets.metrics.choices import Order, check_choice, choices
>>> choices(Order)
('ordered', 'strict', 'any')
>>> check_choice("bogus", Order, name="order", where="funnel")
Traceback (most recent call last):
...
ValueError: funnel: order must be one of 'ordered', 'strict', 'any', found 'bogus'
"""

from __future__ import annotations

from typing import Any, Literal, get_args

__all__ = [
    "Aggregate",
    "Attempts",
    "AverageMethod",
    "Curves",
    "Measure",
    "Order",
    "Period",
    "RetentionMode",
    "Show",
    "Submissions",
    "ValueAgg",
    "ZeroActuals",
    "check_choice",
    "choices",
]

Order = Literal["ordered", "strict", "any"]
"""Funnel order: steps in order with anything between, in order with nothing between, or
each step within the window in any order."""
Attempts = Literal["first", "best"]
"""Which entry of an entity counts: its first, or its best attempt."""
Period = Literal["D", "W", "M", "Q", "Y"]
"""Calendar periods: day, week (from Monday), month, quarter, year."""
RetentionMode = Literal["on", "on_or_after"]
"""Retained in period k: active in k, or active in k or any later period."""
ValueAgg = Literal["sum", "period_end"]
"""A period's value: the sum of its rows (flows), or its last snapshot (MRR)."""
AverageMethod = Literal["pooled", "simple"]
"""An average over cohorts: pooled (weighted by cohort size) or the mean of the rates."""
Measure = Literal["customers", "revenue"]
"""What a retention view measures: entities retained or value retention."""
Show = Literal["percent", "count"]
"""What a grid's cells print."""
Curves = Literal["cohort", "breakdown"]
"""One retention curve per cohort or per breakdown value."""

ZeroActuals = Literal["nan", "exclude", "raise"]
"""A forecast scored against an actual of 0: its ratio metrics are NaN (and counted), it is
left out, or it is an error."""
Aggregate = Literal["rollup", "pooled", "mean", "weighted"]
"""Forecast scores across owners: of the summed calls, over all owners' calls as one set, the
mean of the owners' scores, or their mean weighted by actual."""
Submissions = Literal["separate", "rep", "manager", "final"]
"""Which forecast calls are scored: rep calls and manager adjustments each on their own, only
one of them, or the call of record (the manager's where one adjusted it, else the rep's)."""


def choices(alias: Any) -> tuple[str, ...]:
    """The allowed values of a ``Literal`` alias, in their documented order."""
    return tuple(get_args(alias))


def check_choice(found: Any, alias: Any, *, name: str, where: str) -> Any:
    """Return ``found`` if it is one of ``alias``'s values, else raise the one message shape:
    ``"<where>: <name> must be one of 'a', 'b', found 'x'"``."""
    allowed = choices(alias)
    if found not in allowed:
        raise ValueError(
            f"{where}: {name} must be one of {', '.join(map(repr, allowed))}, found {found!r}"
        )
    return found
