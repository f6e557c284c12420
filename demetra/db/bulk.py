"""Bulk writes to ``campaigns``: binary COPY on PostgreSQL, one executemany transaction on SQLite.

roi and conversion_rate are generated columns (see models), so nothing here can make them
disagree with the sums; the rollups are refreshed in the same transaction as the rows.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
from collections.abc import Callable

import numpy as np
import pandas as pd
import sqlalchemy as sa

from demetra.db import rollups
from demetra.db.models import Campaign
from demetra.db.raw import insert_many

TEXT_COLUMNS = ("campaign_id", "campaign_name", "channel")
INT_COLUMNS = ("clicks", "impressions", "engagement")
COLUMNS = (*TEXT_COLUMNS, "date", "cost", "clicks", "impressions", "engagement", "conversions",
           "revenue")

Progress = Callable[[float, str], None]

_PG_EPOCH = np.datetime64("2000-01-01", "D")
# One binary COPY tuple after its text fields: date, cost, 3 counts, conversions, revenue,
# each preceded by its byte length, all big-endian as the protocol wants.
_FIXED = np.dtype([("l0", ">i4"), ("date", ">i4"), ("l1", ">i4"), ("cost", ">f8"),
                   ("l2", ">i4"), ("clicks", ">i8"), ("l3", ">i4"), ("impressions", ">i8"),
                   ("l4", ">i4"), ("engagement", ">i8"), ("l5", ">i4"), ("conversions", ">f8"),
                   ("l6", ">i4"), ("revenue", ">f8")])


def _day_numbers(values: pd.Series) -> np.ndarray:
    return pd.to_datetime(values).to_numpy().astype("datetime64[D]")


def insert_campaign_rows(conn: sa.Connection, df: pd.DataFrame, *, chunk_rows: int = 100_000,
                         progress: Progress | None = None) -> int:
    """Insert new campaign-day rows (no upsert) and refresh the rollups for their dates.

    Runs inside the caller's transaction: a failure anywhere writes nothing. Into an empty
    table the secondary indexes are dropped and rebuilt once, which is 3-4x faster than
    maintaining them row by row.
    """
    if df.empty:
        return 0
    frame = df[list(COLUMNS)]
    days = _day_numbers(frame["date"])
    total = len(frame)
    empty = conn.execute(sa.text("SELECT 1 FROM campaigns LIMIT 1")).first() is None
    pg = conn.dialect.name == "postgresql"
    indexes = list(Campaign.__table__.indexes) if empty else []
    if empty and pg:
        # An empty table emptied in this transaction lets COPY FREEZE write the rows frozen
        # and all-visible: index-only scans work from the first query, no VACUUM needed.
        conn.exec_driver_sql("TRUNCATE campaigns")
        # Building the primary key once is cheaper than maintaining it per row.
        conn.exec_driver_sql("ALTER TABLE campaigns DROP CONSTRAINT pk_campaigns")
        # The index builds sort in memory instead of spilling to disk (this transaction only).
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
    for index in indexes:
        index.drop(conn)
    for start in range(0, total, chunk_rows):
        chunk, chunk_days = frame.iloc[start:start + chunk_rows], days[start:start + chunk_rows]
        if pg:
            _copy_chunk(conn, chunk, chunk_days, freeze=empty)
        else:
            _executemany_chunk(conn, chunk, chunk_days)
        if progress:
            done = min(start + chunk_rows, total)
            progress(done / total, f"Wrote {done:,} of {total:,} rows")
    if indexes and progress:
        progress(1.0, "Building indexes")
    if empty and pg:
        conn.exec_driver_sql("ALTER TABLE campaigns ADD CONSTRAINT pk_campaigns PRIMARY KEY (id)")
    for index in indexes:
        index.create(conn)
    if progress:
        progress(1.0, "Updating rollups")
    if empty:
        # The table holds exactly the frame: the rollups are the frame's own group-bys.
        rollups.rebuild_from_frame(conn, frame, days)
    else:
        first, last = (dt.date.fromisoformat(str(d)) for d in (days.min(), days.max()))
        rollups.refresh(conn, first, last)
    return total


def _executemany_chunk(conn: sa.Connection, chunk: pd.DataFrame, days: np.ndarray) -> None:
    columns = [chunk[name].tolist() for name in COLUMNS]
    columns[COLUMNS.index("date")] = days.astype(str).tolist()
    insert_many(conn, "campaigns", COLUMNS, zip(*columns, strict=True))


def _copy_chunk(conn: sa.Connection, chunk: pd.DataFrame, days: np.ndarray, *,
                freeze: bool = False) -> None:
    """COPY ... FROM STDIN (FORMAT binary): no number is ever formatted as text."""
    n = len(chunk)
    fixed = np.empty(n, dtype=_FIXED)
    fixed["date"] = (days - _PG_EPOCH).astype(np.int64)
    for i, (name, size) in enumerate((("date", 4), ("cost", 8), ("clicks", 8), ("impressions", 8),
                                      ("engagement", 8), ("conversions", 8), ("revenue", 8))):
        fixed[f"l{i}"] = size
        if name != "date":
            fixed[name] = chunk[name].to_numpy(dtype=np.int64 if name in INT_COLUMNS else float)
    if chunk["cost"].isna().to_numpy().any():
        raise ValueError("cost must be a number, not empty")
    if chunk[["conversions", "revenue"]].isna().to_numpy().any():
        # Not tracked: NULL, which the fixed-width binary tuples cannot say.
        _copy_csv(conn, chunk, days, freeze=freeze)
        return
    # The text fields repeat per campaign: encode each distinct triple once. Factorizing the
    # columns one by one and combining the codes is ~10x cheaper than a MultiIndex of tuples.
    codes = np.zeros(n, dtype=np.int64)
    levels = []
    for name in TEXT_COLUMNS:
        column_codes, uniques = pd.factorize(chunk[name].astype(str))
        codes = codes * len(uniques) + column_codes
        levels.append(uniques)
    codes, combined = pd.factorize(codes)
    prefixes = []
    for value in combined.tolist():
        parts = []
        for uniques in reversed(levels):
            value, index = divmod(value, len(uniques))
            parts.append(uniques[index])
        head = struct.pack(">h", len(COLUMNS))
        for text in reversed(parts):
            raw = text.encode()
            head += struct.pack(">i", len(raw)) + raw
        prefixes.append(head)
    records = fixed.view(np.dtype((np.void, _FIXED.itemsize))).tolist()
    body = b"".join([prefixes[c] + r for c, r in zip(codes.tolist(), records, strict=True)])
    payload = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0) + body + struct.pack(">h", -1)
    raw_conn = conn.connection.driver_connection
    with raw_conn.cursor() as cur:
        cur.copy_expert(f"COPY campaigns ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT binary"
                        f"{', FREEZE' if freeze else ''})", io.BytesIO(payload))


def analyze(conn: sa.Connection) -> None:
    """Refresh the planner's statistics after a bulk load (SQLite picks bad indexes without)."""
    if conn.dialect.name == "sqlite":
        # Sampled statistics: enough for the planner, seconds faster on millions of rows.
        conn.exec_driver_sql("PRAGMA analysis_limit=2000")
        conn.exec_driver_sql("ANALYZE")
    else:
        # The tables bulk loads write, not the whole database: a database-wide ANALYZE also
        # visits other schemas and the catalogs, and can deadlock with another one running.
        conn.exec_driver_sql("ANALYZE campaigns, channel_days, campaign_months")


def _copy_csv(conn: sa.Connection, chunk: pd.DataFrame, days: np.ndarray, *,
              freeze: bool) -> None:
    """COPY as CSV, where an unquoted empty field (a NaN) is NULL."""
    frame = chunk[list(COLUMNS)].assign(date=days.astype(str))
    buf = io.StringIO()
    frame.to_csv(buf, index=False, header=False)
    buf.seek(0)
    with conn.connection.driver_connection.cursor() as cur:
        cur.copy_expert(f"COPY campaigns ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv"
                        f"{', FREEZE' if freeze else ''}, FORCE_NOT_NULL "
                        f"({', '.join(TEXT_COLUMNS)}))", buf)
