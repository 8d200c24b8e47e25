"""The scored calls every forecast metric starts from: one row per owner, period, week of
period, category and submitter, with the call and the period's actual (docs/forecasts.md).

Written once against narwhals' lazy API. Steps, each counting what it leaves out:

1. rows with a null key or amount are left out (a ``DroppedRowsWarning``);
2. exact duplicate calls (same owner, period, snapshot, category, submitter, amount) count
   once; two different amounts for the same call are an error (which one is the call?);
3. ``week_of_period`` = whole weeks from the period start to the snapshot date; a second call
   in the same week replaces the first (the latest snapshot of the week is the call);
4. ``submitted`` picks rep calls, manager adjustments, both (``"separate"``) or the call of
   record (``"final"``);
5. calls join the actuals on owner and period. A call whose period has no actual at all is
   *open* (not scored yet); a call of an owner with no actual in a period others have is left
   out too, since a missing actual is not a zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.metrics._frames import (
    Prepared,
    as_datetime,
    as_list,
    datetime_column,
    drop_null_rows,
    materialize,
    prepare,
)
from kpiwidgets.metrics._periods import period_index
from kpiwidgets.metrics.choices import Submissions, ZeroActuals, check_choice

__all__ = [
    "METRICS",
    "ForecastRows",
    "actual_table",
    "forecast_rows",
    "metric_columns",
    "zero_actual_error",
]

#: The error metrics :func:`metric_columns` adds, in their order.
METRICS = ("error", "abs_error", "ape", "accuracy", "attainment", "bias", "smape")

#: Columns of the scored rows (besides the ``by`` columns).
KEYS = ("period", "week_of_period", "category", "submitted_by")
_FORECAST_COLUMNS = ("owner", "period", "snapshot_date", "category", "amount")
_DERIVED = ("period", "week_of_period", "category", "submitted_by", "owner")


@dataclass
class ForecastRows:
    """Owner-level calls, actuals and their join (see the module docstring)."""

    prep: Prepared
    calls: nw.LazyFrame  # owner?, extras, period, week_of_period, category, submitted_by, ...
    actuals: nw.LazyFrame  # owner?, period, actual
    rows: nw.LazyFrame  # calls joined with actuals, zero_actuals applied
    unit: list[str]  # ["owner"], or [] when the actuals are the team's
    extras: list[str]  # by columns carried from the forecasts (besides owner)
    counts: dict[str, int] = field(default_factory=dict)


def forecast_rows(
    forecasts: Any,
    actuals: Any,
    *,
    by: Sequence[str] = (),
    category: str | Sequence[str] | None = None,
    submitted: Submissions = "separate",
    zero_actuals: ZeroActuals = "nan",
    start: Any = None,
    end: Any = None,
    where: str = "forecast_accuracy",
) -> ForecastRows:
    check_choice(submitted, Submissions, name="submitted", where=where)
    check_choice(zero_actuals, ZeroActuals, name="zero_actuals", where=where)
    pf = prepare(forecasts, name="forecasts")
    schema = pf.lf.collect_schema()
    extras = [c for c in by if c not in _DERIVED]
    missing = [c for c in extras if c not in schema]
    if missing:
        raise ValueError(
            f"{where}: by column(s) {missing} are not columns of forecasts; found "
            f"{list(schema.names())} (or use owner, period, week_of_period, category, "
            "submitted_by)"
        )
    has_sub = "submitted_by" in schema
    period = datetime_column(
        pf, [*_FORECAST_COLUMNS, *extras], timestamp="period", where=where, table="forecasts"
    )
    snapshot = datetime_column(
        pf, list(_FORECAST_COLUMNS), timestamp="snapshot_date", where=where, table="forecasts"
    )
    pf = drop_null_rows(
        pf, [*_FORECAST_COLUMNS, *(["submitted_by"] if has_sub else [])], name="forecasts"
    )
    sub = nw.col("submitted_by") if has_sub else nw.lit("rep")
    lf = pf.lf.select(
        nw.col("owner"),
        *(nw.col(c) for c in extras),
        period.alias("period"),
        snapshot.alias("snapshot_date"),
        nw.col("category").cast(nw.String),
        sub.cast(nw.String).alias("submitted_by"),
        nw.col("amount").cast(nw.Float64),
    )
    lo, hi = as_datetime(start), as_datetime(end)
    if lo is not None:
        lf = lf.filter(nw.col("period") >= lo)
    if hi is not None:
        lf = lf.filter(nw.col("period") <= hi)
    if category is not None:
        lf = lf.filter(nw.col("category").is_in(as_list(category)))

    call = ["owner", *extras, "period", "snapshot_date", "category", "submitted_by"]
    # One group-by finds the calls given twice and keeps one row per call.
    grouped = materialize(
        lf.group_by(*call).agg(
            nw.len().alias("__kw_n"),
            nw.col("amount").min(),
            nw.col("amount").max().alias("__kw_hi"),
        )
    )
    conflicts = (
        grouped.filter(nw.col("amount") != nw.col("__kw_hi"))
        .select(*call, "amount", "__kw_hi")
        .collect(backend="pyarrow")
    )
    if len(conflicts):
        first = conflicts.row(0)
        when = first[1 + len(extras)]
        raise ValueError(
            f"{where}: forecasts has {len(conflicts)} call(s) given twice with different "
            f"amounts (same {', '.join(call)}), e.g. owner {first[0]!r}, period {when}: "
            f"amounts {first[-2]} and {first[-1]}. Keep one row per call (or give the later "
            "one a later snapshot_date)"
        )
    counts: dict[str, int] = dict(pf.dropped)
    n_dupes = grouped.select((nw.col("__kw_n") - 1).sum().alias("d")).collect()["d"][0]
    if n_dupes:
        counts["duplicate calls"] = int(n_dupes)
    lf = grouped.drop("__kw_n", "__kw_hi")

    day = period_index(nw.col("snapshot_date"), "D") - period_index(nw.col("period"), "D")
    week_key = ["owner", *extras, "period", "week_of_period", "category", "submitted_by"]
    lf = lf.with_columns((day // 7).alias("week_of_period")).filter(
        nw.col("snapshot_date") == nw.col("snapshot_date").max().over(*week_key)
    )
    lf = choose_submitted(lf, submitted, extras)

    act, unit = actual_table(actuals, by=by, extras=extras, where=where)
    if not unit:
        lf = lf.group_by("period", "week_of_period", "category", "submitted_by").agg(
            nw.col("amount").sum(), nw.col("snapshot_date").max()
        )
    calls = materialize(lf.rename({"amount": "forecast"}))

    rows = calls.join(act, on=[*unit, "period"], how="inner")
    n_calls = _count(calls)
    n_open = _count(calls.join(act.select("period").unique(), on="period", how="anti"))
    n_rows = _count(rows)
    if n_open:
        counts["calls of open periods (no actual yet)"] = n_open
    if n_calls - n_open - n_rows:
        counts["calls with no actual for their owner"] = n_calls - n_open - n_rows
    not_positive = nw.col("actual") <= 0
    n_zero = _count(rows.filter(not_positive))
    if n_zero and zero_actuals == "raise":
        first = rows.filter(not_positive).head(1).collect(backend="pyarrow").rows(named=True)[0]
        raise zero_actual_error(where, n_zero, first.get("owner", "the team"), first["period"])
    if n_zero and zero_actuals == "exclude":
        rows = rows.filter(~not_positive)
        counts["calls with a zero actual (excluded)"] = n_zero
    elif n_zero:
        counts["calls with a zero actual (NaN ratios)"] = n_zero
    return ForecastRows(pf, calls, act, metric_columns(rows), unit, extras, counts)


def zero_actual_error(where: str, n_zero: int, owner: Any, period: Any) -> ValueError:
    """The error of ``zero_actuals="raise"``, naming one such call's owner and period."""
    return ValueError(
        f"{where}: {n_zero} call(s) are scored against an actual of 0 or less, where "
        f"ratio metrics are undefined (e.g. {owner!r}, period {period}). Pass "
        "zero_actuals='nan' to keep them with NaN ratios, or 'exclude' to leave them out"
    )


