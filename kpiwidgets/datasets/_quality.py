"""Consistency checks across a dataset's rows: findings are reported, rows are kept.

Each check is one filter over one table (or a table and the one it refers to); it counts the
rows that fail and names a few of them. Computed by each table's own engine through narwhals;
only counts and a few example ids are collected.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import narwhals.stable.v2 as nw
import pandas as pd

__all__ = ["CHECKS", "quality_findings"]

_EXAMPLES = 3


@dataclass(frozen=True)
class Check:
    table: str
    name: str
    columns: tuple[str, ...]  # needed in the table
    condition: Callable[[], nw.Expr] | None = None  # rows that fail
    refers_to: tuple[str, str] | None = None  # (table, key): values must exist there


def _before(later: str, earlier: str) -> Callable[[], nw.Expr]:
    return lambda: nw.col(later) < nw.col(earlier)


CHECKS: tuple[Check, ...] = (
    Check(
        "leads",
        "mql_at before created_at",
        ("mql_at", "created_at"),
        _before("mql_at", "created_at"),
    ),
    Check("leads", "sql_at before mql_at", ("sql_at", "mql_at"), _before("sql_at", "mql_at")),
    Check(
        "leads",
        "first_response_at before created_at",
        ("first_response_at", "created_at"),
        _before("first_response_at", "created_at"),
    ),
    Check(
        "opportunities",
        "closed_at before created_at",
        ("closed_at", "created_at"),
        _before("closed_at", "created_at"),
    ),
    Check(
        "opportunities",
        "won deal with a missing or negative amount",
        ("status", "amount"),
        lambda: (nw.col("status") == "won") & (nw.col("amount").is_null() | (nw.col("amount") < 0)),
    ),
    Check(
        "opportunities",
        "won or lost deal without closed_at",
        ("status", "closed_at"),
        lambda: nw.col("status").is_in(["won", "lost"]) & nw.col("closed_at").is_null(),
    ),
    Check("opportunities", "lead_id not in leads", ("lead_id",), refers_to=("leads", "lead_id")),
    Check("touches", "lead_id not in leads", ("lead_id",), refers_to=("leads", "lead_id")),
    Check(
        "stage_history",
        "opportunity_id not in opportunities",
        ("opportunity_id",),
        refers_to=("opportunities", "opportunity_id"),
    ),
    Check(
        "forecasts",
        "snapshot_date after its period",
        ("period", "snapshot_date"),
        # filled in by _period_end: the period's length is read from the data
    ),
)

_IDS = {
    "leads": "lead_id",
    "touches": "lead_id",
    "opportunities": "opportunity_id",
    "stage_history": "opportunity_id",
    "forecasts": "owner",
}


def _period_months(frame: nw.LazyFrame) -> int | None:
    """The length of a forecasts table's periods in months (1, 3 or 12), from its starts."""
    starts = frame.select("period").unique().collect()["period"].to_list()
    starts = sorted(pd.Timestamp(s) for s in starts if s is not None)
    if len(starts) < 2:
        return None
    gaps = [(b.year - a.year) * 12 + b.month - a.month for a, b in itertools.pairwise(starts)]
    smallest = min(g for g in gaps if g > 0) if any(g > 0 for g in gaps) else None
    return smallest if smallest in (1, 3, 12) else None


def quality_findings(tables: Mapping[str, Any]) -> pd.DataFrame:
    """One row per (table, check) that found rows: ``table``, ``check``, ``rows``, ``examples``."""
    rows: list[dict[str, Any]] = []
    for check in CHECKS:
        if check.table not in tables:
            continue
        lf = nw.from_native(tables[check.table]).lazy()
        names = lf.collect_schema().names()
        if any(c not in names for c in check.columns):
            continue
        id_column = _IDS.get(check.table)
        if check.refers_to is not None:
            other, key = check.refers_to
            if other not in tables:
                continue
            known = nw.from_native(tables[other]).lazy().select(nw.col(key).alias("_kw_known"))
            column = check.columns[0]
            failing = lf.filter(~nw.col(column).is_null()).join(
                known, left_on=column, right_on="_kw_known", how="anti"
            )
        elif check.condition is None:  # forecasts after their period
            months = _period_months(lf)
            if months is None:
                continue
            end = nw.col("period").dt.offset_by(f"{months}mo")
            failing = lf.filter(nw.col("snapshot_date") >= end)
        else:
            failing = lf.filter(check.condition())
        count = int(failing.select(nw.len()).collect().item())
        if not count:
            continue
        examples = [
            str(v) for v in failing.select(id_column).head(_EXAMPLES).collect()[id_column].to_list()
        ]
        rows.append(
            {"table": check.table, "check": check.name, "rows": count, "examples": examples}
        )
    return pd.DataFrame(rows, columns=["table", "check", "rows", "examples"])
