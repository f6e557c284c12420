"""Writing imported rows: a staging table filled chunk by chunk (COPY into a temp table on
PostgreSQL, executemany into a throw-away attached file on SQLite), then ONE upsert on
(campaign_id, date) and the rollups for the touched days, all in one transaction.

The upsert sums the staged rows of one (campaign_id, date), so an export at ad-set or ad level
(several rows per campaign and day) stores the campaign's day; it only rewrites rows whose
values changed, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from demetra.db import bulk, rollups
from demetra.db.models import Campaign
from demetra.db.raw import insert_many
from demetra.ingest.identity import Rekey

STAGE = "import_stage"
_SQLITE_DB = "demetra_import"
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


@contextlib.contextmanager
def staging(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection inside one transaction, with an empty staging table.

    PostgreSQL: a temp table dropped at commit. SQLite: a table in a throw-away database file
    attached for the import — the engine keeps TEMP tables in memory (temp_store=MEMORY), which
    would make memory grow with the file; the file is removed afterwards, success or not.
    """
    with engine.connect() as conn:
        path = None
        if conn.dialect.name == "sqlite":
            fd, path = tempfile.mkstemp(prefix="demetra-import-", suffix=".db")
            os.close(fd)
            # ATTACH and these pragmas are refused inside a transaction: before it.
            conn.exec_driver_sql(f"ATTACH DATABASE ? AS {_SQLITE_DB}", (path,))
            for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-16384"):
                conn.exec_driver_sql(f"PRAGMA {_SQLITE_DB}.{pragma}")
            conn.commit()
        try:
            with conn.begin():
                _create_stage(conn)
                yield conn
        finally:
            if path is not None:
                conn.rollback()
                conn.exec_driver_sql(f"DETACH DATABASE {_SQLITE_DB}")
                conn.commit()
                os.unlink(path)


def _stage(conn: sa.Connection) -> str:
    return STAGE if conn.dialect.name == "postgresql" else f"{_SQLITE_DB}.{STAGE}"


