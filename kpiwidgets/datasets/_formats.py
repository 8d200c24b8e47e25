"""Dates and numbers written as text, read one way per column and never guessed.

The rules (stated for users in ``docs/reading-data.md`` and ``kw.Dataset``'s docstring):

* **Dates.** A column is read with exactly one format. ISO dates (``2024-02-26``, with or
  without a time and an offset) are never ambiguous. For ``26-02-2018``-style dates the
  order of day and month is inferred from *all* the column's values: a value that reads only
  one way (a first field above 12 is a day) decides the column; values that decide for both
  orders contradict each other, and a column where every value reads both ways is ambiguous:
  both raise one ``ValueError`` naming the column and two examples, and ask for
  ``dayfirst=`` (or ``date_format=``). Work is done on the column's distinct values: one
  vectorised pass reads the fields of every value (``_datefields``), and the order follows
  from the numbers; nothing is parsed twice.
* **Numbers.** Currency symbols and codes, spaces and apostrophes are stripped. The decimal
  mark is inferred per column the same way: ``1.200,50`` (both marks: the last one is the
  decimal), ``300,00`` (one comma not followed by exactly three digits) and ``1.234.567`` (a
  repeated mark is a thousands separator) decide; ``1,200`` alone reads both ways. With the
  mark known, thousands groups must have three digits, so ``1,5`` is never read as 15.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kpiwidgets.datasets._datefields import assemble, extract_fields, supported

__all__ = ["AmbiguousDates", "parse_dates", "parse_numbers"]

# How many distinct values the shape of a column's dates (separators, time part) is read
# from; the order of day and month is then decided from every distinct value.
_SAMPLE = 2_000

_ISO = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)?$"
)
# Numeric dates with the year last (26-02-2018, 2/26/18 3:45 PM) or first (2018/02/26).
_YEAR_LAST = re.compile(
    r"^(?P<a>\d{1,2})(?P<sep>[-/.])(?P<b>\d{1,2})(?P=sep)(?P<year>\d{4}|\d{2})(?P<time>.*)$"
)
_YEAR_FIRST = re.compile(
    r"^(?P<year>\d{4})(?P<sep>[/.])(?P<a>\d{1,2})(?P=sep)(?P<b>\d{1,2})(?P<time>.*)$"
)
_TIME = re.compile(
    r"^(?P<tsep>[ T]|, )(?P<h>\d{1,2}):(?P<m>\d{2})(?P<s>:\d{2})?(?P<f>\.\d+)?"
    r"(?P<psep> ?)(?P<ampm>[AaPp][Mm])?$"
)


class AmbiguousDates(ValueError):
    """Every value of a date column reads both day-first and month-first."""

    def __init__(self, message: str, formats: tuple[str, str]) -> None:
        super().__init__(message)
        self.formats = formats  # (day-first, month-first)


@dataclass(frozen=True)
class ParsedDates:
    values: pd.Series  # datetime64
    unparseable: pd.Series  # bool mask: present but not readable with the format
    format: str  # the one format used ("ISO8601" or a strftime string)
    dayfirst: bool | None  # the order decided, None when the format has no such choice


def _time_format(rest: str) -> str | None:
    if not rest:
        return ""
    match = _TIME.match(rest)
    if match is None:
        return None
    g = match.groupdict()
    hour = "%I" if g["ampm"] else "%H"
    out = f"{g['tsep']}{hour}:%M" + (":%S" if g["s"] else "") + (".%f" if g["f"] else "")
    return out + (f"{g['psep']}%p" if g["ampm"] else "")


def _shape(value: str) -> tuple[str, ...] | None:
    """The candidate formats of one value: ("ISO8601",), (day-first, month-first) or (fmt,)."""
    if _ISO.match(value):
        return ("ISO8601",)
    for pattern, year_first in ((_YEAR_LAST, False), (_YEAR_FIRST, True)):
        match = pattern.match(value)
        if match is None:
            continue
        time = _time_format(match["time"])
        if time is None:
            return None
        sep, year = match["sep"], "%Y" if len(match["year"]) == 4 else "%y"
        if year_first:
            return (f"%Y{sep}%m{sep}%d{time}",)
        return (f"%d{sep}%m{sep}{year}{time}", f"%m{sep}%d{sep}{year}{time}")
    from pandas.tseries.api import guess_datetime_format

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        guessed = guess_datetime_format(value)
    return (guessed,) if guessed else None


def _to_datetime(values: pd.Index, fmt: str) -> pd.DatetimeIndex:
    if supported(fmt):
        fields = extract_fields(values, fmt)
        return assemble(fields, day=fields["d"], month=fields["m"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            return pd.DatetimeIndex(pd.to_datetime(values, format=fmt, errors="coerce"))
        except (TypeError, ValueError):
            # Mixed UTC offsets: normalise to UTC rather than pick one of the zones.
            return pd.DatetimeIndex(pd.to_datetime(values, format=fmt, errors="coerce", utc=True))


def _examples(values, n: int = 2) -> str:
    return ", ".join(repr(str(v)) for v in list(values)[:n])


def parse_dates(
    series: pd.Series,
    where: str,
    *,
    dayfirst: bool | None = None,
    date_format: str | None = None,
) -> ParsedDates:
    """Parse a text column of dates with one format (see the module docstring).

    Raises ``AmbiguousDates`` when every value reads both ways and ``dayfirst`` is None,
    ``ValueError`` when values contradict each other.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    text = pd.Index(uniques).astype(str).str.strip()
    order: bool | None = None
    if date_format is not None:
        fmt = date_format
        parsed = _to_datetime(text, fmt)
    else:
        fmt, order, parsed = _infer(text, where, dayfirst)
    present = pd.Series(codes >= 0, index=series.index)
    values = pd.Series(parsed.take(np.where(codes >= 0, codes, 0)), index=series.index)
    values[~present] = pd.NaT
    bad_unique = np.asarray(parsed.isna())
    unparseable = present & pd.Series(
        bad_unique[np.where(codes >= 0, codes, 0)], index=series.index
    )
    return ParsedDates(values, unparseable, fmt, order)


