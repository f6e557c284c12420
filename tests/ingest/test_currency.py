"""Currencies are never mixed: the first import sets the database's currency, a file in another
is converted at the rate the user gives (kept with the import) or refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from demetra import ingest, queries
from demetra.errors import ImportFileError
from demetra.ingest import currency

ROOT = Path(__file__).resolve().parents[2]


def meta(currency: str, spend: str = "100.00", campaign: str = "A") -> bytes:
    return (f"Campaign name,Day,Amount spent ({currency}),Impressions,Link clicks,"
            f"Purchases conversion value\n{campaign},2026-09-01,{spend},1000,50,300.00\n").encode()


def totals(engine: sa.Engine) -> tuple[float, float]:
    with engine.connect() as conn:
        cost, revenue = conn.execute(sa.text("SELECT SUM(cost), SUM(revenue) FROM campaigns")).one()
    return float(cost or 0), float(revenue or 0)


def imports(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT currency, reporting_currency, exchange_rate, spend_in_file, spend_stored "
            "FROM imports ORDER BY id"))]


def test_the_first_import_sets_the_currency_and_another_needs_a_rate(engine: sa.Engine) -> None:
    assert queries.reporting_currency(engine) == "USD"  # nothing said yet
    ingest.import_file(engine, meta("EUR"), name="eur.csv")
    assert queries.reporting_currency(engine) == "EUR"
    with pytest.raises(ImportFileError, match=r"in USD and this database reports in EUR.*"
                                              r"--exchange-rate"):
        ingest.import_file(engine, meta("USD", campaign="B"), name="usd.csv")
    assert totals(engine) == (pytest.approx(100.0), pytest.approx(300.0))  # nothing added
    result = ingest.import_file(engine, meta("USD", "200.00", campaign="B"), name="usd.csv",
                                exchange_rate=0.9)
    assert totals(engine) == (pytest.approx(100.0 + 180.0), pytest.approx(300.0 + 270.0))
    assert result.summary().endswith(
        "spend stored 180.00 EUR of 200.00 USD in the file (at 0.9 EUR per USD)")
    assert imports(engine) == [("EUR", "EUR", 1.0, 100.0, 100.0),
                               ("USD", "EUR", 0.9, 200.0, pytest.approx(180.0))]


def test_a_database_with_data_and_no_currency_reports_in_dollars(seeded_engine) -> None:
    with pytest.raises(ImportFileError, match="in GBP and this database reports in USD"):
        ingest.import_file(seeded_engine, meta("GBP", campaign="UK"), name="gbp.csv")
    ingest.import_file(seeded_engine, meta("USD", campaign="US"), name="usd.csv")
    assert queries.reporting_currency(seeded_engine) == "USD"


def test_a_rate_for_a_file_in_the_same_currency_and_a_bad_rate_are_refused(engine) -> None:
    ingest.import_file(engine, meta("EUR"), name="eur.csv")
    with pytest.raises(ImportFileError, match="already in EUR"):
        ingest.import_file(engine, meta("EUR"), name="eur.csv", exchange_rate=1.1)
    with pytest.raises(ImportFileError, match="positive number"):
        ingest.import_file(engine, meta("SEK"), name="sek.csv", exchange_rate=-2.0)


def test_a_file_that_mixes_currencies_is_refused(engine: sa.Engine) -> None:
    data = (b"Day,Campaign,Currency code,Cost,Impr.,Clicks,Conv. value\n"
            b"2026-09-01,A,USD,10.00,100,5,0\n2026-09-01,B,EUR,10.00,100,5,0\n")
    with pytest.raises(ImportFileError, match=r"mixes currencies \(EUR, USD\)"):
        ingest.import_file(engine, data, name="google.csv")
    assert totals(engine) == (0.0, 0.0)


def test_the_command_line_takes_the_rate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    eur, usd = tmp_path / "eur.csv", tmp_path / "usd.csv"
    eur.write_bytes(meta("EUR"))
    usd.write_bytes(meta("USD", campaign="B"))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "demetra", "--database-url", url, *args],
                              cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)

    assert run("import", str(eur)).returncode == 0
    refused = run("import", str(usd))
    assert refused.returncode == 2 and "--exchange-rate" in refused.stderr
    ok = run("import", "--exchange-rate", "0.92", str(usd))
    assert ok.returncode == 0, ok.stderr
    assert "spend stored 92.00 EUR of 100.00 USD in the file" in ok.stdout
    assert run("import", "--exchange-rate", "zero", str(usd)).returncode == 2


# --------------------------------------------------------------------------------------------
# The REPORTING_CURRENCY setting: the currency of an empty database's first import, and a
# refusal (never a silent switch) when a database already reports in another.

def reporting(engine: sa.Engine, file_currency: str | None, setting: str | None) -> str:
    with engine.connect() as conn:
        return currency.reporting_for(conn, file_currency, setting)


def test_an_empty_database_reports_in_the_setting_else_the_files(engine: sa.Engine) -> None:
    assert reporting(engine, "EUR", None) == "EUR"
    assert reporting(engine, None, "") == "USD"
    assert reporting(engine, "GBP", "eur") == "EUR"
    assert reporting(engine, None, "EUR") == "EUR"
    assert currency.database_currency(engine) is None
    # The page's question before an import: a rate, to the setting's currency.
    assert currency.needs_rate(engine, "GBP", "EUR") == "EUR"
    assert currency.needs_rate(engine, "EUR", "EUR") is None
    assert currency.needs_rate(engine, "GBP") is None


def test_a_setting_that_differs_from_the_database_is_refused(engine: sa.Engine) -> None:
    ingest.import_file(engine, meta("EUR"), name="eur.csv")
    assert currency.database_currency(engine) == "EUR"
    assert reporting(engine, "EUR", "EUR") == "EUR"
    assert reporting(engine, "USD", None) == "EUR"
    with pytest.raises(ImportFileError) as refused:
        reporting(engine, "USD", "usd")
    message = str(refused.value)
    assert "this database reports in EUR, but the REPORTING_CURRENCY setting says USD" in message
    assert "Set REPORTING_CURRENCY to EUR (or remove it)" in message
    assert "new database to report in USD" in message and "nothing was imported" in message
    assert currency.conflict("EUR", "USD") and currency.conflict("EUR", "eur") is None
    assert currency.conflict(None, "USD") is None and currency.conflict("EUR", "") is None


def test_a_database_of_rows_without_a_currency_reports_in_dollars(seeded_engine) -> None:
    assert reporting(seeded_engine, "USD", "USD") == "USD"
    with pytest.raises(ImportFileError, match="reports in USD, but the REPORTING_CURRENCY "
                                              "setting says EUR"):
        reporting(seeded_engine, "EUR", "EUR")


def test_the_first_import_stores_the_settings_currency(engine: sa.Engine) -> None:
    with pytest.raises(ImportFileError, match=r"in GBP and this database reports in EUR.*"
                                              r"--exchange-rate"):
        ingest.import_file(engine, meta("GBP"), name="gbp.csv", reporting_currency="EUR")
    assert currency.database_currency(engine) is None  # nothing was settled by the refusal
    ingest.import_file(engine, meta("GBP"), name="gbp.csv", reporting_currency="EUR",
                       exchange_rate=1.2)
    assert queries.reporting_currency(engine) == "EUR"
    assert totals(engine) == (pytest.approx(120.0), pytest.approx(360.0))
    assert imports(engine) == [("GBP", "EUR", 1.2, 100.0, pytest.approx(120.0))]
    with pytest.raises(ImportFileError, match="reports in EUR, but the REPORTING_CURRENCY "
                                              "setting says GBP"):
        ingest.import_file(engine, meta("GBP", campaign="B"), name="gbp2.csv",
                           reporting_currency="GBP", exchange_rate=1.0)
    assert totals(engine) == (pytest.approx(120.0), pytest.approx(360.0))  # nothing added


def test_the_command_line_reads_the_setting(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    usd = tmp_path / "usd.csv"
    usd.write_bytes(meta("USD"))

    def run(setting: str, *args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "REPORTING_CURRENCY": setting}
        return subprocess.run([sys.executable, "-m", "demetra", "--database-url", url, *args],
                              cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
                              env=env)

    refused = run("EUR", "import", str(usd))
    assert refused.returncode == 2 and "reports in EUR" in refused.stderr, refused.stderr
    ok = run("EUR", "import", "--exchange-rate", "0.9", str(usd))
    assert ok.returncode == 0, ok.stderr
    assert "spend stored 90.00 EUR of 100.00 USD in the file" in ok.stdout
    other = run("USD", "import", str(usd))
    assert other.returncode == 2
    assert "this database reports in EUR, but the REPORTING_CURRENCY setting says USD" \
        in other.stderr.replace("\n", " ")
    bad = run("euro", "import", str(usd))
    assert bad.returncode != 0 and "REPORTING_CURRENCY must be a three-letter" in bad.stderr


SEP_1 = queries.Filters("2026-09-01", "2026-09-01")


def test_each_campaign_keeps_the_currency_it_came_in(engine: sa.Engine) -> None:
    ingest.import_file(engine, meta("EUR"), name="eur.csv")
    ingest.import_file(engine, meta("USD", "200.00", campaign="B"), name="usd.csv",
                       exchange_rate=0.9)
    rows, _total = queries.campaign_table(engine, SEP_1, sort="campaign_name",
                                          descending=False)
    assert list(zip(rows["campaign_name"], rows["source_currency"], rows["source_rate"],
                    rows["cost"], strict=True)) == [("A", "EUR", 1.0, 100.0),
                                                    ("B", "USD", 0.9, pytest.approx(180.0))]
    # The latest import of a campaign says what it came in.
    ingest.import_file(engine, meta("USD", "200.00", campaign="B"), name="usd.csv",
                       exchange_rate=0.95)
    rows, _total = queries.campaign_table(engine, SEP_1, sort="campaign_name",
                                          descending=False)
    assert rows["source_rate"].tolist() == [1.0, 0.95]