def _create_stage(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {STAGE} (campaign_id text NOT NULL, campaign_name text NOT NULL, "
            "channel text NOT NULL, date date NOT NULL, cost double precision, clicks bigint, "
            "impressions bigint, engagement bigint, conversions double precision, "
            "revenue double precision) ON COMMIT DROP")
        return
    conn.exec_driver_sql(
        f"CREATE TABLE {_stage(conn)} (campaign_id TEXT NOT NULL, campaign_name TEXT NOT NULL, "
        "channel TEXT NOT NULL, date TEXT NOT NULL, cost REAL, clicks INTEGER, "
        "impressions INTEGER, engagement INTEGER, conversions REAL, revenue REAL)")


def stage(conn: sa.Connection, rows: pd.DataFrame) -> None:
    """Append accepted rows (``rows.STORED`` columns) to the staging table."""
    if rows.empty:
        return
    frame = rows[list(COLUMNS)].copy()
    frame["date"] = frame["date"].to_numpy().astype("datetime64[D]").astype(str)
    _copy_or_insert(conn, _stage(conn), frame, list(TEXT))


def clear_stage(conn: sa.Connection) -> None:
    conn.exec_driver_sql(f"DELETE FROM {_stage(conn)}")


def stored_campaigns(conn: sa.Connection) -> list[tuple[str, str, str]]:
    """(campaign_id, channel, name) of every stored campaign, each name it had (the rollup
    holds one row per campaign and month: a few thousand, not the campaign-days)."""
    return [tuple(r) for r in conn.execute(sa.text(
        "SELECT DISTINCT campaign_id, channel, campaign_name FROM campaign_months"))]


def rekey(conn: sa.Connection, rekeys: Iterable[Rekey]) -> tuple[dt.date, dt.date] | None:
    """Give stored campaigns the id (and channel) a file says they have, in every table that
    names them; returns the days they span, whose rollups must be refreshed."""
    span: tuple[dt.date, dt.date] | None = None
    for r in rekeys:
        p = {"old": r.old_id, "new": r.new_id, "ch": r.channel}
        conn.execute(sa.text("UPDATE campaigns SET campaign_id = :new, channel = :ch "
                             "WHERE campaign_id = :old"), p)
        for table in ("predictions", "campaign_sources"):
            conn.execute(sa.text(f"UPDATE {table} SET campaign_id = :new "
                                 "WHERE campaign_id = :old"), p)
        conn.execute(sa.text("UPDATE alerts SET campaign_id = :new, channel = :ch "
                             "WHERE campaign_id = :old"), p)
        lo, hi = conn.execute(sa.text("SELECT MIN(date), MAX(date) FROM campaigns "
                                      "WHERE campaign_id = :new"), p).one()
        if lo is not None:
            lo, hi = dt.date.fromisoformat(str(lo)[:10]), dt.date.fromisoformat(str(hi)[:10])
            span = (lo, hi) if span is None else (min(span[0], lo), max(span[1], hi))
    return span


def record_sources(conn: sa.Connection, import_id: int, currency: str | None,
                   rate: float) -> None:
    """Each staged campaign came from this import, in its currency at its rate."""
    conn.execute(sa.text(
        "INSERT INTO campaign_sources (campaign_id, currency, exchange_rate, import_id) "
        f"SELECT DISTINCT campaign_id, :c, :r, :i FROM {_stage(conn)} WHERE true "
        "ON CONFLICT (campaign_id) DO UPDATE SET currency = excluded.currency, "
        "exchange_rate = excluded.exchange_rate, import_id = excluded.import_id, "
        "updated_at = CURRENT_TIMESTAMP"), {"c": currency, "r": rate, "i": import_id})


_COMPARED = ("cost", "clicks", "impressions", "conversions", "revenue")


def reconcile_splits(conn: sa.Connection, splits: dict[str, tuple[str, ...]]
                     ) -> tuple[int, int]:
    """A file's totals of campaigns stored split over channels (Meta's Platform breakdown):
    a day whose totals equal the stored parts' sum is left as it is (its staged row dropped);
    a day whose totals differ replaces the parts by the total. Returns (days left as they
    were, days replaced)."""
    kept = replaced = 0
    stage = _stage(conn)
    sums = ", ".join(f"SUM({c}) AS {c}" for c in _COMPARED)
    for target, others in splits.items():
        staged = pd.DataFrame(conn.execute(sa.text(
            f"SELECT date, {sums} FROM {stage} WHERE campaign_id = :t GROUP BY date"),
            {"t": target}).mappings().all())
        if staged.empty:
            continue
        staged["date"] = staged["date"].map(lambda d: str(d)[:10])
        ids = (target, *others)
        stored = pd.DataFrame(conn.execute(sa.text(
            f"SELECT date, {sums}, SUM(CASE WHEN campaign_id = :t THEN 0 ELSE 1 END) AS parts "
            "FROM campaigns WHERE campaign_id IN :ids AND date BETWEEN :lo AND :hi "
            "GROUP BY date").bindparams(sa.bindparam("ids", expanding=True),
                                        sa.bindparam("lo", type_=sa.Date),
                                        sa.bindparam("hi", type_=sa.Date)),
            {"t": target, "ids": list(ids), "lo": dt.date.fromisoformat(staged["date"].min()),
             "hi": dt.date.fromisoformat(staged["date"].max())}).mappings().all())
        if stored.empty:
            continue
        stored["date"] = stored["date"].map(lambda d: str(d)[:10])
        both = staged.merge(stored[stored["parts"] > 0], on="date", suffixes=("", "_stored"))
        if both.empty:
            continue
        # Each part is rounded to the cent: their sum may be a cent or two off the total.
        tolerance = 0.01 * (len(others) + 1)
        same = np.ones(len(both), dtype=bool)
        for c in _COMPARED:
            a, b = both[c].astype(float).fillna(0), both[f"{c}_stored"].astype(float).fillna(0)
            same &= (a - b).abs().to_numpy() <= (tolerance if c in ("cost", "revenue",
                                                                     "conversions") else 0)
        equal, differ = both["date"][same].tolist(), both["date"][~same].tolist()
        if equal:
            conn.execute(sa.text(f"DELETE FROM {stage} WHERE campaign_id = :t AND date IN :d")
                         .bindparams(sa.bindparam("d", expanding=True)),
                         {"t": target, "d": equal})
        if differ:
            conn.execute(sa.text("DELETE FROM campaigns WHERE campaign_id IN :ids AND date IN :d")
                         .bindparams(sa.bindparam("ids", expanding=True),
                                     sa.bindparam("d", expanding=True)),
                         {"ids": list(others), "d": differ})
        kept += len(equal)
        replaced += len(differ)
    return kept, replaced


def _count_in_span(conn: sa.Connection, start: dt.date, end: dt.date) -> int:
    return int(conn.execute(sa.text("SELECT COUNT(*) FROM campaigns WHERE date BETWEEN :s AND :e")
                            .bindparams(sa.bindparam("s", type_=sa.Date),
                                        sa.bindparam("e", type_=sa.Date)),
                            {"s": start, "e": end}).scalar_one())




class RollupParts:
    """Partial rollups of the staged rows, chunk by chunk (a few thousand rows at most).

    Into an empty table, with no campaign-day staged twice, they ARE the rollups: writing them
    saves re-reading every row just inserted (as ``rollups.rebuild_from_frame`` does for the
    demo world).
    """

    def __init__(self) -> None:
        self.days: list[pd.DataFrame] = []
        self.months: list[pd.DataFrame] = []

    def add(self, rows: pd.DataFrame) -> None:
        rows = rollups.tracked(rows)
        self.days.append(rollups.sums(rows.groupby(["date", "channel"], sort=False),
                                      campaign_days=("cost", "size")))
        month = rows["date"].to_numpy().astype("datetime64[M]").astype("datetime64[ns]")
        self.months.append(rollups.sums(
            rows.assign(month=month).groupby(["campaign_id", "month"], sort=False),
            channel=("channel", "max"), campaign_name=("campaign_name", "max"),
            days=("cost", "size"), first_date=("date", "min"), last_date=("date", "max")))

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        days = rollups.sums(pd.concat(self.days).groupby(["date", "channel"], sort=True),
                            campaign_days=("campaign_days", "sum"))
        months = rollups.sums(
            pd.concat(self.months).groupby(["campaign_id", "month"], sort=True),
            channel=("channel", "max"), campaign_name=("campaign_name", "max"),
            days=("days", "sum"), first_date=("first_date", "min"),
            last_date=("last_date", "max"))
        return days, months


def _write_rollups(conn: sa.Connection, parts: RollupParts) -> None:
    days, months = parts.frames()
    for table, frame in (("channel_days", days), ("campaign_months", months)):
        frame = frame.copy()
        for col in frame.columns:
            if frame[col].dtype.kind == "M":
                frame[col] = frame[col].to_numpy().astype("datetime64[D]").astype(str)
        # They mirror campaigns, which is empty: clear leftovers rather than trust that.
        conn.exec_driver_sql(f"DELETE FROM {table}")
        _copy_or_insert(conn, table, frame,
                        [c for c in ("campaign_id", "channel", "campaign_name") if c in frame])


def _copy_or_insert(conn: sa.Connection, table: str, frame: pd.DataFrame,
                    text: list[str]) -> None:
    """Append ``frame`` to ``table``: COPY (CSV written by Arrow) on PostgreSQL, executemany on
    SQLite."""
    columns = list(frame.columns)
    if conn.dialect.name == "postgresql":
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        # Arrow writes the CSV several times faster than DataFrame.to_csv, floats in their
        # shortest round-tripping form (re-importing compares them exactly).
        buf = io.BytesIO()
        pa_csv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), buf,
                         pa_csv.WriteOptions(include_header=False))
        buf.seek(0)
        with conn.connection.driver_connection.cursor() as cur:
            # In CSV an unquoted empty field is NULL; an empty name is a name.
            cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, "
                            f"FORCE_NOT_NULL ({', '.join(text)}))", buf)
        return
    insert_many(conn, table, columns, zip(*(frame[c].tolist() for c in columns), strict=True))


