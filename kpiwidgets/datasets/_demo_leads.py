"""Demo company, marketing side: leads, their lifecycle, touches and content."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kpiwidgets.datasets import _demo_config as cfg


@dataclass
class LeadArrays:
    """The lead population as numpy arrays (times in float days since START, NaN = never).

    Sorted by creation time; ``index`` i is lead ``L{i + 1}``. The sales generator and the
    spend / campaign generators work from these arrays rather than from the frames.
    """

    created: np.ndarray
    channel: np.ndarray
    campaign: np.ndarray
    segment: np.ndarray
    owner: np.ndarray
    first_response: np.ndarray
    mql: np.ndarray
    sql: np.ndarray
    opportunity: np.ndarray  # time the opportunity was created
    day_channel_weight: np.ndarray  # (N_DAYS, channels) expected share of leads per day


def daily_channel_weights() -> np.ndarray:
    """Expected share of all leads per (day, channel); sums to 1."""
    days = np.arange(cfg.N_DAYS)
    dates = cfg.START + days
    month = (dates.astype("datetime64[M]").astype(int)) % 12
    weekday = (dates.astype(int) + 3) % 7  # 1970-01-01 was a Thursday
    growth = 1.0 + cfg.GROWTH_OVER_PERIOD * days / cfg.N_DAYS
    base = growth * cfg.MONTH_FACTOR[month] * cfg.WEEKDAY_FACTOR[weekday]
    by_channel = np.ones((cfg.N_DAYS, len(cfg.CHANNELS)))
    by_channel[:, cfg.CHANNELS.index("events")] = cfg.EVENTS_MONTH_FACTOR[month]
    weights = base[:, None] * by_channel * cfg.CHANNEL_SHARE[None, :]
    return weights / weights.sum()


def _stage_after(rng, n, start, p, delay):
    """Time a stage is reached: ``start + delay`` with probability ``p``, else NaN.

    A stage not reached before the end of the data is NaN too (not observed yet).
    """
    reached = ~np.isnan(start) & (rng.random(n) < p)
    t = np.where(reached, start + delay, np.nan)
    t[t >= cfg.N_DAYS] = np.nan
    return t


def generate_leads(rng: np.random.Generator, n: int) -> LeadArrays:
    """Draw ``n`` leads and walk each through lead -> MQL -> SQL -> opportunity."""
    weights = daily_channel_weights()
    cell = rng.choice(weights.size, size=n, p=weights.ravel())
    day, channel = np.divmod(cell, len(cfg.CHANNELS))
    # Office hours mostly, some leads at night and at weekends (forms never sleep).
    office = 8.0 + 10.0 * rng.beta(2.0, 2.0, n)
    hour = np.where(rng.random(n) < 0.15, 24.0 * rng.random(n), office)
    # Lead ids follow creation time, as in a CRM.
    order = np.argsort(day + hour / 24.0, kind="stable")
    created = (day + hour / 24.0)[order]
    channel = channel[order]

    offsets = np.concatenate([[0], np.cumsum([len(cfg.CAMPAIGNS[c]) for c in cfg.CHANNELS])])
    share = np.zeros((len(cfg.CHANNELS), int(offsets[-1])))
    share[cfg.CAMPAIGN_CHANNEL, np.arange(offsets[-1])] = cfg.CAMPAIGN_SHARE
    campaign = cfg.choose_rows(rng, share, channel)
    segment = cfg.choose_rows(rng, cfg.SEGMENT_BY_CHANNEL, channel)
    owner = cfg.choose_rows(rng, cfg.OWNER_BY_SEGMENT, segment)

    response_minutes = np.exp(np.log(cfg.OWNER_RESPONSE_MINUTES[owner]) + rng.normal(0, 1.0, n))
    first_response = created + response_minutes / 1440.0

    after_change = created >= cfg.SCORING_CHANGE_DAY
    p_mql = cfg.P_MQL[channel] * np.where(after_change, cfg.SCORING_MQL_FACTOR, 1.0)
    mql = _stage_after(rng, n, created, p_mql, 0.1 + rng.exponential(4.0, n))
    # Speed to lead: leads answered within five minutes qualify more often.
    speed = np.where(response_minutes <= 5, 1.25, np.where(response_minutes > 60, 0.85, 1.0))
    scoring = np.where(mql >= cfg.SCORING_CHANGE_DAY, cfg.SCORING_SQL_LIFT, 1.0)
    p_sql = np.minimum(cfg.P_SQL[channel] * speed * scoring, 0.95)
    sql = _stage_after(rng, n, mql, p_sql, 0.3 + rng.exponential(5.0, n))
    opportunity = _stage_after(rng, n, sql, cfg.P_OPP[channel], 0.05 + rng.exponential(3.0, n))

    # Some leads that went nowhere were never answered at all; answers after the data's end
    # have not happened yet.
    unanswered = np.isnan(mql) & (rng.random(n) < 0.08)
    first_response[unanswered | (first_response >= cfg.N_DAYS)] = np.nan
    return LeadArrays(
        created=created,
        channel=channel,
        campaign=campaign,
        segment=segment,
        owner=owner,
        first_response=first_response,
        mql=mql,
        sql=sql,
        opportunity=opportunity,
        day_channel_weight=weights,
    )


def leads_frame(la: LeadArrays, opp_number: np.ndarray, width: int) -> pd.DataFrame:
    """The ``leads`` table; ``opp_number`` is the 1-based opportunity number or 0 for none."""
    n = len(la.created)
    opp_ids = cfg.make_ids("O", np.maximum(opp_number, 1), width)
    opp_ids[opp_number == 0] = np.nan
    return pd.DataFrame(
        {
            "lead_id": cfg.make_ids("L", np.arange(1, n + 1), width),
            "created_at": cfg.to_timestamps(la.created),
            "channel": cfg.labels(cfg.CHANNELS, la.channel),
            "campaign": cfg.labels(cfg.CAMPAIGN_NAMES, la.campaign),
            "owner": cfg.labels(cfg.OWNERS, la.owner),
            "segment": cfg.labels(cfg.SEGMENTS, la.segment),
            "mql_at": cfg.to_timestamps(la.mql),
            "sql_at": cfg.to_timestamps(la.sql),
            "first_response_at": cfg.to_timestamps(la.first_response),
            "opportunity_id": opp_ids,
        }
    )


def funnel_events_frame(
    leads: pd.DataFrame, la: LeadArrays, won_lead: np.ndarray, won_at: np.ndarray
) -> pd.DataFrame:
    """Long form of the lifecycle: one row per lead and stage reached, in lead order.

    ``won_lead`` are the lead indexes whose opportunity was won at ``won_at`` (days).
    """
    n = len(la.created)
    idx = np.arange(n)
    parts = [(idx, la.created)]
    for times in (la.mql, la.sql, la.opportunity):
        hit = ~np.isnan(times)
        parts.append((idx[hit], times[hit]))
    parts.append((won_lead, won_at))
    lead_idx = np.concatenate([p[0] for p in parts])
    event = np.concatenate([np.full(len(p[0]), k) for k, p in enumerate(parts)])
    when = np.concatenate([p[1] for p in parts])
    order = np.lexsort((event, lead_idx))
    lead_idx, event, when = lead_idx[order], event[order], when[order]
    return pd.DataFrame(
        {
            "entity_id": pd.Series(leads["lead_id"].array.take(lead_idx)),
            "event": cfg.labels(("lead", "mql", "sql", "opportunity", "won"), event),
            "timestamp": cfg.to_timestamps(when),
            "channel": cfg.labels(cfg.CHANNELS, la.channel[lead_idx]),
            "segment": cfg.labels(cfg.SEGMENTS, la.segment[lead_idx]),
            "owner": cfg.labels(cfg.OWNERS, la.owner[lead_idx]),
        }
    )


def content_frame(rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """The content library (fixed size) and its creation times in days since START."""
    n = cfg.N_CONTENT
    # About a third of the library predates the data, so content touches can start at once.
    days = np.floor(rng.uniform(-300.0, cfg.N_DAYS - 45.0, n))
    created = np.sort(days + rng.uniform(0.35, 0.7, n))  # published in office hours
    kind = rng.integers(0, len(cfg.CONTENT_KINDS), n)
    topic = rng.permutation(np.arange(n)) % len(cfg.CONTENT_TOPICS)
    kind_label = np.array([k.replace("_", " ").capitalize() for k in cfg.CONTENT_KINDS])
    titles = [
        f"{kind_label[k]}: {cfg.CONTENT_TOPICS[t]} ({i + 1})"
        for i, (k, t) in enumerate(zip(kind, topic, strict=True))
    ]
    frame = pd.DataFrame(
        {
            "content_id": cfg.make_ids("C", np.arange(1, n + 1), 6),
            "title": pd.Series(titles, dtype="str"),
            "kind": cfg.labels(cfg.CONTENT_KINDS, kind),
            "created_at": cfg.to_timestamps(created),
        }
    )
    return frame, created


#: P(touch kind | furthest stage: lead, mql, sql, opportunity); kinds as in TOUCH_KINDS.
_TOUCH_KIND_BY_STAGE = np.array(
    [
        [0.70, 0.18, 0.00, 0.12],
        [0.55, 0.22, 0.05, 0.18],
        [0.40, 0.25, 0.15, 0.20],
        [0.35, 0.22, 0.23, 0.20],
    ]
)
_TOUCHES_BY_STAGE = np.array([0.8, 2.5, 4.0, 6.5])  # extra touches beyond the first


def touches_frame(
    rng: np.random.Generator,
    leads: pd.DataFrame,
    la: LeadArrays,
    content: pd.DataFrame,
    content_created: np.ndarray,
) -> pd.DataFrame:
    """Sales and marketing touches: the first response, then touches while the lead is worked.

    Touches fall between the first touch and three weeks after the lead's latest stage (never
    after the data's end); content touches reference content that existed at the time.
    """
    n = len(la.created)
    stage = (
        (~np.isnan(la.mql)).astype(int)
        + (~np.isnan(la.sql)).astype(int)
        + (~np.isnan(la.opportunity)).astype(int)
    )
    latest = np.fmax(np.fmax(la.created, la.mql), np.fmax(la.sql, la.opportunity))
    answered = ~np.isnan(la.first_response)
    # Unanswered leads still get a nurture email.
    first = np.where(answered, la.first_response, la.created + rng.uniform(0.01, 2.0, n))
    first = np.minimum(first, cfg.N_DAYS - 1e-4)
    window_end = np.minimum(np.maximum(latest + 21.0, first), cfg.N_DAYS - 1e-4)

    extra = rng.poisson(_TOUCHES_BY_STAGE[stage])
    count = 1 + extra
    lead_idx = np.repeat(np.arange(n), count)
    starts = np.concatenate([[0], np.cumsum(count)[:-1]])
    is_first = np.zeros(len(lead_idx), dtype=bool)
    is_first[starts] = True
    m = len(lead_idx)
    lo, hi = first[lead_idx], window_end[lead_idx]
    when = np.where(is_first, lo, lo + rng.random(m) * (hi - lo))
    kind = cfg.choose_rows(rng, _TOUCH_KIND_BY_STAGE, stage[lead_idx])
    first_kind = np.where(answered[lead_idx] & (rng.random(m) < 0.6), 1, 0)  # call or email
    kind = np.where(is_first, first_kind, kind)
    # Nobody called or met a lead that was never answered: only marketing reached it.
    kind[~answered[lead_idx] & ((kind == 1) | (kind == 2))] = 0

    available = np.searchsorted(content_created, when, side="right")
    kind[(kind == 3) & (available == 0)] = 0
    is_content = kind == 3
    content_idx = np.where(is_content, np.floor(rng.random(m) * available).astype(np.int64), -1)

    order = np.argsort(lead_idx * 1024.0 + when, kind="stable")
    lead_idx, when, kind, content_idx = (a[order] for a in (lead_idx, when, kind, content_idx))
    return pd.DataFrame(
        {
            "lead_id": pd.Series(leads["lead_id"].array.take(lead_idx)),
            "timestamp": cfg.to_timestamps(when),
            "kind": cfg.labels(cfg.TOUCH_KINDS, kind),
            "content_id": pd.Series(content["content_id"].array.take(content_idx, allow_fill=True)),
        }
    )
