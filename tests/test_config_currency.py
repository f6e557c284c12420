"""The REPORTING_CURRENCY setting: empty by default (that of the first import), an ISO 4217
code from the environment or the secrets (written in capitals), anything else refused with the
setting named."""

from __future__ import annotations

import pytest

from demetra.config import SETTINGS, Settings, SettingsError, load_settings


def test_it_is_declared_empty_by_default() -> None:
    spec = next(s for s in SETTINGS if s.name == "REPORTING_CURRENCY")
    assert spec.default == "" and spec.kind is str and spec.label == "Reporting currency"
    assert load_settings(environ={}).reporting_currency == ""
    assert Settings().reporting_currency == ""


def test_a_code_comes_from_the_environment_or_the_secrets_in_capitals() -> None:
    assert load_settings(environ={"REPORTING_CURRENCY": " eur "}).reporting_currency == "EUR"
    assert load_settings(secrets={"REPORTING_CURRENCY": "sek"}, environ={}).reporting_currency \
        == "SEK"
    assert load_settings(secrets={"REPORTING_CURRENCY": "SEK"},
                         environ={"REPORTING_CURRENCY": "NOK"}).reporting_currency == "NOK"
    assert Settings(reporting_currency="gbp").reporting_currency == "GBP"


@pytest.mark.parametrize("value", ["euro", "EU", "€", "E1R", "ÉUR", "US D"])
def test_anything_but_three_letters_is_refused_with_the_setting_named(value: str) -> None:
    with pytest.raises(SettingsError, match="REPORTING_CURRENCY must be a three-letter ISO 4217 "
                                            "currency code such as EUR or USD"):
        load_settings(environ={"REPORTING_CURRENCY": value})
    with pytest.raises(SettingsError, match="REPORTING_CURRENCY"):
        Settings(reporting_currency=value)
