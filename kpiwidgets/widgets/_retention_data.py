"""RetentionGrid's data plumbing: columns, the breakdown attributes joined onto the activity,
and the all-entities view summed from a by-split result."""

from __future__ import annotations

from typing import Any

import narwhals.stable.v2 as nw
import pandas as pd


def columns_of(frame: Any) -> list[str]:
    return list(nw.from_native(frame).collect_schema().names())


def plural(entity: str) -> str:
    """``account_id`` → ``accounts``: how the status line counts entities."""
    noun = entity.removesuffix("_id").replace("_", " ") or "entity"
    return noun if noun.endswith("s") else noun + "s"


def with_attributes(activity: Any, attributes: Any, *, entity: str, by: str | None) -> Any:
    """Join the ``by`` column of ``attributes`` (one row per entity) onto the activity."""
    if attributes is None:
        if by is not None and by not in columns_of(activity):
            raise ValueError(
                f"RetentionGrid: by={by!r} is not a column of the activity "
                f"({', '.join(columns_of(activity))}); pass attributes= with a {by!r} column"
            )
        return activity
    if by is None:
        raise ValueError("RetentionGrid: attributes= needs by= naming the column to break down by")
    names = columns_of(attributes)
    missing = [c for c in (entity, by) if c not in names]
    if missing:
        raise ValueError(
            f"RetentionGrid: attributes needs columns {entity!r} and {by!r}, missing {missing}"
        )
    if by in columns_of(activity):
        raise ValueError(f"RetentionGrid: {by!r} is in both the activity and attributes")
    table = nw.from_native(attributes).select(entity, by)
    if isinstance(table, nw.DataFrame) and table[entity].is_duplicated().any():
        raise ValueError(
            f"RetentionGrid: attributes must have one row per {entity!r}; some appear twice"
        )
    joined = nw.from_native(activity).join(table, on=entity, how="left")
    return nw.to_native(joined)


def sum_breakdown(split: pd.DataFrame, by: str) -> pd.DataFrame:
    """All entities from a by-split result: the breakdown values partition each cohort.

    Counts and values add up; the ratios are recomputed from the sums, exactly as the core
    forms them (value retention is null where the period-0 value is 0).
    """
    sums = {"cohort_size": "sum", "retained": "sum", "is_complete": "first"}
    with_value = "value" in split
    if with_value:
        sums["value"] = "sum"
    total = split.drop(columns=by).groupby(["cohort", "period_number"], as_index=False).agg(sums)
    total["retention"] = total["retained"] / total["cohort_size"]
    columns = ["cohort", "period_number", "cohort_size", "retained", "retention"]
    if with_value:
        at_zero = total["period_number"] == 0
        v0 = total["cohort"].map(total.loc[at_zero].set_index("cohort")["value"])
        total["value_retention"] = (total["value"] / v0).where(v0 != 0)
        columns += ["value", "value_retention"]
    return total[[*columns, "is_complete"]]
