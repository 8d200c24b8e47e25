"""FunnelExplorer's inputs and outputs as people see them: event names, default steps, the
window as text, dates from the pickers, and the segment table."""

from __future__ import annotations

import datetime as dt
from typing import Any

import narwhals.stable.v2 as nw
import pandas as pd

#: Default steps: the lead lifecycle of the canonical ``funnel_events`` table.
LIFECYCLE = ["lead", "mql", "sql", "opportunity", "won"]
_DEFAULT_MAX_STEPS = 5


def describe_events(
    events: Any, entity: str, event: str, timestamp: str
) -> tuple[list[str], list[str]]:
    """Event names by decreasing count, and the text columns usable as breakdowns."""
    frame = nw.from_native(events)
    lf = frame.lazy() if isinstance(frame, nw.DataFrame) else frame
    schema = lf.collect_schema()
    missing = [c for c in (entity, event, timestamp) if c not in schema]
    if missing:
        raise ValueError(
            f"FunnelExplorer: events table is missing column(s) {missing}; "
            f"found {list(schema.names())}"
        )
    counts = (
        lf.filter(~nw.col(event).is_null())
        .group_by(event)
        .agg(nw.len().alias("n"))
        .sort("n", descending=True)
        .collect()
    )
    names = [str(v) for v in counts[event].to_list()]
    breakdowns = [
        c
        for c, dtype in schema.items()
        if c not in (entity, event, timestamp) and dtype in (nw.String, nw.Categorical)
    ]
    return names, breakdowns


def default_steps(names: list[str]) -> list[str]:
    """The lead lifecycle when present, else the most frequent event names (at most five: a
    funnel of every event name in a log with hundreds of them would be unreadable and slow)."""
    if all(step in names for step in LIFECYCLE):
        return list(LIFECYCLE)
    return names[:_DEFAULT_MAX_STEPS]


def readable_segments(table: pd.DataFrame) -> pd.DataFrame:
    """The segment comparison as people read it: rates in %, the gap in points, p rounded."""
    segment = table.columns[0]

    def percent(values: pd.Series) -> list[str]:
        return [f"{v:.1%}" if pd.notna(v) else "" for v in values]

    def p_text(p: float) -> str:
        return "" if pd.isna(p) else "< 0.001" if p < 0.001 else f"{p:.3f}"

    return pd.DataFrame(
        {
            segment: [
                f"{v}{' *' if small else ''}"
                for v, small in zip(table[segment], table["small_sample"], strict=True)
            ],
            "entered": table["entities"].map("{:,}".format),
            "converted": table["converted"].map("{:,}".format),
            "conversion": percent(table["conversion"]),
            "rest": percent(table["rest_conversion"]),
            "difference": [
                f"{d * 100:+.1f} pts" if pd.notna(d) else "" for d in table["difference"]
            ],
            "test": table["test"],
            "p": [p_text(p) for p in table["p_value"]],
        }
    )


def window_text(value: Any) -> str:
    """A window as the control shows it: timedeltas as whole days or seconds ("14D")."""
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
        return f"{seconds / 86400:g}D" if seconds % 86400 == 0 else f"{seconds:g}s"
    return str(value)


def as_date(value: Any, unreadable: dt.date | None = None) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return pd.Timestamp(value).date()
    except (TypeError, ValueError):
        return unreadable
