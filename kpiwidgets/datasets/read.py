"""``kw.read_dataset``: a folder of export files in, a validated ``kw.Dataset`` out."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import narwhals.stable.v2 as nw
import pandas as pd

from kpiwidgets.datasets._files import file_table_name, read_header, read_table_file
from kpiwidgets.datasets._lazy_files import (
    PARQUET_SUFFIXES,
    read_parts_pandas,
    scan_parts,
    table_parts,
)
from kpiwidgets.datasets._options import (
    check_options,
    merge_values,
    preset_entry,
    resolve_renames,
)
from kpiwidgets.datasets._validate import dtype_fits
from kpiwidgets.datasets.dataset import Dataset
from kpiwidgets.datasets.schema import TABLES

__all__ = ["read_dataset"]

_FOLDER = "/"  # the "suffix" of a table that is a folder of Parquet parts
ENGINES = ("pandas", "duckdb", "polars")


def read_dataset(
    path: str | os.PathLike[str],
    *,
    engine: str = "pandas",
    columns: Mapping[str, Any] | None = None,
    dayfirst: bool | None = None,
    decimal: str | None = None,
    date_format: str | Mapping[str, Any] | None = None,
    values: Mapping[str, Mapping[str, Mapping[Any, Any]]] | None = None,
    duplicates: str = "raise",
    preset: str | None = None,
    encoding: str = "utf-8",
    errors: str = "drop",
) -> Dataset:
    """Load a folder of export files named after the canonical tables.

    ``leads.csv``, ``opportunities.xlsx``, ``spend.parquet``, ... become the tables of a
    validated :class:`Dataset` (every option is passed on to it; see there). File names match
    ignoring case (``Leads.CSV``); a preset adds its CRM's names (``deals.csv`` is the
    opportunities table with ``preset="hubspot"``).

    Formats: ``.csv`` (the delimiter, ``,`` ``;`` tab or ``|``, is sniffed from the header; a
    UTF-8 byte order mark is fine), ``.csv.gz``, ``.tsv``, ``.parquet``, ``.xlsx`` (first
    sheet; needs openpyxl) and JSON lines (``.json``, ``.jsonl``, ``.ndjson``). Canonical
    columns of text files are read as text, so ids keep leading zeros (``007``) and each date
    and number column is read with one format by the dataset's validation.

    A table may also be a **folder of Parquet parts** named after it (``funnel_events/``, or
    ``funnel_events.parquet/`` as Spark writes it): every ``*.parquet`` file under it, at any
    depth, is one part (names starting with ``.`` or ``_``, such as ``_SUCCESS``, are
    skipped); hive folders (``date=2024-01-31/``) add their key as a text column. The parts
    must have the same columns and types, or the error names the two files that differ.

    Parameters
    ----------
    engine:
        ``"pandas"`` (default): every table is read into pandas and repaired as
        :class:`Dataset` describes. ``"duckdb"``: every table is a relation on DuckDB's
        default connection over its Parquet file(s); ``"polars"``: a ``polars.LazyFrame``
        (``scan_parquet``). Lazy tables are not read into memory: the renames are a
        projection, the checks read the files' schemas (required columns, kinds of columns)
        plus a few aggregates (key uniqueness; the distinct values of closed vocabularies
        such as ``status``, mapped with ``values=``/``preset=`` as pandas maps them), and the
        metrics compute on the engine. Lazy engines read **Parquet only**: a text file is an
        error saying how to convert it, because dates and decimal marks written as text are
        read with one format per column inferred from all values (pandas only).
        ``dayfirst``, ``decimal``, ``date_format`` and ``encoding`` do not apply to typed
        Parquet columns (as with pandas); a lazy table has no row order, so duplicated keys
        can only be refused (``duplicates="raise"``); nothing is dropped while reading (the
        metrics leave out and count rows they cannot use) and ``errors="raise"`` makes a
        null id or timestamp in a required column an error. DuckDB keeps no time zone per
        column, so with ``"duckdb"`` times written in a zone other than UTC are an error
        (polars keeps the zone). See ``docs/reading-data.md``, "Lazy engines".
    encoding:
        Text encoding of CSV/TSV files (default UTF-8). A file that does not decode is
        reported by name with the byte offset of the first bad byte.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a folder, or holds no file named after a canonical table.
    ValueError
        An unknown ``engine``, two files for one table, a file that does not decode, parts
        that differ, a text file with a lazy engine, or any problem of the tables (see
        :class:`Dataset`).

    Warns
    -----
    UserWarning
        Listing the files (and folders of Parquet files) that match no table (not read).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "revenue.csv").write_text("account_id;month;mrr\\nA1;01-02-2024;1.200,50\\n")
    >>> ds = read_dataset(folder, dayfirst=True)
    >>> ds.revenue.mrr.sum(), ds.revenue.month[0].strftime("%d %b %Y")
    (np.float64(1200.5), '01 Feb 2024')

    With a lazy engine the tables stay on the engine:

    >>> (folder / "lazy").mkdir()
    >>> ds.revenue.to_parquet(folder / "lazy" / "revenue.parquet")
    >>> lazy = read_dataset(folder / "lazy", engine="duckdb")
    >>> type(lazy.revenue).__name__, lazy.revenue.aggregate("sum(mrr)").fetchall()
    ('DuckDBPyRelation', [(1200.5,)])
    """
    engine = check_engine(engine)
    check_options(errors=errors, dayfirst=dayfirst, decimal=decimal, duplicates=duplicates)
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"read_dataset: {str(folder)!r} is not a folder")
    entry = preset_entry(preset)
    found = _table_files(folder, {**{t: t for t in TABLES}, **entry.get("files", {})})
    options: dict[str, Any] = {
        "dayfirst": dayfirst,
        "decimal": decimal,
        "date_format": date_format,
        "duplicates": duplicates,
        "errors": errors,
    }
    if engine != "pandas":
        return _read_lazy(found, engine, columns, entry, values, options, encoding)
    problems: list[str] = []
    frames: dict[str, pd.DataFrame] = {}
    for table, (file, suffix) in found.items():

        def canonical_headers(headers: list[str], table: str = table) -> dict[str, str]:
            renames = resolve_renames(table, [h.strip() for h in headers], columns, entry)
            schema = TABLES[table]
            kinds = {}
            for header in headers:
                name = renames.get(header.strip(), header.strip())
                if name in schema.column_names:
                    kinds[header] = schema.column(name).kind
            return kinds

        if suffix == _FOLDER:
            parts = table_parts(table, file, problems)
            if parts is not None:
                frames[table] = read_parts_pandas(parts)
            continue
        frames[table] = read_table_file(file, suffix, canonical_headers, encoding=encoding)
    if problems:
        raise ValueError(_message(problems, "pandas", {}))
    return Dataset(columns=columns, values=values, preset=preset, **options, **frames)


def check_engine(engine: Any) -> str:
    if not isinstance(engine, str) or engine not in ENGINES:
        raise ValueError(
            f"read_dataset: engine must be one of {', '.join(map(repr, ENGINES))}, found {engine!r}"
        )
    return engine


def folder_table_name(path: Path) -> str | None:
    """The table name of a folder (``Funnel Events/`` or ``funnel_events.parquet/``)."""
    name = path.name
    if not name.lower().endswith(PARQUET_SUFFIXES):
        name += ".parquet"
    named = file_table_name(Path(name))
    return named[0] if named else None


def _table_files(folder: Path, aliases: Mapping[str, str]) -> dict[str, tuple[Path, str]]:
    """``{table: (file or folder, suffix)}`` of the folder's entries named after a table."""
    found: dict[str, tuple[Path, str]] = {}
    unmatched: list[str] = []
    for item in sorted(folder.iterdir()):
        if item.name.startswith("."):
            continue
        if item.is_dir():
            if item.name.startswith("_"):
                continue  # _temporary/ and the like, as Spark and pyarrow skip them
            name, suffix = folder_table_name(item), _FOLDER
            if aliases.get(name or "") is None:
                if any(f.name.lower().endswith(PARQUET_SUFFIXES) for f in item.rglob("*")):
                    unmatched.append(item.name + "/")
                continue
        elif item.is_file():
            named = file_table_name(item)
            name, suffix = named if named else (None, "")
        else:
            continue
        table = aliases.get(name) if name else None
        if table is None:
            unmatched.append(item.name)
            continue
        if table in found:
            raise ValueError(
                f"read_dataset: two files for the {table!r} table: {_label(found[table])} and "
                f"{_label((item, suffix))}; keep one"
            )
        found[table] = (item, suffix)
    if not found:
        raise FileNotFoundError(
            f"read_dataset: no table files in {str(folder)!r}; expected files such as "
            f"leads.csv or spend.parquet named after: {', '.join(TABLES)}"
            + (f" (found: {', '.join(unmatched)})" if unmatched else "")
        )
    if unmatched:
        warnings.warn(
            f"read_dataset: {len(unmatched)} file(s) in {folder.name!r} match no table and were "
            f"not read: {', '.join(unmatched)}; table names: {', '.join(TABLES)}",
            UserWarning,
            stacklevel=3,
        )
    return found


