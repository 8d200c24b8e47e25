"""The demo company: a deterministic synthetic B2B SaaS business with every canonical table."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from kpiwidgets.datasets import _demo_leads, _demo_plans, _demo_sales
from kpiwidgets.datasets.dataset import Dataset

__all__ = ["load_demo"]


def load_demo(seed: int = 0, n_leads: int = 20_000) -> Dataset:
    """Load the demo company: two years of a synthetic B2B SaaS business.

    Every canonical table is there (leads, touches, opportunities, stage_history,
    funnel_events, spend, campaign_stats, revenue, forecasts, quotas, targets, content) with
    all its columns, covering 2024-01-01 to 2025-12-31 (data "as of" 2026-01-01: later
    events have not happened yet, so recent leads and deals are still open). The same
    ``seed`` and ``n_leads`` always give identical frames.

    Parameters
    ----------
    seed : int, default 0
        Seed of the random generator (``numpy.random.default_rng``).
    n_leads : int, default 20_000
        Number of leads. Every lead-driven table scales with it (about 0.09 opportunities,
        2.9 touches and 1.6 funnel events per lead); spend and campaign stats keep one row
        per day and campaign but their amounts scale, so costs per lead do not depend on it.
        One million leads generate in a few seconds.

    Returns
    -------
    Dataset
        The tables as pandas frames: ids are strings (``L000001`` leads, ``O000001``
        opportunities, ``A000001`` accounts, ``C000001`` content; wider when ``n_leads``
        needs more digits), text columns use the ``str`` dtype, timestamps are naive
        ``datetime64[us]``.

    Notes
    -----
    What an analyst can find in it:

    * **Channels** (``paid_search``, ``paid_social``, ``content``, ``events``, ``referral``,
      ``outbound``) differ in cost and quality. *referral* is the best: cheap (about 25 per
      lead) and it converts and wins the most, with the lowest churn. *events* are by far
      the most expensive leads (about 420 of marketing spend each, plus sales travel) but
      high quality and skewed to enterprise. *paid_search* brings the most leads cheaply
      (about 45) but they convert poorly and churn fastest; *paid_social* is the weakest.
      *outbound* looks cheap on marketing spend alone; its real cost is sales spend (SDRs,
      ``team == "sales"``), which shows in customer acquisition cost. Win rates of closed
      deals run from about 20 % (paid_social) to about 45 % (referral).
    * **Segments** ``smb``, ``mid_market``, ``enterprise``: median won deals of about 5 k,
      24 k and 150 k with median sales cycles of about 3, 6 and 13 weeks; enterprise deals
      win less often, SMB customers churn most. Products: Starter, Growth, Enterprise, Analytics
      Add-on.
    * **Reps** (eight owners): SMB is worked by Ava Chen, Ben Okafor and Farid Haddad,
      mid-market by Carla Ruiz, Elena Rossi and Hugo Martin, enterprise by Dmitri Volkov and
      Grace Kim. Ava answers leads within minutes and wins the most; Farid takes hours to
      respond (and leads answered within five minutes qualify more often). **Hugo Martin
      over-forecasts** (his commit calls run about 40 % above what he closes) and wins least;
      **Dmitri Volkov sandbags** (commits about 30 % below what he closes). Managers adjust
      some later commit calls halfway towards the truth (``submitted_by == "manager"``).
    * **Lead scoring change on 2025-04-01**: a new scoring rule makes MQLs rarer (lead→MQL
      falls by 15 %) but much better: MQL→SQL jumps from about a third to about a half for
      MQLs from that day (``mql_to_sql_rate`` by month shows the step).
    * **Seasonality**: leads grow about 40 % over the two years, dip in July–August and
      are lowest in December; events cluster in spring and autumn; deals are pulled into
      quarter ends, hardest into December (Q4 push), so December is rich in closed revenue.
    * **Start-up ramp**: tracking starts on 2024-01-01 with an empty pipeline, so closed
      deals and MRR build up over the first months; compare periods from mid-2024 on.
    * **Revenue**: every won deal opens an account (account ids follow opportunity numbers)
      paying amount / 12 MRR from its close month; accounts churn, expand, contract and
      sometimes come back, so MRR movements and retention cohorts are non-trivial.
    * **Forecasts**: weekly snapshots (Mondays) for every owner and quarter with won deals,
      in categories commit, best_case and pipeline; early calls are noisy, late ones
      converge to each rep's habit. Quotas per owner and quarter; targets for ``leads``,
      ``revenue``, ``cost_per_lead``, ``mql_to_sql_rate``, ``opportunity_win_rate``,
      ``lead_response_time`` and ``churn_rate``.

    Results are cached per ``(seed, n_leads)``; each call returns fresh copies, so changing
    one dataset never changes another.

    Examples
    --------
    >>> import kpiwidgets as kw
    >>> ds = kw.load_demo(n_leads=1_000)
    >>> ds["leads"].shape[0]
    1000
    >>> ds["leads"]["lead_id"].iloc[0]
    'L000001'
    """
    if isinstance(n_leads, bool) or not isinstance(n_leads, (int, np.integer)) or n_leads < 1:
        raise ValueError(f"load_demo: n_leads must be a positive integer, got {n_leads!r}")
    tables = _generate(int(seed), int(n_leads))
    # Shallow copies are enough: under copy-on-write a user's edit never reaches the cache.
    return Dataset(**{name: frame.copy(deep=False) for name, frame in tables.items()})


@functools.lru_cache(maxsize=4)
def _generate(seed: int, n_leads: int) -> dict[str, pd.DataFrame]:
    return generate_tables(seed, n_leads)


def generate_tables(seed: int, n_leads: int) -> dict[str, pd.DataFrame]:
    """Build every table of the demo company (uncached; see :func:`load_demo`)."""
    # One independent stream per part, so tuning one table never reshuffles the others.
    rngs = np.random.default_rng(seed).spawn(8)
    width = max(6, len(str(n_leads)))

    la = _demo_leads.generate_leads(rngs[0], n_leads)
    deals = _demo_sales.generate_deals(rngs[1], la)
    opp_number = np.zeros(n_leads, dtype=np.int64)
    opp_number[deals.lead] = np.arange(1, len(deals.lead) + 1)
    leads = _demo_leads.leads_frame(la, opp_number, width)
    opportunities = _demo_sales.opportunities_frame(deals, la, leads, width)
    won = deals.status == _demo_sales.WON
    content, content_created = _demo_leads.content_frame(rngs[3])
    quotas = _demo_plans.quotas_frame(deals)
    return {
        "leads": leads,
        "touches": _demo_leads.touches_frame(rngs[4], leads, la, content, content_created),
        "opportunities": opportunities,
        "stage_history": _demo_sales.stage_history_frame(rngs[5], deals, opportunities),
        "funnel_events": _demo_leads.funnel_events_frame(
            leads, la, deals.lead[won], deals.closed[won]
        ),
        "spend": _demo_plans.spend_frame(rngs[6], la, n_leads),
        "campaign_stats": _demo_plans.campaign_stats_frame(rngs[6], la, n_leads),
        "revenue": _demo_sales.revenue_frame(rngs[7], deals, la, opportunities),
        "forecasts": _demo_plans.forecasts_frame(rngs[7], deals),
        "quotas": quotas,
        "targets": _demo_plans.targets_frame(la, n_leads, quotas),
        "content": content,
    }
