"""Keep the rollup tables (``channel_days``, ``campaign_months``) equal to ``campaigns``.

Every write to ``campaigns`` goes through ``demetra.db.bulk``, which calls ``refresh`` for
the dates it touched in the same transaction, so a reader never sees the two disagree.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

_SUMS = ("SUM(cost), SUM(revenue), SUM(clicks), SUM(impressions), SUM(engagement), "
         "SUM(conversions)")


def month_expr(conn: sa.Connection, column: str = "date") -> str:
    if conn.dialect.name == "sqlite":
        return f"date({column}, 'start of month')"
    return f"CAST(date_trunc('month', {column}) AS DATE)"


def _month_bounds(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date, dt.date]:
    first = start.replace(day=1)
    last_month = end.replace(day=1)
    nxt = (last_month + dt.timedelta(days=32)).replace(day=1)
    return first, last_month, nxt - dt.timedelta(days=1)


def refresh(conn: sa.Connection, start: dt.date, end: dt.date) -> None:
    """Recompute the rollups for every day in [start, end] (whole months for campaign_months)."""
    p = {"s": start, "e": end}
    conn.execute(sa.text("DELETE FROM channel_days WHERE date BETWEEN :s AND :e"), p)
    conn.execute(sa.text(
        "INSERT INTO channel_days (date, channel, campaign_days, cost, revenue, clicks, "
        "impressions, engagement, conversions) "
        f"SELECT date, channel, COUNT(*), {_SUMS} FROM campaigns "
        "WHERE date BETWEEN :s AND :e GROUP BY date, channel"), p)

    first, last_month, month_end = _month_bounds(start, end)
    m = month_expr(conn)
    conn.execute(sa.text("DELETE FROM campaign_months WHERE month BETWEEN :ms AND :ml"),
                 {"ms": first, "ml": last_month})
    conn.execute(sa.text(
        "INSERT INTO campaign_months (campaign_id, month, channel, campaign_name, days, "
        "first_date, last_date, cost, revenue, clicks, impressions, engagement, conversions) "
        f"SELECT campaign_id, {m}, MAX(channel), MAX(campaign_name), COUNT(*), MIN(date), "
        f"MAX(date), {_SUMS} FROM campaigns WHERE date BETWEEN :ms AND :me "
        f"GROUP BY campaign_id, {m}"), {"ms": first, "me": month_end})


def rebuild(conn: sa.Connection) -> None:
    """Recompute the rollups over the whole table."""
    span = conn.execute(sa.text("SELECT MIN(date), MAX(date) FROM campaigns")).one()
    conn.execute(sa.text("DELETE FROM channel_days"))
    conn.execute(sa.text("DELETE FROM campaign_months"))
    if span[0] is not None:
        start, end = (dt.date.fromisoformat(str(v)) for v in span)
        refresh(conn, start, end)
