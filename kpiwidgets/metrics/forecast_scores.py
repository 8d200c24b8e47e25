"""Forecast error metrics on plain arrays: ``(actual, forecast)``, as scikit-learn takes
``(y_true, y_pred)``. One sign everywhere: error = forecast − actual, so a positive bias is an
over-forecast. Every function returns a Python float; NaN when the metric is undefined for the
input (documented per function), never an error for a zero.

>>> from kpiwidgets.metrics.forecast_scores import bias, wape
>>> wape([100, 50], [90, 70])
0.2
>>> bias([100, 50], [90, 70])
0.06666666666666667
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kpiwidgets.metrics.choices import ZeroActuals, check_choice

__all__ = ["TRACKING_LIMIT", "bias", "mape", "mase", "smape", "tracking_signal", "wape"]

#: |tracking signal| above this flags a forecast that is persistently biased.
TRACKING_LIMIT = 4.0


def _pair(actual: Any, forecast: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(actual, dtype=float).ravel()
    f = np.asarray(forecast, dtype=float).ravel()
    if a.shape != f.shape:
        raise ValueError(
            f"{where}: actual and forecast must have the same length, found {a.size} and {f.size}"
        )
    keep = ~(np.isnan(a) | np.isnan(f))
    return a[keep], f[keep]


def mape(actual: Any, forecast: Any, *, zero_actuals: ZeroActuals = "nan") -> float:
    """Mean absolute percentage error: mean of |A − F| / |A|, as a fraction (0.25 = 25 %).

    Range 0 (perfect) to ∞; unsigned. A zero actual makes its term undefined, and
    ``zero_actuals`` says what happens: ``"nan"`` (default) returns NaN, ``"exclude"`` leaves
    such pairs out of the mean, ``"raise"`` raises ``ValueError``. Pairs with a NaN are left
    out; no pairs left gives NaN.

    >>> mape([100, 200], [110, 150])
    0.175
    >>> mape([0, 200], [10, 150])
    nan
    >>> mape([0, 200], [10, 150], zero_actuals="exclude")
    0.25
    """
    check_choice(zero_actuals, ZeroActuals, name="zero_actuals", where="mape")
    a, f = _pair(actual, forecast, "mape")
    zero = a == 0
    if zero.any():
        if zero_actuals == "raise":
            raise ValueError(
                f"mape: {int(zero.sum())} actual(s) are 0, where a percentage error is "
                "undefined; pass zero_actuals='exclude' to leave them out, or use wape"
            )
        if zero_actuals == "nan":
            return math.nan
        a, f = a[~zero], f[~zero]
    return float(np.mean(np.abs(a - f) / np.abs(a))) if a.size else math.nan


def wape(actual: Any, forecast: Any) -> float:
    """Weighted absolute percentage error: Σ|A − F| / Σ|A|.

    Range 0 to ∞; unsigned; volume-weighted, so a single zero actual does not break it (its
    error still counts in the numerator). NaN when Σ|A| is 0.

    >>> wape([0, 200], [10, 150])
    0.3
    """
    a, f = _pair(actual, forecast, "wape")
    den = np.abs(a).sum()
    return float(np.abs(a - f).sum() / den) if den > 0 else math.nan


def smape(actual: Any, forecast: Any) -> float:
    """Symmetric MAPE: mean of 2|A − F| / (|A| + |F|).

    Range 0 to 2; unsigned. A pair with A = F = 0 scores 0 (a perfect forecast of nothing);
    a forecast for a zero actual scores 2.

    >>> smape([0, 0, 100], [0, 10, 100])
    0.6666666666666666
    """
    a, f = _pair(actual, forecast, "smape")
    if not a.size:
        return math.nan
    den = np.abs(a) + np.abs(f)
    terms = np.divide(2 * np.abs(a - f), den, out=np.zeros_like(den), where=den > 0)
    return float(terms.mean())


def bias(actual: Any, forecast: Any) -> float:
    """Signed bias: Σ(F − A) / Σ A. Positive = over-forecast.

    Range −1 (forecast nothing) to ∞. NaN when Σ A is not positive.

    >>> bias([100, 100], [130, 90])
    0.1
    """
    a, f = _pair(actual, forecast, "bias")
    den = a.sum()
    return float((f - a).sum() / den) if den > 0 else math.nan


def tracking_signal(actual: Any, forecast: Any) -> float:
    """Tracking signal: Σ(F − A) / mean|F − A| (running sum of errors over their mean size).

    Signed, positive = over-forecast; range −n to n for n pairs. Beyond ±4
    (:data:`TRACKING_LIMIT`) the forecasts are persistently biased rather than noisy. NaN
    when every error is 0 (or there are no pairs).

    >>> tracking_signal([100, 100, 100], [110, 120, 90])
    1.5
    """
    a, f = _pair(actual, forecast, "tracking_signal")
    e = f - a
    mad = np.abs(e).mean() if e.size else 0.0
    return float(e.sum() / mad) if mad > 0 else math.nan


def mase(actual: Any, forecast: Any, history: Any) -> float:
    """Mean absolute scaled error: mean|A − F| / mean|H_t − H_{t−1}|.

    The scale is the mean error a naive "same as last period" forecast makes over
    ``history`` (the actuals of earlier periods, in time order), so MASE < 1 beats the naive
    forecast and > 1 loses to it. Range 0 to ∞; unsigned. NaN when ``history`` has fewer than
    two values or never changes (a zero scale).

    >>> mase([120], [100], history=[80, 100, 90])
    1.3333333333333333
    """
    a, f = _pair(actual, forecast, "mase")
    h = np.asarray(history, dtype=float).ravel()
    h = h[~np.isnan(h)]
    scale = np.abs(np.diff(h)).mean() if h.size >= 2 else 0.0
    if not a.size or scale <= 0:
        return math.nan
    return float(np.abs(a - f).mean() / scale)
