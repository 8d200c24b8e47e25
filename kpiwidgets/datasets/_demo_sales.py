"""Demo company, sales side: opportunities, their stage history and the revenue of customers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kpiwidgets.datasets import _demo_config as cfg
from kpiwidgets.datasets._demo_leads import LeadArrays

OPEN, WON, LOST = 0, 1, 2


@dataclass
class DealArrays:
    """Opportunities as numpy arrays; index j is opportunity ``O{j + 1}`` of lead ``lead[j]``."""

    lead: np.ndarray
    owner: np.ndarray
    segment: np.ndarray
    created: np.ndarray
    closed: np.ndarray  # NaN while open
    status: np.ndarray  # OPEN, WON, LOST
    amount: np.ndarray
    product: np.ndarray
    natural_close: np.ndarray  # expected close, also for deals still open


def _quarter_end_push(rng: np.random.Generator, created: np.ndarray, close: np.ndarray):
    """Pull deals due early in a quarter into the last days of the previous one.

    Reps chase the quarter's number, and hardest in Q4 (year-end budgets): this is what makes
    December rich in closed revenue although it is poor in new leads.
    """
    q = np.searchsorted(cfg.QUARTER_STARTS, close, side="right") - 1
    q_start = cfg.QUARTER_STARTS[np.maximum(q, 0)]
    previous_is_q4 = (q % 4) == 0
    chance = np.where(previous_is_q4, 0.45, 0.25)
    pulled = q_start - rng.uniform(0.1, 9.0, len(close))
    pull = (q >= 1) & (close - q_start < 21.0) & (rng.random(len(close)) < chance)
    pull &= pulled > created + 1.0
    return np.where(pull, pulled, close)


def generate_deals(rng: np.random.Generator, la: LeadArrays) -> DealArrays:
    """One opportunity per lead that reached the opportunity stage."""
    lead = np.flatnonzero(~np.isnan(la.opportunity))
    n = len(lead)
    channel, segment, owner = la.channel[lead], la.segment[lead], la.owner[lead]
    created = la.opportunity[lead]
    cycle = 1.0 + cfg.SEGMENT_CYCLE_DAYS[segment] * np.exp(rng.normal(0.0, 0.5, n))
    natural = _quarter_end_push(rng, created, created + cycle)

    close_quarter = np.searchsorted(cfg.QUARTER_STARTS, natural, side="right") - 1
    q4 = (close_quarter % 4) == 3
    p_win = cfg.P_WIN[channel] * cfg.SEGMENT_WIN[segment] * cfg.OWNER_WIN[owner]
    p_win = np.minimum(p_win * np.where(q4, 1.1, 1.0), 0.9)
    won = rng.random(n) < p_win
    is_open = natural >= cfg.N_DAYS
    status = np.where(is_open, OPEN, np.where(won, WON, LOST))
    product = cfg.choose_rows(rng, cfg.PRODUCT_BY_SEGMENT, segment)
    amount = cfg.SEGMENT_AMOUNT[segment] * cfg.PRODUCT_AMOUNT[product]
    amount = np.maximum(np.round(amount * np.exp(rng.normal(0.0, 0.45, n)), -2), 500.0)
    return DealArrays(
        lead=lead,
        owner=owner,
        segment=segment,
        created=created,
        closed=np.where(is_open, np.nan, natural),
        status=status,
        amount=amount,
        product=product,
        natural_close=natural,
    )


def opportunities_frame(
    deals: DealArrays, la: LeadArrays, leads: pd.DataFrame, width: int
) -> pd.DataFrame:
    """The ``opportunities`` table; every deal belongs to its own account ``A{number}``."""
    numbers = np.arange(1, len(deals.lead) + 1)
    return pd.DataFrame(
        {
            "opportunity_id": cfg.make_ids("O", numbers, width),
            "lead_id": pd.Series(leads["lead_id"].array.take(deals.lead)),
            "account_id": cfg.make_ids("A", numbers, width),
            "owner": cfg.labels(cfg.OWNERS, deals.owner),
            "channel": cfg.labels(cfg.CHANNELS, la.channel[deals.lead]),
            "segment": cfg.labels(cfg.SEGMENTS, deals.segment),
            "product": cfg.labels(cfg.PRODUCTS, deals.product),
            "created_at": cfg.to_timestamps(deals.created),
            "closed_at": cfg.to_timestamps(deals.closed),
            "status": cfg.labels(("open", "won", "lost"), deals.status),
            "amount": deals.amount,
            # When the rep expected the deal to close, set when it was opened (pipeline
            # coverage reads it); still-open deals expect to close after the data's as-of.
            "expected_close_at": cfg.to_timestamps(deals.natural_close),
        }
    )


def stage_history_frame(
    rng: np.random.Generator, deals: DealArrays, opportunities: pd.DataFrame
) -> pd.DataFrame:
    """Stage entries per deal: discovery, demo, proposal, negotiation, then closed_won/lost.

    Won deals pass every stage (a few SMB deals skip the demo), lost deals stop at a random
    stage, open deals have reached the stages whose time has come and have no closed stage.
    About 6 % of deals that reach negotiation fall back to proposal and negotiate again.
    """
    n = len(deals.lead)
    span = deals.natural_close - deals.created
    frac = np.sort(rng.uniform(0.05, 0.95, (n, 3)), axis=1)
    stage_t = (
        deals.created[:, None] + np.concatenate([np.zeros((n, 1)), frac], axis=1) * span[:, None]
    )
    furthest = np.where(
        deals.status == WON,
        3,
        np.where(
            deals.status == LOST,
            cfg.choose_rows(rng, np.array([[0.3, 0.3, 0.25, 0.15]]), np.zeros(n, dtype=int)),
            (stage_t < cfg.N_DAYS).sum(axis=1) - 1,
        ),
    )
    reached = np.arange(4)[None, :] <= furthest[:, None]
    skip_demo = (deals.segment == 0) & (furthest >= 2) & (rng.random(n) < 0.15)
    reached[:, 1] &= ~skip_demo
    closed = deals.status != OPEN
    back = closed & (furthest == 3) & (rng.random(n) < 0.06)
    last = stage_t[:, 3]
    back_t = last[:, None] + np.array([0.35, 0.7])[None, :] * (deals.natural_close - last)[:, None]

    times = np.concatenate([stage_t, back_t, deals.natural_close[:, None]], axis=1)
    valid = np.concatenate([reached, back[:, None], back[:, None], closed[:, None]], axis=1)
    closing_code = np.where(deals.status == WON, 4, 5)
    codes = np.broadcast_to(np.array([0, 1, 2, 3, 2, 3, 0]), (n, 7)).copy()
    codes[:, 6] = closing_code
    opp_idx = np.broadcast_to(np.arange(n)[:, None], (n, 7))
    return pd.DataFrame(
        {
            "opportunity_id": pd.Series(opportunities["opportunity_id"].array.take(opp_idx[valid])),
            "stage": cfg.labels(cfg.STAGES, codes[valid]),
            "entered_at": cfg.to_timestamps(times[valid]),
        }
    )


def revenue_frame(
    rng: np.random.Generator, deals: DealArrays, la: LeadArrays, opportunities: pd.DataFrame
) -> pd.DataFrame:
    """Monthly MRR of won accounts from their close month on.

    Each month an active account may churn (hazard by segment and acquisition channel),
    expand or contract; a churned account may come back. MRR starts at amount / 12.
    """
    won = np.flatnonzero(deals.status == WON)
    w = len(won)
    segment = deals.segment[won]
    start = np.searchsorted(cfg.MONTH_STARTS, deals.closed[won], side="right") - 1
    hazard = cfg.SEGMENT_CHURN[segment] * cfg.CHURN_FACTOR[la.channel[deals.lead[won]]]
    p_expand = cfg.SEGMENT_EXPANSION[segment]
    mrr = deals.amount[won] / 12.0
    active = np.zeros(w, dtype=bool)
    grid = np.full((w, cfg.N_MONTHS), np.nan)
    for month in range(cfg.N_MONTHS):
        earlier = start < month
        u, v = rng.random(w), rng.random(w)
        churn = earlier & active & (u < hazard)
        back = earlier & ~active & (u < 0.04)
        stays = earlier & active & ~churn
        expand = stays & (v < p_expand)
        contract = stays & (v > 0.985)
        mrr = np.where(expand, mrr * rng.uniform(1.1, 1.5, w), mrr)
        mrr = np.where(contract, mrr * rng.uniform(0.65, 0.9, w), mrr)
        mrr = np.where(back, mrr * rng.uniform(0.7, 1.0, w), mrr)
        active = (active & ~churn) | back | (start == month)
        grid[:, month] = np.where(active, mrr, np.nan)
    row, month = np.nonzero(~np.isnan(grid))
    months = cfg.to_timestamps(cfg.MONTH_STARTS[:-1])
    return pd.DataFrame(
        {
            "account_id": pd.Series(opportunities["account_id"].array.take(won[row])),
            "month": months[month],
            "mrr": np.round(grid[row, month], 2),
        }
    )