def _label(entry: tuple[Path, str]) -> str:
    return entry[0].name + ("/" if entry[1] == _FOLDER else "")


def _read_lazy(
    found: dict[str, tuple[Path, str]],
    engine: str,
    columns: Mapping[str, Any] | None,
    entry: Mapping[str, Any],
    values: Mapping[str, Any] | None,
    options: dict[str, Any],
    encoding: str,
) -> Dataset:
    """Lazy tables over the Parquet files, renamed here by a projection; Dataset checks them
    and applies the value rules (vocabularies, ``values=``, open deals' close dates)."""
    text = {t: f for t, f in found.items() if f[1] not in (*PARQUET_SUFFIXES, _FOLDER)}
    if text:
        raise ValueError(text_files_message(engine, text, encoding))
    mappings = merge_values(entry.get("values", {}), values or {})
    problems: list[str] = []
    frames: dict[str, Any] = {}
    for table, (file, _) in found.items():
        before = len(problems)
        parts = table_parts(table, file, problems)
        if parts is None:
            continue
        renames = resolve_renames(table, parts.headers, columns, entry)
        names = [renames.get(h, h) for h in parts.headers]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            problems.append(
                f"table {table!r}: column(s) {', '.join(map(repr, twice))} appear twice "
                "(after renaming); keep one of each"
            )
            continue
        lf = scan_parts(parts, engine, renames, problems)
        if lf is None or len(problems) > before:
            continue  # a partition key that cannot be read: Dataset would say it again
        frames[table] = lf.to_native()
    try:
        # Renamed above, so Dataset gets canonical names; the values (the preset's merged
        # with the user's) are mapped by Dataset, as for any frame of another engine.
        dataset = Dataset(values=mappings, **options, **frames)
    except ValueError as error:
        text_ = str(error)
        head = "problem(s) with the input tables:\n- "
        listed = text_.split(head, 1)[1].split("\n- ") if head in text_ else [text_]
        raise ValueError(_message([*problems, *listed], engine, frames)) from None
    if problems:
        raise ValueError(_message(problems, engine, frames))
    return dataset


