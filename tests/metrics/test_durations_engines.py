"""Durations between timestamps on every engine, against Python's datetime arithmetic.

``_engines.microseconds_between`` takes Spark (which has no duration arithmetic in narwhals) through
calendar parts for naive timestamps; these pairs cross what a day count can get wrong: leap
days, century years, the year boundary, dates before 1970, and sub-second fractions.
"""

from __future__ import annotations

import datetime as dt

import narwhals.stable.v2 as nw
import pandas as pd

from kpiwidgets.metrics._engines import microseconds_between
from kpiwidgets.metrics._periods import iso_weekday
from tests.helpers import to_pandas

PAIRS = [
    ("2024-02-28 23:59:59.999999", "2024-03-01 00:00:00.000001"),  # over a leap day
    ("2023-02-28 12:00:00", "2023-03-01 12:00:00"),  # no leap day
    ("1999-12-31 23:00:00.5", "2000-03-01 01:00:00.25"),  # 2000 is a leap year
    ("2100-02-28 00:00:00", "2100-03-01 00:00:00"),  # 2100 is not
    ("1969-12-31 23:59:59", "1970-01-01 00:00:01"),  # before the epoch
    ("2025-03-29 12:00:00.000001", "2025-03-31 12:00:00.250003"),  # over a DST change
    ("2025-06-01 08:00:00", "2024-06-01 08:00:00"),  # negative
]


def _frame() -> pd.DataFrame:
    a, b = zip(*PAIRS, strict=True)
    return pd.DataFrame(
        {
            "a": pd.to_datetime(list(a), format="ISO8601"),
            "b": pd.to_datetime(list(b), format="ISO8601"),
        }
    ).astype({"a": "datetime64[us]", "b": "datetime64[us]"})


def test_microseconds_between_matches_python(engine):
    lf = nw.from_native(engine.convert(_frame())).lazy()
    got = to_pandas(
        lf.select(microseconds_between(lf, "b", "a").alias("us")).collect().to_native()
    )["us"].tolist()
    expected = []
    for a, b in PAIRS:
        delta = dt.datetime.fromisoformat(b) - dt.datetime.fromisoformat(a)
        expected.append(delta // dt.timedelta(microseconds=1))
    assert got == expected
    assert expected[0] == 86_400_000_002  # 29 February and 2 µs, by hand


def test_iso_weekday_sunday_is_seven(engine):
    days = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=7, freq="D")})  # Mon..Sun
    lf = nw.from_native(engine.convert(days)).lazy()
    got = to_pandas(lf.select(iso_weekday(nw.col("t")).alias("w")).collect().to_native())
    assert got["w"].tolist() == [1, 2, 3, 4, 5, 6, 7]
