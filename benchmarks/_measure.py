"""Timing and peak memory for the benchmark suite (``python -m benchmarks``).

Times are wall-clock medians of runs that alternate between our function and its reference
(load on a shared machine then hits both alike). Peak memory is the resident-set high-water
mark during one call above the resident size just before it, measured in a fresh process per
case (after generating its input): Linux resets the mark when ``5`` is written to
``/proc/self/clear_refs``, so native allocations (DuckDB, polars, Arrow) are included. Where
that file cannot be written the column says ``n/a``.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Timing", "compare", "peak_memory", "status_kib"]


def status_kib(key: str) -> int | None:
    """A ``/proc/self/status`` figure in KiB (``VmRSS``, ``VmHWM``); None where unknown."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _release_freed_memory() -> None:
    """Hand memory freed by Python and numpy back to the system (glibc keeps it otherwise,
    and a call reusing it would look as if it needed none)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def peak_memory(fn: Callable[[], Any]) -> tuple[Any, int | None]:
    """``(fn(), bytes)``: the call's result and its peak resident memory above the start.

    Exact in a fresh process (what ``python -m benchmarks`` does for the memory column);
    in a process that already ran big queries, memory freed by earlier calls and kept by an
    allocator (DuckDB's among them) is reused, so a later call may show too little.
    """
    gc.collect()
    _release_freed_memory()
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return fn(), None
    before = status_kib("VmRSS")
    result = fn()
    peak = status_kib("VmHWM")
    if before is None or peak is None:
        return result, None
    return result, max(peak - before, 0) * 1024


@dataclass
class Timing:
    """Seconds of each run and the peak memory of the first (bytes, ``None``: unknown)."""

    seconds: list[float] = field(default_factory=list)
    peak_bytes: int | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def compare(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, Timing]:
    """Run each function ``repeat`` times, alternating; one more call each for the memory.

    The first call of each (imports, caches, DuckDB's pandas scanner warmed) is not timed: it
    is the memory measurement.
    """
    timings = {name: Timing() for name in fns}
    for name, fn in fns.items():
        _, timings[name].peak_bytes = peak_memory(fn)
    for _ in range(repeat):
        for name, fn in fns.items():
            gc.collect()
            start = time.perf_counter()
            fn()
            timings[name].seconds.append(time.perf_counter() - start)
    return timings
