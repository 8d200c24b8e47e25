"""Validating and repairing one table on its way into a ``Dataset``.

pandas tables are repaired where the intent is unambiguous and otherwise refused: text
timestamps and numbers are read with one format per column (``_formats``), values are mapped
onto our vocabulary, rows that cannot be used are left out and counted, duplicated keys are
refused or resolved as asked. Other engines' frames are checked by schema (and key
uniqueness, one aggregate) and kept on their engine, never collected here: the value rules
(vocabularies, ``values=``, open deals' close dates) are applied to them as lazy expressions
(``_lazy_values``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd

from kpiwidgets.datasets._formats import AmbiguousDates, parse_dates, parse_numbers
from kpiwidgets.datasets._lazy_values import normalise, repair_values, unknown_values_message
from kpiwidgets.datasets.schema import Column, Table

__all__ = ["Checked", "Options", "dtype_fits", "validate_table"]

# Above this share of unparseable values a column is taken to be the wrong kind (an error),
# below it the bad values are treated as dirty rows (left out and counted).
_WRONG_KIND_SHARE = 0.5
_KIND_WORDS = {
    "id": "identifiers (text or integers)",
    "text": "text labels",
    "timestamp": "timestamps",
    "number": "numbers",
}
_EXAMPLES = 3


@dataclass(frozen=True)
class Options:
    """How text is read; see ``kw.Dataset`` for each option."""

    errors: str = "drop"
    dayfirst: bool | None = None
    decimal: str | None = None
    date_format: str | Mapping[str, Any] | None = None
    values: Mapping[str, Mapping[str, Mapping[Any, Any]]] = field(default_factory=dict)
    duplicates: str = "raise"

    def date_format_for(self, table: str, column: str) -> str | None:
        fmt = self.date_format
        if fmt is None or isinstance(fmt, str):
            return fmt
        per_table = fmt.get(table)
        if isinstance(per_table, Mapping):
            return per_table.get(column)
        found = fmt.get(column)
        return found if isinstance(found, str) else None


@dataclass
class Checked:
    """A validated table and what was done to it."""

    frame: Any
    dropped: dict[str, int] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)  # column -> format used to read it


def validate_table(
    table: Table, frame: Any, renames: Mapping[str, str], options: Options, problems: list[str]
) -> Checked | None:
    try:
        nw_frame = nw.from_native(frame.to_native() if hasattr(frame, "to_native") else frame)
    except TypeError:
        problems.append(f"table {table.name!r}: expected a dataframe, found {type(frame).__name__}")
        return None
    if renames:
        present = set(nw_frame.collect_schema().names())
        nw_frame = nw_frame.rename({k: v for k, v in renames.items() if k in present})
    names = nw_frame.collect_schema().names()
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        problems.append(
            f"table {table.name!r}: column(s) {', '.join(map(repr, duplicated))} appear twice "
            "(after renaming); keep one of each"
        )
        return None
    missing = [c for c in table.required if c not in names]
    if missing:
        problems.append(
            f"table {table.name!r}: missing required column(s) {', '.join(map(repr, missing))}; "
            f"found columns: {', '.join(map(repr, names))}"
        )
    if isinstance(nw_frame, nw.DataFrame) and nw_frame.implementation.is_pandas():
        return _Repair(table, nw_frame.to_native(), options, problems).run()
    _check_schema(table, nw_frame, problems)
    values = options.values.get(table.name, {})
    nw_frame = repair_values(table, nw_frame, values, options.errors, problems)
    return _check_key_lazily(table, nw_frame, options, problems)


def _check_schema(table: Table, frame: nw.DataFrame | nw.LazyFrame, problems: list[str]) -> None:
    """Schema-only check for non-pandas engines: the dtype must already be of the right kind."""
    for name, dtype in frame.collect_schema().items():
        if name not in table.column_names:
            continue
        column = table.column(name)
        if not dtype_fits(column.kind, dtype):
            hint = " (parse it first, e.g. with str.to_datetime)" if dtype == nw.String else ""
            problems.append(
                f"table {table.name!r}, column {name!r}: expected {_KIND_WORDS[column.kind]}, "
                f"found {dtype}{hint}"
            )


def dtype_fits(kind: str, dtype: Any) -> bool:
    """Whether a column of ``dtype`` (narwhals) holds values of our ``kind`` as they are."""
    if kind == "timestamp":
        return isinstance(dtype, nw.Datetime) or dtype == nw.Date
    if kind == "number":
        return dtype.is_numeric()
    if kind == "text":
        return dtype in (nw.String, nw.Categorical, nw.Enum) or isinstance(dtype, nw.Enum)
    # ids: text or integers
    return dtype.is_integer() or dtype in (nw.String, nw.Categorical)


def _duplicates_message(table: Table, count: int, examples: list[str]) -> str:
    return (
        f"table {table.name!r}, column {table.key!r}: expected one row per {table.key}, found "
        f"{count} duplicated row(s) (e.g. {', '.join(map(repr, examples))}); a duplicated "
        "row would be counted twice: pass duplicates='first' or duplicates='last' to keep "
        "one of each (the others are left out and counted), or remove them"
    )


def _check_key_lazily(
    table: Table, frame: nw.DataFrame | nw.LazyFrame, options: Options, problems: list[str]
) -> Checked:
    checked = Checked(frame.to_native())
    key = table.key
    if key is None or key not in frame.collect_schema().names():
        return checked
    counts = (
        frame.lazy()
        .group_by(key)
        .agg(nw.len().alias("n"))
        .filter(nw.col("n") > 1)
        .select(nw.col(key), nw.col("n"))
        .collect()
    )
    if len(counts) == 0:
        return checked
    extra = int(counts["n"].sum()) - len(counts)
    examples = [str(v) for v in counts[key].to_list()[:_EXAMPLES]]
    if options.duplicates == "raise" or isinstance(frame, nw.LazyFrame):
        message = _duplicates_message(table, extra, examples)
        if options.duplicates != "raise":
            message += " (a lazy frame has no row order to keep the first or last by)"
        problems.append(message)
        return checked
    kept = frame.unique(subset=[key], keep=options.duplicates, maintain_order=True)
    checked.frame = kept.to_native()
    checked.dropped = {f"duplicate {key}": extra, "rows left out": extra}
    return checked


class _Repair:
    """pandas repairs of one table (see the module docstring)."""

    def __init__(self, table: Table, df: pd.DataFrame, options: Options, problems: list[str]):
        self.table, self.options, self.problems = table, options, problems
        self.df = df.copy(deep=False)
        self.bad = pd.Series(False, index=df.index)
        self.checked = Checked(None)

    def where(self, column: str) -> str:
        return f"table {self.table.name!r}, column {column!r}"

    def run(self) -> Checked | None:
        df, table = self.df, self.table
        for name, mapping in self.options.values.get(table.name, {}).items():
            if name in df.columns:
                df[name] = _map_values(df[name], mapping)
        ambiguous: list[tuple[Column, AmbiguousDates]] = []
        decided: dict[str, bool] = {}
        for column in table.columns:
            if column.name not in df.columns:
                continue
            try:
                self.coerce(column, decided)
            except AmbiguousDates as error:
                ambiguous.append((column, error))
        orders = set(decided.values())
        for column, error in ambiguous:
            if len(orders) == 1:
                # The table's other date columns are written one way: same file, same habit.
                self.coerce(column, decided, dayfirst=orders.pop())
                orders = set(decided.values())
            else:
                self.problems.append(str(error))
        self.drop_nulls()
        if self.bad.any():
            self.checked.dropped["rows left out"] = int(self.bad.sum())
            df = df.loc[~self.bad].reset_index(drop=True)
        if table.name == "opportunities":
            df = self.expected_close(df)
        df = self.resolve_duplicates(df)
        self.checked.frame = df
        return self.checked

    def unusable(self, reason: str, mask: pd.Series, column: str, raw: pd.Series) -> None:
        if not mask.any():
            return
        if self.options.errors == "raise":
            examples = ", ".join(repr(v) for v in raw[mask].unique()[:_EXAMPLES])
            self.problems.append(
                f"{self.where(column)}: expected {_KIND_WORDS[self.table.column(column).kind]}"
                f", found {int(mask.sum())} value(s) that do not parse (e.g. {examples})"
            )
            return
        self.checked.dropped[reason] = int(mask.sum())
        self.bad |= mask

    def coerce(self, column: Column, decided: dict[str, bool], dayfirst=None) -> None:
        series = self.df[column.name]
        where = self.where(column.name)
        kind = column.kind
        if kind == "timestamp":
            if pd.api.types.is_datetime64_any_dtype(series.dtype):
                return
            if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series):
                self.problems.append(f"{where}: expected timestamps, found {series.dtype} values")
                return
            parsed = parse_dates(
                series,
                where,
                dayfirst=self.options.dayfirst if dayfirst is None else dayfirst,
                date_format=self.options.date_format_for(self.table.name, column.name),
            )
            if parsed.dayfirst is not None:
                decided[column.name] = parsed.dayfirst
            values, unparseable = parsed.values, parsed.unparseable
            self.checked.formats[column.name] = parsed.format
        elif kind == "number":
            if pd.api.types.is_bool_dtype(series.dtype):
                self.problems.append(f"{where}: expected numbers, found booleans")
                return
            if pd.api.types.is_numeric_dtype(series.dtype):
                return
            if pd.api.types.is_datetime64_any_dtype(series.dtype):
                self.problems.append(f"{where}: expected numbers, found timestamps")
                return
            try:
                values, unparseable, mark = parse_numbers(
                    series, where, decimal=self.options.decimal
                )
            except ValueError as error:
                self.problems.append(str(error))
                return
            self.checked.formats[column.name] = f"decimal {mark!r}"
        else:
            self.coerce_label(column, series)
            return
        present = int(series.notna().sum())
        n_bad = int(unparseable.sum())
        if present and n_bad > _WRONG_KIND_SHARE * present:
            examples = ", ".join(repr(v) for v in series[unparseable].unique()[:_EXAMPLES])
            self.problems.append(
                f"{where}: expected {_KIND_WORDS[kind]}, found text that does not parse as "
                f"{_KIND_WORDS[kind]} ({n_bad} of {present} values, e.g. {examples})"
            )
            return
        self.df[column.name] = values
        self.unusable(f"unparseable {column.name}", unparseable, column.name, series)

    def coerce_label(self, column: Column, series: pd.Series) -> None:
        where, kind = self.where(column.name), column.kind
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            self.problems.append(f"{where}: expected {_KIND_WORDS[kind]}, found timestamps")
            return
        present = series.notna()
        if kind == "id" and pd.api.types.is_float_dtype(series.dtype):
            fractional = present & (series % 1 != 0)
            if fractional.any():
                self.problems.append(
                    f"{where}: expected identifiers (text or integers), found numbers with "
                    f"fractions (e.g. {series[fractional].iloc[0]!r})"
                )
            return
        if column.values is None or kind != "text":
            return
        normalised = _map_values(series, {v: v for v in column.values})
        unexpected = present & ~normalised.isin(column.values)
        if unexpected.any():
            rows = series[unexpected].value_counts(sort=False).to_dict()
            self.problems.append(
                unknown_values_message(self.table.name, column.name, column.values, rows)
            )
            return
        self.df[column.name] = normalised

    def drop_nulls(self) -> None:
        for column in self.table.columns:
            if column.name not in self.df.columns or not column.required:
                continue
            if column.kind not in ("id", "timestamp"):
                continue
            nulls = self.df[column.name].isna() & ~self.bad
            if not nulls.any():
                continue
            if self.options.errors == "raise":
                self.problems.append(
                    f"{self.where(column.name)}: expected no nulls, found {int(nulls.sum())}"
                )
                continue
            self.checked.dropped[f"null {column.name}"] = int(nulls.sum())
            self.bad |= nulls

    def expected_close(self, df: pd.DataFrame) -> pd.DataFrame:
        """An open deal has not closed: a close date on it is when it is expected to close.

        Not a finding: CRMs export every open deal with its expected "Close Date".
        """
        if "closed_at" not in df.columns or "status" not in df.columns:
            return df
        moved = (df["status"] == "open") & df["closed_at"].notna()
        if not moved.any():
            return df
        expected = df["closed_at"].where(moved)
        if "expected_close_at" in df.columns:
            expected = df["expected_close_at"].where(df["expected_close_at"].notna(), expected)
        df["expected_close_at"] = expected
        df["closed_at"] = df["closed_at"].mask(moved)
        return df

    def resolve_duplicates(self, df: pd.DataFrame) -> pd.DataFrame:
        key = self.table.key
        if key is None or key not in df.columns:
            return df
        repeated = df[key].duplicated(keep=False) & df[key].notna()
        if not repeated.any():
            return df
        policy = self.options.duplicates
        extra = int(repeated.sum() - df.loc[repeated, key].nunique())
        examples = df.loc[repeated, key].astype(str).unique()[:_EXAMPLES].tolist()
        if policy == "raise":
            self.problems.append(_duplicates_message(self.table, extra, examples))
            return df
        keep = ~df[key].duplicated(keep=policy) | df[key].isna()
        self.checked.dropped[f"duplicate {key}"] = extra
        self.checked.dropped["rows left out"] = self.checked.dropped.get("rows left out", 0) + extra
        return df.loc[keep].reset_index(drop=True)


def _map_values(series: pd.Series, mapping: Mapping[Any, Any]) -> pd.Series:
    """Map ``series`` through ``mapping``, comparing case- and space-insensitively.

    Values the mapping does not name are kept as they are (the vocabulary check reports them).
    """
    lookup = {normalise(k): v for k, v in mapping.items()}
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = np.array([lookup.get(normalise(u), u) for u in uniques], dtype=object)
    out = pd.Series(
        mapped[np.where(codes >= 0, codes, 0)] if len(mapped) else np.full(len(series), None),
        index=series.index,
        dtype=object,
    )
    out[codes < 0] = None
    if all(isinstance(v, str) for v in mapped):
        return out.astype("str")
    return out
