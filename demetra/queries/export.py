"""The filtered campaign rows as CSV, streamed in chunks, with text cells escaped against CSV
injection."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from demetra.errors import BadInput
from demetra.queries.filters import Filters
from demetra.queries.sql import _Q, _matching_ids

__all__ = ["EXPORT_COLUMNS", "export_csv"]

EXPORT_COLUMNS = ("campaign_id", "campaign_name", "channel", "date", "cost", "clicks", "impressions",
                  "engagement", "conversions", "revenue", "conversion_rate", "roi")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        # CSV injection: a spreadsheet would run a cell that starts like a formula.
        return "'" + value if value.startswith(_FORMULA_START) else value
    if isinstance(value, float):
        return repr(value)  # shortest round-tripping form
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def export_csv(engine: sa.Engine, f: Filters, *, chunk_rows: int = 50_000) -> Iterator[bytes]:
    """The filtered campaign rows as UTF-8 CSV, header first, one chunk per ``chunk_rows`` rows.

    Rows stream from a server-side cursor (PostgreSQL) / the SQLite cursor, so memory stays
    bounded whatever the size. Text cells starting with = + - @ (or tab / CR) get a leading '
    so spreadsheets show them instead of evaluating them.
    """
    if chunk_rows < 1:
        raise BadInput("chunk_rows must be at least 1")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    yield buf.getvalue().encode("utf-8")
    with engine.connect() as conn:
        q = _Q(conn.dialect.name)
        where = f"date BETWEEN {q.bind(f.start, 'd')} AND {q.bind(f.end, 'd')}{q.channel_clause(f)}"
        if f.search:
            where += f" AND campaign_id IN ({_matching_ids(q, f)})"
        sql = (f"SELECT {', '.join(EXPORT_COLUMNS)} FROM campaigns WHERE {where} "
               "ORDER BY date, channel, campaign_id")
        result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(
            sa.text(sql), q.params)
        for rows in result.partitions(chunk_rows):
            buf.seek(0)
            buf.truncate()
            writer.writerows([_cell(v) for v in row] for row in rows)
            yield buf.getvalue().encode("utf-8")
