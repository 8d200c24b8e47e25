"""The compiled part of :mod:`._funnel_kernel` (numba, machine code cached on disk).

Importing this module fails with ``ImportError`` when numba is not installed; the funnel then
runs its lazy plans.
"""

from __future__ import annotations

import numba
import numpy as np

from kpiwidgets.metrics._funnel_kernel import _I64_MAX as MAX
from kpiwidgets.metrics._funnel_kernel import _NONE as NONE

_SMALL = 32  # groups up to this size are sorted by insertion


@numba.njit(cache=True, nogil=True)
def count_rows(entity, codes, ts, lo, hi, counts):
    """Add the usable rows ``lo..hi`` (a step name, a time, an entity) to ``counts[g + 1]``."""
    for i in range(lo, hi):
        if codes[i] >= 0 and ts[i] != NONE and entity[i] >= 0:
            counts[entity[i] + 1] += 1


@numba.njit(cache=True, nogil=True)
def place_rows(entity, codes, ts, lo, hi, fill, group_ts, group_code):
    """Scatter the usable rows ``lo..hi`` to their entity's slots (``fill[g]``: next slot)."""
    for i in range(lo, hi):
        if codes[i] >= 0 and ts[i] != NONE and entity[i] >= 0:
            g = entity[i]
            p = fill[g]
            group_ts[p] = ts[i]
            group_code[p] = codes[i]
            fill[g] = p + 1


@numba.njit(cache=True, nogil=True)
def walk(offsets, group_ts, group_code, member, overlap, start, end, window, best, g_lo, g_hi, out):
    """Per entity ``g_lo..g_hi``, the step times of its counted attempt into ``out[k, g]``
    (left ``NONE`` where not reached).

    ``group_code``: index of the row's event name among the wanted names, sorted;
    ``member[name, k]``: the name belongs to step k; ``overlap[k, j]``: steps k and j (j < k)
    share a name; entries in ``[start, end)``; step k within ``window`` of the entry.
    """
    n_steps = member.shape[1]
    pos = np.empty(n_steps, np.int64)
    kept = np.empty(n_steps, np.int64)
    last = np.empty(n_steps, np.int64)
    for g in range(g_lo, g_hi):
        lo, hi = offsets[g], offsets[g + 1]
        if hi == lo:
            continue
        if hi - lo > 1:
            _sort_group(group_ts, group_code, lo, hi)
        last[:] = -1
        for i in range(lo, hi):
            for k in range(1, n_steps):
                if member[group_code[i], k]:
                    last[k] = i
        reach_kept = 0
        last_entry = NONE
        for i in range(lo, hi):
            t = group_ts[i]
            if not member[group_code[i], 0] or t < start or t >= end:
                continue
            if reach_kept > 0 and t == last_entry:
                continue  # one attempt per distinct entry time, from its first row
            last_entry = t
            reach = _chain(i, lo, last, group_ts, group_code, member, overlap, window, pos)
            if reach > reach_kept:  # strictly further: ties keep the earlier entry
                reach_kept = reach
                kept[:reach] = pos[:reach]
            if not best or reach_kept == n_steps:
                break
        for k in range(reach_kept):
            out[k, g] = group_ts[kept[k]]


@numba.njit(cache=True, nogil=True)
def _chain(entry, lo, last, lts, lcode, member, overlap, window, pos):
    """Fill ``pos`` with the rows of the attempt starting at row ``entry`` (its entity's rows
    start at ``lo``, sorted; ``last[k]``: its last row named by step k); return how many steps
    it reached."""
    n_steps = member.shape[1]
    pos[0] = entry
    t1 = lts[entry]
    limit = t1 + window if t1 <= MAX - window else MAX
    for k in range(1, n_steps):
        q = pos[k - 1]
        t_prev = lts[q]
        while q > lo and lts[q - 1] == t_prev:
            q -= 1  # at or after step k-1: from the start of its block of equal times
        found = -1
        while q <= last[k] and lts[q] <= limit:
            if member[lcode[q], k]:
                used = False
                for j in range(k):
                    if overlap[k, j] and pos[j] == q:
                        used = True
                        break
                if not used:
                    found = q
                    break
            q += 1
        if found < 0:
            return k
        pos[k] = found
    return n_steps


@numba.njit(cache=True, nogil=True)
def _sort_group(lts, lcode, lo, hi):
    """Sort rows ``lo..hi`` in place by (time, event name code)."""
    if hi - lo <= _SMALL:
        for i in range(lo + 1, hi):
            t, c = lts[i], lcode[i]
            j = i - 1
            while j >= lo and (lts[j] > t or (lts[j] == t and lcode[j] > c)):
                lts[j + 1] = lts[j]
                lcode[j + 1] = lcode[j]
                j -= 1
            lts[j + 1] = t
            lcode[j + 1] = c
        return
    seg_ts = lts[lo:hi]
    seg_code = lcode[lo:hi]
    by_code = np.argsort(seg_code, kind="mergesort")
    by_time = by_code[np.argsort(seg_ts[by_code], kind="mergesort")]
    sorted_ts = seg_ts[by_time]
    sorted_code = seg_code[by_time]
    seg_ts[:] = sorted_ts
    seg_code[:] = sorted_code


@numba.njit(cache=True, nogil=True)
def match_names(offsets, data, valid, base, wanted_offsets, wanted_data, out):
    """``out[i]``: index of Arrow string ``base + i`` among the wanted names, or -1 (another
    name, or null). ``valid`` is the validity bitmap (empty: no nulls)."""
    n_wanted = len(wanted_offsets) - 1
    for i in range(len(out)):
        j = base + i
        code = -1
        if valid.size == 0 or (valid[j >> 3] >> (j & 7)) & 1:
            a = offsets[j]
            length = offsets[j + 1] - a
            for w in range(n_wanted):
                wa = wanted_offsets[w]
                if wanted_offsets[w + 1] - wa != length:
                    continue
                same = True
                for c in range(length):
                    if data[a + c] != wanted_data[wa + c]:
                        same = False
                        break
                if same:
                    code = w
                    break
        out[i] = code
