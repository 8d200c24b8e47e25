"""A compiled single pass for large in-memory ordered funnels (``order="ordered"``).

The lazy plans (:mod:`._funnel_steps`) join and aggregate once per step in DuckDB. For a large
pandas event log without a breakdown, :func:`funnel_counts` (and :func:`entity_times`, for
``funnel_entities`` and ``funnel_trend``) instead groups the step rows by entity — a counting
sort into buckets of consecutive entities, then one by entity within each bucket — and walks
each entity's few rows once, compiled with numba. The semantics are the plans' own
(docs/funnels.md), rule by rule:

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
from typing import Any

import narwhals.stable.v2 as nw
import numpy as np

from kpiwidgets.metrics._compiled import (
    I64_MAX,
    MIN_ROWS,
    NONE,
    entity_codes,
    run_threads,
    thread_count,
    times,
)
from kpiwidgets.metrics._frames import Prepared, _connection
from kpiwidgets.metrics._funnel_plan import FURTHEST, FunnelSpec, name_check, scan, step_time

__all__ = ["MIN_ROWS", "entity_times", "funnel_counts"]


THREAD_MIN_ROWS = 1_000_000
"""Smallest log whose passes are shared out between threads (one per core, up to 4)."""

_I64_MAX, _NONE = I64_MAX, NONE  # NONE: a missing time (NaT), and "step not reached"


def funnel_counts(
    native: Any, prep: Prepared, spec: FunnelSpec
) -> tuple[np.ndarray, np.ndarray] | None:
    """Entities reaching each step and the median microseconds from the previous step.

    ``native`` is the caller's pandas frame, ``prep, spec`` its :func:`._funnel_plan.plan`.
    Does :func:`._funnel_plan.scan`'s part itself (null rows counted and left out, step names
    checked) from the columns it reads. Returns ``(counts, medians)`` (``medians[0]`` is
    NaN), or ``None`` before scanning anything when the plans must run.
    """
    done = _run(native, prep, spec, keep_times=False)
    return None if done is None else done[:2]


def entity_times(native: Any, prep: Prepared, spec: FunnelSpec) -> Any:
    """The per-entity frame of :func:`funnel_entities` and :func:`funnel_trend` (the entity, its
    furthest step and each step's time, as the plans' ``apply_window`` gives it), or
    ``None`` when the plans must run (as :func:`funnel_counts`)."""
    import pyarrow as pa

    done = _run(native, prep, spec, keep_times=True)
    if done is None:
        return None
    _, _, times, ids, dtype, scale = done
    entered = np.flatnonzero(times[0] != _NONE)
    reached = times[:, entered] != _NONE
    # The pass's times are microseconds x scale; the plans' columns are in ``dtype``'s unit.
    unit = dtype.time_unit
    ticks = {"s": 1, "ms": 1000, "us": 1_000_000, "ns": 1_000_000_000}[unit]
    columns = {spec.entity: ids(entered), FURTHEST: reached.sum(axis=0).astype(np.int64)}
    kind = pa.timestamp(unit, tz=dtype.time_zone)
    for k in range(spec.n_steps):
        values = times[k, entered]
        if ticks == 1_000_000_000:
            values = values * (1000 // scale)
        else:
            values = values // (scale * (1_000_000 // ticks))
        columns[step_time(k + 1)] = pa.array(values, kind, mask=~reached[k])
    # On DuckDB's default connection, where the plans' frames are: later steps (a trend's
    # periods, a zone's wall times) join and aggregate it as they would the plans' frame.
    return nw.from_native(_connection().from_arrow(pa.table(columns)))


def _run(native: Any, prep: Prepared, spec: FunnelSpec, *, keep_times: bool) -> Any:
    """:func:`funnel_counts` and :func:`entity_times`: ``(counts, medians, times, ids,
    timestamp dtype, scale)`` (``times``: ``[step, entity]`` in microseconds x ``scale``,
    ``ids(g)``: the entities' values, ``dtype``: the plans' timestamp type)."""
    if spec.order != "ordered" or spec.by or len(native) < MIN_ROWS:
        return None
    kernel = _kernel()
    if kernel is None:
        return None
    read = _columns(native, spec)
    if read is None:
        return None
    entity, base, n_entities, names, ts, scale, ids = read
    wanted = sorted({n for step in spec.steps for n in step})
    codes = _name_codes(names, wanted)
    if codes is None:
        return None
    nulls = {
        spec.entity: entity < 0 if base == 0 else None,  # integer ids are never null
        spec.event: names.isna().to_numpy(bool),
        spec.timestamp: ts == _NONE,
    }
    per_column = {c: 0 if v is None else int(np.count_nonzero(v)) for c, v in nulls.items()}
    total = (
        int(np.count_nonzero(np.logical_or.reduce([v for v in nulls.values() if v is not None])))
        if any(per_column.values())
        else 0
    )
    del nulls
    passes = _Passes(entity, base, n_entities, codes, ts)
    found = passes.count(len(wanted))
    present = {name_check(n): bool(found[i]) for i, n in enumerate(wanted)}
    present["events"] = len(native) - per_column[spec.event]
    dtype = scan(prep, spec, counted=(per_column, total, present)).collect_schema()[spec.timestamp]
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
    times = np.full((spec.n_steps, n_entities) if keep_times else (0, 0), _NONE, np.int64)
    counts, medians = _step_times(passes, member, overlap, bounds, scale, spec, times)
    return counts, medians, times, ids, dtype, scale


class _Passes:
    """The compiled passes over one log, shared out between threads (up to 4, one per core).

    The rows are grouped by entity in two levels: :meth:`count` counts the usable rows per
    bucket of ``2**shift`` consecutive entities (and the rows of each step name);
    :func:`_step_times` copies the rows to their bucket, then each thread takes a range of
    buckets, groups each bucket's rows by entity and walks its entities.
    """

    def __init__(
        self, entity: np.ndarray, base: int, n_entities: int, codes: np.ndarray, ts: np.ndarray
    ) -> None:
        from itertools import pairwise

        self.jit = _kernel()
        self.entity, self.base, self.n_entities, self.codes, self.ts = (
            entity,
            base,
            n_entities,
            codes,
            ts,
        )
        self.threads = _threads(len(entity))
        cuts = np.linspace(0, len(entity), self.threads + 1).astype(np.int64)
        self.shares = list(pairwise(cuts))
        self.shift = _shift(n_entities, len(entity))
        self.n_buckets = ((n_entities - 1) >> self.shift) + 1 if n_entities else 1
        self.counts: list[np.ndarray] = []

    def run(self, calls: list[Any]) -> None:
        """Run the calls, one per thread (in this thread when there is one)."""
        run_threads(calls)

    def count(self, n_names: int) -> np.ndarray:
        """Rows per step name (every row naming it); keeps each share's rows per bucket."""
        from functools import partial

        self.counts = [np.zeros(self.n_buckets, np.int64) for _ in self.shares]
        names = [np.zeros(max(n_names, 1), np.int64) for _ in self.shares]
        args = (self.entity, self.base, self.codes, self.ts)
        self.run(
            [
                partial(self.jit.count_rows, *args, lo, hi, self.shift, part, found)
                for (lo, hi), part, found in zip(self.shares, self.counts, names, strict=True)
            ]
        )
        return np.sum(names, axis=0)[:n_names]


