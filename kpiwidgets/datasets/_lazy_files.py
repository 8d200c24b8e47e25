"""Parquet tables for ``kw.read_dataset``: a file or a folder of parts, lazy or not.

Every engine reads the same files: the Parquet files under a table's folder at any depth,
skipping names starting with ``.`` or ``_`` (``_SUCCESS``), in path order. The parts must agree
on columns and types (read from their footers): engines read mismatched parts differently (one
casts text to numbers, one fills a missing column with nulls, one refuses). Hive partition
values are text; a lazy engine reads a timestamp partition key only from ISO dates. Lazy
tables are scans renamed by a projection; the pandas path's value repairs are done with small
aggregates where the numbers depend on them (:func:`lazy_values`).
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

from kpiwidgets.datasets._validate import normalise
from kpiwidgets.datasets.schema import TABLES

__all__ = [
    "PARQUET_SUFFIXES",
    "Parts",
    "lazy_values",
    "read_parts_pandas",
    "scan_parts",
    "table_parts",
]

PARQUET_SUFFIXES = (".parquet", ".pq")
# Distinct values collected to map a column's values exactly (a vocabulary has a handful).
_MAX_DISTINCT = 10_000
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
        columns = {f.name: _type_name(f.type) for f in schema}
        if first_keys is None or first_columns is None:
            first_keys, first_columns, first = keys, columns, relative
            parts.columns = {f.name: f.type for f in schema}
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
    return table.to_pandas().reset_index(drop=True)


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
) -> nw.LazyFrame:
    """A lazy scan of the parts on ``engine``, columns renamed by a projection."""
    kinds = {k: _partition_kind(parts, k, renames.get(k, k), engine, problems) for k in parts.keys}
    files = [str(f.absolute()) for f in parts.files]
    if engine == "duckdb":
        import duckdb

        _check_zones(parts, renames, problems)
        duck = {"text": "VARCHAR", "date": "DATE", "datetime": "TIMESTAMP"}
        types = ", ".join(f"{_sql_text(k)}: '{duck[t]}'" for k, t in kinds.items())
        hive = "hive_partitioning = false"
        if kinds:
            hive = f"hive_partitioning = true, hive_types = {{{types}}}"
        native = duckdb.default_connection().sql(
            f"SELECT * FROM read_parquet($files, {hive})", params={"files": files}
        )
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
        above = {k: pl.String for k, _ in _segments(parts.path.absolute() / "part")}
        native = pl.scan_parquet(
            files,
            hive_partitioning=bool(kinds),
            hive_schema={**above, **{k: pl_types[t] for k, t in kinds.items()}} if kinds else None,
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


def lazy_values(
    table: str,
    lf: nw.LazyFrame,
    values: Mapping[str, Mapping[Any, Any]],
    errors: str,
    problems: list[str],
) -> nw.LazyFrame:
    """The pandas path's value repairs, done on the engine (see ``Dataset``):

    * ``values=`` (and preset) mappings and closed vocabularies, matched ignoring case and
      surrounding spaces: one aggregate collects the column's distinct values that are not
      ours already (a handful), Python maps them exactly as the pandas path does, and the
      mapping is applied as a lazy expression; a value still unknown is an error naming it;
    * an open deal's ``closed_at`` is when it is expected to close (``expected_close_at``);
    * ``errors="raise"``: a null id or timestamp in a required column is an error (one
      aggregate). With ``"drop"`` nothing is dropped here: the metrics leave out the rows
      they cannot use and count them.
    """
    schema = TABLES[table]
    dtypes = lf.collect_schema()
    for name in dtypes.names():
        column = schema.column(name) if name in schema.column_names else None
        vocabulary = column.values if column is not None and column.kind == "text" else None
        mapping = values.get(name)
        if vocabulary is None and not mapping:
            continue
        dtype = dtypes[name]
        if not (dtype in (nw.String, nw.Categorical) or isinstance(dtype, nw.Enum)):
            if mapping:
                problems.append(
                    f"table {table!r}, column {name!r}: values= maps text, found {dtype}"
                )
            continue  # a vocabulary column of the wrong kind: Dataset's schema check says so
        lf = _map_column(table, lf, name, dtype, mapping or {}, vocabulary, problems)
    names = dtypes.names()
    if table == "opportunities" and {"status", "closed_at"} <= set(names):
        lf = _expected_close(lf, names)
    if errors == "raise":
        required = [c.name for c in schema.columns if c.required and c.kind in ("id", "timestamp")]
        present = [c for c in required if c in names]
        if present:
            nulls = lf.select(nw.col(c).is_null().sum() for c in present).collect()
            for c in present:
                count = int(nulls[c][0])
                if count:
                    problems.append(
                        f"table {table!r}, column {c!r}: expected no nulls, found {count}"
                    )
    return lf


def _map_column(
    table: str,
    lf: nw.LazyFrame,
    name: str,
    dtype: Any,
    mapping: Mapping[Any, Any],
    vocabulary: tuple[str, ...] | None,
    problems: list[str],
) -> nw.LazyFrame:
    col = nw.col(name) if dtype == nw.String else nw.col(name).cast(nw.String)
    keep = ~col.is_null()
    if vocabulary is not None and not mapping:
        keep = keep & ~col.is_in(vocabulary)  # our own values need no mapping
    found = (lf.filter(keep).select(col.alias(name)).unique().head(_MAX_DISTINCT + 1).collect())[
        name
    ].to_list()
    where = f"table {table!r}, column {name!r}"
    if len(found) > _MAX_DISTINCT:
        problems.append(
            f"{where}: more than {_MAX_DISTINCT:,} distinct values to map; engine='pandas' "
            "maps any number"
        )
        return lf
    lookup = {normalise(k): v for k, v in mapping.items()}
    ours = {normalise(v): v for v in vocabulary or ()}
    targets: dict[str, list[str]] = {}
    unknown: list[Any] = []
    for raw in sorted(found):
        value = lookup.get(normalise(raw), raw)
        if value is not None and not isinstance(value, str):
            problems.append(f"{where}: values= maps text onto text, found {value!r}")
            return lf
        if vocabulary is not None and value is not None:
            value = ours.get(normalise(value), value)
            if value not in vocabulary:
                unknown.append(value)
                continue
        if value != raw:
            targets.setdefault(value, []).append(raw)
    if unknown:
        problems.append(
            f"{where}: expected one of {', '.join(vocabulary or ())}, found "
            f"{', '.join(map(repr, unknown[:5]))}; map your values onto ours with "
            f"values={{{table!r}: {{{name!r}: {{'yours': 'ours', ...}}}}}} (or a preset=)"
        )
        return lf
    if not targets:
        return lf
    expr = col
    for value, raws in targets.items():
        expr = nw.when(col.is_in(raws)).then(nw.lit(value, nw.String)).otherwise(expr)
    return lf.with_columns(expr.alias(name))


def _expected_close(lf: nw.LazyFrame, names: list[str]) -> nw.LazyFrame:
    """An open deal has not closed: its close date is when it is expected to close.

    As on pandas, ``expected_close_at`` is added only when some open deal has a close date
    (one probe for a single such row).
    """
    moved = (nw.col("status") == "open").fill_null(value=False) & ~nw.col("closed_at").is_null()
    if len(lf.filter(moved).select("status").head(1).collect()) == 0:
        return lf
    expected = nw.when(moved).then(nw.col("closed_at"))
    if "expected_close_at" in names:
        expected = nw.coalesce(nw.col("expected_close_at"), expected)
    return lf.with_columns(
        expected.alias("expected_close_at"),
        nw.when(~moved).then(nw.col("closed_at")).alias("closed_at"),
    )
