"""Forecast accuracy: scoring the calls sales teams submit against what they closed
(docs/forecasts.md holds every definition in prose).

A = actual (won amount of the period), F = forecast (the call). One sign everywhere:
error = F − A, so a positive error or bias is an over-forecast.

Per row (one call: owner, period, week of period, category, submitter):

* ``error`` = F − A; ``abs_error`` = |F − A|;
* ``accuracy`` = max(0, 1 − |F − A| / A), in [0, 1] (1 = perfect);
* ``attainment`` = F / A, in [0, ∞) (1 = perfect, above 1 = over-forecast);
* ``bias`` = (F − A) / A, in [−1, ∞) (signed);
* ``ape`` = |F − A| / A, in [0, ∞);
* ``smape`` = 2|F − A| / (|A| + |F|), in [0, 2] (0 when A = F = 0).

The ratio metrics (all but ``error``, ``abs_error`` and ``smape``) are NaN where A ≤ 0, under
``zero_actuals="nan"``: a zero actual is never scored as zero error.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.metrics._forecast_arrays import accuracy as accuracy_on_arrays
from kpiwidgets.metrics._forecast_rows import (
    METRICS,
    ForecastRows,
    forecast_rows,
    metric_columns,
)
from kpiwidgets.metrics._frames import (
    as_list,
)
from kpiwidgets.metrics.choices import Aggregate, Submissions, ZeroActuals, check_choice
from kpiwidgets.metrics.forecast_scores import TRACKING_LIMIT

__all__ = ["combine", "forecast_accuracy", "forecast_summary", "summarize"]

_RATIOS = ("accuracy", "attainment", "bias", "ape")
#: The columns of :func:`forecast_accuracy` after the group's (``aggregate`` comes last).
_OUTPUT = ("snapshot_date", "forecast", "actual", "owners", *METRICS)
_NAN = float("nan")


def _safe(num: nw.Expr, den: nw.Expr) -> nw.Expr:
    return nw.when(den > 0).then(num / den)


def _unique(names: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(names))


def forecast_accuracy(
    forecasts: Any,
    actuals: Any,
    *,
    by: str | Sequence[str] = ("owner",),
    category: str | Sequence[str] | None = None,
    submitted: Submissions = "separate",
    aggregate: Aggregate = "rollup",
    zero_actuals: ZeroActuals = "nan",
    start: Any = None,
    end: Any = None,
) -> Any:
    """Score every forecast call against its period's actual.

    Parameters
    ----------
    forecasts
        Columns ``owner``, ``period`` (the period's start), ``snapshot_date``, ``category``,
        ``amount`` and optionally ``submitted_by`` (``"rep"`` / ``"manager"``; missing = all
        rep calls). Any narwhals-supported frame.
    actuals
        ``owner``, ``period``, ``amount`` (won revenue of the period; several rows per owner
        and period are summed), e.g. from :func:`actuals_from_opportunities`. Without an
        ``owner`` column the actuals are the team's and ``by`` must be ``()``.
    by
        Columns to score at: ``owner`` (default), columns of ``forecasts`` (a team or region
        column), or ``()`` for the whole team. The rows of a group are combined by
        ``aggregate``.
    category
        Keep only these categories (``"commit"``, ``"best_case"``, ``"pipeline"``).
    submitted
        ``"separate"`` (default: rep calls and manager adjustments are scored each on their
        own, told apart by ``submitted_by``), ``"rep"``, ``"manager"``, or ``"final"`` (the
        call of record: the manager's where a manager adjusted it, else the rep's).
    aggregate
        How owners' calls combine into a group's row: ``"rollup"`` (default: sum F and A,
        then score — the team's number), ``"pooled"`` (ape = Σ|F − A| / ΣA over the owners;
        bias and attainment equal rollup's by algebra), ``"mean"`` (unweighted mean of the
        owners' row metrics) or ``"weighted"`` (their mean weighted by each owner's actual).
        With ``by`` holding ``owner`` every choice gives the same numbers.
    zero_actuals
        A call whose actual is 0 (or below): ``"nan"`` (default: kept, its ratio metrics
        NaN, counted), ``"exclude"`` (left out, counted) or ``"raise"``.
    start, end
        Keep periods starting within [start, end] (both inclusive).

    Returns
    -------
    One row per (``by``…, ``period``, ``week_of_period``, ``category``, ``submitted_by``):
    ``snapshot_date`` (the latest call of the week), ``forecast``, ``actual``, ``error``,
    ``abs_error``, ``accuracy``, ``attainment``, ``bias``, ``ape``, ``smape``, ``owners``
    (calls combined) and ``aggregate``. ``week_of_period`` = whole weeks from the period start
    to the snapshot date (0 = the first week; a call made before the period starts is
    negative). Calls of open periods, calls with no actual and rows with nulls are left out
    and counted: ``result.attrs["dropped_rows"]`` on pandas.

    Examples
    --------
    >>> import pandas as pd
    >>> forecasts = pd.DataFrame({
    ...     "owner": ["ava", "ava"], "period": pd.to_datetime(["2025-01-01"] * 2),
    ...     "snapshot_date": pd.to_datetime(["2025-01-06", "2025-03-24"]),
    ...     "category": "commit", "amount": [80.0, 110.0]})
    >>> actuals = pd.DataFrame({"owner": ["ava"], "period": pd.to_datetime(["2025-01-01"]),
    ...                         "amount": [100.0]})
    >>> forecast_accuracy(forecasts, actuals)[["week_of_period", "error", "accuracy", "bias"]]
       week_of_period  error  accuracy  bias
    0               0  -20.0       0.8  -0.2
    1              11   10.0       0.9   0.1
    """
    check_choice(aggregate, Aggregate, name="aggregate", where="forecast_accuracy")
    keys = as_list(by)
    options = {
        "category": category,
        "submitted": submitted,
        "zero_actuals": zero_actuals,
        "start": start,
        "end": end,
    }
    if keys == ["owner"]:  # a large pandas table: one sort of packed keys (docs/forecasts.md)
        fast = accuracy_on_arrays(forecasts, actuals, aggregate=aggregate, **options)
        if fast is not None:
            return fast
    fr = forecast_rows(forecasts, actuals, by=keys, **options)
    group = _unique([*keys, "period", "week_of_period", "category", "submitted_by"])
    if fr.unit and set(fr.unit) <= set(keys):
        # One owner's call per group (the owner and the call's keys are all in the group):
        # every aggregate is the row itself, so the scored rows are the result as they are.
        result = fr.rows.with_columns(nw.lit(1).cast(nw.Int64).alias("owners"))
        result = result.select(*group, *_OUTPUT).sort(*group)
    else:
        result = combine(fr.rows, group, aggregate).sort(*group)
    return _finish(fr, result, aggregate)


def _finish(fr: ForecastRows, result: nw.LazyFrame, aggregate: str) -> Any:
    floats = [
        c
        for c, t in result.collect_schema().items()
        if t == nw.Float64 and c not in ("forecast", "actual", "error", "abs_error")
    ]
    result = result.with_columns(
        *(nw.col(c).fill_null(_NAN) for c in floats),
        nw.lit(aggregate).alias("aggregate"),
    )
    fr.prep.dropped = dict(fr.counts)
    return fr.prep.finish(result)


def combine(rows: nw.LazyFrame, group: list[str], aggregate: str) -> nw.LazyFrame:
    """One row per ``group`` from owner-level ``rows``: sums of F and A, and the ratio
    metrics combined as ``aggregate`` says."""
    weight = nw.col("actual")
    out = rows.group_by(*group).agg(
        nw.col("snapshot_date").max(),
        nw.col("forecast").sum(),
        nw.col("actual").sum(),
        nw.col("abs_error").sum().alias("__kw_abs"),
        nw.len().alias("owners"),
        *(nw.col(m).mean().alias(f"__kw_mean_{m}") for m in _RATIOS),
        *(
            nw.when(~nw.col(m).is_null()).then(weight * nw.col(m)).sum().alias(f"__kw_w_{m}")
            for m in _RATIOS
        ),
        *(nw.when(~nw.col(m).is_null()).then(weight).sum().alias(f"__kw_wd_{m}") for m in _RATIOS),
    )
    out = metric_columns(out)
    if aggregate == "pooled":
        ape = _safe(nw.col("__kw_abs"), nw.col("actual"))
        out = out.with_columns(ape.alias("ape"), (1 - ape).clip(lower_bound=0.0).alias("accuracy"))
    elif aggregate == "mean":
        out = out.with_columns(nw.col(f"__kw_mean_{m}").alias(m) for m in _RATIOS)
    elif aggregate == "weighted":
        out = out.with_columns(
            _safe(nw.col(f"__kw_w_{m}"), nw.col(f"__kw_wd_{m}")).alias(m) for m in _RATIOS
        )
    hidden = [c for c in out.collect_schema().names() if c.startswith("__kw_")]
    return out.drop(*hidden).with_columns(nw.col("owners").cast(nw.Int64))


def forecast_summary(
    forecasts: Any,
    actuals: Any,
    *,
    by: str | Sequence[str] = ("owner",),
    category: str | Sequence[str] | None = "commit",
    week: int | Sequence[int] | None = None,
    submitted: Submissions = "separate",
    aggregate: Aggregate = "rollup",
    zero_actuals: ZeroActuals = "nan",
    start: Any = None,
    end: Any = None,
) -> Any:
    """One score per group: how accurate, and how biased, a group's calls were over time.

    Parameters are those of :func:`forecast_accuracy`, plus ``week`` (score only the calls
    made in these weeks of period; default every week) and ``category`` defaulting to
    ``"commit"`` (pipeline calls are not meant to land on the actual). ``by`` may also name
    the derived columns ``period`` and ``week_of_period`` (accuracy by week of period is
    ``by=("week_of_period",)``).

    Over a group's scored calls (rows):

    * ``n``: calls scored; ``zero_actuals``: of which with an actual of 0 or less;
    * ``mape`` = mean ape (rows with A ≤ 0 skipped); ``smape`` = mean smape;
      ``accuracy`` = mean accuracy (rows with A ≤ 0 skipped);
    * ``wape`` = Σ|F − A| / ΣA; ``bias`` = Σ(F − A) / ΣA; ``attainment`` = ΣF / ΣA;
    * ``tracking_signal`` = Σ(F − A) / mean|F − A|, and ``tracking_flag`` when beyond ±4;
    * ``mase`` = mean|F − A| / mean|A_p − A_{p−1}|, the scale being the error of a naive
      "same as last period" call over the group's actuals in the periods scored (consecutive
      periods present in the data); NaN with fewer than two periods or a zero scale.

    ``aggregate`` says how owners combine when a group holds several: ``"rollup"`` scores the
    summed calls (one team row per period, week and category, and the team's actual series
    as MASE scale); ``"pooled"`` scores all owners' calls as one set (MASE scale: all owners'
    period-to-period changes); ``"mean"`` and ``"weighted"`` score each owner, then take the
    plain mean, or the mean weighted by the owner's Σ A (weighted WAPE equals pooled WAPE by
    algebra). The ``aggregate`` column names the choice.

    Returns
    -------
    One row per (``by``…, ``category``, ``submitted_by``), sorted by them. Under
    ``zero_actuals="nan"`` the zero-actual rows still count in ``wape``, ``bias``,
    ``attainment``, ``tracking_signal`` and ``smape`` (their F and A are known) and are skipped
    by ``mape`` and ``accuracy``; ``"exclude"`` leaves them out of everything.

    Examples
    --------
    >>> import pandas as pd
    >>> forecasts = pd.DataFrame({
    ...     "owner": ["ava", "ava"], "period": pd.to_datetime(["2025-01-01", "2025-04-01"]),
    ...     "snapshot_date": pd.to_datetime(["2025-03-24", "2025-06-23"]),
    ...     "category": "commit", "amount": [110.0, 150.0]})
    >>> actuals = pd.DataFrame({"owner": ["ava", "ava"],
    ...     "period": pd.to_datetime(["2025-01-01", "2025-04-01"]), "amount": [100.0, 200.0]})
    >>> forecast_summary(forecasts, actuals)[["owner", "n", "wape", "bias", "accuracy"]].round(4)
      owner  n  wape    bias  accuracy
    0   ava  2   0.2 -0.1333     0.825
    """
    where = "forecast_summary"
    check_choice(aggregate, Aggregate, name="aggregate", where=where)
    keys = as_list(by)
    fr = forecast_rows(
        forecasts,
        actuals,
        by=keys,
        category=category,
        submitted=submitted,
        zero_actuals=zero_actuals,
        start=start,
        end=end,
        where=where,
    )
    rows = fr.rows
    if week is not None:
        weeks = [week] if isinstance(week, numbers.Integral) else list(week)
        rows = rows.filter(nw.col("week_of_period").is_in([int(w) for w in weeks]))
    group = _unique([*keys, "category", "submitted_by"])
    result = summarize(rows, group, aggregate, unit=fr.unit).sort(*group)
    return _finish(fr, result, aggregate)


def summarize(
    rows: nw.LazyFrame, group: list[str], aggregate: str, *, unit: list[str]
) -> nw.LazyFrame:
    """The summary scores of owner-level ``rows`` per ``group`` (see :func:`forecast_summary`)."""
    if aggregate == "rollup" or not unit or set(unit) <= set(group):
        team = rows
        if unit and not set(unit) <= set(group):
            cells = _unique([*group, "period", "week_of_period"])
            team = metric_columns(
                rows.group_by(*cells).agg(nw.col("forecast").sum(), nw.col("actual").sum())
            )
            series = _team_actuals(rows, group, unit)
        else:
            cols = _unique([*group, "period"])  # by may hold period itself
            series = rows.select(*cols, "actual").unique(cols)
        return _score(team, group).join(_scale(series, group), on=group, how="left").pipe(_mase)
    if aggregate == "pooled":
        cols = _unique([*group, *unit, "period"])
        series = rows.select(*cols, "actual").unique(cols)
        scale = _scale(series, group, within=unit)
        return _score(rows, group).join(scale, on=group, how="left").pipe(_mase)
    inner = _unique([*group, *unit])
    per_owner = summarize(rows, inner, "rollup", unit=unit)
    weight = (
        rows.group_by(*inner)
        .agg(nw.col("actual").sum().alias("__kw_weight"))
        .with_columns(
            nw.when(nw.col("__kw_weight") > 0).then(nw.col("__kw_weight")).alias("__kw_weight")
        )
    )
    per_owner = per_owner.join(weight, on=inner, how="left")
    return _average(per_owner, group, weighted=aggregate == "weighted")


#: Output columns of a summary, in order (after the group columns).
_ORDER = (
    "n",
    "zero_actuals",
    "accuracy",
    "mape",
    "wape",
    "smape",
    "bias",
    "attainment",
    "mase",
    "tracking_signal",
    "tracking_flag",
)
_SCORES = ("mape", "wape", "smape", "bias", "attainment", "accuracy", "tracking_signal", "mase")


def _score(rows: nw.LazyFrame, group: list[str]) -> nw.LazyFrame:
    scores = (
        rows.group_by(*group)
        .agg(
            nw.len().alias("n"),
            (nw.col("actual") <= 0).cast(nw.Int64).sum().alias("zero_actuals"),
            nw.col("ape").mean().alias("mape"),
            nw.col("smape").mean().alias("smape"),
            nw.col("accuracy").mean().alias("accuracy"),
            nw.col("abs_error").sum().alias("__kw_abs"),
            nw.col("abs_error").mean().alias("__kw_mae"),
            nw.col("error").sum().alias("__kw_err"),
            nw.col("actual").sum().alias("__kw_a"),
            nw.col("forecast").sum().alias("__kw_f"),
        )
        .with_columns(
            _safe(nw.col("__kw_abs"), nw.col("__kw_a")).alias("wape"),
            _safe(nw.col("__kw_err"), nw.col("__kw_a")).alias("bias"),
            _safe(nw.col("__kw_f"), nw.col("__kw_a")).alias("attainment"),
            nw.col("n").cast(nw.Int64),
            nw.col("zero_actuals").cast(nw.Int64),
        )
    )
    # The tracking signal is a running sum over time: one error per period (the mean error
    # of the period's calls), or it would grow with the number of weekly snapshots.
    per_period = rows.group_by(*_unique([*group, "period"])).agg(
        nw.col("error").mean().alias("__kw_pe")
    )
    signal = [
        nw.col("__kw_pe").sum().alias("__kw_ts_sum"),
        nw.col("__kw_pe").abs().mean().alias("__kw_ts_mad"),
    ]
    ts = per_period.group_by(*group).agg(*signal) if group else per_period.select(*signal)
    ts = ts.with_columns(
        _safe(nw.col("__kw_ts_sum"), nw.col("__kw_ts_mad")).alias("tracking_signal")
    )
    if group:
        return scores.join(ts, on=group, how="left")
    return scores.join(ts, how="cross")


def _team_actuals(rows: nw.LazyFrame, group: list[str], unit: list[str]) -> nw.LazyFrame:
    """The group's actual per period: the sum of its owners' (distinct) actuals."""
    cols = _unique([*group, *unit, "period"])
    owners = rows.select(*cols, "actual").unique(cols)
    return owners.group_by(*_unique([*group, "period"])).agg(nw.col("actual").sum())


def _scale(series: nw.LazyFrame, group: list[str], within: Sequence[str] = ()) -> nw.LazyFrame:
    """Mean |A_p − A_{p−1}| over consecutive periods of each series (``group`` + ``within``)."""
    parts = _unique([*group, *within])
    prev = nw.col("actual").shift(1).over(*parts, order_by="period")
    diffs = series.with_columns((nw.col("actual") - prev).abs().alias("__kw_step"))
    if group:
        return diffs.group_by(*group).agg(nw.col("__kw_step").mean().alias("__kw_scale"))
    return diffs.select(nw.col("__kw_step").mean().alias("__kw_scale"))


def _mase(scored: nw.LazyFrame) -> nw.LazyFrame:
    out = scored.with_columns(_safe(nw.col("__kw_mae"), nw.col("__kw_scale")).alias("mase"))
    return _tidy(out)


def _tidy(out: nw.LazyFrame) -> nw.LazyFrame:
    flag = nw.col("tracking_signal").abs() > TRACKING_LIMIT
    out = out.with_columns(flag.fill_null(False).alias("tracking_flag"))
    names = out.collect_schema().names()
    group = [c for c in names if c not in _ORDER and not c.startswith("__kw_")]
    return out.select(*group, *_ORDER)


def _average(per_owner: nw.LazyFrame, group: list[str], *, weighted: bool) -> nw.LazyFrame:
    w = nw.col("__kw_weight")
    aggs: list[nw.Expr] = [
        nw.col("n").sum().cast(nw.Int64),  # DuckDB sums integers to HUGEINT
        nw.col("zero_actuals").sum().cast(nw.Int64),
        nw.col("tracking_flag").cast(nw.Int64).sum().alias("__kw_flags"),
    ]
    for m in _SCORES:
        if weighted:
            defined = ~nw.col(m).is_null() & ~w.is_null()
            aggs += [
                nw.when(defined).then(w * nw.col(m)).sum().alias(f"__kw_n_{m}"),
                nw.when(defined).then(w).sum().alias(f"__kw_d_{m}"),
            ]
        else:
            aggs.append(nw.col(m).mean())
    out = per_owner.group_by(*group).agg(*aggs) if group else per_owner.select(*aggs)
    if weighted:
        out = out.with_columns(
            _safe(nw.col(f"__kw_n_{m}"), nw.col(f"__kw_d_{m}")).alias(m) for m in _SCORES
        )
    return _tidy(out)
