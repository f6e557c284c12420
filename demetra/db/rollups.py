"""Keep the rollup tables (``channel_days``, ``campaign_months``) equal to ``campaigns``.

Every write to ``campaigns`` goes through ``demetra.db.bulk``, which calls ``refresh`` for
the dates it touched in the same transaction, so a reader never sees the two disagree. A bulk
load into an empty table uses ``rebuild_from_frame`` instead: the same sums, grouped in pandas
from the frame just written, several times faster than re-reading a million rows.
"""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
import sqlalchemy as sa

from demetra.db.raw import insert_many

# A NULL revenue or conversions is "not tracked": SUM skips it (NULL when no row tracks it),
# and the spend and clicks of the rows that do track it are kept beside.
_SUMS = ("SUM(cost), SUM(revenue), SUM(clicks), SUM(impressions), SUM(engagement), "
         "SUM(conversions), COALESCE(SUM(CASE WHEN revenue IS NOT NULL THEN cost END), 0), "
         "COALESCE(SUM(CASE WHEN conversions IS NOT NULL THEN cost END), 0), "
         "COALESCE(SUM(CASE WHEN conversions IS NOT NULL THEN clicks END), 0)")
MEASURES = ("cost", "revenue", "clicks", "impressions", "engagement", "conversions",
            "revenue_cost", "result_cost", "result_clicks")
_MEASURE_LIST = ", ".join(MEASURES)


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
        f"INSERT INTO channel_days (date, channel, campaign_days, {_MEASURE_LIST}) "
        f"SELECT date, channel, COUNT(*), {_SUMS} FROM campaigns "
        "WHERE date BETWEEN :s AND :e GROUP BY date, channel"), p)

    first, last_month, month_end = _month_bounds(start, end)
    m = month_expr(conn)
    conn.execute(sa.text("DELETE FROM campaign_months WHERE month BETWEEN :ms AND :ml"),
                 {"ms": first, "ml": last_month})
    conn.execute(sa.text(
        "INSERT INTO campaign_months (campaign_id, month, channel, campaign_name, days, "
        f"first_date, last_date, {_MEASURE_LIST}) "
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


_CHANNEL_DAY_COLUMNS = ("date", "channel", "campaign_days", *MEASURES)
_CAMPAIGN_MONTH_COLUMNS = ("campaign_id", "month", "channel", "campaign_name", "days",
                           "first_date", "last_date", *MEASURES)


def tracked(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (campaign rows) with the per-row parts of the tracked sums."""
    return frame.assign(
        revenue_cost=frame["cost"].where(frame["revenue"].notna(), 0.0),
        result_cost=frame["cost"].where(frame["conversions"].notna(), 0.0),
        result_clicks=frame["clicks"].where(frame["conversions"].notna(), 0))


def sums(grouped, **extra) -> pd.DataFrame:
    """The rollup measures of a group-by of ``tracked`` rows: a group where no row tracks
    revenue (or conversions) sums to NaN, which is written as NULL."""
    counts = {f"_{o}_rows": (o, "count") for o in ("revenue", "conversions")}
    out = grouped.agg(**extra, **{c: (c, "sum") for c in MEASURES}, **counts)
    for outcome in ("revenue", "conversions"):
        # One aggregation pass: the count of tracked rows says where the sum is "none".
        out[outcome] = out[outcome].where(out.pop(f"_{outcome}_rows") > 0)
    return out.reset_index()


def rebuild_from_frame(conn: sa.Connection, frame: pd.DataFrame, days: np.ndarray) -> None:
    """Replace both rollups by the group-bys of ``frame``, when ``campaigns`` holds exactly
    the rows of ``frame`` (a bulk load into an empty table).

    Grouping the frame that was just written is several times faster than grouping the
    million rows again in SQL; the sums equal the stored rows' up to float summation order
    (pandas sums with compensation). ``days`` is ``frame.date`` as ``datetime64[D]``.
    """
    months = days.astype("datetime64[M]").astype("datetime64[D]")
    data = tracked(frame[["campaign_id", "campaign_name", "channel", "cost", "revenue", "clicks",
                          "impressions", "engagement", "conversions"]]).assign(
        date=days, month=months)
    by_day = sums(data.groupby(["date", "channel"], sort=True), campaign_days=("cost", "size"))
    by_month = sums(data.groupby(["campaign_id", "month"], sort=True),
                    channel=("channel", "max"), campaign_name=("campaign_name", "max"),
                    days=("cost", "size"), first_date=("date", "min"),
                    last_date=("date", "max"))
    pg = conn.dialect.name == "postgresql"
    for table in ("channel_days", "campaign_months"):
        # TRUNCATE lets COPY FREEZE write the rows all-visible (index-only scans at once).
        conn.exec_driver_sql(f"TRUNCATE {table}" if pg else f"DELETE FROM {table}")
    _write(conn, "channel_days", by_day[list(_CHANNEL_DAY_COLUMNS)])
    _write(conn, "campaign_months", by_month[list(_CAMPAIGN_MONTH_COLUMNS)])


def _write(conn: sa.Connection, table: str, df: pd.DataFrame) -> None:
    """Append ``df`` to a table just emptied in this transaction (COPY FREEZE on PostgreSQL)."""
    for col in df.columns:
        if df[col].dtype.kind == "M":
            df[col] = df[col].dt.strftime("%Y-%m-%d")
    columns = ", ".join(df.columns)
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        buf = io.StringIO()
        df.to_csv(buf, index=False, header=False)
        buf.seek(0)
        # In CSV an unquoted empty field is NULL; an empty campaign name is a name.
        text = ", ".join(c for c in df.columns if c in ("campaign_id", "channel", "campaign_name"))
        with raw.cursor() as cur:
            cur.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, FREEZE, "
                            f"FORCE_NOT_NULL ({text}))", buf)
        return
    values = [df[c].tolist() for c in df.columns]
    insert_many(conn, table, list(df.columns), zip(*values, strict=True))
