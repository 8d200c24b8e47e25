"""What the compiled passes share (the funnel's :mod:`._funnel_kernel`, the revenue movements'
:mod:`._revenue_kernel`): when they run, and the pandas columns they read as plain integers.

A compiled pass runs only on a large pandas frame (at least :data:`MIN_ROWS` rows: the first
call in a process loads or compiles machine code, which a small frame would not win back) and
only on columns it reads exactly; for anything else its reader returns ``None`` and the lazy
plans run, so both give one answer.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["I64_MAX", "MIN_ROWS", "NONE", "entity_codes", "run_threads", "thread_count", "times"]

MIN_ROWS = int(os.environ.get("KPIWIDGETS_KERNEL_MIN_ROWS", "500000"))
"""Smallest frame a compiled pass is used for (``KPIWIDGETS_KERNEL_MIN_ROWS``)."""

I64_MAX = np.iinfo(np.int64).max
NONE = np.iinfo(np.int64).min
"""A missing time (NaT) in the input, and "not reached" in a compiled pass's output."""


def thread_count(n_rows: int, min_rows: int) -> int:
    """Threads for a pass over ``n_rows`` rows: one below ``min_rows``, else one per core
    (up to 4)."""
    return 1 if n_rows < min_rows else max(1, min(os.cpu_count() or 1, 4))


def run_threads(calls: list[Callable[[], Any]]) -> None:
    """Run the calls (compiled without the GIL), one per thread; in this thread when alone."""
    if len(calls) == 1:
        calls[0]()
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(calls)) as pool:
        for future in [pool.submit(call) for call in calls]:
            future.result()


def times(stamps: Any) -> tuple[np.ndarray, int, str] | None:
    """A pandas datetime column as int64 microseconds x ``scale`` (``scale`` 1000 for
    nanoseconds, else 1; NaT is :data:`NONE`), with its unit: ``(values, scale, unit)``;
    ``None`` for other columns and for nanoseconds that are not whole microseconds (the plans
    compare at microsecond precision). Zoned columns give their UTC instants."""
    import pandas as pd

    dtype = stamps.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        unit = dtype.unit  # the int64 values are UTC instants already
    elif isinstance(dtype, np.dtype) and np.issubdtype(dtype, np.datetime64):
        unit = np.datetime_data(dtype)[0]
    else:
        return None
    if unit not in ("s", "ms", "us", "ns"):
        return None
    ts = stamps.array.asi8  # int64 in ``unit``; NaT is int64 min
    scale = 1000 if unit == "ns" else 1
    if unit in ("s", "ms"):
        factor = 1_000_000 if unit == "s" else 1000
        ts = np.where(ts == NONE, NONE, ts * factor)
    elif unit == "ns" and np.any((ts % 1000 != 0) & (ts != NONE)):
        return None
    return ts, scale, unit


def entity_codes(ids: Any) -> tuple[np.ndarray, int, int, Callable[[np.ndarray], Any]] | None:
    """An id column as int64 codes: ``(codes, base, n, values)``, entity ``g = code - base``
    in ``0..n-1`` (negative: a null id), ``values(g)`` the ids of entities ``g``.

    Integer ids without nulls spanning a range under four times their number are their own
    codes (no hashing); others are factorized. ``None`` for objects Arrow cannot hold (mixed
    types: the plans say what they make of them)."""
    import pandas as pd

    if ids.dtype.kind == "i" and len(ids) and not ids.hasnans:
        values = ids.to_numpy(np.int64)
        low, high = int(values.min()), int(values.max())
        if high - low < 4 * len(values):
            return values, low, high - low + 1, lambda g: (g + low).astype(ids.dtype)
    codes, uniques = pd.factorize(ids, use_na_sentinel=True)
    if uniques.dtype == object:
        import pyarrow as pa

        try:
            pa.array(uniques)  # the entities' values must go back out
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None
    return codes.astype(np.int64, copy=False), 0, len(uniques), lambda g: uniques.take(g)
