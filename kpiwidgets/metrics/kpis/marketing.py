"""Marketing KPIs: leads and their cost, lifecycle conversion rates, response, engagement."""

from __future__ import annotations

import narwhals.stable.v2 as nw

from kpiwidgets.metrics.kpis._base import (
    P,
    Query,
    combine,
    count,
    median,
    period_end,
    ratio,
    register,
    seconds,
    total,
)

LEAD_BY = ("channel", "campaign", "owner", "segment")
SPEND_BY = ("channel", "campaign")
STATS_BY = ("channel", "campaign")


def leads_in(q: Query, timestamp: str = "created_at", extra: tuple[str, ...] = ()) -> nw.LazyFrame:
    lf = q.table("leads", ["lead_id", timestamp, *q.by, *extra])
    return q.bucket(lf, timestamp)


def marketing_spend(q: Query, *, sales: bool = False) -> nw.LazyFrame:
    lf = q.table("spend", ["date", "amount", "team", *q.by])
    if not sales:
        lf = lf.filter(nw.col("team") == "marketing")
    return q.bucket(lf, "date")


@register(
    "leads",
    label="Leads",
    formula="count of leads created",
    unit="count",
    better="higher",
    tables=("leads",),
    period_by="leads.created_at",
    group="marketing",
    by=LEAD_BY,
)
def _leads(q: Query) -> nw.LazyFrame:
    return count(q, leads_in(q))


@register(
    "cost_per_lead",
    label="Cost per lead",
    formula="marketing spend / leads created",
    unit="currency",
    better="lower",
    tables=("spend", "leads"),
    period_by="spend.date, leads.created_at",
    group="marketing",
    by=SPEND_BY,
)
def _cost_per_lead(q: Query) -> nw.LazyFrame:
    spend = total(q, marketing_spend(q), "amount").rename({"value": "numerator"})
    leads = count(q, leads_in(q)).rename({"value": "denominator"})
    return combine(q, spend, leads)


@register(
    "cost_per_opportunity",
    label="Cost per opportunity",
    formula="marketing spend / opportunities created",
    unit="currency",
    better="lower",
    tables=("spend", "opportunities"),
    period_by="spend.date, opportunities.created_at",
    group="marketing",
    by=("channel",),
)
def _cost_per_opportunity(q: Query) -> nw.LazyFrame:
    spend = total(q, marketing_spend(q), "amount").rename({"value": "numerator"})
    opps = q.bucket(q.table("opportunities", ["created_at", *q.by]), "created_at")
    return combine(q, spend, count(q, opps).rename({"value": "denominator"}))


@register(
    "mqls",
    label="MQLs",
    formula="leads that became marketing-qualified, by the day they did",
    unit="count",
    better="higher",
    tables=("leads",),
    period_by="leads.mql_at",
    group="marketing",
    by=LEAD_BY,
)
def _mqls(q: Query) -> nw.LazyFrame:
    return count(q, leads_in(q, "mql_at"))


@register(
    "sqls",
    label="SQLs",
    formula="leads that became sales-qualified, by the day they did",
    unit="count",
    better="higher",
    tables=("leads",),
    period_by="leads.sql_at",
    group="marketing",
    by=LEAD_BY,
)
def _sqls(q: Query) -> nw.LazyFrame:
    return count(q, leads_in(q, "sql_at"))


def _share(q: Query, timestamp: str, reached: str) -> nw.LazyFrame:
    lf = leads_in(q, timestamp, (reached,))
    return ratio(q, lf, (~nw.col(reached).is_null()).cast(nw.Int64))


def _rate(name: str, label: str, formula: str, timestamp: str, reached: str) -> None:
    @register(
        name,
        label=label,
        formula=formula,
        unit="ratio",
        better="higher",
        tables=("leads",),
        period_by=f"leads.{timestamp}",
        group="marketing",
        by=LEAD_BY,
    )
    def compute(q: Query) -> nw.LazyFrame:
        return _share(q, timestamp, reached)


_rate(
    "lead_to_mql_rate",
    "Lead → MQL rate",
    "of the leads created in the period, the share that became MQL (at any time)",
    "created_at",
    "mql_at",
)
_rate(
    "mql_to_sql_rate",
    "MQL → SQL rate",
    "of the MQLs of the period, the share that became SQL",
    "mql_at",
    "sql_at",
)
_rate(
    "mql_to_opportunity_rate",
    "MQL → opportunity rate",
    "of the MQLs of the period, the share with an opportunity",
    "mql_at",
    "opportunity_id",
)
_rate(
    "lead_to_opportunity_rate",
    "Lead → opportunity rate",
    "of the leads created in the period, the share with an opportunity",
    "created_at",
    "opportunity_id",
)


@register(
    "end_to_end_conversion",
    label="Lead → won",
    formula="of the leads created in the period, the share whose opportunity was won",
    unit="ratio",
    better="higher",
    tables=("leads", "opportunities"),
    period_by="leads.created_at",
    group="marketing",
    by=LEAD_BY,
)
def _end_to_end(q: Query) -> nw.LazyFrame:
    lf = leads_in(q, extra=("opportunity_id",))
    won = (
        q.table("opportunities", ["opportunity_id", "status"])
        .filter(nw.col("status") == "won")
        .select(nw.col("opportunity_id"), nw.lit(1).alias("__kw_won"))
        .unique("opportunity_id")
    )
    lf = lf.join(won, on="opportunity_id", how="left")
    return ratio(q, lf, nw.col("__kw_won").fill_null(0))


