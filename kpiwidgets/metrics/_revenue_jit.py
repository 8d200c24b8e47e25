"""The compiled part of :mod:`._revenue_kernel` (numba, machine code cached on disk).

Importing this module fails with ``ImportError`` when numba is not installed; the movements
then run their lazy plans.
"""

from __future__ import annotations

import numba
import numpy as np

from kpiwidgets.metrics._compiled import I64_MAX, NONE

_SMALL = 32  # an account's rows up to this many are sorted by insertion

#: Columns of the walk's accumulator, one row per month of the data.
SEEN, START, NEW, REACTIVATION, EXPANSION, CONTRACTION, CHURN, END = range(8)


@numba.njit(cache=True, nogil=True)
def month_index(t, per_day):
    """The calendar month of a time (``per_day`` units a day since 1970-01-01) as
    ``year * 12 + month - 1`` (proleptic Gregorian: H. Hinnant's days-to-civil)."""
    z = t // per_day + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    return year * 12 + month - 1


@numba.njit(cache=True, nogil=True)
def count_rows(entity, base, ts, per_entity):
    """Usable rows (an account and a time) per account; returns ``(rows, first, last time)``."""
    used, lo, hi = 0, I64_MAX, NONE
    for i in range(len(entity)):
        g = entity[i] - base
        t = ts[i]
        if g >= 0 and t != NONE:
            per_entity[g] += 1
            used += 1
            lo = min(lo, t)
            hi = max(hi, t)
    return used, lo, hi


@numba.njit(cache=True, nogil=True)
def place_rows(entity, base, ts, values, per_day, fill, r_month, r_value):
    """Copy each usable row's month and value (NaN counts as 0) to its account's next slot
    (``fill[g]``), so that each account's rows lie together."""
    for i in range(len(entity)):
        g = entity[i] - base
        t = ts[i]
        if g >= 0 and t != NONE:
            p = fill[g]
            r_month[p] = month_index(t, per_day)
            v = values[i]
            r_value[p] = 0.0 if np.isnan(v) else v
            fill[g] = p + 1


@numba.njit(cache=True, nogil=True)
def _sort_rows(r_month, r_value, lo, hi):
    """Sort one account's rows ``lo..hi`` by month (values follow)."""
    if hi - lo <= _SMALL:
        for i in range(lo + 1, hi):
            m, v = r_month[i], r_value[i]
            j = i - 1
            while j >= lo and r_month[j] > m:
                r_month[j + 1], r_value[j + 1] = r_month[j], r_value[j]
                j -= 1
            r_month[j + 1], r_value[j + 1] = m, v
        return
    order = np.argsort(r_month[lo:hi], kind="mergesort")
    months, vals = r_month[lo:hi][order], r_value[lo:hi][order]
    r_month[lo:hi] = months
    r_value[lo:hi] = vals


@numba.njit(cache=True, nogil=True)
def _add(out, m, first_month, last_month, now, prev, first):
    """One account's month ``m``: its MRR ``now`` and ``prev`` (the month before), ``first``
    its first month with MRR above 0; added to ``out``'s row for ``m`` (months after the
    data's last are not reported)."""
    if m > last_month:
        return
    row = m - first_month
    out[row, SEEN] += 1.0
    out[row, START] += prev
    out[row, END] += now
    if prev > 0.0:
        if now > prev:
            out[row, EXPANSION] += now - prev
        elif now > 0.0 and now < prev:
            out[row, CONTRACTION] += prev - now
        elif now <= 0.0:
            out[row, CHURN] += prev
    elif now > 0.0:
        if m == first:
            out[row, NEW] += now
        else:
            out[row, REACTIVATION] += now


@numba.njit(cache=True, nogil=True)
def walk(starts, r_month, r_value, g_lo, g_hi, first_month, last_month, out):
    """Each account ``g_lo..g_hi``: its MRR per month (its rows of the month summed, then
    below 0 counted as 0), each month against the month before, into ``out`` by month. An
    account's month with rows, and the month after it, are reported (the month after with
    ``now = 0`` where it has no rows then: a churn when the MRR was above 0)."""
    for g in range(g_lo, g_hi):
        lo, hi = starts[g], starts[g + 1]
        if lo == hi:
            continue
        _sort_rows(r_month, r_value, lo, hi)
        first = NONE
        prev_m, prev_v = NONE, 0.0
        i = lo
        while i < hi:
            m = r_month[i]
            v = 0.0
            while i < hi and r_month[i] == m:
                v += r_value[i]
                i += 1
            v = max(v, 0.0)
            if prev_m != NONE and prev_m + 1 < m:
                _add(out, prev_m + 1, first_month, last_month, 0.0, prev_v, first)
            if first == NONE and v > 0.0:
                first = m
            prev = prev_v if prev_m != NONE and prev_m + 1 == m else 0.0
            _add(out, m, first_month, last_month, v, prev, first)
            prev_m, prev_v = m, v
        _add(out, prev_m + 1, first_month, last_month, 0.0, prev_v, first)
