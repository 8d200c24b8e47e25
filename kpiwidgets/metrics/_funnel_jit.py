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
def count_rows(entity, base, codes, ts, lo, hi, shift, buckets, names):
    """Count the usable rows ``lo..hi`` (a step name, a time, an entity) per bucket of
    entities (entity ``g = entity[i] - base`` is in bucket ``g >> shift``), and every row of a
    step name per name (``names[code]``)."""
    for i in range(lo, hi):
        c = codes[i]
        if c >= 0:
            names[c] += 1
            g = entity[i] - base
            if ts[i] != NONE and g >= 0:
                buckets[g >> shift] += 1


@numba.njit(cache=True, nogil=True)
def place_rows(entity, base, codes, ts, lo, hi, shift, fill, b_entity, b_ts, b_code):
    """Copy the usable rows ``lo..hi`` to their bucket's slots (``fill[b]``: its next slot).

    Few buckets (a few hundred) keep these writes in the caches, where writing each row
    straight to its entity's slot would miss them on almost every row."""
    for i in range(lo, hi):
        g = entity[i] - base
        if codes[i] >= 0 and ts[i] != NONE and g >= 0:
            b = g >> shift
            p = fill[b]
            b_entity[p] = g
            b_ts[p] = ts[i]
            b_code[p] = codes[i]
            fill[b] = p + 1


@numba.njit(cache=True, nogil=True)
def walk(
    bucket_rows,
    b_entity,
    b_ts,
    b_code,
    shift,
    n_entities,
    b_lo,
    b_hi,
    member,
    overlap,
    start,
    end,
    window,
    best,
    scale,
    reached,
    gaps,
    times,
):
    """Per entity of buckets ``b_lo..b_hi``, its counted attempt: ``reached[k]`` += 1 for each
    step it reached, and the gap to the step before (whole microseconds, time units /
    ``scale``) written to ``gaps[k - 1, e + j]`` for the j-th entity of the range (its first
    entity ``e``) reaching step k. With ``times`` of one column per entity, also the time
    of each step reached into ``times[k, g]`` (left as it is where not reached).

    Each bucket's rows (``bucket_rows[b]..bucket_rows[b + 1]``) are grouped by entity first,
    with a counting sort in a scratch buffer the size of the largest bucket.
    ``b_code``: index of the row's event name among the wanted names, sorted;
    ``member[name, k]``: the name belongs to step k; ``overlap[k, j]``: steps k and j (j < k)
    share a name; entries in ``[start, end)``; step k within ``window`` of the entry.
    """
    n_steps = member.shape[1]
    pos = np.empty(n_steps, np.int64)
    kept = np.empty(n_steps, np.int64)
    last = np.empty(n_steps, np.int64)
    size = 1 << shift
    longest = 0
    for b in range(b_lo, b_hi):
        longest = max(longest, bucket_rows[b + 1] - bucket_rows[b])
    lts = np.empty(longest, np.int64)
    lcode = np.empty(longest, np.int32)
    offsets = np.empty(size + 1, np.int64)
    fill = np.empty(size, np.int64)
    first = b_lo << shift
    keep = times.shape[1] == n_entities
    for b in range(b_lo, b_hi):
        r0, r1 = bucket_rows[b], bucket_rows[b + 1]
        if r1 == r0:
            continue
        e0 = b << shift
        m = min(e0 + size, n_entities) - e0
        offsets[: m + 1] = 0
        for i in range(r0, r1):
            offsets[b_entity[i] - e0 + 1] += 1
        for j in range(m):
            offsets[j + 1] += offsets[j]
        fill[:m] = offsets[:m]
        for i in range(r0, r1):
            j = b_entity[i] - e0
            p = fill[j]
            lts[p] = b_ts[i]
            lcode[p] = b_code[i]
            fill[j] = p + 1
        for j in range(m):
            lo, hi = offsets[j], offsets[j + 1]
            if hi == lo:
                continue
            reach = _attempt(
                lo, hi, lts, lcode, member, overlap, start, end, window, best, pos, kept, last
            )
            if reach:
                reached[0] += 1
            if keep:
                for k in range(reach):
                    times[k, e0 + j] = lts[kept[k]]
            for k in range(1, reach):
                gaps[k - 1, first + reached[k]] = (lts[kept[k]] - lts[kept[k - 1]]) // scale
                reached[k] += 1


@numba.njit(cache=True, nogil=True)
def _attempt(lo, hi, lts, lcode, member, overlap, start, end, window, best, pos, kept, last):
    """The counted attempt of the entity whose rows are ``lo..hi``: its rows in ``kept``,
    the number of steps it reached returned. Sorts the rows by (time, name code) first."""
    n_steps = member.shape[1]
    if hi - lo > 1:
        _sort_group(lts, lcode, lo, hi)
    last[:] = -1
    for i in range(lo, hi):
        for k in range(1, n_steps):
            if member[lcode[i], k]:
                last[k] = i
    reach_kept = 0
    last_entry = NONE
    for i in range(lo, hi):
        t = lts[i]
        if not member[lcode[i], 0] or t < start or t >= end:
            continue
        if reach_kept > 0 and t == last_entry:
            continue  # one attempt per distinct entry time, from its first row
        last_entry = t
        reach = _chain(i, lo, last, lts, lcode, member, overlap, window, pos)
        if reach > reach_kept:  # strictly further: ties keep the earlier entry
            reach_kept = reach
            kept[:reach] = pos[:reach]
        if not best or reach_kept == n_steps:
            break
    return reach_kept


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
