"""Currencies are never mixed: the database reports in one currency, and a file in another is
converted at the rate the user gives (stored with the import) or refused.

The reporting currency is kept in ``app_settings`` (``queries.reporting_currency`` reads it):
the first import into an empty database sets it to the REPORTING_CURRENCY setting when one is
given, else to the file's currency; a database that already holds rows without one (the demo
world) reports in USD. Once settled it never changes: a REPORTING_CURRENCY that differs from the
database's is refused on import (stored amounts are never converted).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import sqlalchemy as sa

from demetra.db.models import AppSetting, Campaign, ImportRecord
from demetra.errors import ImportFileError
from demetra.format import DEFAULT_CURRENCY
from demetra.ingest.platforms import normalize_header
from demetra.ingest.reader import OpenedFile
from demetra.ingest.rows import Plan
from demetra.queries import CURRENCY_KEY


def currencies_stated(opened: OpenedFile, plan: Plan, sample: dict[str, list[str]]) -> set[str]:
    """The currencies the file states before its rows are read: a code in the spend column's
    header ("Amount spent (EUR)") and the values of a currency column in its first rows."""
    found: set[str] = set()
    if "cost" in plan.mapping:
        code = normalize_header(plan.mapping["cost"])[1]
        if code:
            found.add(code)
    if "currency" in plan.mapping:
        found.update(_codes(sample.get(plan.mapping["currency"], [])))
    return found


def _codes(values: Iterable[str]) -> set[str]:
    return {v.strip().upper() for v in values
            if len(v.strip()) == 3 and v.strip().isalpha()}


def current(conn: sa.Connection) -> str | None:
    """The reporting currency the database has settled on: stored, or USD when it already holds
    rows without one; None for an empty database that never said."""
    saved = conn.execute(sa.select(AppSetting.value).where(AppSetting.key == CURRENCY_KEY)).scalar()
    if isinstance(saved, dict) and saved.get("code"):
        return str(saved["code"]).upper()
    has_rows = conn.execute(sa.select(Campaign.id).limit(1)).first() is not None
    return DEFAULT_CURRENCY if has_rows else None


def configured(code: str | None) -> str | None:
    """The REPORTING_CURRENCY setting as a code, None when it is not given."""
    return (code or "").strip().upper() or None


def conflict(stored: str | None, setting: str | None) -> str | None:
    """Why a database that reports in ``stored`` cannot take imports while REPORTING_CURRENCY
    is ``setting`` (None when they agree, or either is not given)."""
    setting = configured(setting)
    if stored is None or setting is None or stored == setting:
        return None
    return (f"this database reports in {stored}, but the REPORTING_CURRENCY setting says "
            f"{setting}; amounts already stored are never converted. Set REPORTING_CURRENCY to "
            f"{stored} (or remove it) to import into this database, or point DATABASE_URL at a "
            f"new database to report in {setting}")


def reporting_for(conn: sa.Connection, file_currency: str | None,
                  setting: str | None = None) -> str:
    """The currency an import reports in: the database's own once it has one; for an empty
    database that never said, the REPORTING_CURRENCY ``setting`` when given, else the file's,
    else USD. Refuses (``ImportFileError``, naming both codes and the fix) when the database's
    currency is not the setting's: never a silent switch."""
    stored = current(conn)
    why = conflict(stored, setting)
    if why is not None:
        raise ImportFileError(f"{why}; nothing was imported")
    return stored or configured(setting) or file_currency or DEFAULT_CURRENCY


def rate_needed(reporting: str | None, file_currency: str | None) -> str | None:
    """``reporting`` when a file in ``file_currency`` needs an exchange rate to be imported
    (None when it does not: same currency, unknown, or no reporting currency yet)."""
    if file_currency is None or reporting is None or file_currency == reporting:
        return None
    return reporting


def database_currency(engine: sa.Engine) -> str | None:
    """``current`` on a connection of its own: the database's currency, None for an empty
    database that never said."""
    with engine.connect() as conn:
        return current(conn)


def rate_for(file_name: str, file_currency: str | None, reporting: str,
             exchange_rate: float | None) -> float:
    """The factor from the file's amounts to the reporting currency, or a refusal that says
    which rate to give."""
    if file_currency is None or file_currency == reporting:
        if exchange_rate not in (None, 1, 1.0):
            raise ImportFileError(
                f"an exchange rate was given, but {file_name} is already in {reporting} (the "
                "database's currency): import it without one")
        return 1.0
    if exchange_rate is None:
        raise ImportFileError(
            f"the amounts of {file_name} are in {file_currency} and this database reports in "
            f"{reporting}: give the rate to convert them (how many {reporting} one "
            f"{file_currency} is worth) with --exchange-rate RATE on the command line or in the "
            "Data page's exchange-rate field; nothing was imported")
    if not (isinstance(exchange_rate, int | float) and math.isfinite(exchange_rate)
            and exchange_rate > 0):
        raise ImportFileError(f"the exchange rate must be a positive number, got {exchange_rate!r}")
    return float(exchange_rate)


def check_not_mixed(file_name: str, currencies: set[str]) -> str | None:
    """The one currency of the file (None when it states none), or a refusal."""
    if len(currencies) > 1:
        raise ImportFileError(
            f"{file_name} mixes currencies ({', '.join(sorted(currencies))}): export one file "
            "per currency (one per ad account) and import each with its exchange rate")
    return next(iter(currencies), None)


def record(conn: sa.Connection, *, file_name: str, platform: str, currency: str | None,
           reporting: str, rate: float, rows: int, rejected: int, spend_in_file: float,
           spend_stored: float) -> int:
    """Keep the import (with its rate) and settle the database's currency, in the import's
    transaction; returns the import's id."""
    conn.execute(sa.delete(AppSetting).where(AppSetting.key == CURRENCY_KEY))
    conn.execute(sa.insert(AppSetting).values(key=CURRENCY_KEY, value={"code": reporting}))
    return int(conn.execute(sa.insert(ImportRecord).values(
        file_name=file_name[:255], platform=platform[:32], currency=currency,
        reporting_currency=reporting, exchange_rate=rate, rows=rows, rejected=rejected,
        spend_in_file=spend_in_file, spend_stored=spend_stored).returning(ImportRecord.id)
        ).scalar_one())


def needs_rate(engine: sa.Engine, file_currency: str | None,
               setting: str | None = None) -> str | None:
    """The currency an import of a file in ``file_currency`` would report in when the file
    needs an exchange rate (None when it does not: same currency, unknown, or an empty database
    and no REPORTING_CURRENCY ``setting``)."""
    return rate_needed(database_currency(engine) or configured(setting), file_currency)
