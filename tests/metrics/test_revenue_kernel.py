"""The compiled pass of ``kw.mrr_movements`` (kpiwidgets/metrics/_revenue_kernel.py) against a
loop over accounts and months written here from the documented rules, and each rule the
module states, with the pass forced on (it normally starts at half a million rows) and checked
to have run."""

from __future__ import annotations

import importlib
import math
import warnings
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kpiwidgets as kw
from tests.metrics import test_revenue_bruteforce as bruteforce

kernel = importlib.import_module("kpiwidgets.metrics._revenue_kernel")
jit = importlib.import_module("kpiwidgets.metrics._revenue_jit")

MOVEMENTS = ["mrr_start", "new", "reactivation", "expansion", "contraction", "churn"]
NUMBERS = [*MOVEMENTS, "net_change", "mrr_end"]


@pytest.fixture
def calls(monkeypatch):
    """Force the compiled pass at any size; the list counts the runs it made."""
    runs: list[int] = []
    real = kernel._table

    def spy(*args, **kwargs):
        runs.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(kernel, "MIN_ROWS", 0)
    monkeypatch.setattr(kernel, "_table", spy)
    return runs


def plans(frame: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """The lazy plans' answer (the compiled pass switched off)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kernel, "MIN_ROWS", 10**12)
        return kw.mrr_movements(frame, **kwargs)


def by_loop(frame: pd.DataFrame) -> list[dict]:
    """Movements per reported month, looping over accounts and calendar months (of the wall
    time): a month is reported when some account has a row in it or in the month before, up
    to the last month with a row."""
    sums: dict = defaultdict(float)
    for account, ts, value in frame[["account_id", "month", "mrr"]].itertuples(index=False):
        if pd.isna(account) or pd.isna(ts):
            continue
        sums[(account, ts.year * 12 + ts.month - 1)] += 0.0 if pd.isna(value) else float(value)
    mrr = {key: max(total, 0.0) for key, total in sums.items()}
    if not mrr:
        return []
    last = max(m for _, m in mrr)
    months = sorted({m + d for _, m in mrr for d in (0, 1) if m + d <= last})
    accounts = {a for a, _ in mrr}
    out = []
    for m in months:
        row = dict.fromkeys(NUMBERS, 0.0)
        for a in accounts:
            prev, now = mrr.get((a, m - 1), 0.0), mrr.get((a, m), 0.0)
            row["mrr_start"] += prev
            row["mrr_end"] += now
            if prev == 0 and now > 0:
                before = any(mrr.get((a, j), 0.0) > 0 for j in range(m - 400, m))
                row["reactivation" if before else "new"] += now
            elif 0 < prev < now:
                row["expansion"] += now - prev
            elif 0 < now < prev:
                row["contraction"] += prev - now
            elif now == 0 < prev:
                row["churn"] += prev
        row["net_change"] = (
            row["new"] + row["reactivation"] + row["expansion"] - row["contraction"] - row["churn"]
        )
        row["month"] = pd.Timestamp(m // 12, m % 12 + 1, 1)
        out.append(row)
    return out


def assert_equals_loop(got: pd.DataFrame, frame: pd.DataFrame) -> None:
    expected = by_loop(frame)
    assert got["month"].dt.tz_localize(None).tolist() == [r["month"] for r in expected]
    for column in NUMBERS:
        want = [r[column] for r in expected]
        assert got[column].tolist() == pytest.approx(want, rel=1e-12, abs=1e-9), column


def assert_same_as_plans(got: pd.DataFrame, frame: pd.DataFrame) -> None:
    """Parity with the plans: columns, types, months, counted rows (numbers to rounding)."""
    want = plans(frame)
    assert list(got.columns) == list(want.columns)
    assert got.dtypes.to_dict() == want.dtypes.to_dict()
    assert got["month"].tolist() == want["month"].tolist()
    np.testing.assert_allclose(got[NUMBERS].to_numpy(), want[NUMBERS].to_numpy(), rtol=1e-12)
    assert got.attrs["dropped_rows"] == want.attrs["dropped_rows"]


def table(rows, unit: str = "us") -> pd.DataFrame:
    """(account, "YYYY-MM-DD[ HH:MM]", mrr) rows."""
    frame = pd.DataFrame(rows, columns=["account_id", "month", "mrr"])
    frame["month"] = pd.to_datetime(frame["month"], format="ISO8601").astype(f"datetime64[{unit}]")
    return frame


def test_the_documented_table_equals_the_loop(calls):
    """The seeded table of test_revenue_bruteforce (gaps, a month nobody has a row in, split,
    zero, negative and missing rows, any day and hour of the month)."""
    got = kw.mrr_movements(bruteforce.REVENUE)
    assert calls == [1]
    assert_equals_loop(got, bruteforce.REVENUE)
    assert_same_as_plans(got, bruteforce.REVENUE)


def test_each_rule_by_hand(calls):
    rows = [
        ("a", "2024-01-05", 100.0),  # a: new in Jan, expands in Feb
        ("a", "2024-02-01", 80.0),
        ("a", "2024-02-28 23:59", 70.0),  # two rows of one month are summed: 150
        ("b", "2024-01-10", 50.0),  # b: churns in Feb, back in Apr (reactivation)
        ("b", "2024-04-02", 40.0),
        ("c", "2024-02-10", 30.0),  # c: a credit note below its charge: 30 - 50 counts as 0
        ("c", "2024-02-11", -50.0),
        ("c", "2024-03-01", 20.0),  # then c's first month with revenue: new, not reactivation
        ("d", "2024-03-03", float("nan")),  # a missing MRR counts as 0
    ]
    got = kw.mrr_movements(table(rows))
    assert calls == [1]
    # The last row is in April: May (b's churn) is past the data and not reported.
    assert got["month"].dt.strftime("%Y-%m").tolist() == [
        "2024-01",
        "2024-02",
        "2024-03",
        "2024-04",
    ]
    assert got["new"].tolist() == [150.0, 0.0, 20.0, 0.0]
    assert got["reactivation"].tolist() == [0.0, 0.0, 0.0, 40.0]
    assert got["expansion"].tolist() == [0.0, 50.0, 0.0, 0.0]
    # February: b's 50 churns; March: a's 150 (no row); April: c's 20.
    assert got["churn"].tolist() == [0.0, 50.0, 150.0, 20.0]
    assert got["mrr_end"].tolist() == [150.0, 150.0, 20.0, 40.0]
    assert got["mrr_start"].tolist() == [0.0, 150.0, 150.0, 20.0]


def test_a_month_without_rows_before_or_in_it_is_not_reported(calls):
    """March has no row and February none either: only January, February (all churn) and
    April, May (the month after the last row is past the data: not reported)."""
    got = kw.mrr_movements(table([("a", "2024-01-01", 10.0), ("a", "2024-04-01", 10.0)]))
    assert calls == [1]
    assert got["month"].dt.strftime("%Y-%m").tolist() == ["2024-01", "2024-02", "2024-04"]
    assert got["churn"].tolist() == [0.0, 10.0, 0.0]
    assert got["reactivation"].tolist() == [0.0, 0.0, 10.0]


def test_contraction_and_the_exact_edges(calls):
    """Equal MRR is neither expansion nor contraction; 0 after > 0 is churn, not
    contraction."""
    rows = [
        ("a", "2024-01-01", 100.0),
        ("a", "2024-02-01", 60.0),  # contraction 40
        ("a", "2024-03-01", 60.0),  # unchanged
        ("b", "2024-01-01", 10.0),
        ("b", "2024-02-01", 0.0),  # a zero row: churn 10
    ]
    got = kw.mrr_movements(table(rows))
    assert got["contraction"].tolist() == [0.0, 40.0, 0.0]
    assert got["expansion"].tolist() == [0.0, 0.0, 0.0]
    assert got["churn"].tolist() == [0.0, 10.0, 0.0]
    assert calls == [1]


def test_months_are_calendar_months_of_the_wall_time(calls):
    """23:30 on 31 January in New York is February in UTC: it counts in January."""
    frame = table([("a", "2024-01-31 23:30", 10.0), ("a", "2024-02-15", 20.0)])
    frame["month"] = frame["month"].dt.tz_localize("America/New_York")
    got = kw.mrr_movements(frame)
    assert calls == [1]
    assert got["month"].tolist() == [
        pd.Timestamp("2024-01-01", tz="America/New_York"),
        pd.Timestamp("2024-02-01", tz="America/New_York"),
    ]
    assert got["expansion"].tolist() == [0.0, 10.0]
    assert_same_as_plans(got, frame)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_every_timestamp_unit(calls, unit):
    frame = bruteforce.REVENUE.astype({"month": f"datetime64[{unit}]"})
    got = kw.mrr_movements(frame)
    assert calls == [1]
    assert_equals_loop(got, frame)
    assert_same_as_plans(got, frame)


@pytest.mark.parametrize("ids", ["text", "int", "wide int", "int32", "category"])
def test_every_kind_of_account_id(calls, ids):
    frame = bruteforce.REVENUE.copy()
    number = frame["account_id"].str[4:].astype(int)
    frame["account_id"] = {
        "text": frame["account_id"],
        "int": number,
        "wide int": number * 10**12,  # a range too wide to index: factorized
        "int32": number.astype("int32"),
        "category": frame["account_id"].astype("category"),
    }[ids]
    got = kw.mrr_movements(frame)
    assert calls == [1]
    assert_same_as_plans(got, frame)
    assert_equals_loop(got, bruteforce.REVENUE)


@pytest.mark.parametrize("dtype", ["int64", "Float64", "Int64", "float32"])
def test_numeric_values(calls, dtype):
    frame = bruteforce.REVENUE.copy()
    frame["mrr"] = frame["mrr"].fillna(0).round().astype(dtype)
    if dtype in ("Float64", "Int64"):
        frame.loc[frame.index[:5], "mrr"] = pd.NA  # a missing MRR counts as 0
    got = kw.mrr_movements(frame)
    assert calls == [1]
    assert_equals_loop(got, frame)
    assert_same_as_plans(got, frame)


def test_null_accounts_and_months_are_counted_as_the_plans_count_them(calls):
    frame = bruteforce.REVENUE.copy()
    frame.loc[frame.index[:3], "account_id"] = None
    frame.loc[frame.index[2:6], "month"] = pd.NaT
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        got = kw.mrr_movements(frame)
    assert calls == [1]
    assert got.attrs["dropped_rows"] == {
        "null account_id": 3,
        "null month": 4,
        "rows left out": 6,
    }
    assert any(isinstance(w.message, kw.DroppedRowsWarning) for w in seen)
    assert_equals_loop(got, frame)
    assert_same_as_plans(got, frame)


def test_an_account_with_many_unsorted_rows(calls):
    """More rows than the insertion sort takes (32): the account's rows are sorted by month
    another way, with several rows in one month."""
    rng = np.random.default_rng(7)
    months = pd.date_range("2020-01-01", periods=60, freq="MS")
    rows = [("big", str(m.date()), float(rng.integers(-20, 100))) for m in months for _ in range(2)]
    rows = [rows[i] for i in rng.permutation(len(rows)) if rng.random() > 0.2]
    rows += [("small", "2020-03-01", 5.0)]
    frame = table(rows)
    got = kw.mrr_movements(frame)
    assert calls == [1]
    assert_equals_loop(got, frame)


def test_accounts_shared_out_between_threads(monkeypatch, calls):
    monkeypatch.setattr(kernel, "THREAD_MIN_ROWS", 0)
    monkeypatch.setattr(kernel, "thread_count", lambda n_rows, min_rows: 3)
    got = kw.mrr_movements(bruteforce.REVENUE)
    assert calls == [1]
    assert_equals_loop(got, bruteforce.REVENUE)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 6),
            st.integers(0, 30),  # month offset from 2023-01
            st.integers(0, 27 * 24),  # hour within the month
            st.one_of(st.integers(-50, 200).map(float), st.just(math.nan)),
        ),
        min_size=1,
        max_size=60,
    ),
    threads=st.sampled_from([1, 2]),
)
def test_random_tables_equal_the_loop(monkeypatch, calls, rows, threads):
    monkeypatch.setattr(kernel, "thread_count", lambda n_rows, min_rows: threads)
    base = pd.Timestamp("2023-01-01")
    frame = pd.DataFrame(
        {
            "account_id": [f"acct{a}" for a, _, _, _ in rows],
            "month": [
                base + pd.DateOffset(months=m) + pd.Timedelta(hours=h) for _, m, h, _ in rows
            ],
            "mrr": [v for *_, v in rows],
        }
    ).astype({"month": "datetime64[us]"})
    before = len(calls)
    got = kw.mrr_movements(frame)
    assert len(calls) == before + 1
    assert_equals_loop(got, frame)


def test_month_index_equals_numpy_far_from_1970():
    """The days-to-calendar arithmetic against numpy's months, 1600 to 2400, both signs."""
    rng = np.random.default_rng(1)
    us = rng.integers(-11_000_000_000_000_000, 13_000_000_000_000_000, 2000)
    us = np.concatenate([us, [0, -1, 86_400_000_000 - 1, -86_400_000_000]])
    months = us.astype("datetime64[us]").astype("datetime64[M]").astype(np.int64) + 1970 * 12
    got = [jit.month_index(int(t), 86_400_000_000) for t in us]
    assert got == months.tolist()


def test_small_tables_and_other_frames_run_the_plans(monkeypatch, calls):
    frame = table([("a", "2024-01-01", 10.0), ("a", "2024-02-01", 20.0)])
    monkeypatch.setattr(kernel, "MIN_ROWS", 3)
    kw.mrr_movements(frame)
    monkeypatch.setattr(kernel, "MIN_ROWS", 0)
    kw.mrr_movements(frame.assign(month=frame["month"].dt.date))  # dates as objects
    kw.mrr_movements(frame.assign(mrr=frame["mrr"] > 0))  # booleans
    assert calls == []


def test_without_numba_the_plans_run(monkeypatch, calls):
    monkeypatch.setattr(kernel, "_kernel", lambda: None)
    got = kw.mrr_movements(table([("a", "2024-01-01", 10.0), ("a", "2024-02-01", 20.0)]))
    assert got["expansion"].tolist() == [0.0, 10.0]
    assert calls == []