def _response_minutes(q: Query) -> nw.LazyFrame:
    lf = leads_in(q, extra=("first_response_at",))
    minutes = seconds(lf, "first_response_at", "created_at") / 60.0
    lf = lf.with_columns(minutes.cast(nw.Float64).alias("__kw_min"))
    q.count_dropped("answered before created", lf.filter(nw.col("__kw_min") < 0))
    return lf.filter(nw.col("__kw_min").is_null() | (nw.col("__kw_min") >= 0))


@register(
    "lead_response_time",
    label="Lead response time",
    formula="median minutes from a lead's creation to its first response (answered leads)",
    unit="minutes",
    better="lower",
    tables=("leads",),
    period_by="leads.created_at",
    group="marketing",
    by=LEAD_BY,
)
def _lead_response_time(q: Query) -> nw.LazyFrame:
    return median(q, _response_minutes(q), "__kw_min")


@register(
    "response_within_5_min",
    label="Answered within 5 minutes",
    formula="share of the leads created that were answered within 5 minutes "
    "(an unanswered lead was not)",
    unit="ratio",
    better="higher",
    tables=("leads",),
    period_by="leads.created_at",
    group="marketing",
    by=LEAD_BY,
    options={"minutes": (5.0, "the threshold, inclusive")},
)
def _response_within(q: Query) -> nw.LazyFrame:
    lf = _response_minutes(q)
    quick = (nw.col("__kw_min") <= float(q.option("minutes"))).fill_null(False)
    return ratio(q, lf, quick.cast(nw.Int64))


@register(
    "touches_to_first_meeting",
    label="Touches to first meeting",
    formula="median number of touches a lead had before its first meeting",
    unit="touches",
    better="lower",
    tables=("touches", "leads"),
    period_by="the first meeting's timestamp",
    group="marketing",
    by=LEAD_BY,
)
def _touches_to_meeting(q: Query) -> nw.LazyFrame:
    touches = q.table("touches", ["lead_id", "timestamp", "kind"]).filter(
        ~nw.col("timestamp").is_null()
    )
    first = (
        touches.filter(nw.col("kind") == "meeting")
        .group_by("lead_id")
        .agg(nw.col("timestamp").min().alias("__kw_meet"))
    )
    before = (
        touches.join(first, on="lead_id", how="inner")
        .filter((nw.col("timestamp") < nw.col("__kw_meet")) & (nw.col("kind") != "meeting"))
        .group_by("lead_id")
        .agg(nw.len().alias("__kw_touches"))
    )
    per_lead = first.join(before, on="lead_id", how="left").with_columns(
        nw.col("__kw_touches").fill_null(0)
    )
    if q.by:
        attrs = q.table("leads", ["lead_id", *q.by]).select("lead_id", *q.by).unique("lead_id")
        per_lead = per_lead.join(attrs, on="lead_id", how="left")
    return median(q, q.bucket(per_lead, "__kw_meet"), "__kw_touches")


def _stats_ratio(q: Query, numerator: str, denominator: str) -> nw.LazyFrame:
    lf = q.table("campaign_stats", ["date", numerator, denominator, *q.by])
    return ratio(q, q.bucket(lf, "date"), nw.col(numerator), nw.col(denominator))


for _name, _label, _num, _den in (
    ("click_through_rate", "Click-through rate", "clicks", "impressions"),
    ("email_open_rate", "Email open rate", "emails_opened", "emails_sent"),
    ("engagement_rate", "Engagement rate", "engagements", "impressions"),
):

    def _make(num: str = _num, den: str = _den):
        return lambda q: _stats_ratio(q, num, den)

    register(
        _name,
        label=_label,
        formula=f"{_num} / {_den}",
        unit="ratio",
        better="higher",
        tables=("campaign_stats",),
        period_by="campaign_stats.date",
        group="marketing",
        by=STATS_BY,
    )(_make())


@register(
    "visit_to_lead_rate",
    label="Visit → lead rate",
    formula="leads created / website sessions",
    unit="ratio",
    better="higher",
    tables=("campaign_stats", "leads"),
    period_by="campaign_stats.date, leads.created_at",
    group="marketing",
    by=STATS_BY,
)
def _visit_to_lead(q: Query) -> nw.LazyFrame:
    leads = count(q, leads_in(q)).rename({"value": "numerator"})
    stats = q.bucket(q.table("campaign_stats", ["date", "sessions", *q.by]), "date")
    sessions = total(q, stats, "sessions").rename({"value": "denominator"})
    return combine(q, leads, sessions)


@register(
    "content_usage_rate",
    label="Content usage",
    formula="content items used in touches in the period / content items created by its end",
    unit="ratio",
    better="higher",
    tables=("touches", "content"),
    period_by="touches.timestamp",
    group="marketing",
)
def _content_usage(q: Query) -> nw.LazyFrame:
    touches = q.table("touches", ["timestamp", "content_id"]).filter(
        ~nw.col("content_id").is_null()
    )
    used = q.bucket(touches, "timestamp")
    keys = q.keys
    used = used.select(*keys, "content_id").unique([*keys, "content_id"])
    numerator = (
        used.group_by(*keys).agg(nw.len().alias("numerator"))
        if keys
        else used.select(nw.len().alias("numerator"))
    )
    content = q.table("content", ["content_id", "created_at"])
    if q.period:
        # Items that exist by each period's end: a cross join with the periods in use.
        ends = numerator.select(P).with_columns(period_end(nw.col(P), q.period).alias("__kw_end"))
        have = content.join(ends, how="cross").filter(nw.col("created_at") < nw.col("__kw_end"))
        denominator = have.group_by(P).agg(nw.len().alias("denominator"))
    else:
        limit = [nw.col("created_at") < q.end] if q.end is not None else []
        denominator = content.filter(*limit) if limit else content
        denominator = denominator.select(nw.len().alias("denominator"))
    denominator = denominator.with_columns(nw.col("denominator").alias("n"))
    return combine(q, numerator, denominator)
