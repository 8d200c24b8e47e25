"""Demo company, money and plans: spend, campaign stats, forecasts, quotas and targets."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kpiwidgets.datasets import _demo_config as cfg
from kpiwidgets.datasets._demo_leads import LeadArrays
from kpiwidgets.datasets._demo_sales import WON, DealArrays

# Per channel (CHANNELS order): sessions per lead, click-through rate of ads (0 = no ads),
# booth / page impressions per session where there are no ads, emails per lead, open rate,
# engagement rate of impressions.
_VISIT_TO_LEAD = np.array([0.03, 0.02, 0.015, 0.25, 0.10, 0.05])
_CTR = np.array([0.035, 0.008, 0.02, 0.0, 0.0, 0.0])
_IMPRESSIONS_PER_SESSION = np.array([0.0, 0.0, 0.0, 6.0, 0.0, 0.0])
_EMAILS_PER_LEAD = np.array([0.0, 0.0, 5.0, 15.0, 0.0, 40.0])
_OPEN_RATE = np.array([0.0, 0.0, 0.28, 0.35, 0.0, 0.22])
_ENGAGEMENT_RATE = np.array([0.002, 0.02, 0.03, 0.10, 0.0, 0.0])


def _expected_leads(la: LeadArrays, n: int) -> np.ndarray:
    """Expected leads per (day, campaign): the smooth driver of spend and traffic."""
    per_channel = la.day_channel_weight * n
    return per_channel[:, cfg.CAMPAIGN_CHANNEL] * cfg.CAMPAIGN_SHARE[None, :]


def _day_campaign_columns(rows: np.ndarray, cols: np.ndarray) -> dict[str, pd.Series]:
    channel = cfg.CAMPAIGN_CHANNEL[cols]
    return {
        "date": pd.Series(cfg.to_timestamps(rows.astype(float))),
        "channel": cfg.labels(cfg.CHANNELS, channel),
        "campaign": cfg.labels(cfg.CAMPAIGN_NAMES, cols),
    }


def spend_frame(rng: np.random.Generator, la: LeadArrays, n: int) -> pd.DataFrame:
    """Daily spend per campaign: marketing for every campaign, sales for outbound and events.

    Spend tracks the expected lead volume at each channel's cost per lead (with daily noise),
    so cost per lead is stable whatever ``n_leads`` is.
    """
    expected = _expected_leads(la, n)
    days, campaigns = np.indices(expected.shape)
    channel = cfg.CAMPAIGN_CHANNEL[campaigns]
    frames = []
    for team, cpl in (("marketing", cfg.MARKETING_CPL), ("sales", cfg.SALES_CPL)):
        keep = cpl[channel] > 0
        amount = expected[keep] * cpl[channel[keep]] * np.exp(rng.normal(0.0, 0.25, keep.sum()))
        cols = _day_campaign_columns(days[keep], campaigns[keep])
        cols["team"] = cfg.labels(("marketing", "sales"), np.full(keep.sum(), int(team == "sales")))
        cols["amount"] = pd.Series(np.round(amount, 2))
        frames.append(pd.DataFrame(cols))
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["date", "team"], kind="stable", ignore_index=True)


def campaign_stats_frame(rng: np.random.Generator, la: LeadArrays, n: int) -> pd.DataFrame:
    """Daily engagement per campaign; impressions >= clicks and sent >= opened by construction."""
    expected = _expected_leads(la, n)
    days, campaigns = np.indices(expected.shape)
    days, campaigns, expected = days.ravel(), campaigns.ravel(), expected.ravel()
    ch = cfg.CAMPAIGN_CHANNEL[campaigns]
    m = len(days)
    traffic = expected / _VISIT_TO_LEAD[ch] * np.exp(rng.normal(0.0, 0.2, m))
    ctr = _CTR[ch]
    has_ads = ctr > 0
    impressions = np.where(
        has_ads,
        np.round(traffic / np.where(has_ads, ctr, 1.0) / 0.9),
        np.round(traffic * _IMPRESSIONS_PER_SESSION[ch]),
    ).astype(np.int64)
    clicks = rng.binomial(impressions, ctr)
    sessions = np.where(has_ads, rng.binomial(clicks, 0.9), np.round(traffic).astype(np.int64))
    sent = np.round(expected * _EMAILS_PER_LEAD[ch] * np.exp(rng.normal(0.0, 0.15, m)))
    sent = sent.astype(np.int64)
    opened = rng.binomial(sent, _OPEN_RATE[ch])
    engagements = rng.binomial(impressions, _ENGAGEMENT_RATE[ch])
    cols = _day_campaign_columns(days, campaigns)
    cols.update(
        impressions=impressions,
        clicks=clicks,
        emails_sent=sent,
        emails_opened=opened,
        engagements=engagements,
        sessions=sessions,
    )
    return pd.DataFrame(cols)


def _won_by_owner_quarter(deals: DealArrays, until: np.ndarray | float = np.inf) -> np.ndarray:
    """Won amount per (owner, quarter), counting deals closed before ``until`` only."""
    won = (deals.status == WON) & (deals.closed < until)
    q = np.searchsorted(cfg.QUARTER_STARTS, deals.closed[won], side="right") - 1
    flat = deals.owner[won] * cfg.N_QUARTERS + q
    size = len(cfg.OWNERS) * cfg.N_QUARTERS
    return np.bincount(flat, weights=deals.amount[won], minlength=size).reshape(
        len(cfg.OWNERS), cfg.N_QUARTERS
    )


def forecasts_frame(rng: np.random.Generator, deals: DealArrays) -> pd.DataFrame:
    """Weekly forecast calls for every (owner, quarter) with won deals.

    Snapshots are the Mondays of the quarter. A rep's commit converges from a noisy early call
    to ``actual x bias`` (the rep's habit); best case sits above commit; pipeline is the open
    pipeline at the snapshot plus what is already won in the quarter (never below best case).
    A manager adjusts about a quarter of the later commit calls, halfway towards the truth.
    """
    actual = _won_by_owner_quarter(deals)
    n_owners = len(cfg.OWNERS)
    parts = []
    for q in range(cfg.N_QUARTERS):
        q_start, q_end = cfg.QUARTER_STARTS[q], cfg.QUARTER_STARTS[q + 1]
        first_monday = q_start + (-q_start % 7)  # START (day 0) is a Monday
        snaps = np.arange(first_monday, q_end, 7.0)
        owners = np.flatnonzero(actual[:, q] > 0)
        if len(owners) == 0:
            continue
        a = actual[owners, q][:, None]
        weeks = len(snaps)
        progress = np.arange(weeks)[None, :] / (weeks - 1)
        sigma = 0.35 * (1.0 - progress) + 0.04
        shape = (len(owners), weeks)
        commit = (
            a * cfg.OWNER_FORECAST_BIAS[owners][:, None] * np.exp(rng.normal(0, 1, shape) * sigma)
        )
        best = commit * (1.12 + 0.35 * (1.0 - progress)) * np.exp(rng.normal(0, 0.05, shape))
        best = np.maximum(best, commit * 1.05)
        open_at = np.stack(
            [_open_pipeline(deals, s, n_owners)[owners] for s in snaps], axis=1
        ) + np.stack([_won_by_owner_quarter(deals, s)[owners, q] for s in snaps], axis=1)
        pipeline = np.maximum(open_at, best * 1.05)
        adjust = (progress >= 0.3) & (rng.random(shape) < 0.25)
        manager = commit + 0.5 * (a - commit) * np.exp(rng.normal(0, 0.1, shape))
        for category, values, who, mask in (
            ("commit", commit, "rep", np.ones(shape, bool)),
            ("best_case", best, "rep", np.ones(shape, bool)),
            ("pipeline", pipeline, "rep", np.ones(shape, bool)),
            ("commit", manager, "manager", adjust),
        ):
            o, s = np.nonzero(mask)
            parts.append(
                pd.DataFrame(
                    {
                        "owner": cfg.labels(cfg.OWNERS, owners[o]),
                        "period": cfg.to_timestamps(np.full(len(o), q_start)),
                        "snapshot_date": cfg.to_timestamps(snaps[s]),
                        "category": pd.Series([category] * len(o), dtype="str"),
                        "amount": np.round(values[o, s], -2),
                        "submitted_by": pd.Series([who] * len(o), dtype="str"),
                    }
                )
            )
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["period", "owner", "snapshot_date"], kind="stable", ignore_index=True)


def _open_pipeline(deals: DealArrays, day: float, n_owners: int) -> np.ndarray:
    is_open = (deals.created <= day) & ~(deals.closed <= day)
    return np.bincount(deals.owner[is_open], weights=deals.amount[is_open], minlength=n_owners)


def quotas_frame(deals: DealArrays) -> pd.DataFrame:
    """Quarterly quota per owner: the rep's average quarter, stretched, seasonal and growing."""
    actual = _won_by_owner_quarter(deals)
    base = np.maximum(actual.mean(axis=1), 1_000.0)
    quarter = np.arange(cfg.N_QUARTERS)
    season = np.array([0.95, 1.0, 0.9, 1.15])[quarter % 4]
    growth = 1.0 + 0.05 * (quarter - (cfg.N_QUARTERS - 1) / 2)
    quota = np.round(base[:, None] * 1.1 * season * growth, -3)
    o, q = np.indices(quota.shape)
    return pd.DataFrame(
        {
            "owner": cfg.labels(cfg.OWNERS, o.ravel()),
            "period": cfg.to_timestamps(cfg.QUARTER_STARTS[q.ravel()]),
            "quota": quota.ravel(),
        }
    )


def targets_frame(la: LeadArrays, n: int, quotas: pd.DataFrame) -> pd.DataFrame:
    """Goals for a handful of scorecard KPIs (names from the KPI catalog).

    ``leads`` monthly (plan = expected volume + 5 %); ``revenue`` quarterly (sum of the
    quotas); ``cost_per_lead``, ``mql_to_sql_rate`` (raised when the scoring rule lands),
    ``opportunity_win_rate`` and ``lead_response_time`` quarterly; ``churn_rate`` monthly.
    """
    day_month = np.searchsorted(cfg.MONTH_STARTS, np.arange(cfg.N_DAYS), side="right") - 1
    plan = np.bincount(day_month, weights=la.day_channel_weight.sum(axis=1) * n)
    quarters = cfg.QUARTER_STARTS[: cfg.N_QUARTERS]
    months = cfg.MONTH_STARTS[: cfg.N_MONTHS]
    revenue = quotas.groupby("period", sort=True)["quota"].sum().to_numpy()
    rows = [
        ("leads", months, np.round(plan * 1.05)),
        ("revenue", quarters, revenue),
        ("cost_per_lead", quarters, np.full(cfg.N_QUARTERS, 75.0)),
        (
            "mql_to_sql_rate",
            quarters,
            np.where(quarters >= cfg.SCORING_CHANGE_DAY, 0.45, 0.32),
        ),
        ("opportunity_win_rate", quarters, np.full(cfg.N_QUARTERS, 0.28)),
        ("lead_response_time", quarters, np.full(cfg.N_QUARTERS, 15.0)),
        ("churn_rate", months, np.full(cfg.N_MONTHS, 0.02)),
    ]
    return pd.DataFrame(
        {
            "kpi": pd.Series([k for k, p, _ in rows for _ in p], dtype="str"),
            "period": cfg.to_timestamps(np.concatenate([p for _, p, _ in rows])),
            "target": np.concatenate([t for _, _, t in rows]).astype(float),
        }
    )
