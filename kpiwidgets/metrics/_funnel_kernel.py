"""A compiled single pass for large in-memory ordered funnels (``order="ordered"``).

The lazy plans (:mod:`._funnel_steps`) join and aggregate once per step in DuckDB. For a large
pandas event log without a breakdown, :func:`funnel_counts` instead groups the
step rows by entity with a counting sort and walks each entity's few rows once, compiled
with numba. The semantics are the plans' own (docs/funnels.md), rule by rule:

* entries are step-1 rows in ``[start, end)``; ``attempts="first"`` takes the earliest,
  ``"best"`` one attempt per distinct step-1 time;
* step k is the earliest row named by step k at or after step k-1 (ties included) and at most
  entry + window, that is not a row an earlier step sharing a name with step k used;
* among rows at one instant, the alphabetically first event name comes first (the plans'
  row index is ordered by entity, timestamp, event);
* ``"best"``: the attempt reaching the furthest step wins; ties go to the earliest entry.

It is used only when it pays: numba must be importable and the log must have at least
:data:`MIN_ROWS` rows (the first call in a process compiles or loads the cached machine code,
which a small log would not win back). Anything it does not handle returns ``None`` and the
caller runs the plans: other orders, breakdowns, timestamps with sub-microsecond parts,
event or entity columns it cannot read as codes.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import numpy as np

from kpiwidgets.metrics._frames import Prepared
from kpiwidgets.metrics._funnel_plan import FunnelSpec, name_check, scan

__all__ = ["MIN_ROWS", "funnel_counts"]

MIN_ROWS = int(os.environ.get("KPIWIDGETS_KERNEL_MIN_ROWS", "500000"))
"""Smallest event log the compiled pass is used for (``KPIWIDGETS_KERNEL_MIN_ROWS``)."""

THREAD_MIN_ROWS = 1_000_000
"""Smallest log whose passes are shared out between threads (one per core, up to 4)."""

_I64_MAX = np.iinfo(np.int64).max
_NONE = np.iinfo(np.int64).min
"""A missing time (NaT) in the input, and "step not reached" in the compiled pass's output."""


