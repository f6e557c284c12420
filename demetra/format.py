"""How numbers are written for people: one set of formatters for the app, the charts, the rules
engine, alert messages and the command line.

* money carries the currency the data is in (``"USD"`` -> "$1,234", ``"EUR"`` -> "€1,234",
  a code without a symbol -> "CHF 1,234"): cents below 1,000, whole units from 1,000 up;
* percentages, ROI ("2.41×"), counts, relative changes, dates and date ranges;
* a missing value (None, NaN, pandas' NA, a ratio over zero) is "—", never 0.

No Streamlit, plotly or matplotlib here: every layer imports it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

DASH = "—"
DEFAULT_CURRENCY = "USD"

# Symbols written before the amount; other ISO codes are written as "CODE 1,234".
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "¥", "INR": "₹",
            "KRW": "₩", "BRL": "R$", "AUD": "A$", "CAD": "C$", "NZD": "NZ$", "MXN": "MX$",
            "ILS": "₪", "TRY": "₺", "PLN": "zł ", "RUB": "₽", "UAH": "₴", "VND": "₫",
            "PHP": "₱", "THB": "฿", "NGN": "₦"}


def is_missing(value: Any) -> bool:
    """None, NaN, ±inf and pandas' NA: values that are shown as "—"."""
    if value is None:
        return True
    try:
        return math.isnan(float(value)) or math.isinf(float(value))
    except (TypeError, ValueError):
        try:
            import pandas as pd

            return bool(pd.isna(value))
        except (TypeError, ValueError):
            return False


def currency_prefix(currency: str | None) -> str:
    """What stands before an amount: "$", "€", or "CHF " for a code without a symbol."""
    code = (currency or DEFAULT_CURRENCY).upper()
    return _SYMBOLS.get(code, f"{code} ")


NOT_TRACKED = "Not tracked"  # revenue or results the exports have no column for: not a zero


def money(value: Any, currency: str | None = DEFAULT_CURRENCY, *, decimals: int | None = None,
          missing: str = DASH) -> str:
    """"$12,345" (whole units from 1,000 up), "$987.65" below; ``decimals`` forces it."""
    if is_missing(value):
        return missing
    v = float(value)
    if decimals is None:
        decimals = 0 if abs(v) >= 1000 else 2
    sign = "-" if v < 0 and round(abs(v), decimals) != 0 else ""
    return f"{sign}{currency_prefix(currency)}{abs(v):,.{decimals}f}"


def money_short(value: Any, currency: str | None = DEFAULT_CURRENCY) -> str:
    """For tight labels: "$1.2M", "$12.3K", "$950"."""
    if is_missing(value):
        return DASH
    v = float(value)
    prefix = currency_prefix(currency)
    sign = "-" if v < 0 else ""
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(v) >= size:
            return f"{sign}{prefix}{abs(v) / size:,.1f}{unit}"
    return f"{sign}{prefix}{abs(v):,.0f}"


def pct(value: Any, decimals: int = 2, *, missing: str = DASH) -> str:
    """A fraction as a percentage: 0.0321 -> "3.21%"."""
    if is_missing(value):
        return missing
    return f"{float(value) * 100:,.{decimals}f}%"


def roi(value: Any, *, missing: str = DASH) -> str:
    """Return per unit of spend: 2.4137 -> "2.41×" (1.00× is break-even)."""
    if is_missing(value):
        return missing
    return f"{float(value):,.2f}×"


def rows(n: int) -> str:
    """'1 row', '2,000 rows'."""
    return f"{n:,} row" if n == 1 else f"{n:,} rows"


def count(value: Any) -> str:
    """Counts with thousands separators; fractional conversions keep one decimal below 100."""
    if is_missing(value):
        return DASH
    v = float(value)
    if abs(v) >= 100 or v == int(v):
        return f"{v:,.0f}"
    return f"{v:,.1f}"


def by_kind(kind: str, currency: str | None = DEFAULT_CURRENCY) -> Callable[[Any], str]:
    """How a value of ``kind`` (money, cents, roi, count, pct) is written."""
    return {"money": lambda v: money(v, currency),
            "cents": lambda v: money(v, currency, decimals=2),
            "roi": roi, "count": count, "pct": pct}[kind]


def change(value: Any) -> str | None:
    """A relative change: 0.123 -> "+12.3%"; None (no delta) when it is undefined."""
    if is_missing(value):
        return None
    return f"{float(value) * 100:+,.1f}%"


def date(d: dt.date, *, year: bool = True) -> str:
    """"Jun 30, 2026" (or "Jun 30")."""
    return f"{d:%b} {d.day}, {d.year}" if year else f"{d:%b} {d.day}"


def date_range(start: dt.date, end: dt.date) -> str:
    """"Jun 1 – Jun 30, 2026"; "Dec 1, 2025 – Jan 15, 2026"; one day: "Jun 30, 2026"."""
    if start == end:
        return date(end)
    return f"{date(start, year=start.year != end.year)} – {date(end)}"


def days(n: int) -> str:
    """"1 day", "30 days"."""
    return f"{n} day" + ("" if n == 1 else "s")
