"""Independent cross-check: KPIs of the catalog written as plain DuckDB SQL from their catalog
formulas and docs/kpis.md (not from the implementation), over a generated Dataset (seeded
numpy: a few thousand leads, their touches, deals and stage history, daily spend and stats,
monthly recurring revenue, quotas), equal to ``kw.kpi`` within 1e-9.

The data has what makes the definitions bite: null breakdown values (a group of their own),
sales spend next to marketing spend, open deals, deals closed before they were created and
responses before creation (left out of durations), timestamps with microseconds (durations
are fractional), responses exactly at the 5-minute threshold, null clicks, touches tied with
the meeting, deals moving back a stage, several revenue rows in one account-month (summed),
zero-MRR rows (not a customer), accounts churning and coming back, owner-quarters without a
quota.
"""

from __future__ import annotations

import warnings

import duckdb
import numpy as np
import pandas as pd
import pytest

import kpiwidgets as kw

pytestmark = [
    pytest.mark.filterwarnings("ignore::kpiwidgets.DroppedRowsWarning"),
    pytest.mark.filterwarnings("ignore::kpiwidgets.DataQualityWarning"),
]

START = np.datetime64("2024-01-01T00:00:00", "s")
DAYS = 731  # 2024-01-01 .. 2025-12-31
CHANNELS = np.array(["search", "social", "events", "referral"], dtype=object)
OWNERS = np.array(["ana", "ben", "chloe", "dev"], dtype=object)
SEGMENTS = np.array(["smb", "mid_market", "enterprise"], dtype=object)
PRODUCTS = np.array(["starter", "growth", "enterprise"], dtype=object)


def _with_nulls(rng, values: np.ndarray, share: float) -> np.ndarray:
    out = values.astype(object)
    out[rng.random(len(out)) < share] = None
    return out


def _ts(seconds: np.ndarray, micros: np.ndarray | int = 0) -> pd.Series:
    """START + seconds (+ microseconds: durations keep their fraction of a second)."""
    us = seconds.astype(np.int64) * 1_000_000 + micros
    return pd.Series(START.astype("datetime64[us]") + us.astype("timedelta64[us]"))


