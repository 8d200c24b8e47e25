"""`Dataset`: the canonical tables of one company, validated once on the way in.

Decisions (documented for users in ``Dataset``'s docstring and ``docs/reading-data.md``):

* Only a table's required columns must be present; optional columns are validated when given.
* pandas tables are repaired where the intent is unambiguous and refused where it is not:
  text timestamps and numbers are read with one format per column, inferred from all the
  column's values (``_formats``); a column that reads two ways is an error asking for
  ``dayfirst=`` / ``decimal=``. A column where most values cannot be parsed is the wrong kind
  and an error. A few unparseable values, null ids or timestamps in required columns, and
  duplicated keys resolved with ``duplicates="first"/"last"`` make rows unusable: they are
  left out and counted in ``Dataset.dropped`` (and a warning says so).
* Consistency findings (a deal closed before it was created, ...) never drop rows: they are
  listed by ``Dataset.quality()`` and shown once as a warning.
* Other engines' frames (polars, DuckDB, PySpark, ...) are checked by schema and key
  uniqueness and kept on their engine, never collected here. The rules that change what a
  number means hold for them too, as lazy expressions decided by small aggregates
  (``_lazy_values``): closed vocabularies and ``values=``, open deals' close dates moved to
  ``expected_close_at``, and ``errors="raise"`` for null ids and timestamps.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import narwhals.stable.v2 as nw
import pandas as pd

from kpiwidgets._warnings import DataQualityWarning, DroppedRowsWarning
from kpiwidgets.datasets._options import (
    check_options,
    column_names,
    merge_values,
    preset_entry,
    resolve_renames,
)
from kpiwidgets.datasets._quality import quality_findings
from kpiwidgets.datasets._validate import Options, validate_table
from kpiwidgets.datasets.schema import TABLES

__all__ = ["Dataset"]


class Dataset:
    """The canonical tables of one company (see ``kw.TABLES`` for names and columns).

    **A number we show is right, or we say why we cannot show it**: text is read one way per
    column or refused, unusable rows are left out *and counted*, nothing is guessed silently.

    Parameters
    ----------
    columns:
        Renames from your column names to canonical ones. Either one mapping applied to every
        table (``{"Lead ID": "lead_id"}``) or one per table
        (``{"leads": {"Created": "created_at"}}``).
    dayfirst:
        How numeric dates such as ``01-02-2024`` are written. ``None`` (default) infers it per
        column from all its values: a value that reads only one way (``26-02-2018``) decides
        the column, and a column whose every value reads both ways takes the order of the
        table's other date columns. Values that contradict each other, or a table where no
        value decides, raise a ``ValueError`` naming the column and two examples. ISO dates
        (``2024-02-01``) are never ambiguous. ``True``/``False`` says it for every column;
        values written the other way are then unparseable (left out and counted).
    decimal:
        The decimal mark of numbers written as text, ``"."`` or ``","``; ``None`` (default)
        infers it per column the same way (``1.200,50`` or ``0,75`` decide a comma,
        ``1,234,567`` or ``1.5`` a point, ``1,200`` alone reads both ways). Currency symbols
        and codes, spaces and apostrophes are stripped; thousands groups must have three
        digits, so ``1,5`` is never read as 15.
    date_format:
        A strftime format for every date column (``"%d/%m/%Y %H:%M"``), or a mapping by column
        name (``{"created_at": ...}``) or by table and column (``{"leads": {"created_at":
        ...}}``). Overrides inference; values that do not match are unparseable.
    values:
        Maps a column's values onto ours, by table and column:
        ``{"opportunities": {"status": {"Closed Won": "won", "Closed Lost": "lost"}}}``. Keys
        match ignoring case and surrounding spaces, as our own values always do (``" Won"``
        is ``won``); values a mapping does not name are kept; ``None`` maps onto null. A
        value of a closed vocabulary (``status``, touch ``kind``, spend ``team``, forecast
        ``category`` and ``submitted_by``) still not ours is an error naming the table, the
        column, the values (the most frequent five) and how many. The same on every engine;
        on another engine than pandas the column must be text and its distinct values are
        collected to map them exactly (more than 10,000 is an error).
    duplicates:
        A table's key (``lead_id`` in leads, ``opportunity_id`` in opportunities,
        ``content_id`` in content) must be unique, or a row would be counted twice.
        ``"raise"`` (default): an error with the count and examples. ``"first"`` / ``"last"``
        keep one row per key (in row order) and count the others in :attr:`dropped`.
    preset:
        ``"salesforce"`` or ``"hubspot"``: map that CRM's export headers and stage values
        onto ours (``kw.PRESETS`` holds the mappings); ``columns=`` and ``values=`` apply on
        top.
    errors:
        ``"drop"`` (default): rows with a null id/timestamp in a required column, or a value
        that does not parse, are left out and counted in :attr:`dropped`. ``"raise"``: any
        such row is an error. Other engines' frames are never cut here: the metrics leave
        out the rows they cannot use and count them; ``"raise"`` makes a null id or
        timestamp in a required column an error for them too.
    **tables:
        Frames by canonical table name (``leads=df``): pandas, or any narwhals-supported
        frame (polars, pyarrow, DuckDB, PySpark, ...). Missing tables are fine; a KPI that
        needs one says so by name. Dates and numbers written as text are read for pandas
        frames only; other engines' frames must already have the right types (their values
        are mapped as ``values=`` says).

    An open deal's close date (``status == "open"`` with a ``closed_at``) is when it is
    *expected* to close: it moves to ``expected_close_at`` (a given ``expected_close_at``
    wins) and is never a closed date, on every engine.

    Attributes
    ----------
    dropped:
        ``{table: {reason: rows, ..., "rows left out": total}}`` for every row left out.
    formats:
        ``{table: {column: format}}``: the format each text column was read with
        (``"%d-%m-%Y"``, ``"ISO8601"``, ``"decimal ','"``).

    Raises
    ------
    ValueError
        One error listing every problem: unknown table names, missing required columns,
        columns of the wrong kind, ambiguous or contradicting dates and numbers, duplicated
        keys, each naming the table, the column, what was expected and what was found.

    Examples
    --------
    >>> import pandas as pd
    >>> import kpiwidgets as kw
    >>> leads = pd.DataFrame({"Lead": ["L1", "L2"], "created": ["05-01-2024", "26-02-2024"]})
    >>> ds = kw.Dataset(leads=leads, columns={"Lead": "lead_id", "created": "created_at"})
    >>> ds.leads.created_at.dt.strftime("%d %B").tolist()
    ['05 January', '26 February']
    >>> ds.formats
    {'leads': {'created_at': '%d-%m-%Y'}}
    >>> ds
    Dataset(leads: 2 rows)
    """

    def __init__(
        self,
        *,
        columns: Mapping[str, Any] | None = None,
        dayfirst: bool | None = None,
        decimal: str | None = None,
        date_format: str | Mapping[str, Any] | None = None,
        values: Mapping[str, Mapping[str, Mapping[Any, Any]]] | None = None,
        duplicates: str = "raise",
        preset: str | None = None,
        errors: str = "drop",
        **tables: Any,
    ) -> None:
        check_options(errors=errors, dayfirst=dayfirst, decimal=decimal, duplicates=duplicates)
        unknown = sorted(set(tables) - set(TABLES))
        if unknown:
            raise ValueError(
                f"Dataset: unknown table(s) {', '.join(map(repr, unknown))}; "
                f"expected some of: {', '.join(TABLES)}"
            )
        entry = preset_entry(preset)
        options = Options(
            errors=errors,
            dayfirst=dayfirst,
            decimal=decimal,
            date_format=date_format,
            values=merge_values(entry.get("values", {}), values or {}),
            duplicates=duplicates,
        )
        problems: list[str] = []
        self._tables: dict[str, Any] = {}
        self.dropped: dict[str, dict[str, int]] = {}
        self.formats: dict[str, dict[str, str]] = {}
        for name, frame in tables.items():
            if frame is None:
                continue
            names = column_names(frame)
            renames = resolve_renames(name, names, columns, entry) if names is not None else {}
            checked = validate_table(TABLES[name], frame, renames, options, problems)
            if checked is None:
                continue
            self._tables[name] = checked.frame
            if checked.dropped:
                self.dropped[name] = checked.dropped
            if checked.formats:
                self.formats[name] = checked.formats
        if problems:
            raise ValueError(
                f"Dataset: {len(problems)} problem(s) with the input tables:\n"
                + "\n".join(f"- {p}" for p in problems)
            )
        for name, counts in self.dropped.items():
            detail = ", ".join(f"{k}: {v}" for k, v in counts.items() if k != "rows left out")
            warnings.warn(
                DroppedRowsWarning(
                    f"table {name!r}: left out {counts['rows left out']} unusable row(s) "
                    f"({detail})",
                    counts,
                ),
                stacklevel=2,
            )
        self._quality: pd.DataFrame | None = None
        if all(isinstance(f, pd.DataFrame) for f in self._tables.values()):
            findings = self.quality()
            if len(findings):
                lines = [
                    f"{r.table}: {r.check}: {r.rows} row(s) (e.g. {', '.join(r.examples)})"
                    for r in findings.itertuples()
                ]
                warnings.warn(
                    DataQualityWarning(
                        "data quality: rows kept, but worth a look (ds.quality() lists them):\n"
                        + "\n".join(f"- {line}" for line in lines),
                        findings,
                    ),
                    stacklevel=2,
                )

    def quality(self) -> pd.DataFrame:
        """Consistency findings: one row per (table, check) that found rows.

        Columns ``table``, ``check``, ``rows`` (how many rows fail it) and ``examples`` (a few
        of their ids). Checks never drop rows; a metric that cannot use a row (a negative
        duration) leaves it out and says so itself. The checks: leads reaching MQL before
        they were created, SQL before MQL, a first response before creation; deals closed
        before they were created, won without a positive amount, won or lost without a close
        date; deals, touches and stage
        history entries referring to a lead or deal that is not in its table; forecast
        snapshots taken after their period ended.
        """
        if self._quality is None:
            self._quality = quality_findings(self._tables)
        return self._quality.copy()

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
        ``last`` (the range of the table's main timestamp), ``rows_left_out`` (see
        :attr:`dropped`) and ``quality_findings`` (rows flagged by :meth:`quality`).

        Computed by each table's own engine; only these aggregates are collected.
        """
        rows = []
        flagged = self.quality().groupby("table")["rows"].sum()
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
                    "quality_findings": int(flagged.get(name, 0)),
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
