"""ipywidgets composites: controls + charts + drill-down, thin shells over the metrics core."""

from kpiwidgets.widgets._chart import chart_widget, enable_offline
from kpiwidgets.widgets._links import deep_link
from kpiwidgets.widgets.funnel import FunnelExplorer
from kpiwidgets.widgets.retention import RetentionGrid

__all__ = [
    "FunnelExplorer",
    "RetentionGrid",
    "chart_widget",
    "deep_link",
    "enable_offline",
]