def _shift(n_entities: int, n_rows: int) -> int:
    """Entities per bucket, as a power of two: about 16,000 rows a bucket (a bucket's rows
    and counts then fit in a core's cache), and at most 2,048 buckets."""
    bits = max(n_entities - 1, 1).bit_length()
    rows_per_entity = max(n_rows, 1) / max(n_entities, 1)
    wanted = int(np.ceil(np.log2(max(16_384 / rows_per_entity, 1))))
    return max(0, min(bits, max(bits - 11, wanted)))


def _step_times(
    passes: _Passes,
    member: np.ndarray,
    overlap: np.ndarray,
    bounds: tuple[int, int, int],
    scale: int,
    spec: FunnelSpec,
    times: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Counts per step and median gaps (microseconds) of the log :meth:`_Passes.count` counted,
    and each step's time per entity into ``times`` when it has a column per entity.

    Each thread copies its share of the rows to their bucket's slots (after the slots of the
    threads before it), then each walks a range of buckets holding about equal numbers of
    rows, counting the steps reached and writing the gaps in its own part of one array.
    """
    from functools import partial
    from itertools import pairwise

    jit, counts = passes.jit, passes.counts
    bucket_rows = np.zeros(passes.n_buckets + 1, np.int64)
    np.cumsum(np.sum(counts, axis=0), out=bucket_rows[1:])
    fills, before = [], bucket_rows[:-1].copy()
    for part in counts:
        fills.append(before.copy())
        before += part
    passes.counts = []
    n = int(bucket_rows[-1])
    b_entity = np.empty(n, np.int32 if passes.n_entities < 2**31 else np.int64)
    b_ts = np.empty(n, np.int64)
    b_code = np.empty(n, np.int32)
    args = (passes.entity, passes.base, passes.codes, passes.ts)
    passes.run(
        [
            partial(jit.place_rows, *args, lo, hi, passes.shift, fill, b_entity, b_ts, b_code)
            for (lo, hi), fill in zip(passes.shares, fills, strict=True)
        ]
    )
    threads = len(passes.shares)
    cuts = np.searchsorted(bucket_rows, np.linspace(0, n, threads + 1)).astype(np.int64)
    cuts[0], cuts[-1] = 0, passes.n_buckets
    ranges = list(pairwise(np.maximum.accumulate(cuts)))
    reached = np.zeros((len(ranges), spec.n_steps), np.int64)
    # Untouched pages of an empty array cost nothing: each range writes only its gaps.
    gaps = np.empty((max(spec.n_steps - 1, 1), passes.n_entities), np.int64)
    start, end, window = bounds
    best = spec.attempts == "best"
    rows = (bucket_rows, b_entity, b_ts, b_code, passes.shift, passes.n_entities)
    passes.run(
        [
            partial(
                jit.walk,
                *(*rows, lo, hi, member, overlap),
                *(start, end, window, best, scale, reached[r], gaps, times),
            )
            for r, (lo, hi) in enumerate(ranges)
        ]
    )
    medians = np.full(spec.n_steps, np.nan)
    for k in range(1, spec.n_steps):
        first = [min(lo << passes.shift, passes.n_entities) for lo, _ in ranges]
        parts = [gaps[k - 1, f : f + reached[r, k]] for r, f in enumerate(first)]
        if sum(len(p) for p in parts):
            medians[k] = float(np.median(np.concatenate(parts)))
    return reached.sum(axis=0), medians


def _bound(value: Any, scale: int, missing: int) -> int:
    """A start/end bound (naive, UTC for zoned data) as integer microseconds x ``scale``."""
    if value is None:
        return missing
    micros = int(np.datetime64(value.replace(tzinfo=None), "us").astype(np.int64))
    return max(min(micros * scale, _I64_MAX), _NONE + 1)


def _columns(native: Any, spec: FunnelSpec) -> tuple[Any, ...] | None:
    """Entity codes (entity ``g`` is ``code - base``; negative: null), ``base``, the number of
    entities, the event column, timestamps as int64, their units per microsecond, and a
    function from entities ``g`` to their values; ``None`` for columns the kernel does not
    read (:func:`._compiled.times`, :func:`._compiled.entity_codes`)."""
    import pandas as pd

    if not isinstance(native, pd.DataFrame):
        return None
    read = times(native[spec.timestamp])
    ids = None if read is None else entity_codes(native[spec.entity])
    if read is None or ids is None:
        return None
    ts, scale, _ = read
    entity, base, n_entities, values = ids
    return entity, base, n_entities, native[spec.event], ts, scale, values


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
    return thread_count(n_rows, THREAD_MIN_ROWS)


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
