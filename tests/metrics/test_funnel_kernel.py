"""The compiled ordered-funnel pass (kpiwidgets/metrics/_funnel_kernel.py) against a
brute-force loop written from docs/funnels.md, and each rule it states, with the pass forced on
(it normally starts at a million rows) and checked to have run."""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import kpiwidgets as kw

kernel = importlib.import_module("kpiwidgets.metrics._funnel_kernel")

T0 = pd.Timestamp("2024-01-01")


@pytest.fixture
def calls(monkeypatch):
    """Force the compiled pass at any size; the list counts the runs it made."""
    runs: list[int] = []
    real = kernel._step_times

    def spy(*args, **kwargs):
        runs.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(kernel, "MIN_ROWS", 0)
    monkeypatch.setattr(kernel, "_step_times", spy)
    return runs


def brute_force(events: pd.DataFrame, steps, window, attempts="first", start=None, end=None):
    """(entities per step, median gap per step in µs) by looping over each entity's rows."""
    reached = list(brute_force_chains(events, steps, window, attempts, start, end).values())
    counts = [sum(len(c) > k for c in reached) for k in range(len(steps))]
    medians = [np.nan] + [
        np.median([(c[k] - c[k - 1]) / pd.Timedelta(microseconds=1) for c in reached if len(c) > k])
        if counts[k]
        else np.nan
        for k in range(1, len(steps))
    ]
    return counts, medians


def brute_force_chains(events, steps, window, attempts="first", start=None, end=None) -> dict:
    """{entity: the step times of its counted attempt}, for the entities that entered."""
    steps = [[s] if isinstance(s, str) else list(s) for s in steps]
    window = pd.Timedelta(window)
    reached: dict = {}
    for entity, rows in events.groupby("entity_id"):
        # Rows at one instant: the alphabetically first name comes first.
        rows = sorted(zip(rows["timestamp"], rows["event"], range(len(rows)), strict=True))
        entries = [
            r
            for r in rows
            if r[1] in steps[0]
            and (start is None or r[0] >= pd.Timestamp(start))
            and (end is None or r[0] < pd.Timestamp(end))
        ]
        if attempts == "first":
            entries = entries[:1]
        else:  # one attempt per distinct entry time, from its first row
            entries = [r for i, r in enumerate(entries) if i == 0 or r[0] != entries[i - 1][0]]
        best: list = []
        for entry in entries:
            chain, used = [entry], {entry}
            for names in steps[1:]:
                options = [
                    r
                    for r in rows
                    if r[1] in names
                    and r not in used
                    and r[0] >= chain[-1][0]
                    and r[0] <= entry[0] + window
                ]
                if not options:
                    break
                chain.append(min(options))
                used.add(chain[-1])
            if len(chain) > len(best):  # ties: the earlier attempt stays
                best = chain
        if best:
            reached[entity] = [r[0] for r in best]
    return reached


def assert_entities_match(frame: pd.DataFrame, chains: dict, n_steps: int) -> None:
    """``funnel_entities``' rows are the brute force's chains, sorted by entity."""
    assert frame["entity_id"].tolist() == sorted(chains)
    assert frame["furthest_step_number"].tolist() == [len(chains[e]) for e in sorted(chains)]
    times = frame.iloc[:, 3 : 3 + n_steps]
    for row, entity in zip(times.itertuples(index=False), sorted(chains), strict=True):
        chain = chains[entity]
        assert list(row[: len(chain)]) == chain
        assert all(pd.isna(v) for v in row[len(chain) :])


def result(table: pd.DataFrame) -> tuple[list[int], list[float]]:
    medians = table["median_time_from_previous"] / pd.Timedelta(microseconds=1)
    return table["entities"].tolist(), medians.to_numpy(float).tolist()


def assert_matches(table: pd.DataFrame, expected) -> None:
    counts, medians = result(table)
    assert counts == expected[0]
    np.testing.assert_allclose(medians, expected[1], equal_nan=True)


