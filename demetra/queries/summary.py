"""Data about the data: the span of days with data, what each table holds and the currency
every amount is in."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from demetra.channels import ordered
from demetra.queries.filters import as_date

__all__ = ["CURRENCY_KEY", "SUMMARY_TABLES", "data_summary", "date_span", "reporting_currency"]

SUMMARY_TABLES = ("campaigns", "predictions", "recommendations", "alerts", "ml_dashboards",
                  "model_runs")


def date_span(engine: sa.Engine) -> tuple[dt.date, dt.date] | None:
    """First and last day with campaign data, or None when there is none."""
    with engine.connect() as conn:
        lo, hi = conn.execute(sa.text("SELECT MIN(date), MAX(date) FROM channel_days")).one()
    return None if lo is None else (as_date(lo), as_date(hi))


CURRENCY_KEY = "reporting_currency"


def reporting_currency(engine: sa.Engine) -> str:
    """The ISO code every amount in the database is in (``app_settings``; the demo world and a
    database that never said: USD)."""
    from demetra.format import DEFAULT_CURRENCY

    with engine.connect() as conn:
        saved = conn.execute(sa.text("SELECT value FROM app_settings WHERE key = :k"),
                             {"k": CURRENCY_KEY}).scalar()
    if isinstance(saved, str):  # a JSON column: SQLite hands back the text
        import json

        try:
            saved = json.loads(saved)
        except ValueError:
            saved = None
    code = saved.get("code") if isinstance(saved, dict) else None
    return str(code).upper() if code else DEFAULT_CURRENCY


def data_summary(engine: sa.Engine) -> dict[str, Any]:
    """What is in the database.

    ``{"tables": {table: row count for each of SUMMARY_TABLES}, "rows": campaign rows,
    "campaigns": distinct campaign ids, "first_date", "last_date": date | None,
    "channels": [channels present, in config order]}``.
    """
    with engine.connect() as conn:
        tables = {}
        for table in SUMMARY_TABLES:
            if table == "campaigns":
                # The rollup counts campaign-days exactly and is ~100x smaller than the table.
                sql = "SELECT CAST(COALESCE(SUM(campaign_days), 0) AS BIGINT) FROM channel_days"
            else:
                sql = f"SELECT COUNT(*) FROM {table}"
            tables[table] = int(conn.execute(sa.text(sql)).scalar_one())
        distinct = int(conn.execute(sa.text(
            "SELECT COUNT(DISTINCT campaign_id) FROM campaign_months")).scalar_one())
        lo, hi = conn.execute(sa.text("SELECT MIN(date), MAX(date) FROM channel_days")).one()
        present = {r[0] for r in conn.execute(sa.text("SELECT DISTINCT channel FROM channel_days"))}
    return {"tables": tables, "rows": tables["campaigns"], "campaigns": distinct,
            "first_date": as_date(lo), "last_date": as_date(hi), "channels": ordered(present)}


def channels_present(engine: sa.Engine) -> list[str]:
    """The channels with data, in config order (one read of the small daily rollup)."""
    with engine.connect() as conn:
        return ordered({r[0] for r in conn.execute(sa.text(
            "SELECT DISTINCT channel FROM channel_days"))})
