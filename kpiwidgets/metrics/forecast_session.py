"""``ForecastSession``: ForecastTracker's headless twin — one scan of the forecasts and
actuals, and every view the tracker draws derived from the scored calls it keeps.

The calls are scored once (:func:`kw.forecast_accuracy`'s pipeline, owner level, rep calls
and manager adjustments apart) and kept; each view is :func:`kw.forecast_summary`'s
``summarize`` (or the accuracy rows' ``combine``) over a filter of them, cached per
argument set, so a setting that changes only what is drawn (the metric) recomputes nothing.

On lazy inputs (DuckDB relations, polars LazyFrames) the forecasts and opportunities are
never collected: the scored calls are computed on the engine (materialised there once: one
row per call, i.e. per owner, period, week of period, category and submitter), the controls'
choices are distinct values, and each view is an aggregate. The projection reads the calls of
record and the actuals per owner and period, collected when it is first drawn.
"""

from __future__ import annotations

import functools
from typing import Any

import narwhals.stable.v2 as nw
import pandas as pd

from kpiwidgets.metrics._engines import collect_pandas
from kpiwidgets.metrics._forecast_rows import choose_submitted, forecast_rows
from kpiwidgets.metrics._frames import materialize
from kpiwidgets.metrics.choices import Aggregate, ZeroActuals, check_choice
from kpiwidgets.metrics.forecast import combine, summarize
from kpiwidgets.metrics.forecast_projection import project

__all__ = ["BAND", "FORMULAS", "METRICS", "ForecastSession"]

#: The metrics the tracker offers, with the formula each view states.
FORMULAS = {
    "accuracy": "accuracy = max(0, 1 − |F − A| / A) per call, averaged over the calls",
    "wape": "WAPE = Σ|F − A| / ΣA (volume-weighted error, 0 = perfect)",
    "bias": "bias = Σ(F − A) / ΣA (positive = over-forecast, negative = under-forecast)",
    "attainment": "attainment = ΣF / ΣA (1 = the call landed, above 1 = over-forecast)",
}
METRICS = tuple(FORMULAS)
#: |bias| beyond this marks an owner as over- or under-forecasting in the leaderboard.
BAND = 0.10


def _pandas(lf: nw.LazyFrame) -> pd.DataFrame:
    return collect_pandas(lf, backend="pyarrow")


