"""The KPI catalog: ``kw.kpi``, ``kw.kpi_table`` and ``kw.kpi_catalog`` (docs/kpis.md).

Every KPI is one registry entry and one small function in a domain module (marketing, sales,
pipeline, customers, plans); the scorecard widget, the docs and the tests all read the same
registry.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import narwhals.stable.v2 as nw
import pandas as pd

from kpiwidgets.metrics._engines import collect_pandas
from kpiwidgets.metrics._frames import as_datetime, as_list
from kpiwidgets.metrics.kpis import (  # noqa: F401 - importing registers the KPIs
    customers,
    marketing,
    pipeline,
    plans,
    sales,
)
from kpiwidgets.metrics.kpis._base import (
    KPI,
    REGISTRY,
    MissingTable,
    P,
    Query,
    check_period_arg,
)

__all__ = ["KPI", "MissingTable", "kpi", "kpi_catalog", "kpi_table"]

_OUTPUT = ("value", "numerator", "denominator", "n")


def kpi_catalog() -> pd.DataFrame:
    """One row per KPI: ``name``, ``label``, ``group``, ``formula``, ``unit``, ``better``,
    ``tables``, ``period_by``, ``by`` (the breakdowns it allows), ``default_by`` and
    ``options`` (name → (default, meaning)).

    >>> catalog = kpi_catalog()
    >>> catalog.set_index("name").loc["cost_per_lead", ["unit", "better"]].tolist()
    ['currency', 'lower']
    """
    rows = [
        {
            "name": k.name,
            "label": k.label,
            "group": k.group,
            "formula": k.formula,
            "unit": k.unit,
            "better": k.better,
            "tables": list(k.tables),
            "period_by": k.period_by,
            "by": list(k.by),
            "default_by": k.default_by,
            "options": dict(k.options),
            "needs_period": k.needs_period,
            "headline": k.headline,
        }
        for k in REGISTRY.values()
    ]
    return pd.DataFrame(rows)


def entry(name: str) -> KPI:
    """The registry entry ``name``; an unknown name lists the close matches."""
    found = REGISTRY.get(name)
    if found is None:
        close = difflib.get_close_matches(str(name), list(REGISTRY), n=4, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"unknown KPI {name!r}{hint} (kw.kpi_catalog() lists all {len(REGISTRY)})")
    return found


def kpi(
    name: str,
    data: Any,
    *,
    by: str | Sequence[str] | None = None,
    period: str | None = None,
    start: Any = None,
    end: Any = None,
    **options: Any,
) -> Any:
    """Compute the KPI ``name`` of the catalog from ``data`` (a :class:`kw.Dataset` or a
    mapping of table name → frame).

    Parameters
    ----------
    by
        Breakdown column(s) the KPI allows (its catalog entry's ``by``), e.g. ``"channel"``.
    period
        ``"M"``, ``"Q"``, ``"Y"`` (calendar periods; the ``period`` column holds each one's
        start) or None (the whole range).
    start, end
        Keep the rows whose period timestamp is in [start, end).
    **options
        The KPI's options (its catalog entry lists them with their defaults).

    Returns
    -------
    The caller's frame type: ``period`` (when asked), the ``by`` columns, ``value``,
    ``numerator`` and ``denominator`` (for ratios), ``n`` (rows behind the value); sorted. A
    ratio with a zero denominator is NaN. On pandas, ``result.attrs["dropped_rows"]`` counts
    rows left out (e.g. negative durations).

    Examples
    --------
    >>> import kpiwidgets as kw
    >>> ds = kw.load_demo(n_leads=2_000)
    >>> kw.kpi("leads", ds, period="Y")["value"].tolist()
    [905.0, 1095.0]
    """
    tables = options.pop("_tables", None)
    query, result = _compute(entry(name), data, by, period, start, end, options, tables or {})
    return _finish(query, result)


def _compute(
    k: KPI,
    data: Any,
    by: Any,
    period: str | None,
    start: Any,
    end: Any,
    options: dict[str, Any],
    tables: dict,
) -> tuple[Query, nw.LazyFrame]:
    where = f"kpi {k.name!r}"
    check_period_arg(period, where)
    if k.needs_period and period is None:
        raise ValueError(f"{where} compares periods: pass period='M', 'Q' or 'Y'")
    keys = as_list(by) if by is not None else ([k.default_by] if k.default_by else [])
    wrong = [b for b in keys if b not in k.by]
    if wrong:
        allowed = ", ".join(k.by) if k.by else "no breakdown"
        raise ValueError(f"{where}: by {wrong} is not a breakdown it allows ({allowed})")
    unknown = sorted(set(options) - set(k.options))
    if unknown:
        allowed = ", ".join(k.options) if k.options else "none"
        raise TypeError(f"{where}: unknown option(s) {unknown}; its options: {allowed}")
    q = Query(
        kpi=k,
        data=data,
        period=period,
        start=as_datetime(start),
        end=as_datetime(end),
        by=keys,
        options=dict(options),
        tables=tables,
    )
    out = k.func(q)
    names = out.collect_schema().names()
    order = [c for c in (*q.keys, *_OUTPUT) if c in names]
    out = out.select(*order)
    if q.keys:
        out = out.sort(*q.keys, nulls_last=True)
    if q.period:
        out = out.rename({P: "period"})
    return q, out


def _finish(q: Query, out: nw.LazyFrame) -> Any:
    prep = q.driver
    prep.dropped = dict(q.dropped)
    return prep.finish(out, tz_columns=["period"])


def kpi_table(
    data: Any,
    names: Sequence[str] | None = None,
    *,
    period: str | None,
    by: str | None = None,
    start: Any = None,
    end: Any = None,
    errors: str = "raise",
    _tables: dict | None = None,
) -> pd.DataFrame:
    """Many KPIs at once, in one long pandas frame: ``kpi``, ``period``, the ``by`` column,
    ``value``, ``numerator``, ``denominator``, ``n``.

    Every table is prepared once for all of them (one DuckDB scan registration per pandas
    table). ``by`` applies to the KPIs that allow it; the others are computed overall (their
    ``by`` column is null). ``names`` defaults to the whole catalog (with ``period=None``, less
    the KPIs that compare periods, listed in ``attrs["skipped"]``). ``errors="skip"`` leaves
    out a KPI whose table is missing and lists it in ``result.attrs["skipped"]`` (name →
    reason); ``"raise"`` raises.
    """
    chosen = list(names) if names is not None else list(REGISTRY)
    if names is None and period is None:
        # The whole catalog over the whole range: the KPIs that compare periods have no
        # value there; they are listed as skipped rather than failing the table.
        comparing = [n for n in chosen if REGISTRY[n].needs_period]
        chosen = [n for n in chosen if n not in comparing]
    else:
        comparing = []
    tables: dict = {} if _tables is None else _tables
    parts, skipped = [], {}
    for name in chosen:
        k = entry(name)
        # Overall unless the KPI allows the breakdown asked (no default breakdown here).
        use_by = [by] if (by is not None and by in k.by) else []
        try:
            q, out = _compute(k, data, use_by, period, start, end, {}, tables)
        except MissingTable as exc:
            if errors != "skip":
                raise
            skipped[name] = str(exc)
            continue
        frame = collect_pandas(_finish(q, out))
        frame.insert(0, "kpi", name)
        if by is not None and by not in frame:
            frame[by] = None
        parts.append(frame)
    result = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"kpi": []})
    for name in comparing:
        skipped[name] = f"kpi {name!r} compares periods: it needs period='M', 'Q' or 'Y'"
    result.attrs["skipped"] = skipped
    return result
