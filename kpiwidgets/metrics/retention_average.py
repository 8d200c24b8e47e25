"""Reading a cohort triangle: the average cohort over cohorts (:func:`average_retention`) and
the triangle as a cohort x period table (:func:`retention_triangle`), from the frame
:func:`kw.cohort_retention` returns (semantics: docs/retention.md)."""

from __future__ import annotations

from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.metrics._frames import prepare, ratio
from kpiwidgets.metrics._names import internal
from kpiwidgets.metrics.choices import AverageMethod, check_choice
from kpiwidgets.metrics.retention import OUTPUT

__all__ = ["average_retention", "retention_triangle"]

# Plan-internal columns (kpiwidgets.metrics._names): never a user's column name.
_V0 = internal("v0")


def average_retention(result: Any, method: AverageMethod = "pooled") -> Any:
    """The average cohort: retention at each k over the cohorts whose cell k is complete.

    * ``"pooled"`` (default): ``Σ retained / Σ cohort_size`` — each entity weighs the same.
    * ``"simple"``: the mean of the cohorts' ``retention`` — each cohort weighs the same.

    With a ``value_retention`` column, ``value_retention`` is averaged the same way (pooled:
    ``Σ value_k / Σ value_0`` over the same cohorts). Incomplete cells are left out; a k with
    no complete cell has no row. Columns of ``result`` other than those of
    :func:`cohort_retention` are taken as ``by`` columns and kept as groups.

    Returns
    -------
    The caller's frame type: the ``by`` columns, ``period_number``, ``method``, ``cohorts``
    (complete cells averaged), ``cohort_size`` (Σ: the entities the cell is built from),
    ``retained`` (Σ), ``retention`` (and ``value_retention``), sorted by ``by`` then
    ``period_number``. ``cohorts`` and ``cohort_size`` tell how much a cell rests on, with
    either method: a late period number is complete for the oldest cohorts only, so the tail
    of the average is built from a few cohorts and entities and can jump about (the retention
    charts draw such cells pale or faded).

    Examples
    --------
    >>> import pandas as pd
    >>> result = pd.DataFrame({
    ...     "cohort": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01", "2024-02-01"]),
    ...     "period_number": [0, 1, 0, 1], "cohort_size": [10, 10, 30, 30],
    ...     "retained": [10, 5, 30, 6], "retention": [1.0, 0.5, 1.0, 0.2],
    ...     "is_complete": [True, True, True, True]})
    >>> average_retention(result)[["period_number", "method", "retention"]]
       period_number  method  retention
    0              0  pooled      1.000
    1              1  pooled      0.275
    >>> float(average_retention(result, method="simple")["retention"].iloc[1])
    0.35
    """
    check_choice(method, AverageMethod, name="method", where="average_retention")
    prep = prepare(result, name="result")
    names = prep.lf.collect_schema().names()
    missing = [c for c in OUTPUT if c not in names and c not in ("value", "value_retention")]
    if missing:
        raise ValueError(
            f"average_retention: expected a cohort_retention result, missing columns {missing}"
        )
    keys = [c for c in names if c not in OUTPUT]
    with_value = "value_retention" in names
    lf = prep.lf
    if with_value:
        at_zero = nw.col("period_number") == 0
        v0 = nw.when(at_zero).then(nw.col("value")).otherwise(0.0).sum().over(*keys, "cohort")
        lf = lf.with_columns(v0.alias(_V0))
    lf = lf.filter(nw.col("is_complete"))
    if method == "pooled":
        rate = ratio(nw.col("retained").sum().cast(nw.Float64), nw.col("cohort_size").sum())
        value_rate = ratio(nw.col("value").sum(), nw.col(_V0).sum())
    else:
        rate = nw.col("retention").mean()
        value_rate = nw.col("value_retention").mean()
    out = (
        lf.group_by(*keys, "period_number")
        .agg(
            nw.len().cast(nw.Int64).alias("cohorts"),
            nw.col("cohort_size").sum().cast(nw.Int64),
            nw.col("retained").sum().cast(nw.Int64),
            rate.alias("retention"),
            *([value_rate.alias("value_retention")] if with_value else []),
        )
        .with_columns(nw.lit(method).alias("method"))
    )
    order = [*keys, "period_number", "method", "cohorts", "cohort_size", "retained", "retention"]
    order += ["value_retention"] if with_value else []
    return prep.finish(out.select(order).sort(*keys, "period_number", nulls_last=True))


def retention_triangle(result: Any, values: str = "retention") -> Any:
    """Pivot a :func:`cohort_retention` result to a cohort × ``period_number`` pandas table.

    Rows are the cohorts (with any ``by`` columns first in the index), columns the period
    numbers; cells with no value (beyond ``as_of``) are NaN. A display helper: the result is
    small, so it is always returned as pandas.

    Examples
    --------
    >>> import pandas as pd
    >>> result = pd.DataFrame({
    ...     "cohort": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01"]),
    ...     "period_number": [0, 1, 0], "retention": [1.0, 0.5, 1.0]})
    >>> retention_triangle(result)
    period_number    0    1
    cohort
    2024-01-01     1.0  0.5
    2024-02-01     1.0  NaN
    """
    frame = nw.from_native(result)
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    data = frame.to_pandas()
    if values not in data.columns:
        raise ValueError(
            f"retention_triangle: values must be a column of the result, found {values!r} "
            f"(columns: {', '.join(map(str, data.columns))})"
        )
    index = [c for c in data.columns if c not in OUTPUT] + ["cohort"]
    return data.pivot(index=index, columns="period_number", values=values)


# -- plumbing ---------------------------------------------------------------------------------
