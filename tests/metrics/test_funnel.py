"""Funnel semantics pinned on small hand-written event logs (docs/funnels.md)."""

from __future__ import annotations

import datetime as dt
import importlib
import math
import warnings

import narwhals.stable.v2 as nw
import pandas as pd
import polars as pl
import pytest

import kpiwidgets as kw
import kpiwidgets.metrics._funnel_chain as chain_module
from kpiwidgets import DroppedRowsWarning

# The package re-exports the function ``funnel`` under the module's name: import the module.
fm = importlib.import_module("kpiwidgets.metrics.funnel")

T0 = pd.Timestamp("2024-01-01")


def log(*rows, **props):
    """rows: (entity, event, hours after T0[, extra property values...])."""
    data = {
        "entity_id": [r[0] for r in rows],
        "event": [r[1] for r in rows],
        "timestamp": [T0 + pd.Timedelta(hours=r[2]) for r in rows],
    }
    for i, name in enumerate(props.get("columns", [])):
        data[name] = [r[3 + i] for r in rows]
    return pd.DataFrame(data)


def counts(events, steps, **kw):
    return fm.funnel(events, steps, **kw)["entities"].tolist()


def test_basic_output_columns_and_ratios():
    # 4 leads; 1 and 2 do mql, only 1 then wins.
    events = log(
        (1, "lead", 0), (1, "mql", 1), (1, "won", 5),
        (2, "lead", 0), (2, "mql", 3),
        (3, "lead", 0), (4, "lead", 2),
    )  # fmt: skip
    out = fm.funnel(events, ["lead", "mql", "won"])
    assert list(out.columns) == [
        "step", "step_number", "entities", "conversion_from_first",
        "conversion_from_previous", "drop_off", "drop_off_rate",
        "median_time_from_previous", "ci_low", "ci_high",
    ]  # fmt: skip
    assert out["entities"].tolist() == [4, 2, 1]
    assert out["conversion_from_first"].tolist() == [1.0, 0.5, 0.25]
    assert out["conversion_from_previous"].tolist() == [1.0, 0.5, 0.5]
    assert out["drop_off"].tolist() == [0, 2, 1]
    assert out["drop_off_rate"].tolist() == [0.0, 0.5, 0.5]
    # mql - lead: 1h and 3h -> median 2h; won - mql: 4h.
    med = out["median_time_from_previous"].tolist()
    assert pd.isna(med[0])
    assert med[1:] == [pd.Timedelta(hours=2), pd.Timedelta(hours=4)]


def test_wilson_interval_by_hand():
    events = log((1, "lead", 0), (1, "won", 1), (2, "lead", 0), (3, "lead", 0), (4, "lead", 0))
    out = fm.funnel(events, ["lead", "won"])
    # x = 1, n = 4, z = 1.959964: centre = (0.25 + z²/8) / (1 + z²/4),
    # half = z * sqrt(0.25*0.75/4 + z²/64) / (1 + z²/4)
    z = 1.959963984540054
    denom = 1 + z * z / 4
    centre = (0.25 + z * z / 8) / denom
    half = z * math.sqrt(0.25 * 0.75 / 4 + z * z / 64) / denom
    assert out["ci_low"][1] == pytest.approx(centre - half, abs=1e-12)
    assert out["ci_high"][1] == pytest.approx(centre + half, abs=1e-12)
    assert out["ci_low"][1] == pytest.approx(0.04559, abs=1e-5)  # textbook value


def test_zero_entities_gives_nan():
    events = log((1, "lead", 0), (1, "won", 1))
    out = fm.funnel(events, ["lead", "won"], start="2030-01-01")
    assert out["entities"].tolist() == [0, 0]
    assert out["conversion_from_first"].isna().all()
    assert out["ci_low"].isna().all()


def test_ties_count_in_step_order():
    # A and B at the same instant count as A -> B; B before A does not.
    events = log((1, "a", 0), (1, "b", 0), (2, "b", 0), (2, "a", 1))
    assert counts(events, ["a", "b"]) == [2, 1]


def test_repeated_step_needs_two_rows():
    # Steps a, a, b: entity 1 has two a rows (same instant) then b -> all 3 steps.
    # Entity 2 has one a row and b -> stops at step 1 (one row never fills two steps).
    events = log((1, "a", 0), (1, "a", 0), (1, "b", 1), (2, "a", 0), (2, "b", 1))
    assert counts(events, ["a", "a", "b"]) == [2, 1, 1]
    ents = fm.funnel_entities(events, ["a", "a", "b"])
    assert list(ents.columns) == [
        "entity_id", "furthest_step", "furthest_step_number", "a", "a (2)", "b",
    ]  # fmt: skip
    assert ents["furthest_step_number"].tolist() == [3, 1]


