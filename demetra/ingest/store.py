"""Writing imported rows: a temporary staging table filled chunk by chunk (COPY on PostgreSQL,
executemany on SQLite), then ONE upsert on (campaign_id, date) and the rollups for the touched
days, all inside the caller's transaction.

The upsert groups the staged rows by (campaign_id, date) and sums them, so an export at
ad-set or ad level (several rows per campaign and day) stores the campaign's day; it only
rewrites rows whose values changed, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from demetra.db import rollups
from demetra.db.raw import insert_many

STAGE = "import_stage"
TEXT = ("campaign_id", "campaign_name", "channel")
COLUMNS = ("campaign_id", "campaign_name", "channel", "date", "cost", "clicks", "impressions",
           "engagement", "conversions", "revenue")
_VALUES = ("campaign_name", "channel", "cost", "clicks", "impressions", "engagement",
           "conversions", "revenue")
_SUMMED = ("cost", "clicks", "impressions", "engagement", "conversions", "revenue")


@dataclass(frozen=True)
class Written:
    inserted: int
    updated: int
    unchanged: int


def create_stage(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {STAGE} (campaign_id text NOT NULL, campaign_name text NOT NULL, "
            "channel text NOT NULL, date date NOT NULL, cost double precision, clicks bigint, "
            "impressions bigint, engagement bigint, conversions double precision, "
            "revenue double precision) ON COMMIT DROP")
        return
    # A failed import's temp table may survive on this pooled connection (SQLite runs the
    # CREATE outside the transaction).
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{STAGE}")
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE {STAGE} (campaign_id TEXT NOT NULL, campaign_name TEXT NOT NULL, "
        "channel TEXT NOT NULL, date TEXT NOT NULL, cost REAL, clicks INTEGER, "
        "impressions INTEGER, engagement INTEGER, conversions REAL, revenue REAL)")


def stage(conn: sa.Connection, rows: pd.DataFrame) -> None:
    """Append accepted rows (``rows.STORED`` columns) to the staging table."""
    if rows.empty:
        return
    frame = rows[list(COLUMNS)].copy()
    frame["date"] = frame["date"].to_numpy().astype("datetime64[D]").astype(str)
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        buf = io.StringIO()
        frame.to_csv(buf, index=False, header=False)
        buf.seek(0)
        with raw.cursor() as cur:
            # In CSV an unquoted empty field is NULL; an empty name is a name.
            cur.copy_expert(f"COPY {STAGE} ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv, "
                            f"FORCE_NOT_NULL ({', '.join(TEXT)}))", buf)
        return
    columns = [frame[c].tolist() for c in COLUMNS]
    insert_many(conn, STAGE, COLUMNS, zip(*columns, strict=True))


def _count_in_span(conn: sa.Connection, start: dt.date, end: dt.date) -> int:
    return int(conn.execute(sa.text("SELECT COUNT(*) FROM campaigns WHERE date BETWEEN :s AND :e")
                            .bindparams(sa.bindparam("s", type_=sa.Date),
                                        sa.bindparam("e", type_=sa.Date)),
                            {"s": start, "e": end}).scalar_one())


def upsert(conn: sa.Connection, start: dt.date, end: dt.date) -> Written:
    """Move the staged rows into ``campaigns`` and refresh the rollups for [start, end]."""
    pg = conn.dialect.name == "postgresql"
    differs = "IS DISTINCT FROM" if pg else "IS NOT"
    keys = int(conn.exec_driver_sql(
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {STAGE} GROUP BY campaign_id, date) k").scalar_one())
    before = _count_in_span(conn, start, end)
    select = ", ".join(["campaign_id", "MAX(campaign_name)", "MAX(channel)",
                        "CAST(date AS DATE)" if pg else "date",
                        *(f"SUM({c})" for c in _SUMMED)])
    # WHERE true: SQLite needs it to tell the upsert's ON from a join's ON.
    sql = (f"INSERT INTO campaigns ({', '.join(COLUMNS)}) SELECT {select} FROM {STAGE} "
           "WHERE true GROUP BY campaign_id, date "
           "ON CONFLICT (campaign_id, date) DO UPDATE SET "
           + ", ".join(f"{c} = excluded.{c}" for c in _VALUES)
           + ", updated_at = CURRENT_TIMESTAMP WHERE "
           + " OR ".join(f"campaigns.{c} {differs} excluded.{c}" for c in _VALUES))
    changed = conn.exec_driver_sql(sql).rowcount
    inserted = _count_in_span(conn, start, end) - before
    rollups.refresh(conn, start, end)
    if pg:
        conn.exec_driver_sql(f"DROP TABLE {STAGE}")
    else:
        conn.exec_driver_sql(f"DROP TABLE temp.{STAGE}")
    return Written(inserted=inserted, updated=changed - inserted, unchanged=keys - changed)
