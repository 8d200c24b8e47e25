"""Customer KPIs from the monthly revenue table: ARPA, retention, churn, NRR, GRR, CLV,
and acquisition cost (CAC) with the ratios built on it.

The revenue table is read as monthly snapshots: an account's MRR in a month is the sum of its
rows in that calendar month, and it is a customer that month when that MRR is above 0. A
period's *opening* customers are those of the month before it, its *closing* customers those
of its last month (a period still running closes at the data's last month). ``end`` cuts the
months read (the data as known then); with a period, ``start`` keeps the periods from the one
holding it on, and the month before the first one stays as its opening.
"""

from __future__ import annotations

import narwhals.stable.v2 as nw

from kpiwidgets.metrics._periods import period_start
from kpiwidgets.metrics.kpis._base import (
    P,
    Query,
    combine,
    join_on_keys,
    period_end,
    ratio,
    register,
    safe_ratio,
    with_value,
)

ACCOUNT_BY = ("channel", "segment", "product")  # from opportunities: tables lists it
_M, _A, _V = "__kw_month", "account_id", "__kw_mrr"
_MARGIN = ("gross_margin", (1.0, "share of revenue kept after cost of service (1.0 = none)"))


def monthly(q: Query) -> nw.LazyFrame:
    """(account, month, MRR) with MRR > 0, plus the account's ``by`` columns (from the first
    won opportunity of the account); computed once for every KPI of a ``kpi_table``."""
    return q.shared(("monthly",), lambda: _monthly(q))


def _monthly(q: Query) -> nw.LazyFrame:
    lf = q.table("revenue", [_A, "month", "mrr"]).filter(~nw.col("month").is_null())
    lf = lf.with_columns(period_start(nw.col("month"), "M").alias(_M))
    lf = lf.group_by(_A, _M).agg(nw.col("mrr").cast(nw.Float64).fill_null(0.0).sum().alias(_V))
    lf = lf.filter(nw.col(_V) > 0)
    if q.by:
        lf = lf.join(account_attributes(q), on=_A, how="left")
    return lf


def account_attributes(q: Query) -> nw.LazyFrame:
    """Each account's ``by`` values, from its first won opportunity."""
    opps = q.table("opportunities", [_A, "status", "closed_at", *q.by]).filter(
        (nw.col("status") == "won") & ~nw.col(_A).is_null()
    )
    first = nw.col("closed_at") == nw.col("closed_at").min().over(_A)
    return opps.filter(first).select(_A, *q.by).unique(_A)


def _window(q: Query, lf: nw.LazyFrame) -> nw.LazyFrame:
    if q.start is not None:
        lf = lf.filter(nw.col(_M) >= period_start(nw.lit(q.start), "M"))
    if q.end is not None:
        lf = lf.filter(nw.col(_M) < q.end)
    return lf


def balances(q: Query) -> nw.LazyFrame:
    """One row per (period, account) customer at the period's opening or its close:
    ``start`` and ``end`` MRR (0 when not a customer then)."""
    return q.shared(("balances",), lambda: _balances(q))


def _balances(q: Query) -> nw.LazyFrame:
    lf = _months(q)
    if q.period:
        lf = lf.with_columns(period_start(nw.col(_M), q.period).alias(P))
        months = lf.select(P, _M).unique()
        last = months.group_by(P).agg(nw.col(_M).max().alias("__kw_last"))
        closing = lf.join(last, on=P).filter(nw.col(_M) == nw.col("__kw_last"))
        # The opening of period p is the closing of the period before it, moved onto p.
        opening = closing.with_columns(period_end(nw.col(P), q.period).alias(P))
        # ...when that period's last month is the month right before p (no gap).
        opening = opening.filter(nw.col(_M).dt.offset_by("1mo") == nw.col(P))
        keep = last.select(P)
        opening = opening.join(keep, on=P, how="semi")
    else:
        first, last_m = (
            lf.select(nw.col(_M).min().alias("a"), nw.col(_M).max().alias("b")).collect().row(0)
        )
        opening = lf.filter(nw.col(_M) == first)
        closing = lf.filter(nw.col(_M) == last_m)
    cols = [_A, *q.by] + ([P] if q.period else [])
    start = opening.select(*cols, nw.col(_V).alias("start"), nw.lit(0.0).alias("end"))
    end = closing.select(*cols, nw.lit(0.0).alias("start"), nw.col(_V).alias("end"))
    both = nw.concat([start, end], how="vertical")
    return _periods_in_range(
        q, both.group_by(*cols).agg(nw.col("start").sum(), nw.col("end").sum())
    )


