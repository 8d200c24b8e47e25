"""Where a period will land: the latest calls, adjusted by how calls made at the same week of
earlier periods landed (docs/forecasts.md, "Projection").

The arithmetic, for one owner (or the team) and category, projecting period T from week w:

1. the *call* is the latest call made in weeks ≤ w of T;
2. for every earlier period p with an actual, the call as of week w of p (same rule) and its
   *landing ratio* r_p = A_p / F_p (calls of 0 have no ratio and are skipped);
3. ``factor`` = median of the r_p, ``projection`` = call × factor, and the interval
   [call × q_lo, call × q_hi] from the quantiles of the r_p (linear interpolation) for the
   ``interval`` asked (0.8: the 10th and 90th percentiles);
4. an owner with fewer than ``min_history`` ratios borrows the team's (r_p = ΣA / ΣF over
   the owners with a call and an actual in p; ``basis`` says which); with fewer than
   ``min_history`` team ratios too, the projection is NaN and ``reason`` says why.

The calls and actuals are scanned by the engine; steps 2–4 run on one row per owner,
period and category, collected (a few thousand rows even for hundreds of owners).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd

from kpiwidgets.metrics._forecast_rows import forecast_rows
from kpiwidgets.metrics._frames import as_list
from kpiwidgets.metrics.choices import Submissions

__all__ = ["forecast_projection", "project"]

COLUMNS = (
    "category",
    "period",
    "week_of_period",
    "call",
    "call_week",
    "factor",
    "projection",
    "low",
    "high",
    "history",
    "basis",
    "reason",
    "actual",
)


def forecast_projection(
    forecasts: Any,
    actuals: Any,
    *,
    period: Any = None,
    week: int | None = None,
    by: str | Sequence[str] = ("owner",),
    category: str | Sequence[str] | None = None,
    submitted: Submissions = "final",
    min_history: int = 3,
    interval: float = 0.8,
) -> Any:
    """Project where ``period`` will land from the calls made up to week ``week``.

    Parameters
    ----------
    forecasts, actuals
        As in :func:`kw.forecast_accuracy`.
    period
        Start of the period to project; default the latest period in ``forecasts``. A
        period that has an actual already is projected as it would have been at ``week``
        (a backtest): ``actual`` then shows where it landed.
    week
        Week of period the projection is made at; default the latest week with a call in
        ``period``.
    by
        ``("owner",)`` (default): one projection per owner and category; ``()``: the team's,
        from the summed calls and the team's landing ratios.
    category
        Categories to project (default every category in the data).
    submitted
        Which calls: ``"final"`` (default: the manager's where one adjusted it, else the
        rep's), ``"rep"`` or ``"manager"``; the history uses the same kind of call.
    min_history
        Fewest earlier periods with a landing ratio needed (default 3).
    interval
        Central share of the historical landing ratios the interval spans (default 0.8).

    Returns
    -------
    One row per (``by``…, category): ``period``, ``week_of_period`` (w), ``call``,
    ``call_week`` (the week it was made), ``factor``, ``projection``, ``low``, ``high``,
    ``history`` (ratios behind the factor), ``basis`` (``"owner"``, ``"team"`` or ``""``),
    ``reason`` (why the projection is NaN, else ``""``), ``actual`` (NaN while open; for the
    team, the actual of the owners whose calls make the team's call).

    Examples
    --------
    >>> import pandas as pd
    >>> periods = pd.to_datetime(["2025-01-01", "2025-04-01", "2025-07-01", "2025-10-01"])
    >>> forecasts = pd.DataFrame({"owner": "ava", "period": periods,
    ...     "snapshot_date": periods + pd.Timedelta(days=14), "category": "commit",
    ...     "amount": [100.0, 100.0, 100.0, 200.0]})
    >>> actuals = pd.DataFrame({"owner": "ava", "period": periods[:3],
    ...                         "amount": [120.0, 150.0, 130.0]})
    >>> p = forecast_projection(forecasts, actuals)
    >>> p[["week_of_period", "call", "factor", "projection", "history", "basis"]]
       week_of_period   call  factor  projection  history  basis
    0               2  200.0     1.3       260.0        3  owner
    """
    if submitted == "separate":
        raise ValueError(
            "forecast_projection: submitted must be 'final', 'rep' or 'manager' (a projection "
            "uses one kind of call), found 'separate'"
        )
    if not 0 < interval < 1:
        raise ValueError(f"forecast_projection: interval must be in (0, 1), found {interval!r}")
    if int(min_history) < 1:
        raise ValueError(f"forecast_projection: min_history must be ≥ 1, found {min_history!r}")
    keys = as_list(by)
    if keys not in ([], ["owner"]):
        raise ValueError(f"forecast_projection: by must be ('owner',) or (), found {keys}")
    fr = forecast_rows(
        forecasts,
        actuals,
        by=keys,
        category=category,
        submitted=submitted,
        where="forecast_projection",
    )
    calls = _collect(fr.calls.select(*fr.unit, "period", "week_of_period", "category", "forecast"))
    acts = _collect(fr.actuals)
    out = project(
        calls,
        acts,
        period=period,
        week=week,
        team=not keys,
        unit=fr.unit,
        min_history=int(min_history),
        interval=float(interval),
    )
    zone = next(iter(fr.prep.time_zones.values()), None)
    if zone is not None:  # computed on wall time: the period gets the forecasts' zone back
        out["period"] = pd.to_datetime(out["period"]).dt.tz_localize(zone)
    return fr.prep.from_dict({c: out[c].tolist() for c in out.columns})


def _collect(lf: nw.LazyFrame) -> pd.DataFrame:
    return lf.collect(backend="pyarrow").to_native().to_pandas()


def _as_of_week(calls: pd.DataFrame, week: int, keys: list[str]) -> pd.DataFrame:
    """Each key's latest call made in weeks ≤ ``week`` (with the week it was made)."""
    early = calls[calls["week_of_period"] <= week].sort_values("week_of_period", kind="stable")
    last = early.groupby(keys, sort=False, dropna=False).tail(1)
    return last.rename(columns={"forecast": "call", "week_of_period": "call_week"})


def project(
    calls: pd.DataFrame,
    actuals: pd.DataFrame,
    *,
    period: Any,
    week: int | None,
    team: bool,
    unit: list[str],
    min_history: int,
    interval: float,
) -> pd.DataFrame:
    """Steps 1–4 of the module docstring on collected calls and actuals (pandas)."""
    cols = [*([] if team else unit), *COLUMNS]
    if calls.empty:
        return pd.DataFrame({c: [] for c in cols})
    target = pd.Timestamp(period) if period is not None else calls["period"].max()
    in_target = calls[calls["period"] == target]
    if in_target.empty:
        found = ", ".join(str(p.date()) for p in sorted(calls["period"].unique())[-4:])
        raise ValueError(
            f"forecast_projection: no calls for period {target.date()}; latest periods with "
            f"calls: {found}"
        )
    w = int(in_target["week_of_period"].max()) if week is None else int(week)
    keys = [*unit, "period", "category"]
    asof = _as_of_week(calls, w, keys)
    hist = asof[asof["period"] < target].merge(actuals, on=[*unit, "period"], how="inner")
    hist = hist[hist["call"] > 0]
    # Team landing ratio of each past period: the owners' summed actuals over summed calls.
    team_sum = hist.groupby(["category", "period"])[["actual", "call"]].sum()
    team_ratio = (team_sum["actual"] / team_sum["call"]).rename("ratio").reset_index()
    team_stats = _stats(team_ratio, ["category"], interval)
    now = asof[asof["period"] == target]
    landed = actuals[actuals["period"] == target]
    if team and unit:
        # The team's actual is that of the owners whose calls make the team's call: a
        # backtest compares like with like (an owner with no call in a category adds none).
        now = now.merge(landed[[*unit, "actual"]], on=unit, how="left")
    if team:
        now = now.groupby(["period", "category"], as_index=False).agg(
            call=("call", "sum"),
            call_week=("call_week", "max"),
            actual=("actual", lambda a: a.sum(min_count=1)) if unit else ("call", "size"),
        )
        if not unit:
            now["actual"] = float(landed["actual"].sum()) if len(landed) else math.nan
        stats = team_stats.assign(basis="team")
        out = now.merge(stats, on="category", how="left")
    else:
        hist = hist.assign(ratio=hist["actual"] / hist["call"])
        own = _stats(hist, [*unit, "category"], interval).assign(basis="owner")
        out = now.merge(own, on=[*unit, "category"], how="left")
        short = ~(out["history"] >= min_history)
        fallback = out.loc[short, ["category"]].merge(team_stats, on="category", how="left")
        for c in ("factor", "q_lo", "q_hi", "history"):
            out.loc[short, c] = fallback[c].to_numpy()
        out.loc[short, "basis"] = "team"
    out["history"] = out["history"].fillna(0).astype(int)
    enough = out["history"] >= min_history
    for c, q in (("projection", "factor"), ("low", "q_lo"), ("high", "q_hi")):
        out[c] = np.where(enough, out["call"] * out[q], math.nan)
    out["factor"] = np.where(enough, out["factor"], math.nan)
    out["reason"] = np.where(
        enough,
        "",
        [
            f"only {n} earlier period(s) with a week-{w} call and an actual (need {min_history})"
            for n in out["history"]
        ],
    )
    out["basis"] = np.where(enough, out["basis"], "")
    out["week_of_period"] = w
    if not team:
        out = out.merge(landed[[*unit, "actual"]], on=unit, how="left")
    out["actual"] = out["actual"].astype(float)
    return out[cols].sort_values([*([] if team else unit), "category"], ignore_index=True)


def _stats(ratios: pd.DataFrame, keys: list[str], interval: float) -> pd.DataFrame:
    lo, hi = (1 - interval) / 2, (1 + interval) / 2
    g = ratios.groupby(keys)["ratio"]
    return pd.DataFrame(
        {
            "factor": g.median(),
            "q_lo": g.quantile(lo),
            "q_hi": g.quantile(hi),
            "history": g.size(),
        }
    ).reset_index()
