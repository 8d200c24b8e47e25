"""``ForecastTracker``: how accurate the calls are, how early they become accurate, who over-
or under-forecasts, and where the period will land."""

from __future__ import annotations

import html
from typing import Any, ClassVar

import ipywidgets as widgets
import pandas as pd
import traitlets

from kpiwidgets.charts.forecast import (
    OWNER_SELECTION,
    accuracy_by_week_chart,
    forecast_periods_chart,
    forecast_trend_chart,
    leaderboard_chart,
    manager_chart,
    projection_chart,
)
from kpiwidgets.charts.format import Formatter
from kpiwidgets.metrics.choices import Aggregate, choices
from kpiwidgets.metrics.forecast_session import FORMULAS, METRICS, ForecastSession
from kpiwidgets.widgets._base import COMPUTE, Frame, KPIWidget
from kpiwidgets.widgets._forecast_controls import (
    build_controls,
    parse_period,
    period_label,
    sync_controls,
)
from kpiwidgets.widgets._forecast_text import projection_html
from kpiwidgets.widgets._parts import ChartSlot, placeholder_chart

__all__ = ["ForecastTracker", "period_label"]

_TAB_TITLES = ("Forecast vs actual", "Snapshot trend", "Rep vs manager", "Projection")
_ALL = "__all__"
VIEWS = ("periods", "trend", "managers", "projection")
_EVERY = ("by_week", "leaderboard", *VIEWS)


def _setting(trait: traitlets.TraitType) -> traitlets.TraitType:
    return trait.tag(setting=True)


