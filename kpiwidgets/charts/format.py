"""Numbers, money, shares and durations in the team's currency and locale, by Babel.

One :class:`Formatter` serves every widget's labels and tooltips (charts get the formatted
text as a data column, since Vega's own formats know no locale):

>>> f = Formatter(currency="BRL", locale="pt_BR")
>>> f.money(1234.56)
'R$\\xa01.234,56'
>>> Formatter().value(0.1234, "ratio"), Formatter().value(12.26, "days")
('12.3%', '12.3 days')
>>> Formatter(locale="ru").compact(25_300.0, "currency")
'25,3\\xa0тыс.\\xa0$'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from babel import Locale, UnknownLocaleError
from babel.numbers import (
    format_compact_currency,
    format_compact_decimal,
    format_currency,
    format_decimal,
    format_percent,
    list_currencies,
)

__all__ = ["Formatter"]

_UNIT_WORDS = {"days": "days", "minutes": "min", "months": "months", "touches": "touches"}


@dataclass(frozen=True)
class Formatter:
    """Formats values of the catalog's units (count, currency, ratio, multiple, days,
    minutes, months, touches) for ``currency`` (ISO 4217) in ``locale`` (``"en"``,
    ``"pt_BR"``, ``"ru"``, ...).

    NaN (a value that cannot be computed) formats as ``"–"``.
    """

    currency: str = "USD"
    locale: str = "en"

    def __post_init__(self) -> None:
        try:
            Locale.parse(self.locale)
        except (UnknownLocaleError, ValueError) as exc:
            raise ValueError(
                f"locale: {self.locale!r} is not a locale Babel knows (e.g. 'en', 'pt_BR')"
            ) from exc
        if self.currency not in list_currencies():
            raise ValueError(
                f"currency: expected an ISO 4217 code such as 'USD', found {self.currency!r}"
            )

    def money(self, value: float) -> str:
        if _missing(value):
            return "–"
        return format_currency(value, self.currency, locale=self.locale)

    def amount(self, value: float) -> str:
        """Money rounded to whole units, with the currency: ``$332,900``, ``R$ 1.235``."""
        if _missing(value):
            return "–"
        pattern = Locale.parse(self.locale).currency_formats["standard"].pattern
        whole = pattern.replace(".00", "").replace(".##", "")
        return format_currency(
            value, self.currency, format=whole, locale=self.locale, currency_digits=False
        )

    def number(self, value: float, digits: int = 0) -> str:
        if _missing(value):
            return "–"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def percent(self, value: float, digits: int = 1) -> str:
        if _missing(value):
            return "–"
        pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
        return format_percent(value, format=pattern, locale=self.locale)

    def value(self, value: float, unit: str) -> str:
        """A value in full, as a tooltip or a table shows it."""
        if unit == "currency":
            return self.money(value)
        if unit == "ratio":
            return self.percent(value)
        if unit == "count":
            return self.number(value)
        if _missing(value):
            return "–"
        if unit == "multiple":
            return f"{self.number(value, 1)}×"
        return f"{self.number(value, 1)} {_UNIT_WORDS.get(unit, unit)}"

    def compact(self, value: float, unit: str) -> str:
        """A value short enough for a tile (``$1.2M``, ``12.3%``, ``3.4 days``)."""
        if _missing(value):
            return "–"
        if unit == "currency" and abs(value) >= 10_000:
            return format_compact_currency(
                value, self.currency, locale=self.locale, fraction_digits=1
            )
        if unit == "count" and abs(value) >= 10_000:
            return format_compact_decimal(value, locale=self.locale, fraction_digits=1)
        return self.value(value, unit)

    def change(self, delta: float, unit: str, *, relative: float | None = None) -> str:
        """A change against the previous period: percentage points for shares, a relative
        change otherwise (``+12.0%``)."""
        if unit == "ratio":
            if _missing(delta):
                return "–"
            text = self.number(abs(delta) * 100, 1)
            return _signed(text, 0.0 if round(abs(delta) * 100, 1) == 0 else delta) + " pp"
        if relative is None or _missing(relative):
            return "–"
        shown = 0.0 if round(abs(relative) * 100, 1) == 0 else relative
        return _signed(self.percent(abs(relative)), shown)

    def rounds_to_zero(self, delta: float, unit: str, relative: float | None) -> bool:
        """True when :meth:`change` prints no change (±0.0): it is drawn as flat."""
        if unit == "ratio":
            return _missing(delta) or round(abs(delta) * 100, 1) == 0
        return relative is None or _missing(relative) or round(abs(relative) * 100, 1) == 0


def _signed(text: str, value: float) -> str:
    return ("+" if value > 0 else "−" if value < 0 else "±") + text


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
