"""The Data page and the REPORTING_CURRENCY setting (AppTest, SQLite and PostgreSQL): an empty
database asks a file in another currency for the rate to the setting's; a database that already
reports in another currency is refused before Import, naming both codes and the fix; a value
that is no currency code stops the page with the setting named."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from demetra import ingest, queries
from demetra.app import pages
from demetra.app.runtime import clear_caches
from tests.app.helpers import open_page, start

META = b"Campaign name,Day,Amount spent (%s),Impressions,Link clicks\n"
USD = META % b"USD" + b"B,2026-09-01,200.00,1000,50\n"


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="imp_file").set_value((name, data, "text/csv"))
    return at.run()


def test_an_empty_database_asks_for_the_rate_to_the_settings_currency(db_url: str) -> None:
    at = upload(open_page(db_url, pages.DATA.path, REPORTING_CURRENCY="eur"), "usd.csv", USD)
    assert not at.exception
    assert any("in USD; the database will report in EUR (the REPORTING_CURRENCY setting)"
               in w.value for w in at.warning)
    assert at.number_input(key="imp_rate").label == "1 USD = … EUR"
    assert at.button(key="imp_go").disabled


def test_the_first_import_settles_the_settings_currency(db_url: str, engine: sa.Engine) -> None:
    at = upload(open_page(db_url, pages.DATA.path, REPORTING_CURRENCY="EUR"), "usd.csv", USD)
    at = at.number_input(key="imp_rate").set_value(0.9).run()
    at = at.button(key="imp_go").click().run()
    assert not at.exception and "1 row inserted" in at.success[0].value
    assert queries.reporting_currency(engine) == "EUR"
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT SUM(cost) FROM campaigns")).scalar_one() == \
            pytest.approx(180.0)


def test_a_database_in_another_currency_is_refused_before_import(db_url: str,
                                                                 engine: sa.Engine) -> None:
    ingest.import_file(engine, META % b"EUR" + b"A,2026-09-01,100.00,1000,50\n", name="eur.csv")
    at = upload(open_page(db_url, pages.DATA.path, REPORTING_CURRENCY="USD"), "usd.csv", USD)
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert error.startswith("This database reports in EUR, but the REPORTING_CURRENCY setting "
                            "says USD")
    assert "Set REPORTING_CURRENCY to EUR (or remove it)" in error
    assert at.button(key="imp_go").disabled
    assert not [n for n in at.number_input if n.key == "imp_rate"]  # no rate would fix it


def test_a_setting_that_is_no_currency_code_stops_the_page(tmp_path: Path) -> None:
    at = start(f"sqlite:///{tmp_path / 'd.db'}", REPORTING_CURRENCY="euro")
    assert not at.exception
    shown = " ".join(e.value for e in at.error)
    assert "REPORTING_CURRENCY must be a three-letter ISO 4217 currency code" in shown


def test_the_campaigns_page_says_what_currency_a_campaign_came_in(db_url: str,
                                                                   engine: sa.Engine) -> None:
    ingest.import_file(engine, META % b"EUR" + b"A,2026-09-01,100.00,1000,50\n", name="eur.csv")
    at = open_page(db_url, pages.CAMPAIGNS.path)
    assert "source" not in at.dataframe[0].value.columns  # one currency: nothing to say
    ingest.import_file(engine, USD, name="usd.csv", exchange_rate=0.9)
    clear_caches()  # written outside the app, which clears them after its own imports
    at = open_page(db_url, pages.CAMPAIGNS.path)
    shown = at.dataframe[0].value.set_index("campaign_name")
    assert shown.loc["B", "source"] == "USD at 0.9" and shown.loc["A", "source"] == "EUR"
    assert shown.loc["B", "cost"] == 180
