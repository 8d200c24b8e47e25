"""The shared engine fixture: a test that takes ``engine`` runs on every engine we promise.

``engine.convert(pandas_frame)`` gives the same data as that engine's frame, and
``engine.kind`` the type a metric must return for it. Compare with pandas through
``tests.helpers.to_pandas``. (Engine parity checks that engines agree; the numbers themselves
are pinned by hand-computed tests and independent SQL/brute-force oracles elsewhere.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pytest


@dataclass(frozen=True)
class Engine:
    name: str
    convert: Callable[[pd.DataFrame], Any]
    kind: type


def _duckdb(frame: pd.DataFrame) -> duckdb.DuckDBPyRelation:
    return duckdb.from_df(frame)


ENGINES = {
    "pandas": Engine("pandas", lambda df: df, pd.DataFrame),
    "polars": Engine("polars", pl.from_pandas, pl.DataFrame),
    "polars-lazy": Engine("polars-lazy", lambda df: pl.from_pandas(df).lazy(), pl.LazyFrame),
    "duckdb": Engine("duckdb", _duckdb, duckdb.DuckDBPyRelation),
}


@pytest.fixture(params=list(ENGINES))
def engine(request) -> Engine:
    """Each engine in turn: pandas, polars, polars lazy, DuckDB."""
    return ENGINES[request.param]