def _infer(text: pd.Index, where: str, dayfirst: bool | None):
    if len(text) == 0:
        return "ISO8601", None, _to_datetime(text, "ISO8601")
    shapes: dict[tuple[str, ...], int] = {}
    for value in text[:_SAMPLE]:
        shape = _shape(value)
        if shape is not None:
            shapes[shape] = shapes.get(shape, 0) + 1
    if not shapes:
        # Nothing reads as a date: let the caller count it as the wrong kind.
        return "ISO8601", None, _to_datetime(text, "ISO8601")
    shape = max(shapes, key=shapes.get)
    if len(shape) == 1:
        return shape[0], None, _to_datetime(text, shape[0])
    day_first, month_first = shape
    # One pass reads both numbers of every value; which one is the day follows from them.
    fields = extract_fields(text, day_first)
    first, second = fields["d"], fields["m"]
    if dayfirst is None:
        only_day_first = (first > 12) & (second <= 12)  # the first number cannot be a month
        only_month_first = (second > 12) & (first <= 12)
        if only_day_first.any() and only_month_first.any():
            raise ValueError(
                f"{where}: dates contradict each other: {_examples(text[only_day_first], 1)} "
                f"reads only day-first but {_examples(text[only_month_first], 1)} only "
                "month-first; pass dayfirst=True or dayfirst=False (or date_format=) to say "
                "how the column is written: values written the other way are then left out "
                "and counted"
            )
        if not only_day_first.any() and not only_month_first.any():
            raise AmbiguousDates(
                f"{where}: every date reads two ways (e.g. {_examples(text[fields.matched])}): "
                "day-first or month-first; pass dayfirst=True (01-02-2024 is 1 February) or "
                "dayfirst=False (2 January), or date_format=",
                (day_first, month_first),
            )
        dayfirst = bool(only_day_first.any())
    if dayfirst:
        return day_first, True, assemble(fields, day=first, month=second)
    return month_first, False, assemble(fields, day=second, month=first)


