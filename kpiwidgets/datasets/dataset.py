"""`Dataset`: the canonical tables of one company, validated once on the way in.

Decisions (documented for users in ``Dataset``'s docstring):

* Only a table's required columns must be present; optional columns are validated when given.
* pandas tables are repaired where the intent is unambiguous: text timestamps and numbers are
  parsed. A column where most values cannot be parsed is the wrong kind and an error. A few
  unparseable values, and null ids or timestamps in required columns, make their rows unusable:
  those rows are left out and counted in ``Dataset.dropped`` (and a warning says so).
* Other engines' frames (polars, DuckDB, PySpark, ...) are checked by schema only and kept as
  they are: they are never collected here.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import narwhals.stable.v2 as nw
import pandas as pd

from kpiwidgets._warnings import DroppedRowsWarning
from kpiwidgets.datasets.schema import TABLES, Column, Table

__all__ = ["Dataset", "read_dataset"]

# Above this share of unparseable values a column is taken to be the wrong kind (an error),
# below it the bad values are treated as dirty rows (left out and counted).
_WRONG_KIND_SHARE = 0.5
_KIND_WORDS = {
    "id": "identifiers (text or integers)",
    "text": "text labels",
    "timestamp": "timestamps",
    "number": "numbers",
}


class Dataset:
    """The canonical tables of one company (see ``kw.TABLES`` for names and columns).

    Parameters
    ----------
    columns:
        Renames from your column names to canonical ones. Either one mapping applied to every
        table (``{"Lead ID": "lead_id"}``) or one per table
        (``{"leads": {"Created": "created_at"}}``).
    errors:
        ``"drop"`` (default): rows with a null id/timestamp in a required column, or a value
        that does not parse, are left out and counted in :attr:`dropped`. ``"raise"``: any
        such row is an error.
    **tables:
        Frames by canonical table name (``leads=df``): pandas, or any narwhals-supported
        frame (polars, pyarrow, DuckDB, PySpark, ...). Missing tables are fine; a KPI that
        needs one says so by name.

    Raises
    ------
    ValueError
        One error listing every problem: unknown table names, missing required columns, and
        columns of the wrong kind, each naming the table, the column, what was expected and
        what was found.

    Examples
    --------
    >>> import pandas as pd
    >>> import kpiwidgets as kw
    >>> leads = pd.DataFrame({"Lead": ["L1", "L2"], "created": ["2024-01-05", "2024-02-10"]})
    >>> ds = kw.Dataset(leads=leads, columns={"Lead": "lead_id", "created": "created_at"})
    >>> ds.leads.dtypes["created_at"]
    dtype('<M8[us]')
    >>> ds
    Dataset(leads: 2 rows)
    """

    def __init__(
        self,
        *,
        columns: Mapping[str, Any] | None = None,
        errors: str = "drop",
        **tables: Any,
    ) -> None:
        if errors not in ("drop", "raise"):
            raise ValueError(f"Dataset: errors must be 'drop' or 'raise', found {errors!r}")
        unknown = sorted(set(tables) - set(TABLES))
        if unknown:
            raise ValueError(
                f"Dataset: unknown table(s) {', '.join(map(repr, unknown))}; "
                f"expected some of: {', '.join(TABLES)}"
            )
        problems: list[str] = []
        self._tables: dict[str, Any] = {}
        self.dropped: dict[str, dict[str, int]] = {}
        for name, frame in tables.items():
            if frame is None:
                continue
            renames = _renames_for(name, columns)
            checked, dropped = _validate(TABLES[name], frame, renames, errors, problems)
            if checked is not None:
                self._tables[name] = checked
            if dropped:
                self.dropped[name] = dropped
        if problems:
            raise ValueError(
                f"Dataset: {len(problems)} problem(s) with the input tables:\n"
                + "\n".join(f"- {p}" for p in problems)
            )
        for name, counts in self.dropped.items():
            detail = ", ".join(f"{k}: {v}" for k, v in counts.items() if k != "rows left out")
            warnings.warn(
                f"table {name!r}: left out {counts['rows left out']} unusable row(s) ({detail})",
                DroppedRowsWarning,
                stacklevel=2,
            )

    # -- access ----------------------------------------------------------------------------
    @property
    def tables(self) -> list[str]:
        """Names of the tables present, in canonical order."""
        return [t for t in TABLES if t in self._tables]

    def __getitem__(self, name: str) -> Any:
        if name not in self._tables:
            raise KeyError(self._missing_message(name))
        return self._tables[name]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in TABLES:
            tables = self.__dict__.get("_tables", {})
            if name in tables:
                return tables[name]
            raise AttributeError(self._missing_message(name))
        raise AttributeError(f"Dataset has no attribute {name!r}")

    def __contains__(self, name: object) -> bool:
        return name in self._tables

    def __iter__(self) -> Iterator[str]:
        return iter(self.tables)

    def __len__(self) -> int:
        return len(self._tables)

    def __repr__(self) -> str:
        parts = []
        for name in self.tables:
            frame = self._tables[name]
            parts.append(f"{name}: {len(frame):,} rows" if hasattr(frame, "__len__") else name)
        return f"Dataset({', '.join(parts)})"

    def summary(self) -> pd.DataFrame:
        """One row per table: ``table``, ``rows``, ``columns``, ``time_column``, ``first``,
        ``last`` (the range of the table's main timestamp) and ``rows_left_out``.

        Computed by each table's own engine; only these aggregates are collected.
        """
        rows = []
        for name in self.tables:
            lf = nw.from_native(self._tables[name]).lazy()
            names = lf.collect_schema().names()
            candidates = sorted(
                (c for c in TABLES[name].columns if c.kind == "timestamp" and c.name in names),
                key=lambda c: not c.required,
            )
            time_column = candidates[0].name if candidates else None
            ranges = (
                [
                    nw.col(time_column).min().alias("first"),
                    nw.col(time_column).max().alias("last"),
                ]
                if time_column
                else [nw.lit(None).alias("first"), nw.lit(None).alias("last")]
            )
            stats = lf.select(nw.len().alias("rows"), *ranges).collect().to_dict(as_series=False)
            rows.append(
                {
                    "table": name,
                    "rows": int(stats["rows"][0]),
                    "columns": len(names),
                    "time_column": time_column,
                    "first": stats["first"][0],
                    "last": stats["last"][0],
                    "rows_left_out": self.dropped.get(name, {}).get("rows left out", 0),
                }
            )
        return pd.DataFrame(rows)

    def require(self, *names: str, purpose: str = "this") -> None:
        """Raise a ``KeyError`` naming every table in ``names`` that the dataset lacks."""
        missing = [n for n in names if n not in self._tables]
        if missing:
            raise KeyError(
                f"{purpose} needs the table(s) {', '.join(map(repr, missing))}; "
                f"the dataset has: {', '.join(self.tables) or 'no tables'}"
            )

    def _missing_message(self, name: str) -> str:
        known = "" if name in TABLES else f" (not a canonical table; known: {', '.join(TABLES)})"
        return (
            f"the dataset has no {name!r} table{known}; "
            f"it has: {', '.join(self.tables) or 'no tables'}"
        )


def _renames_for(table: str, columns: Mapping[str, Any] | None) -> dict[str, str]:
    if not columns:
        return {}
    if any(isinstance(v, Mapping) for v in columns.values()):
        return dict(columns.get(table, {}))
    return dict(columns)


def _validate(
    table: Table,
    frame: Any,
    renames: dict[str, str],
    errors: str,
    problems: list[str],
) -> tuple[Any, dict[str, int]]:
    try:
        nw_frame = nw.from_native(frame.to_native() if hasattr(frame, "to_native") else frame)
    except TypeError:
        problems.append(f"table {table.name!r}: expected a dataframe, found {type(frame).__name__}")
        return None, {}
    if renames:
        present = set(nw_frame.collect_schema().names())
        nw_frame = nw_frame.rename({k: v for k, v in renames.items() if k in present})
    names = nw_frame.collect_schema().names()
    missing = [c for c in table.required if c not in names]
    if missing:
        problems.append(
            f"table {table.name!r}: missing required column(s) {', '.join(map(repr, missing))}; "
            f"found columns: {', '.join(map(repr, names))}"
        )
    if isinstance(nw_frame, nw.DataFrame) and nw_frame.implementation.is_pandas():
        return _repair_pandas(table, nw_frame.to_native(), errors, problems)
    _check_schema(table, nw_frame, problems)
    return nw_frame.to_native(), {}


def _check_schema(table: Table, frame: nw.DataFrame | nw.LazyFrame, problems: list[str]) -> None:
    """Schema-only check for non-pandas engines: the dtype must already be of the right kind."""
    for name, dtype in frame.collect_schema().items():
        if name not in table.column_names:
            continue
        column = table.column(name)
        if not _dtype_fits(column.kind, dtype):
            hint = " (parse it first, e.g. with str.to_datetime)" if dtype == nw.String else ""
            problems.append(
                f"table {table.name!r}, column {name!r}: expected {_KIND_WORDS[column.kind]}, "
                f"found {dtype}{hint}"
            )


def _dtype_fits(kind: str, dtype: Any) -> bool:
    if kind == "timestamp":
        return isinstance(dtype, nw.Datetime) or dtype == nw.Date
    if kind == "number":
        return dtype.is_numeric()
    if kind == "text":
        return dtype in (nw.String, nw.Categorical, nw.Enum) or isinstance(dtype, nw.Enum)
    # ids: text or integers
    return dtype.is_integer() or dtype in (nw.String, nw.Categorical)


def _repair_pandas(
    table: Table, df: pd.DataFrame, errors: str, problems: list[str]
) -> tuple[pd.DataFrame | None, dict[str, int]]:
    df = df.copy()
    bad = pd.Series(False, index=df.index)
    dropped: dict[str, int] = {}
    for column in table.columns:
        if column.name not in df.columns:
            continue
        series = df[column.name]
        converted, unparseable, problem = _coerce(table, column, series)
        if problem:
            problems.append(problem)
            continue
        df[column.name] = converted
        if unparseable.any():
            where = f"table {table.name!r}, column {column.name!r}"
            if errors == "raise":
                examples = ", ".join(repr(v) for v in series[unparseable].unique()[:3])
                problems.append(
                    f"{where}: expected {_KIND_WORDS[column.kind]}, found "
                    f"{int(unparseable.sum())} value(s) that do not parse (e.g. {examples})"
                )
                continue
            dropped[f"unparseable {column.name}"] = int(unparseable.sum())
            bad |= unparseable
        if column.required and column.kind in ("id", "timestamp"):
            nulls = series.isna()
            if nulls.any():
                if errors == "raise":
                    problems.append(
                        f"table {table.name!r}, column {column.name!r}: expected no nulls, "
                        f"found {int(nulls.sum())}"
                    )
                    continue
                dropped[f"null {column.name}"] = int(nulls.sum())
                bad |= nulls
    if bad.any():
        dropped["rows left out"] = int(bad.sum())
        df = df.loc[~bad].reset_index(drop=True)
    return df, dropped


def _coerce(
    table: Table, column: Column, series: pd.Series
) -> tuple[pd.Series, pd.Series, str | None]:
    """Convert ``series`` to ``column``'s kind.

    Returns the converted series, a mask of values that were present but did not parse, and a
    problem message when the column as a whole is of the wrong kind.
    """
    where = f"table {table.name!r}, column {column.name!r}"
    present = series.notna()
    no_bad = pd.Series(False, index=series.index)
    kind = column.kind
    if kind == "timestamp":
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            return series, no_bad, None
        if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series):
            return series, no_bad, f"{where}: expected timestamps, found {series.dtype} values"
        parsed = _parse_timestamps(series)
    elif kind == "number":
        if pd.api.types.is_bool_dtype(series.dtype):
            return series, no_bad, f"{where}: expected numbers, found booleans"
        if pd.api.types.is_numeric_dtype(series.dtype):
            return series, no_bad, None
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            return series, no_bad, f"{where}: expected numbers, found timestamps"
        text = series.astype("string").str.replace(r"[\s,$€£]", "", regex=True)
        parsed = pd.to_numeric(text, errors="coerce")
    else:
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            return series, no_bad, f"{where}: expected {_KIND_WORDS[kind]}, found timestamps"
        if kind == "id" and pd.api.types.is_float_dtype(series.dtype):
            fractional = present & (series % 1 != 0)
            if fractional.any():
                example = series[fractional].iloc[0]
                return (
                    series,
                    no_bad,
                    f"{where}: expected identifiers (text or integers), found numbers with "
                    f"fractions (e.g. {example!r})",
                )
        if column.values is not None and kind == "text":
            unexpected = present & ~series.astype("string").str.lower().isin(column.values)
            if unexpected.any():
                found = ", ".join(repr(v) for v in series[unexpected].unique()[:5])
                return (
                    series,
                    no_bad,
                    f"{where}: expected one of {', '.join(column.values)}, found {found}",
                )
            series = series.astype("string").str.lower().astype("str")
        return series, no_bad, None

    unparseable = present & parsed.isna()
    n_present = int(present.sum())
    if n_present and unparseable.sum() > _WRONG_KIND_SHARE * n_present:
        examples = ", ".join(repr(v) for v in series[unparseable].unique()[:3])
        return (
            series,
            no_bad,
            f"{where}: expected {_KIND_WORDS[kind]}, found text that does not parse as "
            f"{_KIND_WORDS[kind]} ({int(unparseable.sum())} of {n_present} values, "
            f"e.g. {examples})",
        )
    return parsed, unparseable, None


def _parse_timestamps(series: pd.Series) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format" chatter
        try:
            return pd.to_datetime(series, errors="coerce", format="mixed")
        except (TypeError, ValueError):
            # Mixed UTC offsets: normalise to UTC rather than guessing a zone.
            return pd.to_datetime(series, errors="coerce", format="mixed", utc=True)


def read_dataset(
    path: str | os.PathLike[str],
    *,
    columns: Mapping[str, Any] | None = None,
    errors: str = "drop",
) -> Dataset:
    """Load a folder of CSV or Parquet files named after the canonical tables.

    ``leads.csv``, ``spend.parquet``, ... become the tables of a validated :class:`Dataset`;
    files with other names are ignored (the canonical names are listed in ``kw.TABLES``).
    CSV text is parsed by the dataset's validation (timestamps, numbers).

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a folder, or holds no file named after a canonical table.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "revenue.csv").write_text("account_id,month,mrr\\nA1,2024-01-01,100\\n")
    >>> read_dataset(folder).revenue.mrr.sum()
    np.int64(100)
    """
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"read_dataset: {str(folder)!r} is not a folder")
    tables: dict[str, pd.DataFrame] = {}
    for file in sorted(folder.iterdir()):
        name, suffix = file.stem, file.suffix.lower()
        if name not in TABLES or name in tables:
            continue
        if suffix == ".csv":
            # Ids stay text ("00123" must not become 123); validation parses the rest.
            id_columns = {c.name: "string" for c in TABLES[name].columns if c.kind == "id"}
            tables[name] = pd.read_csv(file, dtype=id_columns)
        elif suffix in (".parquet", ".pq"):
            tables[name] = pd.read_parquet(file)
    if not tables:
        raise FileNotFoundError(
            f"read_dataset: no table files in {str(folder)!r}; expected files such as "
            f"leads.csv or spend.parquet named after: {', '.join(TABLES)}"
        )
    return Dataset(columns=columns, errors=errors, **tables)
