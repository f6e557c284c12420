"""Bulk writes to ``campaigns``: COPY on PostgreSQL, one executemany transaction on SQLite.

roi and conversion_rate are derived here from the stored sums, so they can never disagree
with them, and the rollups are refreshed in the same transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable

import numpy as np
import pandas as pd
import sqlalchemy as sa

from demetra.db import rollups

COLUMNS = ("campaign_id", "campaign_name", "channel", "date", "cost", "clicks", "impressions",
           "engagement", "conversions", "revenue", "conversion_rate", "roi")

Progress = Callable[[float, str], None]


def with_ratios(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with roi = revenue/cost and conversion_rate = conversions/clicks (NaN on 0)."""
    out = df.copy()
    cost = out["cost"].to_numpy(dtype=float)
    clicks = out["clicks"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["roi"] = np.where(cost > 0, out["revenue"].to_numpy(dtype=float) / cost, np.nan)
        out["conversion_rate"] = np.where(
            clicks > 0, out["conversions"].to_numpy(dtype=float) / clicks, np.nan)
    return out


def _iso_dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.strftime("%Y-%m-%d")


def insert_campaign_rows(conn: sa.Connection, df: pd.DataFrame, *, chunk_rows: int = 100_000,
                         progress: Progress | None = None) -> int:
    """Insert new campaign-day rows (no upsert) and refresh the rollups for their dates.

    Runs inside the caller's transaction: a failure anywhere writes nothing.
    """
    if df.empty:
        return 0
    frame = with_ratios(df)[list(COLUMNS)]
    frame["date"] = _iso_dates(frame["date"])
    total = len(frame)
    for start in range(0, total, chunk_rows):
        chunk = frame.iloc[start:start + chunk_rows]
        if conn.dialect.name == "postgresql":
            _copy_chunk(conn, chunk)
        else:
            _executemany_chunk(conn, chunk)
        if progress:
            done = min(start + chunk_rows, total)
            progress(done / total, f"Wrote {done:,} of {total:,} rows")
    first = dt.date.fromisoformat(frame["date"].min())
    last = dt.date.fromisoformat(frame["date"].max())
    rollups.refresh(conn, first, last)
    return total


def _executemany_chunk(conn: sa.Connection, chunk: pd.DataFrame) -> None:
    # NaN must become NULL; object dtype lets None through to the driver.
    values = chunk.astype(object).where(chunk.notna(), None)
    rows = list(values.itertuples(index=False, name=None))
    placeholders = ", ".join("?" for _ in COLUMNS)
    conn.exec_driver_sql(
        f"INSERT INTO campaigns ({', '.join(COLUMNS)}) VALUES ({placeholders})", rows)


def _copy_chunk(conn: sa.Connection, chunk: pd.DataFrame) -> None:
    buf = io.StringIO()
    # Empty unquoted fields are NULL in COPY's csv format; names are quoted when needed.
    chunk.to_csv(buf, index=False, header=False, na_rep="", quoting=csv.QUOTE_MINIMAL)
    buf.seek(0)
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        cur.copy_expert(
            f"COPY campaigns ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv)", buf)


def analyze(conn: sa.Connection) -> None:
    """Refresh the planner's statistics after a bulk load (SQLite picks bad indexes without)."""
    conn.exec_driver_sql("ANALYZE")