def generate(seed: int = 20240607, n_leads: int = 4_000) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    day = 86_400

    # -- leads ------------------------------------------------------------------------------
    created = rng.integers(0, DAYS * day, n_leads)
    channel = _with_nulls(rng, rng.choice(CHANNELS, n_leads), 0.04)
    is_mql = rng.random(n_leads) < 0.4
    mql = created + (rng.exponential(6, n_leads) * day).astype(np.int64)
    is_sql = is_mql & (rng.random(n_leads) < 0.45)
    sql = mql + (rng.exponential(4, n_leads) * day).astype(np.int64)
    answered = rng.random(n_leads) < 0.85
    response = created + (rng.exponential(25, n_leads) * 60).astype(np.int64)
    lead_ids = np.array([f"L{i:05d}" for i in range(n_leads)], dtype=object)
    has_opp = is_sql & (rng.random(n_leads) < 0.7)
    opp_leads = np.flatnonzero(has_opp)
    n_opps = len(opp_leads)
    opp_ids = np.array([f"O{i:05d}" for i in range(n_opps)], dtype=object)
    lead_opp = np.full(n_leads, None, dtype=object)
    lead_opp[opp_leads] = opp_ids
    leads = pd.DataFrame(
        {
            "lead_id": lead_ids,
            "created_at": _ts(created),
            "channel": channel,
            "campaign": [
                None if c is None else f"{c}-{k}"
                for c, k in zip(channel, rng.integers(1, 4, n_leads), strict=True)
            ],
            "owner": rng.choice(OWNERS, n_leads),
            "segment": _with_nulls(rng, rng.choice(SEGMENTS, n_leads), 0.03),
            "mql_at": _ts(mql).where(is_mql),
            "sql_at": _ts(sql).where(is_sql),
            "first_response_at": _ts(response, rng.integers(0, 10**6, n_leads)).where(answered),
            "opportunity_id": lead_opp,
        }
    )

    # Some answered exactly at the 5-minute threshold (inclusive), a few "before" creation
    # (a negative duration: left out).
    exact = answered & (rng.random(n_leads) < 0.05)
    leads.loc[exact, "first_response_at"] = leads["created_at"][exact] + pd.Timedelta(minutes=5)
    early = answered & ~exact & (rng.random(n_leads) < 0.02)
    leads.loc[early, "first_response_at"] = leads["created_at"][early] - pd.Timedelta(minutes=3)

    # -- opportunities ------------------------------------------------------------------------
    opp_created = sql[opp_leads] + rng.integers(0, 3 * day, n_opps)
    status = rng.choice(
        np.array(["won", "lost", "open"], dtype=object), n_opps, p=[0.3, 0.45, 0.25]
    )
    cycle = (rng.gamma(2.0, 15.0, n_opps) * day).astype(np.int64)
    cycle[rng.random(n_opps) < 0.03] *= -1  # closed before created: no cycle length
    closed = opp_created + cycle
    # Keep every close inside the two years (a deal closing later is still open).
    status = np.where((status != "open") & (closed >= DAYS * day), "open", status).astype(object)
    opps = pd.DataFrame(
        {
            "opportunity_id": opp_ids,
            "lead_id": lead_ids[opp_leads],
            # Accounts: a few accounts win more than one deal.
            "account_id": np.array(
                [f"A{i:04d}" for i in rng.integers(0, int(n_opps * 0.8), n_opps)], dtype=object
            ),
            "owner": rng.choice(OWNERS, n_opps),
            "channel": channel[opp_leads],
            "segment": rng.choice(SEGMENTS, n_opps),
            "product": _with_nulls(rng, rng.choice(PRODUCTS, n_opps), 0.05),
            "created_at": _ts(opp_created, rng.integers(0, 10**6, n_opps)),
            "closed_at": _ts(closed, rng.integers(0, 10**6, n_opps)).where(status != "open"),
            "status": status,
            "amount": np.round(rng.lognormal(9.5, 1.0, n_opps), 2),
            "expected_close_at": _ts(
                opp_created + rng.integers(0, 120, n_opps) * day + rng.integers(0, day, n_opps)
            ),
        }
    )
    quarters = pd.date_range("2024-01-01", periods=8, freq="QS")
    quotas = pd.DataFrame(
        [(o, q, float(rng.integers(50, 200) * 1_000)) for o in OWNERS for q in quarters],
        columns=["owner", "period", "quota"],
    )
    quotas["period"] = quotas["period"].astype("datetime64[us]")
    quotas = quotas.drop(index=[3, 17]).reset_index(drop=True)  # two owner-quarters without

    # -- spend: per day, channel, campaign and team ------------------------------------------
    grid = pd.MultiIndex.from_product(
        [np.arange(DAYS), [*CHANNELS, None], [1, 2], ["marketing", "sales"]],
        names=["day", "channel", "k", "team"],
    ).to_frame(index=False)
    grid = grid[(grid["team"] == "marketing") | (grid["k"] == 1)]
    grid = grid[rng.random(len(grid)) < 0.8].reset_index(drop=True)
    spend = pd.DataFrame(
        {
            "date": _ts(grid["day"].to_numpy() * day),
            "channel": grid["channel"].astype(object),
            "campaign": [
                None if c is None else f"{c}-{k}"
                for c, k in zip(grid["channel"], grid["k"], strict=True)
            ],
            "team": grid["team"].astype(object),
            "amount": np.round(rng.uniform(0, 400, len(grid)), 2),
        }
    )

    # -- campaign stats: per day and campaign -------------------------------------------------
    stats_grid = pd.MultiIndex.from_product(
        [np.arange(DAYS), CHANNELS, [1, 2]], names=["day", "channel", "k"]
    ).to_frame(index=False)
    n_stats = len(stats_grid)
    impressions = rng.integers(0, 5_000, n_stats).astype(float)
    clicks = np.floor(impressions * rng.uniform(0, 0.05, n_stats))
    clicks[rng.random(n_stats) < 0.02] = np.nan
    stats = pd.DataFrame(
        {
            "date": _ts(stats_grid["day"].to_numpy() * day),
            "channel": stats_grid["channel"].astype(object),
            "campaign": [
                f"{c}-{k}" for c, k in zip(stats_grid["channel"], stats_grid["k"], strict=True)
            ],
            "impressions": impressions,
            "clicks": clicks,
            "sessions": np.floor(impressions * rng.uniform(0, 0.1, n_stats)),
        }
    )

    # -- revenue: monthly MRR rows per account ------------------------------------------------
    months = pd.date_range("2024-01-01", periods=24, freq="MS")
    rows = []
    for a in range(300):
        first = int(rng.integers(0, 20))
        last = int(min(23, first + rng.geometric(0.08)))
        mrr = float(rng.integers(50, 2_000))
        gap = int(rng.integers(first, last + 1)) if rng.random() < 0.15 else -1
        for m in range(first, last + 1):
            mrr = max(0.0, round(mrr * rng.choice([1.0, 1.0, 1.0, 1.1, 0.9]), 2))
            value = 0.0 if m == gap else mrr  # a zero row: not a customer that month
            when = months[m] + pd.Timedelta(days=int(rng.integers(0, 20)))  # any day of it
            if rng.random() < 0.1:  # two rows in one month: their sum is the MRR
                rows.append((f"A{a:04d}", when, round(value / 2, 2)))
                value = round(value - round(value / 2, 2), 2)
            rows.append((f"A{a:04d}", when, value))
    revenue = pd.DataFrame(rows, columns=["account_id", "month", "mrr"])
    revenue["month"] = revenue["month"].astype("datetime64[us]")

    # -- touches: a few per lead, some meetings (several for some leads) ------------------------
    per_lead = rng.integers(0, 7, n_leads)
    owner = np.repeat(np.arange(n_leads), per_lead)
    n_touches = len(owner)
    touch_kinds = np.array(["email", "call", "meeting", "content"], dtype=object)
    at = created[owner] + rng.integers(0, 60, n_touches) * day  # whole days: ties happen
    touches = pd.DataFrame(
        {
            "lead_id": lead_ids[owner],
            "timestamp": _ts(at),
            "kind": rng.choice(touch_kinds, n_touches, p=[0.4, 0.3, 0.15, 0.15]),
        }
    )

    # -- stage history: each deal walks the stages, sometimes back a step ---------------------
    stages = ["lead", "qualified", "proposal", "negotiation"]
    entries = []
    for i in range(n_opps):
        t = int(opp_created[i]) * 1_000_000
        path = stages[: int(rng.integers(1, 5))]
        if len(path) > 2 and rng.random() < 0.2:  # back to the previous stage, then on
            path = [*path[:-1], path[-2], path[-1]]
        if status[i] != "open":
            path = [*path, "closed_won" if status[i] == "won" else "closed_lost"]
        for stage in path:
            entries.append((opp_ids[i], stage, t))
            t += int(rng.integers(3_600, 30 * day)) * 1_000_000 + int(rng.integers(0, 10**6))
    history = pd.DataFrame(entries, columns=["opportunity_id", "stage", "us"])
    history["entered_at"] = START.astype("datetime64[us]") + history.pop("us").to_numpy(
        dtype="timedelta64[us]"
    )

    return {
        "leads": leads,
        "touches": touches,
        "opportunities": opps,
        "stage_history": history,
        "spend": spend,
        "campaign_stats": stats,
        "revenue": revenue,
        "quotas": quotas,
    }


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return generate()


