"""kpiwidgets: interactive sales and marketing KPI widgets for Jupyter.

>>> import kpiwidgets as kw
>>> sorted(kw.TABLES)[:3]
['campaign_stats', 'content', 'forecasts']
"""

from kpiwidgets import charts
from kpiwidgets._warnings import DataQualityWarning
from kpiwidgets.datasets import PRESETS, TABLES, Dataset, load_demo, read_dataset
from kpiwidgets.metrics import (
    DroppedRowsWarning,
    FunnelSession,
    RetentionSession,
    TimeToConvert,
    average_retention,
    cohort_retention,
    count_by_period,
    funnel,
    funnel_entities,
    funnel_trend,
    logo_churn,
    mrr_movements,
    retention_triangle,
    revenue_retention,
    segment_comparison,
    time_to_convert,
)
from kpiwidgets.widgets.funnel import FunnelExplorer
from kpiwidgets.widgets.retention import RetentionGrid

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "TABLES",
    "DataQualityWarning",
    "Dataset",
    "DroppedRowsWarning",
    "FunnelExplorer",
    "FunnelSession",
    "RetentionGrid",
    "RetentionSession",
    "TimeToConvert",
    "average_retention",
    "charts",
    "cohort_retention",
    "count_by_period",
    "funnel",
    "funnel_entities",
    "funnel_trend",
    "load_demo",
    "logo_churn",
    "mrr_movements",
    "read_dataset",
    "retention_triangle",
    "revenue_retention",
    "segment_comparison",
    "time_to_convert",
]
