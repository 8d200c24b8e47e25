"""kpiwidgets: interactive sales and marketing KPI widgets for Jupyter.

>>> import kpiwidgets as kw
>>> sorted(kw.TABLES)[:3]
['campaign_stats', 'content', 'forecasts']
"""

from kpiwidgets import apps, charts
from kpiwidgets._warnings import DataQualityWarning
from kpiwidgets.apps import app_data
from kpiwidgets.datasets import PRESETS, TABLES, Dataset, load_demo, read_dataset
from kpiwidgets.metrics import (
    DroppedRowsWarning,
    ForecastSession,
    FunnelSession,
    RetentionSession,
    ScorecardSession,
    TimeToConvert,
    actuals_from_opportunities,
    average_retention,
    bias,
    cohort_retention,
    count_by_period,
    forecast_accuracy,
    forecast_projection,
    forecast_summary,
    funnel,
    funnel_entities,
    funnel_trend,
    kpi,
    kpi_catalog,
    kpi_table,
    logo_churn,
    mape,
    mase,
    mrr_movements,
    retention_triangle,
    revenue_retention,
    segment_comparison,
    smape,
    time_to_convert,
    tracking_signal,
    wape,
)
from kpiwidgets.widgets._links import deep_link
from kpiwidgets.widgets.forecast import ForecastTracker
from kpiwidgets.widgets.funnel import FunnelExplorer
from kpiwidgets.widgets.kpi_board import KPIBoard
from kpiwidgets.widgets.retention import RetentionGrid

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "TABLES",
    "DataQualityWarning",
    "Dataset",
    "DroppedRowsWarning",
    "ForecastSession",
    "ForecastTracker",
    "FunnelExplorer",
    "FunnelSession",
    "KPIBoard",
    "RetentionGrid",
    "RetentionSession",
    "ScorecardSession",
    "TimeToConvert",
    "actuals_from_opportunities",
    "app_data",
    "apps",
    "average_retention",
    "bias",
    "charts",
    "cohort_retention",
    "count_by_period",
    "deep_link",
    "forecast_accuracy",
    "forecast_projection",
    "forecast_summary",
    "funnel",
    "funnel_entities",
    "funnel_trend",
    "kpi",
    "kpi_catalog",
    "kpi_table",
    "load_demo",
    "logo_churn",
    "mape",
    "mase",
    "mrr_movements",
    "read_dataset",
    "retention_triangle",
    "revenue_retention",
    "segment_comparison",
    "smape",
    "time_to_convert",
    "tracking_signal",
    "wape",
]