# -- numbers -------------------------------------------------------------------------------

_NOISE = re.compile(r"(?:US\$|R\$|[A-Z]{3}|[$€£¥₹₽₩₺₴]|\s|['’])")
_NUMBER = re.compile(r"^[+-]?[\d.,]*\d[\d.,]*$")
_GROUPED = {
    ".": re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?$"),
    ",": re.compile(r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)?(?:,\d+)?$"),
}


def _clean_number(value: str) -> str:
    value = value.strip()
    negative = value.startswith("(") and value.endswith(")")  # accounting: (1,234.00)
    value = _NOISE.sub("", value.strip("()"))
    if value.endswith("-") and value[:-1].replace(",", "").replace(".", "").isdigit():
        value = "-" + value[:-1]  # trailing minus, as some ERPs write it
    return ("-" + value.lstrip("+")) if negative and not value.startswith("-") else value


def _decides(value: str) -> str | None:
    """The decimal mark ``value`` proves ("." or ","), or None when it reads both ways."""
    dot, comma = value.count("."), value.count(",")
    if dot and comma:
        return "." if value.rfind(".") > value.rfind(",") else ","
    if not dot and not comma:
        return None
    mark, count = (".", dot) if dot else (",", comma)
    if count > 1:
        return "," if mark == "." else "."  # a repeated mark groups thousands
    whole, _, fraction = value.lstrip("+-").partition(mark)
    # Only "d,ddd" .. "ddd,ddd" could be a thousands group; "0,750" or "1200,500" cannot.
    if len(fraction) != 3 or not 1 <= len(whole) <= 3 or whole == "0":
        return mark
    return None


def parse_numbers(series: pd.Series, where: str, *, decimal: str | None = None):
    """Parse a text column of numbers; returns (values, unparseable mask, decimal mark used)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    cleaned = [_clean_number(str(v)) for v in uniques]
    if decimal is None:
        decided: dict[str, list[str]] = {".": [], ",": []}
        for raw, value in zip(uniques, cleaned, strict=True):
            if _NUMBER.match(value):
                mark = _decides(value)
                if mark is not None:
                    decided[mark].append(str(raw))
        if decided["."] and decided[","]:
            raise ValueError(
                f"{where}: numbers contradict each other: {decided['.'][0]!r} has a decimal "
                f"point but {decided[','][0]!r} a decimal comma; pass decimal='.' or "
                "decimal=',' to say how the column is written: values written the other way "
                "are then left out and counted"
            )
        if decided[","]:
            decimal = ","
        elif decided["."]:
            decimal = "."
        else:
            grouped = [
                str(raw) for raw, v in zip(uniques, cleaned, strict=True) if "." in v or "," in v
            ]
            if grouped:
                raise ValueError(
                    f"{where}: every number with a separator reads two ways (e.g. "
                    f"{_examples(grouped)}): a thousands separator or a decimal mark; pass "
                    "decimal='.' (1,200 is twelve hundred) or decimal=',' (1,200 is 1.2)"
                )
            decimal = "."
    valid = _GROUPED[decimal]
    numbers = np.full(len(uniques), np.nan)
    for i, value in enumerate(cleaned):
        if _NUMBER.match(value) and valid.match(value):
            plain = value.replace("," if decimal == "." else ".", "")
            numbers[i] = float(plain.replace(",", "."))
    present = codes >= 0
    taken = numbers[np.where(present, codes, 0)]
    taken[~present] = np.nan
    unparseable = pd.Series(present & np.isnan(taken), index=series.index)
    integral = present.all() and not unparseable.any() and np.all(np.mod(taken, 1) == 0)
    values = pd.Series(taken.astype("int64") if integral else taken, index=series.index)
    return values, unparseable, decimal
