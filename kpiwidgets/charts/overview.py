"""Charts of the dataset overview app."""

from __future__ import annotations

import altair as alt
import narwhals.stable.v2 as nw

from kpiwidgets.charts._base import CATEGORY_SCHEME

__all__ = ["period_counts_chart"]


def period_counts_chart(
    result: object,
    *,
    by: str | None = None,
    title: str = "",
    y_title: str = "count",
) -> alt.Chart:
    """Stacked bars of ``count`` per ``period`` (a :func:`kw.count_by_period` result).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"period": pd.to_datetime(["2024-01-01", "2024-02-01"]),
    ...                       "count": [3, 5]})
    >>> spec = period_counts_chart(frame, title="Leads").to_dict()
    >>> spec["mark"]["type"], spec["encoding"]["y"]["field"]
    ('bar', 'count')
    """
    data = nw.from_native(result, eager_only=True).to_pandas()
    encoding = {
        "x": alt.X("yearmonth(period):T", title=None),
        "y": alt.Y("sum(count):Q", title=y_title),
        "tooltip": [alt.Tooltip("yearmonth(period):T", title="month")],
    }
    if by is not None:
        encoding["color"] = alt.Color(
            f"{by}:N", title=by.replace("_", " "), scale=alt.Scale(scheme=CATEGORY_SCHEME)
        )
        encoding["tooltip"].append(alt.Tooltip(f"{by}:N"))
    encoding["tooltip"].append(alt.Tooltip("sum(count):Q", title=y_title, format=","))
    return (
        alt.Chart(data, title=title)
        .mark_bar()
        .encode(**encoding)
        .properties(width="container", height=260)
    )
