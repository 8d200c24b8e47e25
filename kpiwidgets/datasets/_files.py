"""Reading the files of an export folder: one file per canonical table.

Formats: ``.csv`` (delimiter sniffed from the header: ``,`` ``;`` tab or ``|``; a UTF-8 byte
order mark is accepted), ``.csv.gz``, ``.tsv``, ``.parquet``, ``.xlsx`` (first sheet, with
openpyxl) and JSON lines (``.json``, ``.jsonl``, ``.ndjson``). Canonical columns of text
files are read as text, whatever they look like, so that ``Dataset`` reads each with one
format (dates, decimal marks) and ids keep their leading zeros.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

__all__ = [
    "PANDAS_ROW_NUMBERS",
    "file_table_name",
    "index_as_columns",
    "read_header",
    "read_table_file",
]

_TEXT_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz")
_SUFFIXES = (*_TEXT_SUFFIXES, ".parquet", ".pq", ".xlsx", ".json", ".jsonl", ".ndjson")
_DELIMITERS = (",", ";", "\t", "|")
# The column pandas writes an unnamed index to (row labels, not data): no engine reads it.
PANDAS_ROW_NUMBERS = re.compile(r"__index_level_\d+__")


def file_table_name(path: Path) -> tuple[str, str] | None:
    """``(name, suffix)`` of a data file (``Leads.csv.gz`` -> ``("leads", ".csv.gz")``)."""
    lower = path.name.lower()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if lower.endswith(suffix) and len(lower) > len(suffix):
            stem = path.name[: -len(suffix)].strip().lower().replace(" ", "_").replace("-", "_")
            return stem, suffix
    return None


def _open_text(path: Path, encoding: str) -> io.TextIOBase:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    return io.TextIOWrapper(opener(path, "rb"), encoding=encoding, newline="")


def _decode_error(path: Path, encoding: str) -> ValueError | None:
    """Find where ``path`` stops being valid ``encoding``: a message with the byte offset."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as f:
        while chunk := f.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                where = offset + error.start
                bad = chunk[error.start : error.start + 4]
                return ValueError(
                    f"read_dataset: {path.name} is not valid {encoding} text: byte {bad[:1]!r} "
                    f"at offset {where:,} ({bad!r}...) does not decode; export the file as "
                    "UTF-8, or pass encoding= with the file's encoding (e.g. 'cp1252' or "
                    "'latin-1' for Excel on Windows)"
                )
            offset += len(chunk)
    return None


def read_header(path: Path, encoding: str, suffix: str) -> tuple[list[str], str]:
    """The header names of a CSV/TSV file and its delimiter (sniffed from the header line)."""
    try:
        with _open_text(path, encoding) as f:
            first = f.readline()
    except UnicodeDecodeError:
        raise _decode_error(path, encoding) from None
    first = first.lstrip("\ufeff")
    if suffix.startswith(".tsv"):
        delimiter = "\t"
    else:
        # The delimiter is the candidate the header line holds most of (outside quotes).
        unquoted = "".join(part for i, part in enumerate(first.split('"')) if i % 2 == 0)
        delimiter = max(_DELIMITERS, key=unquoted.count)
    names = next(csv.reader([first.rstrip("\r\n")], delimiter=delimiter, skipinitialspace=True), [])
    return names, delimiter


def read_table_file(
    path: Path,
    suffix: str,
    canonical_headers: Callable[[list[str]], dict[str, str]],
    *,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read one file; ``canonical_headers(headers)`` says which headers are canonical columns
    and of which kind ("id", "text", "timestamp", "number")."""
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return index_as_columns(pd.read_parquet(path), pq.read_schema(path).names)
    if suffix in (".json", ".jsonl", ".ndjson"):
        frame = pd.read_json(path, lines=True, dtype=False)
        return _ids_as_text(frame, canonical_headers(list(frame.columns)))
    if suffix == ".xlsx":
        headers = list(pd.read_excel(path, nrows=0, engine="openpyxl").columns)
        kinds = canonical_headers([str(h) for h in headers])
        ids = {h: str for h, kind in kinds.items() if kind == "id"}
        return pd.read_excel(path, engine="openpyxl", dtype=ids)
    headers, delimiter = read_header(path, encoding, suffix)
    kinds = canonical_headers(headers)
    try:
        frame = pd.read_csv(
            path,
            sep=delimiter,
            encoding="utf-8-sig" if encoding.replace("_", "-").lower() == "utf-8" else encoding,
            dtype=dict.fromkeys(kinds, "str"),
            skipinitialspace=True,
        )
    except UnicodeDecodeError:
        raise _decode_error(path, encoding) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def index_as_columns(frame: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """A Parquet file's pandas index as the other engines read it: a named index is a column
    of the file (``df.set_index("lead_id").to_parquet(...)``), an unnamed one is row labels
    (dropped). Columns come in the file's ``order``."""
    named = [n for n in frame.index.names if n is not None]
    if named:
        frame = frame.reset_index(level=named)
    frame = frame.reset_index(drop=True)
    return frame[[c for c in order if c in frame.columns]]


def _ids_as_text(frame: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    for header, kind in kinds.items():
        if kind == "id" and header in frame.columns:
            present = frame[header].notna()
            frame[header] = frame[header].astype(object).where(~present, frame[header].astype(str))
    return frame