@pytest.fixture(scope="module")
def ds(frames) -> kw.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return kw.Dataset(**frames)


def sql(frames: dict[str, pd.DataFrame], query: str) -> pd.DataFrame:
    """Run ``query`` with the generated frames as tables (the user's frames, as given)."""
    con = duckdb.connect()
    for name, frame in frames.items():
        con.register(name, frame)
    return con.sql(query).df()


def assert_matches(got: pd.DataFrame, expected: pd.DataFrame, keys: list[str]) -> None:
    """Same keys row by row (sorted, nulls last) and the same numbers to 1e-9."""
    assert len(expected) > 0, "the SQL found nothing to compare"
    got = got.sort_values(keys, na_position="last").reset_index(drop=True)
    expected = expected.sort_values(keys, na_position="last").reset_index(drop=True)
    if len(got) != len(expected):
        g = set(map(tuple, got[keys].astype(str).to_numpy()))
        e = set(map(tuple, expected[keys].astype(str).to_numpy()))
        pytest.fail(f"keys only in kw.kpi: {sorted(g - e)}; only in SQL: {sorted(e - g)}")
    for k in keys:
        g, e = got[k], expected[k]
        if k == "period":
            g, e = pd.to_datetime(g).astype("datetime64[ns]"), pd.to_datetime(e)
            e = e.astype("datetime64[ns]")
        g = g.astype(object).where(g.notna(), None).tolist()
        e = e.astype(object).where(e.notna(), None).tolist()
        assert g == e, k
    for c in expected.columns.difference(keys):
        np.testing.assert_allclose(
            got[c].to_numpy(float),
            expected[c].to_numpy(float),
            rtol=1e-9,
            atol=1e-9,
            equal_nan=True,
            err_msg=c,
        )


# A null breakdown value is a group of its own, also where a KPI joins two of its parts on
# the keys (revenue_growth, customer_lifetime_value, clv_to_cac, cac_payback_months).
GROUPS = [pytest.param("named", id="named-groups"), pytest.param("null", id="null")]


def only(frame: pd.DataFrame, column: str, groups: str) -> pd.DataFrame:
    """The rows of the named groups of ``column``, or of its null group."""
    keep = frame[column].isna() if groups == "null" else frame[column].notna()
    return frame[keep.to_numpy()]


def test_generated_data_has_the_hard_cases(frames, ds):
    leads, opps, revenue = frames["leads"], frames["opportunities"], frames["revenue"]
    assert len(leads) == 4_000 and len(opps) > 300
    assert leads["channel"].isna().sum() > 50 and frames["spend"]["channel"].isna().sum() > 50
    assert (opps["closed_at"] < opps["created_at"]).sum() > 3
    assert set(opps["status"]) == {"won", "lost", "open"}
    assert (
        revenue.assign(m=revenue["month"].dt.to_period("M")).duplicated(["account_id", "m"]).any()
    )
    assert (revenue["mrr"] == 0).any()
    assert frames["campaign_stats"]["clicks"].isna().any()
    # The Dataset keeps every row as given: SQL over the raw frames sees the same data.
    for name, frame in frames.items():
        assert len(ds[name]) == len(frame), name