def log(rows, unit="us") -> pd.DataFrame:
    """(entity, event, hours after T0) rows."""
    return pd.DataFrame(
        {
            "entity_id": [r[0] for r in rows],
            "event": [r[1] for r in rows],
            "timestamp": pd.DatetimeIndex([T0 + pd.Timedelta(hours=r[2]) for r in rows]).as_unit(
                unit
            ),
        }
    )


STEP_CHOICES = [
    ["a", "b", "c"],
    ["a", "a", "b"],
    ["a", ["b", "c"], "b"],
    [["a", "b"], "b", "a"],
    ["b", "a"],
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from(["a", "b", "c", "x"]), st.integers(0, 12)),
        min_size=1,
        max_size=40,
    ),
    steps=st.sampled_from(STEP_CHOICES),
    attempts=st.sampled_from(["first", "best"]),
    window=st.sampled_from(["0s", "2h", "5h", "1D"]),
    bounds=st.sampled_from([(None, None), ("2024-01-01 02:00", None), (None, "2024-01-01 06:00")]),
    threads=st.booleans(),
    shift=st.sampled_from([None, 0, 1]),
)
def test_random_logs_match_the_brute_force(rows, steps, attempts, window, bounds, threads, shift):
    events = log(rows)
    names = {n for s in steps for n in ([s] if isinstance(s, str) else s)}
    assume(names <= set(events["event"]))
    with pytest.MonkeyPatch.context() as mp:
        runs: list[int] = []
        real = kernel._step_times
        mp.setattr(kernel, "MIN_ROWS", 0)
        mp.setattr(kernel, "THREAD_MIN_ROWS", 0 if threads else 10**9)
        if shift is not None:  # buckets of 1 or 2 entities: rows cross many buckets
            mp.setattr(kernel, "_shift", lambda n_entities, n_rows: shift)
        mp.setattr(kernel, "_step_times", lambda *a, **k: runs.append(1) or real(*a, **k))
        params = dict(window=window, attempts=attempts, start=bounds[0], end=bounds[1])
        table = kw.funnel(events, steps, **params)
        entities = kw.funnel_entities(events, steps, **params)
    assert runs == [1, 1]
    assert_matches(table, brute_force(events, steps, window, attempts, *bounds))
    chains = brute_force_chains(events, steps, window, attempts, *bounds)
    assert_entities_match(entities, chains, len(steps))


def test_bucket_size_rule():
    """About 16,384 rows a bucket, a power of two entities, never more than 2,048 buckets."""
    assert kernel._shift(2_000_000, 5_300_000) == 13  # 16,384 / 2.65 rows = 6,183 -> 2**13
    assert kernel._shift(1_000, 1_000) == 10  # one bucket: 1,000 entities < 2**10
    assert kernel._shift(2**30, 2**30) == 19  # 2**14 wanted, but 2**30 / 2**19 = 2,048 buckets
    assert kernel._shift(2**30, 2**40) == 19  # 1 entity a bucket wanted; the cap again
    assert kernel._shift(1_000, 2**24) == 0  # 16,777 rows an entity: one entity a bucket
    assert kernel._shift(2**20, 2**34) == 9  # the same, capped at 2**20 / 2**9 = 2,048 buckets


@pytest.mark.parametrize("shift", [0, 3, 12])
def test_many_buckets_on_threads_match_the_brute_force(monkeypatch, calls, shift):
    """3,000 entities in buckets of 1, 8 or 4,096 entities, the rows shared by 2 threads."""
    rng = np.random.default_rng(7)
    n = 20_000
    events = pd.DataFrame(
        {
            "entity_id": rng.integers(0, 3_000, n),
            "event": rng.choice(["a", "b", "c", "x"], n),
            "timestamp": T0 + pd.to_timedelta(rng.integers(0, 48 * 60, n), unit="min"),
        }
    )
    monkeypatch.setattr(kernel, "THREAD_MIN_ROWS", 0)
    monkeypatch.setattr(kernel, "_threads", lambda n_rows: 2)
    monkeypatch.setattr(kernel, "_shift", lambda n_entities, n_rows: shift)
    for attempts in ("first", "best"):
        table = kw.funnel(events, ["a", "b", "c"], window="6h", attempts=attempts)
        assert_matches(table, brute_force(events, ["a", "b", "c"], "6h", attempts))
    assert len(calls) == 2


