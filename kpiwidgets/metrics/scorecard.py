"""``ScorecardSession``: KPIBoard's headless twin — the tile values, their change against the
previous period, targets and status, and each KPI's detail, from the one KPI catalog.

Every table of the Dataset is prepared once and shared by every KPI (``kw.kpi_table``'s
shared scans); the values of a period length are computed once and cached, so moving the
as-of period or switching the group recomputes nothing.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd

from kpiwidgets.metrics._engines import collect_pandas
from kpiwidgets.metrics.kpis import entry, kpi, kpi_catalog, kpi_table
from kpiwidgets.metrics.kpis._base import REGISTRY

__all__ = ["ScorecardSession", "status_of"]

TILE_COLUMNS = (
    "kpi",
    "label",
    "group",
    "unit",
    "better",
    "period",
    "value",
    "previous",
    "delta",
    "relative",
    "target",
    "status",
    "leader",
    "available",
    "reason",
)


def status_of(value: float, target: float, better: str) -> str | None:
    """``"met"`` when ``value`` reaches ``target`` in the KPI's better direction (a value
    equal to the target meets it), ``"not met"`` otherwise, None without both numbers."""
    if value is None or target is None or np.isnan(value) or np.isnan(target):
        return None
    met = value >= target if better == "higher" else value <= target
    return "met" if met else "not met"


def _pandas(frame: Any) -> pd.DataFrame:
    return collect_pandas(frame)


class ScorecardSession:
    """KPI values per period for a scorecard.

    Parameters
    ----------
    data
        A :class:`kw.Dataset` (or a mapping of table name → frame).
    kpis
        Catalog names to show (default: every KPI).
    targets
        A frame (``kpi``, ``period``, ``target``) or a mapping ``{kpi: target}`` (the same
        target every period). Default: the Dataset's ``targets`` table, when it has one. A
        count or currency KPI with targets finer than the board's period (monthly targets
        on a quarterly board) has their sum as its target; a ratio's finer targets are not
        added up (a quarter's churn is not three monthly churns), so it shows none.

    Examples
    --------
    >>> import kpiwidgets as kw
    >>> s = ScorecardSession(kw.load_demo(n_leads=2_000), kpis=["leads", "revenue"])
    >>> tiles = s.tiles("Y")
    >>> tiles[["kpi", "value", "previous"]].values.tolist()
    [['leads', 1095.0, 905.0], ['revenue', 381800.0, 684600.0]]
    """

    def __init__(self, data: Any, kpis: Sequence[str] | None = None, targets: Any = None):
        self.data = data
        names = list(kpis) if kpis is not None else list(REGISTRY)
        for name in names:
            entry(name)  # an unknown name lists the close matches
        self.names = names
        self.catalog = kpi_catalog().set_index("name").loc[names]
        self._tables: dict = {}
        if targets is None and _has(data, "targets"):
            targets = data["targets"]
        self.targets = _targets(targets)

    @functools.lru_cache(maxsize=8)  # noqa: B019 - one session per board, bounded
    def values(self, period: str) -> pd.DataFrame:
        """Every KPI's overall value per ``period`` (long: kpi, period, value, ...), with
        ``attrs["skipped"]`` naming the KPIs whose table is missing."""
        table = kpi_table(self.data, self.names, period=period, errors="skip", _tables=self._tables)
        leaders = [n for n in self.names if REGISTRY[n].headline == "largest"]
        parts = [table[~table["kpi"].isin(leaders)]]
        for name in leaders:
            if name in table.attrs["skipped"]:
                continue
            by = REGISTRY[name].default_by
            split = _pandas(kpi(name, self.data, period=period, by=by, _tables=self._tables))
            top = split.sort_values("value", ascending=False).groupby("period").head(1)
            parts.append(top.rename(columns={by: "leader"}).assign(kpi=name))
        out = pd.concat(parts, ignore_index=True)
        out.attrs["skipped"] = table.attrs["skipped"]
        return out

    def periods(self, period: str) -> list[pd.Timestamp]:
        values = self.values(period)
        return sorted(pd.to_datetime(values["period"]).dropna().unique())

    def tiles(self, period: str, as_of: Any = None, history: int = 8) -> pd.DataFrame:
        """One row per KPI at the ``as_of`` period (default: the latest with values):
        ``value``, ``previous`` (the period before), ``delta`` (value − previous),
        ``relative`` (delta / |previous|), ``target``, ``status`` (met / not met), ``leader``
        (the breakdown value a "largest" headline comes from), ``available`` and ``reason``
        (the missing table), plus ``history``: the last ``history`` periods' values."""
        values = self.values(period)
        periods = self.periods(period)
        if not periods:
            raise ValueError("no KPI has a value in any period: is the dataset empty?")
        at = periods[-1] if as_of is None else pd.Timestamp(as_of)
        if at not in periods:
            raise ValueError(
                f"as_of {at.date()} is not a period start with values; periods run from "
                f"{periods[0].date()} to {periods[-1].date()}"
            )
        prev = periods[periods.index(at) - 1] if periods.index(at) > 0 else None
        rows = []
        for name in self.names:
            meta = self.catalog.loc[name]
            base = {
                "kpi": name,
                "label": meta["label"],
                "group": meta["group"],
                "unit": meta["unit"],
                "better": meta["better"],
                "period": at,
            }
            skipped = values.attrs["skipped"].get(name)
            if skipped is not None:
                rows.append(base | _empty(reason=skipped))
                continue
            mine = values[values["kpi"] == name].set_index("period")
            value = _at(mine, at, "value")
            previous = _at(mine, prev, "value") if prev is not None else np.nan
            delta = value - previous
            relative = (
                delta / abs(previous)
                if previous not in (0.0,) and not np.isnan(previous)
                else np.nan
            )
            target = self.target_for(name, period, at)
            recent = [p for p in periods if p <= at][-history:]
            shown = mine["value"].reindex(recent) if len(mine) else pd.Series(np.nan, recent)
            rows.append(
                base
                | {
                    "value": value,
                    "previous": previous,
                    "delta": delta,
                    "relative": relative,
                    "target": target,
                    "status": status_of(value, target, meta["better"]),
                    "leader": _at(mine, at, "leader") if "leader" in mine else None,
                    "available": True,
                    "reason": "",
                    "history": [
                        float(v) for v in shown.reindex([p for p in periods if p <= at][-history:])
                    ],
                }
            )
        return pd.DataFrame(rows)

    def target_for(self, name: str, period: str, at: pd.Timestamp) -> float:
        """The target of KPI ``name`` for the period starting ``at`` (NaN when none).

        A KPI's targets are read at their own grain (the spacing of their periods: monthly,
        quarterly, yearly): a target at the board's grain applies as is; finer targets of a
        count or currency add up; anything else has no target here.
        """
        t = self.targets
        if t is None:
            return np.nan
        if isinstance(t, dict):
            return float(t.get(name, np.nan))
        mine = t[t["kpi"] == name]
        if mine.empty:
            return np.nan
        months = {"M": 1, "Q": 3, "Y": 12}
        grain = _grain(mine["period"])
        end = at + pd.DateOffset(months=months[period])
        inside = mine[(mine["period"] >= at) & (mine["period"] < end)]
        if inside.empty or grain > months[period]:
            return np.nan
        if grain == months[period]:
            return float(inside["target"].iloc[0])
        if self.catalog.loc[name, "unit"] in ("count", "currency"):
            return float(inside["target"].sum())
        return np.nan

    @functools.lru_cache(maxsize=64)  # noqa: B019
    def detail(self, name: str, period: str, by: str | None = None) -> pd.DataFrame:
        """KPI ``name`` per ``period`` (and per ``by`` value): its tile's detail."""
        k = entry(name)
        use = [by] if by is not None else []
        if by is not None and by not in k.by:
            allowed = ", ".join(k.by) or "no breakdown"
            raise ValueError(f"{k.label}: breakdown {by!r} is not one it allows ({allowed})")
        return _pandas(kpi(name, self.data, period=period, by=use, _tables=self._tables))


def _grain(periods: pd.Series) -> int:
    """Months between a KPI's target periods: 1, 3 or 12. A single target's grain is read
    from its date: January 1 a year, another quarter start a quarter, else a month."""
    starts = sorted(pd.to_datetime(periods).unique())
    if len(starts) < 2:
        only = pd.Timestamp(starts[0])
        return 12 if only.month == 1 else 3 if only.month in (4, 7, 10) else 1
    gaps = [(b.year - a.year) * 12 + b.month - a.month for a, b in itertools.pairwise(starts)]
    smallest = min(g for g in gaps if g > 0) if any(g > 0 for g in gaps) else 1
    return 1 if smallest < 3 else 3 if smallest < 12 else 12


def _at(frame: pd.DataFrame, at: Any, column: str) -> Any:
    if at is None or at not in frame.index:
        return np.nan if column != "leader" else None
    return frame.loc[at, column]


def _empty(*, reason: str) -> dict[str, Any]:
    nan = float("nan")
    return {
        "value": nan,
        "previous": nan,
        "delta": nan,
        "relative": nan,
        "target": nan,
        "status": None,
        "leader": None,
        "available": False,
        "reason": reason,
        "history": [],
    }


def _has(data: Any, name: str) -> bool:
    try:
        return name in data
    except TypeError:
        return False


def _targets(targets: Any) -> pd.DataFrame | dict[str, float] | None:
    if targets is None:
        return None
    if isinstance(targets, Mapping):
        return {str(k): float(v) for k, v in targets.items()}
    frame = nw.from_native(targets)
    names = list(frame.collect_schema().names())
    missing = [c for c in ("kpi", "period", "target") if c not in names]
    if missing:
        raise ValueError(
            f"targets: missing column(s) {missing}; found {names} (expected kpi, period, target)"
        )
    # Only the three columns cross into pandas (a lazy table's other columns are not read).
    table = _pandas(frame.select("kpi", "period", "target").to_native())
    table = table.dropna(subset=["kpi", "period"])
    table["period"] = pd.to_datetime(table["period"])
    unknown = sorted(set(table["kpi"]) - set(REGISTRY))
    if unknown:
        raise ValueError(
            f"targets: unknown KPI name(s) {unknown}; kw.kpi_catalog() lists the names"
        )
    return table