def test_cost_per_lead_by_channel_and_quarter(frames, ds):
    expected = sql(
        frames,
        """
        with s as (
            select date_trunc('quarter', date) as period, channel, sum(amount) as spend
            from spend where team = 'marketing' group by all
        ), l as (
            select date_trunc('quarter', created_at) as period, channel, count(*) as leads
            from leads group by all
        )
        select coalesce(s.period, l.period) as period, coalesce(s.channel, l.channel) as channel,
               coalesce(spend, 0) / nullif(coalesce(leads, 0), 0) as value,
               coalesce(spend, 0) as numerator, coalesce(leads, 0) as denominator,
               coalesce(leads, 0) as n
        from s full join l on s.period = l.period and s.channel is not distinct from l.channel
        """,
    )
    expected["value"] = expected["value"].astype(float)  # NULL (no leads) -> NaN
    got = kw.kpi("cost_per_lead", ds, by="channel", period="Q")
    assert_matches(got, expected, ["period", "channel"])


def test_cost_per_lead_in_a_date_range(frames, ds):
    # [start, end) on both tables: spend by its date, leads by their creation.
    expected = sql(
        frames,
        """
        select (select sum(amount) from spend where team = 'marketing'
                  and date >= '2024-02-15' and date < '2025-03-01') as numerator,
               (select count(*) from leads
                  where created_at >= '2024-02-15' and created_at < '2025-03-01') as denominator
        """,
    )
    expected["value"] = expected["numerator"] / expected["denominator"]
    expected["n"] = expected["denominator"]
    got = kw.kpi("cost_per_lead", ds, start="2024-02-15", end="2025-03-01")
    np.testing.assert_allclose(
        got[["value", "numerator", "denominator", "n"]].to_numpy(float),
        expected[["value", "numerator", "denominator", "n"]].to_numpy(float),
        rtol=1e-9,
    )


def test_lead_to_mql_rate_by_quarter(frames, ds):
    expected = sql(
        frames,
        """
        select date_trunc('quarter', created_at) as period,
               count(mql_at) / count(*) as value,
               count(mql_at) as numerator, count(*) as denominator, count(*) as n
        from leads group by all
        """,
    )
    got = kw.kpi("lead_to_mql_rate", ds, period="Q")
    assert_matches(got, expected, ["period"])


def test_mql_to_sql_rate_by_segment_and_month(frames, ds):
    # The MQLs of the month (by mql_at), the share that became SQL.
    expected = sql(
        frames,
        """
        select date_trunc('month', mql_at) as period, segment,
               count(sql_at) / count(*) as value,
               count(sql_at) as numerator, count(*) as denominator, count(*) as n
        from leads where mql_at is not null group by all
        """,
    )
    got = kw.kpi("mql_to_sql_rate", ds, by="segment", period="M")
    assert_matches(got, expected, ["period", "segment"])


def test_opportunity_win_rate_by_quarter(frames, ds):
    expected = sql(
        frames,
        """
        select date_trunc('quarter', closed_at) as period,
               count(*) filter (status = 'won') / count(*) as value,
               count(*) filter (status = 'won') as numerator, count(*) as denominator,
               count(*) as n
        from opportunities
        where status in ('won', 'lost') and closed_at is not null
        group by all
        """,
    )
    got = kw.kpi("opportunity_win_rate", ds, period="Q")
    assert_matches(got, expected, ["period"])


def test_end_to_end_conversion_by_segment_and_year(frames, ds):
    expected = sql(
        frames,
        """
        select date_trunc('year', l.created_at) as period, l.segment,
               count(o.opportunity_id) / count(*) as value,
               count(o.opportunity_id) as numerator, count(*) as denominator, count(*) as n
        from leads l
        left join opportunities o on o.opportunity_id = l.opportunity_id and o.status = 'won'
        group by all
        """,
    )
    got = kw.kpi("end_to_end_conversion", ds, by="segment", period="Y")
    assert_matches(got, expected, ["period", "segment"])


def test_average_order_value_by_channel_and_quarter(frames, ds):
    expected = sql(
        frames,
        """
        select date_trunc('quarter', closed_at) as period, channel,
               sum(amount) / count(*) as value,
               sum(amount) as numerator, count(*) as denominator, count(*) as n
        from opportunities where status = 'won' and closed_at is not null
        group by all
        """,
    )
    got = kw.kpi("average_order_value", ds, by="channel", period="Q")
    assert_matches(got, expected, ["period", "channel"])


def test_revenue_by_product_and_month(frames, ds):
    expected = sql(
        frames,
        """
        select date_trunc('month', closed_at) as period, product,
               sum(amount) as value, count(*) as n
        from opportunities where status = 'won' and closed_at is not null
        group by all
        """,
    )
    got = kw.kpi("revenue", ds, by="product", period="M")
    assert_matches(got, expected, ["period", "product"])


def test_sales_cycle_length_median_days_by_quarter(frames, ds):
    # Won deals by close date; a deal closed before it was created has no cycle length.
    expected = sql(
        frames,
        """
        with won as (
            select closed_at, epoch(closed_at - created_at) / 86400 as days
            from opportunities where status = 'won' and closed_at is not null
        )
        select date_trunc('quarter', closed_at) as period, median(days) as value,
               count(*) as n
        from won where days >= 0 group by all
        """,
    )
    got = kw.kpi("sales_cycle_length", ds, period="Q")
    assert_matches(got, expected, ["period"])
    assert sum(got.attrs["dropped_rows"].values()) > 0  # the negative ones, counted


