"""kpiwidgets: interactive sales and marketing KPI widgets for Jupyter.

>>> import kpiwidgets as kw
>>> sorted(kw.TABLES)[:3]
['campaign_stats', 'content', 'forecasts']
"""

from kpiwidgets import charts
from kpiwidgets.datasets import TABLES, Dataset, load_demo, read_dataset
from kpiwidgets.metrics import (
    DroppedRowsWarning,
    average_retention,
    cohort_retention,
    count_by_period,
    funnel,
    funnel_entities,
    funnel_trend,
    retention_triangle,
    segment_comparison,
    time_to_convert,
)

from kpiwidgets.widgets.funnel import FunnelExplorer

__version__ = "0.1.0"

__all__ = [
    "TABLES",
    "Dataset",
    "DroppedRowsWarning",
    "FunnelExplorer",
    "average_retention",
    "charts",
    "cohort_retention",
    "count_by_period",
    "funnel",
    "funnel_entities",
    "funnel_trend",
    "load_demo",
    "read_dataset",
    "retention_triangle",
    "segment_comparison",
    "time_to_convert",
]
