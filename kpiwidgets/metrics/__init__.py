"""The metrics core: pure functions, any narwhals-supported frame in, the same kind out.

This package never imports a widget or chart library.
"""

from kpiwidgets.metrics._frames import DroppedRowsWarning
from kpiwidgets.metrics.counts import count_by_period
from kpiwidgets.metrics.funnel import (
    funnel,
    funnel_entities,
    funnel_trend,
    segment_comparison,
    time_to_convert,
)
from kpiwidgets.metrics.retention import average_retention, cohort_retention, retention_triangle

__all__ = [
    "DroppedRowsWarning",
    "average_retention",
    "cohort_retention",
    "count_by_period",
    "funnel",
    "funnel_entities",
    "funnel_trend",
    "retention_triangle",
    "segment_comparison",
    "time_to_convert",
]
