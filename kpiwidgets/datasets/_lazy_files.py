"""Parquet tables for ``kw.read_dataset``: a file or a folder of parts, lazy or not.

Every engine reads the same files: the Parquet files under a table's folder at any depth,
skipping names starting with ``.`` or ``_`` (``_SUCCESS``), in path order. The parts must agree
on columns and types (read from their footers): engines read mismatched parts differently (one
casts text to numbers, one fills a missing column with nulls, one refuses). Hive partition
values are text; a lazy engine reads a timestamp partition key only from ISO dates. Lazy
tables are scans renamed by a projection; ``kw.Dataset`` checks and repairs them as any other
engine's frames (``_lazy_values``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import narwhals.stable.v2 as nw
import pandas as pd

from kpiwidgets.datasets._files import PANDAS_ROW_NUMBERS, index_as_columns
from kpiwidgets.datasets.schema import TABLES

__all__ = [
    "PARQUET_SUFFIXES",
    "Parts",
    "read_parts_pandas",
    "scan_parts",
    "table_parts",
]

PARQUET_SUFFIXES = (".parquet", ".pq")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?")
_SAME_TYPES = {"large_string": "string", "string_view": "string", "large_binary": "binary"}


@dataclass
class Parts:
    """The Parquet files of one table and what their footers and paths say."""

    table: str
    path: Path  # the file or folder found
    files: list[Path]
    columns: dict[str, Any]  # file column -> pyarrow type, from the first part's footer
    keys: list[str] = field(default_factory=list)  # hive partition keys, outermost first
    values: dict[str, set[str | None]] = field(default_factory=dict)  # key -> decoded values

    @property
    def headers(self) -> list[str]:
        return [*self.columns, *self.keys]


def _hidden(name: str) -> bool:
    return name.startswith((".", "_"))


def _segments(relative: Path) -> list[tuple[str, str | None]]:
    """The hive ``key=value`` folders of a part's path (``__HIVE_DEFAULT_PARTITION__`` is null)."""
    found = []
    for segment in relative.parts[:-1]:
        key, equals, value = segment.partition("=")
        if equals:
            decoded = unquote(value)
            found.append((key, None if decoded == "__HIVE_DEFAULT_PARTITION__" else decoded))
    return found


def _type_name(pa_type: Any) -> str:
    """A column type as compared between parts: storage details (string offsets, dictionary
    index width) do not count."""
    if hasattr(pa_type, "index_type"):  # a dictionary: its values are the column's type
        return f"dictionary<{_type_name(pa_type.value_type)}>"
    text = str(pa_type)
    return _SAME_TYPES.get(text, text)


