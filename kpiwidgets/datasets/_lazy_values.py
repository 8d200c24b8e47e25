"""The pandas path's value rules, applied on any other engine (polars, DuckDB, PySpark, ...).

``kw.Dataset`` reads and repairs pandas tables itself (``_validate``); a frame of another
engine is kept on its engine, and the rules that change what a number means are applied to it
as lazy expressions, with a few small aggregates to decide them:

* closed vocabularies (``status``, touch ``kind``, ...) and ``values=`` mappings (a preset's
  too): one aggregate collects the column's distinct values (with their row counts), Python
  maps them exactly as the pandas path does (:func:`normalise`: case and surrounding spaces
  never matter), and the mapping is applied as an expression; a value still not ours is an
  error naming it (:func:`unknown_values_message`);
* an open deal's ``closed_at`` is when it is expected to close: it moves to
  ``expected_close_at`` (one probe for a single such row);
* ``errors="raise"``: a null id or timestamp in a required column is an error (one
  aggregate). With ``"drop"`` nothing is dropped here: the metrics leave out the rows they
  cannot use and count them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.datasets.schema import Table

__all__ = ["MAX_DISTINCT", "normalise", "repair_values", "unknown_values_message"]

# Distinct values collected to map a column exactly (a vocabulary has a handful); past it the
# column is not mapped and the error says why.
MAX_DISTINCT = 10_000
_SHOWN = 5  # unknown values named in an error


def normalise(value: Any) -> str:
    """How values are compared with a vocabulary: case and surrounding spaces never matter.

    >>> normalise("  Closed WON "), normalise("won") == normalise(" WON")
    ('closed won', True)
    """
    return str(value).strip().casefold()


def unknown_values_message(
    table: str, column: str, vocabulary: tuple[str, ...], rows: Mapping[Any, int]
) -> str:
    """The error for values outside a closed vocabulary, ``rows`` counting each one's rows.

    The most frequent values are named first (ties in text order), five at most.

    >>> print(unknown_values_message("opportunities", "status", ("open", "won", "lost"),
    ...                              {"maybe": 1, "Closed Won": 2}))
    table 'opportunities', column 'status': expected one of open, won, lost, found 'Closed Won', 'maybe' (2 unknown values in 3 rows); map your values onto ours with values={'opportunities': {'status': {'yours': 'ours', ...}}} (or a preset=)
    """  # noqa: E501
    ranked = sorted(rows, key=lambda v: (-rows[v], str(v)))
    shown = ", ".join(map(repr, ranked[:_SHOWN])) + (", ..." if len(ranked) > _SHOWN else "")
    total = sum(rows.values())
    return (
        f"table {table!r}, column {column!r}: expected one of {', '.join(vocabulary)}, found "
        f"{shown} ({len(ranked)} unknown value{'s' * (len(ranked) != 1)} in {total} "
        f"row{'s' * (total != 1)}); map your values onto ours with "
        f"values={{{table!r}: {{{column!r}: {{'yours': 'ours', ...}}}}}} (or a preset=)"
    )


def _rows(frame: nw.DataFrame | nw.LazyFrame) -> nw.DataFrame:
    return frame.collect() if isinstance(frame, nw.LazyFrame) else frame


def _is_text(dtype: Any) -> bool:
    return dtype in (nw.String, nw.Categorical) or isinstance(dtype, nw.Enum)


def repair_values(
    table: Table,
    frame: nw.DataFrame | nw.LazyFrame,
    values: Mapping[str, Mapping[Any, Any]],
    errors: str,
    problems: list[str],
) -> nw.DataFrame | nw.LazyFrame:
    """The module's rules on one table of canonical column names (renamed already).

    ``values`` is the table's ``{column: {yours: ours}}`` (user's on top of the preset's). The
    frame is returned unchanged (the same native object) when no rule changes it.
    """
    dtypes = frame.collect_schema()
    names = dtypes.names()
    for name in names:
        column = table.column(name) if name in table.column_names else None
        vocabulary = column.values if column is not None and column.kind == "text" else None
        mapping = values.get(name)
        if vocabulary is None and not mapping:
            continue
        if not _is_text(dtypes[name]):
            if mapping:
                problems.append(
                    f"table {table.name!r}, column {name!r}: values= maps text, found "
                    f"{dtypes[name]}; cast the column to text first, or map it on your engine"
                )
            continue  # a vocabulary column of the wrong kind: the schema check says so
        frame = _map_column(
            table.name, frame, name, dtypes[name], mapping or {}, vocabulary, problems
        )
    if table.name == "opportunities" and {"status", "closed_at"} <= set(names):
        frame = _expected_close(frame, names)
    if errors == "raise":
        required = [c.name for c in table.columns if c.required and c.kind in ("id", "timestamp")]
        present = [c for c in required if c in names]
        if present:
            # Booleans cast to count them: Spark sums no booleans.
            nulls = _rows(frame.select(nw.col(c).is_null().cast(nw.Int64).sum() for c in present))
            for c in present:
                count = int(nulls[c][0])
                if count:
                    problems.append(
                        f"table {table.name!r}, column {c!r}: expected no nulls, found {count}"
                    )
    return frame


def _map_column(
    table: str,
    frame: nw.DataFrame | nw.LazyFrame,
    name: str,
    dtype: Any,
    mapping: Mapping[Any, Any],
    vocabulary: tuple[str, ...] | None,
    problems: list[str],
) -> nw.DataFrame | nw.LazyFrame:
    col = nw.col(name) if dtype == nw.String else nw.col(name).cast(nw.String)
    keep = ~col.is_null()
    if vocabulary is not None and not mapping:
        keep = keep & ~col.is_in(vocabulary)  # our own values need no mapping
    found = _rows(
        frame.filter(keep)
        .select(col.alias(name))
        .group_by(name)
        .agg(nw.len().alias("rows"))
        .head(MAX_DISTINCT + 1)
    ).to_dict(as_series=False)
    counts = dict(zip(found[name], (int(n) for n in found["rows"]), strict=True))
    where = f"table {table!r}, column {name!r}"
    if len(counts) > MAX_DISTINCT:
        examples = ", ".join(map(repr, sorted(counts, key=str)[:_SHOWN]))
        if vocabulary is not None and not mapping:  # not one of them is ours exactly
            problems.append(
                f"{where}: expected one of {', '.join(vocabulary)}, found more than "
                f"{MAX_DISTINCT:,} other distinct values (e.g. {examples}): is it the right "
                "column? rename the right one onto it with columns="
            )
        else:
            problems.append(
                f"{where}: more than {MAX_DISTINCT:,} distinct values to map with values= "
                f"(e.g. {examples}); they are collected to map them exactly: map them on your "
                "engine first (e.g. with a join), or pass a pandas frame"
            )
        return frame
    lookup = {normalise(k): v for k, v in mapping.items()}
    ours = {normalise(v): v for v in vocabulary or ()}
    targets: dict[str | None, list[str]] = {}
    unknown: dict[Any, int] = {}
    for raw in sorted(counts):
        value = lookup.get(normalise(raw), raw)
        if value is not None and not isinstance(value, str):
            problems.append(f"{where}: values= maps text onto text (or None), found {value!r}")
            return frame
        if vocabulary is not None and value is not None:
            value = ours.get(normalise(value), value)
            if value not in vocabulary:
                unknown[value] = unknown.get(value, 0) + counts[raw]
                continue
        if value != raw:
            targets.setdefault(value, []).append(raw)
    if unknown:
        problems.append(unknown_values_message(table, name, vocabulary or (), unknown))
        return frame
    if not targets:
        return frame
    expr = col
    for value, raws in targets.items():
        expr = nw.when(col.is_in(raws)).then(nw.lit(value, nw.String)).otherwise(expr)
    return frame.with_columns(expr.alias(name))


def _expected_close(
    frame: nw.DataFrame | nw.LazyFrame, names: list[str]
) -> nw.DataFrame | nw.LazyFrame:
    """An open deal has not closed: its close date is when it is expected to close.

    As on pandas, ``expected_close_at`` is added only when some open deal has a close date,
    and a given ``expected_close_at`` wins over the moved close date.
    """
    moved = (nw.col("status") == "open").fill_null(value=False) & ~nw.col("closed_at").is_null()
    if len(_rows(frame.filter(moved).select("status").head(1))) == 0:
        return frame
    expected = nw.when(moved).then(nw.col("closed_at"))
    if "expected_close_at" in names:
        expected = nw.coalesce(nw.col("expected_close_at"), expected)
    return frame.with_columns(
        expected.alias("expected_close_at"),
        nw.when(~moved).then(nw.col("closed_at")).alias("closed_at"),
    )