def test_window_edge_is_inclusive():
    # Entity 1 converts exactly at entry + 2h, entity 2 one microsecond later.
    events = log((1, "lead", 0), (1, "won", 2), (2, "lead", 0), (2, "won", 2))
    events.loc[3, "timestamp"] += pd.Timedelta(microseconds=1)
    assert counts(events, ["lead", "won"], window="2h") == [2, 1]
    assert counts(events, ["lead", "won"], window=dt.timedelta(hours=2, microseconds=1)) == [2, 2]


def test_entry_range_bounds_entry_only():
    # end bounds entry (step 1) only: entity 1 enters before end and wins after it (counted);
    # entity 2 enters after end (left out). Entity 3's first lead is before start, its second
    # is in range and is the entry.
    events = log(
        (1, "lead", 10), (1, "won", 30),
        (2, "lead", 25), (2, "won", 26),
        (3, "lead", 0), (3, "lead", 12), (3, "won", 13),
    )  # fmt: skip
    start, end = T0 + pd.Timedelta(hours=5), T0 + pd.Timedelta(hours=24)
    assert counts(events, ["lead", "won"], start=start, end=end) == [2, 2]
    ents = fm.funnel_entities(events, ["lead", "won"], start=start, end=end)
    assert ents["lead"].tolist() == [T0 + pd.Timedelta(hours=10), T0 + pd.Timedelta(hours=12)]


def test_strict_order_interrupted():
    # Entity 1: a, x, b -> x between a and b ends the attempt at a.
    # Entity 2: a, b (x at the same instant as b is not "between") -> reaches b.
    # Entity 3: a, a, b -> the second a is an event between the first a and b.
    events = log(
        (1, "a", 0), (1, "x", 1), (1, "b", 2),
        (2, "a", 0), (2, "x", 1), (2, "b", 1),
        (3, "a", 0), (3, "a", 1), (3, "b", 2),
    )  # fmt: skip
    assert counts(events, ["a", "b"], order="ordered") == [3, 3]
    assert counts(events, ["a", "b"], order="strict") == [3, 1]
    # With best attempts, entity 3's second a starts an attempt directly followed by b.
    assert counts(events, ["a", "b"], order="strict", attempts="best") == [3, 2]


def test_any_order():
    # Entity 1 does c then b after entering; entity 2 only c; entity 3 b before entering.
    events = log(
        (1, "a", 0), (1, "c", 1), (1, "b", 2),
        (2, "a", 0), (2, "c", 5),
        (3, "b", 0), (3, "a", 1),
    )  # fmt: skip
    assert counts(events, ["a", "b", "c"], order="ordered") == [3, 1, 0]
    # any: b done by 1 only; c by 1 and 2 -> counts need not decrease.
    out = fm.funnel(events, ["a", "b", "c"], order="any")
    assert out["entities"].tolist() == [3, 1, 2]
    assert out["drop_off"].tolist() == [0, 2, -1]


def test_best_vs_first_attempt():
    # Entity 1 enters at 0h and wins 50h later (outside the 24h window), re-enters at 40h and
    # wins at 50h: first attempt fails, best attempt converts (in 10h).
    events = log((1, "lead", 0), (1, "lead", 40), (1, "won", 50))
    assert counts(events, ["lead", "won"], window="24h") == [1, 0]
    out = fm.funnel(events, ["lead", "won"], window="24h", attempts="best")
    assert out["entities"].tolist() == [1, 1]
    assert out["median_time_from_previous"][1] == pd.Timedelta(hours=10)
    ents = fm.funnel_entities(events, ["lead", "won"], window="24h", attempts="best")
    assert ents["lead"][0] == T0 + pd.Timedelta(hours=40)
    # Ties in how far attempts get: the earliest attempt is kept.
    tie = log((1, "lead", 0), (1, "lead", 40), (2, "lead", 0), (2, "won", 1))
    ents = fm.funnel_entities(tie, ["lead", "won"], attempts="best")
    assert ents["lead"][0] == T0


