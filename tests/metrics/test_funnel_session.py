"""FunnelSession, the FunnelExplorer's headless twin: the same frames as the public functions,
one scan of the events per (steps, order, attempts, start, end)."""

from __future__ import annotations

import importlib
import itertools

import pandas as pd
import polars as pl
import pytest

import kpiwidgets as kw

session_module = importlib.import_module("kpiwidgets.metrics.funnel_session")

LIFECYCLE = ["lead", "mql", "sql", "opportunity", "won"]
T0 = pd.Timestamp("2024-01-01")
ORDERS = ["ordered", "strict", "any"]
ATTEMPTS = ["first", "best"]
RANGES = [(None, None), ("2024-03-01", "2024-09-01")]
SCANS = list(itertools.product(ORDERS, ATTEMPTS, RANGES))


def with_detours(events: pd.DataFrame) -> pd.DataFrame:
    """The demo lifecycle is always in order; add events that make order and attempts matter.

    Every 7th lead gets a "call" a minute after its lead event (strict order stops there),
    every 11th an "sql" an hour after it (counts only in any order), and every 5th enters
    again 400 days after its last event and reaches mql a day later (only its best attempt).
    """
    ts = events.groupby("entity_id")["timestamp"]
    first, last = ts.min(), ts.max()
    ids = first.index.to_series().reset_index(drop=True)
    props = (
        events.drop_duplicates("entity_id")
        .set_index("entity_id")
        .drop(columns=["event", "timestamp"])
    )

    def rows(every, event, when):
        chosen = ids[ids.index % every == 0]
        out = props.loc[chosen].reset_index()
        return out.assign(event=event, timestamp=when.loc[chosen].to_numpy())

    extra = [
        rows(7, "call", first + pd.Timedelta(minutes=1)),
        rows(11, "sql", first + pd.Timedelta(hours=1)),
        rows(5, "lead", last + pd.Timedelta(days=400)),
        rows(5, "mql", last + pd.Timedelta(days=401)),
    ]
    return pd.concat([events, *extra], ignore_index=True)[events.columns]


@pytest.fixture(scope="module")
def demo():
    return with_detours(kw.load_demo(n_leads=1_000).funnel_events)


@pytest.fixture(scope="module")
def demo_session(demo):
    return kw.FunnelSession(demo)


def _small_log():
    """Every order/attempts rule matters somewhere (hours after 2024-01-01)."""
    rows = [
        ("a", "lead", 0, "ads"), ("a", "mql", 10, "ads"), ("a", "won", 30, "ads"),
        # strict: the call between lead and mql ends b's attempt at lead.
        ("b", "lead", 0, "seo"), ("b", "call", 1, "seo"), ("b", "mql", 2, "seo"),
        # first entry (seo) gets mql/won only with a window over 201 h; the second
        # attempt (ads) reaches won within 2 h.
        ("c", "lead", 0, "seo"), ("c", "lead", 200, "ads"), ("c", "mql", 201, "ads"),
        ("c", "won", 202, "ads"),
        # mql before the entry counts for nobody.
        ("d", "mql", 0, "ads"), ("d", "lead", 5, "ads"), ("d", "won", 6, "ads"),
        # any order: won before mql still counts both.
        ("f", "lead", 0, "mail"), ("f", "won", 1, "mail"), ("f", "mql", 3, "mail"),
        # enters in March, inside the [start, end) range.
        ("e", "lead", 24 * 70, "seo"), ("e", "mql", 24 * 70 + 1, "seo"),
    ]  # fmt: skip
    return pd.DataFrame(
        {
            "entity_id": [r[0] for r in rows],
            "event": [r[1] for r in rows],
            "timestamp": [T0 + pd.Timedelta(hours=r[2]) for r in rows],
            "channel": [r[3] for r in rows],
        }
    )


SMALL = _small_log()
SMALL_STEPS = ["lead", "mql", "won"]


@pytest.mark.parametrize(("order", "attempts", "dates"), SCANS)
def test_demo_session_equals_public_functions(demo, demo_session, order, attempts, dates):
    start, end = dates
    scan = {"order": order, "attempts": attempts, "start": start, "end": end}
    for window, by in [("7D", None), ("90D", "channel")]:
        expected = kw.funnel(demo, LIFECYCLE, window=window, by=by, **scan)
        got = demo_session.funnel(LIFECYCLE, window=window, by=by, **scan)
        pd.testing.assert_frame_equal(got, expected)
    if attempts == "first":  # entities once per chain: each public call is a full scan
        expected = kw.funnel_entities(demo, LIFECYCLE, window="30D", by="segment", **scan)
        got = demo_session.entities(LIFECYCLE, window="30D", by="segment", **scan)
        pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize(("order", "attempts", "dates"), SCANS)
def test_small_log_session_equals_public_functions(order, attempts, dates):
    start, end = dates
    scan = {"order": order, "attempts": attempts, "start": start, "end": end}
    session = kw.FunnelSession(SMALL)
    window, by = ("1D", None) if order == "ordered" else ("30D", "channel")
    expected = kw.funnel(SMALL, SMALL_STEPS, window=window, by=by, **scan)
    pd.testing.assert_frame_equal(
        session.funnel(SMALL_STEPS, window=window, by=by, **scan), expected
    )
    expected = kw.funnel_entities(SMALL, SMALL_STEPS, window="2h", by="channel", **scan)
    pd.testing.assert_frame_equal(
        session.entities(SMALL_STEPS, window="2h", by="channel", **scan), expected
    )