def _months(q: Query) -> nw.LazyFrame:
    """The months read: before ``end`` (the data as known then; a period running at ``end``
    closes at its last month before it). With a period, the months before ``start`` stay:
    the first period's opening customers are those of the month before it."""
    if not q.period:
        return _window(q, monthly(q))
    lf = monthly(q)
    return lf.filter(nw.col(_M) < q.end) if q.end is not None else lf


def _periods_in_range(q: Query, lf: nw.LazyFrame) -> nw.LazyFrame:
    """With a period, the periods starting on or after ``start``."""
    if q.period and q.start is not None:
        lf = lf.filter(nw.col(P) >= period_start(nw.lit(q.start), q.period))
    return lf


def _of_start(q: Query, numerator: nw.Expr, denominator: nw.Expr | None = None) -> nw.LazyFrame:
    lf = balances(q).filter(nw.col("start") > 0)
    return ratio(q, lf, numerator, denominator)


@register(
    "customer_retention_rate",
    label="Customer retention",
    formula="(customers at end − new customers) / customers at start: the share of the "
    "opening customers still paying at the close",
    unit="ratio",
    better="higher",
    tables=("revenue", "opportunities"),
    period_by="revenue.month (opening = the month before the period, close = its last month)",
    group="customers",
    by=ACCOUNT_BY,
)
def _retention(q: Query) -> nw.LazyFrame:
    return _of_start(q, (nw.col("end") > 0).cast(nw.Int64))


@register(
    "churn_rate",
    label="Churn rate",
    formula="customers at the start who are not customers at the end / customers at start",
    unit="ratio",
    better="lower",
    tables=("revenue", "opportunities"),
    period_by="revenue.month",
    group="customers",
    by=ACCOUNT_BY,
)
def _churn(q: Query) -> nw.LazyFrame:
    return _of_start(q, (nw.col("end") <= 0).cast(nw.Int64))


@register(
    "net_revenue_retention",
    label="Net revenue retention",
    formula="Σ MRR at the end of the opening customers / Σ their MRR at the start",
    unit="ratio",
    better="higher",
    tables=("revenue", "opportunities"),
    period_by="revenue.month",
    group="customers",
    by=ACCOUNT_BY,
)
def _nrr(q: Query) -> nw.LazyFrame:
    return _of_start(q, nw.col("end"), nw.col("start"))


@register(
    "gross_revenue_retention",
    label="Gross revenue retention",
    formula="Σ min(MRR at end, MRR at start) / Σ MRR at start, of the opening customers",
    unit="ratio",
    better="higher",
    tables=("revenue", "opportunities"),
    period_by="revenue.month",
    group="customers",
    by=ACCOUNT_BY,
)
def _grr(q: Query) -> nw.LazyFrame:
    kept = nw.when(nw.col("end") < nw.col("start")).then(nw.col("end")).otherwise(nw.col("start"))
    return _of_start(q, kept, nw.col("start"))


@register(
    "revenue_per_account",
    label="ARPA",
    formula="MRR / paying accounts, at the period's close",
    unit="currency",
    better="higher",
    tables=("revenue", "opportunities"),
    period_by="revenue.month (the period's last month)",
    group="customers",
    by=ACCOUNT_BY,
)
def _arpa(q: Query) -> nw.LazyFrame:
    lf = balances(q).filter(nw.col("end") > 0)
    return ratio(q, lf, nw.col("end"))


def monthly_churn(q: Query) -> nw.LazyFrame:
    """Pooled month-to-month churn over the months of each period: Σ customers lost from
    one month to the next / Σ customers at the month's start."""
    return q.shared(("monthly_churn",), lambda: _monthly_churn(q))


def _monthly_churn(q: Query) -> nw.LazyFrame:
    lf = _months(q)
    nxt = lf.select(_A, nw.col(_M).dt.offset_by("-1mo").alias(_M), nw.lit(1).alias("__kw_stay"))
    months = lf.select(_M).unique()
    last = months.select(nw.col(_M).max().alias("__kw_lastm"))
    pairs = lf.join(nxt, on=[_A, _M], how="left").join(last, how="cross")
    # A month counts once its next month is in the data.
    pairs = pairs.filter(nw.col(_M) < nw.col("__kw_lastm"))
    pairs = pairs.with_columns(nw.col(_M).dt.offset_by("1mo").alias("__kw_next"))
    if q.period:
        pairs = pairs.with_columns(period_start(nw.col("__kw_next"), q.period).alias(P))
        pairs = _periods_in_range(q, pairs)
    lost = nw.col("__kw_stay").is_null().cast(nw.Int64)
    return ratio(q, pairs, lost)


def arpa_frame(q: Query) -> nw.LazyFrame:
    return _arpa(q).select(*q.keys, nw.col("value").alias("__kw_arpa"))


