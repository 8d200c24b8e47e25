"""Sales KPIs: win rates, revenue and its spread, order value, cycle length, pipeline."""

from __future__ import annotations

from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.metrics._frames import small_frame
from kpiwidgets.metrics.kpis._base import (
    P,
    Query,
    combine,
    count,
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
    lf = won(q).with_columns(days("closed_at", "created_at").alias("__kw_days"))
    q.count_dropped("closed before created", lf.filter(nw.col("__kw_days") < 0))
    return median(q, lf.filter(nw.col("__kw_days") >= 0), "__kw_days")


# -- pipeline: snapshots at period end ------------------------------------------------------


def _snapshots(q: Query) -> nw.LazyFrame:
    """One row per (open deal, period): the deals open at each period's end (created before
    it, not closed by it). Every period from the first creation to the latest timestamp has
    its snapshot, a quiet one too. Without a period, one snapshot at ``end`` (or the latest
    timestamp of the table, included)."""
    lf = opportunities(q)
    first, latest = (
        lf.select(
            nw.col("created_at").min().alias("a"),
            nw.max_horizontal(nw.col("created_at").max(), nw.col("closed_at").max()).alias("b"),
        )
        .collect()
        .row(0)
    )
    if first is None:
        return lf.head(0).with_columns(nw.col("created_at").alias("__kw_end"))
    if q.period:
        starts = _period_starts(first, latest, q.period, q.start, q.end)
        grid = small_frame({P: starts}, lf).with_columns(
            period_end(nw.col(P), q.period).alias("__kw_end")
        )
        rows = lf.join(grid, how="cross")
    elif q.end is None:
        rows = lf.with_columns(nw.lit(latest).alias("__kw_end"))
        rows = rows.filter(nw.col("created_at") <= nw.col("__kw_end"))
        return rows.filter(
            nw.col("closed_at").is_null() | (nw.col("closed_at") > nw.col("__kw_end"))
        )
    else:
        rows = lf.with_columns(nw.lit(q.end).alias("__kw_end"))
    is_open = (nw.col("created_at") < nw.col("__kw_end")) & (
        nw.col("closed_at").is_null() | (nw.col("closed_at") >= nw.col("__kw_end"))
    )
    return rows.filter(is_open)


def _period_starts(first: Any, latest: Any, period: str, start: Any, end: Any) -> list[Any]:
    """Starts of the calendar periods from the one holding ``first`` to the one holding
    ``latest``, within [start, end)."""
    import pandas as pd

    alias = {"M": "M", "Q": "Q", "Y": "Y"}[period]
    lo = pd.Timestamp(first).to_period(alias).start_time
    hi = pd.Timestamp(latest).to_period(alias).start_time
    starts = pd.date_range(lo, hi, freq={"M": "MS", "Q": "QS", "Y": "YS"}[period])
    keep = [
        s
        for s in starts
        if (start is None or s >= pd.Timestamp(start)) and (end is None or s < pd.Timestamp(end))
    ]
    return [s.to_pydatetime() for s in keep]


@register(
    "pipeline_value",
    label="Open pipeline",
    formula="amount of the opportunities open at period end (created before it, not closed)",
    unit="currency",
    better="higher",
    tables=("opportunities",),
    period_by="a snapshot at period end",
    group="sales",
    by=OPP_BY,
)
def _pipeline_value(q: Query) -> nw.LazyFrame:
    return total(q, _snapshots(q), "amount")


@register(
    "pipeline_volume",
    label="Open deals",
    formula="opportunities open at period end",
    unit="count",
    better="higher",
    tables=("opportunities",),
    period_by="a snapshot at period end",
    group="sales",
    by=OPP_BY,
)
def _pipeline_volume(q: Query) -> nw.LazyFrame:
    return count(q, _snapshots(q))


@register(
    "pipeline_coverage",
    label="Pipeline coverage",
    formula="open pipeline expected to close in the period, at its start / (quota − won so "
    "far: 0 at the start)",
    unit="multiple",
    better="higher",
    tables=("opportunities", "quotas"),
    period_by="quotas.period (measured at the period start)",
    group="sales",
    by=("owner",),
    needs_period=True,
)
def _pipeline_coverage(q: Query) -> nw.LazyFrame:
    quotas = q.table("quotas", ["period", "quota", *q.by])
    quotas = q.bucket(quotas, "period")
    den = total(q, quotas, "quota").rename({"value": "denominator"})
    lf = opportunities(q, ("expected_close_at",))
    starts = den.select(P).unique().with_columns(period_end(nw.col(P), q.period).alias("__kw_end"))
    rows = lf.join(starts, how="cross")
    open_at_start = (nw.col("created_at") < nw.col(P)) & (
        nw.col("closed_at").is_null() | (nw.col("closed_at") >= nw.col(P))
    )
    closing_in = (nw.col("expected_close_at") >= nw.col(P)) & (
        nw.col("expected_close_at") < nw.col("__kw_end")
    )
    rows = rows.filter(open_at_start & closing_in)
    num = total(q, rows, "amount").rename({"value": "numerator"})
    return combine(q, num, den)


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


@register(
    "time_in_stage",
    label="Time in stage",
    formula="median days a deal spent in each stage (until it entered the next)",
    unit="days",
    better="lower",
    tables=("stage_history",),
    period_by="stage_history.entered_at",
    group="sales",
    by=("stage",),
    default_by="stage",
)
def _time_in_stage(q: Query) -> nw.LazyFrame:
    lf = stage_steps(q)
    lf = lf.with_columns(days("__kw_next", "entered_at").alias("__kw_days"))
    return median(q, q.bucket(lf, "entered_at"), "__kw_days")


def stage_steps(q: Query) -> nw.LazyFrame:
    """Each stage entry with the time the deal entered its next stage (null for the last)."""
    lf = q.table("stage_history", ["opportunity_id", "stage", "entered_at"])
    nxt = nw.col("entered_at").shift(-1).over("opportunity_id", order_by="entered_at")
    return lf.filter(~nw.col("entered_at").is_null()).with_columns(nxt.alias("__kw_next"))


@register(
    "stage_conversion",
    label="Stage conversion",
    formula="of the deals that entered a stage, the share that moved on to another stage",
    unit="ratio",
    better="higher",
    tables=("stage_history",),
    period_by="stage_history.entered_at",
    group="sales",
    by=("stage",),
    default_by="stage",
)
def _stage_conversion(q: Query) -> nw.LazyFrame:
    lf = q.bucket(stage_steps(q), "entered_at")
    lf = lf.filter(~nw.col("stage").is_in(["closed_won", "closed_lost"]))
    return ratio(q, lf, (~nw.col("__kw_next").is_null()).cast(nw.Int64))


@register(
    "backward_moves",
    label="Backward stage moves",
    formula="moves back to an earlier stage (one the deal first reached before the stage it "
    "leaves), by the day of the move",
    unit="count",
    better="lower",
    tables=("stage_history",),
    period_by="stage_history.entered_at",
    group="sales",
    by=("stage",),
)
def _backward_moves(q: Query) -> nw.LazyFrame:
    # A move is backward when the stage entered was first reached before the stage the deal
    # leaves: lead → qualified → lead → qualified has one backward move, not two re-entries.
    lf = q.table("stage_history", ["opportunity_id", "stage", "entered_at"]).filter(
        ~nw.col("entered_at").is_null()
    )
    first = nw.col("entered_at").min().over("opportunity_id", "stage")
    lf = lf.with_columns(first.alias("__kw_first"))
    before = nw.col("__kw_first").shift(1).over("opportunity_id", order_by="entered_at")
    lf = lf.with_columns(before.alias("__kw_left"))
    moves = lf.filter(nw.col("__kw_first") < nw.col("__kw_left"))
    return count(q, q.bucket(moves, "entered_at"))
