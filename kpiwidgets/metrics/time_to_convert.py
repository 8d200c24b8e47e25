"""Time to convert between two funnel steps: per-entity durations, summary, histogram."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.metrics._engines import microseconds_between
from kpiwidgets.metrics._funnel_plan import FunnelSpec, Steps, step_time
from kpiwidgets.metrics._funnel_steps import per_entity_steps
from kpiwidgets.metrics._funnel_table import (
    FLAG,
    OVERALL,
    label_breakdown,
    sort_groups,
    unlabel,
    with_total_copy,
)
from kpiwidgets.metrics.choices import Attempts, Order

_US = "duration_us"
_SUMMARY = {"mean": None, "median": 0.5, "p25": 0.25, "p75": 0.75, "p90": 0.9}


@dataclass(frozen=True)
class TimeToConvert:
    """Result of :func:`time_to_convert`; every frame is of the caller's type.

    Attributes
    ----------
    durations:
        One row per entity that reached both steps: the entity column, the ``by`` columns,
        ``from_time``, ``to_time`` and ``duration`` (to_time − from_time).
    summary:
        One row per breakdown group (a single row without ``by``; with it the overall row
        comes first, marked by the boolean ``overall`` column, its ``by`` values null):
        ``entities``, ``mean``, ``median``, ``p25``, ``p75``, ``p90`` (durations; null when no
        entity converted). Quantiles interpolate linearly between order statistics.
    bins:
        Histogram: one row per (group, bin): ``bin`` (0-based), ``bin_start``, ``bin_end``
        (durations) and ``entities``. ``clamp(ceil(cbrt(n)), 1, 60)`` equal-width bins over
        [min, max] of all n durations, shared by every group; each bin holds
        ``[bin_start, bin_end)`` except the last, which includes ``bin_end``. Empty bins are
        listed with 0; no rows when nobody converted.
    """

    durations: Any
    summary: Any
    bins: Any


def _step_number(value: Any, spec: FunnelSpec, name: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= spec.n_steps:
        return value
    if isinstance(value, str) and value in spec.labels:
        return spec.labels.index(value) + 1
    raise ValueError(
        f"{name}: expected a step number 1..{spec.n_steps} or one of the step names "
        f"{list(spec.labels)}, found {value!r}"
    )


def time_to_convert(
    events: Any,
    steps: Steps,
    *,
    entity: str = "entity_id",
    event: str = "event",
    timestamp: str = "timestamp",
    window: str | dt.timedelta = "30D",
    order: Order = "ordered",
    attempts: Attempts = "first",
    by: str | Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    from_step: int | str | None = None,
    to_step: int | str | None = None,
) -> TimeToConvert:
    """How long entities took from one funnel step to another.

    Same parameters and semantics as :func:`kpiwidgets.funnel`, plus ``from_step`` and
    ``to_step`` (a step number, 1-based, or a step name as shown in ``funnel``'s ``step``
    column; default: the first and the last step; ``from_step`` must come before ``to_step``).
    Only entities that reached both steps within the window count; the duration is
    t(to_step) − t(from_step) of the counted attempt.

    Returns
    -------
    TimeToConvert
        ``durations`` (per entity), ``summary`` (mean, median, p25, p75, p90) and ``bins``
        (histogram), see :class:`TimeToConvert`.

    Examples
    --------
    >>> import pandas as pd
    >>> import kpiwidgets as kw
    >>> events = pd.DataFrame({
    ...     "entity_id": [1, 1, 2, 2, 3],
    ...     "event": ["lead", "won", "lead", "won", "lead"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01",
    ...                                  "2024-01-05", "2024-01-01"]),
    ... })
    >>> ttc = kw.time_to_convert(events, ["lead", "won"])
    >>> ttc.summary[["entities", "median", "p90"]]
       entities          median               p90
    0         2 2 days 12:00:00 3 days 16:48:00
    >>> ttc.bins[["bin_start", "bin_end", "entities"]]
            bin_start         bin_end  entities
    0 1 days 00:00:00 2 days 12:00:00         1
    1 2 days 12:00:00 4 days 00:00:00         1
    """
    prep, spec, per_entity = per_entity_steps(
        events,
        steps,
        entity=entity,
        event=event,
        timestamp=timestamp,
        window=window,
        order=order,
        attempts=attempts,
        by=by,
        start=start,
        end=end,
    )
    a = _step_number(from_step, spec, "from_step", 1)
    b = _step_number(to_step, spec, "to_step", spec.n_steps)
    if a >= b:
        raise ValueError(
            f"from_step/to_step: expected from_step before to_step, found steps {a} and {b}"
        )
    ta, tb = nw.col(step_time(a)), nw.col(step_time(b))
    durations = per_entity.filter(ta.is_null().__invert__() & tb.is_null().__invert__()).select(
        spec.entity,
        *spec.by,
        ta.alias("from_time"),
        tb.alias("to_time"),
        microseconds_between(per_entity, step_time(b), step_time(a)).alias(_US),
    )
    durations_out = durations.with_columns(nw.col(_US).alias("duration")).drop(_US)
    durations_out = durations_out.sort(spec.entity)

    by_cols = list(spec.by)
    grouped = durations.select(*by_cols, _US)
    if by_cols:
        grouped = with_total_copy(label_breakdown(grouped, spec.by), spec.by)
    value = nw.col(_US).cast(nw.Float64)
    aggs = [nw.len().cast(nw.Int64).alias("entities"), value.mean().alias("mean")]
    aggs += [value.quantile(q, interpolation="linear").alias(k) for k, q in _SUMMARY.items() if q]
    keys = [*by_cols, FLAG]
    summary = grouped.group_by(*keys).agg(*aggs) if by_cols else grouped.select(*aggs)
    summary = sort_groups(summary, by_cols, []) if by_cols else summary
    summary = summary.select(*by_cols, *([OVERALL] if by_cols else []), "entities", *_SUMMARY)

    return TimeToConvert(
        durations=prep.finish(
            durations_out, tz_columns=["from_time", "to_time"], duration_columns=["duration"]
        ),
        summary=prep.finish(summary, duration_columns=list(_SUMMARY)),
        bins=_histogram(prep, grouped, by_cols),
    )


def _histogram(prep: Any, grouped: nw.LazyFrame, by_cols: list[str]) -> Any:
    """Equal-width bins computed from the overall min, max and count (a small collect)."""
    overall = grouped.filter(nw.col(FLAG)) if by_cols else grouped
    keys = [*by_cols, FLAG] if by_cols else []
    stats = overall.select(
        nw.len().alias("n"), nw.col(_US).min().alias("lo"), nw.col(_US).max().alias("hi")
    ).collect()
    n, lo, hi = (stats[c][0] for c in ("n", "lo", "hi"))
    out_keys = [*by_cols, OVERALL] if by_cols else []
    data: dict[str, list[Any]] = {c: [] for c in [*out_keys, "bin", "bin_start", "bin_end"]}
    data["entities"] = []
    if not n:
        return prep.from_dict(data)
    lo, hi = int(lo), int(hi)
    n_bins = min(max(math.ceil(round(n ** (1 / 3), 9)), 1), 60)
    width = (hi - lo) / n_bins
    if width == 0:
        n_bins, index = 1, nw.lit(0)
    else:
        index = ((nw.col(_US) - lo).cast(nw.Float64) / width).floor().cast(nw.Int64)
        index = nw.when(index >= n_bins).then(nw.lit(n_bins - 1)).otherwise(index)
    counts = (
        grouped.with_columns(index.cast(nw.Int64).alias("bin"))
        .group_by(*keys, "bin")
        .agg(nw.len().alias("entities"))
        .collect()
        .rows(named=True)
    )
    found = {(*(r[c] for c in keys), r["bin"]): int(r["entities"]) for r in counts}
    # Overall first, then the breakdown values in order, a null value last.
    groups = sorted(
        {key[:-1] for key in found},
        key=lambda g: (
            (not g[-1], *((unlabel(v) is None, unlabel(v) or "") for v in g[:-1])) if g else ()
        ),
    )
    edges = [lo + width * i for i in range(n_bins)] + [hi]
    for group in groups:
        for i in range(n_bins):
            if by_cols:
                for c, v in zip(by_cols, group, strict=False):
                    data[c].append(None if group[-1] else unlabel(v))
                data[OVERALL].append(bool(group[-1]))
            data["bin"].append(i)
            data["bin_start"].append(dt.timedelta(microseconds=round(edges[i])))
            data["bin_end"].append(dt.timedelta(microseconds=round(edges[i + 1])))
            data["entities"].append(found.get((*group, i), 0))
    return prep.from_dict(data)