def test_lead_response_time_median_minutes_by_owner_and_year(frames, ds):
    # Answered leads; minutes = seconds / 60 with the fraction of a second kept; a response
    # before creation is left out.
    expected = sql(
        frames,
        """
        select date_trunc('year', created_at) as period, owner,
               median(epoch(first_response_at - created_at) / 60) as value, count(*) as n
        from leads where first_response_at >= created_at group by all
        """,
    )
    got = kw.kpi("lead_response_time", ds, by="owner", period="Y")
    assert_matches(got, expected, ["period", "owner"])


def test_response_within_5_min_by_channel_and_month(frames, ds):
    # Of the leads created (unanswered ones count as not answered; negative ones left out),
    # the share answered within 5 minutes, 5:00.000 included.
    expected = sql(
        frames,
        """
        select date_trunc('month', created_at) as period, channel,
               count(*) filter (first_response_at <= created_at + interval 5 minute) / count(*)
                   as value,
               count(*) filter (first_response_at <= created_at + interval 5 minute)
                   as numerator,
               count(*) as denominator, count(*) as n
        from leads where first_response_at is null or first_response_at >= created_at
        group by all
        """,
    )
    got = kw.kpi("response_within_5_min", ds, by="channel", period="M")
    assert_matches(got, expected, ["period", "channel"])
    assert got.attrs["dropped_rows"]["answered before created"] > 0


def test_touches_to_first_meeting_by_channel_and_quarter(frames, ds):
    # Leads with a meeting, by the day of their first one: how many touches (not meetings)
    # came strictly before it.
    expected = sql(
        frames,
        """
        with first as (
            select lead_id, min(timestamp) as meeting from touches
            where kind = 'meeting' group by all
        ), counted as (
            select f.lead_id, f.meeting,
                   count(t.lead_id) filter (t.kind != 'meeting' and t.timestamp < f.meeting) as k
            from first f join touches t using (lead_id) group by all
        )
        select date_trunc('quarter', meeting) as period, l.channel, median(k) as value,
               count(*) as n
        from counted c join leads l using (lead_id) group by all
        """,
    )
    got = kw.kpi("touches_to_first_meeting", ds, by="channel", period="Q")
    assert_matches(got, expected, ["period", "channel"])


def test_time_in_stage_by_stage_and_quarter(frames, ds):
    # Fractional days from entering a stage to the deal's next entry (the last one has none).
    expected = sql(
        frames,
        """
        with steps as (
            select stage, entered_at,
                   lead(entered_at) over (partition by opportunity_id order by entered_at) as nxt
            from stage_history
        )
        select date_trunc('quarter', entered_at) as period, stage,
               median(epoch(nxt - entered_at) / 86400) as value, count(*) as n
        from steps where nxt is not null group by all
        """,
    )
    got = kw.kpi("time_in_stage", ds, period="Q")  # by stage, its default
    assert_matches(got, expected, ["period", "stage"])


def test_stage_conversion_by_stage(frames, ds):
    # Entries into an open stage, the share followed by another entry.
    expected = sql(
        frames,
        """
        with steps as (
            select stage,
                   lead(entered_at) over (partition by opportunity_id order by entered_at) as nxt
            from stage_history
        )
        select stage, count(nxt) / count(*) as value, count(nxt) as numerator,
               count(*) as denominator, count(*) as n
        from steps where stage not in ('closed_won', 'closed_lost') group by all
        """,
    )
    got = kw.kpi("stage_conversion", ds)
    assert_matches(got, expected, ["stage"])


def test_click_through_rate_by_channel(frames, ds):
    expected = sql(
        frames,
        """
        select channel, sum(clicks) / sum(impressions) as value,
               coalesce(sum(clicks), 0) as numerator, sum(impressions) as denominator,
               count(*) as n
        from campaign_stats group by all
        """,
    )
    got = kw.kpi("click_through_rate", ds, by="channel")
    assert_matches(got, expected, ["channel"])


# Customers: an account's MRR in a month is the sum of its rows in that calendar month; it is
# a customer that month when that MRR is above 0. A quarter's opening customers are those of
# the month before it, its closing customers those of its last month in the data.
CUSTOMERS_BY_QUARTER = """
with mrr as (
    select account_id, date_trunc('month', month) as m, sum(mrr) as mrr
    from revenue group by all having sum(mrr) > 0
), quarters as (
    select date_trunc('quarter', m) as period, max(m) as last_month
    from mrr group by all
), opening as (
    select q.period, r.account_id, r.mrr
    from quarters q join mrr r on r.m = q.period - interval 1 month
), closing as (
    select q.period, r.account_id, r.mrr
    from quarters q join mrr r on r.m = q.last_month
), balances as (
    select o.period, o.account_id, o.mrr as start_mrr, coalesce(c.mrr, 0) as end_mrr
    from opening o left join closing c on c.period = o.period and c.account_id = o.account_id
), attrs as (
    -- an account's breakdown values: those of its first won opportunity
    select account_id, channel from (
        select account_id, channel,
               row_number() over (partition by account_id order by closed_at) as k
        from opportunities
        where status = 'won' and account_id is not null and closed_at is not null
    ) where k = 1
)
"""