def test_list_steps_mean_any_of():
    events = log((1, "lead", 0), (1, "call", 1), (2, "lead", 0), (2, "email", 1), (3, "lead", 0))
    out = fm.funnel(events, ["lead", ["call", "email"]])
    assert out["step"].tolist() == ["lead", "call or email"]
    assert out["entities"].tolist() == [3, 2]


def test_breakdown_attribution_and_overall_rows():
    # Channel is taken from the entry event: entity 1 enters via ads (its later 'seo' value on
    # the won row is ignored). Entity 3 has no channel: its own group, with a null value.
    events = log(
        (1, "lead", 0, "ads"), (1, "won", 1, "seo"),
        (2, "lead", 0, "seo"),
        (3, "lead", 0, None), (3, "won", 2, None),
        columns=["channel"],
    )  # fmt: skip
    out = fm.funnel(events, ["lead", "won"], by="channel")
    got = {
        (r.overall, None if pd.isna(r.channel) else r.channel, r.step_number): r.entities
        for r in out.itertuples()
    }
    assert got == {
        (True, None, 1): 3, (True, None, 2): 2,
        (False, "ads", 1): 1, (False, "ads", 2): 1,
        (False, "seo", 1): 1, (False, "seo", 2): 0,
        (False, None, 1): 1, (False, None, 2): 1,
    }  # fmt: skip
    # Overall rows first, then the values in order, the null value last.
    assert out["overall"].tolist()[:2] == [True, True]
    assert out["channel"].iloc[2:6].tolist() == ["ads", "ads", "seo", "seo"]
    assert out["channel"].iloc[6:].isna().all() and out["channel"].iloc[:2].isna().all()
    # The overall median is the engine's median over all entities (1h, 2h -> 1.5h), not a
    # combination of segment medians.
    overall = out[out.overall & (out.step_number == 2)]
    assert overall["median_time_from_previous"].iloc[0] == pd.Timedelta(minutes=90)


@pytest.mark.parametrize("order", ["ordered", "strict", "any"])
def test_breakdown_values_that_look_like_labels_stay_their_own_groups(order):
    # A channel literally called "(all)" or "(none)" must not merge with the overall rows or
    # with the entities that have no channel.
    events = log(
        (1, "lead", 0, "(all)"), (1, "won", 1, "(all)"),
        (2, "lead", 0, "(none)"),
        (3, "lead", 0, None), (3, "won", 2, None),
        (4, "lead", 0, None),
        columns=["channel"],
    )  # fmt: skip
    out = fm.funnel(events, ["lead", "won"], by="channel", order=order)
    got = {
        (r.overall, None if pd.isna(r.channel) else r.channel, r.step_number): r.entities
        for r in out.itertuples()
    }
    assert got == {
        (True, None, 1): 4, (True, None, 2): 2,
        (False, "(all)", 1): 1, (False, "(all)", 2): 1,
        (False, "(none)", 1): 1, (False, "(none)", 2): 0,
        (False, None, 1): 2, (False, None, 2): 1,
    }  # fmt: skip
    trend = fm.funnel_trend(events, ["lead", "won"], by="channel", freq="M")
    entered = trend[trend.step_number == 1]
    assert _groups(entered, "entities") == [
        (True, None, 4),
        (False, "(all)", 1),
        (False, "(none)", 1),
        (False, None, 2),
    ]
    summary = fm.time_to_convert(events, ["lead", "won"], by="channel").summary
    assert _groups(summary, "entities") == [(True, None, 2), (False, "(all)", 1), (False, None, 1)]


def _groups(frame, value):
    """(overall, channel, value) rows in order, a null channel as None."""
    return [
        (bool(o), None if pd.isna(c) else c, int(v))
        for o, c, v in zip(frame.overall, frame.channel, frame[value], strict=True)
    ]


def test_empty_event_log_gives_zero_counts_at_every_step():
    empty = log((1, "lead", 0)).iloc[0:0]
    out = fm.funnel(empty, ["lead", "mql", "won"])
    assert out["step"].tolist() == ["lead", "mql", "won"]
    assert out["entities"].tolist() == [0, 0, 0]
    assert out["conversion_from_first"].isna().all()  # 0 / 0: NaN, never an error
    # Unknown names on a log that has events are still an error.
    with pytest.raises(ValueError, match="unknown event name"):
        fm.funnel(log((1, "lead", 0)), ["lead", "nope"])


