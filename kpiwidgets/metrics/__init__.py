"""The metrics core: pure functions, any narwhals-supported frame in, the same kind out.

This package never imports a widget or chart library.
"""

from kpiwidgets.metrics._frames import DroppedRowsWarning
from kpiwidgets.metrics.counts import count_by_period
from kpiwidgets.metrics.forecast import forecast_accuracy, forecast_summary
from kpiwidgets.metrics.forecast_actuals import actuals_from_opportunities
from kpiwidgets.metrics.forecast_projection import forecast_projection
from kpiwidgets.metrics.forecast_scores import bias, mape, mase, smape, tracking_signal, wape
from kpiwidgets.metrics.forecast_session import ForecastSession
from kpiwidgets.metrics.funnel import (
    funnel,
    funnel_entities,
    funnel_trend,
    segment_comparison,
    time_to_convert,
)
from kpiwidgets.metrics.funnel_session import FunnelSession
from kpiwidgets.metrics.kpis import kpi, kpi_catalog, kpi_table
from kpiwidgets.metrics.retention import cohort_retention
from kpiwidgets.metrics.retention_average import average_retention, retention_triangle
from kpiwidgets.metrics.retention_session import RetentionSession
from kpiwidgets.metrics.revenue import logo_churn, mrr_movements, revenue_retention
from kpiwidgets.metrics.scorecard import ScorecardSession
from kpiwidgets.metrics.time_to_convert import TimeToConvert

__all__ = [
    "DroppedRowsWarning",
    "ForecastSession",
    "FunnelSession",
    "RetentionSession",
    "ScorecardSession",
    "TimeToConvert",
    "actuals_from_opportunities",
    "average_retention",
    "bias",
    "cohort_retention",
    "count_by_period",
    "forecast_accuracy",
    "forecast_projection",
    "forecast_summary",
    "funnel",
    "funnel_entities",
    "funnel_trend",
    "kpi",
    "kpi_catalog",
    "kpi_table",
    "logo_churn",
    "mape",
    "mase",
    "mrr_movements",
    "retention_triangle",
    "revenue_retention",
    "segment_comparison",
    "smape",
    "time_to_convert",
    "tracking_signal",
    "wape",
]
