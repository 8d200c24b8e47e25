"""Small exact statistics in pure Python (scipy is not a runtime dependency)."""

from __future__ import annotations

import math


def two_proportion_p_value(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test (equals chi-square, no correction).

    z = (p1 − p2) / sqrt(p(1−p)(1/n1 + 1/n2)) with p = (x1 + x2) / (n1 + n2); p-value =
    erfc(|z| / sqrt(2)). NaN when a group is empty; 1.0 when p is 0 or 1 (no variation).
    """
    if n1 == 0 or n2 == 0:
        return math.nan
    pooled = (x1 + x2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if var <= 0:
        return 1.0
    z = (x1 / n1 - x2 / n2) / math.sqrt(var)
    return math.erfc(abs(z) / math.sqrt(2))


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_exact_p_value(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher exact p-value of the 2×2 table [[a, b], [c, d]].

    Sums the hypergeometric probabilities of every table with the same margins that is no
    more likely than the observed one (relative tolerance 1e-7, as scipy does).
    """
    row1, col1, total = a + b, a + c, a + b + c + d
    if total == 0:
        return math.nan
    lo, hi = max(0, col1 - (total - row1)), min(row1, col1)
    denom = _log_comb(total, col1)

    def log_pmf(x: int) -> float:
        return _log_comb(row1, x) + _log_comb(total - row1, col1 - x) - denom

    observed = log_pmf(a)
    cutoff = observed + math.log1p(1e-7)
    p = sum(math.exp(lp) for x in range(lo, hi + 1) if (lp := log_pmf(x)) <= cutoff)
    return min(p, 1.0)
