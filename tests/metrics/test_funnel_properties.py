"""Property test: ``funnel_entities`` agrees with ``funnel`` for every setting, and the cached
chain thresholded at a window equals a direct computation, on random small logs."""

from __future__ import annotations

import importlib

import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

fm = importlib.import_module("kpiwidgets.metrics.funnel")
chain_module = importlib.import_module("kpiwidgets.metrics._funnel_chain")

T0 = pd.Timestamp("2024-01-01")
NAMES = ["a", "b", "c", "x"]
STEP_CHOICES = [
    ["a", "b", "c"],
    ["a", "a", "b"],  # repeated step
    ["a", ["b", "c"], "b"],  # list step sharing a name with a later step
    ["b", "a"],
]

events_strategy = st.lists(
    st.tuples(st.integers(0, 4), st.sampled_from(NAMES), st.integers(0, 12)),
    min_size=1,
    max_size=30,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=events_strategy,
    steps=st.sampled_from(STEP_CHOICES),
    order=st.sampled_from(["ordered", "strict", "any"]),
    attempts=st.sampled_from(["first", "best"]),
    window=st.sampled_from(["0s", "2h", "5h", "1D"]),
)
def test_entities_agree_with_funnel(rows, steps, order, attempts, window):
    events = pd.DataFrame(
        {
            "entity_id": [r[0] for r in rows],
            "event": [r[1] for r in rows],
            # whole hours: plenty of equal timestamps
            "timestamp": [T0 + pd.Timedelta(hours=r[2]) for r in rows],
        }
    )
    names = {n for s in steps for n in ([s] if isinstance(s, str) else s)}
    assume(names <= set(events["event"]))  # unknown step names are an error, tested elsewhere
    params = {"order": order, "attempts": attempts, "window": window}
    table = fm.funnel(events, steps, **params)
    ents = fm.funnel_entities(events, steps, **params)
    step_columns = list(ents.columns[3:])
    assert table["entities"].tolist() == [int(ents[c].notna().sum()) for c in step_columns]
    # Every reached step lies within [entry, entry + window]; ordered funnels never go back.
    entry = ents[step_columns[0]]
    limit = entry + pd.Timedelta(window)
    for c in step_columns[1:]:
        reached = ents[c].notna()
        assert (ents.loc[reached, c] >= entry[reached]).all()
        assert (ents.loc[reached, c] <= limit[reached]).all()
    if order != "any":
        reached_steps = ents[step_columns].notna().sum(axis=1)
        assert (reached_steps == ents["furthest_step_number"]).all()
    chain = chain_module.build_chain(events, steps, order=order, attempts=attempts)
    pd.testing.assert_frame_equal(chain_module.funnel_from_chain(chain, window), table)
