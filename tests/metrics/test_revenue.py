"""MRR movements, logo churn and revenue retention on hand-made tables, across engines."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

from kpiwidgets import DroppedRowsWarning
from kpiwidgets.metrics.revenue import logo_churn, mrr_movements, revenue_retention
from tests.conftest import ENGINES
from tests.helpers import to_pandas


def _revenue(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["account_id", "month", "mrr"])
    frame["month"] = pd.to_datetime(frame["month"], format="ISO8601")
    return frame


# a: 100, 150 (expansion), 150, 150.
# b: 200, 120 (contraction), none (churn), 90 (reactivation).
# c: -, 40 (new), 40 + 10 in two rows (expansion 10), none (churn 50).
# d: new in April with 70. e: a row with 0 MRR in February (never active).
REVENUE = _revenue(
    [
        ("a", "2024-01-01", 100.0),
        ("b", "2024-01-01", 200.0),
        ("a", "2024-02-01", 150.0),
        ("b", "2024-02-01", 120.0),
        ("c", "2024-02-01", 40.0),
        ("e", "2024-02-01", 0.0),
        ("a", "2024-03-01", 150.0),
        ("c", "2024-03-01", 40.0),
        ("c", "2024-03-15", 10.0),
        ("a", "2024-04-01", 150.0),
        ("b", "2024-04-01", 90.0),
        ("d", "2024-04-01", 70.0),
    ]
)


def test_mrr_movements_hand_case():
    result = mrr_movements(REVENUE)
    assert result["month"].dt.strftime("%m").tolist() == ["01", "02", "03", "04"]
    # Jan: everyone is new (start of the data): 300.
    # Feb: new c 40, expansion a 50, contraction b 80 -> 300 -> 310.
    # Mar: churn b 120, expansion c 10 -> 310 -> 200.
    # Apr: reactivation b 90, new d 70, churn c 50 -> 200 -> 310.
    assert result["mrr_start"].tolist() == [0, 300, 310, 200]
    assert result["new"].tolist() == [300, 40, 0, 70]
    assert result["reactivation"].tolist() == [0, 0, 0, 90]
    assert result["expansion"].tolist() == [0, 50, 10, 0]
    assert result["contraction"].tolist() == [0, 80, 0, 0]
    assert result["churn"].tolist() == [0, 0, 120, 50]
    assert result["net_change"].tolist() == [300, 10, -110, 110]
    assert result["mrr_end"].tolist() == [300, 310, 200, 310]
    assert list(result.columns) == [
        "month",
        "mrr_start",
        "new",
        "reactivation",
        "expansion",
        "contraction",
        "churn",
        "net_change",
        "mrr_end",
    ]


def test_logo_churn_hand_case():
    result = logo_churn(REVENUE)
    # No row for January (nothing before it). e's zero-MRR row is not activity.
    # Feb: start {a, b}, end {a, b, c}: 0 churned, c new.
    # Mar: start {a, b, c}, end {a, c}: b churned -> 1/3.
    # Apr: start {a, c}, end {a, b, d}: c churned -> 1/2; b (back) and d are "new" to the
    # window and in neither number.
    assert result["month"].dt.strftime("%m").tolist() == ["02", "03", "04"]
    assert result["customers_start"].tolist() == [2, 3, 2]
    assert result["customers_end"].tolist() == [3, 2, 3]
    assert result["retained"].tolist() == [2, 2, 1]
    assert result["churned"].tolist() == [0, 1, 1]
    assert result["new"].tolist() == [1, 0, 2]
    assert result["churn_rate"].tolist() == pytest.approx([0.0, 1 / 3, 0.5])
    # customer retention = (end - new) / start = 1 - churn rate
    assert result["retention_rate"].tolist() == pytest.approx([1.0, 2 / 3, 0.5])


def test_logo_churn_over_a_quarter_window():
    # months=3, April: start = January {a, b}, end = April {a, b, d}: nobody churned
    # (b's gap in March does not matter), d is new.
    result = logo_churn(REVENUE, months=3)
    assert result["month"].dt.strftime("%m").tolist() == ["04"]
    assert result[["customers_start", "churned", "new"]].iloc[0].tolist() == [2, 0, 1]


def test_logo_churn_without_value_counts_any_row():
    # value=None: e's zero row makes e active in February; Feb end = {a, b, c, e}.
    result = logo_churn(REVENUE, value=None)
    assert result["customers_end"].tolist()[0] == 4


def test_revenue_retention_hand_case():
    monthly = revenue_retention(REVENUE, months=1)
    # Feb: start {a: 100, b: 200} = 300; now a 150, b 120 -> NRR 270/300 = 0.9;
    #      GRR caps a at 100: (100 + 120) / 300 = 0.7333. c (joined in Feb) is left out.
    # Mar: start {a 150, b 120, c 40} = 310; now 150 + 0 + 50 -> NRR 200/310,
    #      GRR (150 + 0 + 40) / 310.
    # Apr: start {a 150, c 50} = 200; now 150 + 0 -> 0.75 both.
    assert monthly["customers_start"].tolist() == [2, 3, 2]
    assert monthly["mrr_start"].tolist() == [300, 310, 200]
    assert monthly["net_revenue_retention"].tolist() == pytest.approx([0.9, 200 / 310, 0.75])
    assert monthly["gross_revenue_retention"].tolist() == pytest.approx(
        [220 / 300, 190 / 310, 0.75]
    )
    # A quarter: April against January {a 100, b 200}: now a 150, b 90 (back) -> 240/300 = 0.8;
    # GRR (100 + 90) / 300.
    quarter = revenue_retention(REVENUE, months=3)
    assert quarter["net_revenue_retention"].tolist() == pytest.approx([0.8])
    assert quarter["gross_revenue_retention"].tolist() == pytest.approx([190 / 300])
    # Not enough history for a year: no rows, not an error.
    assert len(revenue_retention(REVENUE)) == 0


def test_tz_aware_months_use_the_data_zone():
    # 2024-01-31 23:30 New York is January there (February in UTC).
    revenue = _revenue([("a", "2024-01-31 23:30", 10.0), ("a", "2024-02-15", 30.0)])
    revenue["month"] = revenue["month"].dt.tz_localize("America/New_York")
    result = mrr_movements(revenue)
    assert result["month"].tolist() == [
        pd.Timestamp("2024-01-01", tz="America/New_York"),
        pd.Timestamp("2024-02-01", tz="America/New_York"),
    ]
    assert result["expansion"].tolist() == [0, 20]


def test_null_rows_reported_and_null_mrr_is_zero():
    revenue = _revenue(
        [
            ("a", "2024-01-01", 10.0),
            (None, "2024-01-01", 5.0),
            ("a", None, 5.0),
            ("a", "2024-02-01", None),
        ]
    )
    with pytest.warns(DroppedRowsWarning):
        result = mrr_movements(revenue)
    assert result.attrs["dropped_rows"]["rows left out"] == 2
    assert result["churn"].tolist() == [0, 10]  # a's null MRR in Feb counts as 0


@pytest.mark.parametrize("months", [0, -1, 1.5, True])
def test_bad_months(months):
    with pytest.raises(ValueError, match="months must be a whole number"):
        logo_churn(REVENUE, months=months)


def test_missing_column_is_named():
    with pytest.raises(ValueError, match=r"revenue is missing column\(s\) \['arr'\]"):
        revenue_retention(REVENUE, value="arr")


# -- generated data: engines agree, and the movements add up --------------------------------


def _generated(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for account in range(300):
        mrr = 0.0
        for month in range(rng.integers(0, 12), 24):
            if rng.random() < 0.15:
                mrr = 0.0 if mrr else float(rng.integers(10, 200))  # churn or (re)start
            elif mrr:
                mrr = max(0.0, mrr + float(rng.integers(-30, 40)))
            if mrr or rng.random() < 0.05:
                rows.append(
                    (f"acct{account}", pd.Timestamp(2023, 1, 1) + pd.DateOffset(months=month), mrr)
                )
    return pd.DataFrame(rows, columns=["account_id", "month", "mrr"])


GENERATED = _generated()


def test_movements_add_up_to_the_mrr_change():
    result = mrr_movements(GENERATED)
    totals = GENERATED.groupby("month")["mrr"].sum()
    assert np.allclose(result["mrr_end"], totals.to_numpy())
    assert np.allclose(result["mrr_start"].iloc[1:], totals.to_numpy()[:-1])
    assert np.allclose(result["net_change"], result["mrr_end"] - result["mrr_start"])
    assert (result[["new", "reactivation", "expansion", "contraction", "churn"]] >= 0).all().all()
    assert result["reactivation"].sum() > 0  # the generator does bring accounts back


def test_revenue_retention_agrees_with_a_brute_force_pandas_computation():
    result = revenue_retention(GENERATED, months=6)
    wide = GENERATED.pivot_table(index="account_id", columns="month", values="mrr", aggfunc="sum")
    wide = wide.fillna(0.0)
    months = list(wide.columns)
    for row in result.itertuples(index=False):
        end = months.index(row.month)
        start, now = wide[months[end - 6]], wide[months[end]]
        kept = start > 0
        assert row.customers_start == kept.sum()
        assert row.net_revenue_retention == pytest.approx(now[kept].sum() / start[kept].sum())
        capped = np.minimum(now[kept], start[kept]).sum() / start[kept].sum()
        assert row.gross_revenue_retention == pytest.approx(capped)
    assert len(result) == 24 - 6


def _to_pandas(result: object) -> pd.DataFrame:
    out = to_pandas(result)
    return out.assign(month=out["month"].astype("datetime64[us]"))


@pytest.mark.parametrize("metric", [mrr_movements, logo_churn, revenue_retention])
def test_every_engine_gives_the_same_answer(metric):
    reference = metric(GENERATED)
    reference = reference.assign(month=reference["month"].astype("datetime64[us]"))
    polars = pl.from_pandas(GENERATED)
    engines = {
        "polars": polars,
        "polars-lazy": polars.lazy(),
        "duckdb": duckdb.connect().from_arrow(polars.to_arrow()),
    }
    if "spark" in ENGINES:
        engines["spark"] = ENGINES["spark"].convert(GENERATED)
    for name, frame in engines.items():
        got = metric(frame)
        assert type(got) is type(frame), name
        pd.testing.assert_frame_equal(_to_pandas(got), reference, check_dtype=False, obj=name)
