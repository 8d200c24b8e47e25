"""A funnel session: the headless twin of the FunnelExplorer widget.

It answers ``funnel``/``funnel_entities`` for one event log under changing settings, scanning
the events only when a setting changes what each entity's step times are (steps, order,
attempts, entry range). The window and the breakdown are applied to the cached per-entity
chain: step times do not depend on the window (it only thresholds them), and the chain
carries every breakdown column's entry value, so switching the breakdown regroups the chain.
Results equal the public functions' for the same settings (the tests check it).

A lazy event log (a DuckDB relation, a polars LazyFrame) is never collected: the scans are
aggregates on its engine, and the chain (one row per entity, or attempt) is what is kept.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.metrics._funnel_chain import (
    ORDER,
    FunnelChain,
    build_chain,
    entities_frame,
    entity_columns,
)
from kpiwidgets.metrics._funnel_plan import FURTHEST, FunnelSpec, parse_window, step_time
from kpiwidgets.metrics._funnel_steps import apply_window
from kpiwidgets.metrics._funnel_table import funnel_table
from kpiwidgets.metrics.choices import Attempts, Order, Period
from kpiwidgets.metrics.funnel import funnel_trend
from kpiwidgets.metrics.segments import segment_comparison
from kpiwidgets.metrics.time_to_convert import TimeToConvert, time_to_convert

__all__ = ["FunnelSession"]

_CACHE_SIZE = 4


class FunnelSession:
    """Cached funnel computations over one event log.

    Parameters
    ----------
    events:
        Event log, any narwhals-supported frame.
    entity, event, timestamp:
        Column names.
    breakdowns:
        Columns a breakdown may use; their entry-event values ride along in the cached chain.
        Default: every text column besides entity, event and timestamp.
    """

    def __init__(
        self,
        events: Any,
        *,
        entity: str = "entity_id",
        event: str = "event",
        timestamp: str = "timestamp",
        breakdowns: list[str] | None = None,
    ) -> None:
        self.events = events
        self.columns = {"entity": entity, "event": event, "timestamp": timestamp}
        if breakdowns is None:
            schema = nw.from_native(events).collect_schema()
            breakdowns = [
                c
                for c, dtype in schema.items()
                if c not in self.columns.values() and dtype in (nw.String, nw.Categorical)
            ]
        self.breakdowns = list(breakdowns)
        self._chains: OrderedDict[tuple, FunnelChain] = OrderedDict()
        self._memo: OrderedDict[tuple, Any] = OrderedDict()

    # -- the fast path -------------------------------------------------------------------------
    def chain(
        self,
        steps: list[Any],
        *,
        order: Order = "ordered",
        attempts: Attempts = "first",
        start: Any = None,
        end: Any = None,
    ) -> FunnelChain:
        """The per-entity step chain for these settings (scans the events on a cache miss)."""
        key = (_freeze(steps), order, attempts, _freeze(start), _freeze(end))
        if key in self._chains:
            self._chains.move_to_end(key)
            return self._chains[key]
        chain = build_chain(
            self.events,
            steps,
            **self.columns,
            order=order,
            attempts=attempts,
            by=self.breakdowns or None,
            start=start,
            end=end,
        )
        self._chains[key] = chain
        while len(self._chains) > _CACHE_SIZE:
            self._chains.popitem(last=False)
        return chain

    def _per_entity(
        self, steps: list[Any], window: Any, by: str | None, **scan: Any
    ) -> tuple[FunnelChain, FunnelSpec, nw.LazyFrame]:
        if by is not None and by not in self.breakdowns:
            raise ValueError(
                f"by: expected one of the breakdown columns {self.breakdowns}, found {by!r}"
            )
        chain = self.chain(steps, **scan)
        value = parse_window(window)
        spec = dataclasses.replace(chain.spec, window=value, by=(by,) if by else ())
        times = [step_time(k) for k in range(1, spec.n_steps + 1)]
        order = [c for c in (ORDER,) if c in chain.frame.collect_schema().names()]
        frame = chain.frame.select(spec.entity, *spec.by, *times, *order)
        return chain, spec, apply_window(frame, spec, value)

    def funnel(
        self, steps: list[Any], *, window: Any = "30D", by: str | None = None, **scan: Any
    ) -> Any:
        """Same as ``kw.funnel(events, steps, window=..., by=..., **scan)``."""
        key = ("funnel", _freeze(steps), str(window), by, _freeze(scan))
        return self._remember(key, lambda: self._funnel(steps, window, by, scan))

    def _funnel(self, steps: list[Any], window: Any, by: str | None, scan: dict) -> Any:
        chain, spec, per_entity = self._per_entity(steps, window, by, **scan)
        table = funnel_table(per_entity, spec, [])
        return chain.prep.finish(table, duration_columns=["median_time_from_previous"])

    def entities(
        self,
        steps: list[Any],
        *,
        window: Any = "30D",
        by: str | None = None,
        furthest: int | None = None,
        limit: int | None = None,
        **scan: Any,
    ) -> Any:
        """Same as ``kw.funnel_entities(events, steps, window=..., by=..., **scan)``.

        ``furthest``: only the entities whose furthest step number is this (the drill-down
        list), filtered in the engine before converting. ``limit``: only the first rows (by
        entity), cut in the engine too.
        """
        key = ("entities", _freeze(steps), str(window), by, furthest, limit, _freeze(scan))
        return self._remember(key, lambda: self._entities(steps, window, by, furthest, limit, scan))

    def _entities(
        self,
        steps: list[Any],
        window: Any,
        by: str | None,
        furthest: int | None,
        limit: int | None,
        scan: dict,
    ) -> Any:
        chain, spec, per_entity = self._per_entity(steps, window, by, **scan)
        frame = entities_frame(per_entity, spec, furthest)
        if limit is not None:
            frame = frame.head(limit)
        return chain.prep.finish(frame, tz_columns=entity_columns(spec))

    def count(
        self,
        steps: list[Any],
        *,
        window: Any = "30D",
        by: str | None = None,
        furthest: int | None = None,
        **scan: Any,
    ) -> int:
        """The number of rows :meth:`entities` would return (``furthest``: only the entities
        whose furthest step number is this), counted in the engine on the cached chain: a
        drill-down shows a count and its first rows without converting the whole list."""
        key = ("count", _freeze(steps), str(window), by, furthest, _freeze(scan))
        return self._remember(key, lambda: self._count(steps, window, by, furthest, scan))

    def _count(
        self, steps: list[Any], window: Any, by: str | None, furthest: int | None, scan: dict
    ) -> int:
        _, _, per_entity = self._per_entity(steps, window, by, **scan)
        if furthest is not None:
            per_entity = per_entity.filter(nw.col(FURTHEST) == furthest)
        return int(per_entity.select(nw.len().alias("n")).collect()["n"][0])

    # -- the other views (a scan each, remembered) -------------------------------------------
    def trend(self, steps: list[Any], *, freq: Period = "W", **settings: Any) -> Any:
        """Same as ``kw.funnel_trend(events, steps, freq=..., **settings)``."""
        key = ("trend", _freeze(steps), freq, _freeze(settings))
        return self._remember(
            key, lambda: funnel_trend(self.events, steps, **self.columns, freq=freq, **settings)
        )

    def time_to_convert(self, steps: list[Any], **settings: Any) -> TimeToConvert:
        """Same as ``kw.time_to_convert(events, steps, **settings)``."""
        key = ("ttc", _freeze(steps), _freeze(settings))
        return self._remember(
            key, lambda: time_to_convert(self.events, steps, **self.columns, **settings)
        )

    def segments(self, steps: list[Any], *, by: str, **settings: Any) -> Any:
        """Same as ``kw.segment_comparison(events, steps, by=..., **settings)``."""
        key = ("segments", _freeze(steps), by, _freeze(settings))
        return self._remember(
            key,
            lambda: segment_comparison(self.events, steps, **self.columns, by=by, **settings),
        )

    def _remember(self, key: tuple, compute: Any) -> Any:
        if key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key]
        value = compute()
        self._memo[key] = value
        while len(self._memo) > 4 * _CACHE_SIZE:
            self._memo.popitem(last=False)
        return value


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return str(value) if value is not None else None