class ForecastSession:
    """Scored forecast calls, and the tracker's views of them.

    Parameters
    ----------
    forecasts, actuals
        As in :func:`kw.forecast_accuracy`; the actuals need an ``owner`` column (the
        tracker scores owners).
    quotas
        Optional ``owner``, ``period``, ``quota`` (several rows per owner and period add up).
    zero_actuals
        As in :func:`kw.forecast_accuracy`.

    Attributes
    ----------
    periods, owners, categories, weeks
        What the data holds (sorted), for the controls.
    left_out
        Reason -> calls or rows left out (open periods, no actual, nulls, duplicates).

    Examples
    --------
    >>> import kpiwidgets as kw
    >>> ds = kw.load_demo(n_leads=2_000)
    >>> s = ForecastSession(ds.forecasts, kw.actuals_from_opportunities(ds.opportunities))
    >>> board = s.leaderboard(category="commit")
    >>> board.iloc[0]["owner"] != board.iloc[-1]["owner"], sorted(s.categories)
    (True, ['best_case', 'commit', 'pipeline'])
    """

    def __init__(
        self,
        forecasts: Any,
        actuals: Any,
        quotas: Any = None,
        *,
        zero_actuals: ZeroActuals = "nan",
    ) -> None:
        scored = forecast_rows(
            forecasts, actuals, by=("owner",), zero_actuals=zero_actuals, where="ForecastTracker"
        )
        if not scored.unit:
            raise ValueError(
                "ForecastTracker: actuals needs an owner column (the tracker scores each "
                "owner's calls); found a team-level table"
            )
        self.left_out = dict(scored.counts)
        self.rows = materialize(scored.rows)
        self.unit = scored.unit
        self._scored = scored
        calls = scored.calls
        self.periods = sorted(pd.to_datetime(_distinct(calls, "period")).unique())
        self.owners = sorted(_distinct(calls, "owner").tolist())
        self.categories = sorted(_distinct(calls, "category").tolist())
        self.weeks = sorted(int(w) for w in _distinct(calls, "week_of_period"))
        self.submitters = sorted(_distinct(self.rows, "submitted_by"))
        self.quotas = _quotas(quotas)

    @functools.cached_property
    def _final_calls(self) -> pd.DataFrame:
        """The call of record per owner, period, week and category (for the projection)."""
        final = choose_submitted(self._scored.calls, "final")
        return _pandas(final.select("owner", "period", "week_of_period", "category", "forecast"))

    @functools.cached_property
    def _actuals(self) -> pd.DataFrame:
        """The actual per owner and period (for the projection)."""
        return _pandas(self._scored.actuals)

    # -- filters -------------------------------------------------------------------------
    def _rows(
        self,
        *,
        start: Any = None,
        end: Any = None,
        owner: str | None = None,
        category: str | None = None,
        week: int | None = None,
        submitted: str | None = "rep",
    ) -> nw.LazyFrame:
        lf = self.rows
        if start is not None:
            lf = lf.filter(nw.col("period") >= pd.Timestamp(start).to_pydatetime())
        if end is not None:
            lf = lf.filter(nw.col("period") <= pd.Timestamp(end).to_pydatetime())
        if owner is not None:
            lf = lf.filter(nw.col("owner") == owner)
        if category is not None:
            lf = lf.filter(nw.col("category") == category)
        if week is not None:
            lf = lf.filter(nw.col("week_of_period") == int(week))
        if submitted is not None:
            lf = lf.filter(nw.col("submitted_by") == submitted)
        return lf

    def check(self, *, owner: Any = None, category: Any = None, week: Any = None) -> None:
        """Raise ``ValueError`` naming what the data has when a setting is not in it."""
        if owner is not None and owner not in self.owners:
            raise ValueError(
                f"owner {owner!r} has no calls; owners: {', '.join(map(str, self.owners))}"
            )
        if category is not None and category not in self.categories:
            raise ValueError(
                f"category {category!r} has no calls; categories: {', '.join(self.categories)}"
            )
        if week is not None and week not in self.weeks:
            raise ValueError(
                f"week {week!r} has no calls; weeks of period run from {self.weeks[0]} to "
                f"{self.weeks[-1]}"
            )

    # -- views ----------------------------------------------------------------------------
    @functools.lru_cache(maxsize=64)  # noqa: B019 - one session per widget, bounded cache
    def by_week(
        self,
        *,
        aggregate: Aggregate = "rollup",
        owner: str | None = None,
        start: Any = None,
        end: Any = None,
        submitted: str = "rep",
    ) -> pd.DataFrame:
        """Every metric per (week of period, category), over the periods in range: how early
        the calls become accurate. Owners combine as ``aggregate`` says."""
        check_choice(aggregate, Aggregate, name="aggregate", where="ForecastTracker")
        rows = self._rows(start=start, end=end, owner=owner, submitted=submitted)
        group = ["week_of_period", "category"]
        return _pandas(summarize(rows, group, aggregate, unit=self.unit).sort(*group))

    @functools.lru_cache(maxsize=64)  # noqa: B019
    def leaderboard(
        self,
        *,
        category: str = "commit",
        week: int | None = None,
        start: Any = None,
        end: Any = None,
    ) -> pd.DataFrame:
        """Every metric per owner (rep calls), with ``band``: ``"over-forecasts"`` when bias
        > +10 %, ``"under-forecasts"`` when bias < −10 %, else ``"within ±10 %"``."""
        rows = self._rows(start=start, end=end, category=category, week=week)
        board = _pandas(summarize(rows, ["owner"], "rollup", unit=self.unit).sort("owner"))
        board["band"] = "within ±10 %"
        board.loc[board["bias"] > BAND, "band"] = "over-forecasts"
        board.loc[board["bias"] < -BAND, "band"] = "under-forecasts"
        return board

    @functools.lru_cache(maxsize=64)  # noqa: B019
    def by_period(
        self,
        *,
        category: str = "commit",
        week: int | None = None,
        owner: str | None = None,
        aggregate: Aggregate = "rollup",
        start: Any = None,
        end: Any = None,
    ) -> pd.DataFrame:
        """Forecast vs actual (vs quota) per period: each owner's call at ``week`` (None: the
        final call, each owner's last week of the period), combined over owners."""
        rows = self._rows(start=start, end=end, owner=owner, category=category, week=week)
        if week is None:
            last = nw.col("week_of_period").max().over("owner", "period")
            rows = rows.filter(nw.col("week_of_period") == last)
        out = _pandas(combine(rows, ["period"], aggregate).sort("period"))
        quota = self.quotas
        if quota is not None:
            if owner is not None:
                quota = quota[quota["owner"] == owner]
            per = quota.groupby("period", as_index=False)["quota"].sum()
            out = out.merge(per, on="period", how="left")
        else:
            out["quota"] = float("nan")
        return out

    @functools.lru_cache(maxsize=64)  # noqa: B019
    def trend(self, *, period: Any, owner: str | None = None) -> pd.DataFrame:
        """The calls of one period week by week, per category (summed over owners), beside
        its actual: how the call moved."""
        rows = self._rows(owner=owner, start=period, end=period)
        group = ["week_of_period", "category"]
        return _pandas(combine(rows, group, "rollup").sort(*group))

    @functools.lru_cache(maxsize=64)  # noqa: B019
    def managers(
        self,
        *,
        category: str = "commit",
        owner: str | None = None,
        aggregate: Aggregate = "rollup",
        start: Any = None,
        end: Any = None,
    ) -> pd.DataFrame:
        """Rep calls against manager adjustments of the *same* calls (owner, period, week,
        category), per week of period and overall (``week_of_period`` None): scoring each on
        all its calls would compare different sets of calls."""
        keys = ["owner", "period", "week_of_period", "category"]
        kept = self._rows(start=start, end=end, owner=owner, category=category, submitted=None)
        manager = kept.filter(nw.col("submitted_by") == "manager")
        pairs = kept.join(manager.select(*keys), on=keys, how="semi")
        parts = []
        for group in (["week_of_period", "submitted_by"], ["submitted_by"]):
            parts.append(_pandas(summarize(pairs, group, aggregate, unit=self.unit)))
        out = pd.concat(parts, ignore_index=True)
        out["week_of_period"] = out["week_of_period"].astype("Int64")
        return out.sort_values(["week_of_period", "submitted_by"], na_position="last").reset_index(
            drop=True
        )

    @functools.lru_cache(maxsize=64)  # noqa: B019
    def projection(
        self,
        *,
        period: Any = None,
        week: int | None = None,
        owner: str | None = None,
        min_history: int = 3,
        interval: float = 0.8,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(team, owners): :func:`kw.forecast_projection` of ``period`` at ``week`` for the
        team (or ``owner`` alone) and per owner, from the calls of record."""
        calls, acts = self._final_calls, self._actuals
        if owner is not None:
            calls, acts = calls[calls["owner"] == owner], acts[acts["owner"] == owner]
        common = {
            "period": period,
            "week": week,
            "unit": self.unit,
            "min_history": min_history,
            "interval": interval,
        }
        team = project(calls, acts, team=True, **common)
        owners = project(calls, acts, team=False, **common)
        return team, owners


def _distinct(lf: nw.LazyFrame, column: str) -> pd.Series:
    """The distinct values of one column, computed on the engine."""
    return _pandas(lf.select(column).unique())[column]


def _quotas(quotas: Any) -> pd.DataFrame | None:
    if quotas is None:
        return None
    frame = nw.from_native(quotas)
    names = list(frame.collect_schema().names())
    missing = [c for c in ("owner", "period", "quota") if c not in names]
    if missing:
        raise ValueError(f"ForecastTracker: quotas is missing column(s) {missing}; found {names}")
    # Summed per owner and period on the engine: a lazy table is not collected row by row.
    keyed = frame.filter(~nw.col("owner").is_null() & ~nw.col("period").is_null())
    summed = keyed.group_by("owner", "period").agg(nw.col("quota").sum())
    if isinstance(summed, nw.LazyFrame):
        summed = summed.collect()
    table = summed.to_pandas()
    table["period"] = pd.to_datetime(table["period"])
    if getattr(table["period"].dt, "tz", None) is not None:
        table["period"] = table["period"].dt.tz_localize(None)
    return table.groupby(["owner", "period"], as_index=False)["quota"].sum()