def test_churn_rate_by_quarter(frames, ds):
    expected = sql(
        frames,
        CUSTOMERS_BY_QUARTER
        + """
        select period, count(*) filter (end_mrr = 0) / count(*) as value,
               count(*) filter (end_mrr = 0) as numerator, count(*) as denominator,
               count(*) as n
        from balances group by all
        """,
    )
    got = kw.kpi("churn_rate", ds, period="Q")
    assert_matches(got, expected, ["period"])


def test_net_revenue_retention_by_quarter(frames, ds):
    expected = sql(
        frames,
        CUSTOMERS_BY_QUARTER
        + """
        select period, sum(end_mrr) / sum(start_mrr) as value,
               sum(end_mrr) as numerator, sum(start_mrr) as denominator, count(*) as n
        from balances group by all
        """,
    )
    got = kw.kpi("net_revenue_retention", ds, period="Q")
    assert_matches(got, expected, ["period"])


def test_customer_retention_rate_by_channel_and_quarter(frames, ds):
    # Accounts without a won deal have no channel: a null group of their own.
    expected = sql(
        frames,
        CUSTOMERS_BY_QUARTER
        + """
        select b.period, a.channel, count(*) filter (end_mrr > 0) / count(*) as value,
               count(*) filter (end_mrr > 0) as numerator, count(*) as denominator,
               count(*) as n
        from balances b left join attrs a using (account_id) group by all
        """,
    )
    assert expected["channel"].isna().any()
    got = kw.kpi("customer_retention_rate", ds, by="channel", period="Q")
    assert_matches(got, expected, ["period", "channel"])


def test_revenue_per_account_by_quarter(frames, ds):
    # The closing customers (new ones included): Σ MRR / accounts.
    expected = sql(
        frames,
        CUSTOMERS_BY_QUARTER
        + """
        select period, sum(mrr) / count(*) as value, sum(mrr) as numerator,
               count(*) as denominator, count(*) as n
        from closing group by all
        """,
    )
    got = kw.kpi("revenue_per_account", ds, period="Q")
    assert_matches(got, expected, ["period"])


def test_customer_lifetime_value_by_quarter(frames, ds):
    # ARPA at the close × margin / monthly churn pooled over the quarter's months: a
    # customer of month m is lost when it is not one in m + 1 (counted in the period of m + 1,
    # once m + 1 is in the data).
    expected = sql(
        frames,
        CUSTOMERS_BY_QUARTER
        + """
        , pairs as (
            select date_trunc('quarter', r.m + interval 1 month) as period,
                   (nxt.account_id is null)::int as lost
            from mrr r
            left join mrr nxt on nxt.account_id = r.account_id and nxt.m = r.m + interval 1 month
            where r.m < (select max(m) from mrr)
        ), churn as (
            select period, sum(lost) / count(*) as churn, count(*) as n from pairs group by all
        ), arpa as (
            select period, sum(mrr) / count(*) as arpa from closing group by all
        )
        select period, arpa * 0.8 / nullif(churn, 0) as value, arpa * 0.8 as numerator,
               churn as denominator, n
        from arpa join churn using (period)
        """,
    )
    expected["value"] = expected["value"].astype(float)
    got = kw.kpi("customer_lifetime_value", ds, period="Q", gross_margin=0.8)
    assert_matches(got, expected, ["period"])


CUSTOMER_PARTS_BY_CHANNEL = (
    CUSTOMERS_BY_QUARTER
    + """
    , pairs as (
        select date_trunc('quarter', r.m + interval 1 month) as period, a.channel,
               (nxt.account_id is null)::int as lost
        from mrr r
        left join mrr nxt on nxt.account_id = r.account_id and nxt.m = r.m + interval 1 month
        left join attrs a on a.account_id = r.account_id
        where r.m < (select max(m) from mrr)
    ), churn as (
        select period, channel, sum(lost) / count(*) as churn, count(*) as n
        from pairs group by all
    ), arpa as (
        select c.period, a.channel, sum(c.mrr) / count(*) as arpa
        from closing c left join attrs a using (account_id) group by all
    ), spend_q as (
        select date_trunc('quarter', date) as period, channel, sum(amount) as spend
        from spend group by all
    ), firsts as (
        select account_id, channel, closed_at from (
            select account_id, channel, closed_at,
                   row_number() over (partition by account_id order by closed_at) as k
            from opportunities
            where status = 'won' and account_id is not null and closed_at is not null
        ) where k = 1
    ), new_q as (
        select date_trunc('quarter', closed_at) as period, channel, count(*) as customers
        from firsts group by all
    ), cac as (
        select coalesce(s.period, c.period) as period, coalesce(s.channel, c.channel) as channel,
               coalesce(spend, 0) / nullif(coalesce(customers, 0), 0) as cac,
               coalesce(customers, 0) as n
        from spend_q s full join new_q c
          on s.period = c.period and s.channel is not distinct from c.channel
    )
    """
)


