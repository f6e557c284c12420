"""Driver-level writes for bulk paths, inside the caller's SQLAlchemy transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa


def insert_many(conn: sa.Connection, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
    """INSERT every row through the raw DBAPI cursor (SQLite's ``?`` style).

    Same connection, so same transaction; SQLAlchemy's per-row parameter processing would cost
    more than the insert itself at a million rows.
    """
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})", rows)
    finally:
        cursor.close()
