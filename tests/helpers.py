"""Shared test helpers."""

from __future__ import annotations


def click_point(chart_widget, name: str, **fields) -> None:
    """Simulate a click on a point selection of an ``alt.JupyterChart``.

    Sets the internal traitlet the browser's vega-embed sets on a click (the way Altair's own
    tests drive JupyterChart without a browser).
    """
    chart_widget._vl_selections = {
        name: {"value": {"vlPoint": {"or": [fields]}}, "store": [{"values": list(fields.values())}]}
    }


def to_pandas(result):
    """Any engine's result (pandas, polars eager or lazy, DuckDB relation, Spark) as pandas."""
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        return result
    if hasattr(result, "toPandas"):
        return result.toPandas()  # a Spark DataFrame
    if hasattr(result, "collect") and not hasattr(result, "df"):
        result = result.collect()  # a polars LazyFrame
    if hasattr(result, "to_pandas"):
        return result.to_pandas()
    return result.df()  # a DuckDB relation
