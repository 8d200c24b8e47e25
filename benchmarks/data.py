"""Generated inputs for the benchmark suite, made with numpy (seeded: the same on every run).

Shapes are chosen to stress what the metrics do, not to look like the demo company: funnel
logs have ties (whole hours), repeated step events, re-entries and noise events; activity has
accounts active in scattered later months, timestamps either to the second or at month start.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["STEPS", "activity", "event_log", "frame_bytes", "revenue"]

STEPS = ["lead", "mql", "sql", "opportunity", "proposal", "won"]


def frame_bytes(frame: pd.DataFrame) -> int:
    """In-memory size of a pandas frame (object columns measured deeply)."""
    return int(frame.memory_usage(deep=True, index=False).sum())


def event_log(n_events: int, n_entities: int, seed: int = 0) -> pd.DataFrame:
    """A funnel-shaped log of ``n_events`` rows over ``n_entities`` entities.

    Each entity enters at a random hour of half a year and reaches step k with probability
    0.6^(k-1), the next step 0..12 days later on whole hours (equal timestamps happen). 10 % of
    the step rows are repeated up to 3 days later (a repeated lead is a re-entry), 3 % of the
    later steps happen again out of order within two days of the entry, and the rest
    of the rows are ``visit`` events at random times (noise: they break strict funnels).
    Columns ``entity_id`` (int64), ``event`` (str), ``timestamp`` (datetime64[us]); shuffled.
    """
    rng = np.random.default_rng(seed)
    depth = np.minimum(rng.geometric(0.4, n_entities), len(STEPS))
    entity = np.repeat(np.arange(n_entities), depth)
    firsts = np.cumsum(depth) - depth
    step = np.arange(len(entity)) - np.repeat(firsts, depth)
    gap = np.where(
        step == 0, rng.integers(0, 24 * 180, len(entity)), rng.integers(0, 24 * 12, len(entity))
    )
    hours = np.cumsum(gap)
    hours = hours - np.repeat(hours[firsts] - gap[firsts], depth)
    repeat = rng.random(len(entity)) < 0.1
    # 3 % of later steps also happen early, within two days of the entry (out of order:
    # they count for order="any" only).
    early = (rng.random(len(entity)) < 0.03) & (step > 0)
    entry = np.repeat(hours[firsts], depth)
    entity = np.concatenate([entity, entity[repeat], entity[early]])
    step = np.concatenate([step, step[repeat], step[early]])
    hours = np.concatenate(
        [
            hours,
            hours[repeat] + rng.integers(0, 24 * 3, repeat.sum()),
            entry[early] + rng.integers(0, 48, early.sum()),
        ]
    )
    n_noise = max(n_events - len(entity), 0)
    names = np.array([*STEPS, "visit"], dtype=object)
    entity = np.concatenate([entity, rng.integers(0, n_entities, n_noise)])
    step = np.concatenate([step, np.full(n_noise, len(STEPS))])
    hours = np.concatenate([hours, rng.integers(0, 24 * 200, n_noise)])
    order = rng.permutation(len(entity))[:n_events]
    ts = np.datetime64("2024-01-01T00:00", "us") + hours[order].astype("timedelta64[h]")
    return pd.DataFrame({"entity_id": entity[order], "event": names[step[order]], "timestamp": ts})


def activity(rows: int, entities: int, *, month_start: bool, seed: int = 0) -> pd.DataFrame:
    """Activity of ``entities`` accounts over 36 months: ``account_id``, ``month``, ``mrr``.

    Each account joins in a random month and is active in later months with geometrically
    fewer rows. ``month_start=True``: timestamps are the first of the month (a monthly
    revenue table); otherwise a random second of the month (an activity log).
    """
    rng = np.random.default_rng(seed)
    account = rng.integers(0, entities, rows)
    start = rng.integers(0, 36, entities)
    offset = np.minimum(rng.geometric(0.25, rows) - 1, 35)
    month_number = np.minimum(start[account] + offset, 35)
    months = pd.date_range("2022-01-01", periods=37, freq="MS").to_numpy().astype("datetime64[us]")
    ts = months[month_number]
    if not month_start:
        length = (months[month_number + 1] - ts).astype("timedelta64[s]").astype(np.int64)
        ts = ts + (rng.random(rows) * length).astype("timedelta64[s]")
    return pd.DataFrame(
        {"account_id": account, "month": ts, "mrr": rng.gamma(2.0, 50.0, rows).round(2)}
    )


def revenue(accounts: int, seed: int = 0) -> pd.DataFrame:
    """A monthly revenue table (one row per account and month it pays): 36 months.

    Accounts join in a random month, pay a random MRR that sometimes changes (expansion,
    contraction), may pause a month (churn then reactivation) and may leave for good.
    """
    rng = np.random.default_rng(seed)
    months = pd.date_range("2022-01-01", periods=36, freq="MS").to_numpy().astype("datetime64[us]")
    start = rng.integers(0, 36, accounts)
    life = np.minimum(rng.geometric(0.06, accounts), 36 - start)
    account = np.repeat(np.arange(accounts), life)
    offset = np.arange(len(account)) - np.repeat(np.cumsum(life) - life, life)
    base = np.repeat(rng.gamma(2.0, 100.0, accounts).round(0) + 10, life)
    change = np.where(
        rng.random(len(account)) < 0.15, rng.choice([0.8, 1.25, 1.5], len(account)), 1.0
    )
    # Each account's running product of its changes (a cumulative sum of logs, reset per account).
    logs = np.cumsum(np.log(change))
    restart = np.cumsum(life) - life
    steps = np.exp(logs - np.repeat(logs[restart] - np.log(change[restart]), life))
    mrr = (base * steps).round(2)
    keep = rng.random(len(account)) > 0.03  # paused months: churn then reactivation
    return pd.DataFrame(
        {
            "account_id": account[keep],
            "month": months[start[account] + offset][keep],
            "mrr": mrr[keep],
        }
    )


def forecasts(owners: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Weekly calls of ``owners`` reps over 8 quarters, and their won deals (the actuals).

    Each rep calls commit, best case and pipeline at the start of each of the 13 weeks of a
    quarter; 5 % of the calls are resubmitted two days later in the same week (that later call
    counts) and 2 % are exact repeats (counted once). Actuals: 1 to 5 won deals per rep and
    quarter, with a few quarters of nothing won (accuracy then has no value).
    """
    rng = np.random.default_rng(seed)
    periods = pd.date_range("2024-01-01", periods=8, freq="QS").to_numpy().astype("datetime64[us]")
    categories = np.array(["commit", "best_case", "pipeline"], dtype=object)
    names = np.array([f"rep {i:05d}" for i in range(owners)], dtype=object)
    owner, period, week, category = (
        a.ravel()
        for a in np.meshgrid(
            np.arange(owners), np.arange(8), np.arange(13), np.arange(3), indexing="ij"
        )
    )
    snapshot = periods[period] + (week * 7).astype("timedelta64[D]")
    amount = (rng.gamma(2.0, 10_000.0, len(owner)) * (1 + category * 0.4)).round(-2)
    frame = pd.DataFrame(
        {
            "owner": names[owner],
            "period": periods[period],
            "snapshot_date": snapshot,
            "category": categories[category],
            "amount": amount,
        }
    )
    again = frame[rng.random(len(frame)) < 0.05].copy()
    again["snapshot_date"] += np.timedelta64(2, "D")
    again["amount"] = (again["amount"] * rng.uniform(0.8, 1.2, len(again))).round(-2)
    repeats = frame[rng.random(len(frame)) < 0.02]
    calls = pd.concat([frame, again, repeats], ignore_index=True)
    deals = rng.integers(1, 6, owners * 8)
    deal_owner = np.repeat(np.arange(owners * 8), deals)
    won = pd.DataFrame(
        {
            "owner": names[deal_owner // 8],
            "period": periods[deal_owner % 8],
            "amount": rng.gamma(2.0, 8_000.0, len(deal_owner)).round(-2),
        }
    )
    won = won[rng.random(len(won)) > 0.03].reset_index(drop=True)
    return calls.sample(frac=1.0, random_state=seed).reset_index(drop=True), won