class ForecastTracker(KPIWidget):
    """Forecast accuracy tracker: accuracy by week of period, the owner leaderboard, forecast
    vs actual vs quota, a period's snapshot trend, rep vs manager, and the projection.

    Every number comes from a :class:`kw.ForecastSession` (``tracker.session``): the calls
    are scored once, and each view is a cached filter of them, so switching the metric
    redraws without recomputing.

    Parameters
    ----------
    forecasts, actuals
        As in :func:`kw.forecast_accuracy` (actuals with an ``owner`` column, e.g.
        ``kw.actuals_from_opportunities(ds.opportunities)``).
    quotas
        Optional ``owner``, ``period``, ``quota``: drawn as ticks on *Forecast vs actual*.
    zero_actuals
        As in :func:`kw.forecast_accuracy`.
    currency, locale
        How amounts are written in the projection's arithmetic (Babel; default USD / en).
    **settings
        Initial values of the settings below.

    Settings
    --------
    category : str
        The category scored by the leaderboard, the periods and the manager views
        (``"commit"`` by default). The headline shows every category.
    metric : {"accuracy", "wape", "bias", "attainment"}
        What the headline, leaderboard and manager views plot; its formula is in each chart's
        subtitle. Changing it redraws only.
    aggregate : {"rollup", "pooled", "mean", "weighted"}
        How owners combine in team views (see :func:`kw.forecast_summary`). With an owner
        selected there is one owner and every choice agrees.
    owner : str or None
        Filter every view but the leaderboard to one owner (a click on the leaderboard sets
        it; the leaderboard keeps every owner, the selected one highlighted).
    week : int or None
        Score only the calls made in this week of period (None: every week for the
        leaderboard, each period's final call for *Forecast vs actual*, the latest week for
        the projection).
    start, end : date-like or None
        Periods in range (inclusive), by period start.
    selected_period : date-like or None
        The period of the snapshot trend and the projection (None: the latest in range).
    view : {"periods", "trend", "managers", "projection"}
        The tab shown below the headline and the leaderboard.

    Frames drawn: ``result`` (the headline, :meth:`ForecastSession.by_week`),
    ``leaderboard_result``, ``periods_result``, ``trend_result``, ``managers_result``,
    ``projection_result`` (team) and ``projection_owners``.

    Examples
    --------
    >>> import kpiwidgets as kw
    >>> ds = kw.load_demo(n_leads=2_000)
    >>> tracker = ForecastTracker(
    ...     ds.forecasts, kw.actuals_from_opportunities(ds.opportunities), ds.quotas)
    >>> tracker.metric, sorted(tracker.result["category"].unique())
    ('accuracy', ['best_case', 'commit', 'pipeline'])
    >>> tracker.owner = "Hugo Martin"
    >>> set(tracker.periods_result["owners"])
    {1}
    """

    REFRESH: ClassVar[dict[str, tuple[str, ...]]] = {
        "category": (COMPUTE, *_EVERY),
        "metric": ("by_week", "leaderboard", "managers"),
        "aggregate": (COMPUTE, "by_week", "periods", "managers"),
        "owner": (COMPUTE, *_EVERY),
        "week": (COMPUTE, "leaderboard", "periods", "projection"),
        "start": (COMPUTE, *_EVERY),
        "end": (COMPUTE, *_EVERY),
        "selected_period": (COMPUTE, "trend", "projection"),
        "view": ("tabs",),  # draws the tab shown if a setting changed since it was drawn
    }

    category = _setting(traitlets.Unicode("commit", help="Category scored."))
    metric = _setting(traitlets.Enum(METRICS, "accuracy", help="Metric plotted."))
    aggregate = _setting(traitlets.Enum(choices(Aggregate), "rollup"))
    owner = _setting(traitlets.Any(None, allow_none=True, help="One owner, or None."))
    week = _setting(traitlets.Any(None, allow_none=True, help="Week of period, or None."))
    start = _setting(traitlets.Any(None, allow_none=True, help="First period shown."))
    end = _setting(traitlets.Any(None, allow_none=True, help="Last period shown."))
    selected_period = _setting(traitlets.Any(None, allow_none=True, help="Trend period."))
    view = _setting(traitlets.Enum(VIEWS, "periods", help="The tab shown."))
    leaderboard_result = Frame(None, help="The leaderboard drawn (ForecastSession.leaderboard).")

    def __init__(
        self,
        forecasts: Any,
        actuals: Any,
        quotas: Any = None,
        *,
        zero_actuals: str = "nan",
        currency: str = "USD",
        locale: str = "en",
        **settings: Any,
    ) -> None:
        self.format = Formatter(currency=currency, locale=locale)
        self.session = ForecastSession(forecasts, actuals, quotas, zero_actuals=zero_actuals)
        self._summary = ""
        self._trend_period: pd.Timestamp | None = None
        # The tabs' frames are computed when first needed (a tab is drawn when shown), so
        # building the tracker computes and draws only what is on screen.
        self._frames: dict[str, Any] = {}
        self._tab_args: dict[str, Any] = {}
        self._stale: set[str] = set()
        slots = {
            "by_week": "kpi-forecast-by-week",
            "leaderboard": "kpi-forecast-leaderboard",
            "periods": "kpi-forecast-periods",
            "trend": "kpi-forecast-trend",
            "managers": "kpi-forecast-managers",
            "projection": "kpi-forecast-projection",
        }
        self._slots = {k: ChartSlot(placeholder_chart(), css_class=c) for k, c in slots.items()}
        self._slots["leaderboard"].on_select(OWNER_SELECTION, self._on_pick)
        self._projection_table = widgets.HTML()
        self._projection_table.add_class("kpi-forecast-projection-table")
        self._tabs = widgets.Tab(
            children=[
                self._slots["periods"].view,
                self._slots["trend"].view,
                self._slots["managers"].view,
                widgets.VBox([self._slots["projection"].view, self._projection_table]),
            ]
        )
        for i, title in enumerate(_TAB_TITLES):
            self._tabs.set_title(i, title)
        self._tabs.observe(self._on_tab, "selected_index")
        super().__init__(**settings)
        self.parts.update({f"{k}_chart": s.widget for k, s in self._slots.items()})
        self.parts.update(projection_table=self._projection_table, tabs=self._tabs)
        self.add_class("kpi-forecast")

    # -- settings validation -----------------------------------------------------------------
    @traitlets.validate("week")
    def _valid_week(self, proposal: dict[str, Any]) -> int | None:
        value = proposal["value"]
        if value is None or value == "":
            return None
        try:
            week = int(value)
        except (TypeError, ValueError) as exc:
            raise traitlets.TraitError(f"week: expected a whole number, found {value!r}") from exc
        if isinstance(value, float) and week != value:
            raise traitlets.TraitError(f"week: expected a whole number, found {value!r}")
        return week

    @traitlets.validate("start", "end", "selected_period")
    def _valid_period(self, proposal: dict[str, Any]) -> pd.Timestamp | None:
        return parse_period(proposal["value"], proposal["trait"].name)

    @traitlets.validate("owner")
    def _valid_owner(self, proposal: dict[str, Any]) -> Any:
        value = proposal["value"]
        if isinstance(value, str) and value == "":
            return None
        if value is not None and value not in self.session.owners:
            # A URL gives text: "7" selects the owner 7 when the ids are numbers.
            by_text = {str(o): o for o in self.session.owners}
            return by_text.get(str(value), value)
        return value

    # -- the lifecycle hooks ----------------------------------------------------------------
    def compute(self) -> None:
        s = self.session
        s.check(owner=self.owner, category=self.category, week=self.week)
        periods = [p for p in s.periods if self._in_range(p)]
        if not periods:
            raise ValueError(
                f"no periods between {self.start} and {self.end}; the calls run from "
                f"{period_label(s.periods[0])} to {period_label(s.periods[-1])}"
            )
        focus = self.selected_period
        if focus is not None and focus not in periods:
            raise ValueError(
                f"selected_period {period_label(focus)} is not among the periods shown "
                f"({period_label(periods[0])} to {period_label(periods[-1])})"
            )
        self._trend_period = focus if focus is not None else periods[-1]
        span = {"start": self.start, "end": self.end}
        self.result = s.by_week(aggregate=self.aggregate, owner=self.owner, **span)
        self.leaderboard_result = s.leaderboard(category=self.category, week=self.week, **span)
        self._frames = {}
        self._tab_args = {
            "category": self.category,
            "week": self.week,
            "owner": self.owner,
            "aggregate": self.aggregate,
            "start": self.start,
            "end": self.end,
            "period": self._trend_period,
        }
        self._summary = self._describe(periods)

    def _frame(self, view: str) -> Any:
        """The frame of tab ``view`` for the settings of the last good compute (a failed
        compute leaves them, so a tab shown after an error shows the last good view)."""
        if view not in self._frames:
            s, a = self.session, self._tab_args
            span = {"start": a["start"], "end": a["end"]}
            common = {"category": a["category"], "owner": a["owner"], **span}
            if view == "periods":
                frame = s.by_period(week=a["week"], aggregate=a["aggregate"], **common)
            elif view == "trend":
                frame = s.trend(period=a["period"], owner=a["owner"])
            elif view == "managers":
                frame = s.managers(aggregate=a["aggregate"], **common)
            else:
                frame = s.projection(period=a["period"], week=a["week"], owner=a["owner"])
            self._frames[view] = frame
        return self._frames[view]

    @property
    def periods_result(self) -> pd.DataFrame:
        """Forecast vs actual vs quota per period (:meth:`ForecastSession.by_period`)."""
        return self._frame("periods")

    @property
    def trend_result(self) -> pd.DataFrame:
        """The snapshot trend of the selected period (:meth:`ForecastSession.trend`)."""
        return self._frame("trend")

    @property
    def managers_result(self) -> pd.DataFrame:
        """Rep vs manager on the same calls (:meth:`ForecastSession.managers`)."""
        return self._frame("managers")

    @property
    def projection_result(self) -> pd.DataFrame:
        """The team's projection (:meth:`ForecastSession.projection`, first frame)."""
        return self._frame("projection")[0]

    @property
    def projection_owners(self) -> pd.DataFrame:
        """Each owner's projection (:meth:`ForecastSession.projection`, second frame)."""
        return self._frame("projection")[1]

    def _in_range(self, period: pd.Timestamp) -> bool:
        return (self.start is None or period >= self.start) and (
            self.end is None or period <= self.end
        )

    def draw(self, parts: set[str]) -> None:
        formula = FORMULAS[self.metric]
        slots = self._slots
        if "by_week" in parts:
            slots["by_week"].update(
                accuracy_by_week_chart(self.result, metric=self.metric, formula=formula),
                table=self.result,
            )
        if "leaderboard" in parts:
            slots["leaderboard"].update(
                leaderboard_chart(
                    self.leaderboard_result,
                    metric=self.metric,
                    formula=formula,
                    selected=self.owner,
                ),
                table=self.leaderboard_result,
            )
        self._stale |= parts & set(VIEWS)
        if self.view in self._stale:
            self._draw_tab(self.view)
        self._sync_controls()
        self._tabs.selected_index = VIEWS.index(self.view)

    def _draw_tab(self, view: str) -> None:
        self._stale.discard(view)
        slot = self._slots[view]
        if view == "periods":
            call = "final call of each period" if self.week is None else f"call at week {self.week}"
            slot.update(
                forecast_periods_chart(self.periods_result, call=f"{self.category} {call}"),
                table=self.periods_result,
            )
        elif view == "trend":
            label = period_label(self._trend_period)
            slot.update(
                forecast_trend_chart(self.trend_result, period_label=label), table=self.trend_result
            )
        elif view == "managers":
            formula = FORMULAS[self.metric]
            slot.update(
                manager_chart(self.managers_result, metric=self.metric, formula=formula),
                table=self.managers_result,
            )
        else:
            slot.update(projection_chart(self.projection_result), table=self.projection_result)
            self._projection_table.value = self._projection_html()

    def _projection_html(self) -> str:
        return projection_html(
            self.projection_result,
            self.projection_owners,
            category=self.category,
            owner=self.owner,
            money=self.format.amount,
        )

    def _describe(self, periods: list[pd.Timestamp]) -> str:
        board = self.leaderboard_result
        parts = [
            f"{len(self.session.owners)} owners",
            f"{len(periods)} periods ({period_label(periods[0])} – {period_label(periods[-1])})",
            f"{self.category} calls",
            f"{int(board['n'].sum()):,} rep calls scored",
        ]
        if self.owner is not None:
            parts.append(f"owner: {self.owner}")
        else:
            parts.append(f"team = {self.aggregate}")
        if self.week is not None:
            parts.append(f"week {self.week} calls")
        return " · ".join(html.escape(p) for p in parts)

    def status_text(self) -> str:
        text = self._summary
        left = self.session.left_out
        if left:
            detail = ", ".join(f"{k}: {v:,}" for k, v in left.items() if k != "rows left out")
            text += (
                f' · <span class="kpi-forecast-left-out">not scored: {html.escape(detail)}</span>'
            )
        return text

    # -- controls ---------------------------------------------------------------------------
    def layout(self) -> tuple[list[widgets.Widget], list[widgets.Widget]]:
        wrap = widgets.Layout(flex_flow="row wrap", align_items="flex-start", gap="0 24px")
        pair = [self._slots["by_week"], self._slots["leaderboard"]]
        for slot in pair:  # fixed-width charts: side by side where the page is wide enough
            slot.view.layout.width = slot.widget.layout.width = "auto"
        head = widgets.HBox([slot.view for slot in pair], layout=wrap)
        return build_controls(self), [head, self._tabs]

    def _sync_controls(self) -> None:
        sync_controls(self)

    def _on_tab(self, change: dict[str, Any]) -> None:
        index = change["new"]
        if index is not None and VIEWS[index] != self.view:
            self.view = VIEWS[index]

    def _on_pick(self, selection: Any) -> None:
        picked = [v.get("owner") for v in (selection.value or [])]
        if picked and picked[0] is not None:
            self.owner = None if picked[0] == self.owner else picked[0]
