"""Result frame -> Altair chart. Pure: no ipywidgets here (JupyterChart is Altair's own)."""

from kpiwidgets.charts._base import chart_widget, enable_offline
from kpiwidgets.charts.overview import period_counts_chart

__all__ = ["chart_widget", "enable_offline", "period_counts_chart"]
