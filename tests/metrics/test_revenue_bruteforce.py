"""Brute-force checks of ``kw.mrr_movements``, ``kw.logo_churn`` and ``kw.revenue_retention``.

A small seeded revenue table (30 accounts over 18 months, with gaps, a month in which nobody
has a row, zero, negative, missing and split rows, and rows stamped on any day and hour of
their month) is compared with plain Python loops over accounts and months written here from
the documented rules (revenue.py's docstrings):

* an account's MRR in a month is the sum of its rows in that calendar month (a null MRR counts
  as 0), and a negative sum counts as 0; the account is active when that MRR is above 0;
* movements compare each month with the month before: new (first revenue ever), reactivation
  (back after a month or more without revenue), expansion, contraction, churn;
* logo churn compares the accounts active ``months`` earlier with those active now.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

import kpiwidgets as kw

N_MONTHS = 18  # 2023-01 .. 2024-06
EMPTY = 9  # 2023-10: no account has a row


def _month_start(index: int) -> pd.Timestamp:
    return pd.Timestamp(2023 + index // 12, index % 12 + 1, 1)


def _stamp(rng: np.random.Generator, index: int) -> pd.Timestamp:
    start = _month_start(index)
    end = _month_start(index + 1)
    pick = rng.random()
    if pick < 0.1:
        return start  # the first instant of the month
    if pick < 0.2:
        return end - pd.Timedelta(seconds=1)  # its last second
    return start + pd.Timedelta(days=int(rng.integers(0, 28)), hours=int(rng.integers(0, 24)))


def _revenue(seed: int = 2024) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, pd.Timestamp, float]] = []
    for a in range(30):
        account = f"acct{a:02d}"
        mrr = 0.0
        for m in range(0 if a < 3 else int(rng.integers(0, 12)), N_MONTHS):
            r = rng.random()
            if a == 29:
                mrr = 0.0  # never active: only zero, negative or missing rows
            elif mrr == 0.0:
                mrr = float(rng.integers(1, 20) * 10) if r < 0.5 or m == 0 else 0.0
            elif r < 0.15:
                mrr = 0.0  # churn
            elif r < 0.6:
                mrr = max(10.0, mrr + float(rng.integers(-6, 8) * 10))  # expand or contract
            if m == EMPTY:
                continue
            if mrr > 0:
                kind = rng.random()
                if kind < 0.15:  # two rows in the month
                    part = float(rng.integers(0, int(mrr) // 10 + 1) * 10)
                    rows += [(account, _stamp(rng, m), part), (account, _stamp(rng, m), mrr - part)]
                elif kind < 0.25:  # a credit note: a negative row beside a larger one
                    rows += [
                        (account, _stamp(rng, m), mrr + 30.0),
                        (account, _stamp(rng, m), -30.0),
                    ]
                else:
                    rows.append((account, _stamp(rng, m), mrr))
            elif rng.random() < 0.3:  # an inactive month that still has a row
                value = [0.0, -25.0, math.nan][int(rng.integers(0, 3))]
                rows.append((account, _stamp(rng, m), value))
    frame = pd.DataFrame(rows, columns=["account_id", "month", "mrr"])
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


REVENUE = _revenue()


def _month_index(ts: pd.Timestamp) -> int:
    return (ts.year - 2023) * 12 + ts.month - 1


def _monthly(frame: pd.DataFrame) -> tuple[dict[tuple[str, int], float], set[tuple[str, int]]]:
    """MRR per (account, month), negative sums as 0; and the (account, month) pairs with rows."""
    sums: dict[tuple[str, int], float] = defaultdict(float)
    rows: set[tuple[str, int]] = set()
    for account, ts, value in frame.itertuples(index=False):
        key = (account, _month_index(ts))
        sums[key] += 0.0 if pd.isna(value) else float(value)
        rows.add(key)
    return {key: max(0.0, total) for key, total in sums.items()}, rows


MRR, HAS_ROW = _monthly(REVENUE)
ACCOUNTS = sorted(REVENUE["account_id"].unique())
FIRST = min(m for _, m in HAS_ROW)
LAST = max(m for _, m in HAS_ROW)


def _mrr(account: str, month: int) -> float:
    return MRR.get((account, month), 0.0)


def test_generated_table_has_what_the_rules_need():
    assert (FIRST, LAST) == (0, N_MONTHS - 1)
    assert not any(m == EMPTY for _, m in HAS_ROW)
    assert (REVENUE["mrr"] < 0).any() and REVENUE["mrr"].isna().any()
    assert (REVENUE["mrr"] == 0).any()
    months = REVENUE.assign(m=REVENUE["month"].dt.to_period("M"))
    assert months.duplicated(["account_id", "m"]).sum() > 5  # several rows in one month
    # An account whose only rows are zero, negative or missing: never active.
    assert all(_mrr("acct29", m) == 0 for m in range(N_MONTHS))
    assert any(key[0] == "acct29" for key in HAS_ROW)


def _movements_by_loop() -> list[dict]:
    out = []
    for m in range(FIRST, LAST + 1):
        row = dict.fromkeys(
            ["mrr_start", "new", "reactivation", "expansion", "contraction", "churn", "mrr_end"],
            0.0,
        )
        for a in ACCOUNTS:
            prev, now = _mrr(a, m - 1), _mrr(a, m)
            row["mrr_start"] += prev
            row["mrr_end"] += now
            if prev == 0 and now > 0:
                had_revenue_before = any(_mrr(a, j) > 0 for j in range(FIRST, m))
                row["reactivation" if had_revenue_before else "new"] += now
            elif 0 < prev < now:
                row["expansion"] += now - prev
            elif 0 < now < prev:
                row["contraction"] += prev - now
            elif now == 0 < prev:
                row["churn"] += prev
        row["net_change"] = (
            row["new"] + row["reactivation"] + row["expansion"] - row["contraction"] - row["churn"]
        )
        row["month"] = _month_start(m)
        out.append(row)
    return out


def test_mrr_movements_equal_a_loop_over_accounts_and_months():
    expected = _movements_by_loop()
    got = kw.mrr_movements(REVENUE)
    assert got["month"].tolist() == [row["month"] for row in expected]  # every month, in order
    for column in ["mrr_start", "new", "reactivation", "expansion", "contraction", "churn"]:
        want = [row[column] for row in expected]
        assert got[column].tolist() == pytest.approx(want, abs=1e-9), column
    for column in ["net_change", "mrr_end"]:
        assert got[column].tolist() == pytest.approx([r[column] for r in expected], abs=1e-9)
    # Every movement class occurs, so each rule is exercised.
    for column in ["new", "reactivation", "expansion", "contraction", "churn"]:
        assert sum(row[column] for row in expected) > 0, column
    # The month nobody has a row in shows up as all churn, and the month after it brings
    # the accounts back as reactivations.
    empty = expected[EMPTY - FIRST]
    assert empty["mrr_end"] == 0 and empty["churn"] == empty["mrr_start"] > 0
    assert expected[EMPTY + 1 - FIRST]["reactivation"] > 0
    # The first month of the data counts every account as new.
    assert expected[0]["new"] == expected[0]["mrr_end"] > 0


def _logo_churn_by_loop(months: int, any_row: bool) -> list[dict]:
    def active(a: str, m: int) -> bool:
        return (a, m) in HAS_ROW if any_row else _mrr(a, m) > 0

    out = []
    for m in range(FIRST + months, LAST + 1):
        start = {a for a in ACCOUNTS if active(a, m - months)}
        end = {a for a in ACCOUNTS if active(a, m)}
        retained = start & end
        n = len(start)
        out.append(
            {
                "month": _month_start(m),
                "customers_start": n,
                "customers_end": len(end),
                "retained": len(retained),
                "churned": len(start - end),
                "new": len(end - start),
                "churn_rate": len(start - end) / n if n else math.nan,
                "retention_rate": len(retained) / n if n else math.nan,
            }
        )
    return out


@pytest.mark.parametrize("months", [1, 3])
@pytest.mark.parametrize("value", ["mrr", None])
def test_logo_churn_equals_a_loop_over_accounts_and_months(months, value):
    expected = _logo_churn_by_loop(months, any_row=value is None)
    got = kw.logo_churn(REVENUE, months=months, value=value)
    assert got["month"].tolist() == [row["month"] for row in expected]
    for column in ["customers_start", "customers_end", "retained", "churned", "new"]:
        assert got[column].tolist() == [row[column] for row in expected], column
    for column in ["churn_rate", "retention_rate"]:
        want = [row[column] for row in expected]
        assert got[column].tolist() == pytest.approx(want, nan_ok=True), column
    assert sum(row["churned"] for row in expected) > 0
    if months == 1:
        # The month after the empty one: nobody was active at its start -> null rates.
        after = expected[EMPTY + 1 - FIRST - months]
        assert after["customers_start"] == 0 and math.isnan(after["churn_rate"])


def test_logo_churn_without_value_counts_inactive_rows_as_activity():
    # value=None counts any row, so acct29 (zero, negative or missing MRR only) is a customer
    # in the months it has a row; with value="mrr" it never is.
    by_rows = _logo_churn_by_loop(1, any_row=True)
    by_mrr = _logo_churn_by_loop(1, any_row=False)
    assert sum(r["customers_end"] for r in by_rows) > sum(r["customers_end"] for r in by_mrr)


def _retention_by_loop(months: int) -> list[dict]:
    out = []
    for m in range(FIRST + months, LAST + 1):
        start = {a: _mrr(a, m - months) for a in ACCOUNTS if _mrr(a, m - months) > 0}
        base = sum(start.values())
        now = sum(_mrr(a, m) for a in start)
        capped = sum(min(_mrr(a, m), v) for a, v in start.items())
        out.append(
            {
                "month": _month_start(m),
                "customers_start": len(start),
                "mrr_start": base,
                "mrr_now": now,
                "mrr_now_capped": capped,
                "net_revenue_retention": now / base if base else math.nan,
                "gross_revenue_retention": capped / base if base else math.nan,
            }
        )
    return out


def test_revenue_retention_equals_a_loop_over_accounts_and_months():
    months = 3
    got = kw.revenue_retention(REVENUE, months=months)
    # Documented: a month without starting accounts has no row. Here that is 2024-01
    # (EMPTY + 3), whose start month 2023-10 has no rows at all.
    expected = [row for row in _retention_by_loop(months) if row["customers_start"] > 0]
    assert [row["month"] for row in _retention_by_loop(months) if not row["customers_start"]] == [
        _month_start(EMPTY + months)
    ]
    assert got["month"].tolist() == [row["month"] for row in expected]
    for column in expected[0]:
        if column != "month":
            want = [row[column] for row in expected]
            assert got[column].tolist() == pytest.approx(want), column
