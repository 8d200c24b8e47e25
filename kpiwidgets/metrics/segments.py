"""Segment comparison: each breakdown segment's final conversion against the rest."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.metrics._funnel_plan import Steps, step_time
from kpiwidgets.metrics._funnel_steps import per_entity_steps
from kpiwidgets.metrics._funnel_table import label_breakdown, unlabel
from kpiwidgets.metrics._stats import fisher_exact_p_value, two_proportion_p_value
from kpiwidgets.metrics.choices import Attempts, Order

SMALL_SAMPLE = 30
"""Segments with fewer entered entities than this are flagged ``small_sample``."""
MIN_EXPECTED = 5
"""Below this expected cell count the z-test is unreliable and Fisher's exact test is used."""


def segment_comparison(
    events: Any,
    steps: Steps,
    *,
    by: str | Sequence[str],
    entity: str = "entity_id",
    event: str = "event",
    timestamp: str = "timestamp",
    window: str | dt.timedelta = "30D",
    order: Order = "ordered",
    attempts: Attempts = "first",
    start: Any = None,
    end: Any = None,
) -> Any:
    """Compare each segment's final conversion with the rest of the entities.

    Same parameters and semantics as :func:`kpiwidgets.funnel` (``by`` is required). Final
    conversion = entities that reached the last step / entities that entered.

    For each segment the 2×2 table (segment vs rest) × (converted vs not) is tested: with every
    expected count ≥ 5, the pooled two-proportion z-test,
    z = (p_seg − p_rest) / sqrt(p(1−p)(1/n_seg + 1/n_rest)), p-value = 2(1 − Φ(|z|));
    otherwise Fisher's exact test (two-sided). The p-values are not corrected for multiple
    comparisons.

    Returns
    -------
    frame of the caller's type
        One row per segment (breakdown values as text; entities with no value form the
        segment whose value is null): ``entities``,
        ``converted``, ``conversion``, ``rest_entities``, ``rest_converted``,
        ``rest_conversion``, ``difference`` (conversion − rest_conversion), ``test``
        (``"z"`` or ``"fisher"``), ``p_value`` and ``small_sample`` (entities < 30).
        Conversions with a zero denominator and the p-value of a segment without a rest
        (a single segment) are NaN.

    Examples
    --------
    >>> import pandas as pd
    >>> import kpiwidgets as kw
    >>> from kpiwidgets.metrics.funnel import segment_comparison
    >>> events = pd.DataFrame({
    ...     "entity_id": [1, 1, 2, 2, 3, 4],
    ...     "event": ["lead", "won", "lead", "won", "lead", "lead"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"] * 2 + ["2024-01-01"] * 2),
    ...     "channel": ["ads", "ads", "ads", "ads", "seo", "seo"],
    ... })
    >>> out = segment_comparison(events, ["lead", "won"], by="channel")
    >>> out[["channel", "entities", "conversion", "rest_conversion", "test", "p_value"]]
      channel  entities  conversion  rest_conversion    test  p_value
    0     ads         2         1.0              0.0  fisher 0.333333
    1     seo         2         0.0              1.0  fisher 0.333333
    """
    if by is None or (not isinstance(by, str) and len(by) == 0):
        raise ValueError("by: expected the column(s) whose segments to compare, found None")
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
    by_cols = list(spec.by)
    last = nw.col(step_time(spec.n_steps)).is_null().__invert__().cast(nw.Int64)
    rows = (
        label_breakdown(per_entity, spec.by)
        .group_by(*by_cols)
        .agg(nw.len().cast(nw.Int64).alias("n"), last.sum().cast(nw.Int64).alias("x"))
        .collect()
        .rows(named=True)
    )
    # In order of the breakdown values, the segment of entities with no value last.
    rows.sort(key=lambda r: tuple((unlabel(r[c]) is None, unlabel(r[c]) or "") for c in by_cols))
    total_n = sum(int(r["n"]) for r in rows)
    total_x = sum(int(r["x"]) for r in rows)
    names = [*by_cols, "entities", "converted", "conversion", "rest_entities"]
    names += ["rest_converted", "rest_conversion", "difference", "test", "p_value"]
    data: dict[str, list[Any]] = {c: [] for c in [*names, "small_sample"]}
    for r in rows:
        n, x = int(r["n"]), int(r["x"])
        rn, rx = total_n - n, total_x - x
        test, p = _test(x, n, rx, rn)
        conv, rest = _rate(x, n), _rate(rx, rn)
        values = [*(unlabel(r[c]) for c in by_cols), n, x, conv, rn, rx, rest, conv - rest]
        values += [test, p]
        for c, v in zip(names, values, strict=True):
            data[c].append(v)
        data["small_sample"].append(n < SMALL_SAMPLE)
    return prep.from_dict(data)


def _rate(x: int, n: int) -> float:
    return x / n if n else math.nan


def _test(x1: int, n1: int, x2: int, n2: int) -> tuple[str, float]:
    if n1 == 0 or n2 == 0:
        return "z", math.nan
    total, converted = n1 + n2, x1 + x2
    expected = [n * k / total for n in (n1, n2) for k in (converted, total - converted)]
    if min(expected) < MIN_EXPECTED:
        return "fisher", fisher_exact_p_value(x1, n1 - x1, x2, n2 - x2)
    return "z", two_proportion_p_value(x1, n1, x2, n2)
