"""Numeric dates (``26-02-2018 13:05``, ``2/26/18 3:45 PM``, ``2018/02/26``) read field by field.

A format such as ``%d-%m-%Y %H:%M`` becomes one regular expression; pyarrow extracts every
field of every value in one vectorised pass, and numpy assembles the timestamps. This is
several times faster than ``strptime`` and stricter than Arrow's own ``strptime`` (which
reads ``30-02-2018`` as 2 March): a value whose fields are out of range (month 13, 30
February, hour 24) is unparseable, never moved to another date. Having the day and month
fields as numbers also lets the caller see which values read only one way.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["DateFields", "assemble", "extract_fields", "supported"]

_TOKENS = {
    "%d": r"(?P<d>\d{1,2})",
    "%m": r"(?P<m>\d{1,2})",
    "%Y": r"(?P<Y>\d{4})",
    "%y": r"(?P<y>\d{2})",
    "%H": r"(?P<H>\d{1,2})",
    "%I": r"(?P<I>\d{1,2})",
    "%M": r"(?P<M>\d{2})",
    "%S": r"(?P<S>\d{2})",
    "%f": r"(?P<f>\d{1,9})",
    "%p": r"(?P<p>[AaPp][Mm])",
}
_META = set(r".^$*+?()[]{}|\\")


def _pieces(fmt: str) -> list[str]:
    return re.findall(r"%.|.", fmt, flags=re.DOTALL)


def supported(fmt: str) -> bool:
    """Whether ``fmt`` uses only numeric fields this module reads (with a day and a month)."""
    tokens = [p for p in _pieces(fmt) if p.startswith("%")]
    return (
        all(t in _TOKENS for t in tokens)
        and {"%d", "%m"} <= set(tokens)
        and ("%Y" in tokens or "%y" in tokens)
        and ("%I" in tokens) == ("%p" in tokens)
    )


def _pattern(fmt: str) -> str:
    out = []
    for piece in _pieces(fmt):
        if piece in _TOKENS:
            out.append(_TOKENS[piece])
        elif piece == " ":
            out.append(r"\s+")
        else:
            out.append("\\" + piece if piece in _META else piece)
    return r"^\s*" + "".join(out) + r"\s*$"


class DateFields:
    """The fields of each value as float arrays (NaN where the value does not match)."""

    def __init__(self, fields: dict[str, np.ndarray], matched: np.ndarray) -> None:
        self.fields, self.matched = fields, matched

    def __getitem__(self, name: str) -> np.ndarray:
        return self.fields[name]


def extract_fields(values: pd.Index, fmt: str) -> DateFields:
    array = pa.array(np.asarray(values, dtype=object), type=pa.string(), from_pandas=True)
    struct = pc.extract_regex(array, _pattern(fmt))
    matched = np.asarray(struct.is_valid())
    fields: dict[str, np.ndarray] = {}
    for i in range(struct.type.num_fields):
        name = struct.type.field(i).name
        column = pc.struct_field(struct, [i])
        if name == "p":
            pm = pc.equal(pc.utf8_lower(column), "pm")
            fields[name] = np.asarray(pc.fill_null(pm, False), dtype=bool).astype(float)
            continue
        if name == "f":  # a fraction of a second: ".5" is 500 000 microseconds
            column = pc.utf8_slice_codeunits(pc.utf8_rpad(column, 6, "0"), 0, 6)
        numbers = pc.cast(column, pa.float64())
        fields[name] = np.asarray(pc.fill_null(numbers, np.nan), dtype=float)
    return DateFields(fields, matched)


def assemble(fields: DateFields, *, day: np.ndarray, month: np.ndarray) -> pd.DatetimeIndex:
    """Timestamps from the fields, NaT where a field is missing or out of range."""
    n = len(fields.matched)
    zero = np.zeros(n)
    if "Y" in fields.fields:
        year = fields["Y"]
    else:  # two-digit years as strptime reads them: 69-99 -> 19xx, 00-68 -> 20xx
        short = fields["y"]
        year = short + np.where(short < 69, 2000, 1900)
    if "I" in fields.fields:
        hour12 = fields["I"]
        hour = np.where(hour12 == 12, 0, hour12) + 12 * fields["p"]
        hour_ok = (hour12 >= 1) & (hour12 <= 12)
    else:
        hour = fields.fields.get("H", zero)
        hour_ok = hour <= 23
    minute = fields.fields.get("M", zero)
    second = fields.fields.get("S", zero)
    micro = fields.fields.get("f", zero)
    ok = fields.matched & (month >= 1) & (month <= 12) & (day >= 1) & hour_ok
    ok &= (minute <= 59) & (second <= 59) & (year >= 1)
    safe_year = np.where(ok, year, 1970).astype(np.int64)
    safe_month = np.where(ok, month, 1).astype(np.int64)
    months = (safe_year - 1970) * 12 + (safe_month - 1)
    first = months.astype("datetime64[M]").astype("datetime64[D]")
    days_in_month = ((months + 1).astype("datetime64[M]").astype("datetime64[D]") - first).astype(
        np.int64
    )
    ok &= day <= days_in_month

    def safe(values: np.ndarray, unit: str) -> np.ndarray:
        return np.where(ok, values, 0).astype(np.int64).astype(f"timedelta64[{unit}]")

    stamps = (
        first.astype("datetime64[us]")
        + safe(day - 1, "D")
        + safe(hour, "h")
        + safe(minute, "m")
        + safe(second, "s")
        + safe(micro, "us")
    )
    stamps = np.where(ok, stamps, np.datetime64("NaT"))
    return pd.DatetimeIndex(stamps.astype("datetime64[us]"))
