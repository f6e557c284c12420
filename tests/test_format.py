"""The one set of formatters: money in the data's own currency, rates, ROI, counts, changes
and dates, with "—" for what is missing."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from demetra import format as fmt


@pytest.mark.parametrize(("value", "currency", "shown"), [
    (1234.5, "USD", "$1,234"),        # whole units from 1,000 up (banker's rounding of .5)
    (999.994, "USD", "$999.99"),      # cents below
    (100.0, "USD", "$100.00"),
    (-12.5, "EUR", "-€12.50"),
    (-0.001, "USD", "$0.00"),         # no "-$0.00"
    (25_000, "GBP", "£25,000"),
    (1500, "CHF", "CHF 1,500"),       # a code without a symbol is written out
    (1500, "eur", "€1,500"),
    (12, None, "$12.00"),
])
def test_money_is_in_its_currency(value, currency, shown) -> None:
    assert fmt.money(value, currency) == shown


def test_money_keeps_forced_decimals_and_says_what_is_missing() -> None:
    assert fmt.money(25_000, "USD", decimals=2) == "$25,000.00"
    for missing in (None, math.nan, pd.NA, math.inf):
        assert fmt.money(missing) == fmt.DASH
    assert fmt.money(None, missing="an unknown amount") == "an unknown amount"


def test_short_money_rates_roi_counts_and_changes() -> None:
    assert fmt.money_short(1_234_567, "EUR") == "€1.2M"
    assert fmt.money_short(12_300) == "$12.3K" and fmt.money_short(950) == "$950"
    assert fmt.pct(0.0321) == "3.21%" and fmt.pct(None) == fmt.DASH
    assert fmt.roi(2.4137) == "2.41×" and fmt.roi(math.nan) == fmt.DASH
    assert fmt.count(12_345.6) == "12,346" and fmt.count(12.34) == "12.3" and fmt.count(7.0) == "7"
    assert fmt.change(0.123) == "+12.3%" and fmt.change(-0.05) == "-5.0%"
    assert fmt.change(None) is None and fmt.change(math.inf) is None


def test_dates_and_ranges() -> None:
    assert fmt.date(dt.date(2026, 6, 3)) == "Jun 3, 2026"
    assert fmt.date_range(dt.date(2026, 6, 1), dt.date(2026, 6, 30)) == "Jun 1 – Jun 30, 2026"
    assert fmt.date_range(dt.date(2025, 12, 1), dt.date(2026, 1, 15)) == "Dec 1, 2025 – Jan 15, 2026"
    assert fmt.date_range(dt.date(2026, 6, 30), dt.date(2026, 6, 30)) == "Jun 30, 2026"
    assert fmt.days(1) == "1 day" and fmt.days(30) == "30 days"


def test_every_kpi_is_written_by_its_kind() -> None:
    from demetra.queries import KPI_FIGURES

    assert fmt.by_kind("money", "EUR")(1234) == "€1,234"
    assert fmt.by_kind("cents")(1234.5) == "$1,234.50"
    assert fmt.by_kind("roi")(2.4137) == "2.41×" and fmt.by_kind("pct")(None) == fmt.DASH
    # The cards and the report look each KPI's kind up here: none may be unknown.
    for figure in KPI_FIGURES.values():
        assert fmt.by_kind(figure.kind)(1) != fmt.DASH, figure


def test_rows_agree_with_their_number() -> None:
    assert fmt.rows(1) == "1 row" and fmt.rows(0) == "0 rows" and fmt.rows(2000) == "2,000 rows"
