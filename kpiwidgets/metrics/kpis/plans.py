"""KPIs of plans against outcomes: forecast accuracy as a scorecard number."""

from __future__ import annotations

import narwhals.stable.v2 as nw

from kpiwidgets.metrics._forecast_rows import forecast_rows
from kpiwidgets.metrics.forecast import combine
from kpiwidgets.metrics.forecast_actuals import actuals_from_opportunities
from kpiwidgets.metrics.kpis._base import P, Query, register


@register(
    "forecast_accuracy",
    label="Forecast accuracy",
    formula="max(0, 1 − |ΣF − ΣA| / ΣA) of the team's final commit calls (each rep's last "
    "call of the period) against the won amount (docs/forecasts.md)",
    unit="ratio",
    better="higher",
    tables=("forecasts", "opportunities"),
    period_by="forecasts.period",
    group="sales",
    by=("owner",),
    options={
        "category": ("commit", "the forecast category scored"),
        "forecast_period": ("Q", "the calendar period the forecasts call (their actuals')"),
    },
)
def _forecast_accuracy(q: Query) -> nw.LazyFrame:
    forecasts = q.table("forecasts", ["owner", "period", "snapshot_date", "category", "amount"])
    opps = q.table("opportunities", ["owner", "status", "amount", "closed_at", "created_at"])
    actuals = nw.from_native(
        actuals_from_opportunities(opps.to_native(), period=q.option("forecast_period"))
    ).lazy()
    scored = forecast_rows(
        forecasts.to_native(),
        actuals.to_native(),
        by=("owner",),
        category=q.option("category"),
        submitted="final",
        where="kpi 'forecast_accuracy'",
    ).rows
    last = nw.col("week_of_period").max().over("owner", "period")
    rows = scored.filter(nw.col("week_of_period") == last)
    rows = q.bucket(rows, "period")
    # combine() drops plan-internal ("__kw_") columns: the period travels as "period_".
    slot = "period_"
    if q.period:
        rows = rows.drop("period").rename({P: slot})
    else:
        rows = rows.with_columns(nw.lit(1).alias(slot))
    group = [slot, *q.by]
    out = combine(rows, group, "rollup").select(
        *([nw.col(slot).alias(P)] if q.period else []),
        *q.by,
        nw.col("accuracy").fill_null(float("nan")).alias("value"),
        nw.col("forecast").alias("numerator"),
        nw.col("actual").alias("denominator"),
        nw.col("owners").alias("n"),
    )
    return out
