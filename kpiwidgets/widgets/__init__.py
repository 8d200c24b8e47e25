"""ipywidgets composites: controls + charts + drill-down, thin shells over the metrics core."""

from kpiwidgets.widgets.funnel import FunnelExplorer
from kpiwidgets.widgets.retention import RetentionGrid

__all__ = ["FunnelExplorer", "RetentionGrid"]
