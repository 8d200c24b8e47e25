"""One contract for every widget kpiwidgets exports, through the public surface only.

Widgets are discovered from ``kpiwidgets`` itself: a new exported ``KPIWidget`` subclass is
picked up by every test here, and fails until it has an entry in each registry below (a
factory, a value wrong for its data, its headless twin, an effect test per control).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
import traitlets
from pandas.testing import assert_frame_equal

import kpiwidgets as kw
from kpiwidgets.widgets._base import KPIWidget
from tests.metrics.test_funnel_session import with_detours

WIDGETS = sorted(
    (
        c
        for c in vars(kw).values()
        if isinstance(c, type) and issubclass(c, KPIWidget) and c is not KPIWidget
    ),
    key=lambda c: c.__name__,
)
IDS = [c.__name__ for c in WIDGETS]
NOT_A_CHOICE = "not-a-choice"


@pytest.fixture(scope="module")
def ds():
    return kw.load_demo(n_leads=2_000)


def won_channels(ds) -> pd.DataFrame:
    """Each won account's acquisition channel, one row per account."""
    won = ds.opportunities[ds.opportunities.status == "won"]
    return won[["account_id", "channel"]].drop_duplicates("account_id")


def won_actuals(ds) -> pd.DataFrame:
    """Won amount per owner and quarter of close, by plain pandas (every quarter closed)."""
    won = ds.opportunities[ds.opportunities["status"] == "won"]
    quarter = won["closed_at"].dt.to_period("Q").dt.start_time.rename("period")
    return won.groupby([won["owner"], quarter])["amount"].sum().reset_index()


def _tracker(ds, **settings) -> KPIWidget:
    return kw.ForecastTracker(ds.forecasts, won_actuals(ds), ds.quotas, **settings)


