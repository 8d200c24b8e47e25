"""The demo company: complete canonical tables, internally consistent, with findable stories.

Every check recomputes its number independently from the frames (pandas or DuckDB SQL),
never from the generator's internals.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

import kpiwidgets as kw
from kpiwidgets.datasets import demo
from kpiwidgets.datasets.schema import TABLES

N = 2_000


@pytest.fixture(scope="module")
def ds():
    return kw.load_demo(seed=0, n_leads=N)


@pytest.fixture(scope="module")
def t(ds):
    """The tables as a plain dict (DuckDB scans these frames by their variable names)."""
    return {name: ds[name] for name in TABLES}


@pytest.fixture(scope="module")
def story():
    """A bigger company for the stories: enough deals per rep and quarter to judge them."""
    ds = kw.load_demo(seed=0, n_leads=5 * N)
    return {name: ds[name] for name in TABLES}


def _sql(query: str, **frames: pd.DataFrame) -> pd.DataFrame:
    con = duckdb.connect()
    for name, frame in frames.items():
        con.register(name, frame)
    return con.sql(query).df()


# --- shape of the tables ------------------------------------------------------------------


def test_every_canonical_table_with_exactly_its_columns(ds):
    for name, table in TABLES.items():
        assert list(ds[name].columns) == table.column_names, name
        assert len(ds[name]) > 0, name
    assert ds.leads is ds["leads"]


@pytest.mark.parametrize("name", list(TABLES))
def test_column_kinds(ds, name):
    frame = ds[name]
    for column in TABLES[name].columns:
        series = frame[column.name]
        if column.kind in ("id", "text"):
            assert pd.api.types.is_string_dtype(series.dtype), (name, column.name, series.dtype)
        elif column.kind == "timestamp":
            assert pd.api.types.is_datetime64_dtype(series.dtype), (name, column.name)
            assert getattr(series.dtype, "tz", None) is None
        else:
            assert pd.api.types.is_numeric_dtype(series.dtype), (name, column.name)
            assert not pd.api.types.is_bool_dtype(series.dtype)
            assert series.notna().all() and (series >= 0).all(), (name, column.name)
        if column.values is not None:
            assert set(series.dropna()) <= set(column.values), (name, column.name)


def test_ids_are_crm_style_and_unique(t):
    for table, column, prefix in [
        ("leads", "lead_id", "L"),
        ("opportunities", "opportunity_id", "O"),
        ("opportunities", "account_id", "A"),
        ("content", "content_id", "C"),
    ]:
        ids = t[table][column]
        assert ids.str.fullmatch(prefix + r"\d{6}").all(), (table, column)
        assert ids.is_unique, (table, column)
    assert t["leads"]["lead_id"].iloc[0] == "L000001"


def test_ids_widen_when_n_leads_needs_more_digits():
    from kpiwidgets.datasets import _demo_config as cfg

    ids = cfg.make_ids("L", np.array([1, 42, 1_000_000]), 7)
    assert list(ids) == ["L0000001", "L0000042", "L1000000"]


def test_covers_two_full_years(t):
    created = t["leads"]["created_at"]
    assert created.min() >= pd.Timestamp("2024-01-01")
    assert created.max() < pd.Timestamp("2026-01-01")
    assert created.dt.to_period("M").nunique() == 24
    assert t["spend"]["date"].nunique() == 731
    assert t["revenue"]["month"].max() == pd.Timestamp("2025-12-01")
    for name, table in TABLES.items():
        for column in table.columns:
            if column.kind == "timestamp" and name != "content":
                if column.name == "expected_close_at":
                    continue  # the future, by definition (checked below)
                assert t[name][column.name].max() < pd.Timestamp("2026-01-01"), (name, column)
    deals = t["opportunities"]
    is_open = deals["status"] == "open"
    # Every deal has the close date expected when it was opened; open deals expect to close
    # after the data's as-of.
    assert deals["expected_close_at"].notna().all()
    assert deals.loc[is_open, "expected_close_at"].min() >= pd.Timestamp("2026-01-01")
    assert (deals["expected_close_at"] > deals["created_at"]).all()


# --- determinism, caching, scale ----------------------------------------------------------


def test_same_seed_same_frames_different_seed_different_frames():
    a = demo.generate_tables(3, 1_000)
    b = demo.generate_tables(3, 1_000)
    c = demo.generate_tables(4, 1_000)
    for name in TABLES:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not a["leads"].equals(c["leads"])
    assert not a["opportunities"].equals(c["opportunities"])


def test_load_demo_is_cached_but_returns_independent_frames():
    first = kw.load_demo(seed=1, n_leads=1_000)
    first.leads.loc[0, "channel"] = "changed"
    second = kw.load_demo(seed=1, n_leads=1_000)
    assert second.leads.loc[0, "channel"] != "changed"
    pd.testing.assert_frame_equal(second.leads, demo.generate_tables(1, 1_000)["leads"])


def test_nothing_is_dropped_by_validation(ds):
    assert getattr(ds, "dropped", {}) == {}


def test_bad_n_leads_is_an_error():
    with pytest.raises(ValueError, match="n_leads"):
        kw.load_demo(n_leads=0)


def test_sizes_scale_with_n_leads():
    small = demo.generate_tables(0, 1_000)
    large = demo.generate_tables(0, 4_000)
    assert len(small["leads"]) == 1_000 and len(large["leads"]) == 4_000
    for name in ["touches", "opportunities", "stage_history", "funnel_events", "revenue"]:
        ratio = len(large[name]) / len(small[name])
        assert 2.5 < ratio < 6.0, (name, ratio)
    # Per-day tables keep their shape; their money scales with the volume.
    assert len(large["spend"]) == len(small["spend"])
    ratio = large["spend"]["amount"].sum() / small["spend"]["amount"].sum()
    assert 3.5 < ratio < 4.5


# --- referential integrity ----------------------------------------------------------------


def test_opportunities_and_leads_point_at_each_other(t):
    bad = _sql(
        """
        SELECT count(*) FILTER (WHERE l.lead_id IS NULL) AS missing_lead,
               count(*) FILTER (WHERE l.opportunity_id IS DISTINCT FROM o.opportunity_id)
                   AS not_pointing_back,
               count(*) FILTER (WHERE l.owner <> o.owner OR l.channel <> o.channel
                                OR l.segment <> o.segment) AS attributes_differ
        FROM opportunities o LEFT JOIN leads l USING (lead_id)
        """,
        opportunities=t["opportunities"],
        leads=t["leads"],
    )
    assert bad.iloc[0].tolist() == [0, 0, 0]
    with_opp = t["leads"].dropna(subset=["opportunity_id"])
    assert set(with_opp["opportunity_id"]) == set(t["opportunities"]["opportunity_id"])
    assert t["opportunities"]["lead_id"].is_unique


def test_revenue_belongs_to_won_accounts_from_their_close_month(t):
    opps = t["opportunities"]
    won = opps[opps["status"] == "won"]
    revenue = t["revenue"]
    assert set(revenue["account_id"]) <= set(won["account_id"])
    first = revenue.groupby("account_id")["month"].min().rename("first_month").reset_index()
    joined = first.merge(won[["account_id", "closed_at"]], on="account_id")
    close_month = joined["closed_at"].dt.to_period("M").dt.start_time
    assert (joined["first_month"] >= close_month).all()
    # Every customer is billed from its close month.
    assert (joined["first_month"] == close_month).all()
    assert len(joined) == len(won)
    assert not revenue.duplicated(["account_id", "month"]).any()
    assert (revenue["month"] == revenue["month"].dt.to_period("M").dt.start_time).all()
    assert (revenue["mrr"] > 0).all()


def test_mrr_moves_in_every_direction(t):
    grid = t["revenue"].pivot(index="account_id", columns="month", values="mrr")
    before, now = grid.shift(1, axis=1), grid
    seen_before = grid.notna().cumsum(axis=1).shift(1, axis=1).fillna(0) > 0
    churned = (before.notna() & now.isna()).sum().sum()
    reactivated = (now.notna() & before.isna() & seen_before).sum().sum()
    expanded = (now > before).sum().sum()
    contracted = (now < before).sum().sum()
    assert min(churned, reactivated, expanded, contracted) > 0, (
        churned,
        reactivated,
        expanded,
        contracted,
    )


def test_stage_history_agrees_with_outcomes(t):
    opps, stages = t["opportunities"], t["stage_history"]
    assert set(stages["opportunity_id"]) == set(opps["opportunity_id"])
    last = (
        stages.sort_values(["opportunity_id", "entered_at"])
        .groupby("opportunity_id")
        .tail(1)
        .merge(opps, on="opportunity_id")
    )
    won, lost, still_open = (last[last["status"] == s] for s in ("won", "lost", "open"))
    assert (won["stage"] == "closed_won").all() and (won["entered_at"] == won["closed_at"]).all()
    assert (lost["stage"] == "closed_lost").all()
    assert (lost["entered_at"] == lost["closed_at"]).all()
    assert not still_open["stage"].str.startswith("closed").any()
    first = stages.groupby("opportunity_id")["entered_at"].min().rename("first")
    check = opps.set_index("opportunity_id").join(first)
    assert (check["first"] == check["created_at"]).all()
    closed_stages = stages[stages["stage"].str.startswith("closed")]
    assert closed_stages["opportunity_id"].is_unique


def test_some_deals_skip_a_stage_and_some_move_backwards(t):
    stages = t["stage_history"]
    counts = stages.pivot_table(
        index="opportunity_id", columns="stage", values="entered_at", aggfunc="count"
    ).fillna(0)
    won = counts[counts["closed_won"] == 1]
    assert (won["demo"] == 0).sum() > 0  # skipped the demo
    assert (counts["proposal"] == 2).sum() > 0  # went back from negotiation to proposal
    ordered = stages.sort_values(["opportunity_id", "entered_at"])
    assert ordered.groupby("opportunity_id")["entered_at"].is_monotonic_increasing.all()


def test_touches_reference_leads_and_content(t):
    touches, leads, content = t["touches"], t["leads"], t["content"]
    assert set(touches["lead_id"]) <= set(leads["lead_id"])
    is_content = touches["kind"] == "content"
    assert touches.loc[is_content, "content_id"].notna().all()
    assert touches.loc[~is_content, "content_id"].isna().all()
    assert set(touches["content_id"].dropna()) <= set(content["content_id"])
    bad = _sql(
        """
        SELECT count(*) FILTER (WHERE t.timestamp < l.created_at) AS before_lead,
               count(*) FILTER (WHERE t.timestamp < c.created_at) AS before_content
        FROM touches t JOIN leads l USING (lead_id)
        LEFT JOIN content c USING (content_id)
        """,
        touches=touches,
        leads=leads,
        content=content,
    )
    assert bad.iloc[0].tolist() == [0, 0]
    assert set(touches["kind"]) == {"email", "call", "meeting", "content"}


def test_first_touch_of_an_answered_lead_is_the_first_response(t):
    first = t["touches"].groupby("lead_id")["timestamp"].min()
    leads = t["leads"].set_index("lead_id")
    answered = leads["first_response_at"].notna()
    assert (first[answered[answered].index] == leads.loc[answered, "first_response_at"]).all()


# --- timestamps and the funnel ------------------------------------------------------------


def test_lifecycle_timestamps_are_ordered(t):
    leads = t["leads"]
    opps = t["opportunities"].merge(leads[["lead_id", "sql_at"]], on="lead_id")
    assert (
        leads["first_response_at"].dropna()
        >= leads["created_at"][leads["first_response_at"].notna()]
    ).all()
    assert (leads["mql_at"] >= leads["created_at"]).sum() == leads["mql_at"].notna().sum()
    assert (leads["sql_at"] >= leads["mql_at"]).sum() == leads["sql_at"].notna().sum()
    assert leads.loc[leads["sql_at"].notna(), "mql_at"].notna().all()
    assert leads.loc[leads["opportunity_id"].notna(), "sql_at"].notna().all()
    assert (opps["created_at"] >= opps["sql_at"]).all()
    closed = opps["closed_at"].notna()
    assert (opps.loc[closed, "closed_at"] > opps.loc[closed, "created_at"]).all()
    assert (closed == (opps["status"] != "open")).all()
    assert leads["created_at"].is_monotonic_increasing


def test_funnel_events_are_the_long_form_of_leads(t):
    leads, opps, events = t["leads"], t["opportunities"], t["funnel_events"]
    counts = events["event"].value_counts()
    assert counts["lead"] == len(leads)
    assert counts["mql"] == leads["mql_at"].notna().sum()
    assert counts["sql"] == leads["sql_at"].notna().sum()
    assert counts["opportunity"] == leads["opportunity_id"].notna().sum()
    assert counts["won"] == (opps["status"] == "won").sum()
    assert not events.duplicated(["entity_id", "event"]).any()
    mismatched = _sql(
        """
        SELECT count(*) FROM funnel_events e JOIN leads l ON e.entity_id = l.lead_id
        LEFT JOIN opportunities o ON o.lead_id = l.lead_id
        WHERE e.channel <> l.channel OR e.segment <> l.segment OR e.owner <> l.owner
           OR e.timestamp IS DISTINCT FROM CASE e.event
                WHEN 'lead' THEN l.created_at WHEN 'mql' THEN l.mql_at
                WHEN 'sql' THEN l.sql_at WHEN 'opportunity' THEN o.created_at
                WHEN 'won' THEN o.closed_at END
        """,
        funnel_events=events,
        leads=leads,
        opportunities=opps,
    )
    assert mismatched.iloc[0, 0] == 0


# --- plans: forecasts, quotas, targets, spend, campaign stats -----------------------------


def _quarter(ts: pd.Series) -> pd.Series:
    return ts.dt.to_period("Q").dt.start_time


def test_forecasts_cover_owners_and_quarters_with_deals(t):
    fc, opps = t["forecasts"], t["opportunities"]
    won = opps[opps["status"] == "won"]
    with_deals = set(zip(won["owner"], _quarter(won["closed_at"]), strict=True))
    forecast_pairs = set(zip(fc["owner"], fc["period"], strict=True))
    assert forecast_pairs <= with_deals
    assert len(forecast_pairs) >= 0.8 * len(with_deals)
    assert (fc["snapshot_date"] >= fc["period"]).all()
    assert (fc["snapshot_date"] < fc["period"] + pd.DateOffset(months=3)).all()
    assert (fc["snapshot_date"].dt.day_of_week == 0).all()
    weeks = fc.groupby(["owner", "period"])["snapshot_date"].nunique()
    assert weeks.between(12, 14).all()
    assert set(fc["submitted_by"]) == {"rep", "manager"}
    assert (fc.loc[fc["submitted_by"] == "manager", "category"] == "commit").all()
    wide = fc[fc["submitted_by"] == "rep"].pivot_table(
        index=["owner", "period", "snapshot_date"], columns="category", values="amount"
    )
    assert (wide["best_case"] >= wide["commit"]).all()
    assert (wide["pipeline"] >= wide["best_case"]).all()


def _final_commit_over_actual(t) -> pd.Series:
    fc, opps = t["forecasts"], t["opportunities"]
    won = opps[opps["status"] == "won"].assign(period=lambda d: _quarter(d["closed_at"]))
    actual = won.groupby(["owner", "period"], as_index=False)["amount"].sum()
    commit = fc[(fc["category"] == "commit") & (fc["submitted_by"] == "rep")]
    last = commit[
        commit["snapshot_date"]
        == commit.groupby(["owner", "period"])["snapshot_date"].transform("max")
    ]
    joined = last.merge(actual, on=["owner", "period"], suffixes=("_forecast", "_actual"))
    return (joined["amount_forecast"] / joined["amount_actual"]).groupby(joined["owner"]).mean()


def test_over_forecaster_and_sandbagger_stand_out(story):
    ratio = _final_commit_over_actual(story)
    assert ratio["Hugo Martin"] > 1.1
    assert ratio["Dmitri Volkov"] < 0.9
    others = ratio.drop(["Hugo Martin", "Dmitri Volkov"])
    assert others.between(0.85, 1.15).all(), others


def test_quotas_per_owner_and_quarter(t):
    quotas = t["quotas"]
    owners = set(t["opportunities"]["owner"])
    assert set(quotas["owner"]) == owners and len(owners) == 8
    assert quotas.groupby("owner")["period"].nunique().eq(8).all()
    assert not quotas.duplicated(["owner", "period"]).any()
    assert (quotas["quota"] > 0).all()


KPI_NAMES = {
    "leads", "cost_per_lead", "cost_per_opportunity", "mqls", "sqls", "lead_to_mql_rate",
    "mql_to_sql_rate", "mql_to_opportunity_rate", "lead_to_opportunity_rate",
    "end_to_end_conversion", "opportunity_win_rate", "closed_deal_ratio",
    "customer_acquisition_cost", "marketing_roi", "revenue", "revenue_growth", "revenue_share",
    "revenue_concentration", "average_order_value", "revenue_per_account",
    "sales_cycle_length", "time_in_stage", "pipeline_value", "pipeline_volume",
    "pipeline_coverage", "lead_response_time", "response_within_5_min",
    "touches_to_first_meeting", "product_revenue", "customer_retention_rate", "churn_rate",
    "net_revenue_retention", "gross_revenue_retention", "customer_lifetime_value",
    "clv_to_cac", "cac_payback_months", "click_through_rate", "email_open_rate",
    "engagement_rate", "visit_to_lead_rate", "content_usage_rate", "forecast_accuracy",
}  # fmt: skip


def test_targets_name_catalog_kpis_per_month_or_quarter(t):
    targets = t["targets"]
    assert set(targets["kpi"]) <= KPI_NAMES
    assert {"leads", "cost_per_lead", "opportunity_win_rate", "revenue"} <= set(targets["kpi"])
    assert (targets["period"] == targets["period"].dt.to_period("M").dt.start_time).all()
    assert not targets.duplicated(["kpi", "period"]).any()
    revenue = targets[targets["kpi"] == "revenue"].set_index("period")["target"]
    assert revenue.to_dict() == t["quotas"].groupby("period")["quota"].sum().to_dict()


def test_spend_is_daily_per_campaign_with_both_teams(t):
    spend, leads = t["spend"], t["leads"]
    assert set(spend["team"]) == {"marketing", "sales"}
    marketing = spend[spend["team"] == "marketing"]
    per_campaign = marketing.groupby("campaign")["date"].nunique()
    assert (per_campaign == 731).all()
    assert set(marketing["campaign"]) == set(leads["campaign"])
    pairs = leads[["channel", "campaign"]].drop_duplicates()
    assert pairs["campaign"].is_unique  # a campaign belongs to one channel
    spend_pairs = spend[["channel", "campaign"]].drop_duplicates()
    assert spend_pairs.merge(pairs, how="left", indicator=True)["_merge"].eq("both").all()


def test_campaign_stats_counts_are_consistent(t):
    cs = t["campaign_stats"]
    assert not cs.duplicated(["date", "campaign"]).any()
    assert (cs["impressions"] >= cs["clicks"]).all()
    assert (cs["impressions"] >= cs["engagements"]).all()
    assert (cs["emails_sent"] >= cs["emails_opened"]).all()
    assert cs[["impressions", "clicks", "emails_sent", "sessions"]].sum().gt(0).all()
    ctr = cs.groupby("channel")[["clicks", "impressions"]].sum()
    paid_search = ctr.loc["paid_search"]
    assert 0.02 < paid_search["clicks"] / paid_search["impressions"] < 0.05


def test_content_library(t):
    content = t["content"]
    assert content["title"].notna().all() and content["kind"].notna().all()
    assert content["created_at"].is_monotonic_increasing
    assert content["created_at"].min() < pd.Timestamp("2024-01-01")


# --- the stories --------------------------------------------------------------------------


def test_scoring_change_lifts_mql_to_sql(story):
    rates = _sql(
        """
        SELECT mql_at >= TIMESTAMP '2025-04-01' AS after,
               avg(CASE WHEN sql_at IS NOT NULL THEN 1.0 ELSE 0.0 END) AS rate
        FROM leads WHERE mql_at IS NOT NULL
          AND mql_at < TIMESTAMP '2025-11-01'  -- recent MQLs have not had time to convert
        GROUP BY ALL
        """,
        leads=story["leads"],
    ).set_index("after")["rate"]
    assert rates[True] - rates[False] > 0.1, rates


def test_channels_differ_in_cost_per_lead_and_quality(story):
    spend, leads = story["spend"], story["leads"]
    marketing = spend[spend["team"] == "marketing"].groupby("channel")["amount"].sum()
    cpl = marketing / leads.groupby("channel").size()
    assert cpl.max() / cpl.min() > 2
    assert cpl.idxmax() == "events"
    assert cpl["referral"] < cpl["paid_search"] < cpl["paid_social"]
    sql_rate = leads["sql_at"].notna().groupby(leads["channel"]).mean()
    assert sql_rate["referral"] > 2 * sql_rate["paid_search"]
    assert sql_rate["events"] > sql_rate["paid_social"]


def test_december_is_a_low_month_for_leads(story):
    monthly = story["leads"].groupby(story["leads"]["created_at"].dt.to_period("M")).size()
    december = monthly[monthly.index.month == 12]
    assert (december < monthly.mean()).all()
    assert (december < monthly.shift(1)[december.index]).all()
    summer = monthly[monthly.index.month.isin([7, 8])].mean()
    autumn = monthly[monthly.index.month.isin([9, 10, 11])].mean()
    assert summer < autumn


def test_segments_differ_in_deal_size_and_cycle(story):
    won = story["opportunities"][story["opportunities"]["status"] == "won"]
    size = won.groupby("segment")["amount"].median()
    days = (won["closed_at"] - won["created_at"]).dt.days.groupby(won["segment"]).median()
    assert size["smb"] < size["mid_market"] < size["enterprise"]
    assert days["smb"] < days["mid_market"] < days["enterprise"]
    assert set(story["opportunities"]["product"]) == {
        "Starter",
        "Growth",
        "Enterprise",
        "Analytics Add-on",
    }


def test_reps_differ_in_response_time(story):
    leads = story["leads"]
    minutes = (leads["first_response_at"] - leads["created_at"]).dt.total_seconds() / 60
    median = minutes.groupby(leads["owner"]).median()
    assert median.idxmin() == "Ava Chen" and median["Ava Chen"] < 5
    assert median.idxmax() == "Farid Haddad" and median["Farid Haddad"] > 60


def test_q4_push_makes_december_rich_in_won_revenue():
    tables = demo.generate_tables(0, 20_000)
    opps = tables["opportunities"]
    won = opps[opps["status"] == "won"]
    monthly = won.groupby(won["closed_at"].dt.to_period("M"))["amount"].sum()
    december = monthly[monthly.index.month == 12]
    assert (december > monthly.median()).all()
