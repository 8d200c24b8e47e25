"""The whole KPI catalog on every engine gives the pandas numbers (parity, not proof).

The numbers themselves are pinned by the hand-computed tests of each KPI
(test_kpis_marketing.py, test_kpis_sales_customers.py) and the SQL oracles (test_kpi_sql.py);
this checks that a team passing polars, DuckDB or Spark tables gets exactly those numbers,
every KPI of ``kw.kpi_catalog()`` at once (``kw.kpi_table``), on a small demo company.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

import kpiwidgets as kw
from tests.conftest import ENGINES


@functools.cache
def _demo() -> kw.Dataset:
    return kw.load_demo(n_leads=300)


@functools.cache
def _pandas_table() -> pd.DataFrame:
    return kw.kpi_table(_demo(), period="Q")


@pytest.mark.parametrize("name", [n for n in ENGINES if n != "pandas"])  # pandas: the reference
def test_whole_catalog_on_every_engine(name):
    engine = ENGINES[name]
    ds = _demo()
    tables = {table: engine.convert(ds[table]) for table in ds.tables}
    got = kw.kpi_table(tables, period="Q")
    want = _pandas_table()
    assert set(got["kpi"]) == set(want["kpi"])
    # Every KPI of the catalog has rows, but for one the small demo has no case of.
    assert set(kw.kpi_catalog()["name"]) - set(want["kpi"]) == {"backward_moves"}
    keys = ["kpi", "period"]
    got = got.sort_values(keys).reset_index(drop=True)
    want = want.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(got[keys], want[keys], check_dtype=False)
    assert got["period"].dtype == want["period"].dtype  # naive periods, Spark's too
    for column in ("value", "numerator", "denominator", "n"):
        a = got[column].to_numpy(dtype=float)
        b = want[column].to_numpy(dtype=float)
        bad = ~np.isclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True)
        assert not bad.any(), (column, got.loc[bad, keys].head(5).to_dict("records"))