def rep_calls(ds, category: str = "commit") -> pd.DataFrame:
    """The demo's rep calls of a category with the won amount of their owner's quarter."""
    f = ds.forecasts
    calls = f[(f["category"] == category) & (f["submitted_by"] == "rep")]
    assert not calls.duplicated(["owner", "period", "snapshot_date"]).any()  # one a week
    calls = calls.merge(won_actuals(ds), on=["owner", "period"], suffixes=("", "_won"))
    return calls.assign(week=(calls["snapshot_date"] - calls["period"]).dt.days // 7)


BOARD_KPIS = [
    "leads",
    "cost_per_lead",
    "revenue",
    "opportunity_win_rate",
    "revenue_share",
    "churn_rate",
    "customer_acquisition_cost",
]


def _board(ds, **settings) -> KPIWidget:
    return kw.KPIBoard(ds, kpis=BOARD_KPIS, **settings)


def leads_between(ds, start: str, end: str) -> int:
    created = ds.leads["created_at"]
    return int(((created >= start) & (created < end)).sum())


# -- the registries: one entry per exported widget class ------------------------------------
Factory = Callable[..., KPIWidget]

#: Builds the widget on the demo data; ``**settings`` are passed on (the round trip uses it).
FACTORIES: dict[type, Factory] = {
    kw.FunnelExplorer: lambda ds, **settings: kw.FunnelExplorer(ds.funnel_events, **settings),
    kw.RetentionGrid: lambda ds, **settings: kw.RetentionGrid(ds.revenue, **settings),
    kw.ForecastTracker: _tracker,
    kw.KPIBoard: _board,
}

#: Settings away from the defaults, for the round trip and the twin.
CHANGED: dict[type, dict[str, Any]] = {
    kw.FunnelExplorer: {
        "steps": ["lead", "mql", "won"],
        "window": "60D",
        "order": "strict",
        "by": "channel",
        "start": "2024-03-01",
        "end": dt.date(2025, 6, 1),
        "freq": "M",
        "view": "Trend",
        "selected_step": 2,
    },
    kw.RetentionGrid: {
        "period": "Q",
        "measure": "revenue",
        "show": "count",
        "cohort_start": "2024-04-01",
        "average_method": "simple",
        "selected_cohort": "2024-07-15",
    },
    kw.ForecastTracker: {
        "category": "best_case",
        "metric": "wape",
        "aggregate": "pooled",
        "owner": "Ava Chen",
        "week": 3,
        "start": "2024-04-01",
        "end": dt.date(2025, 7, 1),
        "selected_period": "2025-01-01",
        "view": "projection",
    },
    kw.KPIBoard: {
        "period": "M",
        "as_of": "2025-06-01",
        "group": "sales",
        "selected": "revenue",
        "breakdown": "channel",
    },
}

#: (factory with whatever the wrong value needs, setting, value wrong for the data, a part
#: of the message, a good value of the same setting).
WRONG_FOR_DATA: dict[type, tuple[Factory, str, Any, str, Any]] = {
    kw.FunnelExplorer: (
        FACTORIES[kw.FunnelExplorer],
        "steps",
        ["lead", "demo booked"],
        "demo booked",
        ["lead", "mql"],
    ),
    kw.RetentionGrid: (
        lambda ds, **settings: kw.RetentionGrid(
            ds.revenue, by="channel", attributes=won_channels(ds), **settings
        ),
        "breakdown",
        "carrier pigeon",
        "carrier pigeon",
        "referral",
    ),
    kw.ForecastTracker: (_tracker, "owner", "Nobody Atall", "Nobody Atall", "Hugo Martin"),
    kw.KPIBoard: (_board, "selected", "cost_per_leed", "cost_per_leed", "cost_per_lead"),
}


def _registered(registry: dict, cls: type, name: str):
    if cls not in registry:
        pytest.fail(
            f"{cls.__name__} is exported by kpiwidgets but has no entry in {name} in "
            f"tests/widgets/test_common.py: add one so the common widget tests cover it"
        )
    return registry[cls]


def _build(cls, ds, **settings) -> KPIWidget:
    return _registered(FACTORIES, cls, "FACTORIES")(ds, **settings)


# -- discovery -----------------------------------------------------------------------------
def test_the_exported_widgets_are_discovered():
    assert {kw.FunnelExplorer, kw.RetentionGrid} <= set(WIDGETS)


REGISTRIES = ["FACTORIES", "CHANGED", "WRONG_FOR_DATA", "TWINS", "CONTROL_EFFECTS"]


@pytest.mark.parametrize("name", REGISTRIES)
def test_every_exported_widget_is_in_every_registry(name):
    missing = [c.__name__ for c in WIDGETS if c not in globals()[name]]
    assert not missing, (
        f"exported widget class(es) {missing} have no entry in {name} "
        "(tests/widgets/test_common.py): add one"
    )


# -- the policy for bad settings -----------------------------------------------------------
@pytest.mark.parametrize("cls", WIDGETS, ids=IDS)
def test_an_unknown_keyword_is_a_type_error_naming_the_settings(cls, ds):
    with pytest.raises(TypeError, match="no_such_setting") as raised:
        _build(cls, ds, no_such_setting=1)
    assert f"its settings are: {', '.join(cls.setting_names())}" in str(raised.value)


@pytest.mark.parametrize("cls", WIDGETS, ids=IDS)
def test_a_value_outside_a_choice_raises_and_leaves_the_widget_unchanged(cls, ds):
    w = _build(cls, ds)
    enums = [n for n in cls.setting_names() if isinstance(w.traits()[n], traitlets.Enum)]
    assert enums, f"{cls.__name__} has no choice settings"
    result, settings, status = w.result, dict(w.settings), w.status
    for name in enums:
        with pytest.raises(traitlets.TraitError, match=NOT_A_CHOICE):
            setattr(w, name, NOT_A_CHOICE)
        with pytest.raises(traitlets.TraitError, match=NOT_A_CHOICE):
            _build(cls, ds, **{name: NOT_A_CHOICE})
        if name in w.controls:
            assert w.controls[name].value == settings[name], name
    assert w.result is result and w.settings == settings and w.status == status
    assert w.error == "" and w.parts["error"].layout.display == "none"
    # From a URL the same values are ignored and said, never raised.
    ignored = w.apply_settings({name: NOT_A_CHOICE for name in enums} | {"no_such": 1})
    assert len(ignored) == len(enums) + 1
    assert ignored[-1] == f"no_such: not a setting of {cls.__name__}"
    assert w.settings == settings and w.error == ""
    assert_frame_equal(w.result, result)


@pytest.mark.parametrize("cls", WIDGETS, ids=IDS)
def test_a_value_wrong_for_the_data_is_shown_and_a_good_one_recovers(cls, ds):
    build, name, wrong, message, good = _registered(WRONG_FOR_DATA, cls, "WRONG_FOR_DATA")
    w = build(ds)
    before = w.result
    setattr(w, name, wrong)  # must not raise
    assert message in w.error
    box = w.parts["error"]
    assert box.layout.display == "" and "Could not update" in box.value
    assert w.result is before  # the last good result stays
    setattr(w, name, good)
    assert w.error == "" and box.layout.display == "none"
    assert getattr(w, name) == good and w.result is not before
    # At construction the wrong value is shown too, not raised.
    shown = build(ds, **{name: wrong})
    assert message in shown.error and shown.result is None
    setattr(shown, name, good)
    assert shown.error == ""
    assert_frame_equal(shown.result, w.result)


@pytest.mark.parametrize("cls", WIDGETS, ids=IDS)
def test_settings_round_trip_rebuilds_the_same_result(cls, ds):
    changed = _registered(CHANGED, cls, "CHANGED")
    w = _build(cls, ds, **changed)
    assert w.error == ""
    assert set(w.settings) == set(cls.setting_names())
    assert {n: w.settings[n] for n in changed} != {n: w.traits()[n].default() for n in changed}
    again = _build(cls, ds, **w.settings)
    assert again.error == "" and again.settings == w.settings
    assert_frame_equal(again.result, w.result)
    assert again.status == w.status


# -- the headless twins and numbers by hand -------------------------------------------------
def _overall(result):
    """The overall rows of a funnel result (all of them without a breakdown)."""
    return result[result["overall"]] if "overall" in result else result


def _funnel_twin(ds, w):
    events = ds.funnel_events
    settings = {n: w.settings[n] for n in ("window", "order", "attempts", "by", "start", "end")}
    assert_frame_equal(w.result, kw.funnel(events, w.steps, **settings))
    # By hand, plain pandas: who entered in the entry range, who reached mql within the window.
    leads = events[events["event"] == "lead"]
    assert leads["entity_id"].is_unique  # one entry per lead: "first entry" is that one
    lead_at = leads.set_index("entity_id")["timestamp"]
    lead_at = lead_at[(lead_at >= pd.Timestamp(w.start)) & (lead_at < pd.Timestamp(w.end))]
    mql = events[(events["event"] == "mql") & events["entity_id"].isin(lead_at.index)]
    delay = mql["timestamp"] - mql["entity_id"].map(lead_at)
    window = pd.Timedelta(w.window)
    reached = mql.loc[(delay >= pd.Timedelta(0)) & (delay <= window), "entity_id"].nunique()
    overall = _overall(w.result)
    assert overall["step"].tolist()[:2] == ["lead", "mql"]
    assert overall["entities"].tolist()[:2] == [len(lead_at), reached]
    assert 100 < len(lead_at) < len(leads) and 0 < reached < len(lead_at)
    assert f"{len(lead_at):,} entered" in w.status


def _retention_twin(ds, w):
    revenue = ds.revenue
    view = {n: w.settings[n] for n in ("period", "mode", "measure", "breakdown")}
    view |= {"cohort_start": w.cohort_start, "cohort_end": w.cohort_end}
    assert_frame_equal(w.result, w.session.view(**view))
    average = kw.average_retention(w.result, method=w.average_method)
    assert_frame_equal(w.average_result[average.columns], average)  # (and columns of its own)
    # Independently of the session: the core function on the whole activity, range by hand.
    core = kw.cohort_retention(revenue, period="Q", value="mrr", value_agg="period_end")
    core = core[core["cohort"] >= pd.Timestamp("2024-04-01")].reset_index(drop=True)
    assert_frame_equal(w.result, core)
    # By hand, plain pandas: cohort sizes are the accounts by quarter of first activity.
    first = revenue.groupby("account_id")["month"].min()
    sizes = first.dt.to_period("Q").dt.start_time.value_counts().sort_index()
    sizes = sizes[sizes.index >= "2024-04-01"]
    at_zero = w.result[w.result["period_number"] == 0].set_index("cohort")["cohort_size"]
    assert at_zero.to_dict() == sizes.to_dict()
    assert len(sizes) >= 4


def _forecast_twin(ds, w):
    s = w.session
    assert_frame_equal(w.result, s.by_week(aggregate="rollup", start=w.start, end=w.end))
    assert_frame_equal(w.leaderboard_result, s.leaderboard(start=w.start, end=w.end))
    # By hand, plain pandas: the team's week-0 commit accuracy is the mean over quarters of
    # max(0, 1 − |ΣF − ΣA| / ΣA), summing the owners' calls and their won amounts.
    calls = rep_calls(ds)
    calls = calls[(calls["week"] == 0) & (calls["period"] >= pd.Timestamp(w.start))]
    team = calls.groupby("period")[["amount", "amount_won"]].sum()
    accuracy = (1 - (team["amount"] - team["amount_won"]).abs() / team["amount_won"]).clip(0)
    shown = w.result.set_index(["week_of_period", "category"]).loc[(0, "commit")]
    assert shown["accuracy"] == pytest.approx(accuracy.mean())
    assert shown["n"] == len(team) >= 5
    # And each owner's bias in the leaderboard: Σ(F − A) / ΣA over their calls in range.
    every = rep_calls(ds)
    every = every[every["period"] >= pd.Timestamp(w.start)]
    sums = (
        (every.assign(e=every["amount"] - every["amount_won"]))
        .groupby("owner")[["e", "amount_won"]]
        .sum()
    )
    board = w.leaderboard_result.set_index("owner")["bias"]
    assert board.to_dict() == pytest.approx((sums["e"] / sums["amount_won"]).to_dict())


def _board_twin(ds, w):
    assert_frame_equal(w.result, w.session.tiles("Q", w.as_of))
    # By hand, plain pandas: 2025 Q2 leads, the quarter before, and Q2's won revenue.
    tiles = w.result.set_index("kpi")
    assert tiles.loc["leads", "value"] == leads_between(ds, "2025-04-01", "2025-07-01")
    assert tiles.loc["leads", "previous"] == leads_between(ds, "2025-01-01", "2025-04-01")
    opps = ds.opportunities
    q2 = opps[(opps["closed_at"] >= "2025-04-01") & (opps["closed_at"] < "2025-07-01")]
    assert tiles.loc["revenue", "value"] == q2.loc[q2["status"] == "won", "amount"].sum()
    decided = q2[q2["status"].isin(["won", "lost"])]
    assert tiles.loc["opportunity_win_rate", "value"] == pytest.approx(
        (decided["status"] == "won").mean()
    )
    # The revenue target is the quarter's summed quotas (the demo's targets table).
    quota = ds.quotas.loc[ds.quotas["period"] == pd.Timestamp("2025-04-01"), "quota"].sum()
    assert tiles.loc["revenue", "target"] == quota


TWIN_SETTINGS: dict[type, dict[str, Any]] = {
    kw.FunnelExplorer: {"window": "21D", "start": "2024-04-01", "end": "2025-01-01"},
    kw.RetentionGrid: {"period": "Q", "measure": "revenue", "cohort_start": "2024-05-20"},
    kw.ForecastTracker: {"start": "2024-04-01"},
    kw.KPIBoard: {"as_of": "2025-04-01"},
}
TWINS: dict[type, Callable[[Any, KPIWidget], None]] = {
    kw.FunnelExplorer: _funnel_twin,
    kw.RetentionGrid: _retention_twin,
    kw.ForecastTracker: _forecast_twin,
    kw.KPIBoard: _board_twin,
}


@pytest.mark.parametrize("cls", WIDGETS, ids=IDS)
def test_result_equals_the_headless_twin_and_a_number_by_hand(cls, ds):
    check = _registered(TWINS, cls, "TWINS")
    w = _build(cls, ds, **TWIN_SETTINGS.get(cls, {}))
    assert w.error == ""
    check(ds, w)


# -- every control's effect -------------------------------------------------------------------
def _small_activity() -> pd.DataFrame:
    """Six accounts over four months (as in test_retention_widget): January 1, 2, 3;
    February 4, 5; April 6. Month 1: January keeps 1 (1/3), February keeps 4 (1/2)."""
    rows = [
        (1, "2024-01"), (1, "2024-02"), (1, "2024-03"), (2, "2024-01"), (3, "2024-01"),
        (3, "2024-03"), (3, "2024-04"), (4, "2024-02"), (4, "2024-03"), (5, "2024-02"),
        (6, "2024-04"),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["account_id", "month"])
    frame["month"] = pd.to_datetime(frame["month"])
    return frame


def _set_control(w, name, value):
    control = w.controls[name]
    assert control.value != value, f"{name}: already {value!r}"
    control.value = value
    assert w.error == "", (name, w.error)


# FunnelExplorer ------------------------------------------------------------------------------
def _funnel_steps(ds, w):
    _set_control(w, "steps", ["lead", "won"])
    assert w.steps == ["lead", "won"]
    assert w.result["step"].tolist() == ["lead", "won"]
    assert w.result["entities"].iloc[0] == ds.funnel_events["entity_id"].nunique()


def _funnel_window(ds, w):
    _set_control(w, "window", "14D")
    short = w.result
    _set_control(w, "window", "180D")
    assert w.window == "180D"
    # A longer window lets more entities convert: never fewer, and more at the last step.
    assert (short["entities"] <= w.result["entities"]).all()
    assert short["conversion_from_first"].iloc[-1] < w.result["conversion_from_first"].iloc[-1]


def _funnel_order(ds, w):
    w = kw.FunnelExplorer(with_detours(ds.funnel_events), steps=["lead", "mql", "sql"])
    ordered = w.result["entities"]
    _set_control(w, "order", "strict")
    assert w.order == "strict"
    # Strict order: a "call" straight after the lead breaks the chain, so fewer reach mql.
    strict = w.result["entities"]
    assert strict.iloc[0] == ordered.iloc[0] and (strict <= ordered).all()
    assert strict.iloc[1] < ordered.iloc[1]


def _funnel_attempts(ds, w):
    w = kw.FunnelExplorer(with_detours(ds.funnel_events), steps=["lead", "mql", "sql"])
    first = w.result["entities"]
    _set_control(w, "attempts", "best")
    assert w.attempts == "best"
    # Every 5th lead enters again 400 days later and reaches mql a day after: its best
    # attempt reaches mql even when its first did not.
    best = w.result["entities"]
    assert best.iloc[0] == first.iloc[0] and (best >= first).all()
    assert best.iloc[1] > first.iloc[1]


def _funnel_by(ds, w):
    _set_control(w, "by", "channel")
    assert w.by == "channel"
    groups = w.result[~w.result["overall"]]
    entered = groups[groups["step_number"] == 1].set_index("channel")["entities"]
    leads = ds.funnel_events[ds.funnel_events["event"] == "lead"]
    assert entered.to_dict() == leads.groupby("channel")["entity_id"].nunique().to_dict()
    assert "by channel" in w.status


def _lead_times(ds):
    events = ds.funnel_events
    return events.loc[events["event"] == "lead", "timestamp"]


def _funnel_start(ds, w):
    _set_control(w, "start", dt.date(2024, 7, 1))
    assert pd.Timestamp(w.start) == pd.Timestamp("2024-07-01")
    expected = int((_lead_times(ds) >= "2024-07-01").sum())
    assert w.result["entities"].iloc[0] == expected and 0 < expected < 2_000


def _funnel_end(ds, w):
    _set_control(w, "end", dt.date(2024, 7, 1))
    assert pd.Timestamp(w.end) == pd.Timestamp("2024-07-01")
    expected = int((_lead_times(ds) < "2024-07-01").sum())
    assert w.result["entities"].iloc[0] == expected and 0 < expected < 2_000


def _funnel_freq(ds, w):
    w.view = "Trend"
    weekly = pd.DataFrame(w.parts["trend_chart"].chart.data)["period"]
    assert (weekly.dt.day_of_week == 0).all() and not (weekly.dt.day == 1).all()
    result = w.result
    _set_control(w, "freq", "M")
    assert w.freq == "M"
    monthly = pd.DataFrame(w.parts["trend_chart"].chart.data)["period"]
    assert (monthly.dt.day == 1).all() and monthly.nunique() < weekly.nunique()
    assert w.result is result  # the trend period does not touch the funnel


def _funnel_view(ds, w):
    result = w.result
    assert w.parts["time_summary"].value == ""  # computed when first shown
    _set_control(w, "view", "Time to convert")
    assert w.view == "Time to convert"
    converted = int(w.result["entities"].iloc[-1])
    assert f"<td>{converted}</td>" in w.parts["time_summary"].value
    _set_control(w, "view", "Segments")
    assert "Choose a breakdown" in w.parts["segments"].value
    assert w.result is result


# RetentionGrid --------------------------------------------------------------------------------
def _first_month(ds):
    return ds.revenue.groupby("account_id")["month"].min()


def _grid_period(ds, w):
    _set_control(w, "period", "Q")
    assert w.period == "Q"
    cohorts = w.result["cohort"]
    assert cohorts.dt.month.isin([1, 4, 7, 10]).all() and (cohorts.dt.day == 1).all()
    sizes = _first_month(ds).dt.to_period("Q").dt.start_time.value_counts()
    at_zero = w.result[w.result["period_number"] == 0].set_index("cohort")["cohort_size"]
    assert at_zero.to_dict() == sizes.to_dict()


def _grid_mode(ds, w):
    on = w.result.set_index(["cohort", "period_number"])["retained"]
    _set_control(w, "mode", "on_or_after")
    assert w.mode == "on_or_after"
    later = w.result.set_index(["cohort", "period_number"])["retained"]
    assert (later >= on).all() and (later > on).any()
    # By hand for the first cohort: retained at k = accounts still active in month k or later.
    first, revenue = _first_month(ds), ds.revenue
    cohort = first.min()
    accounts = first[first == cohort].index
    last = revenue[revenue["account_id"].isin(accounts)].groupby("account_id")["month"].max()
    months_on = (last.dt.year - cohort.year) * 12 + last.dt.month - cohort.month
    expected = [int((months_on >= k).sum()) for k in range(len(later.loc[cohort]))]
    assert later.loc[cohort].tolist() == expected


def _grid_measure(ds, w):
    assert "value_retention" not in w.result
    _set_control(w, "measure", "revenue")
    assert w.measure == "revenue" and "value_retention" in w.result
    at_zero = w.result[w.result["period_number"] == 0].set_index("cohort")
    assert (at_zero["value_retention"] == 1.0).all()
    # By hand: a monthly cohort's period-0 value is its accounts' MRR in their first month.
    first = _first_month(ds)
    starts = ds.revenue[ds.revenue["month"] == ds.revenue["account_id"].map(first)]
    by_cohort = starts.groupby("month")["mrr"].sum()
    assert at_zero["value"].to_numpy() == pytest.approx(by_cohort.loc[at_zero.index].to_numpy())


def _printed(w):
    chart = w.parts["grid_chart"].chart
    text = chart.to_dict()["layer"][1]["encoding"]["text"]
    data = pd.DataFrame(chart.data)
    assert text["field"] == "printed"
    return text["format"], data.loc[data["cohort"] != "average", "printed"].tolist()


def _grid_show(ds, w):
    result = w.result
    fmt, printed = _printed(w)
    assert fmt == ".0%" and printed == result["retention"].tolist()
    _set_control(w, "show", "count")
    assert w.show == "count"
    fmt, printed = _printed(w)
    assert fmt == "," and printed == result["retained"].tolist()
    assert w.result is result  # only the cells' text changes


def _grid_average_method(ds, w):
    w = kw.RetentionGrid(_small_activity())
    k1 = w.average_result.set_index("period_number").loc[1, "retention"]
    assert k1 == pytest.approx(2 / 5)  # pooled: (1 + 1) / (3 + 2)
    _set_control(w, "average_method", "simple")
    assert w.average_method == "simple"
    k1 = w.average_result.set_index("period_number").loc[1, "retention"]
    assert k1 == pytest.approx((1 / 3 + 1 / 2) / 2)  # each cohort weighs the same


def _grid_cohorts(ds, w):
    before = w.result
    slider = w.controls["cohorts"]
    cohorts = [value for _, value in slider.options]
    assert cohorts == sorted(_first_month(ds).unique())
    _set_control(w, "cohorts", (cohorts[2], cohorts[5]))
    assert (w.cohort_start, w.cohort_end) == (cohorts[2], cohorts[5])
    assert sorted(w.result["cohort"].unique()) == cohorts[2:6]
    kept = before[before["cohort"].between(cohorts[2], cohorts[5])].reset_index(drop=True)
    assert_frame_equal(w.result, kept)


def _grid_breakdown(ds, w):
    options = dict(w.controls["breakdown"].options)
    _set_control(w, "breakdown", options["referral"])
    assert w.breakdown == "referral" and "channel: referral" in w.status
    channels = won_channels(ds).set_index("account_id")["channel"]
    first = _first_month(ds)
    referral = first[first.index.map(channels) == "referral"]
    at_zero = w.result[w.result["period_number"] == 0].set_index("cohort")["cohort_size"]
    assert at_zero.to_dict() == referral.value_counts().to_dict()


def _grid_curves(ds, w):
    def series(chart):
        return pd.DataFrame(chart.layer[0].data)

    assert "channel" not in series(w.parts["curves_chart"].chart)
    result = w.result
    _set_control(w, "curves", "breakdown")
    assert w.curves == "breakdown"
    lines = series(w.parts["curves_chart"].chart)
    channels = won_channels(ds).set_index("account_id")["channel"]
    expected = set(_first_month(ds).index.map(channels).dropna())
    assert set(lines["channel"]) == expected and len(expected) > 1
    assert not lines.duplicated(["channel", "period_number"]).any()  # one line each
    assert w.result is result


# ForecastTracker ------------------------------------------------------------------------------
def _bias_by_owner(calls: pd.DataFrame) -> dict[str, float]:
    sums = (
        calls.assign(e=calls["amount"] - calls["amount_won"])
        .groupby("owner")[["e", "amount_won"]]
        .sum()
    )
    return (sums["e"] / sums["amount_won"]).to_dict()


def _tracker_category(ds, w):
    _set_control(w, "category", "best_case")
    assert w.category == "best_case" and "best_case calls" in w.status
    board = w.leaderboard_result.set_index("owner")
    calls = rep_calls(ds, "best_case")
    assert board["n"].sum() == len(calls)
    assert board["bias"].to_dict() == pytest.approx(_bias_by_owner(calls))


def _tracker_metric(ds, w):
    result, board = w.result, w.leaderboard_result
    _set_control(w, "metric", "wape")
    assert w.metric == "wape" and w.result is result and w.leaderboard_result is board
    chart = w.parts["by_week_chart"].chart
    frames = [c.data for c in (chart, *chart.layer) if isinstance(c.data, pd.DataFrame)]
    drawn = next(f for f in frames if "value" in f)
    assert drawn["value"].tolist() == pytest.approx(result["wape"].tolist())
    assert "WAPE = Σ|F − A| / ΣA" in w.parts["by_week_chart"].chart.to_dict()["title"]["subtitle"]


def _tracker_aggregate(ds, w):
    _set_control(w, "aggregate", "mean")
    assert w.aggregate == "mean"
    # By hand: each owner's mean accuracy of their week-0 commit calls, then the plain mean.
    calls = rep_calls(ds)
    calls = calls[calls["week"] == 0]
    accuracy = (1 - (calls["amount"] - calls["amount_won"]).abs() / calls["amount_won"]).clip(0)
    per_owner = accuracy.groupby(calls["owner"]).mean()
    shown = w.result.set_index(["week_of_period", "category"]).loc[(0, "commit"), "accuracy"]
    assert shown == pytest.approx(per_owner.mean())
    assert "team = mean" in w.status


def _tracker_owner(ds, w):
    _set_control(w, "owner", "Hugo Martin")
    assert w.owner == "Hugo Martin" and "owner: Hugo Martin" in w.status
    # Forecast vs actual: his last rep commit call of each quarter against what he won.
    calls = rep_calls(ds)
    hugo = calls[calls["owner"] == "Hugo Martin"].sort_values("snapshot_date")
    final = hugo.groupby("period")[["amount", "amount_won"]].last()
    shown = w.periods_result.set_index("period")
    assert shown["forecast"].to_dict() == final["amount"].to_dict()
    assert shown["actual"].to_dict() == final["amount_won"].to_dict()
    assert set(shown["owners"]) == {1}
    assert len(w.leaderboard_result) == ds.forecasts["owner"].nunique()  # all still there


def _tracker_week(ds, w):
    _set_control(w, "week", 3)
    assert w.week == 3 and "week 3 calls" in w.status
    calls = rep_calls(ds)
    calls = calls[calls["week"] == 3]
    board = w.leaderboard_result.set_index("owner")
    assert board["n"].to_dict() == calls.groupby("owner").size().to_dict()
    assert board["bias"].to_dict() == pytest.approx(_bias_by_owner(calls))


def _tracker_periods(ds, w):
    slider = w.controls["periods"]
    periods = [value for _, value in slider.options]
    assert periods == sorted(ds.forecasts["period"].unique())
    _set_control(w, "periods", (periods[2], periods[5]))
    assert (w.start, w.end) == (periods[2], periods[5])
    assert w.periods_result["period"].tolist() == periods[2:6]
    calls = rep_calls(ds)
    calls = calls[calls["period"].between(periods[2], periods[5])]
    assert w.leaderboard_result["n"].sum() == len(calls)


def _tracker_selected_period(ds, w):
    quarter = pd.Timestamp("2025-04-01")
    _set_control(w, "selected_period", quarter)
    assert w.selected_period == quarter
    # The trend of that quarter: each week's summed commit calls, against its won total.
    calls = rep_calls(ds)
    calls = calls[calls["period"] == quarter]
    by_week = calls.groupby("week")["amount"].sum()
    trend = w.trend_result[w.trend_result["category"] == "commit"].set_index("week_of_period")
    assert trend["forecast"].to_dict() == pytest.approx(by_week.to_dict())
    won = won_actuals(ds)
    assert set(trend["actual"]) == {won.loc[won["period"] == quarter, "amount"].sum()}


# KPIBoard ------------------------------------------------------------------------------------
def _board_period(ds, w):
    _set_control(w, "period", "Y")
    assert w.period == "Y"
    tiles = w.result.set_index("kpi")
    assert tiles.loc["leads", "period"] == pd.Timestamp("2025-01-01")
    assert tiles.loc["leads", "value"] == leads_between(ds, "2025-01-01", "2026-01-01")
    assert tiles.loc["leads", "previous"] == leads_between(ds, "2024-01-01", "2025-01-01")


def _board_group(ds, w):
    result = w.result
    _set_control(w, "group", "customers")
    assert w.group == "customers" and w.result is result  # a filter of the same tiles
    shown = [c for box in w.parts["tiles"].children for c in getattr(box, "children", [])]
    names = {cls for tile in shown for cls in tile._dom_classes if cls.startswith("kpi-tile-")}
    assert {"kpi-tile-churn_rate", "kpi-tile-customer_acquisition_cost"} <= names
    assert "kpi-tile-leads" not in names


def _board_as_of(ds, w):
    _set_control(w, "as_of", pd.Timestamp("2024-07-01"))
    assert w.as_of == pd.Timestamp("2024-07-01")
    tiles = w.result.set_index("kpi")
    assert tiles.loc["leads", "value"] == leads_between(ds, "2024-07-01", "2024-10-01")
    assert tiles.loc["leads", "previous"] == leads_between(ds, "2024-04-01", "2024-07-01")


def _board_breakdown(ds, w):
    _set_control(w, "breakdown", "channel")
    assert w.breakdown == "channel"
    detail = w.detail_result
    # By hand: each channel's marketing spend over all quarters is the numerators' sum.
    spend = ds.spend[ds.spend["team"] == "marketing"].groupby("channel")["amount"].sum()
    by_channel = detail.groupby("channel")["numerator"].sum()
    assert by_channel.to_dict() == pytest.approx(spend.to_dict())
    assert detail.groupby("channel")["denominator"].sum().to_dict() == (
        ds.leads.groupby("channel").size().astype(float).to_dict()
    )


CONTROL_EFFECTS: dict[type, dict[str, Callable[[Any, KPIWidget], None]]] = {
    kw.FunnelExplorer: {
        "steps": _funnel_steps,
        "window": _funnel_window,
        "order": _funnel_order,
        "attempts": _funnel_attempts,
        "by": _funnel_by,
        "start": _funnel_start,
        "end": _funnel_end,
        "freq": _funnel_freq,
        "view": _funnel_view,
    },
    kw.RetentionGrid: {
        "period": _grid_period,
        "mode": _grid_mode,
        "measure": _grid_measure,
        "show": _grid_show,
        "average_method": _grid_average_method,
        "cohorts": _grid_cohorts,
        "breakdown": _grid_breakdown,
        "curves": _grid_curves,
    },
    kw.ForecastTracker: {
        "category": _tracker_category,
        "metric": _tracker_metric,
        "aggregate": _tracker_aggregate,
        "owner": _tracker_owner,
        "week": _tracker_week,
        "periods": _tracker_periods,
        "selected_period": _tracker_selected_period,
    },
    kw.KPIBoard: {
        "period": _board_period,
        "group": _board_group,
        "as_of": _board_as_of,
        "breakdown": _board_breakdown,
    },
}

#: The widget with every control there is (RetentionGrid's breakdown controls need by=).
FULL: dict[type, Factory] = {
    kw.RetentionGrid: WRONG_FOR_DATA[kw.RetentionGrid][0],
    kw.KPIBoard: lambda ds, **settings: _board(ds, selected="cost_per_lead", **settings),
}


@pytest.fixture(scope="module")
def full_widgets(ds):
    return {cls: FULL.get(cls, FACTORIES.get(cls, lambda ds: None))(ds) for cls in WIDGETS}


@pytest.fixture
def full_widget(request, full_widgets):
    """A module-wide widget with every control, back at its first settings after each test."""
    w = full_widgets[request.param]
    first = dict(w.settings)
    yield w
    for name, value in first.items():  # one by one: each refreshes only what it changes
        if w.settings[name] != value:
            setattr(w, name, value)
    assert w.error == "" and w.settings == first


@pytest.mark.parametrize("cls", WIDGETS, ids=IDS)
def test_every_control_has_an_effect_test(cls, full_widgets):
    effects = _registered(CONTROL_EFFECTS, cls, "CONTROL_EFFECTS")
    w = full_widgets[cls]
    untested = sorted(set(w.controls) - set(effects))
    assert not untested, f"{cls.__name__} controls without an effect test: {untested}"
    assert set(effects) <= set(w.controls)


@pytest.mark.parametrize(
    ("full_widget", "control"),
    [(cls, name) for cls, effects in CONTROL_EFFECTS.items() for name in effects],
    ids=[f"{cls.__name__}-{name}" for cls, effects in CONTROL_EFFECTS.items() for name in effects],
    indirect=["full_widget"],
)
def test_a_control_changes_its_setting_and_the_result_as_it_means(full_widget, control, ds):
    CONTROL_EFFECTS[type(full_widget)][control](ds, full_widget)
