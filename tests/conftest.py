"""The shared engine fixture: a test that takes ``engine`` runs on every engine we promise.

``engine.convert(pandas_frame)`` gives the same data as that engine's frame, and
``engine.kind`` the type a metric must return for it. Compare with pandas through
``tests.helpers.to_pandas``. (Engine parity checks that engines agree; the numbers themselves
are pinned by hand-computed tests and independent SQL/brute-force oracles elsewhere.)
"""

from __future__ import annotations

import atexit
import functools
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


@functools.cache
def spark_session():
    """One local Spark session per test process (started on first use, stopped at exit).

    One core, one shuffle partition, no code generation, no UI: the data is small, so the
    JVM start (a few seconds) is most of the cost. Session time zone UTC: Spark reads
    timestamps in it.
    """
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("kpiwidgets-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        # Small data: compiling generated code costs more than it saves.
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    atexit.register(session.stop)
    return session


def _spark(frame: pd.DataFrame):
    return spark_session().createDataFrame(frame)


ENGINES = {
    "pandas": Engine("pandas", lambda df: df, pd.DataFrame),
    "polars": Engine("polars", pl.from_pandas, pl.DataFrame),
    "polars-lazy": Engine("polars-lazy", lambda df: pl.from_pandas(df).lazy(), pl.LazyFrame),
    "duckdb": Engine("duckdb", _duckdb, duckdb.DuckDBPyRelation),
}
try:
    from pyspark.sql import DataFrame as SparkDataFrame
except ImportError:  # pragma: no cover - the test extra installs PySpark
    SparkDataFrame = None
else:
    ENGINES["spark"] = Engine("spark", _spark, SparkDataFrame)


@pytest.fixture(params=list(ENGINES))
def engine(request) -> Engine:
    """Each engine in turn: pandas, polars, polars lazy, DuckDB, local Spark."""
    return ENGINES[request.param]