@pytest.mark.parametrize("attempts", ["first", "best"])
def test_large_entities_use_the_full_sort(calls, attempts):
    """Entities with more rows than the insertion sort handles (32), in shuffled order."""
    rng = np.random.default_rng(3)
    n = 3000
    events = pd.DataFrame(
        {
            "entity_id": rng.integers(0, 20, n),
            "event": rng.choice(["a", "b", "c", "d"], n),
            "timestamp": T0 + pd.to_timedelta(rng.integers(0, 400, n), unit="h"),
        }
    )
    steps = ["a", "b", ["c", "a"], "d"]
    table = kw.funnel(events, steps, window="3D", attempts=attempts)
    assert calls == [1]
    assert_matches(table, brute_force(events, steps, "3D", attempts))


def test_window_edge_is_inclusive(calls):
    events = log([(1, "a", 0), (1, "b", 24), (2, "a", 0), (2, "b", 24.001)])
    assert result(kw.funnel(events, ["a", "b"], window="1D"))[0] == [2, 1]
    assert calls == [1]


def test_a_step_at_the_same_instant_counts(calls):
    # Entity 1's "b" row comes before its "a" row in the frame; both at hour 3.
    events = log([(1, "b", 3), (1, "a", 3), (2, "a", 3), (2, "b", 2)])
    assert result(kw.funnel(events, ["a", "b"]))[0] == [2, 1]


def test_one_row_never_fills_two_steps(calls):
    events = log([(1, "a", 0), (1, "b", 1), (2, "a", 0), (2, "a", 0), (2, "b", 1)])
    assert result(kw.funnel(events, ["a", "a", "b"]))[0] == [2, 1, 1]


def test_tied_rows_use_the_alphabetically_first_name_first(calls):
    # Step 1 is "a or b"; rows a and b tie at hour 0. Step 1 takes "a", so "b" is left for
    # step 2 (taking "b" first would leave step 2 nothing).
    events = log([(1, "b", 0), (1, "a", 0)])
    assert result(kw.funnel(events, [["a", "b"], "b"]))[0] == [1, 1]
    # ... and with step 2 "a" instead, the only "a" is used: step 2 is not reached.
    assert result(kw.funnel(events, [["a", "b"], "a"]))[0] == [1, 0]


def test_best_attempt_ties_keep_the_earliest(calls):
    # Two attempts both reach step 2: the earliest counts (gap 5 h, not 1 h).
    events = log([(1, "a", 0), (1, "b", 5), (1, "a", 10), (1, "b", 11), (2, "c", 0)])
    counts, medians = result(kw.funnel(events, ["a", "b", "c"], attempts="best"))
    assert counts == [1, 1, 0]
    assert medians[1] == 5 * 3600e6


def test_best_attempt_goes_further(calls):
    # The first attempt stops at "b" (no "c" within 1 day); the second reaches "c".
    events = log([(1, "a", 0), (1, "b", 1), (1, "a", 48), (1, "b", 50), (1, "c", 51)])
    counts, medians = result(kw.funnel(events, ["a", "b", "c"], window="1D", attempts="best"))
    assert counts == [1, 1, 1]
    assert medians[1:] == [2 * 3600e6, 3600e6]
    first = result(kw.funnel(events, ["a", "b", "c"], window="1D"))
    assert first[0] == [1, 1, 0]


def test_entry_range_is_half_open(calls):
    events = log([(1, "a", 2), (2, "a", 6), (3, "a", 4)])
    table = kw.funnel(events, ["a"], start="2024-01-01 02:00", end="2024-01-01 06:00")
    assert result(table)[0] == [2]