def actual_table(
    actuals: Any, *, by: Sequence[str], extras: Sequence[str], where: str
) -> tuple[nw.LazyFrame, list[str]]:
    """The actuals summed per owner (when they have an ``owner`` column) and period: the
    table calls are scored against, and the unit (``["owner"]`` or ``[]``)."""
    pa = prepare(actuals, name="actuals")
    a_schema = pa.lf.collect_schema()
    unit = ["owner"] if "owner" in a_schema else []
    if not unit and ("owner" in by or extras):
        raise ValueError(
            f"{where}: actuals has no owner column, so calls can only be scored for the whole "
            f"team: pass by=() (found by={list(by)})"
        )
    a_period = datetime_column(
        pa, [*unit, "period", "amount"], timestamp="period", where=where, table="actuals"
    )
    pa = drop_null_rows(pa, [*unit, "period"], name="actuals")
    act = pa.lf.select(*(nw.col(c) for c in unit), a_period.alias("period"), nw.col("amount"))
    act = act.group_by(*unit, "period").agg(
        nw.col("amount").cast(nw.Float64).fill_null(0.0).sum().alias("actual")
    )
    act = materialize(act)
    return act, unit


def choose_submitted(lf: nw.LazyFrame, submitted: str, extras: Sequence[str] = ()) -> nw.LazyFrame:
    """Keep the calls ``submitted`` asks for (``"separate"`` keeps every call)."""
    week_key = ["owner", *extras, "period", "week_of_period", "category", "submitted_by"]
    if submitted in ("rep", "manager"):
        lf = lf.filter(nw.col("submitted_by") == submitted)
    elif submitted == "final":
        same = [k for k in week_key if k != "submitted_by"]
        is_manager = (nw.col("submitted_by") == "manager").cast(nw.Int64)
        lf = (
            lf.filter(nw.col("submitted_by").is_in(["rep", "manager"]))
            .with_columns(is_manager.alias("__kw_m"))
            .filter(nw.col("__kw_m") == nw.col("__kw_m").max().over(*same))
            .drop("__kw_m")
            .with_columns(nw.lit("final").alias("submitted_by"))
        )
    return lf


def _count(lf: nw.LazyFrame) -> int:
    return int(lf.select(nw.len().alias("n")).collect()["n"][0])


def metric_columns(rows: nw.LazyFrame, f: str = "forecast", a: str = "actual") -> nw.LazyFrame:
    """Add each row's error metrics; a ratio with a non-positive actual is null here (the
    public functions turn nulls into NaN on the way out)."""
    err = nw.col(f) - nw.col(a)
    pos = nw.col(a) > 0
    ape = nw.when(pos).then(err.abs() / nw.col(a))
    denom = nw.col(a).abs() + nw.col(f).abs()
    return rows.with_columns(
        err.alias("error"),
        err.abs().alias("abs_error"),
        ape.alias("ape"),
        nw.when(pos).then((1 - err.abs() / nw.col(a)).clip(lower_bound=0.0)).alias("accuracy"),
        nw.when(pos).then(nw.col(f) / nw.col(a)).alias("attainment"),
        nw.when(pos).then(err / nw.col(a)).alias("bias"),
        nw.when(denom > 0).then(2 * err.abs() / denom).otherwise(0.0).alias("smape"),
    )
