"""The options shared by ``kw.Dataset`` and ``kw.read_dataset``: checks, presets, renames."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import narwhals.stable.v2 as nw

from kpiwidgets.datasets._lazy_values import normalise
from kpiwidgets.datasets.presets import PRESETS
from kpiwidgets.datasets.schema import TABLES

__all__ = ["check_options", "column_names", "merge_values", "preset_entry", "resolve_renames"]


def check_options(**given: Any) -> None:
    allowed = {
        "errors": ("drop", "raise"),
        "dayfirst": (None, True, False),
        "decimal": (None, ".", ","),
        "duplicates": ("raise", "first", "last"),
    }
    for name, value in given.items():
        if not any(value is a or (isinstance(a, str) and value == a) for a in allowed[name]):
            choices = ", ".join(map(repr, allowed[name]))
            raise ValueError(f"Dataset: {name} must be one of {choices}, found {value!r}")


def preset_entry(preset: str | None) -> dict[str, Any]:
    if preset is None:
        return {}
    key = normalise(preset)
    if key not in PRESETS:
        raise ValueError(
            f"Dataset: unknown preset {preset!r}; expected one of: {', '.join(PRESETS)}"
        )
    return PRESETS[key]


def merge_values(preset: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """Per table and column, the user's value mappings on top of the preset's."""
    merged: dict[str, dict[str, dict[Any, Any]]] = {}
    for source in (preset, given):
        for table, per_column in source.items():
            if table not in TABLES:
                raise ValueError(
                    f"Dataset: values= names an unknown table {table!r}; "
                    f"expected some of: {', '.join(TABLES)}"
                )
            for column, mapping in per_column.items():
                merged.setdefault(table, {}).setdefault(column, {}).update(mapping)
    return merged


def column_names(frame: Any) -> list[str] | None:
    try:
        return nw.from_native(frame).collect_schema().names()
    except TypeError:
        return None


def resolve_renames(
    table: str,
    names: list[str],
    columns: Mapping[str, Any] | None,
    preset: Mapping[str, Any],
) -> dict[str, str]:
    """Renames for one table: the user's ``columns=``, then the preset's header candidates
    for canonical columns still missing (headers match ignoring case and spaces)."""
    renames: dict[str, str] = {}
    if columns:
        if any(isinstance(v, Mapping) for v in columns.values()):
            renames = dict(columns.get(table, {}))
        else:
            renames = dict(columns)
    renames = {k: v for k, v in renames.items() if k in names}
    taken = set(renames.values()) | {n for n in names if n in TABLES[table].column_names}
    by_key = {normalise(n): n for n in names if n not in renames}
    for canonical, candidates in preset.get("columns", {}).get(table, {}).items():
        if canonical in taken:
            continue
        for candidate in candidates:
            header = by_key.get(normalise(candidate))
            if header is not None and header not in renames:
                renames[header] = canonical
                taken.add(canonical)
                break
    return renames