@pytest.mark.parametrize("groups", GROUPS)
def test_customer_lifetime_value_by_channel_and_quarter(frames, ds, groups):
    # The accounts' channel is that of their first won deal; accounts without one (or whose
    # deal has no channel) are the null group, which ARPA and churn both have.
    expected = sql(
        frames,
        CUSTOMER_PARTS_BY_CHANNEL
        + """
        select arpa.period, arpa.channel, arpa / nullif(churn, 0) as value,
               arpa as numerator, churn as denominator, n
        from arpa join churn on arpa.period = churn.period
         and arpa.channel is not distinct from churn.channel
        """,
    )
    expected["value"] = expected["value"].astype(float)
    assert expected["channel"].isna().any()
    got = kw.kpi("customer_lifetime_value", ds, by="channel", period="Q")
    assert_matches(
        only(got, "channel", groups), only(expected, "channel", groups), ["period", "channel"]
    )


@pytest.mark.parametrize("groups", GROUPS)
def test_cac_payback_months_by_channel_and_quarter(frames, ds, groups):
    # CAC / (ARPA × margin), per quarter and channel where both are known.
    expected = sql(
        frames,
        CUSTOMER_PARTS_BY_CHANNEL
        + """
        select cac.period, cac.channel,
               case when arpa > 0 and cac is not null then cac / (arpa * 0.5) end as value,
               cac as numerator, arpa * 0.5 as denominator, cac.n
        from cac join arpa on arpa.period = cac.period
         and arpa.channel is not distinct from cac.channel
        """,
    )
    expected[["value", "numerator"]] = expected[["value", "numerator"]].astype(float)
    assert expected["channel"].isna().any()
    got = kw.kpi("cac_payback_months", ds, by="channel", period="Q", gross_margin=0.5)
    assert_matches(
        only(got, "channel", groups), only(expected, "channel", groups), ["period", "channel"]
    )


def test_customer_acquisition_cost_by_quarter(frames, ds):
    # (marketing + sales spend) / accounts whose first won deal closed in the quarter.
    expected = sql(
        frames,
        """
        with s as (
            select date_trunc('quarter', date) as period, sum(amount) as spend
            from spend where team in ('marketing', 'sales') group by all
        ), firsts as (
            select account_id, min(closed_at) as first_win from opportunities
            where status = 'won' and closed_at is not null and account_id is not null
            group by all
        ), c as (
            select date_trunc('quarter', first_win) as period, count(*) as customers
            from firsts group by all
        )
        select coalesce(s.period, c.period) as period,
               coalesce(spend, 0) / nullif(coalesce(customers, 0), 0) as value,
               coalesce(spend, 0) as numerator, coalesce(customers, 0) as denominator,
               coalesce(customers, 0) as n
        from s full join c on s.period = c.period
        """,
    )
    expected["value"] = expected["value"].astype(float)
    got = kw.kpi("customer_acquisition_cost", ds, period="Q")
    assert_matches(got, expected, ["period"])


@pytest.mark.parametrize("groups", GROUPS)
def test_revenue_growth_by_channel_and_quarter(frames, ds, groups):
    # Each channel's won amount against its own previous quarter (0 there: NaN); the deals
    # without a channel are a group of their own, like in revenue by channel.
    expected = sql(
        frames,
        """
        with r as (
            select date_trunc('quarter', closed_at) as period, channel,
                   sum(amount) as revenue, count(*) as n
            from opportunities where status = 'won' and closed_at is not null group by all
        )
        select r.period, r.channel,
               r.revenue / nullif(coalesce(p.revenue, 0), 0) - 1 as value,
               r.revenue as numerator, coalesce(p.revenue, 0) as denominator, r.n
        from r left join r p
          on p.period = r.period - interval 3 month and p.channel is not distinct from r.channel
        """,
    )
    expected["value"] = expected["value"].astype(float)
    assert expected["channel"].isna().any() and expected["channel"].notna().any()
    got = kw.kpi("revenue_growth", ds, by="channel", period="Q")
    assert_matches(
        only(got, "channel", groups), only(expected, "channel", groups), ["period", "channel"]
    )


def test_revenue_concentration_by_year(frames, ds):
    # Herfindahl: Σ over channels (a null channel is one) of (channel's share of won amount)².
    expected = sql(
        frames,
        """
        with a as (
            select date_trunc('year', closed_at) as period, channel, sum(amount) as amount
            from opportunities where status = 'won' and closed_at is not null group by all
        )
        select period, sum(pow(amount / total, 2)) as value, count(*) as n
        from (select *, sum(amount) over (partition by period) as total from a)
        where amount > 0 group by all
        """,
    )
    got = kw.kpi("revenue_concentration", ds, period="Y")
    assert_matches(got, expected, ["period"])