def test_null_rows_are_counted_and_warned():
    events = log((1, "lead", 0), (1, "won", 1), (2, "lead", 0), (3, "lead", 0))
    events["entity_id"] = events["entity_id"].astype("Int64")
    events.loc[2, "entity_id"] = None
    events.loc[3, "timestamp"] = pd.NaT
    with pytest.warns(DroppedRowsWarning, match="left out 2 row"):
        out = fm.funnel(events, ["lead", "won"])
    assert out["entities"].tolist() == [1, 1]
    assert out.attrs["dropped_rows"] == {
        "null entity_id": 1,
        "null timestamp": 1,
        "rows left out": 2,
    }


def test_unknown_step_lists_event_names():
    events = log((1, "lead", 0), (1, "won", 1))
    with pytest.raises(ValueError, match=r"unknown event name\(s\) \['mql'\].*\['lead', 'won'\]"):
        fm.funnel(events, ["lead", "mql"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"window": "30 days"}, "window: expected a duration"),
        ({"window": "-2h"}, "window: expected a duration"),
        ({"order": "sequential"}, "order must be one of 'ordered', 'strict', 'any', found"),
        ({"attempts": "last"}, "attempts must be one of 'first', 'best', found 'last'"),
        ({"entity": "lead_id"}, "entity: expected a column of the events frame, found 'lead_id'"),
        ({"by": "region"}, "by: expected a column"),
        ({"start": "2024-02-01", "end": "2024-01-01"}, "start/end: expected start < end"),
        ({"start": "not a date"}, "start: expected a date or datetime"),
    ],
)
def test_bad_parameters(kwargs, match):
    events = log((1, "lead", 0), (1, "won", 1))
    with pytest.raises(ValueError, match=match):
        fm.funnel(events, ["lead", "won"], **kwargs)


def test_bad_steps():
    events = log((1, "lead", 0))
    for steps in ([], "lead", ["lead", []], ["lead", 3]):
        with pytest.raises(ValueError, match="steps:"):
            fm.funnel(events, steps)


def test_tz_aware_timestamps_keep_their_zone():
    events = log((1, "lead", 0), (1, "won", 3))
    events["timestamp"] = events["timestamp"].dt.tz_localize("Europe/Paris")
    ents = fm.funnel_entities(events, ["lead", "won"])
    assert str(ents["won"].dt.tz) == "Europe/Paris"
    assert ents["won"][0] == pd.Timestamp("2024-01-01 03:00", tz="Europe/Paris")
    # A naive bound is wall time in the data's zone: the entry at 00:00 Paris is excluded.
    assert counts(events, ["lead", "won"], start="2024-01-01 00:30") == [0, 0]


def test_funnel_trend_is_complete():
    # Weeks start Monday 2024-01-01. Last timestamp: 2024-01-16 00:00.
    # Week 1 ends 01-08; + window 7D = 01-15 <= 01-16 -> complete.
    # Week 2 ends 01-15; + 7D = 01-22 > 01-16 -> incomplete.
    events = log(
        (1, "lead", 0), (1, "won", 24),
        (2, "lead", 24 * 3),
        (3, "lead", 24 * 8), (3, "won", 24 * 15),
    )  # fmt: skip
    out = fm.funnel_trend(events, ["lead", "won"], window="7D", freq="W")
    assert list(out.columns) == [
        "period", "step", "step_number", "entities", "conversion_from_first", "is_complete",
    ]  # fmt: skip
    assert out["period"].tolist() == [T0, T0, T0 + pd.Timedelta(days=7), T0 + pd.Timedelta(days=7)]
    assert out["entities"].tolist() == [2, 1, 1, 1]
    assert out["conversion_from_first"].tolist() == [1.0, 0.5, 1.0, 1.0]
    assert out["is_complete"].tolist() == [True, True, False, False]
    monthly = fm.funnel_trend(events, ["lead", "won"], window="7D", freq="M")
    assert monthly["entities"].tolist() == [3, 2]
    # January ends 02-01, + 7D > last timestamp -> incomplete.
    assert monthly["is_complete"].tolist() == [False, False]