def test_small_log_counts_by_hand():
    session = kw.FunnelSession(SMALL)

    def counts(**settings):
        return session.funnel(SMALL_STEPS, **settings)["entities"].tolist()

    # Entered: a, b, c, d, e, f. Within 1 day of the first lead: a (mql 10h, won 30h > 24h),
    # b (mql 2h), d (won 1h after lead, but no mql after lead), e (mql), f (mql 3h, no won after).
    assert counts(window="1D") == [6, 4, 0]
    # 10 days: c's mql at 201h and won at 202h now count; a's won at 30h too.
    assert counts(window="10D") == [6, 5, 2]
    # Best attempt: c's second entry reaches won within 2h; a: mql at 10h > 2h.
    assert counts(window="2h", attempts="best") == [6, 3, 1]
    # Strict: b's call, c's second lead, d's and f's won each interrupt lead -> mql.
    assert counts(window="10D", order="strict") == [6, 2, 1]
    # Any order within 1 day: d did won (not mql); f did both.
    assert counts(window="1D", order="any") == [6, 4, 2]
    # Entry in [2024-03-01, 2024-09-01): only e.
    assert counts(window="1D", start="2024-03-01", end="2024-09-01") == [1, 1, 0]
    # Best attempt attributes c to the channel of its second entry (ads).
    best = session.funnel(SMALL_STEPS, window="2h", attempts="best", by="channel")
    won = best[(best["step"] == "won") & ~best["overall"]].set_index("channel")["entities"]
    assert won.to_dict() == {"ads": 1, "mail": 0, "seo": 0}
    assert best[(best["step"] == "won") & best["overall"]]["entities"].tolist() == [1]


def test_window_and_breakdown_changes_reuse_one_chain(demo, monkeypatch):
    calls = []
    real = session_module.build_chain

    def counting(*args, **kwargs):
        calls.append((kwargs["order"], kwargs["attempts"], kwargs["start"], kwargs["end"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(session_module, "build_chain", counting)
    session = kw.FunnelSession(demo)
    for window in ["7D", "30D", "365D"]:
        for by in [None, "channel", "segment", "owner"]:
            session.funnel(LIFECYCLE, window=window, by=by)
            session.entities(LIFECYCLE, window=window, by=by)
    assert calls == [("ordered", "first", None, None)]
    session.funnel(LIFECYCLE, window="7D", order="strict")
    session.funnel(LIFECYCLE, window="7D", attempts="best")
    session.funnel(LIFECYCLE, window="7D", start="2024-06-01")
    session.funnel(LIFECYCLE, window="90D", by="channel", start="2024-06-01")
    assert calls[1:] == [
        ("strict", "first", None, None),
        ("ordered", "best", None, None),
        ("ordered", "first", "2024-06-01", None),
    ]
    # The reused chain still gives the public numbers after all those regroupings.
    pd.testing.assert_frame_equal(
        session.funnel(LIFECYCLE, window="90D", by="channel", start="2024-06-01"),
        kw.funnel(demo, LIFECYCLE, window="90D", by="channel", start="2024-06-01"),
    )


def test_other_views_equal_public_functions(demo, demo_session):
    settings = {"window": "60D", "order": "ordered", "attempts": "best", "start": "2024-02-01"}
    pd.testing.assert_frame_equal(
        demo_session.trend(LIFECYCLE, freq="M", by="channel", **settings),
        kw.funnel_trend(demo, LIFECYCLE, freq="M", by="channel", **settings),
    )
    got = demo_session.time_to_convert(LIFECYCLE, by="segment", **settings)
    expected = kw.time_to_convert(demo, LIFECYCLE, by="segment", **settings)
    for part in ("durations", "summary", "bins"):
        pd.testing.assert_frame_equal(getattr(got, part), getattr(expected, part))
    pd.testing.assert_frame_equal(
        demo_session.segments(LIFECYCLE, by="channel", **settings),
        kw.segment_comparison(demo, LIFECYCLE, by="channel", **settings),
    )


def test_unknown_breakdown_names_the_allowed_columns(demo_session):
    with pytest.raises(ValueError, match="nope") as info:
        demo_session.funnel(LIFECYCLE, by="nope")
    assert "['channel', 'segment', 'owner']" in str(info.value)
    with pytest.raises(ValueError, match="channel"):
        demo_session.entities(LIFECYCLE, by="entity_id")


def test_polars_session_returns_polars_frames_equal_to_pandas(demo, demo_session):
    session = kw.FunnelSession(pl.from_pandas(demo))
    for window, by in [("14D", "channel"), ("45D", None)]:
        got = session.funnel(LIFECYCLE, window=window, by=by, order="strict")
        assert isinstance(got, pl.DataFrame)
        pd.testing.assert_frame_equal(
            got.to_pandas(),
            demo_session.funnel(LIFECYCLE, window=window, by=by, order="strict"),
        )
    got = session.entities(LIFECYCLE, window="14D", by="owner")
    assert isinstance(got, pl.DataFrame)
    pd.testing.assert_frame_equal(
        got.to_pandas(), demo_session.entities(LIFECYCLE, window="14D", by="owner")
    )
