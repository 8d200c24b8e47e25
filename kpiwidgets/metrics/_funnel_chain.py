"""The per-entity step chain of one funnel definition, materialised once: the funnel session
(and the explorer on it) changes the window without rescanning the events.

Also the ``funnel_entities`` columns, shared by :func:`kw.funnel_entities` and the session.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.metrics._frames import Prepared, _connection
from kpiwidgets.metrics._funnel_plan import (
    FURTHEST,
    FunnelSpec,
    Steps,
    parse_window,
    setup,
    step_time,
)
from kpiwidgets.metrics._funnel_steps import apply_window, entity_chain
from kpiwidgets.metrics._funnel_table import funnel_table
from kpiwidgets.metrics.choices import Attempts, Order

__all__ = [
    "ORDER",
    "FunnelChain",
    "build_chain",
    "entities_frame",
    "entities_from_chain",
    "entity_columns",
    "funnel_from_chain",
]

ORDER = "__kw_order"
"""Column of a materialised chain: the rank by entity (and entry) that drill-downs sort by."""


def entity_columns(spec: FunnelSpec) -> list[str]:
    """Output names of the per-step timestamp columns: the step labels, made unique."""
    names: list[str] = []
    for k, label in enumerate(spec.labels, start=1):
        names.append(label if label not in names else f"{label} ({k})")
    return names


def entities_frame(
    per_entity: nw.LazyFrame, spec: FunnelSpec, furthest: int | None = None
) -> nw.LazyFrame:
    """The ``funnel_entities`` columns, sorted by entity; only the entities whose furthest step
    is ``furthest`` when given (filtered before sorting and converting)."""
    label: Any = nw.lit(None, dtype=nw.String)
    for k, text in enumerate(spec.labels, start=1):
        label = nw.when(nw.col(FURTHEST) == k).then(nw.lit(text)).otherwise(label)
    names = entity_columns(spec)
    if furthest is not None:
        per_entity = per_entity.filter(nw.col(FURTHEST) == furthest)
    # A materialised chain carries its rank by entity: sorting integers beats sorting ids.
    order = ORDER if ORDER in per_entity.collect_schema().names() else spec.entity
    return per_entity.sort(order).select(
        spec.entity,
        *spec.by,
        label.alias("furthest_step"),
        nw.col(FURTHEST).alias("furthest_step_number"),
        *(nw.col(step_time(k)).alias(names[k - 1]) for k in range(1, spec.n_steps + 1)),
    )


@dataclass(frozen=True)
class FunnelChain:
    """Per-entity step times of one funnel definition, materialised once.

    Valid for every window up to ``max_window`` (``None``: any window). Build it with
    :func:`build_chain`, then call :func:`funnel_from_chain` or
    :func:`entities_from_chain` per window.
    """

    prep: Prepared
    spec: FunnelSpec
    frame: nw.LazyFrame
    max_window: dt.timedelta | None


def build_chain(
    events: Any,
    steps: Steps,
    *,
    entity: str = "entity_id",
    event: str = "event",
    timestamp: str = "timestamp",
    order: Order = "ordered",
    attempts: Attempts = "first",
    by: str | Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    max_window: str | dt.timedelta | None = None,
) -> FunnelChain:
    """Scan the events once for :func:`funnel_from_chain` (any order, any attempts).

    Step times do not depend on the window (only thresholding does), so a chain computed with
    the widest horizon answers every narrower window exactly.
    """
    horizon = None if max_window is None else parse_window(max_window, name="max_window")
    prep, spec, lf = setup(
        events,
        steps,
        entity=entity,
        event=event,
        timestamp=timestamp,
        window=horizon if horizon is not None else "0s",
        order=order,
        attempts=attempts,
        by=by,
        start=start,
        end=end,
    )
    chain = entity_chain(lf, spec, horizon=horizon)
    if (
        prep.kind in ("pandas", "pyarrow", "polars", "polars-lazy")
        or chain.implementation.is_duckdb()
    ):
        # Materialise in memory (one row per entity or attempt) so later windows are cheap,
        # with the rank by entity (and entry) that drill-downs sort by.
        chain = chain.with_row_index(ORDER, order_by=[spec.entity, step_time(1)])
        table = chain.collect(backend="polars" if prep.kind.startswith("polars") else "pyarrow")
        if prep.kind.startswith("polars"):
            chain = table.lazy()
        else:
            chain = nw.from_native(_connection().from_arrow(table.to_native()))
    return FunnelChain(prep=prep, spec=spec, frame=chain, max_window=horizon)


def windowed(chain: FunnelChain, window: str | dt.timedelta) -> tuple[FunnelSpec, Any]:
    value = parse_window(window)
    if chain.max_window is not None and value > chain.max_window:
        raise ValueError(
            f"window: expected at most the chain's max_window {chain.max_window}, found {window!r}"
        )
    spec = FunnelSpec(**{**chain.spec.__dict__, "window": value})
    return spec, apply_window(chain.frame, spec, value)


def funnel_from_chain(chain: FunnelChain, window: str | dt.timedelta = "30D") -> Any:
    """``funnel(...)`` for the chain's definition and ``window``, without rescanning."""
    spec, per_entity = windowed(chain, window)
    table = funnel_table(per_entity, spec, [])
    return chain.prep.finish(table, duration_columns=["median_time_from_previous"])


def entities_from_chain(chain: FunnelChain, window: str | dt.timedelta = "30D") -> Any:
    """``funnel_entities(...)`` for the chain's definition and ``window``."""
    spec, per_entity = windowed(chain, window)
    return chain.prep.finish(entities_frame(per_entity, spec), tz_columns=entity_columns(spec))