def test_time_to_convert_summary_and_bins():
    # Durations (hours): 1, 2, 3, 4, 10 -> mean 4h, median 3h; linear quantiles:
    # p25 = 2h, p75 = 4h, p90 = 4 + 0.6 * (10 - 4) = 7.6h. n = 5 -> ceil(cbrt 5) = 2 bins of
    # width 4.5h over [1h, 10h]: [1, 5.5) holds 4, [5.5, 10] holds 1.
    rows = [(i, "lead", 0) for i in range(6)]
    rows += [(i, "won", h) for i, h in zip(range(5), [1, 2, 3, 4, 10], strict=True)]
    ttc = fm.time_to_convert(log(*rows), ["lead", "won"])
    hours = pd.Timedelta(hours=1)
    s = ttc.summary.iloc[0]
    assert s["entities"] == 5
    assert (s["mean"], s["median"], s["p25"], s["p75"]) == (
        4 * hours,
        3 * hours,
        2 * hours,
        4 * hours,
    )
    assert s["p90"] == 7.6 * hours
    assert ttc.durations["duration"].tolist() == [h * hours for h in [1, 2, 3, 4, 10]]
    assert ttc.bins["entities"].tolist() == [4, 1]
    assert ttc.bins["bin_start"].tolist() == [1 * hours, 5.5 * hours]
    assert ttc.bins["bin_end"].tolist() == [5.5 * hours, 10 * hours]


def test_time_to_convert_steps_and_errors():
    events = log((1, "a", 0), (1, "b", 1), (1, "c", 4), (2, "a", 0), (2, "b", 2))
    ttc = fm.time_to_convert(events, ["a", "b", "c"], from_step="b", to_step=3)
    assert ttc.durations["duration"].tolist() == [pd.Timedelta(hours=3)]
    with pytest.raises(ValueError, match="from_step/to_step: expected from_step before to_step"):
        fm.time_to_convert(events, ["a", "b", "c"], from_step=3, to_step=1)
    with pytest.raises(ValueError, match=r"to_step: expected a step number 1\.\.3"):
        fm.time_to_convert(events, ["a", "b", "c"], to_step="z")


def _segment_log(n_a, x_a, n_b, x_b):
    rows = []
    for seg, n, x in (("a", n_a, x_a), ("b", n_b, x_b)):
        for i in range(n):
            ent = f"{seg}{i}"
            rows.append((ent, "lead", 0, seg))
            if i < x:
                rows.append((ent, "won", 1, seg))
    return log(*rows, columns=["segment"])


def test_segment_comparison_z_test_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    out = fm.segment_comparison(_segment_log(200, 60, 300, 120), ["lead", "won"], by="segment")
    # Pooled two-proportion z-test == chi-square test without continuity correction.
    _, p, _, _ = stats.chi2_contingency([[60, 140], [120, 180]], correction=False)
    assert out["test"].tolist() == ["z", "z"]
    assert out["p_value"].tolist() == pytest.approx([p, p], rel=1e-9)
    assert out["conversion"].tolist() == [0.3, 0.4]
    assert out["rest_conversion"].tolist() == [0.4, 0.3]
    assert out["small_sample"].tolist() == [False, False]


def test_segment_comparison_fisher_under_small_counts():
    stats = pytest.importorskip("scipy.stats")
    out = fm.segment_comparison(_segment_log(8, 1, 12, 9), ["lead", "won"], by="segment")
    _, p = stats.fisher_exact([[1, 7], [9, 3]])
    assert out["test"].tolist() == ["fisher", "fisher"]
    assert out["p_value"].tolist() == pytest.approx([p, p], rel=1e-9)
    assert out["small_sample"].tolist() == [True, True]
    with pytest.raises(ValueError, match="by: expected"):
        fm.segment_comparison(_segment_log(1, 0, 1, 0), ["lead", "won"], by=[])


def test_chain_threshold_matches_direct_funnel():
    events = log(
        (1, "lead", 0), (1, "mql", 5), (1, "won", 30),
        (2, "lead", 0), (2, "mql", 50),
        (3, "lead", 2), (3, "mql", 3), (3, "won", 4),
    )  # fmt: skip
    steps = ["lead", "mql", "won"]
    for attempts in ("first", "best"):
        for order in ("ordered", "strict", "any"):
            chain = chain_module.build_chain(events, steps, order=order, attempts=attempts)
            for window in ("1h", "6h", "1D", "3D"):
                direct = fm.funnel(events, steps, window=window, order=order, attempts=attempts)
                cached = chain_module.funnel_from_chain(chain, window)
                pd.testing.assert_frame_equal(cached, direct)
    bounded = chain_module.build_chain(events, steps, max_window="1D")
    with pytest.raises(ValueError, match="window: expected at most"):
        chain_module.funnel_from_chain(bounded, "2D")