def test_null_rows_are_left_out_and_counted(calls):
    events = log([(1, "a", 0), (1, "b", 1), (2, "a", 0), (3, "a", 0)])
    events["entity_id"] = events["entity_id"].astype(float)
    events.loc[2, "entity_id"] = np.nan
    events.loc[3, "timestamp"] = pd.NaT
    with pytest.warns(kw.DroppedRowsWarning, match=r"left out 2 row\(s\) with nulls"):
        table = kw.funnel(events, ["a", "b"])
    assert result(table)[0] == [1, 1]
    assert table.attrs["dropped_rows"] == {
        "null entity_id": 1,
        "null timestamp": 1,
        "rows left out": 2,
    }


def test_unknown_step_name_is_the_same_error(calls):
    events = log([(1, "a", 0), (1, "b", 1)])
    with pytest.raises(ValueError, match=r"unknown event name\(s\) \['z'\].*\['a', 'b'\]"):
        kw.funnel(events, ["a", "z"])


def test_time_zone_aware_input_uses_instants(calls):
    # Europe/Berlin, autumn change: 02:50 (summer time) then 02:10 (winter time) is 20 real
    # minutes later; by wall clock it would be 40 minutes earlier and not count.
    stamps = pd.DatetimeIndex(
        ["2024-10-27 02:50", "2024-10-27 02:10"], dtype="datetime64[us]"
    ).tz_localize("Europe/Berlin", ambiguous=[True, False])
    events = pd.DataFrame({"entity_id": [1, 1], "event": ["a", "b"], "timestamp": stamps})
    counts, medians = result(kw.funnel(events, ["a", "b"], window="30min"))
    assert counts == [1, 1]
    assert medians[1] == 20 * 60e6


@pytest.mark.parametrize("unit", ["s", "ms", "ns"])
def test_other_units(calls, unit):
    events = log([(1, "a", 0), (1, "b", 1.5), (2, "a", 0)], unit=unit)
    counts, medians = result(kw.funnel(events, ["a", "b"], window="100000D"))
    assert calls == [1]  # the huge window does not overflow nanoseconds
    assert counts == [2, 1]
    assert medians[1] == 1.5 * 3600e6


def test_sub_microsecond_times_run_the_plans(calls):
    events = log([(1, "a", 0), (1, "b", 1)], unit="ns")
    events.loc[1, "timestamp"] += pd.Timedelta(nanoseconds=1)
    assert result(kw.funnel(events, ["a", "b"]))[0] == [1, 1]
    assert calls == []


@pytest.mark.parametrize(
    "ids, names",
    [
        (["u1", "u1", "u2"], None),
        ([10**12, 10**12, 5], None),  # ids far apart: factorised, not offset
        ([1, 1, 2], "category"),
        ([1, 1, 2], "object"),
    ],
)
def test_column_types(calls, ids, names):
    events = log([(0, "a", 0), (0, "b", 2), (1, "a", 0)])
    events["entity_id"] = ids
    if names:
        events["event"] = events["event"].astype(names)
    counts, medians = result(kw.funnel(events, ["a", "b"]))
    assert calls == [1]
    assert counts == [2, 1]
    assert medians[1] == 2 * 3600e6


def test_null_event_names_are_counted(calls):
    events = log([(1, "a", 0), (1, "b", 1), (2, "a", 0)])
    events["event"] = events["event"].astype(object)
    events.loc[2, "event"] = None
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        table = kw.funnel(events, ["a", "b"])
    assert result(table)[0] == [1, 1]
    assert table.attrs["dropped_rows"] == {"null event": 1, "rows left out": 1}
    assert any(isinstance(w.message, kw.DroppedRowsWarning) for w in seen)


def test_without_numba_the_plans_run(monkeypatch, calls):
    monkeypatch.setattr(kernel, "_COMPILED", [None])
    events = log([(1, "a", 0), (1, "b", 1), (2, "a", 0)])
    assert result(kw.funnel(events, ["a", "b"]))[0] == [2, 1]
    assert calls == []


