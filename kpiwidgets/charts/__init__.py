"""Result frame -> Altair chart. Pure specs: no widgets here (see kpiwidgets.widgets)."""

from kpiwidgets.charts.overview import period_counts_chart

__all__ = ["period_counts_chart"]