def test_no_warning_without_nulls():
    events = log((1, "lead", 0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fm.funnel(events, ["lead"])


# --- time zones: order and windows are real durations, periods are local calendar periods ---

NEW_YORK = "America/New_York"


def _utc(text):
    return pd.Timestamp(text, tz="UTC").tz_convert(NEW_YORK)


def test_fall_back_hour_orders_events_by_real_time():
    # 2024-11-03 in New York: a at 01:30 EDT (05:30 UTC), b at 01:10 EST (06:10 UTC). On the
    # wall clock b looks 20 minutes earlier; in real time it is 40 minutes later.
    events = pd.DataFrame(
        {
            "entity_id": ["x", "x"],
            "event": ["a", "b"],
            "timestamp": [_utc("2024-11-03 05:30"), _utc("2024-11-03 06:10")],
        }
    )
    result = kw.funnel(events, ["a", "b"])
    assert result["entities"].tolist() == [1, 1]
    assert result["median_time_from_previous"].iloc[1] == pd.Timedelta(minutes=40)
    entities = kw.funnel_entities(events, ["a", "b"])
    assert entities["b"].iloc[0] == _utc("2024-11-03 06:10")  # the repeated hour survives
    assert str(entities["b"].dt.tz) == NEW_YORK


def test_spring_forward_day_has_23_hours():
    # 12:00 EST on 2024-03-09 to 12:00 EDT on 2024-03-10 is 23 hours of real time.
    stamps = pd.to_datetime(["2024-03-09 12:00", "2024-03-10 12:00"]).tz_localize(NEW_YORK)
    events = pd.DataFrame({"entity_id": ["y", "y"], "event": ["a", "b"], "timestamp": stamps})
    assert kw.funnel(events, ["a", "b"], window="23h")["entities"].tolist() == [1, 1]
    assert kw.funnel(events, ["a", "b"], window="22h")["entities"].tolist() == [1, 0]
    ttc = kw.time_to_convert(events, ["a", "b"])
    assert ttc.durations["duration"].tolist() == [pd.Timedelta(hours=23)]


def test_trend_periods_and_bounds_are_in_the_data_zone():
    # 23:30 on Jan 31 in New York is already February in UTC: the entry belongs to January.
    stamps = pd.to_datetime(["2024-01-31 23:30", "2024-02-01 01:00"]).tz_localize(NEW_YORK)
    events = pd.DataFrame({"entity_id": ["u", "u"], "event": ["a", "b"], "timestamp": stamps})
    for frame in (events, pl.from_pandas(events)):
        trend = kw.funnel_trend(frame, ["a", "b"], freq="M")
        periods = nw.from_native(trend)["period"].to_list()
        assert periods == [pd.Timestamp("2024-01-01", tz=NEW_YORK)] * 2
    # A naive bound is wall time in the data's zone: 23:00 local lets the 23:30 entry in.
    assert kw.funnel(events, ["a", "b"], start="2024-01-31 23:00")["entities"].tolist() == [1, 1]
    assert kw.funnel(events, ["a", "b"], end="2024-01-31 23:00")["entities"].tolist() == [0, 0]


def test_numeric_event_codes_are_named_as_text_on_every_engine():
    # Entity 1 does events 10 then 20; entity 2 only 10.
    events = pd.DataFrame(
        {
            "entity_id": [1, 1, 2],
            "event": [10, 20, 10],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
        }
    )
    for frame in (events, pl.from_pandas(events)):
        result = nw.from_native(kw.funnel(frame, ["10", "20"]))
        assert result["entities"].to_list() == [2, 1]
        assert result["step"].to_list() == ["10", "20"]


def test_a_naive_bound_in_the_repeated_hour_means_its_first_occurrence():
    # 2024-11-03 01:40 happens twice in New York: a at 01:40 EDT (05:40 UTC), b at 01:40 EST
    # (06:40 UTC). start="01:30" is 01:30 EDT (05:30 UTC), so both entries are in range.
    events = pd.DataFrame(
        {
            "entity_id": ["a", "b"],
            "event": ["lead", "lead"],
            "timestamp": [_utc("2024-11-03 05:40"), _utc("2024-11-03 06:40")],
        }
    )
    assert kw.funnel(events, ["lead"], start="2024-11-03 01:30")["entities"].tolist() == [2]
    assert kw.funnel(events, ["lead"], end="2024-11-03 01:30")["entities"].tolist() == [0]