def funnel_counts(
    native: Any, prep: Prepared, spec: FunnelSpec
) -> tuple[np.ndarray, np.ndarray] | None:
    """Entities reaching each step and the median microseconds from the previous step.

    ``native`` is the caller's pandas frame, ``prep, spec`` its :func:`._funnel_plan.plan`.
    Does :func:`._funnel_plan.scan`'s part itself (null rows counted and left out, step names
    checked) from the columns it reads. Returns ``(counts, medians)`` (``medians[0]`` is
    NaN), or ``None`` before scanning anything when the plans must run.
    """
    if spec.order != "ordered" or spec.by or len(native) < MIN_ROWS:
        return None
    kernel = _kernel()
    if kernel is None:
        return None
    read = _columns(native, spec)
    if read is None:
        return None
    entity, n_entities, names, ts, scale = read
    wanted = sorted({n for step in spec.steps for n in step})
    codes = _name_codes(names, wanted)
    if codes is None:
        return None
    nulls = {
        spec.entity: entity < 0,
        spec.event: names.isna().to_numpy(bool),
        spec.timestamp: ts == _NONE,
    }
    per_column = {c: int(np.count_nonzero(v)) for c, v in nulls.items()}
    total = (
        int(np.count_nonzero(np.logical_or.reduce(list(nulls.values()))))
        if any(per_column.values())
        else 0
    )
    found = np.bincount(codes + 1, minlength=len(wanted) + 1)[1:]
    present = {name_check(n): bool(found[i]) for i, n in enumerate(wanted)}
    present["events"] = len(native) - per_column[spec.event]
    scan(prep, spec, counted=(per_column, total, present))
    member = np.zeros((len(wanted), spec.n_steps), dtype=np.bool_)
    for k, step in enumerate(spec.steps):
        for name in step:
            member[wanted.index(name), k] = True
    overlap = np.zeros((spec.n_steps, spec.n_steps), dtype=np.bool_)
    for k in range(2, spec.n_steps + 1):
        for j in spec.overlaps(k):
            overlap[k - 1, j - 1] = True
    window = min(spec.window // dt.timedelta(microseconds=1) * scale, _I64_MAX)
    bounds = (_bound(spec.start, scale, _NONE), _bound(spec.end, scale, _I64_MAX), window)
    times = _step_times(kernel, entity, n_entities, codes, ts, member, overlap, bounds, spec)
    return _summarise(times, scale)


def _step_times(
    jit: Any,
    entity: np.ndarray,
    n_entities: int,
    codes: np.ndarray,
    ts: np.ndarray,
    member: np.ndarray,
    overlap: np.ndarray,
    bounds: tuple[int, int, int],
    spec: FunnelSpec,
) -> np.ndarray:
    """Step times ``[k, entity]`` (``_NONE`` where not reached), on up to 4 threads.

    A counting sort by entity (each thread counts and places its share of the rows), then
    each thread walks its share of the entities.
    """
    from concurrent.futures import ThreadPoolExecutor
    from functools import partial
    from itertools import pairwise

    n = len(entity)
    threads = _threads(n)
    cuts = np.linspace(0, n, threads + 1).astype(np.int64)
    counts = [np.zeros(n_entities + 1, np.int64) for _ in range(threads)]
    with ThreadPoolExecutor(threads) as pool:

        def run_all(calls: list[Any]) -> None:
            for future in [pool.submit(call) for call in calls]:
                future.result()

        shares = list(pairwise(cuts))
        run_all(
            [
                partial(jit.count_rows, entity, codes, ts, lo, hi, part)
                for (lo, hi), part in zip(shares, counts, strict=True)
            ]
        )
        offsets = np.zeros(n_entities + 1, np.int64)
        np.cumsum(np.sum([c[1:] for c in counts], axis=0), out=offsets[1:])
        # Each thread's first slot per entity: after the rows of the threads before it.
        fills, before = [], offsets[:-1].copy()
        for part in counts:
            fills.append(before.copy())
            before += part[1:]
        group_ts = np.empty(offsets[-1], np.int64)
        group_code = np.empty(offsets[-1], np.int32)
        run_all(
            [
                partial(jit.place_rows, entity, codes, ts, lo, hi, fill, group_ts, group_code)
                for (lo, hi), fill in zip(shares, fills, strict=True)
            ]
        )
        del fills, counts, before
        out = np.full((spec.n_steps, n_entities), _NONE, np.int64)
        # Entity ranges holding about equal numbers of rows.
        g_cuts = np.searchsorted(offsets, np.linspace(0, offsets[-1], threads + 1)).astype(np.int64)
        g_cuts[0], g_cuts[-1] = 0, n_entities
        start, end, window = bounds
        best = spec.attempts == "best"
        run_all(
            [
                partial(
                    jit.walk,
                    *(offsets, group_ts, group_code, member, overlap),
                    *(start, end, window, best, lo, hi, out),
                )
                for lo, hi in pairwise(g_cuts)
            ]
        )
    return out


def _summarise(times: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts and median gaps (microseconds) from the per-entity step times."""
    n_steps = times.shape[0]
    counts = np.zeros(n_steps, dtype=np.int64)
    medians = np.full(n_steps, np.nan)
    counts[0] = int(np.count_nonzero(times[0] != _NONE))
    for k in range(1, n_steps):
        reached = times[k] != _NONE
        counts[k] = int(np.count_nonzero(reached))
        if counts[k]:
            gaps = (times[k][reached] - times[k - 1][reached]) // scale
            medians[k] = float(np.median(gaps))
    return counts, medians


def _bound(value: Any, scale: int, missing: int) -> int:
    """A start/end bound (naive, UTC for zoned data) as integer microseconds x ``scale``."""
    if value is None:
        return missing
    micros = int(np.datetime64(value.replace(tzinfo=None), "us").astype(np.int64))
    return max(min(micros * scale, _I64_MAX), _NONE + 1)


def _columns(native: Any, spec: FunnelSpec) -> tuple[Any, int, Any, np.ndarray, int] | None:
    """Entity codes, their count, the event column, timestamps as int64 and their units per
    microsecond; ``None`` for columns the kernel does not read."""
    import pandas as pd

    if not isinstance(native, pd.DataFrame):
        return None
    stamps = native[spec.timestamp]
    dtype = stamps.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        unit = dtype.unit  # the int64 values are UTC instants already
    elif np.issubdtype(dtype, np.datetime64):
        unit = np.datetime_data(dtype)[0]
    else:
        return None
    if unit not in ("s", "ms", "us", "ns"):
        return None
    ts = stamps.array.asi8  # int64 in ``unit``; UTC instants when zoned; NaT is int64 min
    scale = 1000 if unit == "ns" else 1
    if unit in ("s", "ms"):
        factor = 1_000_000 if unit == "s" else 1000
        ts = np.where(ts == _NONE, _NONE, ts * factor)
    elif unit == "ns" and np.any((ts % 1000 != 0) & (ts != _NONE)):
        return None  # sub-microsecond times: the plans compare at microsecond precision

    ids = native[spec.entity]
    if ids.dtype.kind == "i" and len(ids) and not ids.hasnans:
        values = ids.to_numpy(np.int64)
        low, high = int(values.min()), int(values.max())
        if high - low < 4 * len(values):
            return values - low, high - low + 1, native[spec.event], ts, scale
    codes, uniques = pd.factorize(ids, use_na_sentinel=True)
    return codes.astype(np.int64), len(uniques), native[spec.event], ts, scale


def _name_codes(names: Any, wanted: list[str]) -> np.ndarray | None:
    """Per row the index of its event name in ``wanted`` (sorted), or -1 (another name or
    null); ``None`` for an event column of numbers (the plans compare them as text)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = names.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        categories = _name_codes(pd.Series(dtype.categories.astype(str)), wanted)
        if categories is None:
            return None
        lookup = np.append(categories, -1)  # code -1 (null) maps to -1
        return lookup[names.cat.codes.to_numpy()].astype(np.int32)
    if dtype.kind not in "OSU" and not isinstance(dtype, pd.StringDtype):
        return None
    try:
        values = pa.array(names, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None  # mixed objects
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        return None
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    jit = _kernel()
    if jit is None or not all(_plain_strings(c) for c in chunks):
        found = pc.index_in(values, value_set=pa.array(wanted, type=values.type))
        return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int32)
    encoded = [name.encode() for name in wanted]
    wanted_offsets = np.cumsum([0] + [len(b) for b in encoded]).astype(np.int64)
    wanted_data = np.frombuffer(b"".join(encoded) or b"\0", dtype=np.uint8)
    out = np.empty(len(values), dtype=np.int32)
    jobs, at = [], 0
    for chunk in chunks:
        valid, offsets, data = chunk.buffers()
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        offsets_np = np.frombuffer(offsets, dtype=width)
        data_np = np.frombuffer(data, dtype=np.uint8) if data is not None else wanted_data[:0]
        valid_np = (
            np.frombuffer(valid, dtype=np.uint8)
            if valid is not None and chunk.null_count
            else wanted_data[:0]
        )
        # Long chunks are cut in pieces so that threads share the work.
        for lo in range(0, len(chunk), 2_500_000):
            hi = min(lo + 2_500_000, len(chunk))
            jobs.append((offsets_np, data_np, valid_np, chunk.offset + lo, at + lo, at + hi))
        at += len(chunk)
    from concurrent.futures import ThreadPoolExecutor

    def run(job: tuple[Any, ...]) -> None:
        offs, dat, val, base, lo, hi = job
        jit.match_names(offs, dat, val, base, wanted_offsets, wanted_data, out[lo:hi])

    with ThreadPoolExecutor(_threads(len(values))) as pool:
        list(pool.map(run, jobs))
    return out


def _plain_strings(chunk: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)


def _threads(n_rows: int) -> int:
    """Threads for a pass over ``n_rows`` rows (see :data:`THREAD_MIN_ROWS`)."""
    return 1 if n_rows < THREAD_MIN_ROWS else max(1, min(os.cpu_count() or 1, 4))


_COMPILED: list[Any] = []


def _kernel() -> Any:
    """The compiled pass (numba, cached on disk), or ``None`` without numba."""
    if _COMPILED:
        return _COMPILED[0]
    try:
        from kpiwidgets.metrics import _funnel_jit as jit
    except ImportError:
        jit = None
    _COMPILED.append(jit)
    return jit
