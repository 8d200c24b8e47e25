"""A funnel over a Parquet folder bigger than pandas could load comfortably, with peak memory.

Writes ``<folder>/funnel_events/part-00000.parquet ...``: ``--events`` rows of
``benchmarks.data.event_log`` in parts of about ``--part-rows`` rows, generated one part at a
time (each part its own seed and its own range of entities, 5 events per entity), zstd. A
``funnel_events/_meta.json`` (``read_dataset`` skips names starting with ``_``) records what
was written; a folder that already matches it is reused.

Then, each in a fresh subprocess (so a peak is that measurement's own):

* per engine (``duckdb``, ``polars``): ``kw.read_dataset(folder, engine=E)`` then
  ``kw.funnel(ds.funnel_events, STEPS, window="30D")`` collected to pandas; the read and the
  funnel are timed apart (wall clock), and the process's peak resident memory is read at the
  end (VmHWM, which includes the interpreter and the imports, shown apart as "base");
* the reference: ``benchmarks.ref_funnel.funnel_sql(..., mode="first")`` in plain DuckDB SQL
  over ``read_parquet('<folder>/funnel_events/*.parquet')`` (its counts and medians must equal
  the funnel's: checked);
* what pandas would need: one part read with ``pd.read_parquet``, its
  ``memory_usage(deep=True)`` per row times the rows of the table (the whole table is never
  loaded into pandas), and the machine's RAM from ``/proc/meminfo``.

    .venv/bin/python -m benchmarks.bench_parquet_funnel --events 50_000_000 \\
        --folder /tmp/kw-parquet [--engine duckdb|polars|both] [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks._measure import status_kib
from benchmarks.data import STEPS

TABLE = "funnel_events"
EVENTS_PER_ENTITY = 5
WINDOW_DAYS = 30
FORMAT_VERSION = 1  # bump when the generated table changes (the folder is then rewritten)
ROOT = Path(__file__).resolve().parents[1]


def _count(text: str) -> int:
    return int(text.replace("_", ""))


# -- the Parquet folder ----------------------------------------------------------------------


def _part_sizes(events: int, part_rows: int) -> list[int]:
    parts = max(math.ceil(events / part_rows), 1)
    base, extra = divmod(events, parts)
    return [base + (i < extra) for i in range(parts)]


def _wanted_meta(events: int, part_rows: int, ids: str, seed: int) -> dict[str, Any]:
    sizes = _part_sizes(events, part_rows)
    return {
        "version": FORMAT_VERSION,
        "events": events,
        "part_rows": sizes,
        "entities": sum(max(n // EVENTS_PER_ENTITY, 1) for n in sizes),
        "ids": ids,
        "seed": seed,
    }


def _part_files(folder: Path) -> list[Path]:
    return sorted((folder / TABLE).glob("part-*.parquet"))


def _folder_ok(folder: Path, wanted: dict[str, Any]) -> bool:
    """The folder holds what ``wanted`` describes (meta and the parts' footers agree)."""
    import pyarrow.parquet as pq

    meta = folder / TABLE / "_meta.json"
    if not meta.is_file():
        return False
    try:
        if json.loads(meta.read_text()) != wanted:
            return False
    except ValueError:
        return False
    files = _part_files(folder)
    if len(files) != len(wanted["part_rows"]):
        return False
    return [pq.read_metadata(f).num_rows for f in files] == wanted["part_rows"]


def write_folder(folder: Path, events: int, part_rows: int, ids: str, seed: int) -> None:
    """Write (or keep, if it already matches) ``<folder>/funnel_events/part-*.parquet``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from benchmarks.data import event_log

    wanted = _wanted_meta(events, part_rows, ids, seed)
    if _folder_ok(folder, wanted):
        print(f"reusing {folder / TABLE} ({events:,} events, {len(wanted['part_rows'])} parts)")
        return
    table_dir = folder / TABLE
    table_dir.mkdir(parents=True, exist_ok=True)
    # The meta file is written last: an interrupted write is redone on the next run.
    (table_dir / "_meta.json").unlink(missing_ok=True)
    for old in _part_files(folder):  # only the parts this script writes
        old.unlink()
    schema = pa.schema(
        [
            ("entity_id", pa.string() if ids == "text" else pa.int64()),
            ("event", pa.string()),
            ("timestamp", pa.timestamp("us")),
        ]
    )
    offset = 0
    start = time.perf_counter()
    for i, rows in enumerate(wanted["part_rows"]):
        entities = max(rows // EVENTS_PER_ENTITY, 1)
        frame = event_log(rows, entities, seed=seed + i)
        frame["entity_id"] += offset
        if ids == "text":
            frame["entity_id"] = "e" + frame["entity_id"].astype(str).str.zfill(10)
        table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
        del frame
        pq.write_table(table, table_dir / f"part-{i:05d}.parquet", compression="zstd")
        del table
        offset += entities
        print(
            f"  wrote part {i + 1}/{len(wanted['part_rows'])} ({rows:,} rows, "
            f"{time.perf_counter() - start:.0f} s)",
            flush=True,
        )
    (table_dir / "_meta.json").write_text(json.dumps(wanted, indent=1) + "\n")


# -- measurements, each in its own process ----------------------------------------------------


def _peak_bytes() -> int:
    """The process's peak resident memory (VmHWM; ru_maxrss where /proc is missing)."""
    hwm = status_kib("VmHWM")
    return (hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _meminfo_bytes(key: str) -> int | None:
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _parquet_glob(folder: Path) -> str:
    path = str((folder / TABLE).resolve() / "*.parquet").replace("'", "''")
    return f"read_parquet('{path}')"


def _steps_of(frame: Any) -> list[list[Any]]:
    """``[step, entities, median_us]`` rows of a ``kw.funnel`` result as pandas."""
    import pandas as pd

    medians = frame["median_time_from_previous"] / pd.Timedelta(microseconds=1)
    return [
        [int(s), int(e), None if pd.isna(m) else float(m)]
        for s, e, m in zip(frame["step_number"], frame["entities"], medians, strict=True)
    ]


def _to_pandas(result: Any) -> Any:
    """A lazy result as pandas, by the engine's own method: through narwhals (Arrow), DuckDB's
    INTERVAL median arrives as ``DateOffset`` objects, ``.df()`` gives ``timedelta64``."""
    if hasattr(result, "df"):  # a DuckDB relation
        return result.df()
    if hasattr(result, "collect"):  # a polars LazyFrame
        return result.collect().to_pandas()
    import narwhals.stable.v2 as nw

    return nw.from_native(result, eager_only=True).to_pandas()


def child_engine(folder: Path, engine: str) -> dict[str, Any]:
    import kpiwidgets as kw

    __import__(engine)
    base = _peak_bytes()
    start = time.perf_counter()
    ds = kw.read_dataset(folder, engine=engine)
    read_s = time.perf_counter() - start
    peak_read = _peak_bytes()
    start = time.perf_counter()
    result = kw.funnel(ds.funnel_events, STEPS, window=f"{WINDOW_DAYS}D")
    native_type = f"{type(result).__module__}.{type(result).__qualname__}"
    out = _to_pandas(result)
    funnel_s = time.perf_counter() - start
    return {
        "read_s": read_s,
        "funnel_s": funnel_s,
        "base_bytes": base,
        "peak_read_bytes": peak_read,
        "peak_bytes": _peak_bytes(),
        "result_type": native_type,
        "steps": _steps_of(out),
    }


def child_reference(folder: Path) -> dict[str, Any]:
    import duckdb

    from benchmarks.ref_funnel import run

    base = _peak_bytes()
    start = time.perf_counter()
    rows = run(duckdb.connect(), _parquet_glob(folder), STEPS, WINDOW_DAYS, "first")
    return {
        "funnel_s": time.perf_counter() - start,
        "base_bytes": base,
        "peak_bytes": _peak_bytes(),
        "steps": [[int(s), int(e), None if m is None else float(m)] for s, e, m in rows],
    }


def child_pandas(folder: Path) -> dict[str, Any]:
    import pandas as pd
    import pyarrow.parquet as pq

    files = _part_files(folder)
    base = _peak_bytes()
    part = pd.read_parquet(files[0])
    part_bytes = int(part.memory_usage(deep=True, index=False).sum())
    rows = sum(pq.read_metadata(f).num_rows for f in files)
    # pandas < 3 (or future.infer_string off) holds text as Python objects: far bigger.
    text = [c for c, t in part.dtypes.items() if pd.api.types.is_string_dtype(t)]
    object_bytes = int(part.astype(dict.fromkeys(text, object)).memory_usage(deep=True).sum())
    return {
        "part_rows": len(part),
        "part_bytes": part_bytes,
        "dtypes": {c: str(t) for c, t in part.dtypes.items()},
        "estimate_bytes": round(part_bytes / len(part) * rows),
        "object_estimate_bytes": round(object_bytes / len(part) * rows),
        "base_bytes": base,
        "peak_bytes": _peak_bytes(),  # while reading that one part
        "ram_bytes": _meminfo_bytes("MemTotal"),
        "available_bytes": _meminfo_bytes("MemAvailable"),
        "cpus": os.cpu_count(),
    }


def _in_child(kind: str, folder: Path) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; its result is its last stdout line."""
    command = [sys.executable, "-m", "benchmarks.bench_parquet_funnel", "--folder", str(folder)]
    done = subprocess.run(
        [*command, "--child", kind], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"measurement {kind!r} failed (exit {done.returncode}):\n{done.stderr.strip()}"
        )
    if done.stderr.strip():
        print(f"  [{kind} stderr] {done.stderr.strip()}", file=sys.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- report -----------------------------------------------------------------------------------


def _mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def _same(got: list[list[Any]], want: list[list[Any]]) -> bool:
    if [r[:2] for r in got] != [r[:2] for r in want]:
        return False
    for (_, _, a), (_, _, b) in zip(got, want, strict=True):
        if (a is None) != (b is None) or (a is not None and abs(a - b) > 1.0):
            return False
    return True


def _steps_text(rows: list[list[Any]]) -> str:
    parts = []
    for step, entities, median in rows:
        hours = "" if median is None else f" ({median / 3.6e9:.1f} h)"
        parts.append(f"{STEPS[step - 1]} {entities:,}{hours}")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=_count, default=50_000_000)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/kw-parquet"))
    parser.add_argument("--engine", choices=["duckdb", "polars", "both"], default="both")
    parser.add_argument("--part-rows", type=_count, default=5_000_000)
    parser.add_argument("--ids", choices=["int", "text"], default="int", help="entity_id type")
    parser.add_argument("--runs", type=int, default=1, help="processes per engine (median time)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child == "pandas":
            out = child_pandas(args.folder)
        elif args.child == "reference":
            out = child_reference(args.folder)
        else:
            out = child_engine(args.folder, args.child)
        print(json.dumps(out))
        return

    print("$ .venv/bin/python -m benchmarks.bench_parquet_funnel " + shlex.join(sys.argv[1:]))
    write_folder(args.folder, args.events, args.part_rows, args.ids, args.seed)
    engines = ["duckdb", "polars"] if args.engine == "both" else [args.engine]
    pandas_size = _in_child("pandas", args.folder)
    reference = _in_child("reference", args.folder)
    runs: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
    for _ in range(args.runs):
        for engine in engines:  # alternating: load on a shared machine hits both alike
            runs[engine].append(_in_child(engine, args.folder))

    files = _part_files(args.folder)
    disk = sum(f.stat().st_size for f in files)
    estimate = pandas_size["estimate_bytes"]
    ram = pandas_size["ram_bytes"]
    print()
    parts = f"{len(files)} part{'s' if len(files) != 1 else ''}"
    print(
        f"funnel over a Parquet folder: {args.events:,} events in {parts} "
        f"({args.ids} entity_id), {STEPS[0]} -> {STEPS[-1]}, ordered, first entry, "
        f"window {WINDOW_DAYS}D"
    )
    print(f"  folder on disk      {_mib(disk)} (zstd)  {args.folder / TABLE}")
    dtypes = ", ".join(f"{c} {t}" for c, t in pandas_size["dtypes"].items())
    print(
        f"  pandas would need   {_gib(estimate)} = {_mib(estimate)} (memory_usage(deep=True) "
        f"of one part, {pandas_size['part_rows']:,} rows, x rows; {dtypes})"
    )
    print(
        f"  with object strings {_gib(pandas_size['object_estimate_bytes'])} (text columns as "
        "Python str objects, as pandas < 3 reads them)"
    )
    print(
        f"  reading that part   peak {_mib(pandas_size['peak_bytes'])} "
        f"(base {_mib(pandas_size['base_bytes'])})"
    )
    available = pandas_size["available_bytes"]
    if ram:
        print(
            f"  machine             {_gib(ram)} RAM ({_gib(available or 0)} available), "
            f"{pandas_size['cpus']} CPUs; the pandas size is {estimate / ram:.1%} of RAM"
        )
    print()
    header = (
        f"  {'engine':<16}{'read s':>8}{'funnel s':>10}{'peak RSS':>12}{'base':>10}{'above':>10}"
        f"{'peak/pandas':>13}"
    )
    print(header)
    table_rows = []
    for engine in engines:
        measured = runs[engine]
        read_s = statistics.median(m["read_s"] for m in measured)
        funnel_s = statistics.median(m["funnel_s"] for m in measured)
        peak = max(m["peak_bytes"] for m in measured)
        base = measured[0]["base_bytes"]
        table_rows.append((engine, f"{read_s:.2f}", f"{funnel_s:.2f}", peak, base))
    table_rows.append(
        (
            "DuckDB SQL (ref)",
            "-",
            f"{reference['funnel_s']:.2f}",
            reference["peak_bytes"],
            reference["base_bytes"],
        )
    )
    for name, read_s, funnel_s, peak, base in table_rows:
        print(
            f"  {name:<16}{read_s:>8}{funnel_s:>10}{_mib(peak):>12}{_mib(base):>10}"
            f"{_mib(peak - base):>10}"
            f"{peak / estimate:>12.2f}x"
        )
    print(
        "  (peak RSS: the process's high-water mark, VmHWM; base: after the imports; above: "
        "peak - base; peak/pandas: peak RSS / the pandas size)"
    )
    if args.runs > 1:
        print(f"  (times: median of {args.runs} processes per engine; peak: the highest)")
    print()
    print(f"  reference  {_steps_text(reference['steps'])}")
    mismatched = []
    for engine in engines:
        for measured in runs[engine]:
            if not _same(measured["steps"], reference["steps"]):
                mismatched.append((engine, measured["steps"]))
        print(f"  {engine:<10} {_steps_text(runs[engine][0]['steps'])}")
    types = ", ".join(f"{e}: {runs[e][0]['result_type']}" for e in engines)
    print(f"  (funnel result types: {types})")
    assert not mismatched, f"step counts or medians differ from the DuckDB SQL: {mismatched}"
    print("  step counts and medians equal the DuckDB SQL reference")


if __name__ == "__main__":
    main()