def _message(problems: list[str], engine: str, frames: Mapping[str, Any]) -> str:
    text = f"read_dataset: {len(problems)} problem(s) with the tables:\n" + "\n".join(
        f"- {p}" for p in problems
    )
    wrong = [
        table
        for table, frame in frames.items()
        for name, dtype in nw.from_native(frame).collect_schema().items()
        if name in TABLES[table].column_names
        and not dtype_fits(TABLES[table].column(name).kind, dtype)
    ]
    if wrong:
        table = wrong[0]
        text += (
            f"\nengine={engine!r} takes Parquet columns with the types they were written "
            "with; a date or number stored as text is read with one format per column "
            "inferred from all its values, which only engine='pandas' does: read with "
            "engine='pandas', or write the column typed, e.g. "
            f"kw.Dataset({table}=pd.read_parquet(path)).{table}.to_parquet(new_path)"
        )
    return text


def text_files_message(
    engine: str, found: Mapping[str, tuple[Path, str]], encoding: str = "utf-8"
) -> str:
    """Why a lazy engine refuses text files, and how to read them (names every file)."""
    table, (file, suffix) = next(iter(found.items()))
    if suffix == ".xlsx":
        reader = f"pd.read_excel({str(file)!r}, dtype=str)"
    elif suffix in (".json", ".jsonl", ".ndjson"):
        reader = f"pd.read_json({str(file)!r}, lines=True, dtype=False)"
    else:
        try:
            delimiter = read_header(file, encoding, suffix)[1]
        except (ValueError, OSError):
            delimiter = ","
        extra = "" if encoding.replace("_", "-").lower() == "utf-8" else f", encoding={encoding!r}"
        reader = f"pd.read_csv({str(file)!r}, dtype=str, sep={delimiter!r}{extra})"
    out = file.with_name(f"{table}.parquet")
    names = ", ".join(f.name for f, _ in found.values())
    return (
        f"read_dataset: engine={engine!r} reads Parquet files only, found {names}: dates and "
        "numbers written as text are read with one format per column inferred from all its "
        "values (01-02-2024 is 1 February or 2 January, 1,200 is 1.2 or 1200), which only "
        "engine='pandas' does. Read the folder with engine='pandas', or convert each text "
        f"file to Parquet once with our rules (plus your columns=, dayfirst=, ... options), "
        f"e.g.\n    kw.Dataset({table}={reader}).{table}.to_parquet({str(out)!r})\n"
        "and move the text file out of the folder"
    )