def upsert(conn: sa.Connection, start: dt.date, end: dt.date, *, keys: int,
           grouped: bool = True, parts: RollupParts | None = None) -> Written:
    """Move the staged rows into ``campaigns`` and refresh the rollups for [start, end].

    ``keys`` is the number of distinct (campaign_id, date) staged; ``grouped`` False says no
    key is staged twice, which saves the GROUP BY (a quarter of the insert's time); ``parts``
    are the staged rows' partial rollups (used when they are the whole table's).
    """
    pg = conn.dialect.name == "postgresql"
    columns = ", ".join(COLUMNS)
    if grouped:
        select = ", ".join(["campaign_id", "MAX(campaign_name)", "MAX(channel)", "date",
                            *(f"SUM({c})" for c in _SUMMED)])
    else:
        select = columns
    # WHERE true: SQLite needs it to tell the upsert's ON from a join's ON.
    insert = (f"INSERT INTO campaigns ({columns}) SELECT {select} FROM {_stage(conn)} WHERE true"
              + (" GROUP BY campaign_id, date" if grouped else ""))
    if pg:
        # The GROUP BY hashes the whole stage: in memory, not in spill files (this transaction).
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
    if conn.execute(sa.text("SELECT 1 FROM campaigns LIMIT 1")).first() is None:
        written = _into_empty(conn, insert, pg)
        if parts is not None and not grouped:
            _write_rollups(conn, parts)
        else:
            rollups.refresh(conn, start, end)
    else:
        differs = "IS DISTINCT FROM" if pg else "IS NOT"
        before = _count_in_span(conn, start, end)
        changed = conn.exec_driver_sql(
            insert + " ON CONFLICT (campaign_id, date) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in _VALUES)
            + ", updated_at = CURRENT_TIMESTAMP WHERE "
            # Unchanged rows are left alone: a re-import rewrites nothing.
            + " OR ".join(f"campaigns.{c} {differs} excluded.{c}" for c in _VALUES)).rowcount
        inserted = _count_in_span(conn, start, end) - before
        written = Written(inserted=inserted, updated=changed - inserted,
                          unchanged=keys - changed)
        rollups.refresh(conn, start, end)
    if written.inserted >= 100_000:
        bulk.analyze(conn)  # the planners choose badly on a table whose size just changed a lot
    return written


def _into_empty(conn: sa.Connection, insert: str, pg: bool) -> Written:
    """The first import into an empty table: no conflicts are possible, and building the
    indexes once afterwards is several times faster than maintaining them row by row."""
    indexes = list(Campaign.__table__.indexes)
    if pg:
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
        # The primary key too (as demetra.db.bulk does): one build instead of 1M insertions.
        conn.exec_driver_sql("ALTER TABLE campaigns DROP CONSTRAINT pk_campaigns")
    for index in indexes:
        index.drop(conn)
    inserted = conn.exec_driver_sql(insert).rowcount
    if pg:
        conn.exec_driver_sql("ALTER TABLE campaigns ADD CONSTRAINT pk_campaigns PRIMARY KEY (id)")
    for index in indexes:
        index.create(conn)
    return Written(inserted=inserted, updated=0, unchanged=0)