def table_parts(table: str, path: Path, problems: list[str]) -> Parts | None:
    """List and check the parts of one table (a problem is added and None returned if bad)."""
    import pyarrow.parquet as pq

    where = f"table {table!r} ({path.name}{'/' if path.is_dir() else ''})"
    if path.is_file():
        files = [path]
    else:
        files, other = [], []
        for file in sorted(path.rglob("*")):
            relative = file.relative_to(path)
            if any(_hidden(p) for p in relative.parts) or not file.is_file():
                continue
            (files if file.name.lower().endswith(PARQUET_SUFFIXES) else other).append(file)
        if other:
            shown = ", ".join(str(f.relative_to(path)) for f in other[:3])
            problems.append(
                f"{where}: a table folder holds Parquet parts only, found {len(other)} other "
                f"file(s) ({shown}); convert them to Parquet or move them out of the folder"
            )
            return None
        if not files:
            problems.append(f"{where}: the folder holds no Parquet files (*.parquet, *.pq)")
            return None
    parts = Parts(table, path, files, {})
    first_keys: list[str] | None = None
    first_columns: dict[str, str] | None = None
    for file in files:
        relative = file.relative_to(path) if path.is_dir() else Path(file.name)
        segments = _segments(relative)
        keys = [k for k, _ in segments]
        try:
            schema = pq.read_schema(file)
        except Exception as error:  # pyarrow raises several types for a damaged footer
            problems.append(f"{where}: {relative} is not a readable Parquet file ({error})")
            return None
        fields = [f for f in schema if not PANDAS_ROW_NUMBERS.fullmatch(f.name)]
        columns = {f.name: _type_name(f.type) for f in fields}
        if first_keys is None or first_columns is None:
            first_keys, first_columns, first = keys, columns, relative
            parts.columns = {f.name: f.type for f in fields}
            parts.keys = keys
        elif keys != first_keys:
            problems.append(
                f"{where}: every part must sit under the same partition folders, but {first} "
                f"is under {'/'.join(first_keys) or 'none'} and {relative} under "
                f"{'/'.join(keys) or 'none'}; write the parts with one layout"
            )
            return None
        elif columns != first_columns:
            difference = _schema_difference(first, first_columns, relative, columns)
            problems.append(f"{where}: {difference}")
            return None
        for key, value in segments:
            parts.values.setdefault(key, set()).add(value)
    clash = sorted(set(parts.keys) & set(parts.columns))
    if clash or len(set(parts.keys)) < len(parts.keys):
        problems.append(
            f"{where}: partition key(s) {', '.join(map(repr, clash or parts.keys))} also "
            "name a column of the files (or a folder level twice); keep each name once"
        )
        return None
    return parts


def _schema_difference(a: Path, a_columns: dict, b: Path, b_columns: dict) -> str:
    missing = [c for c in a_columns if c not in b_columns]
    extra = [c for c in b_columns if c not in a_columns]
    fix = (
        "; engines read mismatched parts differently, so write every part with the same "
        "columns and types (e.g. cast the column the same way before writing each part)"
    )
    if missing or extra:
        column, here, there = (missing[0], a, b) if missing else (extra[0], b, a)
        return f"the parts differ: column {column!r} is in {here} but not in {there}{fix}"
    column = next(c for c in a_columns if a_columns[c] != b_columns[c])
    return (
        f"the parts differ: column {column!r} is {a_columns[column]} in {a} but "
        f"{b_columns[column]} in {b}{fix}"
    )


def read_parts_pandas(parts: Parts) -> pd.DataFrame:
    """The pandas engine's reading of a folder table: pyarrow over the same files."""
    import pyarrow as pa
    import pyarrow.dataset as pds

    partitioning = None
    if parts.keys:
        text = pa.schema([(k, pa.string()) for k in parts.keys])
        partitioning = pds.partitioning(text, flavor="hive")
    dataset = pds.dataset(
        [str(f) for f in parts.files],
        format="parquet",
        partitioning=partitioning,
        partition_base_dir=str(parts.path),
    )
    table = dataset.to_table(columns=parts.headers)
    return index_as_columns(table.to_pandas(), parts.headers)


def _partition_kind(parts: Parts, key: str, column: str, engine: str, problems: list[str]) -> str:
    """``"text"``, ``"date"`` or ``"datetime"``: how a lazy engine reads a partition key."""
    schema = TABLES[parts.table]
    kind = schema.column(column).kind if column in schema.column_names else "text"
    if kind in ("id", "text"):
        return "text"
    values = sorted(v for v in parts.values.get(key, ()) if v is not None)
    where = f"table {parts.table!r}, column {column!r} (partition folders {key}=...)"
    fix = (
        f"partition values are text, and engine={engine!r} reads no format from them: read "
        "with engine='pandas' (text read with one format per column), or write the column "
        "into the Parquet files"
    )
    if kind == "number":
        problems.append(f"{where}: expected numbers, found text ({values[:1]}); {fix}")
        return "text"
    if all(_ISO_DATE.fullmatch(v) and _valid(v, dt.date) for v in values):
        return "date"
    bad = [v for v in values if not (_ISO_DATETIME.fullmatch(v) and _valid(v, dt.datetime))]
    if bad:
        problems.append(
            f"{where}: expected ISO dates (2024-01-31 or 2024-01-31 10:30:00), found "
            f"{', '.join(map(repr, bad[:3]))}; {fix}"
        )
        return "text"
    return "datetime"


