"""``RetentionSession``: RetentionGrid's headless twin — the scans it caches and the views it
derives from them, so the widget only draws what the session returns.

One scan of the activity per (period, mode): :func:`cohort_retention` with ``by=`` the
breakdown column (and the value column for mode ``"on"``), cached. Every other view setting
— measure, breakdown filter, cohort range — is derived from the cached frame in pandas (the
"all" view sums the breakdown values, which partition the entities), without touching the
activity again. A breakdown value's view is therefore ``cohort_retention`` of that value's
entities with the whole activity's ``as_of``, so every view shares one calendar.

A lazy activity (a DuckDB relation, a polars LazyFrame, Spark) is never collected: the scan
runs on its engine and only the grid (one row per cohort, period and breakdown value) is
converted to pandas.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from typing import Any

import narwhals.stable.v2 as nw
import pandas as pd

from kpiwidgets._warnings import DroppedRowsWarning
from kpiwidgets.metrics._engines import collect_pandas
from kpiwidgets.metrics.choices import (
    AverageMethod,
    Measure,
    Period,
    RetentionMode,
    ValueAgg,
    check_choice,
)
from kpiwidgets.metrics.retention import cohort_retention
from kpiwidgets.metrics.retention_average import average_retention

__all__ = ["RetentionSession"]

_VALUE_COLUMNS = ("value", "value_retention")
# pandas period aliases whose start_time is the core's calendar period start (weeks: Monday).
_PANDAS_PERIOD = {"D": "D", "W": "W-SUN", "M": "M", "Q": "Q", "Y": "Y"}


def columns_of(frame: Any) -> list[str]:
    return list(nw.from_native(frame).collect_schema().names())


class RetentionSession:
    """Cohort retention views of one activity table, computed once per (period, mode).

    Parameters
    ----------
    activity, entity, timestamp, value, value_agg, as_of, tz
        As in :func:`kw.cohort_retention`. ``value`` None: customers only.
    by
        Optional breakdown column, on the activity or in ``attributes``; each entity belongs
        to the value of its first activity row.
    attributes
        Optional frame keyed by ``entity`` holding ``by`` (one row per entity), joined onto
        the activity once. Entities without a row count in the "all" view only.

    Examples
    --------
    >>> import kpiwidgets as kw
    >>> session = RetentionSession(kw.load_demo(n_leads=2_000).revenue, value="mrr",
    ...                            value_agg="period_end")
    >>> view = session.view(period="Q", mode="on", measure="revenue")
    >>> bool((view["cohort"].dt.month % 3 == 1).all()), "value_retention" in view
    (True, True)
    """

    def __init__(
        self,
        activity: Any,
        *,
        entity: str = "account_id",
        timestamp: str = "month",
        value: str | None = None,
        value_agg: ValueAgg = "sum",
        by: str | None = None,
        attributes: Any = None,
        as_of: _dt.datetime | _dt.date | str | None = None,
        tz: str | None = None,
    ) -> None:
        self.entity, self.timestamp, self.value, self.by = entity, timestamp, value, by
        self.value_agg, self.as_of, self.tz = value_agg, as_of, tz
        self.activity = _with_attributes(activity, attributes, entity=entity, by=by)
        self._cache: dict[tuple[str, str], pd.DataFrame] = {}
        self.left_out: dict[str, int] = {}  # rows the last scan left out (null ids, times)

    def split(self, period: Period, mode: RetentionMode) -> pd.DataFrame:
        """The core result for (period, mode), split by ``by``; one scan per key, cached."""
        key = (period, mode)
        if key not in self._cache:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", DroppedRowsWarning)
                result = cohort_retention(
                    self.activity,
                    entity=self.entity,
                    timestamp=self.timestamp,
                    period=period,
                    mode=mode,
                    value=self.value if mode == "on" else None,
                    value_agg=self.value_agg,
                    by=self.by,
                    as_of=self.as_of,
                    tz=self.tz,
                )
            self.left_out = {}
            for warning in caught:
                if isinstance(warning.message, DroppedRowsWarning):
                    self.left_out.update(warning.message.counts)
            self._cache[key] = collect_pandas(result)
        return self._cache[key]

    def view(
        self,
        *,
        period: Period = "M",
        mode: RetentionMode = "on",
        measure: Measure = "customers",
        breakdown: Any = None,
        cohort_start: Any = None,
        cohort_end: Any = None,
        every_value: bool = False,
    ) -> pd.DataFrame:
        """The frame a grid draws: breakdown filter, cohort range and measure applied.

        ``every_value`` keeps the ``by`` column and every breakdown value (for curves per
        breakdown value) instead of applying the breakdown filter.
        """
        check_choice(measure, Measure, name="measure", where="RetentionSession")
        if measure == "revenue" and self.value is None:
            raise ValueError(
                "measure 'revenue' needs a value column to sum: pass value= (e.g. value='mrr'); "
                "the activity has columns " + ", ".join(columns_of(self.activity))
            )
        if self.by is None and breakdown is not None:
            raise ValueError("a breakdown needs a by= column: pass by= (and attributes=)")
        split = self.split(period, mode)
        frame = split
        if self.by is not None and not every_value:
            if breakdown is None:
                frame = sum_breakdown(split, self.by)
            else:
                values = split[self.by].drop_duplicates()
                if not (values == breakdown).any():
                    shown = ", ".join(map(str, sorted(values.astype(str))[:20]))
                    raise ValueError(
                        f"breakdown: expected one of the {self.by} values ({shown}) or None "
                        f"for all, found {breakdown!r}"
                    )
                frame = split[split[self.by] == breakdown].drop(columns=self.by)
        start, end = self.floor(cohort_start, period), self.floor(cohort_end, period)
        if start is not None:
            frame = frame[frame["cohort"] >= start]
        if end is not None:
            frame = frame[frame["cohort"] <= end]
        if measure == "customers":
            frame = frame.drop(columns=[c for c in _VALUE_COLUMNS if c in frame])
        return frame.reset_index(drop=True)

    def average(self, view: pd.DataFrame, method: AverageMethod = "pooled") -> pd.DataFrame:
        """The average row of ``view`` (:func:`kw.average_retention`)."""
        return average_retention(view, method=method)

    def floor(self, moment: Any, period: Period) -> pd.Timestamp | None:
        """Start of the period holding ``moment``, in the cohorts' zone (None stays None)."""
        if moment is None:
            return None
        ts = pd.Timestamp(moment)
        zone = ts.tz
        start = ts.tz_localize(None).to_period(_PANDAS_PERIOD[period]).start_time
        zone = zone or self.cohort_zone()
        return start.tz_localize(zone) if zone is not None else start

    def cohort_zone(self) -> Any:
        cached = next(iter(self._cache.values()), None)
        return None if cached is None else getattr(cached["cohort"].dt, "tz", None)


def _with_attributes(activity: Any, attributes: Any, *, entity: str, by: str | None) -> Any:
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
    if isinstance(table, nw.DataFrame):
        twice = bool(table[entity].is_duplicated().any())
    else:
        # A lazy table (a DuckDB relation over Parquet, ...) is checked by one aggregate:
        # rows against distinct ids, never collected.
        keyed = table.filter(~nw.col(entity).is_null())
        counts = keyed.select(nw.len().alias("n"), nw.col(entity).n_unique().alias("u"))
        row = counts.collect().row(0)
        twice = int(row[0]) != int(row[1])
    if twice:
        raise ValueError(
            f"RetentionGrid: attributes must have one row per {entity!r}; some appear twice"
        )
    joined = nw.from_native(activity).join(table, on=entity, how="left")
    return nw.to_native(joined)


def sum_breakdown(split: pd.DataFrame, by: str) -> pd.DataFrame:
    """All entities from a by-split result: the breakdown values partition each cohort.

    Counts and values add up; the ratios are recomputed from the sums, exactly as the core
    forms them (value retention is NaN where the period-0 value is 0).
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
