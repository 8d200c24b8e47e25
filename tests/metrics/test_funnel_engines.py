"""The same funnels on pandas, polars (eager and lazy) and DuckDB give identical numbers,
and each engine gets its own frame type back."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from tests.helpers import to_pandas

fm = importlib.import_module("kpiwidgets.metrics.funnel")

STEPS = ["a", ["b", "c"], "b", "d"]  # a list step and a name shared by two steps


def _log(n=3000, seed=1):
    rng = np.random.default_rng(seed)
    names = np.array(["a", "b", "c", "d", "x"])
    hours = rng.integers(0, 24 * 20, n)
    return pd.DataFrame(
        {
            "entity_id": rng.integers(0, 300, n),
            "event": names[rng.integers(0, 5, n)],
            "timestamp": np.datetime64("2024-01-01", "us") + hours.astype("timedelta64[h]"),
            "channel": np.array(["ads", "seo", "mail"])[rng.integers(0, 3, n)],
        }
    )


EVENTS = _log()


def _seconds(value) -> float:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return np.nan
    if hasattr(value, "total_seconds"):
        return value.total_seconds()
    # DuckDB intervals arrive through Arrow as (months, days, nanoseconds)
    return value.days * 86400 + value.nanoseconds / 1e9


SETTINGS = [
    {"order": "ordered", "attempts": "first", "window": "3D"},
    {"order": "strict", "attempts": "first", "window": "5D"},
    {"order": "any", "attempts": "best", "window": "2D"},
    {"order": "ordered", "attempts": "best", "window": "1D", "by": "channel"},
]


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: "-".join(map(str, s.values())))
def test_funnel_same_numbers_on_every_engine(settings, engine):
    reference = fm.funnel(EVENTS, STEPS, **settings)
    name = engine.name
    out = fm.funnel(engine.convert(EVENTS), STEPS, **settings)
    assert isinstance(out, engine.kind), name
    got = to_pandas(out)
    assert list(got.columns) == list(reference.columns), name
    for c in [
        "step",
        "step_number",
        "entities",
        "drop_off",
        *(["channel"] if "by" in settings else []),
    ]:
        assert got[c].tolist() == reference[c].tolist(), (name, c)
    for c in [
        "conversion_from_first",
        "conversion_from_previous",
        "drop_off_rate",
        "ci_low",
        "ci_high",
    ]:
        np.testing.assert_allclose(
            got[c].astype(float), reference[c].astype(float), rtol=1e-12, err_msg=name
        )
    med = [_seconds(v) for v in got["median_time_from_previous"]]
    ref = [_seconds(v) for v in reference["median_time_from_previous"]]
    np.testing.assert_allclose(med, ref, rtol=1e-12, err_msg=name)


def test_companions_on_every_engine(engine):
    convert, kind = engine.convert, engine.kind
    ref_entities = fm.funnel_entities(EVENTS, STEPS, window="3D")
    ents = fm.funnel_entities(convert(EVENTS), STEPS, window="3D")
    assert isinstance(ents, kind)
    got = to_pandas(ents)
    assert got["entity_id"].tolist() == ref_entities["entity_id"].tolist()
    assert got["furthest_step_number"].tolist() == ref_entities["furthest_step_number"].tolist()
    for col in ["a", "b or c", "b", "d"]:
        pd.testing.assert_series_equal(
            got[col].astype("datetime64[us]"), ref_entities[col].astype("datetime64[us]")
        )

    trend = to_pandas(fm.funnel_trend(convert(EVENTS), STEPS, window="3D", freq="W"))
    ref_trend = fm.funnel_trend(EVENTS, STEPS, window="3D", freq="W")
    assert trend["entities"].tolist() == ref_trend["entities"].tolist()
    assert trend["is_complete"].tolist() == ref_trend["is_complete"].tolist()
    assert trend["period"].astype("datetime64[us]").tolist() == ref_trend["period"].tolist()

    ttc = fm.time_to_convert(convert(EVENTS), STEPS, window="3D")
    ref_ttc = fm.time_to_convert(EVENTS, STEPS, window="3D")
    assert isinstance(ttc.durations, kind) and isinstance(ttc.bins, kind)
    summary = to_pandas(ttc.summary)
    assert summary["entities"].tolist() == ref_ttc.summary["entities"].tolist()
    assert [_seconds(v) for v in summary["p90"]] == [_seconds(v) for v in ref_ttc.summary["p90"]]
    assert to_pandas(ttc.bins)["entities"].tolist() == ref_ttc.bins["entities"].tolist()

    seg = to_pandas(fm.segment_comparison(convert(EVENTS), STEPS, by="channel"))
    ref_seg = fm.segment_comparison(EVENTS, STEPS, by="channel")
    np.testing.assert_allclose(seg["p_value"], ref_seg["p_value"], rtol=1e-12)