def _valid(value: str, kind: type) -> bool:
    try:
        kind.fromisoformat(value)
    except ValueError:
        return False
    return True


def scan_parts(
    parts: Parts, engine: str, renames: Mapping[str, str], problems: list[str]
) -> nw.LazyFrame | None:
    """A lazy scan of the parts on ``engine``, columns renamed by a projection (None, and a
    problem added, when the engine cannot read the parts right)."""
    kinds = {k: _partition_kind(parts, k, renames.get(k, k), engine, problems) for k in parts.keys}
    files = [str(f.absolute()) for f in parts.files]
    # The engines read the key=value folders of the whole path, also those above the table's
    # folder: one named like a column would replace the files' values with the folder's.
    above = dict(_segments(parts.path.absolute() / "part")) if kinds else {}
    clash = [k for k in above if k in parts.headers]
    if clash:
        key = clash[0]
        problems.append(
            f"table {parts.table!r}, column {renames.get(key, key)!r}: the folder "
            f"{key}={above[key]}/ above the table's folder names the same column, and "
            f"engine={engine!r} would read {above[key]!r} from it for every row instead of the "
            "table's own values; move the export out of that folder (or rename the folder), "
            "or read with engine='pandas'"
        )
        return None
    if engine == "duckdb":
        import duckdb

        _check_zones(parts, renames, problems)
        duck = {"text": "VARCHAR", "date": "DATE", "datetime": "TIMESTAMP"}
        types = ", ".join(f"{_sql_text(k)}: '{duck[t]}'" for k, t in kinds.items())
        hive = "hive_partitioning = false"
        if kinds:
            hive = f"hive_partitioning = true, hive_types = {{{types}}}"
        # The file list as literals, not a $parameter: DuckDB cannot join two relations that
        # bind the same parameter name (two tables of one dataset would).
        listed = ", ".join(_sql_text(f) for f in files)
        native = duckdb.default_connection().sql(f"SELECT * FROM read_parquet([{listed}], {hive})")
    else:
        try:
            import polars as pl
        except ImportError:
            raise ImportError(
                "read_dataset: engine='polars' needs polars: pip install polars "
                "(or kpiwidgets[polars])"
            ) from None
        pl_types = {"text": pl.String, "date": pl.Date, "datetime": pl.Datetime("us")}
        # polars wants every key=value folder of the paths in the schema, also those above
        # the table's folder (dropped by the projection below).
        outer = dict.fromkeys(above, pl.String)
        native = pl.scan_parquet(
            files,
            hive_partitioning=bool(kinds),
            hive_schema={**outer, **{k: pl_types[t] for k, t in kinds.items()}} if kinds else None,
        )
    # Engines add the key=value folders above the table folder too: keep the table's own.
    return nw.from_native(native).select(
        [nw.col(h).alias(renames.get(h, h)) for h in parts.headers]
    )


def _check_zones(parts: Parts, renames: Mapping[str, str], problems: list[str]) -> None:
    """DuckDB keeps no zone per column: times written in Europe/Berlin would be computed as
    UTC instants (a month starting at UTC midnight), so only UTC and naive times are read."""
    for name, pa_type in parts.columns.items():
        zone = getattr(pa_type, "tz", None)
        if zone not in (None, "UTC", "Etc/UTC", "+00:00", "Z"):
            problems.append(
                f"table {parts.table!r}, column {renames.get(name, name)!r}: expected times "
                f"in UTC or without a zone with engine='duckdb', found times in {zone}: DuckDB "
                "reads them as UTC instants and keeps no zone, so days, weeks and months would "
                "start at UTC midnight; read with engine='polars' or engine='pandas' (both "
                "keep the zone), or write the column in UTC"
            )


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
