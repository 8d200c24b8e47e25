"""Sales KPIs: win rates, revenue and its spread, order value, cycle length, pipeline."""

from __future__ import annotations

import narwhals.stable.v2 as nw

from kpiwidgets.metrics.kpis._base import (
    P,
    Query,
    combine,
    days,
    join_on_keys,
    median,
    period_end,
    ratio,
    register,
    safe_ratio,
    total,
    with_value,
)

OPP_BY = ("channel", "owner", "segment", "product")


def opportunities(q: Query, columns: tuple[str, ...] = ()) -> nw.LazyFrame:
    return q.table(
        "opportunities", ["status", "amount", "created_at", "closed_at", *q.by, *columns]
    )


def won(q: Query) -> nw.LazyFrame:
    lf = opportunities(q).filter(nw.col("status") == "won")
    q.count_dropped("won deals without closed_at", lf.filter(nw.col("closed_at").is_null()))
    return q.bucket(lf, "closed_at")


@register(
    "opportunity_win_rate",
    label="Win rate",
    formula="won / (won + lost), of the opportunities closed in the period",
    unit="ratio",
    better="higher",
    tables=("opportunities",),
    period_by="opportunities.closed_at",
    group="sales",
    by=OPP_BY,
    options={
        "over": (
            "closed",
            "'closed': won / (won + lost) closed in the period; 'all': of the opportunities "
            "created in the period, the share won (open ones count as not won)",
        )
    },
)
def _win_rate(q: Query) -> nw.LazyFrame:
    over = q.option("over")
    if over not in ("closed", "all"):
        raise ValueError(
            f"kpi 'opportunity_win_rate': over must be 'closed' or 'all', found {over!r}"
        )
    if over == "all":
        return _created_won(q)
    lf = opportunities(q).filter(nw.col("status").is_in(["won", "lost"]))
    lf = q.bucket(lf, "closed_at")
    return ratio(q, lf, (nw.col("status") == "won").cast(nw.Int64))


def _created_won(q: Query) -> nw.LazyFrame:
    lf = q.bucket(opportunities(q), "created_at")
    return ratio(q, lf, (nw.col("status") == "won").cast(nw.Int64))


@register(
    "closed_deal_ratio",
    label="Closed-deal ratio",
    formula="of the opportunities created in the period, the share won (so far)",
    unit="ratio",
    better="higher",
    tables=("opportunities",),
    period_by="opportunities.created_at",
    group="sales",
    by=OPP_BY,
)
def _closed_deal_ratio(q: Query) -> nw.LazyFrame:
    return _created_won(q)


@register(
    "revenue",
    label="Revenue (won)",
    formula="amount of the opportunities won, by close date",
    unit="currency",
    better="higher",
    tables=("opportunities",),
    period_by="opportunities.closed_at",
    group="sales",
    by=OPP_BY,
)
def _revenue(q: Query) -> nw.LazyFrame:
    return total(q, won(q), "amount")


@register(
    "product_revenue",
    label="Revenue per product",
    formula="amount won per product (by product unless another breakdown is asked)",
    unit="currency",
    better="higher",
    tables=("opportunities",),
    period_by="opportunities.closed_at",
    group="sales",
    by=OPP_BY,
    default_by="product",
)
def _product_revenue(q: Query) -> nw.LazyFrame:
    return total(q, won(q), "amount")


@register(
    "revenue_growth",
    label="Revenue growth",
    formula="revenue / revenue of the previous period − 1",
    unit="ratio",
    better="higher",
    tables=("opportunities",),
    period_by="opportunities.closed_at",
    group="sales",
    by=OPP_BY,
    needs_period=True,
)
def _revenue_growth(q: Query) -> nw.LazyFrame:
    now = total(q, won(q), "amount")
    # The previous period's revenue, moved onto the period after it.
    prev = now.select(
        period_end(nw.col(P), q.period).alias(P),
        *q.by,
        nw.col("value").alias("denominator"),
    )
    out = join_on_keys(q, now.rename({"value": "numerator"}), prev, "left")
    out = out.with_columns(nw.col("denominator").fill_null(0.0))
    return out.with_columns(
        (safe_ratio(nw.col("numerator"), nw.col("denominator")) - 1.0).alias("value")
    )


@register(
    "revenue_share",
    label="Revenue share",
    formula="a channel's won amount / all won amount (by channel unless another breakdown)",
    unit="ratio",
    better="higher",
    tables=("opportunities",),
    period_by="opportunities.closed_at",
    group="sales",
    by=OPP_BY,
    default_by="channel",
    headline="largest",
)
def _revenue_share(q: Query) -> nw.LazyFrame:
    parts = total(q, won(q), "amount").rename({"value": "numerator"})
    whole_keys = [P] if q.period else []
    sums = nw.col("numerator").sum().alias("denominator")
    whole = parts.group_by(*whole_keys).agg(sums) if whole_keys else parts.select(sums)
    out = (
        parts.join(whole, on=whole_keys, how="left")
        if whole_keys
        else parts.join(whole, how="cross")
    )
    return with_value(out)