@pytest.mark.parametrize("params", [{"order": "strict"}, {"order": "any"}, {"by": "channel"}])
def test_other_funnels_run_the_plans(calls, params):
    events = log([(1, "a", 0), (1, "b", 1), (2, "a", 0)])
    events["channel"] = "web"
    kw.funnel(events, ["a", "b"], **params)
    assert calls == []


def test_small_logs_run_the_plans(monkeypatch, calls):
    monkeypatch.setattr(kernel, "MIN_ROWS", 4)
    events = log([(1, "a", 0), (1, "b", 1), (2, "a", 0)])
    kw.funnel(events, ["a", "b"])
    assert calls == []


@pytest.mark.parametrize(
    "variant", ["us", "ns", "s", "zoned", "text ids", "int32 ids", "nulls", "mixed ids"]
)
def test_funnel_entities_are_the_plans_frame(calls, variant):
    """Types, zone, order and the counted nulls of ``funnel_entities`` as the plans give them;
    mixed-object ids run the plans."""
    events = log([(e % 7, "abcx"[(e * 5) % 4], (e * 3) % 11) for e in range(60)], unit="us")
    if variant in ("ns", "s"):
        events["timestamp"] = events["timestamp"].astype(f"datetime64[{variant}]")
    elif variant == "zoned":
        events["timestamp"] = events["timestamp"].dt.tz_localize("America/New_York")
    elif variant == "text ids":
        events["entity_id"] = "id-" + events["entity_id"].astype(str)
    elif variant == "int32 ids":
        events["entity_id"] = events["entity_id"].astype("int32")
    elif variant == "nulls":
        events["entity_id"] = events["entity_id"].astype("Int64").mask(events.index % 9 == 0)
        events.loc[events.index % 13 == 0, "timestamp"] = pd.NaT
    elif variant == "mixed ids":
        events["entity_id"] = events["entity_id"].astype(object).where(events.index % 2 == 0, "x")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the null rows: counted in attrs
        got = kw.funnel_entities(events, ["a", "b", "c"], window="4h", attempts="best")
    assert len(calls) == (0 if variant == "mixed ids" else 1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kernel, "MIN_ROWS", 10**12)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = kw.funnel_entities(events, ["a", "b", "c"], window="4h", attempts="best")
    pd.testing.assert_frame_equal(got, want)
    assert got.attrs == want.attrs
    if variant == "nulls":
        assert got.attrs["dropped_rows"]["rows left out"] > 0


@pytest.mark.parametrize("zone", [None, "America/New_York"])
def test_funnel_trend_counts_each_entry_day_as_the_brute_force(calls, zone):
    """``funnel_trend`` from the compiled pass's per-entity frame: per entry day (in the data's
    zone), the entities reaching each step, as the brute force's chains say."""
    rng = np.random.default_rng(11)
    n = 3_000
    events = pd.DataFrame(
        {
            "entity_id": rng.integers(0, 400, n),
            "event": rng.choice(["a", "b", "c", "x"], n),
            "timestamp": T0 + pd.to_timedelta(rng.integers(0, 5 * 24 * 60, n), unit="min"),
        }
    )
    if zone:
        events["timestamp"] = events["timestamp"].dt.tz_localize(zone)
    trend = kw.funnel_trend(events, ["a", "b", "c"], freq="D", window="12h")
    assert len(calls) == 1
    chains = brute_force_chains(events, ["a", "b", "c"], "12h")
    expected: dict = {}
    for chain in chains.values():
        day = chain[0].tz_localize(None).normalize() if zone else chain[0].normalize()
        for k in range(len(chain)):
            expected[(day, k + 1)] = expected.get((day, k + 1), 0) + 1
    got = {
        (row.period.tz_localize(None) if zone else row.period, row.step_number): row.entities
        for row in trend.itertuples()
        if row.entities
    }
    assert got == expected