@register(
    "customer_lifetime_value",
    label="Customer lifetime value",
    formula="ARPA × gross margin / monthly churn rate (pooled over the period's months)",
    unit="currency",
    better="higher",
    tables=("revenue", "opportunities"),
    period_by="revenue.month",
    group="customers",
    by=ACCOUNT_BY,
    options=dict([_MARGIN]),
)
def _clv(q: Query) -> nw.LazyFrame:
    return clv_frame(q)


def clv_frame(q: Query) -> nw.LazyFrame:
    margin = float(q.option("gross_margin"))
    churn = monthly_churn(q).select(*q.keys, nw.col("value").alias("__kw_churn"), nw.col("n"))
    arpa = arpa_frame(q)
    out = join_on_keys(q, arpa, churn, "inner")
    return out.select(
        *q.keys,
        (nw.col("__kw_arpa") * margin).alias("numerator"),
        nw.col("__kw_churn").alias("denominator"),
        nw.col("n"),
    ).pipe(with_value)


# -- acquisition ------------------------------------------------------------------------------


def new_customers(q: Query) -> nw.LazyFrame:
    """Accounts whose first won deal closed in the period (keys + ``denominator`` + ``n``)."""
    opps = q.table("opportunities", [_A, "status", "closed_at", *q.by]).filter(
        (nw.col("status") == "won") & ~nw.col(_A).is_null() & ~nw.col("closed_at").is_null()
    )
    first = opps.filter(nw.col("closed_at") == nw.col("closed_at").min().over(_A)).unique(_A)
    first = q.bucket(first, "closed_at")
    aggs = [nw.len().cast(nw.Float64).alias("denominator"), nw.len().cast(nw.Int64).alias("n")]
    return first.group_by(*q.keys).agg(*aggs) if q.keys else first.select(*aggs)


def cac_frame(q: Query) -> nw.LazyFrame:
    return q.shared(("cac", bool(q.option("sales_spend"))), lambda: _cac_frame(q))


def _cac_frame(q: Query) -> nw.LazyFrame:
    teams = ["marketing", "sales"] if q.option("sales_spend") else ["marketing"]
    spend = q.table("spend", ["date", "amount", "team", *q.by]).filter(nw.col("team").is_in(teams))
    spend = q.bucket(spend, "date")
    sums = nw.col("amount").cast(nw.Float64).sum().alias("numerator")
    num = spend.group_by(*q.keys).agg(sums) if q.keys else spend.select(sums)
    return combine(q, num, new_customers(q))


_SALES_SPEND = (
    "sales_spend",
    (True, "count sales spend (team 'sales') besides marketing spend; False: marketing only"),
)


@register(
    "customer_acquisition_cost",
    label="CAC",
    formula="(marketing + sales spend) / new customers (accounts whose first won deal closed "
    "in the period)",
    unit="currency",
    better="lower",
    tables=("spend", "opportunities"),
    period_by="spend.date, opportunities.closed_at",
    group="customers",
    by=("channel",),
    options=dict([_SALES_SPEND]),
)
def _cac(q: Query) -> nw.LazyFrame:
    return cac_frame(q)


def _pair(q: Query, top: nw.LazyFrame, bottom: nw.LazyFrame) -> nw.LazyFrame:
    a = top.select(*q.keys, nw.col("value").alias("numerator"), nw.col("n"))
    b = bottom.select(*q.keys, nw.col("value").alias("denominator"))
    out = join_on_keys(q, a, b, "inner")
    ok = ~nw.col("numerator").is_nan() & ~nw.col("denominator").is_nan()
    value = nw.when(ok).then(safe_ratio(nw.col("numerator"), nw.col("denominator")))
    return out.with_columns(value.fill_null(float("nan")).alias("value"))


@register(
    "clv_to_cac",
    label="CLV : CAC",
    formula="customer_lifetime_value / customer_acquisition_cost",
    unit="multiple",
    better="higher",
    tables=("revenue", "spend", "opportunities"),
    period_by="revenue.month, spend.date, opportunities.closed_at",
    group="customers",
    by=("channel",),
    options=dict([_MARGIN, _SALES_SPEND]),
)
def _clv_to_cac(q: Query) -> nw.LazyFrame:
    return _pair(q, clv_frame(q), cac_frame(q))


@register(
    "cac_payback_months",
    label="CAC payback",
    formula="CAC / (ARPA × gross margin): months of a customer's margin that repay its cost",
    unit="months",
    better="lower",
    tables=("revenue", "spend", "opportunities"),
    period_by="revenue.month, spend.date, opportunities.closed_at",
    group="customers",
    by=("channel",),
    options=dict([_MARGIN, _SALES_SPEND]),
)
def _cac_payback(q: Query) -> nw.LazyFrame:
    margin = float(q.option("gross_margin"))
    arpa = arpa_frame(q).select(*q.keys, (nw.col("__kw_arpa") * margin).alias("value"))
    return _pair(q, cac_frame(q), arpa)