@register(
    "revenue_concentration",
    label="Revenue concentration",
    formula="Herfindahl index Σ share² of won revenue across channels (1 = one channel)",
    unit="ratio",
    better="lower",
    tables=("opportunities",),
    period_by="opportunities.closed_at",
    group="sales",
    options={"across": ("channel", "the column whose shares are squared")},
)
def _revenue_concentration(q: Query) -> nw.LazyFrame:
    across = q.option("across")
    lf = q.bucket(
        q.table("opportunities", ["status", "amount", "closed_at", across]).filter(
            nw.col("status") == "won"
        ),
        "closed_at",
    )
    keys = q.keys
    parts = lf.group_by(*keys, across).agg(nw.col("amount").cast(nw.Float64).sum().alias("__kw_a"))
    share = (
        nw.col("__kw_a") / nw.col("__kw_a").sum().over(*keys)
        if keys
        else (nw.col("__kw_a") / nw.col("__kw_a").sum())
    )
    parts = parts.filter(nw.col("__kw_a") > 0).with_columns((share * share).alias("__kw_s2"))
    aggs = [nw.col("__kw_s2").sum().alias("value"), nw.len().cast(nw.Int64).alias("n")]
    return parts.group_by(*keys).agg(*aggs) if keys else parts.select(*aggs)


@register(
    "average_order_value",
    label="Average order value",
    formula="won amount / won deals",
    unit="currency",
    better="higher",
    tables=("opportunities",),
    period_by="opportunities.closed_at",
    group="sales",
    by=OPP_BY,
)
def _aov(q: Query) -> nw.LazyFrame:
    return ratio(q, won(q), nw.col("amount"))


@register(
    "sales_cycle_length",
    label="Sales cycle",
    formula="median days from created_at to closed_at of the deals won in the period",
    unit="days",
    better="lower",
    tables=("opportunities",),
    period_by="opportunities.closed_at",
    group="sales",
    by=OPP_BY,
)
def _sales_cycle(q: Query) -> nw.LazyFrame:
    lf = won(q)
    lf = lf.with_columns(days(lf, "closed_at", "created_at").alias("__kw_days"))
    q.count_dropped("closed before created", lf.filter(nw.col("__kw_days") < 0))
    return median(q, lf.filter(nw.col("__kw_days") >= 0), "__kw_days")


@register(
    "marketing_roi",
    label="Marketing ROI",
    formula="(won revenue attributed to the channel − marketing spend) / marketing spend",
    unit="ratio",
    better="higher",
    tables=("spend", "opportunities", "leads"),
    period_by="opportunities.closed_at, spend.date",
    group="marketing",
    by=("channel", "campaign"),
    options={
        "attribution": (
            "lead",
            "'lead': revenue belongs to the channel/campaign of the deal's lead; "
            "'opportunity': to the opportunity's own channel column",
        )
    },
)
def _marketing_roi(q: Query) -> nw.LazyFrame:
    attribution = q.option("attribution")
    if attribution not in ("lead", "opportunity"):
        raise ValueError(
            "kpi 'marketing_roi': attribution must be 'lead' or 'opportunity', "
            f"found {attribution!r}"
        )
    if attribution == "opportunity" and "campaign" in q.by:
        raise ValueError(
            "kpi 'marketing_roi': opportunities have no campaign, so attribution='opportunity' "
            "breaks revenue down by channel only; use attribution='lead' for campaigns"
        )
    if attribution == "lead":
        deals = q.table("opportunities", ["status", "amount", "closed_at", "lead_id"]).filter(
            nw.col("status") == "won"
        )
        leads = q.table("leads", ["lead_id", *q.by]).select("lead_id", *q.by).unique("lead_id")
        deals = deals.select("amount", "closed_at", "lead_id").join(leads, on="lead_id", how="left")
    else:
        deals = q.table("opportunities", ["status", "amount", "closed_at", *q.by]).filter(
            nw.col("status") == "won"
        )
    revenue = total(q, q.bucket(deals, "closed_at"), "amount").rename({"value": "numerator"})
    spend = q.table("spend", ["date", "amount", "team", *q.by]).filter(
        nw.col("team") == "marketing"
    )
    spend = total(q, q.bucket(spend, "date"), "amount").rename({"value": "denominator"})
    out = combine(q, revenue, spend)
    # ROI = (revenue − spend) / spend: the ratio minus one, with the same NaN rule.
    return out.with_columns((nw.col("value") - 1.0).alias("value"))
