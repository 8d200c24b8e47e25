"""``kw.read_dataset``: a folder of export files in, a validated ``kw.Dataset`` out."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from kpiwidgets.datasets._files import file_table_name, read_table_file
from kpiwidgets.datasets._options import preset_entry, resolve_renames
from kpiwidgets.datasets.dataset import Dataset
from kpiwidgets.datasets.schema import TABLES

__all__ = ["read_dataset"]


def read_dataset(
    path: str | os.PathLike[str],
    *,
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

    Parameters
    ----------
    encoding:
        Text encoding of CSV/TSV files (default UTF-8). A file that does not decode is
        reported by name with the byte offset of the first bad byte.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a folder, or holds no file named after a canonical table.
    ValueError
        Two files for one table, a file that does not decode, or any problem of the tables
        (see :class:`Dataset`).

    Warns
    -----
    UserWarning
        Listing the files that match no table (they are not read).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "revenue.csv").write_text("account_id;month;mrr\\nA1;01-02-2024;1.200,50\\n")
    >>> ds = read_dataset(folder, dayfirst=True)
    >>> ds.revenue.mrr.sum(), ds.revenue.month[0].strftime("%d %b %Y")
    (np.float64(1200.5), '01 Feb 2024')
    """
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"read_dataset: {str(folder)!r} is not a folder")
    entry = preset_entry(preset)
    aliases = {**{t: t for t in TABLES}, **entry.get("files", {})}
    found: dict[str, tuple[Path, str]] = {}
    unmatched: list[str] = []
    for file in sorted(folder.iterdir()):
        if file.name.startswith(".") or not file.is_file():
            continue
        named = file_table_name(file)
        table = aliases.get(named[0]) if named else None
        if table is None:
            unmatched.append(file.name)
            continue
        if table in found:
            raise ValueError(
                f"read_dataset: two files for the {table!r} table: {found[table][0].name} and "
                f"{file.name}; keep one"
            )
        found[table] = (file, named[1])
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
            stacklevel=2,
        )
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

        frames[table] = read_table_file(file, suffix, canonical_headers, encoding=encoding)
    return Dataset(
        columns=columns,
        dayfirst=dayfirst,
        decimal=decimal,
        date_format=date_format,
        values=values,
        duplicates=duplicates,
        preset=preset,
        errors=errors,
        **frames,
    )