def test_marketing_roi_by_channel_and_year(frames, ds):
    # Won revenue of the deals whose lead came from the channel, against its marketing spend.
    expected = sql(
        frames,
        """
        with r as (
            select date_trunc('year', o.closed_at) as period, l.channel, sum(o.amount) as revenue
            from opportunities o left join leads l using (lead_id)
            where o.status = 'won' and o.closed_at is not null group by all
        ), s as (
            select date_trunc('year', date) as period, channel, sum(amount) as spend
            from spend where team = 'marketing' group by all
        )
        select coalesce(r.period, s.period) as period, coalesce(r.channel, s.channel) as channel,
               coalesce(revenue, 0) / nullif(coalesce(spend, 0), 0) - 1 as value,
               coalesce(revenue, 0) as numerator, coalesce(spend, 0) as denominator
        from r full join s on r.period = s.period and r.channel is not distinct from s.channel
        """,
    )
    expected["value"] = expected["value"].astype(float)
    got = kw.kpi("marketing_roi", ds, by="channel", period="Y")
    assert_matches(got.drop(columns="n"), expected, ["period", "channel"])


def test_pipeline_coverage_by_owner_and_quarter(frames, ds):
    # At each quota quarter's start S: the amount of the deals open at S (created before it,
    # not closed by it) expected to close in the quarter, against the quarter's quota.
    expected = sql(
        frames,
        """
        with q as (
            select date_trunc('quarter', period) as period, owner, sum(quota) as quota,
                   count(*) as rows
            from quotas group by all
        ), starts as (select distinct period from q), pipe as (
            select s.period, o.owner, sum(o.amount) as pipeline
            from starts s join opportunities o
              on o.created_at < s.period
             and (o.closed_at is null or o.closed_at >= s.period)
             and o.expected_close_at >= s.period
             and o.expected_close_at < s.period + interval 3 month
            group by all
        )
        select coalesce(q.period, pipe.period) as period, coalesce(q.owner, pipe.owner) as owner,
               coalesce(pipeline, 0) / nullif(coalesce(quota, 0), 0) as value,
               coalesce(pipeline, 0) as numerator, coalesce(quota, 0) as denominator,
               coalesce(rows, 0) as n
        from q full join pipe on q.period = pipe.period and q.owner = pipe.owner
        """,
    )
    expected["value"] = expected["value"].astype(float)
    assert expected["value"].isna().any()  # an owner-quarter with pipeline but no quota
    got = kw.kpi("pipeline_coverage", ds, by="owner", period="Q")
    assert_matches(got, expected, ["period", "owner"])


def test_pipeline_value_at_each_quarter_end(frames, ds):
    # Open at the quarter's end: created before it and not closed by then (closed at or after
    # the end, or never). Every quarter from the first creation to the latest timestamp.
    expected = sql(
        frames,
        """
        with q as (
            select unnest(generate_series(
                (select date_trunc('quarter', min(created_at)) from opportunities),
                (select date_trunc('quarter', greatest(max(created_at), max(closed_at)))
                   from opportunities),
                interval 3 month)) as period
        )
        select q.period, coalesce(sum(o.amount), 0) as value, count(o.amount) as n
        from q left join opportunities o
          on o.created_at < q.period + interval 3 month
         and (o.closed_at is null or o.closed_at >= q.period + interval 3 month)
        group by all
        """,
    )
    got = kw.kpi("pipeline_value", ds, period="Q")
    assert_matches(got, expected, ["period"])


def test_pipeline_value_in_a_month_without_new_deals(frames):
    # A quiet month (no deal created) still has its snapshot of the deals open at its end.
    # (Missing before 3f8e767: the grid came from the months with a creation.)
    # The same deals, but none created in 2024-06 .. 2024-08 (moved to 2024-09-01).
    opps = frames["opportunities"].copy()
    quiet = (opps["created_at"] >= "2024-06-01") & (opps["created_at"] < "2024-09-01")
    opps.loc[quiet, "created_at"] = pd.Timestamp("2024-09-01")
    opps = opps[opps["closed_at"].isna() | (opps["closed_at"] >= opps["created_at"])]
    expected = sql(
        {"opportunities": opps},
        """
        with m as (
            select unnest(generate_series(
                (select date_trunc('month', min(created_at)) from opportunities),
                (select date_trunc('month', greatest(max(created_at), max(closed_at)))
                   from opportunities),
                interval 1 month)) as period
        )
        select m.period, coalesce(sum(o.amount), 0) as value, count(o.amount) as n
        from m left join opportunities o
          on o.created_at < m.period + interval 1 month
         and (o.closed_at is null or o.closed_at >= m.period + interval 1 month)
        group by all
        """,
    )
    quiet_months = expected.set_index("period").sort_index().loc["2024-06-01":"2024-08-01"]
    assert len(quiet_months) == 3 and (quiet_months["n"] > 0).all()  # open deals to count
    got = kw.kpi("pipeline_value", kw.Dataset(opportunities=opps), period="M")
    assert_matches(got, expected, ["period"])
